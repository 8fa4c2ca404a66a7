//! The investigation pipeline: runs the five agents in order, reports progress after each, stops
//! when cancelled, and returns the whole story as an [`Investigation`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::analyzer::OfflineErrorAnalyzer;
use super::code_search::OfflineCodeSearch;
use super::fix::OfflineFixProposer;
use super::root_cause::OfflineRootCause;
use super::validator::{ValidationInputs, ValidationReport, Validator};
use super::{
    CodeContext, CodeSearch, CrashFacts, CrashInput, ErrorAnalyzer, FixOutcome, FixProposer, Hypothesis,
    RootCauseAnalyst,
};
use crate::config::Config;
use crate::workspace::sites::CrashGroup;

/// The agents, in order, as progress reports name them.
pub const STEPS: [&str; 5] = ["Error Analyzer", "Code Search", "Root Cause", "Fix Proposal", "Sandbox Validator"];

/// Everything one investigation found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Investigation {
    pub group_id: String,
    pub short_id: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub facts: CrashFacts,
    pub code: CodeContext,
    pub hypotheses: Vec<Hypothesis>,
    pub fix: FixOutcome,
    /// `None` when there was no fix to validate.
    pub validation: Option<ValidationReport>,
    /// The proposed change as a unified diff.
    pub diff: Option<String>,
    /// Content of each changed file when the fix was validated, to tell later whether the fix
    /// still stands on the same code: (path, FNV-1a of the content).
    pub file_fingerprints: Vec<(String, String)>,
}

impl Investigation {
    pub fn is_validated(&self) -> bool {
        self.validation.as_ref().is_some_and(|v| v.validated)
    }

    pub fn fix(&self) -> Option<&super::FixProposal> {
        match &self.fix {
            FixOutcome::Proposed { fix } => Some(fix),
            FixOutcome::NoConfidentFix { .. } => None,
        }
    }

    /// Whether the files the fix touches are still as they were when it was validated.
    pub fn files_unchanged(&self, root: &Path) -> bool {
        self.file_fingerprints.iter().all(|(path, print)| fingerprint_file(&root.join(path)) == *print)
    }
}

/// Hears about progress, and tells the pipeline to stop.
pub trait Progress: Send + Sync {
    /// Step `index` (0-based) of [`STEPS`] starts.
    fn step(&self, index: usize, message: &str);
    fn is_cancelled(&self) -> bool;
}

/// No progress reports, never cancelled (the command line).
pub struct Quiet;

impl Progress for Quiet {
    fn step(&self, _: usize, _: &str) {}
    fn is_cancelled(&self) -> bool {
        false
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InvestigateError {
    #[error("the investigation was cancelled")]
    Cancelled,
    #[error("{0}")]
    Validation(#[from] super::validator::ValidationError),
    #[error("the investigation stopped unexpectedly: {0}")]
    Internal(String),
}

/// Runs the agents on one crash group.
pub async fn investigate(
    root: PathBuf,
    group: CrashGroup,
    config: Arc<Config>,
    progress: Arc<dyn Progress>,
) -> Result<Investigation, InvestigateError> {
    let span = tracing::info_span!("investigate", crash = %group.short_id);
    let _entered = span.enter();
    let check =
        |progress: &dyn Progress| if progress.is_cancelled() { Err(InvestigateError::Cancelled) } else { Ok(()) };

    // Agents 1-4 read files, parse and ask git: off the async threads.
    let analysis = {
        let (root, group, progress) = (root.clone(), group.clone(), progress.clone());
        tokio::task::spawn_blocking(move || -> Result<_, InvestigateError> {
            let input = CrashInput { root: root.clone(), group: &group };
            progress.step(0, "reading the crash");
            let facts = OfflineErrorAnalyzer.analyze(&input);
            check(progress.as_ref())?;
            progress.step(1, "searching the code");
            let code = OfflineCodeSearch.search(&input, &facts);
            check(progress.as_ref())?;
            progress.step(2, "ranking root causes");
            let hypotheses = OfflineRootCause.hypotheses(&input, &facts, &code);
            check(progress.as_ref())?;
            progress.step(3, "proposing a fix");
            let fix = OfflineFixProposer.propose(&input, &facts, &code, &hypotheses);
            Ok((facts, code, hypotheses, fix))
        })
        .await
        .map_err(|e| InvestigateError::Internal(e.to_string()))??
    };
    let (facts, code, hypotheses, fix) = analysis;
    check(progress.as_ref())?;

    let (diff, file_fingerprints) = match &fix {
        FixOutcome::Proposed { fix } => describe_changes(&root, fix),
        FixOutcome::NoConfidentFix { .. } => (None, Vec::new()),
    };
    let validation = match &fix {
        FixOutcome::Proposed { fix } => {
            progress.step(4, "proving the fix in a sandbox");
            let validator = Validator { root: &root, validate: &config.validate, sandbox: &config.sandbox };
            // Dropping the validation on cancel kills its commands and removes its copy.
            tokio::select! {
                report = validator.validate_with(&group, fix, ValidationInputs { facts: Some(&facts), code: Some(&code), reproduction: None }) => Some(report?),
                () = cancelled(progress.as_ref()) => return Err(InvestigateError::Cancelled),
            }
        }
        FixOutcome::NoConfidentFix { .. } => None,
    };
    Ok(Investigation {
        group_id: group.id.clone(),
        short_id: group.short_id.clone(),
        title: group.title.clone(),
        created_at: Utc::now(),
        facts,
        code,
        hypotheses,
        fix,
        validation,
        diff,
        file_fingerprints,
    })
}

/// Completes once the investigation is cancelled.
async fn cancelled(progress: &dyn Progress) {
    while !progress.is_cancelled() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn describe_changes(root: &Path, fix: &super::FixProposal) -> (Option<String>, Vec<(String, String)>) {
    let mut diff = String::new();
    let mut prints = Vec::new();
    for change in &fix.changes {
        let original = std::fs::read_to_string(root.join(&change.path)).ok();
        match super::diff::unified_diff(change, original.as_deref()) {
            Ok(text) => diff.push_str(&text),
            Err(problem) => diff.push_str(&format!("# {}: {problem}\n", change.path)),
        }
        prints.push((change.path.clone(), fingerprint_file(&root.join(&change.path))));
    }
    (Some(diff), prints)
}

/// FNV-1a of a file's bytes (`missing` when it cannot be read).
pub fn fingerprint_file(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => format!("{:016x}", crate::crash::group::fnv1a64(&bytes)),
        Err(_) => "missing".to_owned(),
    }
}
