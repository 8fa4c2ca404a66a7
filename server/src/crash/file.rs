//! One crash file, whatever it holds: a Sentry event (raw or Web API JSON), a list of events,
//! JSON lines, a saved envelope (optionally gzipped), a plain stack trace, or a log with traces
//! inside.
//!
//! The shape is recognised from the content, not the file name. Whatever cannot be read becomes a
//! problem: one sentence naming the file, for the log.

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use regex::Regex;

use serde_json::Value;

use super::envelope::{decode_body, parse_envelope};
use super::sentry::{SentryEventError, parse_event};
use super::{CrashEvent, Origin, detect};

/// What a crash file yielded, and what could not be read (one sentence each, for the log).
#[derive(Debug, Clone, Default)]
pub struct ParsedCrashFile {
    pub events: Vec<CrashEvent>,
    pub problems: Vec<String>,
}

/// A gzipped crash file is read up to this size once decompressed.
const MAX_DECOMPRESSED_FILE: usize = 100 * 1024 * 1024;
/// How much of the start of a file is looked at to tell text from binary data.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// Parses the bytes of a crash file. `location` names the file in origins and problems.
pub fn parse_crash_file(bytes: &[u8], location: &str) -> ParsedCrashFile {
    let mut parsed = ParsedCrashFile::default();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        match decode_body(bytes, Some("gzip"), MAX_DECOMPRESSED_FILE) {
            Ok(plain) => parse_uncompressed(&plain, location, &mut parsed),
            Err(error) => {
                parsed.problems.push(format!("{location} looks gzip-compressed but cannot be read: {error}."))
            }
        }
    } else {
        parse_uncompressed(bytes, location, &mut parsed);
    }
    parsed
}

fn parse_uncompressed(bytes: &[u8], location: &str, parsed: &mut ParsedCrashFile) {
    // UTF-16 with a byte-order mark, as Windows PowerShell's `Out-File` and `>` write.
    if let Some(text) = decode_utf16_with_bom(bytes) {
        match text {
            Ok(text) => return parse_uncompressed(text.as_bytes(), location, parsed),
            Err(at) => {
                parsed.problems.push(format!(
                    "{location} is UTF-16 text with an invalid character at byte {at}; unreadable characters were replaced."
                ));
                let lossy = decode_utf16_lossy(bytes);
                return parse_uncompressed(lossy.as_bytes(), location, parsed);
            }
        }
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        parsed.problems.push(format!("{location} is empty."));
        return;
    }
    // Envelopes are read as bytes: attachments may be binary, and lengths count bytes.
    if looks_like_envelope(bytes) {
        read_envelope(bytes, location, parsed);
        return;
    }
    if looks_binary(bytes) {
        parsed.problems.push(format!("{location} is binary data, not a crash report, event or log."));
        return;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(error) => {
            parsed.problems.push(format!(
                "{location} is not valid UTF-8 (first bad byte at offset {}); unreadable bytes were replaced.",
                error.valid_up_to()
            ));
            String::from_utf8_lossy(bytes)
        }
    };
    if text.trim_start().starts_with(['{', '[']) {
        read_json(&text, location, parsed);
    } else {
        read_text(&text, location, parsed);
    }
}

/// The text of UTF-16 bytes that start with a byte-order mark (`FF FE` little-endian, `FE FF`
/// big-endian); `Err` with the byte offset of the first unpaired surrogate. `None` without a BOM.
fn decode_utf16_with_bom(bytes: &[u8]) -> Option<Result<String, usize>> {
    let units = utf16_units(bytes)?;
    let mut text = String::with_capacity(units.len());
    for (index, decoded) in char::decode_utf16(units.iter().copied()).enumerate() {
        match decoded {
            Ok(c) => text.push(c),
            Err(_) => return Some(Err(2 + index * 2)),
        }
    }
    Some(Ok(text))
}

fn decode_utf16_lossy(bytes: &[u8]) -> String {
    let units = utf16_units(bytes).unwrap_or_default();
    char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}

