//! The investigation pipeline: runs the five agents in order, reports progress after each, stops
//! when cancelled, and returns the whole story as an [`Investigation`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use super::analyzer::OfflineErrorAnalyzer;
use super::candidates::OfflineCandidates;
use super::code_search::OfflineCodeSearch;
use super::fix::OfflineFixProposer;
use super::localize::{Location, rank_locations};
use super::model_agents::{ModelProposer, ModelRootCause};
use super::root_cause::OfflineRootCause;
use super::search::{
    Candidate, CandidateProposer, Judged, ProposalContext, RankedCandidate, SearchLimits, SearchSummary, rank,
};
use super::validator::{ValidationInputs, ValidationReport, Validator};
use super::{
    CodeContext, CodeSearch, CrashFacts, CrashInput, ErrorAnalyzer, FixOutcome, FixProposer, Hypothesis,
    RootCauseAnalyst,
};
use crate::config::Config;
use crate::model::ModelSession;
use crate::model::budget::ModelRecord;
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
    /// The in-app frames ranked by how likely the fix belongs there, with evidence.
    #[serde(default)]
    pub localization: Vec<Location>,
    /// Every candidate change the search tried (or did not get to), best first; the first is `fix`.
    #[serde(default)]
    pub candidates: Vec<RankedCandidate>,
    /// What the search did.
    #[serde(default)]
    pub search: Option<SearchSummary>,
    /// The model's part, when `[model]` is set: the model, rounds, requests, tokens, cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRecord>,
}

impl Investigation {
    /// An investigation that found nothing, for tests of what reads investigations.
    #[cfg(test)]
    pub(crate) fn empty(group_id: &str, created_at: DateTime<Utc>) -> Self {
        Self {
            group_id: group_id.into(),
            short_id: crate::crash::group::short_id(group_id),
            title: String::new(),
            created_at,
            facts: CrashFacts::default(),
            code: CodeContext::default(),
            hypotheses: Vec::new(),
            fix: FixOutcome::NoConfidentFix { reason: "no rule applies".into() },
            validation: None,
            diff: None,
            file_fingerprints: Vec::new(),
            localization: Vec::new(),
            candidates: Vec::new(),
            search: None,
            model: None,
        }
    }

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

/// Progress sent over a channel to an async reporter (the pipeline reports from blocking
/// threads), and a flag the reporter sets to cancel the investigation: the editor's and the MCP
/// client's progress.
pub struct ChannelProgress {
    pub steps: tokio::sync::mpsc::UnboundedSender<(usize, String)>,
    pub cancelled: Arc<std::sync::atomic::AtomicBool>,
}

impl Progress for ChannelProgress {
    fn step(&self, index: usize, message: &str) {
        let _ = self.steps.send((index, message.to_owned()));
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(std::sync::atomic::Ordering::Acquire)
    }
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

/// Runs the agents on one crash group: the analysis, then the fix search, in which every
/// candidate change is judged by the Sandbox Validator.
pub async fn investigate(
    root: PathBuf,
    group: CrashGroup,
    config: Arc<Config>,
    progress: Arc<dyn Progress>,
) -> Result<Investigation, InvestigateError> {
    // With `[model]` set, the model proposes candidates next to the offline families and adds its
    // hypotheses; a model that cannot be used (no key, a bad setting) leaves the offline engine.
    let model = match ModelSession::from_config(&config) {
        Ok(session) => session,
        Err(error) => {
            tracing::warn!("the model is not used: {error}");
            None
        }
    };
    let mut proposers: Vec<Arc<dyn CandidateProposer>> = vec![Arc::new(OfflineCandidates)];
    if let Some(session) = &model {
        proposers.push(Arc::new(ModelProposer::new(session.clone(), &config.sandbox)));
    }
    let mut investigation = investigate_with(root, group, config, progress, proposers, model.clone()).await?;
    investigation.model = model.map(|session| session.record());
    Ok(investigation)
}

/// [`investigate`] with the given candidate proposers (the offline families, a model) and the
/// model whose hypotheses join the offline ones.
pub async fn investigate_with(
    root: PathBuf,
    group: CrashGroup,
    config: Arc<Config>,
    progress: Arc<dyn Progress>,
    proposers: Vec<Arc<dyn CandidateProposer>>,
    model: Option<ModelSession>,
) -> Result<Investigation, InvestigateError> {
    // The span is attached to the future, not entered on a thread: entered across awaits, it
    // leaked into other investigations' log lines.
    let span = tracing::info_span!("investigate", crash = %group.short_id);
    async move {
        let check =
            |progress: &dyn Progress| if progress.is_cancelled() { Err(InvestigateError::Cancelled) } else { Ok(()) };

        // Agents 1-3 read files, parse and ask git: off the async threads.
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
                progress.step(2, "ranking root causes and locations");
                let mut hypotheses = OfflineRootCause.hypotheses(&input, &facts, &code);
                if let Some(session) = model {
                    progress.step(2, &format!("asking {} for root causes", session.name()));
                    let mut from_model = ModelRootCause::new(session).hypotheses(&input, &facts, &code);
                    from_model.append(&mut hypotheses);
                    hypotheses = from_model;
                }
                let localization = rank_locations(&root, &facts, &code);
                Ok((facts, code, hypotheses, localization))
            })
            .await
            .map_err(|e| InvestigateError::Internal(e.to_string()))??
        };
        let (facts, code, hypotheses, localization) = analysis;
        check(progress.as_ref())?;

