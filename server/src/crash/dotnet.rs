//! Parser for .NET stack traces as `Exception.ToString()` and the runtimes' unhandled-exception
//! handlers print them, CoreCLR (.NET 5+, .NET Framework) and Mono.
//!
//! ```text
//! Unhandled exception. Acme.InvoiceException: could not process ---> System.FormatException: bad
//!    at System.Number.ThrowFormatException(ReadOnlySpan`1 value)
//!    at Acme.Program.Load(String path) in /src/Program.cs:line 24
//!    --- End of inner exception stack trace ---
//!    at Acme.Program.Main(String[] args) in /src/Program.cs:line 47
//! ```
//!
//! The header names the whole ` ---> ` chain, outermost first; the innermost exception's frames are
//! printed first and each `--- End of inner exception stack trace ---` moves one step out.
//! `AggregateException` appends every member as `---> (Inner Exception #N) ... <---`.

use std::sync::LazyLock;

use regex::Regex;

use super::chain::ExceptionTree;
use super::{CrashEvent, Exception, Frame, Language, LinkKind};

/// How many message continuation lines a header may have before its first frame.
const MAX_MESSAGE_LINES: usize = 40;

static TYPE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}_][\p{L}\p{N}_.`+<>\[\],]*$").expect("valid type name regex"));

/// CoreCLR / .NET Framework: `at Ns.Type.Method(String s) in /src/File.cs:line 42`, NativeAOT's
/// `at Ns.Type.Method() + 0x32`.
static CORECLR_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*at (?:\(wrapper [^)]*\) )?(?P<method>[^(]+?)\((?P<params>[^)]*)\)(?: \+ 0x[0-9a-fA-F]+)?(?: in (?P<file>.+):line (?P<line>\d+))?\s*$")
        .expect("valid CoreCLR frame regex")
});

/// Mono: `at Ns.Type.Method (System.String s) [0x0001b] in /src/File.cs:42` or
/// `... <0x12345 + 0x00023> in <filename unknown>:0`.
static MONO_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*at (?:\(wrapper [^)]*\) )?(?P<method>.+?) \((?P<params>[^)]*)\)(?: (?:\[0x[0-9a-fA-F]+\]|<0x[0-9a-fA-F]+(?: \+ 0x[0-9a-fA-F]+)?>))?(?: in (?P<file>.+):(?P<line>\d+))?\s*$",
    )
    .expect("valid Mono frame regex")
});

static ASYNC_STATE_MACHINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<owner>.+)\.<(?P<name>[^>]+)>d__\d+$").expect("valid state machine regex"));

static AGGREGATE_MEMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*---> \(Inner Exception #\d+\) (?P<rest>.*)$").expect("valid aggregate member regex")
});

const END_OF_INNER: &str = "--- End of inner exception stack trace ---";

/// Parses a .NET trace that starts at `lines[0]` (log prefixes already stripped): `Unhandled
/// exception. X: msg`, Mono's `Unhandled Exception:` line, `[ERROR] FATAL UNHANDLED EXCEPTION:`,
/// or a bare `Ns.XException: msg` followed by frames. Returns the event and how many lines it used.
pub fn parse(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let first = *lines.first()?;
    if first.is_empty() || first.starts_with(char::is_whitespace) {
        return None;
    }
    let (header, header_index, announced) = if first.trim_end() == "Unhandled Exception:" {
        (*lines.get(1)?, 1, true)
    } else if let Some(rest) = first.strip_prefix("Unhandled exception. ") {
        (rest, 0, true)
    } else if let Some(rest) = first.strip_prefix("[ERROR] FATAL UNHANDLED EXCEPTION: ") {
        (rest, 0, true)
    } else {
        (first, 0, false)
    };

    let mut tree = ExceptionTree::default();
    let (root, end) = parse_exception(lines, header, header_index, &mut tree, None, announced)?;
    let event = CrashEvent {
        language: Some(Language::DotNet),
        exceptions: tree.into_root_cause_first(root),
        ..CrashEvent::default()
    };
    Some((event, end))
}

/// One `ToString()` block: the header (`header`, read from `lines[header_index]`), its message
/// lines, frames, inner-exception separators and aggregate members. Returns the outermost
/// exception's node and the index of the first line after the block.
fn parse_exception(
    lines: &[&str],
    header: &str,
    header_index: usize,
    tree: &mut ExceptionTree,
    parent: Option<(usize, LinkKind)>,
    announced: bool,
) -> Option<(usize, usize)> {
    let header = header.trim_end();
    let header = header.strip_suffix("<---").map_or(header, str::trim_end);
    let (outer_ty, _) = split_type_and_message(header.split(" ---> ").next().unwrap_or(header))?;
    let first_frame = (header_index + 1..lines.len().min(header_index + 2 + MAX_MESSAGE_LINES))
        .find(|&i| lines.get(i).is_some_and(|l| parse_frame(l).is_some() || l.trim() == END_OF_INNER));
    if first_frame.is_none() && !announced {
        return None;
    }
    if !announced && !outer_ty.contains('.') && !outer_ty.ends_with("Exception") {
        return None;
    }
    // Message lines belong to the header text: the ` ---> ` chain may continue on them.
    let mut text = header.to_owned();
    let mut pos = header_index + 1;
    if let Some(first_frame) = first_frame {
        for continuation in lines.get(pos..first_frame).unwrap_or_default() {
            text.push('\n');
            text.push_str(continuation);
        }
        pos = first_frame;
    }

    // The chain, outermost first; each exception hangs off the one before it.
    let mut chain = Vec::new();
    for segment in text.split(" ---> ") {
        let Some((ty, message)) = split_type_and_message(segment) else {
            break;
        };
        let link = chain.last().map(|&outer| (outer, LinkKind::Inner)).or(parent);
        chain.push(tree.push(Exception { ty: ty.to_owned(), value: message.to_owned(), ..Exception::default() }, link));
    }
    let outermost = *chain.first()?;
    // Frames are printed innermost exception first.
    let mut current = chain.len() - 1;

    while let Some(&line) = lines.get(pos) {
        let trimmed = line.trim();
        if trimmed == END_OF_INNER {
            current = current.saturating_sub(1);
            pos += 1;
        } else if trimmed.starts_with("--- End of stack trace from previous location")
            || trimmed.starts_with("--- End of stack trace from")
        {
            pos += 1;
        } else if let Some(frame) = parse_frame(line) {
            if let Some(&node) = chain.get(current) {
                tree.nodes[node].frames.push(frame);
            }
            pos += 1;
            if trimmed.ends_with("<---") {
                break;
            }
        } else if let Some(member) = AGGREGATE_MEMBER.captures(line) {
            let owner = chain.get(current).copied().unwrap_or(outermost);
            let rest = member.name("rest").map_or("", |m| m.as_str());
            let Some((node, end)) = parse_exception(lines, rest, pos, tree, Some((owner, LinkKind::GroupMember)), true)
            else {
                break;
            };
            tree.merge_member_into_inner(owner, node);
            pos = end;
            // Members are separated by a blank line.
            while lines.get(pos).is_some_and(|l| l.trim().is_empty())
                && lines.get(pos + 1).is_some_and(|l| AGGREGATE_MEMBER.is_match(l))
            {
                pos += 1;
            }
        } else {
            break;
        }
    }
    Some((outermost, pos))
}

/// `…:12:34)` or `…:12:34` at the end of a line.
fn v8_location_end(line: &str) -> bool {
    let text = line.strip_suffix(')').unwrap_or(line);
    let mut parts = text.rsplitn(3, ':');
    let numeric = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_some()
}

fn split_type_and_message(segment: &str) -> Option<(&str, &str)> {
    let (ty, message) = match segment.split_once(": ") {
        Some((ty, message)) => (ty, message),
        None => (segment.trim_end_matches(':'), ""),
    };
    // `System.ComponentModel.Win32Exception (0x80004005)`: exceptions with an HRESULT other than
    // the default print it after the type (`Exception.ToString`).
    let ty = strip_hresult(ty.trim());
    TYPE_NAME.is_match(ty).then_some((ty, message.trim_end()))
}

/// `Type (0x80131904)` → `Type`.
fn strip_hresult(ty: &str) -> &str {
    match ty.rsplit_once(" (0x") {
        Some((name, code))
            if code.len() == 9 && code.ends_with(')') && code[..8].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            name
        }
        _ => ty,
    }
}