fn utf16_units(bytes: &[u8]) -> Option<Vec<u16>> {
    let little_endian = match bytes.get(..2)? {
        [0xff, 0xfe] => true,
        [0xfe, 0xff] => false,
        _ => return None,
    };
    // `FF FE 00 00` is UTF-32's little-endian mark, not UTF-16's.
    if little_endian && bytes.get(2..4) == Some(&[0, 0]) {
        return None;
    }
    let body = bytes.get(2..).unwrap_or_default();
    Some(
        body.chunks(2)
            .map(|pair| {
                let (a, b) = (pair.first().copied().unwrap_or(0), pair.get(1).copied().unwrap_or(0));
                if little_endian { u16::from_le_bytes([a, b]) } else { u16::from_be_bytes([a, b]) }
            })
            .collect(),
    )
}

/// A header line that is a JSON object but not an event, followed by an item header with a `type`.
fn looks_like_envelope(bytes: &[u8]) -> bool {
    let mut lines = bytes.split(|b| *b == b'\n').filter(|line| !line.trim_ascii().is_empty());
    let (Some(first), Some(second)) = (lines.next(), lines.next()) else {
        return false;
    };
    let Ok(Value::Object(headers)) = serde_json::from_slice::<Value>(first) else {
        return false;
    };
    let event_keys = ["exception", "entries", "threads", "stacktrace", "logentry", "message", "platform"];
    if event_keys.iter().any(|key| headers.contains_key(*key)) {
        return false;
    }
    serde_json::from_slice::<Value>(second).is_ok_and(|item| item.get("type").is_some_and(Value::is_string))
}

fn read_envelope(bytes: &[u8], location: &str, parsed: &mut ParsedCrashFile) {
    let envelope = match parse_envelope(bytes) {
        Ok(envelope) => envelope,
        Err(error) => {
            parsed.problems.push(format!("{location} is not a valid Sentry envelope: {error}."));
            return;
        }
    };
    let mut found_event = false;
    for item in envelope.items.iter().filter(|item| item.item_type == "event") {
        found_event = true;
        match item.payload_json() {
            Ok(value) => push_event(&value, location, None, parsed),
            Err(error) => parsed.problems.push(format!("The event in {location} is not valid JSON ({error}).")),
        }
    }
    if !found_event {
        parsed.problems.push(format!("{location} is a Sentry envelope without an event, so it holds no crash."));
    }
}

/// Whether the start of the file is mostly not text: NUL bytes, or many control or invalid bytes.
fn looks_binary(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(BINARY_SNIFF_BYTES)];
    if sample.contains(&0) {
        return true;
    }
    let text = String::from_utf8_lossy(sample);
    let total = text.chars().count().max(1);
    let odd = text
        .chars()
        .filter(|c| {
            *c == char::REPLACEMENT_CHARACTER || (c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c' | '\x1b'))
        })
        .count();
    odd * 10 > total
}

fn read_json(text: &str, location: &str, parsed: &mut ParsedCrashFile) {
    let whole_error = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(values)) => return read_event_list(&values, location, parsed),
        Ok(value) => return push_event(&value, location, None, parsed),
        Err(error) => error,
    };
    // Not one JSON document: JSON lines if the first line is a document on its own.
    let first_line = text.lines().find(|line| !line.trim().is_empty()).unwrap_or("");
    if serde_json::from_str::<Value>(first_line).is_ok() {
        return read_json_lines(text, location, parsed);
    }
    // Malformed JSON. A log that happens to start with `{` may still hold text traces.
    let before = parsed.events.len();
    read_traces(text, location, parsed);
    if parsed.events.len() == before {
        parsed.problems.push(format!("{location} is not valid JSON ({whole_error})."));
    }
}

fn read_event_list(values: &[Value], location: &str, parsed: &mut ParsedCrashFile) {
    let mut not_crashes = 0;
    let mut first_reason = None;
    for value in values {
        match parse_event(value) {
            Ok(event) => parsed.events.push(with_origin(event, location, None)),
            Err(error) => {
                not_crashes += 1;
                first_reason.get_or_insert_with(|| reason(&error));
            }
        }
    }
    if let Some(first_reason) = first_reason {
        parsed.problems.push(format!(
            "{not_crashes} of {} entries in {location} are not crash events (the first: {first_reason}).",
            values.len()
        ));
    }
}