        progress.step(3, "proposing candidate changes");
        let inputs = SearchInputs {
            root: &root,
            group: &group,
            config: &config,
            facts: &facts,
            code: &code,
            hypotheses: &hypotheses,
            localization: &localization,
        };
        let (candidates, summary) = tokio::select! {
            searched = run_search(&inputs, &proposers, progress.as_ref()) => searched?,
            () = cancelled(progress.as_ref()) => return Err(InvestigateError::Cancelled),
        };

        let best = candidates.first();
        let mut hypotheses = hypotheses;
        if let Some(chain) = best.and_then(|best| caller_chain(best, &localization, &facts)) {
            hypotheses.insert(0, chain);
        }
        let fix = match best {
            Some(best) => FixOutcome::Proposed { fix: best.candidate.fix.clone() },
            None => {
                // Nothing to try: the rules say why.
                let (root, group, facts, code, hypotheses) =
                    (root.clone(), group.clone(), facts.clone(), code.clone(), hypotheses.clone());
                tokio::task::spawn_blocking(move || {
                    OfflineFixProposer.propose(&CrashInput { root, group: &group }, &facts, &code, &hypotheses)
                })
                .await
                .map_err(|e| InvestigateError::Internal(e.to_string()))?
            }
        };
        let fix = match fix {
            FixOutcome::Proposed { fix } if best.is_none() => {
                FixOutcome::NoConfidentFix { reason: format!("no candidate change could be tried ({})", fix.summary) }
            }
            other => other,
        };
        let (diff, file_fingerprints) = match &fix {
            FixOutcome::Proposed { fix } => describe_changes(&root, fix),
            FixOutcome::NoConfidentFix { .. } => (None, Vec::new()),
        };
        Ok(Investigation {
            group_id: group.id.clone(),
            short_id: group.short_id.clone(),
            title: group.title.clone(),
            created_at: Utc::now(),
            facts,
            code,
            hypotheses,
            validation: best.and_then(|b| b.report.clone()),
            fix,
            diff,
            file_fingerprints,
            localization,
            candidates,
            search: Some(summary),
            model: None,
        })
    }
    .instrument(span)
    .await
}

