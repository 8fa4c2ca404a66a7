//! Parser for Go crashes as the runtime prints them (`src/runtime/panic.go`, `traceback.go`):
//! `panic: msg` (nested `[recovered]` panics included) or `fatal error: msg`, an optional
//! `[signal ...]` line, then goroutine stacks, newest frame first.
//!
//! Exception types, chosen to read like the first line Go printed:
//! - `panic: runtime error: index out of range [5] with length 3` → `runtime.Error` (the interface
//!   every runtime panic implements), value `index out of range [5] with length 3`;
//! - `fatal error: all goroutines are asleep - deadlock!` → `fatal error`, value the rest;
//! - any other `panic: msg` → `panic`, value `msg`.
//!
//! The first goroutine (the one that crashed) gives the exception's frames; the other goroutines
//! of a `GOTRACEBACK=all` dump become [`CrashEvent::threads`], with their wait reasons, as
//! context. A `created by f in goroutine N` line becomes the oldest frame: it is the call that
//! started the goroutine. Dumps without a panic are read too: `SIGQUIT: quit` (type `SIGQUIT`)
//! and bare `goroutine N [running]:` stacks (type `goroutine dump`). Frame `module` is the package path (`crashloom.test/app/orders`), `function` the
//! rest (`(*Cart).Total`, `main.func1`). Nested panics become a chain: each earlier panic is the
//! `Context` of the one raised while it was being handled.

use super::logline::looks_like_log_record_start;
use super::{CrashEvent, Exception, ExceptionLink, Frame, Language, LinkKind, ThreadStack};

/// How many lines may separate the panic message from the first goroutine header.
const MAX_MESSAGE_LINES: usize = 100;

