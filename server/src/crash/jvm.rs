//! Parser for JVM stack traces as `Throwable.printStackTrace` prints them (Java, Kotlin, Scala,
//! and the loggers that reuse its format: java.util.logging, logback, log4j).
//!
//! ```text
//! Exception in thread "main" java.lang.IllegalStateException: outer
//!     at com.acme.App.start(App.java:32)
//!     Suppressed: java.io.IOException: close failed
//!         at com.acme.Conn.close(Conn.java:10)
//!         ... 1 more
//! Caused by: java.lang.NumberFormatException: For input string: "80a"
//!     at java.base/java.lang.Integer.parseInt(Integer.java:668)
//!     ... 3 more
//! ```
//!
//! Nesting follows the printed indentation: a `Suppressed:` block is indented one step deeper than
//! the exception it belongs to, a `Caused by:` block sits at the indentation of the exception it
//! caused. `... N more` frames are copied from the enclosing trace so every exception has its full
//! stack.

use std::sync::LazyLock;

use regex::Regex;

use super::chain::ExceptionTree;
use super::{CrashEvent, Exception, Frame, Language, LinkKind};

/// How many message continuation lines a header may have before its first frame.
const MAX_MESSAGE_LINES: usize = 40;

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(?:Exception in thread "(?P<thread>[^"]*)" )?(?P<ty>[\p{L}_$][\p{L}\p{N}_$]*(?:\.[\p{L}_$][\p{L}\p{N}_$]*)*)(?:: ?(?P<msg>.*))?$"#)
        .expect("valid header regex")
});

static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*at (?:(?P<prefix>[^\s(]*)/)?(?P<qualified>[^\s(/]+)\((?P<src>Native Method|Unknown Source|[^\s():]+(?::\d+)?)\)(?:\s+~?\[[^\]]*\])?\s*$",
    )
    .expect("valid frame regex")
});

static NESTED_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<indent>\s*)(?P<kind>Caused by|Suppressed): (?P<rest>.*)$").expect("valid nested header regex")
});

static MORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\.\.\. (?P<n>\d+) (?:more|common frames omitted)\s*$").expect("valid omitted-frames regex")
});

static CIRCULAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:(?:Caused by|Suppressed): )?\[CIRCULAR REFERENCE: .*\]\s*$").expect("valid circular regex")
});

/// Parses a JVM trace that starts at `lines[0]` (log prefixes already stripped). Returns the event
/// and how many lines of `lines` it used, or `None` when no JVM trace starts there.
pub fn parse(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let first = *lines.first()?;
    let starts_plausibly = first.starts_with("Exception in thread \"")
        || first.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$');
    if !starts_plausibly {
        return None;
    }
    let header = HEADER.captures(first)?;
    let thread = header.name("thread").map(|m| m.as_str().to_owned());
    let ty = header.name("ty").map_or("", |m| m.as_str());
    let message = header.name("msg").map_or("", |m| m.as_str());
    if thread.is_none() && !looks_like_throwable_name(ty) {
        return None;
    }

    let mut pos = 1;
    let mut value = message.to_owned();
    match message_continuation_end(lines, pos) {
        Some(end) => {
            for line in lines.get(pos..end).unwrap_or_default() {
                value.push('\n');
                value.push_str(line);
            }
            pos = end;
        }
        // A bare `pkg.Type: message` line is only a trace when frames follow.
        None if thread.is_none() => return None,
        None => {}
    }

    let mut tree = ExceptionTree::default();
    let root = tree.push(new_exception(ty, value), None);
    // Exceptions whose block is still open, with the indentation of their header line.
    let mut open: Vec<(usize, usize)> = vec![(0, root)];
    let mut current = root;

    while let Some(&line) = lines.get(pos) {
        if let Some(frame) = parse_frame(line) {
            tree.nodes[current].frames.push(frame);
            pos += 1;
        } else if let Some(more) = MORE.captures(line) {
            let omitted = more["n"].parse::<u32>().unwrap_or(0);
            tree.nodes[current].frames_omitted = Some(omitted);
            tree.copy_shared_frames(current, omitted as usize);
            pos += 1;
        } else if CIRCULAR.is_match(line) {
            pos += 1;
        } else if let Some(nested) = NESTED_HEADER.captures(line) {
            let indent = nested["indent"].chars().count();
            let kind = if &nested["kind"] == "Caused by" { LinkKind::Cause } else { LinkKind::Suppressed };
            // A cause hangs off the latest exception at its own indentation, a suppressed
            // exception off the latest one indented less than itself.
            while open.len() > 1
                && open.last().is_some_and(|&(open_indent, _)| match kind {
                    LinkKind::Suppressed => open_indent >= indent,
                    _ => open_indent > indent,
                })
            {
                open.pop();
            }
            let Some(&(_, owner)) = open.last() else {
                break;
            };
            let Some((ty, message)) = split_type_and_message(&nested["rest"]) else {
                break;
            };
            let mut value = message.to_owned();
            pos += 1;
            if let Some(end) = message_continuation_end(lines, pos) {
                for line in lines.get(pos..end).unwrap_or_default() {
                    value.push('\n');
                    value.push_str(line);
                }
                pos = end;
            }
            current = tree.push(new_exception(ty, value), Some((owner, kind)));
            open.push((indent, current));
        } else {
            break;
        }
    }

    let event = CrashEvent {
        language: Some(Language::Java),
        exceptions: tree.into_root_cause_first(root),
        thread,
        ..CrashEvent::default()
    };
    Some((event, pos))
}

