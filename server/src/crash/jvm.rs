//! Parser for jvm stack traces. (stub: to be implemented)

use super::CrashEvent;

/// Parses a trace that starts at `lines[0]` (log prefixes already stripped). Returns the event and
/// how many lines of `lines` it used, or `None` when no trace of this format starts there.
pub fn parse(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let _ = lines;
    None
}
