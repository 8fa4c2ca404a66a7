//! Reproductions Crashloom writes itself, for when `[validate] reproduce` is not set.
//!
//! Most crash reports come without a test that triggers them. Each writer here turns what the crash
//! carries into a small program or test that should crash the same way, and the validator keeps a
//! candidate only when it really does, before the change, in the sandbox copy (same exception type,
//! same in-app crash site). Candidates, in the order they are tried:
//! - **captured values**: the crashing function (or the outermost in-app function whose arguments
//!   were captured) called with the values the crash captured (Sentry `vars`), rebuilt as data —
//!   `json`/`ast.literal_eval`, `JSON.parse` — never evaluated as code;
//! - **the project's tests**: the tests Code Search found exercising the crashing function, run
//!   alone to see whether one already reproduces the crash;
//! - **from the code**: a call of the crashing function with the simple values visible in the
//!   trace or the message (the key of a `KeyError`, the index of an out-of-range access, the text of
//!   a failed parse).
//!
//! Every file a candidate writes goes into the sandbox copy only, and each test it defines carries
//! [`REPRODUCTION_TEST_MARKER`] in its name, so the regression rung can leave it out of the
//! project's own tests. Nothing here runs anything: the validator does, in the sandbox.

pub mod python;

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CodeContext, CrashFacts};
use crate::sandbox::{FileChange, FileEdit};
use crate::workspace::sites::CrashGroup;

/// Part of the name of every test a reproduction defines, so the project's test results can
/// tell it apart from the project's own tests.
pub const REPRODUCTION_TEST_MARKER: &str = "crashloom_repro";

/// Where a reproduction came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReproductionOrigin {
    /// `[validate] reproduce` in crashloom.toml.
    Configured,
    /// Written from the values the crash captured.
    CapturedValues,
    /// One of the project's own tests, run alone.
    ProjectTest { name: String },
    /// Written from the code and the simple values in the trace or message.
    FromCode,
}

/// A reproduction to try: files to write into the copy and the command that runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReproductionCandidate {
    pub origin: ReproductionOrigin,
    /// One sentence for the report: what it calls, with what.
    pub description: String,
    /// Written into the sandbox copy before the reproduction runs; never into the workspace,
    /// unless the user chooses to add the reproduction as a regression test.
    pub files: Vec<FileChange>,
    /// Program and arguments, run in the copy's workspace folder.
    pub command: Vec<String>,
}

impl ReproductionCandidate {
    /// The reproduction's own source, for the report: the first file it writes.
    pub fn source(&self) -> Option<(&str, &str)> {
        self.files.iter().find_map(|file| match &file.edit {
            FileEdit::Write { content } => Some((file.path.as_str(), content.as_str())),
            _ => None,
        })
    }
}

/// What the writers read.
pub struct ReproductionInputs<'a> {
    pub root: &'a Path,
    pub group: &'a CrashGroup,
    pub facts: &'a CrashFacts,
    pub code: &'a CodeContext,
    /// The project's test command (configured or detected), for running its own tests alone.
    pub test_command: Option<&'a [String]>,
}

/// The reproductions worth trying for a crash, most promising first.
pub fn candidates(inputs: &ReproductionInputs<'_>) -> Vec<ReproductionCandidate> {
    let mut found = Vec::new();
    found.extend(python::from_captured_values(inputs.root, inputs.group));
    found
}
