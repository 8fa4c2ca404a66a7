//! (placeholder until code search lands)
use super::{CodeContext, CodeSearch, CrashFacts, CrashInput};
pub struct OfflineCodeSearch;
impl CodeSearch for OfflineCodeSearch {
    fn search(&self, _: &CrashInput<'_>, _: &CrashFacts) -> CodeContext {
        CodeContext::default()
    }
}
