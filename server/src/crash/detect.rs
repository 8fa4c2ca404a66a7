//! Finds the crashes in arbitrary text: a bare trace, a whole log with prefixed and interleaved
//! lines (see [`super::scan`]), or a test runner's output, where each failing test's crash is one
//! trace carrying the test's name (see [`super::testrun`]).
//!
//! Layering: `logline` (leaf) ← format parsers ← `scan` ← `testrun` ← `detect`.

pub use super::scan::FoundTrace;
use super::{CrashEvent, scan, testrun};

/// Every crash in `text`, in order of appearance. Never panics; garbled traces yield what could be
/// read. In a test runner's output, the traces of one failing test become one crash with
/// [`super::CrashEvent::test_name`] set.
pub fn find_traces(text: &str) -> Vec<FoundTrace> {
    let mut found = scan::find_traces(text);
    if !testrun::may_be_test_output(text) {
        return found;
    }
    for test in testrun::failing_tests(text) {
        let Some(event) = test.event else { continue };
        let lines = test.lines.clone();
        found.retain(|trace| trace.lines.end <= lines.start || trace.lines.start >= lines.end);
        found.push(FoundTrace { event, lines });
    }
    // Runners repeat a failure's trace in a closing summary (`node --test`'s "failing tests"):
    // a copy of a test's crash outside its block is the same crash, not another one.
    let tests: Vec<CrashEvent> =
        found.iter().filter(|t| t.event.test_name.is_some()).map(|t| t.event.clone()).collect();
    let frames_of = |event: &CrashEvent| event.outermost().map(|e| e.frames.clone()).unwrap_or_default();
    found.retain(|trace| {
        let frames = frames_of(&trace.event);
        trace.event.test_name.is_some()
            || !tests.iter().any(|test| {
                test.exceptions == trace.event.exceptions || (!frames.is_empty() && frames_of(test) == frames)
            })
    });
    found.sort_by_key(|trace| (trace.lines.start, trace.lines.end));
    found
}