/// When the validated change is in a caller, the hypothesis that explains why the fix belongs
/// there rather than at the crash site.
fn caller_chain(best: &RankedCandidate, localization: &[Location], facts: &CrashFacts) -> Option<Hypothesis> {
    if !best.report.as_ref().is_some_and(|r| r.validated) {
        return None;
    }
    let site = facts.crash_site.as_ref()?;
    let crash_label = format!("{}:{}", site.path, site.function.as_deref().unwrap_or("?"));
    if best.candidate.location == crash_label {
        return None;
    }
    let place = localization.iter().find(|l| l.label() == best.candidate.location)?;
    let crashed = localization.iter().find(|l| l.label() == crash_label);
    let function = place.function.as_deref().unwrap_or("the caller");
    let crashed_name = site.function.as_deref().unwrap_or("the crashing function");
    let mut evidence: Vec<String> = place.evidence.iter().map(|e| format!("`{function}` {e}")).collect();
    if let Some(crashed) = crashed {
        evidence.extend(crashed.evidence.iter().filter(|e| e.contains("pins") || e.contains("parameter")).cloned());
    }
    evidence.push(format!("validated in the sandbox: {}", best.candidate.fix.summary));
    Some(Hypothesis {
        summary: format!(
            "The change belongs in `{function}` ({}), not in `{crashed_name}` where it crashed: {} — {}",
            place.path,
            place.evidence.iter().filter(|e| !e.contains("call(s) up")).cloned().collect::<Vec<_>>().join("; "),
            best.candidate.fix.rationale
        ),
        confidence: 0.9,
        evidence,
        by: "fix search".to_owned(),
    })
}

struct SearchInputs<'a> {
    root: &'a Path,
    group: &'a CrashGroup,
    config: &'a Config,
    facts: &'a CrashFacts,
    code: &'a CodeContext,
    hypotheses: &'a [Hypothesis],
    localization: &'a [Location],
}