/// Where the message lines that follow a header end: the index of the first trace line, when one
/// follows within [`MAX_MESSAGE_LINES`]. `None` when no trace line follows.
fn message_continuation_end(lines: &[&str], start: usize) -> Option<usize> {
    (start..lines.len().min(start + MAX_MESSAGE_LINES + 1))
        .find(|&i| lines.get(i).is_some_and(|line| is_trace_line(line)))
}

fn is_trace_line(line: &str) -> bool {
    // Each regex only where its line can start as it requires: message lines (and the lines of
    // other traces a message search runs over) are not run through four regexes each.
    let text = line.trim_start();
    let nested = text.starts_with("Caused by: ") || text.starts_with("Suppressed: ");
    parse_frame(line).is_some()
        || (text.starts_with("... ") && MORE.is_match(line))
        || (nested && NESTED_HEADER.is_match(line))
        || ((nested || text.starts_with('[')) && CIRCULAR.is_match(line))
}

/// `…:12:34)` or `…:12:34`: a V8 location, never a JVM one (which has no column).
fn ends_with_line_and_column(line: &str) -> bool {
    let text = line.strip_suffix(')').unwrap_or(line);
    let mut parts = text.rsplitn(3, ':');
    let numeric = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_some()
}

/// Exception class names end in `Exception`/`Error`/`Throwable` or at least carry a package.
fn looks_like_throwable_name(ty: &str) -> bool {
    let simple = ty.rsplit(['.', '$']).next().unwrap_or(ty);
    ty.contains('.') || ["Exception", "Error", "Throwable", "Failure"].iter().any(|suffix| simple.ends_with(suffix))
}

fn split_type_and_message(text: &str) -> Option<(&str, &str)> {
    let (ty, message) = match text.split_once(':') {
        Some((ty, message)) => (ty, message.strip_prefix(' ').unwrap_or(message)),
        None => (text.trim_end(), ""),
    };
    let valid = !ty.is_empty() && ty.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'));
    valid.then_some((ty, message))
}

fn new_exception(ty: &str, value: String) -> Exception {
    let module = ty.rsplit_once('.').map(|(package, _)| package.to_owned());
    Exception { ty: ty.to_owned(), value, module, ..Exception::default() }
}

