//! The fix search: proposers emit candidate changes, the Sandbox Validator judges each, and the
//! judgements go back to the proposers for another round.
//!
//! ```text
//!   proposers (offline families, a model) ──candidates──► validator ──judged──► ranking
//!        ▲                                                     │
//!        └──────────────── feedback (judged so far) ◄──────────┘
//! ```
//!
//! A proposer never validates: only the ladder does. Candidates are deduplicated by their changes
//! and capped; the best one is the validated candidate that ranks first.

use serde::{Deserialize, Serialize};

use super::validator::ValidationReport;
use super::{CodeContext, CrashFacts, CrashInput, FixProposal, Hypothesis};

/// One candidate change, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub fix: FixProposal,
    /// The family that made it: `revert`, `guard`, `bounds`, `error path`, `caller`,
    /// `conversion`, `model`, ...
    pub family: String,
    /// The function the change is in (`path:function`), for ranking and the report.
    pub location: String,
}

/// A candidate with the ladder's verdict on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub candidate: Candidate,
    pub report: ValidationReport,
}

/// Everything a proposer reads.
pub struct ProposalContext<'a> {
    pub input: &'a CrashInput<'a>,
    pub facts: &'a CrashFacts,
    pub code: &'a CodeContext,
    pub hypotheses: &'a [Hypothesis],
    /// Every candidate judged so far, in the order judged (empty in the first round).
    pub judged: &'a [Judged],
    /// The round, from 1.
    pub round: usize,
}

/// Something that proposes candidate changes: the offline families, or a model.
pub trait CandidateProposer: Send + Sync {
    /// Shown in progress and the report (`offline rules`, `openai gpt-4.1`).
    fn name(&self) -> String;

    /// Candidates for this round; an empty list means the proposer has nothing (more) to offer.
    /// Blocking: called from a blocking task, so a model-backed proposer may wait on the network.
    fn propose(&self, context: &ProposalContext<'_>) -> Vec<Candidate>;
}

/// Limits of one search (`[search]` in crashloom.toml).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchLimits {
    /// Candidates judged at most, over all rounds.
    pub max_candidates: usize,
    /// Wall-clock time for the whole search; what is not judged by then is reported as such.
    pub time_budget: std::time::Duration,
    /// Rounds of proposing and judging.
    pub rounds: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits { max_candidates: 24, time_budget: std::time::Duration::from_secs(300), rounds: 3 }
    }
}

/// A candidate in the final ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedCandidate {
    pub candidate: Candidate,
    /// The ladder's verdict; `None` when the search did not get to it.
    pub report: Option<ValidationReport>,
    /// Why it ranks where it does, in words.
    pub reasons: Vec<String>,
    /// The change as a unified diff.
    pub diff: String,
    /// Why it was not judged, when it was not.
    #[serde(default)]
    pub not_judged: Option<String>,
}

impl RankedCandidate {
    /// `fixed`, `converted`, `not fixed`, `tests broken`, `does not build`, `not judged`...
    pub fn outcome_words(&self) -> &'static str {
        use super::validator::{CrashOutcome, RungOutcome};
        let Some(report) = &self.report else { return "not judged" };
        if report.validated && self.candidate.fix.hides_symptom {
            return "validated, but hides the symptom";
        }
        if report.validated {
            return "fixed (validated)";
        }
        if report.rungs.first().is_some_and(|r| r.outcome != RungOutcome::Passed) {
            return "does not build";
        }
        match report.outcome {
            Some(CrashOutcome::Fixed) => {
                if report.tests.as_ref().is_some_and(|t| !t.broken.is_empty()) {
                    "tests broken"
                } else {
                    "fixed, ladder incomplete"
                }
            }
            Some(CrashOutcome::Converted) => "converted",
            Some(CrashOutcome::NotFixed) => "not fixed",
            None => "not reproduced",
        }
    }
}

/// What the search did, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchSummary {
    pub proposers: Vec<String>,
    pub rounds: usize,
    pub proposed: usize,
    pub judged: usize,
    pub elapsed_ms: u64,
    /// Time to the first validated candidate.
    pub first_validated_ms: Option<u64>,
    /// Why the search stopped before judging everything, when it did.
    pub stopped: Option<String>,
}

