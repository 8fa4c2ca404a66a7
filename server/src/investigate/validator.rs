//! Agent 5, the Sandbox Validator: climbs the validation ladder in an isolated copy of the
//! workspace. A fix is called validated only when every rung passed:
//! 1. the change applies and the project builds (or type-checks);
//! 2. a reproduction fails before the change with the same crash (same exception type, same
//!    in-app crash site: function and file) and **succeeds** after it. The outcome is named:
//!    [`CrashOutcome::Fixed`] (it succeeds; the only one that validates), [`CrashOutcome::Converted`]
//!    (it ends with a different explicit error raised by the changed code) or
//!    [`CrashOutcome::NotFixed`] (the same crash, a timeout, a signal, another crash);
//! 3. no test that passed before the change fails after it, judged per test where the runner's
//!    results can be read (tests that already failed are listed and do not block; tests the change
//!    turns green are reported), by the exit code otherwise, and the report says which.
//!
//! The reproduction is `[validate] reproduce` when set; otherwise Crashloom tries the ones it can
//! write itself ([`super::reproduce`]) and keeps the first that crashes the same way before the
//! change. Reproductions never take part in the test runs. A missing tool (no pytest, no `go`) is
//! reported as exactly that, never as a failing test or a missing crash.
//!
//! Commands come from `[validate]` in crashloom.toml or are detected; nothing from crash data is run.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::reproduce::{self, REPRODUCTION_TEST_MARKER, ReproductionCandidate, ReproductionInputs, ReproductionOrigin};
use super::test_results::{TestResults, prepare, read_results};
use super::{CodeContext, CrashFacts, FixProposal};
use crate::config::{SandboxConfig, ValidateConfig};
use crate::crash::{detect::find_traces, group::looks_in_app};
use crate::sandbox::{
    ChangePolicy, FileChange, FileEdit, Isolation, IsolationSettings, RunLimits, RunOutcome, RunStatus, SandboxError,
    WorkspaceCopy, detect_test_command, split_command_line,
};
use crate::workspace::sites::CrashGroup;

/// What the validator proved, rung by rung.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub rungs: Vec<Rung>,
    /// Every rung passed: the reproduction succeeds after the change and no test broke.
    pub validated: bool,
    /// What the change did to the reproduced crash; `None` when nothing reproduced it.
    #[serde(default)]
    pub outcome: Option<CrashOutcome>,
    /// The reproduction the ladder used.
    #[serde(default)]
    pub reproduction: Option<ReproductionRecord>,
    /// The tests before and after the change.
    #[serde(default)]
    pub tests: Option<TestComparison>,
    /// `bubblewrap`, or `unisolated` when the user allowed runs without it.
    pub isolation: String,
    pub duration_ms: u64,
}

impl ValidationReport {
    /// One phrase for what the change did: `fixes the crash`, `turns the crash into OrderError`...
    pub fn outcome_words(&self) -> String {
        match (&self.outcome, self.validated) {
            (Some(CrashOutcome::Fixed), true) => "fixes the crash".to_owned(),
            (Some(CrashOutcome::Fixed), false) => "stops the crash, but the ladder did not pass".to_owned(),
            (Some(CrashOutcome::Converted), _) => {
                let into = self.reproduction.as_ref().and_then(|r| r.converted_into.clone());
                format!("turns the crash into {}", into.as_deref().unwrap_or("another error"))
            }
            (Some(CrashOutcome::NotFixed), _) => "does not fix the crash".to_owned(),
            (None, _) => "was not shown to fix the crash".to_owned(),
        }
    }
}

/// What the change did to the reproduced crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrashOutcome {
    /// The reproduction succeeds after the change. Only this can be called validated.
    #[serde(rename = "fixed")]
    Fixed,
    /// It now ends with a different, explicit error raised by the changed code.
    #[serde(rename = "converted")]
    Converted,
    /// The same crash, a timeout, a signal, or another crash.
    #[serde(rename = "not fixed")]
    NotFixed,
}

/// The reproduction the ladder used, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReproductionRecord {
    pub origin: ReproductionOrigin,
    pub description: String,
    pub command: String,
    /// The reproduction's own source (path, text), when Crashloom wrote it.
    pub source: Option<(String, String)>,
    /// The files it writes, so it can be added to the project as a regression test.
    #[serde(default)]
    pub files: Vec<FileChange>,
    /// The error the change turned the crash into, when it did.
    #[serde(default)]
    pub converted_into: Option<String>,
}

