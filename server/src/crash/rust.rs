//! Parser for Rust panics as std's default panic hook prints them, in all three header formats
//! (≥1.91 `thread 'main' (123) panicked at src/main.rs:3:5:`, 1.73–1.90 without the thread id, and
//! <1.73 `thread 'main' panicked at 'msg', src/main.rs:3:5`), with or without a `stack backtrace:`
//! in short (`RUST_BACKTRACE=1`) or full form.
//!
//! The event has one exception: `ty` = `panic`, `value` = the message. Its frames come from the
//! backtrace, minus the panic machinery on top (`rust_begin_unwind`, `core::panicking::*`, ...)
//! and the runtime start below `__rust_begin_short_backtrace`, so the short and full forms give
//! the same frames. The raising frame is the panic location from the header: frames newer than
//! the one at that location (`Option::unwrap` and other `#[track_caller]` helpers) are dropped,
//! and when no frame is at that location (no backtrace, or no debug info) a frame for it is added.

use std::sync::LazyLock;

use regex::Regex;

use super::logline::looks_like_log_record_start;
use super::{CrashEvent, Exception, Frame, Language};

/// `thread 'main' (123) panicked at src/main.rs:3:5:` (≥1.91) or without ` (123)` (1.73–1.90).
static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^thread '(?P<name>[^']*)'(?: \((?P<tid>\d+)\))? panicked at (?P<location>.+?:\d+:\d+):$")
        .expect("valid regex")
});
/// `thread 'main' panicked at 'message', src/main.rs:3:5` (<1.73); the message may span lines.
static OLD_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^thread '(?P<name>[^']*)'(?: \((?P<tid>\d+)\))? panicked at '(?P<rest>.*)$").expect("valid regex")
});
/// `  12: symbol` or `  12:     0x55f1b77ea7db - symbol`.
static FRAME_SYMBOL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?P<index>\d+):\s+(?:0x[0-9a-fA-F]+ - )?(?P<symbol>.*?)\s*$").expect("valid regex")
});
/// Crate disambiguators of v0 symbols (`std[e28293b1aa0f68bd]::`) and legacy hashes (`::h0123...`).
static SYMBOL_NOISE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[[0-9a-f]{16}\]|::h[0-9a-f]{16}$").expect("valid regex"));

/// How many lines a panic message may span before the parser gives up on finding its end.
const MAX_MESSAGE_LINES: usize = 200;

/// Parses a trace that starts at `lines[0]` (log prefixes already stripped). Returns the event and
/// how many lines of `lines` it used, or `None` when no trace of this format starts there.
pub fn parse(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let first = lines.first()?;
    let (thread, thread_id, location, message, mut used) = if let Some(header) = HEADER.captures(first) {
        let (message, message_lines) = read_message(lines.get(1..).unwrap_or(&[]));
        let location = header["location"].to_owned();
        (
            header["name"].to_owned(),
            header.name("tid").map(|m| m.as_str().to_owned()),
            location,
            message,
            1 + message_lines,
        )
    } else {
        let header = OLD_HEADER.captures(first)?;
        let (message, location, header_lines) = read_quoted_message(&header["rest"], lines.get(1..).unwrap_or(&[]))?;
        (header["name"].to_owned(), header.name("tid").map(|m| m.as_str().to_owned()), location, message, header_lines)
    };
    let panic_location = parse_location(&location);

    let mut exception = Exception { ty: "panic".to_owned(), value: message, ..Exception::default() };
    let mut newest_first = Vec::new();
    while let Some(line) = lines.get(used) {
        let trimmed = line.trim();
        if trimmed.starts_with("note: run with `RUST_BACKTRACE=")
            || trimmed.starts_with("note: Some details are omitted")
        {
            used += 1;
        } else if trimmed == "stack backtrace:" {
            used += 1 + read_backtrace(lines.get(used + 1..).unwrap_or(&[]), &mut newest_first, &mut exception);
        } else {
            break;
        }
    }
    exception.frames = app_frames(newest_first, panic_location.as_ref());

    let mut event = CrashEvent {
        language: Some(Language::Rust),
        exceptions: vec![exception],
        thread: Some(thread),
        ..CrashEvent::default()
    };
    if let Some(id) = thread_id {
        event.tags.push(("thread.id".to_owned(), id));
    }
    Some((event, used))
}

/// The message lines after a ≥1.73 header: up to a `note:`, the backtrace, a blank line, another
/// panic or what looks like the next log record.
fn read_message(lines: &[&str]) -> (String, usize) {
    let mut message = String::new();
    let mut used = 0;
    for line in lines.iter().take(MAX_MESSAGE_LINES) {
        let ends_message = line.trim().is_empty()
            || line.starts_with("note: ")
            || line.trim() == "stack backtrace:"
            || line.starts_with("thread '")
            || (used > 0 && looks_like_log_record_start(line));
        if ends_message {
            break;
        }
        if used > 0 {
            message.push('\n');
        }
        message.push_str(line);
        used += 1;
    }
    (message, used)
}

