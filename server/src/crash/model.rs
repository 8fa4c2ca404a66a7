//! The crash model: the plain types every crash source produces and every consumer reads.
//!
//! Conventions (the same as Sentry's event payload, so Sentry events map over without reordering):
//! - `CrashEvent::exceptions` is ordered root cause first, the outermost exception (the one that
//!   ended the program or request) last.
//! - `Exception::frames` is ordered oldest call first, the frame that raised last.
//! - Lines and columns are 1-based, as runtimes print them. Conversion to editor positions happens
//!   only at the protocol edge.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The runtime or language a crash came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    Rust,
    Go,
    Java,
    JavaScript,
    DotNet,
    Ruby,
    Php,
    Other,
}

impl Language {
    /// Maps a Sentry `platform` value (`python`, `node`, `javascript`, `java`, `csharp`, ...).
    pub fn from_sentry_platform(platform: &str) -> Self {
        match platform {
            "python" => Self::Python,
            "rust" | "native" => Self::Rust,
            "go" => Self::Go,
            "java" | "kotlin" | "scala" | "groovy" => Self::Java,
            "javascript" | "node" | "typescript" => Self::JavaScript,
            "csharp" | "dotnet" => Self::DotNet,
            "ruby" => Self::Ruby,
            "php" => Self::Php,
            _ => Self::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::Rust => "rust",
            Self::Go => "go",
            Self::Java => "java",
            Self::JavaScript => "javascript",
            Self::DotNet => "dotnet",
            Self::Ruby => "ruby",
            Self::Php => "php",
            Self::Other => "other",
        }
    }
}

/// One occurrence of a crash: an uncaught exception, panic or error event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrashEvent {
    /// The source's id for this event (Sentry's 32-hex `event_id`), when it has one.
    pub event_id: Option<String>,
    pub language: Option<Language>,
    /// Root cause first, outermost exception last (see the module docs).
    pub exceptions: Vec<Exception>,
    pub timestamp: Option<DateTime<Utc>>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Thread or goroutine name/id that crashed, when printed.
    pub thread: Option<String>,
    pub tags: Vec<(String, String)>,
    /// Where this event was read from (a file and the 1-based line its trace starts on).
    pub origin: Option<Origin>,
    /// Pre-aggregated group facts, when the source already grouped events (a Sentry issue, the
    /// collector's store). Events without it are grouped by Crashloom's own signature.
    pub issue: Option<IssueSummary>,
    /// The failing test this crash was read from, when it came from a test runner's output
    /// (`test_cart.py::test_total`, `tests::total_is_wrong`, `cart > total of an unknown item`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_name: Option<String>,
    /// The other threads or goroutines printed with the crash (a Go `GOTRACEBACK=all` dump, a
    /// `SIGQUIT` dump), in the order printed: context for the crash site, not part of the crash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<ThreadStack>,
}

/// A thread or goroutine printed beside the crashing one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreadStack {
    /// `goroutine 18`.
    pub name: String,
    /// What it was doing: Go's wait reason (`chan receive`, `semacquire`, `running`), with the
    /// minutes it had waited when printed (`chan receive, 5 minutes`).
    pub state: Option<String>,
    /// Oldest call first, like [`Exception::frames`]; a Go `created by` frame is the oldest.
    pub frames: Vec<Frame>,
}

/// Where a crash event was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// A file path, a URL, or a name such as `sentry:acme/backend`.
    pub location: String,
    /// 1-based line in `location` where the trace starts, for text sources.
    pub line: Option<u32>,
}

/// Facts about a crash group that a source already knows (for example a Sentry issue).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IssueSummary {
    /// The source's stable id for the group (Sentry's issue id). Events sharing it form one group.
    pub id: String,
    /// Human-facing short id (Sentry's `shortId`, e.g. `BACKEND-3F`).
    pub short_id: Option<String>,
    /// Link to the group in its source's web UI.
    pub permalink: Option<String>,
    pub count: Option<u64>,
    pub user_count: Option<u64>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// `unresolved`, `resolved`, `ignored`, ...
    pub status: Option<String>,
    pub releases: Vec<String>,
    pub environments: Vec<String>,
}