/// One `at ...` line: `java.base/java.lang.Integer.parseInt(Integer.java:668)`,
/// `app//com.acme.Foo.bar(Foo.java:12)`, `Foo.run(Native Method)`, logback's ` ~[app.jar:1.0]`.
fn parse_frame(line: &str) -> Option<Frame> {
    let trimmed = line.trim();
    // A JVM frame ends with its source in parentheses (then maybe logback's `~[app.jar:1.0]`);
    // the cheap test spares the regex V8's `at f (file:1:2)` and .NET's `in file:line 3`.
    if !trimmed.starts_with("at ")
        || !(trimmed.ends_with(')') || trimmed.ends_with(']'))
        || ends_with_line_and_column(trimmed)
    {
        return None;
    }
    let caps = FRAME.captures(line)?;
    let qualified = &caps["qualified"];
    let (class, method) = match qualified.rsplit_once('.') {
        Some((class, method)) => (Some(class), method),
        None => (None, qualified),
    };
    let src = &caps["src"];
    let (filename, line_number) = match src {
        "Native Method" | "Unknown Source" => (None, None),
        _ => match src.rsplit_once(':') {
            Some((file, number)) => (Some(file), number.parse::<u32>().ok().filter(|&n| n > 0)),
            None => (Some(src), None),
        },
    };
    // The module part of the prefix (`java.base`, `java.sql@17`) names a JDK module for JDK code.
    let module_name = caps
        .name("prefix")
        .map(|m| m.as_str().rsplit('/').find(|part| !part.is_empty()).unwrap_or(""))
        .map(|module| module.split('@').next().unwrap_or(module));
    let in_jdk_module = module_name.is_some_and(|m| m.starts_with("java.") || m.starts_with("jdk."));
    Some(Frame {
        function: Some(method.to_owned()),
        module: class.map(str::to_owned),
        filename: filename.map(str::to_owned),
        line: line_number,
        in_app: in_jdk_module.then_some(false),
        ..Frame::default()
    })
}