fn read_json_lines(text: &str, location: &str, parsed: &mut ParsedCrashFile) {
    let mut invalid = 0;
    let mut first_invalid = None;
    let mut not_crashes = 0;
    let mut first_not_crash = None;
    let mut lines = 0;
    // JSON log records that are not events may still hold a trace in a field (`"exc_info"`,
    // `"stack"`), its newlines escaped.
    let mut log_lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        lines += 1;
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        match serde_json::from_str::<Value>(line) {
            Ok(value) => match parse_event(&value) {
                Ok(event) => parsed.events.push(with_origin(event, location, Some(number))),
                Err(error) => {
                    not_crashes += 1;
                    log_lines.push(index);
                    first_not_crash.get_or_insert_with(|| format!("line {number}: {}", reason(&error)));
                }
            },
            Err(error) => {
                invalid += 1;
                first_invalid.get_or_insert_with(|| format!("line {number}: {error}"));
            }
        }
    }
    if let Some(first) = first_invalid {
        parsed
            .problems
            .push(format!("{invalid} of {lines} lines in {location} are not valid JSON (the first, {first})."));
    }
    if !log_lines.is_empty() {
        let mut traces = ParsedCrashFile::default();
        read_traces(text, location, &mut traces);
        let in_log_lines = |event: &CrashEvent| {
            event.origin.as_ref().and_then(|o| o.line).is_some_and(|line| {
                log_lines.binary_search(&usize::try_from(line).unwrap_or(usize::MAX).saturating_sub(1)).is_ok()
            })
        };
        let found: Vec<CrashEvent> = traces.events.into_iter().filter(in_log_lines).collect();
        if !found.is_empty() {
            parsed.events.extend(found);
            parsed.events.sort_by_key(|e| e.origin.as_ref().and_then(|o| o.line));
            return;
        }
    }
    if let Some(first) = first_not_crash {
        parsed
            .problems
            .push(format!("{not_crashes} of {lines} lines in {location} are not crash events (the first, {first})."));
    }
}

fn push_event(value: &Value, location: &str, line: Option<u32>, parsed: &mut ParsedCrashFile) {
    match parse_event(value) {
        Ok(event) => parsed.events.push(with_origin(event, location, line)),
        Err(error) => {
            // A JSON log record with a trace in one of its strings.
            let before = parsed.events.len();
            if line.is_none() {
                read_traces(&value.to_string(), location, parsed);
            }
            if parsed.events.len() == before {
                parsed.problems.push(format!("{location} holds JSON that is not a crash event: {}.", reason(&error)))
            }
        }
    }
}

fn reason(error: &SentryEventError) -> String {
    match error {
        SentryEventError::NotAnEvent(reason) | SentryEventError::NotAnIssue(reason) => reason.clone(),
        SentryEventError::Json(error) => error.to_string(),
    }
}

fn read_text(text: &str, location: &str, parsed: &mut ParsedCrashFile) {
    let before = parsed.events.len();
    read_traces(text, location, parsed);
    if parsed.events.len() == before {
        parsed.problems.push(format!("{location} contains no stack trace or Sentry event."));
    }
}

fn read_traces(text: &str, location: &str, parsed: &mut ParsedCrashFile) {
    let found = detect::find_traces(text);
    // Lines are only needed to look for a log record's timestamp: found by counting newlines from
    // the last trace's (traces come in order), not by splitting the whole text again.
    let mut lines = LineFinder { text, index: 0, byte: 0 };
    for mut trace in found {
        if trace.event.timestamp.is_none() {
            // The record's time: on the trace's first line (every line prefixed), or on the log
            // line just above it (`logging.exception` and most loggers print the message first).
            let first = trace.lines.start;
            let above = first.checked_sub(1).and_then(|index| lines.line(index));
            trace.event.timestamp = lines.line(first).and_then(log_timestamp).or_else(|| above.and_then(log_timestamp));
        }
        let line = u32::try_from(trace.lines.start + 1).unwrap_or(u32::MAX);
        parsed.events.push(with_origin(trace.event, location, Some(line)));
    }
}

