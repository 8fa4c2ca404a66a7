use super::{RuleResult, Source, no_rule};
use crate::investigate::FailingOperation;

pub(super) fn propose(_source: &Source, _row: usize, operation: &FailingOperation) -> RuleResult {
    Err(no_rule("this language", operation))
}