/// Parses a trace that starts at `lines[0]` (log prefixes already stripped). Returns the event and
/// how many lines of `lines` it used, or `None` when no trace of this format starts there.
pub fn parse(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let first = lines.first()?;
    if parse_goroutine_header(first).is_some() && !first.starts_with(char::is_whitespace) {
        return parse_dump(lines, None, 0);
    }
    if let Some((signal, description)) = signal_header(first) {
        return parse_dump(lines, Some((signal, description)), 1);
    }
    let (fatal, first_message) = if let Some(message) = first.strip_prefix("panic: ") {
        (false, message)
    } else {
        (true, first.strip_prefix("fatal error: ")?)
    };

    // Panic messages: the first line, nested `\tpanic: ` lines and message continuation lines, up
    // to the blank line before the first goroutine.
    let mut messages = vec![first_message.to_owned()];
    let mut signal = None;
    let mut used = 1;
    let mut goroutine_start = None;
    for (index, line) in lines.iter().enumerate().skip(1).take(MAX_MESSAGE_LINES) {
        if parse_goroutine_header(line).is_some() {
            goroutine_start = Some(index);
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        if looks_like_log_record_start(line) {
            break;
        }
        if let Some(nested) = line.strip_prefix("\tpanic: ").or_else(|| line.strip_prefix("panic: ")) {
            messages.push(nested.to_owned());
        } else if line.starts_with("[signal ") && line.ends_with(']') {
            signal = Some(line.trim_start_matches('[').trim_end_matches(']').to_owned());
        } else if let Some(last) = messages.last_mut() {
            last.push('\n');
            last.push_str(line);
        }
        used = index + 1;
    }
    // Without a goroutine stack this is only a line that happens to start with `panic: `.
    let goroutine_start = goroutine_start?;
    let goroutine = lines.get(goroutine_start)?;
    let (goroutine_id, _status) = parse_goroutine_header(goroutine)?;

    let (newest_first, frames_omitted, stack_end) = read_stack(lines.get(goroutine_start + 1..).unwrap_or(&[]));
    used = used.max(goroutine_start + 1 + stack_end);
    let (threads, others_used) = read_other_goroutines(lines.get(used..).unwrap_or(&[]));
    used += others_used;

    let exceptions = exceptions_for(fatal, &messages, newest_first, frames_omitted);
    let mut event = CrashEvent {
        language: Some(Language::Go),
        exceptions,
        thread: Some(format!("goroutine {goroutine_id}")),
        threads,
        ..CrashEvent::default()
    };
    if let Some(signal) = signal {
        let name = signal.split(':').next().unwrap_or("").trim_start_matches("signal ").to_owned();
        event.tags.push(("signal".to_owned(), name));
    }
    Some((event, used))
}

/// `goroutine 1 [running]:`, also with `gp=... m=...` (GOTRACEBACK=system); returns id and status.
fn parse_goroutine_header(line: &str) -> Option<(u64, &str)> {
    let rest = line.trim_start().strip_prefix("goroutine ")?;
    let (id, rest) = rest.split_once(' ')?;
    let id = id.parse().ok()?;
    let status = rest.strip_suffix("]:")?.rsplit_once('[')?.1;
    Some((id, status))
}

/// Reads one goroutine's frames. Returns them newest first, the count of elided frames, and how
/// many lines they took.
fn read_stack(lines: &[&str]) -> (Vec<Frame>, Option<u32>, usize) {
    let mut frames = Vec::new();
    let mut omitted = None;
    let mut used = 0;
    let mut index = 0;
    while let Some(line) = lines.get(index) {
        if line.trim().is_empty() || parse_goroutine_header(line).is_some() {
            break;
        }
        let trimmed = line.trim();
        if trimmed == "...additional frames elided..." {
            index += 1;
            used = index;
            continue;
        }
        if let Some(count) = trimmed.strip_prefix("...").and_then(|r| r.strip_suffix(" frames elided...")) {
            let count: u32 = count.parse().unwrap_or(0);
            omitted = Some(omitted.unwrap_or(0u32).saturating_add(count));
            index += 1;
            used = index;
            continue;
        }
        if line.starts_with('\t') || line.starts_with(' ') {
            // A file line without a function line before it: garbled, stop here.
            break;
        }
        let (function_text, created_by) = match line.strip_prefix("created by ") {
            Some(creator) => (creator.split(" in goroutine ").next().unwrap_or(creator), true),
            // Function lines always end with their arguments: `main.main()`, `main.f(...)`.
            None if line.trim_end().ends_with(')') => (line.trim_end(), false),
            None => break,
        };
        let mut frame = frame_for_function(function_text, created_by);
        index += 1;
        if let Some(location) = lines.get(index).and_then(|l| parse_file_line(l)) {
            let (file, line_number) = location;
            frame.filename = Some(file.to_owned());
            if file.starts_with('/') || file.get(1..3) == Some(":/") || file.get(1..3) == Some(":\\") {
                frame.abs_path = Some(file.to_owned());
            }
            frame.line = Some(line_number);
            index += 1;
        }
        frames.push(frame);
        used = index;
        if created_by {
            break;
        }
    }
    (frames, omitted, used)
}

/// `\tpath/file.go:12 +0x1d` (also ` fp=... sp=... pc=...` with GOTRACEBACK=system).
fn parse_file_line(line: &str) -> Option<(&str, u32)> {
    if !(line.starts_with('\t') || line.starts_with("  ")) {
        return None;
    }
    let location = line.trim().split(" +0x").next()?.split(" fp=").next()?.trim();
    let (file, line_number) = location.rsplit_once(':')?;
    Some((file, line_number.parse().ok()?))
}

/// Splits `crashloom.test/app/orders.(*Cart).Total(0xc000010000, ...)` into the package path and
/// the function; `panic({0x48bd00, 0x4b7c90})` is the runtime's `gopanic`.
fn frame_for_function(text: &str, created_by: bool) -> Frame {
    let name = if created_by { text.trim() } else { strip_arguments(text) };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (module, function) = match name.get(last_slash..).and_then(|tail| tail.find('.')) {
        Some(dot) => (name.get(..last_slash + dot), name.get(last_slash + dot + 1..)),
        None => (None, Some(name)),
    };
    Frame {
        function: function.filter(|f| !f.is_empty()).map(str::to_owned),
        module: module.filter(|m| !m.is_empty()).map(str::to_owned),
        ..Frame::default()
    }
}

/// `main.pick(...)` → `main.pick`; arguments may contain parentheses of their own.
fn strip_arguments(text: &str) -> &str {
    let text = text.trim_end();
    if !text.ends_with(')') {
        return text;
    }
    let mut depth = 0usize;
    for (i, c) in text.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return text.get(..i).unwrap_or(text);
                }
            }
            _ => {}
        }
    }
    text
}