/// The quoted message of a <1.73 header, which ends with `', file:line:col` on the first line or a
/// later one. Returns the message, the location and how many lines the header took.
fn read_quoted_message(rest: &str, following: &[&str]) -> Option<(String, String, usize)> {
    let mut message = String::new();
    for (index, line) in std::iter::once(&rest).chain(following.iter().take(MAX_MESSAGE_LINES)).enumerate() {
        if index > 0 {
            message.push('\n');
        }
        if let Some((text, location)) = line.rsplit_once("', ")
            && parse_location(location).is_some()
        {
            message.push_str(text);
            return Some((message, location.to_owned(), index + 1));
        }
        message.push_str(line);
    }
    None
}

/// A file, line and column as the panic header and `at` lines print them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    file: String,
    line: u32,
    column: Option<u32>,
}

/// `src/main.rs:3:5` or `src/main.rs:3` (the file itself may contain `:`, e.g. `C:\src\main.rs`).
fn parse_location(text: &str) -> Option<Location> {
    let text = text.trim();
    let (before, last) = text.rsplit_once(':')?;
    let last: u32 = last.parse().ok()?;
    match before.rsplit_once(':') {
        Some((file, line)) if line.parse::<u32>().is_ok() && !file.is_empty() => {
            Some(Location { file: file.to_owned(), line: line.parse().ok()?, column: Some(last) })
        }
        _ if !before.is_empty() => Some(Location { file: before.to_owned(), line: last, column: None }),
        _ => None,
    }
}

/// Reads the frames after `stack backtrace:`; returns how many lines they took.
fn read_backtrace(lines: &[&str], newest_first: &mut Vec<Frame>, exception: &mut Exception) -> usize {
    let mut used = 0;
    for line in lines {
        let trimmed = line.trim();
        if let Some(location) = trimmed.strip_prefix("at ") {
            let Some(frame) = newest_first.last_mut() else {
                break;
            };
            if let Some(location) = parse_location(location) {
                set_location(frame, &location);
            }
        } else if let Some(omitted) = trimmed.strip_prefix("[... omitted ").and_then(|r| r.strip_suffix(" frames ...]"))
        {
            let omitted: u32 = omitted.parse().unwrap_or(0);
            exception.frames_omitted = Some(exception.frames_omitted.unwrap_or(0).saturating_add(omitted));
        } else if let Some(captures) = FRAME_SYMBOL.captures(line) {
            newest_first.push(frame_for_symbol(&captures["symbol"]));
        } else if line.starts_with("      ") && !trimmed.is_empty() {
            // An inlined frame of older full backtraces: the symbol without index or address.
            newest_first.push(frame_for_symbol(trimmed));
        } else {
            break;
        }
        used += 1;
    }
    used
}

fn frame_for_symbol(symbol: &str) -> Frame {
    let function = SYMBOL_NOISE.replace_all(symbol, "").into_owned();
    let module = module_of(&function);
    Frame { function: Some(function), module, ..Frame::default() }
}

/// The path before a symbol's last `::` outside generic brackets: `app::orders` for
/// `app::orders::total`; none for `main` or `<T as Trait>::method`.
fn module_of(function: &str) -> Option<String> {
    if function.starts_with('<') {
        return None;
    }
    let mut depth = 0i32;
    let mut last_separator = None;
    let bytes = function.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'{' | b'(' | b'[' => depth += 1,
            b'>' | b'}' | b')' | b']' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => last_separator = last_separator.max(Some(i)),
            _ => {}
        }
    }
    // `a::b` has its separators at i and i+1; keep the first byte of the last pair.
    let mut separator = last_separator?;
    if separator > 0 && bytes.get(separator - 1) == Some(&b':') {
        separator -= 1;
    }
    function.get(..separator).filter(|m| !m.is_empty()).map(str::to_owned)
}

fn set_location(frame: &mut Frame, location: &Location) {
    let file = location.file.strip_prefix("./").unwrap_or(&location.file);
    frame.filename = Some(file.to_owned());
    if file.starts_with('/') || file.get(1..3) == Some(":\\") {
        frame.abs_path = Some(file.to_owned());
    }
    frame.line = Some(location.line);
    frame.column = location.column;
}

/// Whether a symbol belongs to the code that prints and starts unwinding a panic.
fn is_panic_machinery(function: &str) -> bool {
    const MARKERS: &[&str] = &[
        "rust_begin_unwind",
        "__rustc::",
        "core::panicking::",
        "std::panicking::",
        "std::panic::panic_any",
        "std::sys::backtrace::",
        "std::sys_common::backtrace::",
        "std::backtrace_rs::",
        "backtrace::backtrace::",
        "__rust_end_short_backtrace",
        "__rust_start_panic",
        "rust_panic",
        "core::result::unwrap_failed",
        "core::option::unwrap_failed",
        "core::option::expect_failed",
    ];
    MARKERS.iter().any(|marker| function.contains(marker))
}