/// One exception (or panic) in a chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// `ValueError`, `java.lang.IllegalStateException`, `panic`, `TypeError`, ...
    pub ty: String,
    /// The message. May span several lines.
    pub value: String,
    /// Python module or JVM package the type lives in, when known separately from `ty`.
    pub module: Option<String>,
    /// Oldest call first, the raising frame last.
    pub frames: Vec<Frame>,
    /// Frames the runtime elided (Java's `... N more`, Go's `...additional frames elided...`).
    pub frames_omitted: Option<u32>,
    /// How this exception hangs off another one in the chain; `None` for the outermost exception.
    pub link: Option<ExceptionLink>,
    /// Sentry's `mechanism.handled`, when known.
    pub handled: Option<bool>,
}

/// The relation of an exception to another one of the same event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionLink {
    /// Index into `CrashEvent::exceptions` of the exception this one is attached to.
    pub parent: usize,
    pub kind: LinkKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// The parent was raised because of this one (Python `raise ... from`, Java `Caused by:`).
    Cause,
    /// The parent was raised while handling this one (Python "During handling of ...").
    Context,
    /// .NET inner exception (` ---> `).
    Inner,
    /// Java `Suppressed:`.
    Suppressed,
    /// A member of an exception group (Python `ExceptionGroup`, .NET `AggregateException`).
    GroupMember,
}

/// One stack frame as the source reported it, before it is mapped to the workspace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub function: Option<String>,
    /// Python module, JVM class (`com.acme.Foo`), Go package, .NET type, when printed.
    pub module: Option<String>,
    /// The file as printed or as Sentry's `filename` (often relative).
    pub filename: Option<String>,
    /// Sentry's `abs_path`, or an absolute path / URL as printed.
    pub abs_path: Option<String>,
    /// 1-based.
    pub line: Option<u32>,
    /// 1-based.
    pub column: Option<u32>,
    /// The source's own verdict on whether the frame is application code.
    pub in_app: Option<bool>,
    /// The source lines the runtime or SDK captured around `line`.
    pub context: Option<SourceContext>,
    /// Captured local variables, already rendered as text (`repr`), in the order given.
    pub vars: Vec<(String, String)>,
}

/// Source lines around a frame's line, as captured at crash time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceContext {
    pub pre: Vec<String>,
    pub line: String,
    pub post: Vec<String>,
}

impl CrashEvent {
    /// Drops what only the event standing for a group shows (frames, other threads, tags),
    /// keeping what counting it needs: exceptions by type and message, time, release,
    /// environment, origin and issue.
    pub fn keep_only_what_counts(&mut self) {
        for exception in &mut self.exceptions {
            exception.frames = Vec::new();
        }
        self.threads = Vec::new();
        self.tags = Vec::new();
    }

    /// The exception that ended the program: the last one, by convention.
    pub fn outermost(&self) -> Option<&Exception> {
        self.exceptions.last()
    }

    /// Exceptions that caused the outermost one (a linked cause, context or inner exception whose
    /// own chain has no further cause), excluding the outermost itself.
    pub fn root_causes(&self) -> impl Iterator<Item = (usize, &Exception)> {
        let n = self.exceptions.len();
        self.exceptions.iter().enumerate().filter(move |(i, e)| {
            *i + 1 != n
                && e.link.is_some_and(|l| l.kind != LinkKind::Suppressed)
                && !self.exceptions.iter().any(|other| {
                    other.link.is_some_and(|l| {
                        l.parent == *i && matches!(l.kind, LinkKind::Cause | LinkKind::Context | LinkKind::Inner)
                    })
                })
        })
    }

    /// Title as Sentry shows it: `Type: message` (first line of the message).
    pub fn title(&self) -> String {
        match self.outermost() {
            Some(e) => e.title(),
            None => "crash".to_owned(),
        }
    }
}

impl Exception {
    pub fn title(&self) -> String {
        let first = self.value.lines().next().unwrap_or("").trim();
        if first.is_empty() { self.ty.clone() } else { format!("{}: {}", self.ty, first) }
    }
}

impl Frame {
    /// The best path to map: `abs_path` when present, else `filename`.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.abs_path.as_deref().into_iter().chain(self.filename.as_deref()).filter(|p| !p.is_empty())
    }
}
