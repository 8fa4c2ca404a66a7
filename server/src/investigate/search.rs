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
