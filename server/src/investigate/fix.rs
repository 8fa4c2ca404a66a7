//! (placeholder until the rules land)
use super::{CodeContext, CrashFacts, CrashInput, FixOutcome, FixProposer, Hypothesis};
pub struct OfflineFixProposer;
impl FixProposer for OfflineFixProposer {
    fn propose(&self, _: &CrashInput<'_>, _: &CrashFacts, _: &CodeContext, _: &[Hypothesis]) -> FixOutcome {
        FixOutcome::NoConfidentFix { reason: "no rule".into() }
    }
}