/// Orders the backtrace oldest first and keeps the frames between the program's entry and the
/// panic location (see the module docs).
fn app_frames(mut newest_first: Vec<Frame>, panic_location: Option<&Location>) -> Vec<Frame> {
    let function = |frame: &Frame| frame.function.clone().unwrap_or_default();
    // Drop the runtime start: `__rust_begin_short_backtrace` and everything older.
    if let Some(start) = newest_first.iter().position(|f| function(f).contains("__rust_begin_short_backtrace")) {
        newest_first.truncate(start);
    }
    // Drop the panic machinery on top.
    let machinery = newest_first.iter().rposition(|f| is_panic_machinery(&function(f))).map_or(0, |i| i + 1);
    let mut frames: Vec<Frame> = newest_first.split_off(machinery.min(newest_first.len()));
    // Make the panic location the raising frame.
    if let Some(location) = panic_location {
        let file = location.file.strip_prefix("./").unwrap_or(&location.file);
        let at_location = frames.iter().position(|f| {
            f.line == Some(location.line)
                && f.filename.as_deref().is_some_and(|name| name == file || name.ends_with(&format!("/{file}")))
        });
        match at_location {
            Some(index) => {
                frames.drain(..index);
            }
            None => {
                let mut frame = Frame::default();
                set_location(&mut frame, location);
                frames.insert(0, frame);
            }
        }
    }
    frames.reverse();
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (CrashEvent, usize) {
        let lines: Vec<&str> = text.lines().collect();
        parse(&lines).expect("a panic")
    }

    // The two older header formats cannot be produced by the compiler on this machine (1.95), so
    // these examples are taken verbatim from the Rust 1.73 release notes' before/after example.
    #[test]
    fn header_of_rust_1_73_to_1_90() {
        let (event, used) = parse_text(
            "thread 'main' panicked at src/main.rs:3:5:\noh no! \nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        );
        assert_eq!(used, 3);
        assert_eq!(event.thread.as_deref(), Some("main"));
        let exception = &event.exceptions[0];
        assert_eq!(exception.title(), "panic: oh no!");
        assert_eq!(exception.frames.len(), 1);
        assert_eq!(exception.frames[0].filename.as_deref(), Some("src/main.rs"));
        assert_eq!((exception.frames[0].line, exception.frames[0].column), (Some(3), Some(5)));
    }

    #[test]
    fn header_before_rust_1_73() {
        let (event, used) = parse_text(
            "thread 'main' panicked at 'oh no! ', src/main.rs:3:5\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        );
        assert_eq!(used, 2);
        let exception = &event.exceptions[0];
        assert_eq!(exception.value, "oh no! ");
        assert_eq!(exception.frames[0].line, Some(3));
    }

    #[test]
    fn multi_line_quoted_message_before_rust_1_73() {
        let (event, used) = parse_text(
            "thread 'main' panicked at 'assertion failed: `(left == right)`\n  left: `1`,\n right: `2`', src/main.rs:2:5\nnext",
        );
        assert_eq!(used, 3);
        assert_eq!(event.exceptions[0].value, "assertion failed: `(left == right)`\n  left: `1`,\n right: `2`");
    }

    #[test]
    fn inlined_frames_of_older_full_backtraces() {
        let (event, _) = parse_text(
            "thread '<unnamed>' panicked at src/lib.rs:10:9:
boom
stack backtrace:
   0:     0x55f1b77ea7db - std::panicking::begin_panic::h0be520bdeb30de61
   1:     0x55f1b77ea7db - app::worker::run::h0be520bdeb30de61
                               at ./src/lib.rs:10:9
                           app::worker::inlined_helper
                               at ./src/worker.rs:4:1
   2:     0x55f1b77ea7db - app::main::h0be520bdeb30de61
                               at ./src/main.rs:2:5",
        );
        let frames = &event.exceptions[0].frames;
        let functions: Vec<_> = frames.iter().map(|f| f.function.as_deref().unwrap_or("")).collect();
        assert_eq!(functions, ["app::main", "app::worker::inlined_helper", "app::worker::run"]);
        assert_eq!(frames[0].module.as_deref(), Some("app"));
    }

    #[test]
    fn truncated_and_garbled_panics() {
        assert!(parse(&["thread 'main' panicked at"]).is_none());
        assert!(parse(&["thread 'main' panicked at 'never closed"]).is_none());
        assert!(parse(&[]).is_none());
        let (event, used) = parse_text(
            "thread 'main' (7) panicked at src/main.rs:1:1:\nboom\nstack backtrace:\n   0: app::f\n             at ",
        );
        assert_eq!(used, 5);
        assert_eq!(event.exceptions[0].frames.last().and_then(|f| f.line), Some(1));
        for text in
            ["thread 'é' panicked at é:1:1:\né", "thread '' () panicked at :1:1:", "thread 'x' panicked at a:b:c:"]
        {
            let lines: Vec<&str> = text.lines().collect();
            let _ = parse(&lines);
        }
    }

    #[test]
    fn module_paths() {
        assert_eq!(module_of("app::orders::total").as_deref(), Some("app::orders"));
        assert_eq!(module_of("app::Foo<T>::bar").as_deref(), Some("app::Foo<T>"));
        assert_eq!(module_of("main"), None);
        assert_eq!(module_of("<T as core::fmt::Debug>::fmt"), None);
    }
}
