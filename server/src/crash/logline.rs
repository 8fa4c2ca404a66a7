//! Facts about single log lines that every parser and the trace finder share. A leaf module: it
//! depends on nothing else in `crash`, so the parsers and `detect` do not depend on each other
//! through it.

use std::sync::LazyLock;

use regex::Regex;

/// Whether a line looks like the start of a new log record (a timestamp, a bracketed field or a
/// level word) rather than the continuation of a multi-line exception message. Parsers use it to
/// end messages in logs where only the first line of a record carries the prefix.
pub fn looks_like_log_record_start(line: &str) -> bool {
    static RECORD_START: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(?:\d{4}[-/]\d\d[-/]\d\d|\[\d|\d\d:\d\d:\d\d|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d|(?:INFO|WARN|WARNING|ERROR|DEBUG|TRACE|FATAL|CRITICAL|NOTICE)\b|[IWEF]\d{4} \d\d:)",
        )
        .expect("valid regex")
    });
    RECORD_START.is_match(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_record_starts() {
        assert!(looks_like_log_record_start("2024-01-01 12:00:00,123 INFO x"));
        assert!(looks_like_log_record_start("Nov 23 12:00:00 host app[1]: x"));
        assert!(looks_like_log_record_start("INFO starting"));
        assert!(!looks_like_log_record_start("  drop orders"));
        assert!(!looks_like_log_record_start("Information"));
    }
}