/// Reads the stacks of the other goroutines in a dump; returns them (frames oldest first) and
/// how many lines they took.
fn read_other_goroutines(lines: &[&str]) -> (Vec<ThreadStack>, usize) {
    let mut threads = Vec::new();
    let mut used = 0;
    let mut index = 0;
    loop {
        // Blank lines separate goroutines.
        let mut next = index;
        while lines.get(next).is_some_and(|l| l.trim().is_empty()) {
            next += 1;
        }
        let Some((id, status)) = lines.get(next).and_then(|header| parse_goroutine_header(header)) else {
            return (threads, used);
        };
        let (mut frames, _, stack_lines) = read_stack(lines.get(next + 1..).unwrap_or(&[]));
        frames.reverse();
        threads.push(ThreadStack { name: format!("goroutine {id}"), state: Some(status.to_owned()), frames });
        index = next + 1 + stack_lines;
        used = index;
    }
}

/// `SIGQUIT: quit`, `SIGSEGV: segmentation violation`: the signal the runtime reports, followed by
/// `PC=... m=0 sigcode=0` and every goroutine.
fn signal_header(line: &str) -> Option<(&str, &str)> {
    let (signal, description) = line.split_once(": ")?;
    let valid = signal.len() > 3
        && signal.starts_with("SIG")
        && signal.bytes().all(|b| b.is_ascii_uppercase())
        && !description.trim().is_empty();
    valid.then_some((signal, description.trim()))
}

/// A dump without a panic: `SIGQUIT: quit` (`kill -QUIT`, Ctrl-\\) or bare goroutine stacks
/// (`runtime.Stack(buf, true)`, `/debug/pprof/goroutine?debug=2`). Every goroutine is read; the
/// crash site is the running goroutine, else the first that is not the runtime's goroutine 0.
fn parse_dump(lines: &[&str], signal: Option<(&str, &str)>, start: usize) -> Option<(CrashEvent, usize)> {
    let mut index = start;
    // `PC=0x45f1e0 m=0 sigcode=0` and other register-state lines before the first goroutine.
    while let Some(line) = lines.get(index) {
        if parse_goroutine_header(line).is_some() {
            break;
        }
        let runtime_line = line.trim().is_empty() || line.starts_with("PC=") || line.starts_with("signal arrived");
        if !runtime_line || index > start + 8 {
            return None;
        }
        index += 1;
    }
    let (mut threads, used) = read_other_goroutines(lines.get(index..).unwrap_or(&[]));
    if threads.iter().all(|t| t.frames.is_empty()) {
        return None;
    }
    let mut used = index + used;
    // The register dump after a signal's goroutines: `rax    0x4`, `rflags 0x246`.
    if signal.is_some() {
        while lines.get(used).is_some_and(|l| is_register_line(l)) {
            used += 1;
        }
    }
    let crashing = threads
        .iter()
        .position(|t| t.state.as_deref().is_some_and(|s| s.starts_with("running")) && !t.frames.is_empty())
        .or_else(|| threads.iter().position(|t| t.name != "goroutine 0" && !t.frames.is_empty()))
        .unwrap_or(0);
    let crash = threads.remove(crashing);
    let (ty, value) = match signal {
        Some((signal, description)) => (signal.to_owned(), description.to_owned()),
        None => ("goroutine dump".to_owned(), format!("{} goroutines", threads.len() + 1)),
    };
    let exception = Exception { ty, value, frames: crash.frames, ..Exception::default() };
    let mut event = CrashEvent {
        language: Some(Language::Go),
        exceptions: vec![exception],
        thread: Some(crash.name),
        threads,
        ..CrashEvent::default()
    };
    if let Some(state) = crash.state {
        event.tags.push(("goroutine.state".to_owned(), state));
    }
    Some((event, used))
}