/// Orders judged candidates best first and says why: validated first; then no test broken and
/// failing tests fixed; then a change that does not hide the symptom; then not a conversion; then
/// the smaller change; then the higher-ranked location.
pub fn rank(mut candidates: Vec<RankedCandidate>, locations: &[String]) -> Vec<RankedCandidate> {
    use super::validator::CrashOutcome;
    let tier = |c: &RankedCandidate| -> u8 {
        match &c.report {
            None => 7,
            Some(r) if r.validated && !c.candidate.fix.hides_symptom => 0,
            Some(r) if r.validated => 1,
            Some(r) if r.outcome == Some(CrashOutcome::Fixed) => 2,
            Some(r) if r.outcome == Some(CrashOutcome::Converted) => 3,
            Some(r) if r.outcome == Some(CrashOutcome::NotFixed) => 4,
            Some(r) if r.rungs.first().is_some_and(|b| b.outcome != super::validator::RungOutcome::Passed) => 6,
            Some(_) => 5,
        }
    };
    let broken = |c: &RankedCandidate| c.report.as_ref().and_then(|r| r.tests.as_ref()).map_or(0, |t| t.broken.len());
    let fixed = |c: &RankedCandidate| c.report.as_ref().and_then(|r| r.tests.as_ref()).map_or(0, |t| t.fixed.len());
    let size = |c: &RankedCandidate| {
        c.diff
            .lines()
            .filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++") && !l.starts_with("---"))
            .count()
    };
    let place =
        |c: &RankedCandidate| locations.iter().position(|l| *l == c.candidate.location).unwrap_or(locations.len());
    candidates.sort_by_key(|c| {
        (
            tier(c),
            broken(c),
            std::cmp::Reverse(fixed(c)),
            c.candidate.fix.hides_symptom,
            c.candidate.family == "conversion",
            size(c),
            place(c),
        )
    });
    let smallest_validated = candidates.iter().filter(|c| tier(c) == 0).map(size).min();
    for c in &mut candidates {
        let mut reasons = vec![format!("outcome: {}", c.outcome_words())];
        if broken(c) > 0 {
            reasons.push(format!("breaks {} test(s) that passed before", broken(c)));
        }
        if fixed(c) > 0 {
            reasons.push(format!("makes {} failing test(s) pass", fixed(c)));
        }
        if c.candidate.fix.hides_symptom {
            reasons.push("hides the symptom: it may silently skip a missing record".to_owned());
        }
        if c.candidate.family == "conversion" {
            reasons.push("raises another error instead of the crash: a conversion, never the fix".to_owned());
        }
        let lines = size(c);
        if tier(c) == 0 && Some(lines) == smallest_validated {
            reasons.push(format!("the smallest validated change ({lines} changed lines)"));
        } else {
            reasons.push(format!("{lines} changed lines"));
        }
        match place(c) {
            0 => reasons.push(format!("at the most likely location, {}", c.candidate.location)),
            n if n < locations.len() => {
                reasons.push(format!("at the location ranked {} ({})", n + 1, c.candidate.location))
            }
            _ => {}
        }
        if let Some(why) = &c.not_judged {
            reasons.push(format!("not judged: {why}"));
        }
        c.reasons = reasons;
    }
    // The proposed change is the best validated one that does not hide the symptom; without one,
    // the best that does not hide it (never validated), so a symptom mask is never "the fix".
    let chosen = candidates
        .iter()
        .position(|c| tier(c) == 0)
        .or_else(|| candidates.iter().position(|c| c.report.is_some() && !c.candidate.fix.hides_symptom))
        .unwrap_or(0);
    if chosen > 0 {
        let picked = candidates.remove(chosen);
        candidates.insert(0, picked);
        if let Some(first) = candidates.first_mut() {
            first.reasons.push("proposed ahead of changes that only hide the symptom".to_owned());
        }
    }
    candidates
}