fn parse_frame(line: &str) -> Option<Frame> {
    let trimmed = line.trim_start();
    if !trimmed.starts_with("at ") {
        return None;
    }
    // .NET frames hold `(` for their parameters; V8's `at f (/app/a.js:1:2)` ends with a line and
    // a column, which no .NET location has: spare those the two regexes.
    let trimmed = trimmed.trim_end();
    if !trimmed.contains('(') || v8_location_end(trimmed) {
        return None;
    }
    let line = line.trim_end();
    let line = line.strip_suffix("<---").unwrap_or(line);
    // Mono separates method and parameters with a space, CoreCLR does not.
    let caps = MONO_FRAME.captures(line).or_else(|| CORECLR_FRAME.captures(line))?;
    let method = caps["method"].trim();
    let (owner, function) = match method.rsplit_once('.') {
        Some((owner, function)) => (Some(owner), function),
        None => (None, method),
    };
    // `Acme.Program.<ProcessAsync>d__2.MoveNext` is the body of `Acme.Program.ProcessAsync`.
    let (owner, function) = match owner.and_then(|o| ASYNC_STATE_MACHINE.captures(o)) {
        Some(state_machine) if function == "MoveNext" => {
            let name = state_machine.name("name").map_or(function, |m| m.as_str());
            (state_machine.name("owner").map(|m| m.as_str()), name)
        }
        _ => (owner, function),
    };
    // Mono prints `<filename unknown>:0` or the assembly's `<mvid>:0` when it has no symbols.
    let file = caps.name("file").map(|m| m.as_str()).filter(|f| !(f.starts_with('<') && f.ends_with('>')));
    let absolute = file.is_some_and(|f| f.starts_with('/') || f.get(1..3).is_some_and(|s| s == ":\\" || s == ":/"));
    let framework = owner.is_some_and(|o| ["System.", "Microsoft.", "Mono."].iter().any(|p| o.starts_with(p)));
    Some(Frame {
        function: Some(function.to_owned()),
        module: owner.map(str::to_owned),
        filename: file.map(str::to_owned),
        abs_path: file.filter(|_| absolute).map(str::to_owned),
        line: file.and(caps.name("line")).and_then(|m| m.as_str().parse::<u32>().ok()).filter(|&n| n > 0),
        in_app: framework.then_some(false),
        ..Frame::default()
    })
}