/// `rax    0xfffffffffffffffc`, `rflags 0x246`, `cs     0x33`.
fn is_register_line(line: &str) -> bool {
    let mut parts = line.split_whitespace();
    let (Some(name), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    name.len() <= 6 && name.bytes().all(|b| b.is_ascii_alphanumeric()) && value.starts_with("0x")
}

/// One exception per panic message, earliest first. The crashing goroutine's frames belong to the
/// last panic; an earlier panic's frames are those older than the runtime's `panic(...)` frame that
/// started handling it.
fn exceptions_for(
    fatal: bool,
    messages: &[String],
    newest_first: Vec<Frame>,
    frames_omitted: Option<u32>,
) -> Vec<Exception> {
    let is_runtime_panic = |f: &Frame| f.module.is_none() && f.function.as_deref() == Some("panic");
    let panic_frames: Vec<usize> =
        newest_first.iter().enumerate().filter(|(_, f)| is_runtime_panic(f)).map(|(i, _)| i).collect();
    let count = messages.len();
    let mut exceptions = Vec::with_capacity(count);
    for (position, message) in messages.iter().enumerate() {
        let (ty, value) = type_and_value(fatal, message.trim_end_matches(" [recovered]"));
        let is_last = position + 1 == count;
        // The n-th newest `panic(...)` frame started the panic `n` places before the last one.
        let frames_from = if is_last {
            Some(0)
        } else {
            let distance = count - 1 - position;
            panic_frames.get(panic_frames.len().saturating_sub(distance)).map(|i| i + 1)
        };
        let mut frames: Vec<Frame> = match frames_from {
            Some(from) => {
                newest_first.get(from..).unwrap_or(&[]).iter().filter(|f| !is_runtime_panic(f)).cloned().collect()
            }
            None => Vec::new(),
        };
        frames.reverse();
        exceptions.push(Exception {
            ty,
            value,
            frames,
            frames_omitted: if is_last { frames_omitted } else { None },
            link: (!is_last).then_some(ExceptionLink { parent: position + 1, kind: LinkKind::Context }),
            ..Exception::default()
        });
    }
    exceptions
}

fn type_and_value(fatal: bool, message: &str) -> (String, String) {
    if fatal {
        return ("fatal error".to_owned(), message.to_owned());
    }
    match message.strip_prefix("runtime error: ") {
        Some(rest) => ("runtime.Error".to_owned(), rest.to_owned()),
        None => ("panic".to_owned(), message.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (CrashEvent, usize) {
        let lines: Vec<&str> = text.lines().collect();
        parse(&lines).expect("a Go crash")
    }

    #[test]
    fn function_names_split_into_package_and_function() {
        let frame = frame_for_function("github.com/acme/shop/orders.(*Cart).Total(0xc000010000, {0x1, 0x2})", false);
        assert_eq!(frame.module.as_deref(), Some("github.com/acme/shop/orders"));
        assert_eq!(frame.function.as_deref(), Some("(*Cart).Total"));
        let frame = frame_for_function("main.main.func1()", false);
        assert_eq!((frame.module.as_deref(), frame.function.as_deref()), (Some("main"), Some("main.func1")));
    }

    #[test]
    fn panic_without_goroutine_is_not_a_crash() {
        assert!(parse(&["panic: not really", "INFO next line"]).is_none());
        assert!(parse(&["hello"]).is_none());
        assert!(parse(&[]).is_none());
    }

    #[test]
    fn fatal_error_with_elided_frames() {
        let (event, used) = parse_text(
            "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\nmain.main()\n\t/app/main.go:5 +0x1d\n...additional frames elided...\nexit status 2",
        );
        assert_eq!(used, 6);
        let exception = &event.exceptions[0];
        assert_eq!(exception.title(), "fatal error: all goroutines are asleep - deadlock!");
        assert_eq!(exception.frames[0].abs_path.as_deref(), Some("/app/main.go"));
    }

    #[test]
    fn truncated_and_garbled_stacks() {
        let (event, used) = parse_text("panic: boom\n\ngoroutine 1 [running]:\nmain.f(...)\n");
        assert_eq!(used, 4);
        assert_eq!(event.exceptions[0].frames.len(), 1);
        for text in [
            "panic: x\ngoroutine 1 [running]:\n\t\t\n((((",
            "panic: é\ngoroutine é [x]:",
            "panic: \ngoroutine 1 []:\n)\n\tf.go:x",
        ] {
            let lines: Vec<&str> = text.lines().collect();
            let _ = parse(&lines);
        }
    }

    #[test]
    fn a_very_deep_stack_parses() {
        let mut text = String::from("panic: deep\n\ngoroutine 1 [running]:\n");
        for i in 0..100_000 {
            text.push_str(&format!("main.f(...)\n\t/app/main.go:{i}\n"));
        }
        let (event, used) = parse_text(&text);
        assert_eq!(used, 200_003);
        assert_eq!(event.exceptions[0].frames.len(), 100_000);
    }
}
