//! The sandbox: an isolated copy of the workspace where a proposed fix is applied and proven.
//!
//! A validation goes through four steps, each in its own file:
//! - [`copy`]: [`WorkspaceCopy::create`] makes a `git worktree` of the workspace with its uncommitted
//!   changes and untracked files (a plain copy where there is no git), and always removes it again
//!   ([`WorkspaceCopy::remove`], or its `Drop` on error, timeout or panic).
//! - [`change`]: [`WorkspaceCopy::apply_changes`] writes [`FileChange`]s into the copy, refusing paths
//!   that leave the workspace and, unless the [`ChangePolicy`] allows them, CI configuration,
//!   lockfiles and secrets files.
//! - [`run`]: [`WorkspaceCopy::run`] runs a command (an argument vector, never a shell string built
//!   from crash data) under bubblewrap with no network, a read-only view of everything outside the
//!   copy, a scrubbed environment, a time limit that kills the whole process tree, and capped output.
//! - [`cache`]: build caches of the real workspace are reused so the copy does not build from scratch.
//!
//! [`detect_test_command`] guesses the project's test command, and [`split_command_line`] turns a
//! command the user configured in `crashloom.toml` into an argument vector without a shell.
//!
//! Trust: commands come from the user's configuration or from detection, never from crash data.
//! The changes come from the investigation and are treated as untrusted: they only ever touch the copy.

pub mod cache;
pub mod change;
pub mod command_line;
pub mod copy;
pub mod detect;
pub mod run;

use std::path::PathBuf;

pub use cache::{CacheReuse, GoCaches, detect_cache_reuse};
pub use change::{ChangePolicy, FileChange, FileEdit, RefusalReason, check_change_path};
pub use command_line::{CommandLineError, CommandLineProblem, split_command_line};
pub use copy::{CopyKind, WorkspaceCopy};
pub use detect::detect_test_command;
pub use run::{Isolation, IsolationSettings, RunLimits, RunOutcome, RunStatus};

/// Everything that can go wrong while preparing, changing, running or removing a workspace copy.
///
/// Each message is one sentence that names the setting, path or command to change.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`git {command}` failed in `{}`: {stderr}", dir.display())]
    Git { command: String, dir: PathBuf, stderr: String },
    #[error("refused to change `{path}`: {reason}")]
    ChangeRefused { path: String, reason: RefusalReason },
    #[error("the change to `{path}` does not apply: {problem}")]
    ChangeDoesNotApply { path: String, problem: String },
    #[error(
        "bubblewrap was not found at `{}`: install the `bubblewrap` package (e.g. `apt-get install \
         bubblewrap`), or set `sandbox.allow_unisolated = true` in crashloom.toml to run validation \
         commands without isolation",
        program.display()
    )]
    BubblewrapMissing { program: PathBuf },
    #[error(
        "bubblewrap (`{}`) cannot create its sandbox on this machine ({detail}); allow unprivileged \
         user namespaces, or set `sandbox.allow_unisolated = true` in crashloom.toml to run \
         validation commands without isolation",
        program.display()
    )]
    BubblewrapUnusable { program: PathBuf, detail: String },
    #[error("the command is empty: configure a program to run")]
    EmptyCommand,
    #[error(
        "the command `{program}` was not found on the sandbox PATH ({path}): install it or change the \
         configured command"
    )]
    CommandNotFound { program: String, path: String },
    #[error("could not start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

impl SandboxError {
    fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SandboxError::Io { action, path: path.into(), source }
    }
}
