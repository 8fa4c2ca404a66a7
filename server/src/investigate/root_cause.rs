//! (stub)
use super::{CodeContext, CrashFacts, CrashInput, Hypothesis, RootCauseAnalyst};
pub struct OfflineRootCause;
impl RootCauseAnalyst for OfflineRootCause {
    fn hypotheses(&self, _input: &CrashInput<'_>, _facts: &CrashFacts, _code: &CodeContext) -> Vec<Hypothesis> {
        Vec::new()
    }
}
