//! Agent 5, the Sandbox Validator: climbs the validation ladder in an isolated copy of the
//! workspace. A fix is called validated only when every rung passed:
//! 1. the change applies and the project builds (or type-checks);
//! 2. the reproduction fails before the change with the same exception at the same place, and no
//!    longer does after it;
//! 3. the tests that passed before the change still pass.
//!
//! Commands come from `[validate]` in crashloom.toml or are detected; nothing from crash data is run.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::FixProposal;
use crate::config::{SandboxConfig, ValidateConfig};
use crate::crash::{detect::find_traces, group::looks_in_app};
use crate::sandbox::{
    ChangePolicy, FileEdit, Isolation, IsolationSettings, RunLimits, RunOutcome, RunStatus, WorkspaceCopy,
    detect_test_command, split_command_line,
};
use crate::workspace::sites::CrashGroup;

/// What the validator proved, rung by rung.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub rungs: Vec<Rung>,
    /// Every rung passed.
    pub validated: bool,
    /// `bubblewrap`, or `unisolated` when the user allowed runs without it.
    pub isolation: String,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rung {
    pub name: String,
    pub outcome: RungOutcome,
    /// One or two sentences: what happened.
    pub detail: String,
    pub commands: Vec<CommandRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RungOutcome {
    Passed,
    Failed,
    /// Could not be climbed (nothing to run); a fix with a skipped rung is not validated.
    Skipped,
}

/// A command the validator ran and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub command: String,
    /// `before the change` or `after the change`.
    pub when: String,
    pub status: String,
    pub duration_ms: u64,
    /// Output, cut to its last lines.
    pub output: String,
}

pub const RUNG_BUILD: &str = "The change applies and the project builds";
pub const RUNG_REPRODUCE: &str = "The crash reproduces before the change and not after";
pub const RUNG_TESTS: &str = "The tests that passed before still pass";

/// Output kept per command in the report.
const REPORT_OUTPUT_LINES: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("{0}")]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("the setting validate.{setting} is not a valid command: {message}")]
    BadCommand { setting: &'static str, message: String },
}

pub struct Validator<'a> {
    pub root: &'a Path,
    pub validate: &'a ValidateConfig,
    pub sandbox: &'a SandboxConfig,
}