/// The project's tests before and after the change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestComparison {
    /// How the results were read (`JUnit XML`, `go test -json`, ...), or `None` when only the exit
    /// codes could be compared.
    pub per_test: Option<String>,
    /// Passed before, fail after: these block the fix.
    pub broken: Vec<String>,
    /// Failed before and pass after: fixed by the change.
    pub fixed: Vec<String>,
    /// Failed before and still fail: listed, not blocking.
    pub still_failing: Vec<String>,
    pub passed_before: usize,
    pub passed_after: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rung {
    pub name: String,
    pub outcome: RungOutcome,
    /// One or two sentences: what happened.
    pub detail: String,
    pub commands: Vec<CommandRecord>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RungOutcome {
    Passed,
    Failed,
    /// Could not be climbed (nothing to run); a fix with a skipped rung is not validated.
    #[default]
    Skipped,
    /// A tool the rung needs is not installed where the sandbox looks; the detail names it and
    /// the setting to change.
    ToolMissing,
}

/// A command the validator ran and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub command: String,
    /// `before the change` or `after the change`.
    pub when: String,
    pub status: String,
    pub duration_ms: u64,
    /// Output, cut to its last lines, with secrets scrubbed.
    pub output: String,
}

pub const RUNG_BUILD: &str = "The change applies and the project builds";
pub const RUNG_REPRODUCE: &str = "The crash reproduces before the change, and the reproduction succeeds after it";
pub const RUNG_TESTS: &str = "No test that passed before fails after";

/// Output kept per command in the report.
const REPORT_OUTPUT_LINES: usize = 60;
/// Reproductions Crashloom wrote that are tried before giving up.
const MAX_REPRODUCTION_TRIES: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    #[error("the setting validate.{setting} is not a valid command: {message}")]
    BadCommand { setting: &'static str, message: String },
}

pub struct Validator<'a> {
    pub root: &'a Path,
    pub validate: &'a ValidateConfig,
    pub sandbox: &'a SandboxConfig,
}

/// What the validator can use besides the crash group and the fix: the analysis, so it can write
/// reproductions from the code and the project's tests, and a reproduction already found by an
/// earlier validation of the same crash.
#[derive(Default, Clone, Copy)]
pub struct ValidationInputs<'a> {
    pub facts: Option<&'a CrashFacts>,
    pub code: Option<&'a CodeContext>,
    pub reproduction: Option<&'a ReproductionRecord>,
}

/// How one command ended, or why it could not start.
enum Ran {
    Finished(RunOutcome),
    /// The program is not installed (or not on the sandbox PATH): the sentence says what to do.
    ToolMissing(String),
}