impl ExceptionTree {
    /// `... N more`: the last N frames of the enclosing trace are this exception's oldest frames.
    fn copy_shared_frames(&mut self, node: usize, count: usize) {
        let Some(Some((parent, _))) = self.parents.get(node).copied() else {
            return;
        };
        let Some(enclosing) = self.nodes.get(parent) else {
            return;
        };
        let shared = enclosing.frames.get(enclosing.frames.len().saturating_sub(count)..).unwrap_or_default().to_vec();
        if let Some(exception) = self.nodes.get_mut(node) {
            exception.frames.extend(shared);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::ExceptionLink;

    fn parse_text(text: &str) -> Option<(CrashEvent, usize)> {
        let lines: Vec<&str> = text.lines().collect();
        parse(&lines)
    }

    #[test]
    fn frame_with_module_loader_and_version_prefixes() {
        for (line, class, file, number) in [
            (
                "\tat com.foo.loader/foo@9.0/com.foo.Main.run(Main.java:101)",
                "com.foo.Main",
                Some("Main.java"),
                Some(101),
            ),
            ("\tat com.foo.loader//com.foo.bar.App.run(App.java:12)", "com.foo.bar.App", Some("App.java"), Some(12)),
            ("\tat acme@2.1/org.acme.Lib.test(Lib.java:80)", "org.acme.Lib", Some("Lib.java"), Some(80)),
            ("\tat app//com.acme.Foo.bar(Foo.java:7)", "com.acme.Foo", Some("Foo.java"), Some(7)),
            ("\tat MyClass.mash(MyClass.java:9)", "MyClass", Some("MyClass.java"), Some(9)),
            ("\tat com.foo.Main.run(Main.java)", "com.foo.Main", Some("Main.java"), None),
            ("\tat com.foo.Main.run(Unknown Source)", "com.foo.Main", None, None),
            ("\tat java.base/jdk.internal.misc.Unsafe.park(Native Method)", "jdk.internal.misc.Unsafe", None, None),
            ("\tat com.acme.Api.get(Api.kt:3) ~[api-1.2.jar:1.2]", "com.acme.Api", Some("Api.kt"), Some(3)),
            ("    at com.acme.Api.get(Api.kt:3) [api-1.2.jar:1.2]", "com.acme.Api", Some("Api.kt"), Some(3)),
        ] {
            let frame = parse_frame(line).unwrap_or_else(|| panic!("frame not parsed: {line}"));
            assert_eq!(frame.module.as_deref(), Some(class), "{line}");
            assert_eq!(frame.filename.as_deref(), file, "{line}");
            assert_eq!(frame.line, number, "{line}");
        }
    }

    #[test]
    fn dotnet_frames_are_not_jvm_frames() {
        assert!(parse_frame("   at Acme.Program.Main(String[] args) in /src/Program.cs:line 12").is_none());
        assert!(parse_frame("   at Acme.Program.Main()").is_none());
    }

    #[test]
    fn logback_common_frames_omitted_copies_the_wrapper_frames() {
        let (event, used) = parse_text(
            "java.lang.RuntimeException: wrapper\n\
             \tat com.acme.A.outer(A.java:10)\n\
             \tat com.acme.A.main(A.java:5)\n\
             Caused by: java.io.IOException: inner\n\
             \tat com.acme.A.inner(A.java:20)\n\
             \t... 1 common frames omitted\n\
             12:00:01 INFO next log line",
        )
        .expect("trace");
        assert_eq!(used, 6);
        let cause = &event.exceptions[0];
        assert_eq!(cause.frames_omitted, Some(1));
        let functions: Vec<_> = cause.frames.iter().filter_map(|f| f.function.as_deref()).collect();
        assert_eq!(functions, ["main", "inner"]);
    }

    #[test]
    fn suppressed_exception_with_its_own_cause() {
        let (event, used) = parse_text(
            "Exception in thread \"main\" java.lang.IllegalStateException: outer\n\
             \tat A.run(A.java:3)\n\
             \tSuppressed: java.io.IOException: close\n\
             \t\tat A.close(A.java:9)\n\
             \t\t... 1 more\n\
             \tCaused by: java.lang.ArithmeticException: / by zero\n\
             \t\tat A.div(A.java:12)\n\
             \t\t... 2 more\n\
             Caused by: java.lang.NullPointerException\n\
             \tat A.load(A.java:20)\n\
             \t... 1 more",
        )
        .expect("trace");
        assert_eq!(used, 11);
        let types: Vec<_> = event.exceptions.iter().map(|e| e.ty.as_str()).collect();
        assert_eq!(
            types,
            [
                "java.lang.NullPointerException",
                "java.lang.ArithmeticException",
                "java.io.IOException",
                "java.lang.IllegalStateException"
            ]
        );
        assert_eq!(event.exceptions[0].link, Some(ExceptionLink { parent: 3, kind: LinkKind::Cause }));
        assert_eq!(event.exceptions[1].link, Some(ExceptionLink { parent: 2, kind: LinkKind::Cause }));
        assert_eq!(event.exceptions[2].link, Some(ExceptionLink { parent: 3, kind: LinkKind::Suppressed }));
        assert_eq!(event.exceptions[3].link, None);
        assert_eq!(event.exceptions[0].value, "");
    }

    #[test]
    fn unrelated_lines_are_not_traces() {
        for text in [
            "",
            "INFO: server started on port 8080",
            "Starting application...\n\tat the moment nothing",
            "java.lang.IllegalStateException: looks like a header but no frames follow\nnext line",
            "   at Acme.Program.Main(String[] args) in /src/Program.cs:line 12",
            "TypeError: x is not a function\n    at foo (/app/a.js:1:2)",
            "\tat com.acme.A.run(A.java:3)",
        ] {
            assert!(parse_text(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn truncated_and_garbled_input_yields_what_could_be_read() {
        let (event, used) = parse_text("Exception in thread \"main\" java.lang.Error").expect("header only");
        assert_eq!((event.exceptions.len(), used), (1, 1));
        assert_eq!(event.thread.as_deref(), Some("main"));

        let (event, used) = parse_text(
            "Exception in thread \"main\" java.lang.Error: boom\n\tat A.b(A.java:1)\n\tat A.c(A.ja\n\t... 99 more\nCaused by: \u{fffd}\u{fffd}",
        )
        .expect("partial trace");
        assert_eq!(used, 2);
        assert_eq!(event.exceptions[0].frames.len(), 1);

        let (event, _) =
            parse_text("java.lang.Error: x\n\tat A.b(A.java:1)\nCaused by: java.lang.Error: y\n\t... 7 more")
                .expect("more than the enclosing trace has");
        assert_eq!(event.exceptions[0].frames.len(), 1);
    }
}