/// Rounds of proposing and judging, within the limits; returns the candidates ranked.
async fn run_search(
    inputs: &SearchInputs<'_>,
    proposers: &[Arc<dyn CandidateProposer>],
    progress: &dyn Progress,
) -> Result<(Vec<RankedCandidate>, SearchSummary), InvestigateError> {
    let started = Instant::now();
    let limits = SearchLimits {
        max_candidates: inputs.config.search.max_candidates.max(1),
        time_budget: Duration::from_secs(inputs.config.search.time_budget_secs.max(1)),
        rounds: inputs.config.search.rounds.max(1),
    };
    let validator = Validator { root: inputs.root, validate: &inputs.config.validate, sandbox: &inputs.config.sandbox };
    let mut summary =
        SearchSummary { proposers: proposers.iter().map(|p| p.name()).collect(), ..SearchSummary::default() };
    let mut judged: Vec<Judged> = Vec::new();
    let mut not_judged: Vec<(Candidate, String)> = Vec::new();
    let mut seen: Vec<Vec<crate::sandbox::FileChange>> = Vec::new();
    let mut session = None;
    for round in 1..=limits.rounds {
        summary.rounds = round;
        if round > 1 {
            // "round 2: the reproduction still crashes, asking for another change"
            progress.step(4, &super::model_agents::round_progress(round, &summary.proposers.join(", "), &judged));
        }
        let proposals = propose_round(inputs, proposers, &judged, round).await?;
        let mut fresh: Vec<Candidate> = Vec::new();
        // The same change from another proposer is judged once; its proposer still hears the verdict.
        let mut duplicates: Vec<Candidate> = Vec::new();
        for candidate in proposals {
            if candidate.fix.changes.is_empty() {
                continue;
            }
            if seen.contains(&candidate.fix.changes) {
                duplicates.push(candidate);
                continue;
            }
            seen.push(candidate.fix.changes.clone());
            fresh.push(candidate);
        }
        if fresh.is_empty() && duplicates.is_empty() {
            break;
        }
        summary.proposed += fresh.len();
        let count = fresh.len();
        for (index, candidate) in fresh.into_iter().enumerate() {
            if progress.is_cancelled() {
                return Err(InvestigateError::Cancelled);
            }
            if judged.len() >= limits.max_candidates {
                let why = format!(
                    "the search judges at most {} candidates (`[search] max_candidates`)",
                    limits.max_candidates
                );
                summary.stopped.get_or_insert_with(|| why.clone());
                not_judged.push((candidate, why));
                continue;
            }
            if started.elapsed() > limits.time_budget {
                let why = format!(
                    "the search's time budget of {} s ran out (`[search] time_budget_secs`)",
                    limits.time_budget.as_secs()
                );
                summary.stopped.get_or_insert_with(|| why.clone());
                not_judged.push((candidate, why));
                continue;
            }
            if session.is_none() {
                progress.step(4, "preparing the sandbox: the tests before any change, and a reproduction");
                session = Some(
                    validator
                        .session(
                            inputs.group,
                            ValidationInputs { facts: Some(inputs.facts), code: Some(inputs.code), reproduction: None },
                        )
                        .await?,
                );
            }
            let Some(active) = session.as_mut() else { break };
            if !active.reproduced() && !judged.is_empty() {
                not_judged.push((
                    candidate,
                    "no reproduction crashes the same way, so no change can be validated".to_owned(),
                ));
                continue;
            }
            progress.step(4, &format!("round {round}, candidate {} of {count}: {}", index + 1, candidate.fix.summary));
            let report = active.judge(&candidate.fix).await?;
            if report.validated && summary.first_validated_ms.is_none() {
                summary.first_validated_ms = Some(started.elapsed().as_millis() as u64);
            }
            judged.push(Judged { candidate, report });
        }
        for candidate in duplicates {
            if let Some(earlier) = judged.iter().find(|j| j.candidate.fix.changes == candidate.fix.changes) {
                let report = earlier.report.clone();
                judged.push(Judged { candidate, report });
            }
        }
        // The offline families say everything at once; later rounds are for proposers that learn
        // from the verdicts, and there is no need for one once a change is validated.
        if judged.iter().any(|j| j.report.validated && !j.candidate.fix.hides_symptom) {
            break;
        }
    }
    if let Some(session) = session {
        session.finish().await;
    }
    // A change proposed twice is ranked once, as its first proposer made it.
    let mut ranked_changes: Vec<Vec<crate::sandbox::FileChange>> = Vec::new();
    judged.retain(|j| {
        let first = !ranked_changes.contains(&j.candidate.fix.changes);
        if first {
            ranked_changes.push(j.candidate.fix.changes.clone());
        }
        first
    });
    summary.judged = judged.len();
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    let mut ranked: Vec<RankedCandidate> = judged
        .into_iter()
        .map(|j| RankedCandidate {
            diff: describe_changes(inputs.root, &j.candidate.fix).0.unwrap_or_default(),
            candidate: j.candidate,
            report: Some(j.report),
            reasons: Vec::new(),
            not_judged: None,
        })
        .collect();
    ranked.extend(not_judged.into_iter().map(|(candidate, why)| RankedCandidate {
        diff: describe_changes(inputs.root, &candidate.fix).0.unwrap_or_default(),
        candidate,
        report: None,
        reasons: Vec::new(),
        not_judged: Some(why),
    }));
    let locations: Vec<String> = inputs.localization.iter().map(Location::label).collect();
    Ok((rank(ranked, &locations), summary))
}

/// One round of proposals from every proposer, off the async threads (a model waits on the network).
async fn propose_round(
    inputs: &SearchInputs<'_>,
    proposers: &[Arc<dyn CandidateProposer>],
    judged: &[Judged],
    round: usize,
) -> Result<Vec<Candidate>, InvestigateError> {
    let (root, group, facts, code, hypotheses, judged) = (
        inputs.root.to_path_buf(),
        inputs.group.clone(),
        inputs.facts.clone(),
        inputs.code.clone(),
        inputs.hypotheses.to_vec(),
        judged.to_vec(),
    );
    let proposers = proposers.to_vec();
    tokio::task::spawn_blocking(move || {
        let input = CrashInput { root, group: &group };
        let context = ProposalContext {
            input: &input,
            facts: &facts,
            code: &code,
            hypotheses: &hypotheses,
            judged: &judged,
            round,
        };
        proposers.iter().flat_map(|proposer| proposer.propose(&context)).collect()
    })
    .await
    .map_err(|e| InvestigateError::Internal(e.to_string()))
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