impl Validator<'_> {
    fn isolation(&self) -> IsolationSettings {
        IsolationSettings {
            bwrap_program: self.sandbox.bwrap.clone().into(),
            allow_unisolated: self.sandbox.allow_unisolated,
            pass_env: self.sandbox.pass_env.clone(),
            read_only_paths: self.sandbox.read_only_paths.iter().map(Into::into).collect(),
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
        self.validate_with(group, fix, ValidationInputs::default()).await
    }

    /// [`Validator::validate`], with the analysis to write reproductions from.
    pub async fn validate_with(
        &self,
        group: &CrashGroup,
        fix: &FixProposal,
        inputs: ValidationInputs<'_>,
    ) -> Result<ValidationReport, ValidationError> {
        let mut session = self.session(group, inputs).await?;
        let report = session.judge(fix).await;
        session.finish().await;
        report
    }

    /// Prepares a copy of the workspace for judging changes to `group`'s crash: runs the tests
    /// before any change and finds the reproduction, once, so that every change judged in the
    /// session shares them.
    pub async fn session<'a>(
        &'a self,
        group: &'a CrashGroup,
        inputs: ValidationInputs<'_>,
    ) -> Result<ValidationSession<'a>, ValidationError> {
        let started = Instant::now();
        let test = match self.command("test", self.validate.test.as_ref())? {
            Some(test) => Some(test),
            None => detect_test_command(self.root),
        };
        let reproductions = self.reproductions(group, inputs, test.as_deref())?;
        let build = self.command("build", self.validate.build.as_ref())?;
        let copy = WorkspaceCopy::create(self.root).await?;
        let mut session = ValidationSession {
            validator: self,
            copy,
            group,
            limits: RunLimits {
                timeout: Duration::from_secs(self.validate.timeout_secs.max(1)),
                ..RunLimits::default()
            },
            isolation: self.isolation(),
            used_isolation: None,
            test,
            build,
            baseline: Baseline::default(),
            baseline_ms: 0,
        };
        // Dropping the session on an error removes the copy.
        session.baseline = session.prepare(&reproductions).await?;
        session.baseline_ms = started.elapsed().as_millis() as u64;
        Ok(session)
    }

    /// The reproductions to try, in order: the configured one alone, else one found earlier, else
    /// the ones Crashloom can write.
    fn reproductions(
        &self,
        group: &CrashGroup,
        inputs: ValidationInputs<'_>,
        test: Option<&[String]>,
    ) -> Result<Vec<ReproductionCandidate>, ValidationError> {
        if let Some(command) = self.command("reproduce", self.validate.reproduce.as_ref())? {
            return Ok(vec![ReproductionCandidate {
                origin: ReproductionOrigin::Configured,
                description: format!("`[validate] reproduce`: {}", command.join(" ")),
                files: Vec::new(),
                command,
            }]);
        }
        if let Some(found) = inputs.reproduction {
            return Ok(vec![ReproductionCandidate {
                origin: found.origin.clone(),
                description: found.description.clone(),
                files: found.files.clone(),
                command: split_command_line(&found.command).unwrap_or_default(),
            }]);
        }
        let empty_facts = CrashFacts::default();
        let empty_code = CodeContext::default();
        let mut candidates = reproduce::candidates(&ReproductionInputs {
            root: self.root,
            group,
            facts: inputs.facts.unwrap_or(&empty_facts),
            code: inputs.code.unwrap_or(&empty_code),
            test_command: test,
        });
        candidates.truncate(MAX_REPRODUCTION_TRIES);
        Ok(candidates)
    }
}

type Climbed = (Vec<Rung>, Option<CrashOutcome>, Option<ReproductionRecord>, Option<TestComparison>);

/// What every change judged in a session shares: the tests before any change, and the
/// reproduction that crashed the same way.
#[derive(Default)]
struct Baseline {
    tests_rung: Rung,
    tests_before: Option<(RunOutcome, Option<TestResults>)>,
    reproduce_rung: Rung,
    /// The reproduction found, and the changes that take its files out of the copy again.
    reproduction: Option<(ReproductionRecord, Vec<FileChange>)>,
}

/// A copy of the workspace with its baseline, in which changes are judged one after another;
/// each change is taken out again after its judgement.
pub struct ValidationSession<'a> {
    validator: &'a Validator<'a>,
    copy: WorkspaceCopy,
    group: &'a CrashGroup,
    limits: RunLimits,
    isolation: IsolationSettings,
    used_isolation: Option<Isolation>,
    test: Option<Vec<String>>,
    build: Option<Vec<String>>,
    baseline: Baseline,
    baseline_ms: u64,
}

