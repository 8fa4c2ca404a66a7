//! Applying an investigation's fix to the workspace itself. Only a validated change is applied,
//! and it is judged again first when the files it touches changed since it was validated, or when
//! it is an alternative (whose files were not fingerprinted), with the same reproduction as the
//! first time. The files are written all or nothing, under the `[sandbox]` change policy.
//!
//! `crashloom mcp`'s `apply_fix` calls [`apply_validated_fix`]; the editor's "Apply validated fix"
//! asks [`choose`] and [`revalidate_if_needed`] the same way and sends the change as a
//! `workspace/applyEdit` instead.

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

/// Judges the chosen (validated) change again when it must be: an alternative (its files were not
/// fingerprinted), files it touches changed since it was validated, or `stale` (the caller knows
/// of edits not on disk yet). Returns the new report when it was judged again; refuses a change
/// that no longer validates. The editor's "Apply validated fix" and `crashloom mcp` both ask this.
pub async fn revalidate_if_needed(
    root: &Path,
    config: &Config,
    group: Option<&CrashGroup>,
    investigation: &Investigation,
    choice: &Choice<'_>,
    stale: bool,
) -> Result<Option<ValidationReport>, ApplyRefusal> {
    let short_id = investigation.short_id.clone();
    let unchanged = {
        let (root, investigation) = (root.to_path_buf(), investigation.clone());
        tokio::task::spawn_blocking(move || investigation.files_unchanged(&root)).await.unwrap_or(false)
    };
    if choice.candidate == 1 && unchanged && !stale {
        return Ok(None);
    }
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
    Ok(Some(report))
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
    let revalidated = revalidate_if_needed(root, config, group, investigation, &choice, false).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::search::{Candidate, RankedCandidate};
    use crate::investigate::validator::CrashOutcome;
    use crate::investigate::{CodeContext, CrashFacts, FixOutcome};
    use crate::sandbox::FileChange;

    fn report(validated: bool, outcome: CrashOutcome) -> ValidationReport {
        ValidationReport {
            rungs: Vec::new(),
            validated,
            outcome: Some(outcome),
            reproduction: None,
            tests: None,
            isolation: "bubblewrap".into(),
            duration_ms: 0,
        }
    }

    fn fix(summary: &str, changes: Vec<FileChange>) -> FixProposal {
        FixProposal {
            summary: summary.into(),
            rationale: String::new(),
            changes,
            hides_symptom: false,
            by: "test".into(),
        }
    }

    /// An investigation of `root` whose fix (candidate 1) and alternative (candidate 2) are as given.
    fn investigation(
        root: &Path,
        first: (FixProposal, ValidationReport),
        second: (FixProposal, ValidationReport),
    ) -> Investigation {
        let ranked = |(fix, report): (FixProposal, ValidationReport)| RankedCandidate {
            candidate: Candidate { fix, family: "guard".into(), location: "app.py:main".into() },
            report: Some(report),
            reasons: Vec::new(),
            diff: String::new(),
            not_judged: None,
        };
        let file_fingerprints = first
            .0
            .changes
            .iter()
            .map(|c| (c.path.clone(), crate::investigate::pipeline::fingerprint_file(&root.join(&c.path))))
            .collect();
        Investigation {
            group_id: "0123456789abcdef".into(),
            short_id: "CL-012345".into(),
            title: "KeyError: 'sku'".into(),
            created_at: chrono::Utc::now(),
            facts: CrashFacts::default(),
            code: CodeContext::default(),
            hypotheses: Vec::new(),
            fix: FixOutcome::Proposed { fix: first.0.clone() },
            validation: Some(first.1.clone()),
            diff: None,
            file_fingerprints,
            localization: Vec::new(),
            candidates: vec![ranked(first), ranked(second)],
            search: None,
            model: None,
        }
    }

    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("app.py"), "price = prices[sku]\n").expect("write");
        std::fs::write(dir.path().join("Cargo.lock"), "# locked\n").expect("write");
        dir
    }

    #[test]
    fn candidates_are_chosen_by_their_number_from_one() {
        let dir = workspace();
        let inv = investigation(
            dir.path(),
            (
                fix("guard", vec![FileChange::replace("app.py", "prices[sku]", "prices.get(sku)")]),
                report(true, CrashOutcome::Fixed),
            ),
            (fix("other", Vec::new()), report(false, CrashOutcome::Converted)),
        );
        let chosen = choose(&inv, None).expect("the fix");
        assert_eq!((chosen.candidate, chosen.fix.summary.as_str(), chosen.is_validated()), (1, "guard", true));
        let second = choose(&inv, Some(2)).expect("the alternative");
        assert_eq!((second.candidate, second.fix.summary.as_str(), second.is_validated()), (2, "other", false));
        let missing = choose(&inv, Some(3)).expect_err("there are two").to_string();
        assert_eq!(missing, "crash CL-012345 has no candidate 3; its investigation tried 2 (numbered from 1)");

        let mut nothing = inv.clone();
        nothing.fix = FixOutcome::NoConfidentFix { reason: "no rule applies".into() };
        let refused = choose(&nothing, None).expect_err("no fix").to_string();
        assert_eq!(refused, "crash CL-012345 has no proposed fix (no rule applies); nothing to apply");
    }

    #[tokio::test]
    async fn a_validated_fix_on_unchanged_files_is_written_and_an_unvalidated_one_is_not() {
        let dir = workspace();
        let inv = investigation(
            dir.path(),
            (
                fix("guard", vec![FileChange::replace("app.py", "prices[sku]", "prices.get(sku)")]),
                report(true, CrashOutcome::Fixed),
            ),
            (
                fix("raise", vec![FileChange::replace("app.py", "prices[sku]", "must(sku)")]),
                report(false, CrashOutcome::Converted),
            ),
        );
        let config = Config::default();
        let refused = apply_validated_fix(dir.path(), &config, None, &inv, Some(2)).await.expect_err("not validated");
        assert!(matches!(refused, ApplyRefusal::NotValidated { .. }), "{refused}");
        assert!(refused.to_string().contains("(the change turns the crash into another error)"), "{refused}");
        assert_eq!(std::fs::read_to_string(dir.path().join("app.py")).expect("read"), "price = prices[sku]\n");

        let applied = apply_validated_fix(dir.path(), &config, None, &inv, None).await.expect("applied");
        assert_eq!((applied.candidate, applied.files.clone()), (1, vec!["app.py".to_owned()]));
        assert!(applied.revalidated.is_none());
        assert_eq!(std::fs::read_to_string(dir.path().join("app.py")).expect("read"), "price = prices.get(sku)\n");

        // Now the file differs from what was validated; without the crash it cannot be judged again.
        let stale = apply_validated_fix(dir.path(), &config, None, &inv, None).await.expect_err("stale");
        assert!(matches!(stale, ApplyRefusal::CannotRevalidate { .. }), "{stale}");
        assert_eq!(std::fs::read_to_string(dir.path().join("app.py")).expect("read"), "price = prices.get(sku)\n");
    }

    #[tokio::test]
    async fn the_change_policy_holds_for_the_workspace_too_and_nothing_is_half_written() {
        let dir = workspace();
        let changes = vec![
            FileChange::replace("app.py", "prices[sku]", "prices.get(sku)"),
            FileChange::write("Cargo.lock", "# changed\n"),
        ];
        let inv = investigation(
            dir.path(),
            (fix("guard and lock", changes), report(true, CrashOutcome::Fixed)),
            (fix("other", Vec::new()), report(false, CrashOutcome::NotFixed)),
        );
        let refused =
            apply_validated_fix(dir.path(), &Config::default(), None, &inv, None).await.expect_err("lockfile");
        assert!(refused.to_string().contains("refused to change `Cargo.lock`: it is a lockfile"), "{refused}");
        assert_eq!(std::fs::read_to_string(dir.path().join("app.py")).expect("read"), "price = prices[sku]\n");
        assert_eq!(std::fs::read_to_string(dir.path().join("Cargo.lock")).expect("read"), "# locked\n");
    }
}