impl Validator<'_> {
    fn isolation(&self) -> IsolationSettings {
        IsolationSettings {
            bwrap_program: self.sandbox.bwrap.clone().into(),
            allow_unisolated: self.sandbox.allow_unisolated,
            pass_env: self.sandbox.pass_env.clone(),
        }
    }

    fn policy(&self) -> ChangePolicy {
        ChangePolicy {
            allow_ci_config: self.sandbox.allow_ci_config,
            allow_lockfiles: self.sandbox.allow_lockfiles,
            allow_secrets_files: self.sandbox.allow_secrets_files,
        }
    }

    fn command(&self, setting: &'static str, value: Option<&String>) -> Result<Option<Vec<String>>, ValidationError> {
        value
            .map(|v| split_command_line(v).map_err(|e| ValidationError::BadCommand { setting, message: e.to_string() }))
            .transpose()
    }

    /// Climbs the ladder for `fix` in a fresh copy of the workspace; the copy is always removed.
    pub async fn validate(&self, group: &CrashGroup, fix: &FixProposal) -> Result<ValidationReport, ValidationError> {
        let started = Instant::now();
        let configured = self.command("reproduce", self.validate.reproduce.as_ref())?;
        // Without a configured reproduction, one derived from the crash's captured inputs.
        let derived =
            if configured.is_none() { super::reproduce::python::from_captured_values(self.root, group) } else { None };
        let reproduce = configured.or_else(|| derived.as_ref().map(|d| d.command.clone()));
        let test = match self.command("test", self.validate.test.as_ref())? {
            Some(test) => Some(test),
            None => detect_test_command(self.root),
        };
        let build = match self.command("build", self.validate.build.as_ref())? {
            Some(build) => Some(build),
            None => detect_build_command(self.root, fix),
        };
        let limits =
            RunLimits { timeout: Duration::from_secs(self.validate.timeout_secs.max(1)), ..RunLimits::default() };
        let isolation = self.isolation();

        let copy = WorkspaceCopy::create(self.root).await?;
        let result = async {
            if let Some(derived) = &derived {
                copy.apply_changes(&derived.files, &self.policy()).await?;
            }
            let mut used_isolation = None;
            let mut run = async |command: &[String], when: &str| -> Result<(RunOutcome, CommandRecord), ValidationError> {
                let outcome = copy.run(command, &limits, &isolation).await?;
                used_isolation = Some(outcome.isolation);
                let record = record(&outcome, when);
                Ok((outcome, record))
            };

            // Before the change: the crash must reproduce; the tests give the baseline.
            let mut reproduce_rung = Rung::new(RUNG_REPRODUCE);
            let mut reproduced_before = false;
            match &reproduce {
                Some(command) => {
                    let (outcome, record) = run(command, "before the change").await?;
                    reproduce_rung.commands.push(record);
                    match same_crash(&outcome.output, copy.workspace_dir(), self.root, group) {
                        Some(_) => reproduced_before = true,
                        None => {
                            reproduce_rung.fail(format!(
                                "Before the change the reproduction did not crash with {} in {} ({}).",
                                group.exception,
                                crash_place(group),
                                status_words(&outcome.status)
                            ));
                        }
                    }
                }
                None => reproduce_rung.skip(
                    "No reproduction: the crash did not capture the crashing function's arguments, so none could be derived; set `[validate] reproduce` in crashloom.toml to a command that crashes the way production did.",
                ),
            }
            let tests_before = match &test {
                Some(command) => Some(run(command, "before the change").await?),
                None => None,
            };

            // The change, and the build.
            let mut build_rung = Rung::new(RUNG_BUILD);
            if let Err(e) = copy.apply_changes(&fix.changes, &self.policy()).await {
                build_rung.fail(format!("The change does not apply: {e}."));
                return Ok((vec![build_rung, reproduce_rung.not_reached(), Rung::new(RUNG_TESTS).not_reached()], used_isolation));
            }
            match &build {
                Some(command) => {
                    let (outcome, record) = run(command, "after the change").await?;
                    build_rung.commands.push(record);
                    if outcome.succeeded() {
                        build_rung.pass("The change applies and the build succeeds.".to_owned());
                    } else {
                        build_rung.fail(format!("The build fails after the change ({}).", status_words(&outcome.status)));
                    }
                }
                None => build_rung.pass("The change applies; no build step is needed for the changed files.".to_owned()),
            }

            // After the change: the crash must be gone, the tests must still pass.
            if let Some(derived) = &derived {
                reproduce_rung.detail = format!("Reproduction derived from the crash: {} ", derived.description);
            }
            if reproduced_before && let Some(command) = &reproduce {
                let (outcome, record) = run(command, "after the change").await?;
                reproduce_rung.commands.push(record);
                let before = format!("Before the change it crashed with {} in {}", group.exception, crash_place(group));
                match (same_crash(&outcome.output, copy.workspace_dir(), self.root, group), outcome.succeeded()) {
                    (Some(_), _) => reproduce_rung.fail(format!("{before}; after the change it still does.")),
                    (None, true) => reproduce_rung.pass(format!("{before}; after the change the command succeeds.")),
                    (None, false) => {
                        let now = find_traces(&outcome.output)
                            .last()
                            .map(|t| t.event.title())
                            .unwrap_or_else(|| status_words(&outcome.status));
                        reproduce_rung.pass(format!(
                            "{before}; after the change that crash is gone, and the command ends with an explicit error instead: {now}."
                        ))
                    }
                }
            }
            let mut tests_rung = Rung::new(RUNG_TESTS);
            match (&test, tests_before) {
                (Some(command), Some((before, before_record))) => {
                    tests_rung.commands.push(before_record);
                    let (after, after_record) = run(command, "after the change").await?;
                    tests_rung.commands.push(after_record);
                    match (before.succeeded(), after.succeeded()) {
                        (true, true) => tests_rung.pass("The tests pass before and after the change.".to_owned()),
                        (true, false) => tests_rung.fail("The tests passed before the change and fail after it.".to_owned()),
                        (false, _) => tests_rung.fail(
                            "The tests already failed before the change, so a regression cannot be ruled out; fix them or set `[validate] test` to the tests that pass.".to_owned(),
                        ),
                    }
                }
                _ => tests_rung.skip("No test command: set `[validate] test` in crashloom.toml."),
            }
            Ok::<_, ValidationError>((vec![build_rung, reproduce_rung, tests_rung], used_isolation))
        }
        .await;
        if let Err(e) = copy.remove().await {
            tracing::warn!("could not remove the validation copy: {e}");
        }
        let (rungs, isolation) = result?;
        let validated = rungs.iter().all(|r| r.outcome == RungOutcome::Passed);
        Ok(ValidationReport {
            validated,
            isolation: match isolation {
                Some(Isolation::Unisolated) => "unisolated".to_owned(),
                _ => "bubblewrap".to_owned(),
            },
            rungs,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }
}

impl Rung {
    fn new(name: &str) -> Self {
        Rung { name: name.to_owned(), outcome: RungOutcome::Skipped, detail: String::new(), commands: Vec::new() }
    }

    fn pass(&mut self, detail: String) {
        self.outcome = RungOutcome::Passed;
        self.detail.push_str(&detail);
    }

    fn fail(&mut self, detail: String) {
        self.outcome = RungOutcome::Failed;
        self.detail.push_str(&detail);
    }

    fn skip(&mut self, detail: &str) {
        self.outcome = RungOutcome::Skipped;
        self.detail = detail.to_owned();
    }

    fn not_reached(mut self) -> Self {
        if self.outcome != RungOutcome::Failed {
            self.outcome = RungOutcome::Skipped;
            self.detail = "Not reached: the change does not apply.".to_owned();
        }
        self
    }
}

/// Where the group crashed, for sentences.
fn crash_place(group: &CrashGroup) -> String {
    match group.crash_site() {
        Some(site) => match &site.function {
            Some(function) => format!("{function} ({}:{})", site.path, site.line),
            None => format!("{}:{}", site.path, site.line),
        },
        None => "its crash site".to_owned(),
    }
}

fn last_segment(name: &str) -> &str {
    name.rsplit(['.', ':']).next().unwrap_or(name)
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Whether `output` holds the group's crash: the same exception type, raised in the same function
/// of the same file. Returns where, as `path:line`.
pub fn same_crash(output: &str, copy_root: &Path, workspace_root: &Path, group: &CrashGroup) -> Option<String> {
    let site = group.crash_site()?;
    let copy_root = copy_root.to_string_lossy();
    let workspace_root = workspace_root.to_string_lossy();
    find_traces(output).into_iter().find_map(|trace| {
        let exception = trace.event.outermost()?;
        if last_segment(&exception.ty) != last_segment(&group.exception) {
            return None;
        }
        let frame = exception.frames.iter().rev().find(|f| looks_in_app(f))?;
        let path = frame.paths().next()?;
        // Commands run at the workspace's own path under bubblewrap, at the copy's without it.
        let relative = path
            .strip_prefix(workspace_root.as_ref())
            .or_else(|| path.strip_prefix(copy_root.as_ref()))
            .map(|p| p.trim_start_matches('/'))
            .unwrap_or(path);
        let same_file = relative == site.path || file_name(relative) == file_name(&site.path);
        let same_function = frame.function.as_deref().map(last_segment) == site.function.as_deref().map(last_segment);
        (same_file && same_function).then(|| format!("{}:{}", site.path, frame.line.unwrap_or(0)))
    })
}

/// A cheap check that the changed files still compile, by language.
fn detect_build_command(root: &Path, fix: &FixProposal) -> Option<Vec<String>> {
    let changed: Vec<&str> =
        fix.changes.iter().filter(|c| !matches!(c.edit, FileEdit::Delete)).map(|c| c.path.as_str()).collect();
    let with = |ext: &[&str]| -> Vec<String> {
        changed.iter().filter(|p| ext.iter().any(|e| p.ends_with(e))).map(|p| p.to_string()).collect()
    };
    let python = with(&[".py"]);
    if !python.is_empty() {
        let mut command = vec!["python3".to_owned(), "-m".to_owned(), "py_compile".to_owned()];
        command.extend(python);
        return Some(command);
    }
    let javascript = with(&[".js", ".mjs", ".cjs"]);
    if let [file] = javascript.as_slice() {
        return Some(vec!["node".to_owned(), "--check".to_owned(), file.clone()]);
    }
    if !with(&[".rs"]).is_empty() && root.join("Cargo.toml").exists() {
        return Some(vec!["cargo".to_owned(), "build".to_owned(), "--quiet".to_owned()]);
    }
    if !with(&[".go"]).is_empty() && root.join("go.mod").exists() {
        // Version stamping reads git metadata, which the sandbox keeps read-only.
        return Some(vec!["go".to_owned(), "build".to_owned(), "-buildvcs=false".to_owned(), "./...".to_owned()]);
    }
    if !with(&[".java"]).is_empty() && root.join("pom.xml").exists() {
        return Some(vec!["mvn".to_owned(), "-q".to_owned(), "-o".to_owned(), "compile".to_owned()]);
    }
    None
}

fn status_words(status: &RunStatus) -> String {
    match status {
        RunStatus::Exited { code: 0 } => "it exited successfully".to_owned(),
        RunStatus::Exited { code } => format!("it exited with code {code}"),
        RunStatus::Signalled { signal } => format!("it was killed by signal {signal}"),
        RunStatus::TimedOut => "it ran out of time".to_owned(),
    }
}

fn record(outcome: &RunOutcome, when: &str) -> CommandRecord {
    let lines: Vec<&str> = outcome.output.lines().collect();
    let kept = lines.len().saturating_sub(REPORT_OUTPUT_LINES);
    let mut output = lines[kept..].join("\n");
    if kept > 0 {
        output = format!("[… {kept} earlier lines]\n{output}");
    }
    CommandRecord {
        command: outcome.command.join(" "),
        when: when.to_owned(),
        status: match outcome.status {
            RunStatus::Exited { code } => format!("exit {code}"),
            RunStatus::Signalled { signal } => format!("signal {signal}"),
            RunStatus::TimedOut => "timed out".to_owned(),
        },
        duration_ms: outcome.duration.as_millis() as u64,
        output,
    }
}