impl ValidationSession<'_> {
    /// Whether a reproduction crashed the same way before any change: without one, no change can
    /// be validated.
    pub fn reproduced(&self) -> bool {
        self.baseline.reproduction.is_some()
    }

    /// The reproduction found, when one crashed the same way.
    pub fn reproduction(&self) -> Option<&ReproductionRecord> {
        self.baseline.reproduction.as_ref().map(|(record, _)| record)
    }

    /// Removes the copy.
    pub async fn finish(self) {
        if let Err(e) = self.copy.remove().await {
            tracing::warn!("could not remove the validation copy: {e}");
        }
    }

    /// Climbs the ladder for one change, then takes the change out of the copy again.
    pub async fn judge(&mut self, fix: &FixProposal) -> Result<ValidationReport, ValidationError> {
        let started = Instant::now();
        let touched: Vec<String> = fix
            .changes
            .iter()
            .map(|c| c.path.clone())
            .chain(self.baseline.reproduction.iter().flat_map(|(_, undo)| undo.iter().map(|u| u.path.clone())))
            .collect();
        let snapshot = self.undo_for_paths(&touched);
        let result = self.climb(fix).await;
        // Back to the baseline for the next change, whatever happened.
        let restored = self.copy.apply_changes(&snapshot, &ChangePolicy::everything()).await;
        let (rungs, outcome, reproduction, tests) = result?;
        restored?;
        let validated = outcome == Some(CrashOutcome::Fixed) && rungs.iter().all(|r| r.outcome == RungOutcome::Passed);
        Ok(ValidationReport {
            validated,
            outcome,
            reproduction,
            tests,
            isolation: match self.used_isolation {
                Some(Isolation::Unisolated) => "unisolated".to_owned(),
                _ => "bubblewrap".to_owned(),
            },
            rungs,
            duration_ms: self.baseline_ms + started.elapsed().as_millis() as u64,
        })
    }

    async fn run(&mut self, command: &[String]) -> Result<Ran, ValidationError> {
        match self.copy.run(command, &self.limits, &self.isolation).await {
            Ok(outcome) => {
                self.used_isolation = Some(outcome.isolation);
                if !outcome.succeeded()
                    && let Some(tool) = missing_tool(&outcome.output)
                {
                    return Ok(Ran::ToolMissing(format!(
                        "{tool} is not installed where the sandbox runs `{}`",
                        command.join(" ")
                    )));
                }
                Ok(Ran::Finished(outcome))
            }
            Err(SandboxError::CommandNotFound { program, path }) => {
                Ok(Ran::ToolMissing(format!("`{program}` was not found on the sandbox PATH ({path})")))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The baseline: the tests on the copy as the user has it, then the first reproduction that
    /// crashes the same way (its files stay in the copy).
    async fn prepare(&mut self, reproductions: &[ReproductionCandidate]) -> Result<Baseline, ValidationError> {
        let policy = self.validator.policy();
        let group = self.group;
        let mut tests_rung = Rung::new(RUNG_TESTS);
        let tests_before = match self.test.clone() {
            Some(command) => {
                let prepared = prepare(&command, "before");
                match self.run(&prepared.command).await? {
                    Ran::Finished(outcome) => {
                        let results = read_results(&outcome.output, self.copy.workspace_dir(), &prepared.reports)
                            .map(|r| r.without(REPRODUCTION_TEST_MARKER));
                        tests_rung.commands.push(record(&outcome, "before the change"));
                        Some((outcome, results))
                    }
                    Ran::ToolMissing(problem) => {
                        tests_rung.tool_missing(format!(
                            "{problem}: install it, or set `[validate] test` in crashloom.toml to the command that runs the tests."
                        ));
                        None
                    }
                }
            }
            None => {
                tests_rung.skip("No test command was found: set `[validate] test` in crashloom.toml.");
                None
            }
        };

        let mut reproduce_rung = Rung::new(RUNG_REPRODUCE);
        let mut reproduction: Option<(ReproductionRecord, Vec<FileChange>)> = None;
        let mut rejected: Vec<String> = Vec::new();
        for candidate in reproductions {
            let undo = self.undo_for(&candidate.files);
            if let Err(error) = self.copy.apply_changes(&candidate.files, &policy).await {
                rejected.push(format!("{} (could not be written: {error})", candidate.description));
                continue;
            }
            let outcome = match self.run(&candidate.command).await? {
                Ran::Finished(outcome) => outcome,
                Ran::ToolMissing(problem) => {
                    reproduce_rung.commands.push(CommandRecord::not_run(&candidate.command, "before the change"));
                    rejected.push(format!("{}: {problem}", candidate.description));
                    if candidate.origin == ReproductionOrigin::Configured {
                        reproduce_rung.tool_missing(format!(
                            "{problem}: install it, or change `[validate] reproduce` in crashloom.toml."
                        ));
                    }
                    self.copy.apply_changes(&undo, &ChangePolicy::everything()).await?;
                    continue;
                }
            };
            reproduce_rung.commands.push(record(&outcome, "before the change"));
            if same_crash(&outcome.output, self.copy.workspace_dir(), self.copy.origin(), group).is_some() {
                let record = ReproductionRecord {
                    origin: candidate.origin.clone(),
                    description: candidate.description.clone(),
                    command: candidate.command.join(" "),
                    source: candidate.source().map(|(path, text)| (path.to_owned(), text.to_owned())),
                    files: candidate.files.clone(),
                    converted_into: None,
                };
                reproduction = Some((record, undo));
                break;
            }
            rejected.push(format!(
                "{} did not crash with {} in {} ({})",
                candidate.description,
                group.exception,
                crash_place(group),
                status_words(&outcome.status)
            ));
            self.copy.apply_changes(&undo, &ChangePolicy::everything()).await?;
        }
        if reproduction.is_none() && reproduce_rung.outcome != RungOutcome::ToolMissing {
            let tried = if rejected.is_empty() {
                "Crashloom could not write one for this crash (it did not capture the values of the crashing call, and no test or simple input reaches it)".to_owned()
            } else {
                format!("tried: {}", rejected.join("; "))
            };
            reproduce_rung.fail(format!(
                "No reproduction crashes with {} in {} before the change — {tried}. Set `[validate] reproduce` in crashloom.toml to a command that crashes the way production did.",
                group.exception,
                crash_place(group)
            ));
        }
        Ok(Baseline { tests_rung, tests_before, reproduce_rung, reproduction })
    }

    /// The ladder for one change on top of the baseline.
    async fn climb(&mut self, fix: &FixProposal) -> Result<Climbed, ValidationError> {
        let policy = self.validator.policy();
        let group = self.group;
        let mut tests_rung = self.baseline.tests_rung.clone();
        let mut reproduce_rung = self.baseline.reproduce_rung.clone();
        let mut reproduction = self.baseline.reproduction.clone();

        // The change, and the build.
        let mut build_rung = Rung::new(RUNG_BUILD);
        if let Err(e) = self.copy.apply_changes(&fix.changes, &policy).await {
            build_rung.fail(format!("The change does not apply: {e}."));
            let reproduction = reproduction.map(|(record, _)| record);
            return Ok((
                vec![build_rung, reproduce_rung.not_reached(), tests_rung.not_reached()],
                None,
                reproduction,
                None,
            ));
        }
        let build = self.build.clone().or_else(|| detect_build_command(self.validator.root, fix));
        match build {
            Some(command) => match self.run(&command).await? {
                Ran::Finished(outcome) => {
                    build_rung.commands.push(record(&outcome, "after the change"));
                    if outcome.succeeded() {
                        build_rung.pass("The change applies and the build succeeds.".to_owned());
                    } else {
                        build_rung
                            .fail(format!("The build fails after the change ({}).", status_words(&outcome.status)));
                    }
                }
                Ran::ToolMissing(problem) => build_rung
                    .tool_missing(format!("{problem}: install it, or set `[validate] build` in crashloom.toml.")),
            },
            None => build_rung.pass("The change applies; no build step is needed for the changed files.".to_owned()),
        }
        if build_rung.outcome != RungOutcome::Passed {
            // A change that does not build proves nothing about the crash or the tests.
            let reproduction = reproduction.map(|(record, _)| record);
            let not_built = |mut rung: Rung| {
                rung.outcome = RungOutcome::Skipped;
                rung.detail = "Not reached: the change does not build.".to_owned();
                rung
            };
            return Ok((vec![build_rung, not_built(reproduce_rung), not_built(tests_rung)], None, reproduction, None));
        }

        // After the change: the reproduction must succeed.
        let mut crash_outcome = None;
        if let Some((record, _)) = reproduction.as_mut() {
            let before = format!(
                "{} Before the change it crashed with {} in {}",
                reproduction_words(record),
                group.exception,
                crash_place(group)
            );
            match self.run(&split_command_line(&record.command).unwrap_or_default()).await? {
                Ran::Finished(outcome) => {
                    reproduce_rung.commands.push(self::record(&outcome, "after the change"));
                    let changed: Vec<&str> = fix.changes.iter().map(|c| c.path.as_str()).collect();
                    let (verdict, words, into) = judge_after(&outcome, &self.copy, group, &changed);
                    record.converted_into = into;
                    crash_outcome = Some(verdict);
                    match verdict {
                        CrashOutcome::Fixed => reproduce_rung.pass(format!("{before}; after the change {words}.")),
                        CrashOutcome::Converted | CrashOutcome::NotFixed => {
                            reproduce_rung.fail(format!("{before}; after the change {words}."))
                        }
                    }
                }
                Ran::ToolMissing(problem) => reproduce_rung.tool_missing(problem),
            }
        }

        // The tests after the change, without the reproduction's files.
        let mut comparison = None;
        if let Some((before, before_results)) = self.baseline.tests_before.clone()
            && let Some(command) = self.test.clone()
        {
            if let Some((_, undo)) = &reproduction
                && !undo.is_empty()
            {
                self.copy.apply_changes(undo, &ChangePolicy::everything()).await?;
                let touched: Vec<&str> = undo.iter().map(|u| u.path.as_str()).collect();
                let again: Vec<FileChange> =
                    fix.changes.iter().filter(|c| touched.contains(&c.path.as_str())).cloned().collect();
                self.copy.apply_changes(&again, &policy).await?;
            }
            let prepared = prepare(&command, "after");
            match self.run(&prepared.command).await? {
                Ran::Finished(after) => {
                    let after_results = read_results(&after.output, self.copy.workspace_dir(), &prepared.reports)
                        .map(|r| r.without(REPRODUCTION_TEST_MARKER));
                    tests_rung.commands.push(record(&after, "after the change"));
                    let (verdict, compared) = compare_tests(&before, before_results, &after, after_results);
                    match verdict {
                        Ok(words) => tests_rung.pass(words),
                        Err(words) => tests_rung.fail(words),
                    }
                    comparison = Some(compared);
                }
                Ran::ToolMissing(problem) => tests_rung.tool_missing(problem),
            }
        }
        let reproduction = reproduction.map(|(record, _)| record);
        Ok((vec![build_rung, reproduce_rung, tests_rung], crash_outcome, reproduction, comparison))
    }

    /// The changes that take the copy back to how it is now, for the files `changes` touch.
    fn undo_for(&self, changes: &[FileChange]) -> Vec<FileChange> {
        let paths: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
        self.undo_for_paths(&paths)
    }

    fn undo_for_paths(&self, paths: &[String]) -> Vec<FileChange> {
        let mut undo: Vec<FileChange> = Vec::new();
        for path in paths {
            if undo.iter().any(|u| &u.path == path) {
                continue;
            }
            undo.push(match std::fs::read_to_string(self.copy.workspace_dir().join(path)) {
                Ok(original) => FileChange::write(path.clone(), original),
                Err(_) => FileChange::delete(path.clone()),
            });
        }
        undo
    }
}

/// What the reproduction after the change says about the fix.
fn judge_after(
    outcome: &RunOutcome,
    copy: &WorkspaceCopy,
    group: &CrashGroup,
    changed: &[&str],
) -> (CrashOutcome, String, Option<String>) {
    if same_crash(&outcome.output, copy.workspace_dir(), copy.origin(), group).is_some() {
        return (
            CrashOutcome::NotFixed,
            format!("it still crashes with {} in {}", group.exception, crash_place(group)),
            None,
        );
    }
    match outcome.status {
        RunStatus::Exited { code: 0 } => (CrashOutcome::Fixed, "the reproduction succeeds".to_owned(), None),
        RunStatus::TimedOut => (
            CrashOutcome::NotFixed,
            format!("the reproduction ran out of time ({} s) instead of finishing", outcome.duration.as_secs()),
            None,
        ),
        RunStatus::Signalled { signal } => {
            (CrashOutcome::NotFixed, format!("the reproduction was killed by signal {signal}"), None)
        }
        RunStatus::Exited { code } => {
            let traces = find_traces(&outcome.output);
            let Some(trace) = traces.last() else {
                return (
                    CrashOutcome::Converted,
                    format!(
                        "the crash is gone but the reproduction still fails: it exits with code {code} without a stack trace"
                    ),
                    Some(format!("an error exit (code {code})")),
                );
            };
            let title = trace.event.title();
            let exception = trace.event.outermost().map(|e| e.ty.clone()).unwrap_or_else(|| title.clone());
            let place = trace.event.outermost().and_then(|e| {
                let frame = e.frames.iter().rev().find(|f| looks_in_app(f))?;
                let path = relative_to_copy(frame.paths().next()?, copy);
                Some((path, frame.line.unwrap_or(0)))
            });
            match place {
                Some((path, _)) if changed.iter().any(|c| same_file(c, &path)) => (
                    CrashOutcome::Converted,
                    format!(
                        "the crash turns into {exception}, raised by the changed code, and the reproduction still fails: {title}"
                    ),
                    Some(exception),
                ),
                Some((path, line)) => (
                    CrashOutcome::NotFixed,
                    format!("the reproduction crashes with another error, {title}, at {path}:{line}"),
                    None,
                ),
                None => (CrashOutcome::NotFixed, format!("the reproduction crashes with another error, {title}"), None),
            }
        }
    }
}

/// The tests' verdict: `Ok(words)` when no test that passed before fails after.
fn compare_tests(
    before: &RunOutcome,
    before_results: Option<TestResults>,
    after: &RunOutcome,
    after_results: Option<TestResults>,
) -> (Result<String, String>, TestComparison) {
    match (before_results, after_results) {
        (Some(before_results), Some(after_results)) => {
            let broken: Vec<String> = if before_results.passed_named {
                before_results.passed.iter().filter(|t| !after_results.passed.contains(*t)).cloned().collect()
            } else {
                after_results.failed.iter().filter(|t| !before_results.failed.contains(*t)).cloned().collect()
            };
            let fixed: Vec<String> = before_results
                .failed
                .iter()
                .filter(|t| {
                    !after_results.failed.contains(*t)
                        && (after_results.passed.contains(*t) || (!after_results.passed_named && after.succeeded()))
                })
                .cloned()
                .collect();
            let still_failing: Vec<String> =
                before_results.failed.iter().filter(|t| after_results.failed.contains(*t)).cloned().collect();
            let comparison = TestComparison {
                per_test: Some(after_results.format.clone()),
                passed_before: before_results.passed_count(),
                passed_after: after_results.passed_count(),
                broken,
                fixed,
                still_failing,
            };
            let mut words = format!(
                "Read per test ({}): {} passed before the change, {} after",
                after_results.format, comparison.passed_before, comparison.passed_after
            );
            if !comparison.fixed.is_empty() {
                words.push_str(&format!("; the change makes {} pass", list(&comparison.fixed)));
            }
            if !comparison.still_failing.is_empty() {
                words.push_str(&format!(
                    "; {} already failed before the change and still fail (not counted against it)",
                    list(&comparison.still_failing)
                ));
            }
            let verdict = if comparison.broken.is_empty() {
                // A run that broke off without failing a named test is no pass either.
                if !after.succeeded() && after_results.failed.is_empty() {
                    Err(format!(
                        "{words}; but the test run after the change failed ({}) without naming a failing test.",
                        status_words(&after.status)
                    ))
                } else {
                    Ok(format!("{words}; no test that passed before fails after."))
                }
            } else {
                Err(format!("{words}; {} passed before the change and fail after it.", list(&comparison.broken)))
            };
            (verdict, comparison)
        }
        (before_results, after_results) => {
            let unread = match (before_results.is_some(), after_results.is_some()) {
                (true, false) => "the results after the change could not be read per test",
                (false, true) => "the results before the change could not be read per test",
                _ => "the test runner's results could not be read per test",
            };
            let comparison = TestComparison { per_test: None, ..TestComparison::default() };
            if no_test_ran(before) && (no_test_ran(after) || after.succeeded()) {
                return (
                    Ok("No test ran before the change (the test command found none), so no test that passed can fail after it; the tests give no evidence for this change.".to_owned()),
                    comparison,
                );
            }
            let verdict = match (before.succeeded(), after.succeeded()) {
                (true, true) => {
                    Ok(format!("Judged by exit code ({unread}): the tests pass before and after the change."))
                }
                (true, false) => Err(format!(
                    "Judged by exit code ({unread}): the tests passed before the change and fail after it."
                )),
                (false, _) => Err(format!(
                    "Judged by exit code ({unread}): the tests already failed before the change, so a regression cannot be ruled out; set `[validate] test` to a command whose results can be read per test (pytest, unittest, go test, cargo test, node --test, Maven, Gradle)."
                )),
            };
            (verdict, comparison)
        }
    }
}

/// Whether a test run found no test to run: pytest's exit status 5, or a runner saying so.
fn no_test_ran(outcome: &RunOutcome) -> bool {
    let pytest = outcome.command.iter().any(|arg| arg == "pytest" || arg.ends_with("/pytest"));
    (pytest && outcome.status == RunStatus::Exited { code: 5 })
        || ["no tests ran", "NO TESTS RAN", "collected 0 items", "running 0 tests", "no test files"]
            .iter()
            .any(|words| outcome.output.contains(words))
            && !outcome.output.contains("FAILED")
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut shown: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
    if names.len() > SHOWN {
        shown.push(format!("and {} more", names.len() - SHOWN));
    }
    let count = if names.len() == 1 { "1 test".to_owned() } else { format!("{} tests", names.len()) };
    format!("{count} ({})", shown.join(", "))
}

/// Sentence start naming where the reproduction came from.
fn reproduction_words(record: &ReproductionRecord) -> String {
    match &record.origin {
        ReproductionOrigin::Configured => "The configured reproduction:".to_owned(),
        ReproductionOrigin::CapturedValues => {
            format!("Reproduction written from the crash's captured values: {}.", record.description)
        }
        ReproductionOrigin::ProjectTest { name } => format!("Reproduction: the project's own test `{name}`."),
        ReproductionOrigin::FromCode => format!("Reproduction written from the code: {}.", record.description),
    }
}

/// The tool a failed command's output says is missing: a Python module run with `-m`, a program
/// a script did not find.
fn missing_tool(output: &str) -> Option<String> {
    for line in output.lines().rev().take(40) {
        let line = line.trim();
        if let Some(at) = line.find("No module named ") {
            let module = line[at + "No module named ".len()..].trim_matches(|c| c == '\'' || c == '"' || c == ' ');
            let module = module.split(['.', ' ']).next().unwrap_or(module);
            // Only when the module is the runner itself, not an import the project's code lacks.
            if ["pytest", "unittest", "nose2", "coverage", "tox"].contains(&module)
                && !line.contains("ModuleNotFoundError")
            {
                return Some(format!("the Python module `{module}`"));
            }
        }
        for marker in [": not found", ": command not found"] {
            if let Some(head) = line.strip_suffix(marker) {
                let program = head.rsplit(": ").next().unwrap_or(head).trim();
                if !program.is_empty() && !program.contains(' ') {
                    return Some(format!("`{program}`"));
                }
            }
        }
        if let Some(rest) = line.strip_prefix("error: no such command: ") {
            return Some(format!("the cargo command {}", rest.trim()));
        }
    }
    None
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
    find_traces(output).into_iter().find_map(|trace| {
        let exception = trace.event.outermost()?;
        if last_segment(&exception.ty) != last_segment(&group.exception) {
            return None;
        }
        let frame = exception.frames.iter().rev().find(|f| looks_in_app(f))?;
        let relative = relative_path(frame.paths().next()?, copy_root, workspace_root);
        let same_function = frame.function.as_deref().map(last_segment) == site.function.as_deref().map(last_segment);
        (same_file(&site.path, &relative) && same_function)
            .then(|| format!("{}:{}", site.path, frame.line.unwrap_or(0)))
    })
}

/// A path from a trace, relative to the workspace: commands run at the workspace's own path under
/// bubblewrap, at the copy's without it.
fn relative_path(path: &str, copy_root: &Path, workspace_root: &Path) -> String {
    let copy_root = copy_root.to_string_lossy();
    let workspace_root = workspace_root.to_string_lossy();
    path.strip_prefix(workspace_root.as_ref())
        .or_else(|| path.strip_prefix(copy_root.as_ref()))
        .map(|p| p.trim_start_matches('/'))
        .unwrap_or(path)
        .to_owned()
}

fn relative_to_copy(path: &str, copy: &WorkspaceCopy) -> String {
    relative_path(path, copy.workspace_dir(), copy.origin())
}

/// Whether a workspace path and a path from a trace name the same file (a trace may name it
/// relative to another folder).
fn same_file(workspace_path: &str, trace_path: &str) -> bool {
    workspace_path == trace_path
        || trace_path.ends_with(&format!("/{workspace_path}"))
        || workspace_path.ends_with(&format!("/{trace_path}"))
        || (!trace_path.contains('/') && file_name(workspace_path) == trace_path)
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
    let output = crate::scrub::scrub(&outcome.output);
    let lines: Vec<&str> = output.lines().collect();
    let kept = lines.len().saturating_sub(REPORT_OUTPUT_LINES);
    let mut output = lines[kept..].join("\n");
    if kept > 0 {
        output = format!("[… {kept} earlier lines]\n{output}");
    }
    CommandRecord {
        command: crate::scrub::scrub(&outcome.command.join(" ")).into_owned(),
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

impl CommandRecord {
    fn not_run(command: &[String], when: &str) -> Self {
        CommandRecord {
            command: crate::scrub::scrub(&command.join(" ")).into_owned(),
            when: when.to_owned(),
            status: "not run: tool missing".to_owned(),
            duration_ms: 0,
            output: String::new(),
        }
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

    fn tool_missing(&mut self, detail: String) {
        self.outcome = RungOutcome::ToolMissing;
        self.detail = detail;
    }

    fn not_reached(mut self) -> Self {
        if !matches!(self.outcome, RungOutcome::Failed | RungOutcome::ToolMissing) {
            self.outcome = RungOutcome::Skipped;
            self.detail = "Not reached: the change does not apply.".to_owned();
        }
        self
    }
}