impl ExceptionTree {
    /// An `AggregateException` prints its first member twice: as the ` ---> ` inner exception and
    /// as `(Inner Exception #0)`. Keep one copy, linked as a group member.
    fn merge_member_into_inner(&mut self, owner: usize, member: usize) {
        let duplicate = (0..self.nodes.len()).find(|&other| {
            other != member
                && self.parents.get(other).copied().flatten() == Some((owner, LinkKind::Inner))
                && self.nodes.get(other).map(|e| (&e.ty, &e.value, &e.frames))
                    == self.nodes.get(member).map(|e| (&e.ty, &e.value, &e.frames))
        });
        if let Some(inner) = duplicate {
            if let Some(parent) = self.parents.get_mut(inner) {
                *parent = Some((owner, LinkKind::GroupMember));
            }
            // Detach the second copy (and anything hanging off it) from the tree.
            if let Some(parent) = self.parents.get_mut(member) {
                *parent = None;
            }
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

    // CoreCLR cannot be installed on this machine, so this trace is not captured output: it is
    // written to the line formats of dotnet/runtime's resource strings (`Word_At`,
    // `StackTrace_InFileLineNumber`, `Exception_EndOfInnerExceptionStack`,
    // `Exception_EndStackTraceFromPreviousThrow`) and the unhandled-exception banner of .NET 5+.
    #[test]
    fn coreclr_unhandled_exception_with_inner_and_async_separator() {
        let text = "Unhandled exception. System.InvalidOperationException: Order 42 could not be saved ---> System.ArgumentNullException: Value cannot be null. (Parameter 'customer')\n   \
            at Acme.Orders.Validator.Check(Customer customer) in /src/Acme.Orders/Validator.cs:line 18\n   \
            at Acme.Orders.OrderService.<SaveAsync>d__4.MoveNext() in /src/Acme.Orders/OrderService.cs:line 31\n   \
            --- End of inner exception stack trace ---\n   \
            at Acme.Orders.OrderService.SaveAsync(Order order) in /src/Acme.Orders/OrderService.cs:line 36\n\
            --- End of stack trace from previous location ---\n   \
            at System.Runtime.CompilerServices.TaskAwaiter.ThrowForNonSuccess(Task task)\n   \
            at Acme.Orders.Program.Main(String[] args) in /src/Acme.Orders/Program.cs:line 12\n   \
            at Acme.Orders.Program.<Main>(String[] args)\n";
        let (event, used) = parse_text(text).expect("trace");
        assert_eq!(used, 9);
        let [inner, outer] = event.exceptions.as_slice() else { panic!("two exceptions: {event:?}") };
        assert_eq!(inner.ty, "System.ArgumentNullException");
        assert_eq!(inner.value, "Value cannot be null. (Parameter 'customer')");
        assert_eq!(inner.link, Some(ExceptionLink { parent: 1, kind: LinkKind::Inner }));
        let raising = inner.frames.last().expect("frame");
        assert_eq!(raising.function.as_deref(), Some("Check"));
        assert_eq!(raising.module.as_deref(), Some("Acme.Orders.Validator"));
        assert_eq!(raising.abs_path.as_deref(), Some("/src/Acme.Orders/Validator.cs"));
        assert_eq!(raising.line, Some(18));
        let state_machine = &inner.frames[0];
        assert_eq!(
            (state_machine.module.as_deref(), state_machine.function.as_deref()),
            (Some("Acme.Orders.OrderService"), Some("SaveAsync"))
        );
        assert_eq!(outer.frames.len(), 4);
        assert_eq!(outer.frames[2].in_app, Some(false));
        assert_eq!(outer.frames[2].filename, None);
    }

    #[test]
    fn windows_paths_and_native_aot_offsets() {
        // Verbatim .NET Framework output from a public gist (ssa3512, ".NET stack preservation").
        let frame = parse_frame(
            r"   at ConsoleApp1.Program.Main(String[] args) in C:\Projects\ConsoleApp1\ConsoleApp1\Program.cs:line 17",
        )
        .expect("frame");
        assert_eq!(frame.abs_path.as_deref(), Some(r"C:\Projects\ConsoleApp1\ConsoleApp1\Program.cs"));
        assert_eq!(frame.line, Some(17));
        let frame = parse_frame("   at Acme.Program.Main() + 0x32").expect("frame");
        assert_eq!(frame.function.as_deref(), Some("Main"));
        let frame = parse_frame(
            "  at (wrapper managed-to-native) System.Object.__icall_wrapper_mono_gc_alloc_obj(intptr,intptr)",
        )
        .expect("frame");
        assert_eq!(frame.module.as_deref(), Some("System.Object"));
    }

    // Written to `Exception.ToString`'s format, which prints a non-default HResult after the type
    // (`Win32Exception (0x80004005): Access is denied`); .NET cannot run on this machine.
    #[test]
    fn headers_with_an_hresult() {
        let (event, used) = parse_text(
            "System.ComponentModel.Win32Exception (0x80004005): Access is denied\n   at System.Diagnostics.Process.Kill()\n   at Acme.Jobs.Stop() in /src/Jobs.cs:line 40",
        )
        .expect("trace");
        assert_eq!(used, 3);
        assert_eq!(event.title(), "System.ComponentModel.Win32Exception: Access is denied");
        assert_eq!(event.exceptions[0].frames.len(), 2);
        assert_eq!(
            strip_hresult("Microsoft.Data.SqlClient.SqlException (0x80131904)"),
            "Microsoft.Data.SqlClient.SqlException"
        );
        // Only an eight-digit HRESULT is one.
        assert_eq!(strip_hresult("Acme.Error (0x12)"), "Acme.Error (0x12)");
        assert!(parse_text("Acme.Error (0x12): x\n   at A.B()").is_none());
    }

    #[test]
    fn unrelated_lines_are_not_traces() {
        for text in [
            "",
            "Info: Application started. Press Ctrl+C to shut down.",
            "Unhandled exception. \u{fffd}",
            "System.Exception: no frames follow\nnext line",
            "\tat com.acme.A.run(A.java:3)",
            "   at Acme.Program.Main(String[] args)",
        ] {
            assert!(parse_text(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn truncated_and_garbled_input_yields_what_could_be_read() {
        let (event, used) = parse_text("Unhandled exception. System.Exception: boom").expect("header only");
        assert_eq!((event.exceptions.len(), used), (1, 1));
        let (event, used) = parse_text(
            "System.Exception: a ---> System.IO.IOException: b\n   at A.B.C() in /x.cs:line 1\n   at A.B.D(\u{fffd}",
        )
        .expect("partial");
        assert_eq!(used, 2);
        assert_eq!(event.exceptions[0].frames.len(), 1);
        let (event, _) = parse_text(
            "System.Exception: a\n   at A.B.C()\n   --- End of inner exception stack trace ---\n   --- End of inner exception stack trace ---\n   at A.B.D()",
        )
        .expect("too many separators");
        assert_eq!(event.exceptions[0].frames.len(), 2);
    }
}
