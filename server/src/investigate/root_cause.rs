//! (placeholder until the rules land)
use super::{CodeContext, CrashFacts, CrashInput, Hypothesis, RootCauseAnalyst};
pub struct OfflineRootCause;
impl RootCauseAnalyst for OfflineRootCause {
    fn hypotheses(&self, _: &CrashInput<'_>, _: &CrashFacts, _: &CodeContext) -> Vec<Hypothesis> {
        Vec::new()
    }
}
