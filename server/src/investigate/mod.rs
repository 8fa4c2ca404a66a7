//! "Investigate crash": five agents that explain a crash, propose a change and prove it in an
//! isolated copy of the workspace.
//!
//! ```text
//! Error Analyzer ─► Code Search ─► Root Cause ─► Fix Proposal ─► Sandbox Validator
//! ```
//!
//! Each agent is a small trait with an offline implementation (no model, no network). Agents 1–4
//! are synchronous: they read files, parse with tree-sitter and ask git, and the pipeline runs them
//! off the async threads. A model-backed agent implements the same trait.
//!
//! Crash data is untrusted: agents quote it, never execute it, never pass it to a shell.

pub mod analyzer;
pub mod apply;
pub mod candidates;
pub mod code_search;
pub mod diff;
pub mod fix;
pub mod history;
pub mod localize;
pub mod model_agents;
pub mod pipeline;
pub mod prompt;
pub mod report;
pub mod reproduce;
pub mod root_cause;
pub mod search;
pub mod test_results;
pub mod validator;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::crash::Language;
use crate::sandbox::FileChange;
use crate::workspace::sites::CrashGroup;

/// What every agent gets: the crash group (its latest event, mapped sites) and the workspace.
pub struct CrashInput<'a> {
    pub root: PathBuf,
    pub group: &'a CrashGroup,
}

// ---------------------------------------------------------------- 1. Error Analyzer

/// The crash as structured facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrashFacts {
    pub language: Option<Language>,
    pub exception: String,
    pub message: String,
    /// The newest in-app frame: where the crash happened.
    pub crash_site: Option<SiteFacts>,
    /// In-app frames of the outermost exception, newest first (the crash site first).
    pub in_app_path: Vec<SiteFacts>,
    /// The root cause's exception and site, for chained crashes.
    pub root_cause: Option<(String, String, Option<SiteFacts>)>,
    /// Local variables captured at the crash site, as rendered by the source.
    pub variables: Vec<(String, String)>,
    /// What the crashing line was doing when it failed, when it can be told.
    pub failing_operation: Option<FailingOperation>,
}

/// A frame placed in the workspace, with today's code of its line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFacts {
    pub path: String,
    /// 1-based, today.
    pub line: u32,
    pub function: Option<String>,
    /// Today's text of the line.
    pub code: Option<String>,
}

/// The operation that failed at the crash line. Expressions are source text of the crash line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailingOperation {
    /// `x.attr` / `x.method()` where `x` was None, null, undefined or nil.
    AttributeOfMissing { expression: String, attribute: String },
    /// `x[...]` where `x` was None, null or undefined.
    SubscriptOfMissing { expression: String },
    /// `container[key]` where the key was absent.
    MissingKey { container: String, key: String },
    /// `container[index]` out of range.
    IndexOutOfRange { container: String, index: Option<String>, length: Option<String> },
    /// `a / b` or `a % b` with `b` zero.
    DivisionByZero { divisor: String },
    /// `x.unwrap()` / `x.expect(..)` on None (Rust).
    UnwrapNone { expression: String },
    /// `x.unwrap()` / `x.expect(..)` on Err (Rust).
    UnwrapErr { expression: String, error: String },
    /// Assignment into a nil map (Go).
    NilMapWrite { map: String },
    /// A nil pointer dereference (Go).
    NilDereference { expression: String },
    /// Parsing a number from text that is not one (`int("x")`, `parseInt`, `str::parse`, `strconv.Atoi`).
    NumberParse { call: String, input: Option<String> },
    /// Something else, said in words.
    Other { summary: String },
}

pub trait ErrorAnalyzer {
    fn analyze(&self, input: &CrashInput<'_>) -> CrashFacts;
}

// ---------------------------------------------------------------- 2. Code Search

/// The code around the crash.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeContext {
    /// The enclosing function of each in-app frame, crash site first.
    pub functions: Vec<FunctionCode>,
    /// Where the names involved in the failing operation are defined or assigned.
    pub definitions: Vec<CodeRef>,
    /// Calls to the crashing function elsewhere in the workspace.
    pub callers: Vec<CodeRef>,
    /// Tests that exercise the crashing function (by name, or the test file of its module).
    pub tests: Vec<CodeRef>,
    /// The git history of the crash lines, newest first.
    pub history: Vec<CommitInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCode {
    pub path: String,
    pub name: String,
    /// 1-based, inclusive.
    pub start_line: u32,
    pub end_line: u32,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    pub path: String,
    /// 1-based.
    pub line: u32,
    /// The line's text, trimmed.
    pub code: String,
    /// What this is: `definition of customer`, `calls receipt`, `test_receipt_names_the_customer`...
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    pub commit: String,
    pub author: String,
    /// ISO-8601.
    pub date: String,
    pub summary: String,
    /// The crash lines (`path:line`) this commit last touched.
    pub lines: Vec<String>,
}

pub trait CodeSearch {
    fn search(&self, input: &CrashInput<'_>, facts: &CrashFacts) -> CodeContext;
}

// ---------------------------------------------------------------- 3. Root Cause

/// One explanation of the crash, with what supports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub summary: String,
    /// 0.0 to 1.0.
    pub confidence: f32,
    pub evidence: Vec<String>,
    /// The rule or model that produced it.
    pub by: String,
}

pub trait RootCauseAnalyst {
    /// Ranked, most likely first.
    fn hypotheses(&self, input: &CrashInput<'_>, facts: &CrashFacts, code: &CodeContext) -> Vec<Hypothesis>;
}

// ---------------------------------------------------------------- 4. Fix Proposal

/// A proposed change to the workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixProposal {
    pub summary: String,
    pub rationale: String,
    pub changes: Vec<FileChange>,
    /// The change stops the crash without addressing why the bad value arrived (e.g. a default
    /// for a missing key): shown as such in the report.
    pub hides_symptom: bool,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FixOutcome {
    Proposed {
        fix: FixProposal,
    },
    /// No rule or model is confident: says why, proposes nothing.
    NoConfidentFix {
        reason: String,
    },
}

pub trait FixProposer {
    fn propose(
        &self,
        input: &CrashInput<'_>,
        facts: &CrashFacts,
        code: &CodeContext,
        hypotheses: &[Hypothesis],
    ) -> FixOutcome;
}
