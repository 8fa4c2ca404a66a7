//! (placeholder until the analyzer lands)
use super::{CrashFacts, CrashInput, ErrorAnalyzer};
pub struct OfflineErrorAnalyzer;
impl ErrorAnalyzer for OfflineErrorAnalyzer {
    fn analyze(&self, input: &CrashInput<'_>) -> CrashFacts {
        CrashFacts {
            exception: input.group.exception.clone(),
            message: input.group.message.clone(),
            ..CrashFacts::default()
        }
    }
}
