//! Applying an investigation's fix to the workspace itself. Only a validated change is applied,
//! and it is judged again first when the files it touches changed since it was validated, or when
//! it is an alternative (whose files were not fingerprinted), with the same reproduction as the
//! first time. The files are written all or nothing, under the `[sandbox]` change policy.
//!
//! `crashloom mcp`'s `apply_fix` calls [`apply_validated_fix`]; the editor's "Apply validated fix"
//! makes the same decisions and sends the change as a `workspace/applyEdit` instead.

use std::path::Path;

use super::FixProposal;
use super::pipeline::Investigation;
use super::validator::{ValidationInputs, ValidationReport, Validator};
use crate::config::Config;
use crate::sandbox::{ChangePolicy, SandboxError};
use crate::workspace::sites::CrashGroup;

/// One of an investigation's proposed changes: the fix (candidate 1) or an alternative.
#[derive(Debug, Clone, Copy)]
pub struct Choice<'a> {
    /// 1-based, as the report and `crashloom investigate` number the candidates.
    pub candidate: usize,
    pub fix: &'a FixProposal,
    pub report: Option<&'a ValidationReport>,
}

impl Choice<'_> {
    pub fn is_validated(&self) -> bool {
        self.report.is_some_and(|r| r.validated)
    }
}

/// Why a fix is not applied; each message is one sentence that says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum ApplyRefusal {
    #[error("crash {short_id} has no proposed fix ({reason}); nothing to apply")]
    NoFix { short_id: String, reason: String },
    #[error("crash {short_id} has no candidate {candidate}; its investigation tried {count} (numbered from 1)")]
    NoSuchCandidate { short_id: String, candidate: usize, count: usize },
    #[error(
        "the fix for {short_id} is not validated (the change {words}); it is not applied. Read it with \
         get_fix, or apply a validated alternative"
    )]
    NotValidated { short_id: String, words: String },
    #[error(
        "the files the fix for {short_id} touches changed since it was validated, and it does not \
         validate any more (the change {words}); investigate again"
    )]
    NoLongerValidates { short_id: String, words: String },
    #[error(
        "the fix for {short_id} must be judged again before it is applied, and that failed: {problem}; \
         investigate again"
    )]
    CannotRevalidate { short_id: String, problem: String },
    #[error("the fix for {short_id} does not apply to the workspace: {source}")]
    DoesNotApply {
        short_id: String,
        #[source]
        source: SandboxError,
    },
}

/// What [`apply_validated_fix`] did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub candidate: usize,
    pub summary: String,
    /// The files written, workspace-relative.
    pub files: Vec<String>,
    /// The verdict of the judgement made again just before applying, when one was needed.
    pub revalidated: Option<ValidationReport>,
}

/// The fix (`None` or `Some(1)`) or candidate `n` of the investigation's ranking.
pub fn choose(investigation: &Investigation, candidate: Option<usize>) -> Result<Choice<'_>, ApplyRefusal> {
    let short_id = investigation.short_id.clone();
    match candidate.unwrap_or(1) {
        1 => match investigation.fix() {
            Some(fix) => Ok(Choice { candidate: 1, fix, report: investigation.validation.as_ref() }),
            None => Err(ApplyRefusal::NoFix {
                short_id,
                reason: match &investigation.fix {
                    super::FixOutcome::NoConfidentFix { reason } => reason.clone(),
                    super::FixOutcome::Proposed { .. } => "none was proposed".to_owned(),
                },
            }),
        },
        n => match n.checked_sub(1).and_then(|index| investigation.candidates.get(index)) {
            Some(ranked) => Ok(Choice { candidate: n, fix: &ranked.candidate.fix, report: ranked.report.as_ref() }),
            None => {
                Err(ApplyRefusal::NoSuchCandidate { short_id, candidate: n, count: investigation.candidates.len() })
            }
        },
    }
}

/// The change policy of `[sandbox]`, the same one the validator applied the change under.
pub fn change_policy(config: &Config) -> ChangePolicy {
    ChangePolicy {
        allow_ci_config: config.sandbox.allow_ci_config,
        allow_lockfiles: config.sandbox.allow_lockfiles,
        allow_secrets_files: config.sandbox.allow_secrets_files,
    }
}

/// Applies the chosen change of `investigation` to the files of `root`, when it is validated and
/// still validates. `group` is the crash as the workspace's sources show it today; without it a
/// change that must be judged again is refused.
pub async fn apply_validated_fix(
    root: &Path,
    config: &Config,
    group: Option<&CrashGroup>,
    investigation: &Investigation,
    candidate: Option<usize>,
) -> Result<Applied, ApplyRefusal> {
    let short_id = investigation.short_id.clone();
    let choice = choose(investigation, candidate)?;
    if !choice.is_validated() {
        let words = choice.report.map(|r| r.outcome_words()).unwrap_or_else(|| "was not judged".to_owned());
        return Err(ApplyRefusal::NotValidated { short_id, words });
    }
    let unchanged = {
        let (root, investigation) = (root.to_path_buf(), investigation.clone());
        tokio::task::spawn_blocking(move || investigation.files_unchanged(&root)).await.unwrap_or(false)
    };
    // An alternative's files were not fingerprinted: it is always judged again first.
    let mut revalidated = None;
    if choice.candidate != 1 || !unchanged {
        let Some(group) = group else {
            return Err(ApplyRefusal::CannotRevalidate {
                short_id,
                problem: "the crash is no longer in the workspace's crash sources".to_owned(),
            });
        };
        let validator = Validator { root, validate: &config.validate, sandbox: &config.sandbox };
        // The same reproduction as the first time, so the change is judged the same way.
        let inputs = ValidationInputs {
            facts: Some(&investigation.facts),
            code: Some(&investigation.code),
            reproduction: choice.report.and_then(|r| r.reproduction.as_ref()),
        };
        let report = validator
            .validate_with(group, choice.fix, inputs)
            .await
            .map_err(|e| ApplyRefusal::CannotRevalidate { short_id: short_id.clone(), problem: e.to_string() })?;
        if !report.validated {
            return Err(ApplyRefusal::NoLongerValidates { short_id, words: report.outcome_words() });
        }
        revalidated = Some(report);
    }
    let (dir, changes, policy) = (root.to_path_buf(), choice.fix.changes.clone(), change_policy(config));
    tokio::task::spawn_blocking(move || crate::sandbox::change::apply_changes_in(&dir, &changes, &policy))
        .await
        .map_err(|e| ApplyRefusal::DoesNotApply {
            short_id: short_id.clone(),
            source: SandboxError::ChangeDoesNotApply {
                path: String::new(),
                problem: format!("applying the change stopped unexpectedly: {e}"),
            },
        })?
        .map_err(|source| ApplyRefusal::DoesNotApply { short_id, source })?;
    let mut files: Vec<String> = Vec::new();
    for change in &choice.fix.changes {
        if !files.contains(&change.path) {
            files.push(change.path.clone());
        }
    }
    Ok(Applied { candidate: choice.candidate, summary: choice.fix.summary.clone(), files, revalidated })
}