/// Finds lines by index, walking forward from the last one found (back to the start when asked for
/// an earlier one).
struct LineFinder<'t> {
    text: &'t str,
    /// The index and byte offset of a line start.
    index: usize,
    byte: usize,
}

impl<'t> LineFinder<'t> {
    fn line(&mut self, index: usize) -> Option<&'t str> {
        if index < self.index {
            (self.index, self.byte) = (0, 0);
        }
        let bytes = self.text.as_bytes();
        while self.index < index {
            let next = memchr::memchr(b'\n', bytes.get(self.byte..)?)?;
            self.byte += next + 1;
            self.index += 1;
        }
        let rest = self.text.get(self.byte..)?;
        Some(rest.get(..memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len())).unwrap_or(rest))
    }
}

/// The timestamp a log line starts with (ISO-8601 or `YYYY-MM-DD HH:MM:SS[,.]fff`, `/` dates as
/// Go's logger prints them), in UTC; a time without a zone is taken as UTC.
pub fn log_timestamp(line: &str) -> Option<DateTime<Utc>> {
    static STAMP: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[^0-9]{0,24}?(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?\s?(Z|[+-]\d\d:?\d\d)?")
            .expect("valid regex")
    });
    let head =
        line.get(..line.len().min(96)).or_else(|| line.char_indices().nth(96).and_then(|(i, _)| line.get(..i)))?;
    // The year is the line's first ASCII digit, within its first 25 characters (what `STAMP`
    // requires, and the numbers must be ASCII to be read): most lines are ruled out before the regex.
    if !head.chars().take(25).any(|c| c.is_ascii_digit()) {
        return None;
    }
    let c = STAMP.captures(head)?;
    let number = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let date = NaiveDate::from_ymd_opt(number(1)? as i32, number(2)?, number(3)?)?;
    let nanos = c.get(7).map_or(Some(0), |m| format!("{:0<9}", m.as_str()).parse::<u32>().ok())?;
    let time = NaiveTime::from_hms_nano_opt(number(4)?, number(5)?, number(6)?, nanos)?;
    let local = NaiveDateTime::new(date, time);
    let offset_seconds = match c.get(8).map(|m| m.as_str()) {
        None | Some("Z") => 0,
        Some(zone) => {
            let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            let hours: i32 = digits.get(..2)?.parse().ok()?;
            let minutes: i32 = digits.get(2..4)?.parse().ok()?;
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let offset = FixedOffset::east_opt(offset_seconds)?;
    Some(offset.from_local_datetime(&local).single()?.with_timezone(&Utc))
}

fn with_origin(mut event: CrashEvent, location: &str, line: Option<u32>) -> CrashEvent {
    event.origin = Some(Origin { location: location.to_owned(), line });
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_records_give_their_time() {
        let utc = |text: &str| log_timestamp(text).map(|t| t.to_rfc3339());
        assert_eq!(
            utc("2026-11-23 23:38:42,017 ERROR [shop] order 102 failed").as_deref(),
            Some("2026-11-23T23:38:42.017+00:00")
        );
        assert_eq!(
            utc("2024-01-01T10:00:00.5+02:00 stderr F panic: x").as_deref(),
            Some("2024-01-01T08:00:00.500+00:00")
        );
        assert_eq!(utc("[2024/05/06 07:08:09] boom").as_deref(), Some("2024-05-06T07:08:09+00:00"));
        assert_eq!(utc("Traceback (most recent call last):"), None);
        assert_eq!(utc("2024-13-45 99:00:00 nonsense"), None);
        // The date may follow up to 24 characters of something else, no more.
        assert_eq!(utc("abcdefghijklmnopqrstuvwx2024-01-01 10:00:00").as_deref(), Some("2024-01-01T10:00:00+00:00"));
        assert_eq!(utc("abcdefghijklmnopqrstuvwxy2024-01-01 10:00:00"), None);
        assert_eq!(utc("TypeError: Cannot read properties of undefined (reading 'length')"), None);
    }

    #[test]
    fn a_logged_trace_takes_the_time_of_its_record() {
        let log = "2026-11-20 10:00:00,000 INFO started\n2026-11-20 10:05:07,250 ERROR [app] failed\nTraceback (most recent call last):\n  File \"app.py\", line 2, in handle\n    return request['user']\nKeyError: 'user'\n";
        let parsed = parse_crash_file(log.as_bytes(), "app.log");
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(
            parsed.events[0].timestamp.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-20T10:05:07.250+00:00")
        );
    }

    const EVENT: &str = r#"{"platform":"python","exception":{"values":[{"type":"KeyError","value":"'sku'"}]}}"#;

    #[test]
    fn json_lines_keep_their_line_numbers() {
        let text = format!("{EVENT}\n\n{EVENT}\n{{\"logentry\":{{\"formatted\":\"hi\"}}}}\nnot json\n");
        let parsed = parse_crash_file(text.as_bytes(), "crashes.jsonl");
        let lines: Vec<Option<u32>> = parsed.events.iter().map(|e| e.origin.as_ref().and_then(|o| o.line)).collect();
        assert_eq!(lines, [Some(1), Some(3)]);
        assert_eq!(parsed.problems.len(), 2, "{:?}", parsed.problems);
        assert!(parsed.problems[0].starts_with("1 of 4 lines in crashes.jsonl are not valid JSON (the first, line 5:"));
        assert!(
            parsed.problems[1].starts_with("1 of 4 lines in crashes.jsonl are not crash events (the first, line 4:")
        );
    }

    #[test]
    fn a_list_of_events_and_a_single_event() {
        let parsed = parse_crash_file(format!("[{EVENT}, {EVENT}]").as_bytes(), "events.json");
        assert_eq!(parsed.events.len(), 2);
        assert!(parsed.problems.is_empty());
        let single = parse_crash_file(EVENT.as_bytes(), "event.json");
        assert_eq!(single.events[0].origin, Some(Origin { location: "event.json".into(), line: None }));
    }

    #[test]
    fn malformed_json_names_the_position() {
        let parsed = parse_crash_file(b"{\n  \"exception\": {\n    \"values\": [\n", "cut.json");
        assert!(parsed.events.is_empty());
        assert_eq!(parsed.problems, ["cut.json is not valid JSON (EOF while parsing a list at line 4 column 0)."]);
    }

    #[test]
    fn binary_empty_and_traceless_files() {
        let junk: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let parsed = parse_crash_file(&junk, "core.bin");
        assert!(parsed.events.is_empty());
        assert_eq!(parsed.problems, ["core.bin is binary data, not a crash report, event or log."]);
        assert_eq!(parse_crash_file(b" \n", "empty.log").problems, ["empty.log is empty."]);
        assert_eq!(
            parse_crash_file(b"server started\n", "app.log").problems,
            ["app.log contains no stack trace or Sentry event."]
        );
    }

    #[test]
    fn invalid_utf8_is_read_lossily_with_a_problem() {
        let parsed = parse_crash_file(b"caf\xe9 crashed\n", "latin1.log");
        assert!(parsed.problems[0].starts_with("latin1.log is not valid UTF-8 (first bad byte at offset 3)"));
    }

    #[test]
    fn saved_envelope_with_a_binary_attachment() {
        let mut body =
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"attachment\",\"length\":3}\n\0\n\xff\n"
                .to_vec();
        body.extend_from_slice(format!("{{\"type\":\"event\"}}\n{EVENT}").as_bytes());
        let parsed = parse_crash_file(&body, "saved.envelope");
        assert_eq!(parsed.events.len(), 1, "{:?}", parsed.problems);
        assert_eq!(parsed.events[0].title(), "KeyError: 'sku'");
    }
}
