//! Parser for JavaScript stack traces: V8 (Node, Chrome, Deno, Bun) and the `func@file:line:col`
//! format of Firefox (SpiderMonkey) and Safari (JavaScriptCore).
//!
//! Node's uncaught-error output is read whole: the preamble with the source line and caret,
//!
//! ```text
//! /app/src/index.js:12
//!     return order.items.length;
//!                        ^
//!
//! TypeError: Cannot read properties of undefined (reading 'length')
//!     at total (/app/src/index.js:12:24)
//! ```
//!
//! and the `util.inspect` form that follows the frames when the error has properties: a
//! `[cause]: Error: ...` with its own frames, `[errors]: [ ... ]` of an `AggregateError`, and
//! `... N lines matching cause stack trace ...` (frames shared with the cause, copied back in).

use std::sync::LazyLock;

use regex::Regex;

use super::chain::ExceptionTree;
use super::{CrashEvent, Exception, Frame, Language, LinkKind, SourceContext};

/// How many message continuation lines an error may have before its first frame.
const MAX_MESSAGE_LINES: usize = 40;

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Uncaught )?(?P<name>[\p{L}_$][\p{L}\p{N}_$.]*)(?: \[(?P<code>[\w-]+)\])?(?:: (?P<msg>.*))?$")
        .expect("valid header regex")
});

/// `[Error: message]` / `[AggregateError: message] {`: `util.inspect` of an error without frames.
static BRACKETED_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:Uncaught )?\[(?P<name>[\p{L}_$][\p{L}\p{N}_$.]*)(?: \[[\w-]+\])?(?:: (?P<msg>.*))?\](?P<brace> \{)?$",
    )
    .expect("valid bracketed header regex")
});

/// `file:line:col`, `file:line` or `file`: the file and up to two trailing numbers (the hot path of
/// every frame, so no regex).
fn split_line_and_column(location: &str) -> (&str, Option<&str>, Option<&str>) {
    fn trailing_number(text: &str) -> Option<(&str, &str)> {
        let digits = text.len() - text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let before = text.get(..text.len() - digits)?.strip_suffix(':')?;
        (digits > 0).then(|| (before, text.get(text.len() - digits..).unwrap_or("")))
    }
    match trailing_number(location) {
        None => (location, None, None),
        Some((rest, last)) => match trailing_number(rest) {
            Some((file, line)) => (file, Some(line), Some(last)),
            None => (rest, Some(last), None),
        },
    }
}

/// The innermost `(file:line:col)` of a V8 eval location `eval at f (file:1:2), <anonymous>:3:4`.
static EVAL_ORIGIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\((?P<loc>[^()]*?:\d+:\d+)\)").expect("valid eval origin regex"));

/// The innermost parenthesized script of an eval location whose origin has no position.
static EVAL_ORIGIN_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\((?P<file>[^()\s]+)\)").expect("valid eval origin file regex"));

/// Firefox eval locations: `http://x/y.js line 12 > eval:1:1`.
static GECKO_EVAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<file>\S+) line (?P<line>\d+)(?: > \S+ line \d+)* > \S+").expect("valid gecko eval regex")
});

static PREAMBLE_LOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<file>\S.*):(?P<line>\d+)$").expect("valid preamble regex"));

static CARET: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*\^+\s*$").expect("valid caret regex"));

static MATCHING_CAUSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\.\.\. (?P<n>\d+) lines? matching cause stack trace \.\.\.\s*$")
        .expect("valid matching-cause regex")
});

/// Safari prints frames without a function as a bare location: `http://x/file.js:47:22`; React
/// Native's JavaScriptCore a bundle-relative one with its column: `102.js:1:2956`.
static BARE_LOCATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:[a-z][\w+.-]*://|/)\S*:\d+(?::\d+)?|[\w.-]+\.\w+:\d+:\d+)$").expect("valid bare location regex")
});

/// Parses a JavaScript trace that starts at `lines[0]` (log prefixes already stripped): Node's
/// `file:line` + source + caret preamble, an error line (`TypeError: ...`) followed by frames, or
/// Firefox/Safari frames. Returns the event and how many lines it used, or `None`.
pub fn parse(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let first = *lines.first()?;
    if let Some(parsed) = parse_headless_v8(lines) {
        return Some(parsed);
    }
    if first.is_empty() || first.starts_with(char::is_whitespace) {
        return None;
    }
    if let Some(parsed) = parse_with_preamble(lines) {
        return Some(parsed);
    }
    let mut tree = ExceptionTree::default();
    let (root, end) = match parse_error(lines, 0, &mut tree, None) {
        Some(parsed) => parsed,
        None => parse_headless_gecko(lines, &mut tree)?,
    };
    Some((event_from(tree, root), end))
}

fn event_from(tree: ExceptionTree, root: usize) -> CrashEvent {
    CrashEvent {
        language: Some(Language::JavaScript),
        exceptions: tree.into_root_cause_first(root),
        ..CrashEvent::default()
    }
}

/// Node's uncaught-error output: `path:line`, the source line, a caret line, a blank line, then
/// the error. The source line becomes the raising frame's context when the locations agree.
fn parse_with_preamble(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let location = PREAMBLE_LOCATION.captures(lines.first()?)?;
    let source = *lines.get(1)?;
    if !CARET.is_match(lines.get(2)?) {
        return None;
    }
    let mut pos = 3;
    while lines.get(pos).is_some_and(|line| line.trim().is_empty()) && pos < 6 {
        pos += 1;
    }
    let mut tree = ExceptionTree::default();
    let (root, end) = parse_error(lines, pos, &mut tree, None)?;

    let file = normalize_path(&location["file"]);
    let line = location["line"].parse::<u32>().ok();
    if let Some(raising) = tree.nodes.get_mut(root).and_then(|e| e.frames.first_mut())
        && line.is_some()
        && raising.line == line
        && raising.paths().any(|path| path == file)
    {
        raising.context = Some(SourceContext { line: source.to_owned(), ..SourceContext::default() });
    }
    Some((event_from(tree, root), end))
}

/// One error starting at `lines[start]` and everything attached to it; returns its node and the
/// index of the first line after it.
fn parse_error(
    lines: &[&str],
    start: usize,
    tree: &mut ExceptionTree,
    parent: Option<(usize, LinkKind)>,
) -> Option<(usize, usize)> {
    let line = *lines.get(start)?;
    let base_indent = indent_of(line);
    let text = line.trim();
    let text = text.strip_prefix("[cause]: ").unwrap_or(text);

    let bracketed = text.starts_with('[') || text.starts_with("Uncaught [");
    if bracketed && let Some(caps) = BRACKETED_HEADER.captures(text) {
        let node = tree.push(new_exception(&caps["name"], caps.name("msg").map_or("", |m| m.as_str())), parent);
        let end = if caps.name("brace").is_some() {
            parse_properties(lines, start + 1, base_indent, node, tree)
        } else {
            start + 1
        };
        return Some((node, end));
    }

    let header = error_header(text)?;
    let mut value = header.msg.unwrap_or("").to_owned();
    // The first frame is parsed once: found here, pushed by the loop below.
    let (mut first_frame, first_parsed) =
        (start + 1..lines.len().min(start + 2 + MAX_MESSAGE_LINES)).find_map(|i| {
            let l = lines.get(i)?;
            (indent_of(l) >= base_indent).then(|| parse_any_frame(l)).flatten().map(|frame| (i, frame))
        })?;
    let mut first_parsed = Some((first_frame, first_parsed));
    // JavaScriptCore prints frames without a location as the bare function name (`baz`), above
    // its `eval code` and `f@file:line` frames.
    let gecko_style = lines.get(first_frame).is_some_and(|l| !l.trim_start().starts_with("at "));
    if gecko_style {
        while first_frame > start + 1 && lines.get(first_frame - 1).is_some_and(|l| is_jsc_bare_frame(l)) {
            first_frame -= 1;
        }
        // A lone word above JavaScriptCore frames is a frame, not an error without a message.
        let named_like_error = header.name.ends_with("Error") || header.name.ends_with("Exception");
        if header.msg.is_none() && !header.code && !named_like_error {
            return None;
        }
    }
    for continuation in lines.get(start + 1..first_frame).unwrap_or_default() {
        value.push('\n');
        value.push_str(continuation);
    }
    let node = tree.push(new_exception(header.name, value), parent);

    let mut pos = first_frame;
    let mut shared_with_cause = None;
    let mut opens_properties = false;
    while let Some(&line) = lines.get(pos) {
        if indent_of(line) < base_indent {
            break;
        }
        // (`...` first: a cheap test before the regex, which every frame line would otherwise pay.)
        if line.trim_start().starts_with("... ")
            && let Some(matching) = MATCHING_CAUSE.captures(line)
        {
            let count = matching["n"].parse::<usize>().unwrap_or(0);
            shared_with_cause = Some((tree.nodes[node].frames.len(), count));
            pos += 1;
            continue;
        }
        if gecko_style && line.trim() == "[native code]" {
            pos += 1;
            continue;
        }
        let parsed = match first_parsed.take() {
            Some((index, frame)) if index == pos => Some(frame),
            _ => parse_any_frame(line),
        };
        let frame = match parsed {
            Some(frame) => frame,
            None if gecko_style && is_jsc_bare_frame(line) => jsc_bare_frame(line),
            None => break,
        };
        tree.nodes[node].frames.push(frame);
        pos += 1;
        let trimmed = line.trim_end();
        if trimmed.ends_with(" {") {
            opens_properties = true;
            break;
        }
        if trimmed.ends_with(',') {
            break;
        }
    }
    if opens_properties {
        pos = parse_properties(lines, pos, base_indent, node, tree);
    }
    if let Some((at, count)) = shared_with_cause {
        tree.nodes[node].frames_omitted = Some(u32::try_from(count).unwrap_or(u32::MAX));
        tree.copy_frames_shared_with_cause(node, at, count);
    }
    Some((node, pos))
}

/// An error line's parts, as [`HEADER`] captures them.
struct ErrorHeader<'l> {
    name: &'l str,
    /// Whether a `[CODE]` follows the name.
    code: bool,
    msg: Option<&'l str>,
}

/// [`HEADER`] on `text`, without running the regex for the common shapes (`Name: message`,
/// `Name`, an ASCII name), which every header line of a dense log has.
fn error_header(text: &str) -> Option<ErrorHeader<'_>> {
    /// `Ok(None)`: not a header; `Err(())`: a shape only the regex decides (a non-ASCII name, a
    /// `[CODE]`).
    fn plain(text: &str) -> Result<Option<ErrorHeader<'_>>, ()> {
        let bytes = text.as_bytes();
        match bytes.first() {
            Some(b) if !b.is_ascii() => return Err(()),
            Some(b) if b.is_ascii_alphabetic() || matches!(b, b'_' | b'$') => {}
            _ => return Ok(None),
        }
        let name_end = bytes
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.')))
            .unwrap_or(bytes.len());
        if bytes.get(name_end).is_some_and(|b| !b.is_ascii()) {
            return Err(());
        }
        let (name, rest) = text.split_at(name_end);
        if rest.is_empty() {
            return Ok(Some(ErrorHeader { name, code: false, msg: None }));
        }
        if let Some(msg) = rest.strip_prefix(": ") {
            return Ok(Some(ErrorHeader { name, code: false, msg: Some(msg) }));
        }
        if rest.starts_with(" [") { Err(()) } else { Ok(None) }
    }
    let by_regex = || {
        HEADER.captures(text).map(|caps| ErrorHeader {
            name: caps.name("name").map_or("", |m| m.as_str()),
            code: caps.name("code").is_some(),
            msg: caps.name("msg").map(|m| m.as_str()),
        })
    };
    // `(?:Uncaught )?` is tried with the prefix first, as the regex does.
    if let Some(body) = text.strip_prefix("Uncaught ") {
        match plain(body) {
            Ok(Some(header)) => return Some(header),
            Ok(None) => {}
            Err(()) => return by_regex(),
        }
    }
    plain(text).unwrap_or_else(|()| by_regex())
}

/// The `{ ... }` block `util.inspect` prints after an error's frames: `[cause]: ...`,
/// `[errors]: [ ... ]` and plain properties (`code: 'ENOENT'`), closed by `}` at the error's
/// indentation. Returns the index of the first line after the block.
fn parse_properties(lines: &[&str], start: usize, base_indent: usize, node: usize, tree: &mut ExceptionTree) -> usize {
    let mut pos = start;
    while let Some(&line) = lines.get(pos) {
        let indent = indent_of(line);
        let text = line.trim();
        if indent <= base_indent {
            return if text.starts_with('}') { pos + 1 } else { pos };
        }
        if text.starts_with("[cause]: ") {
            match parse_error(lines, pos, tree, Some((node, LinkKind::Cause))) {
                Some((_, end)) => pos = end,
                None => pos += 1,
            }
        } else if text == "[errors]: [" {
            pos += 1;
            while let Some(&member) = lines.get(pos) {
                if indent_of(member) <= indent {
                    pos += usize::from(member.trim().starts_with(']'));
                    break;
                }
                match parse_error(lines, pos, tree, Some((node, LinkKind::GroupMember))) {
                    Some((_, end)) => pos = end,
                    None => pos += 1,
                }
            }
        } else {
            pos += 1;
        }
    }
    pos
}

/// Firefox/Safari frames with no error line above them (`error.stack` logged on its own).
fn parse_headless_gecko(lines: &[&str], tree: &mut ExceptionTree) -> Option<(usize, usize)> {
    // JavaScriptCore's bare function names may come first; a located frame must follow them.
    let bare = lines.iter().take_while(|l| is_jsc_bare_frame(l)).count();
    let first = *lines.get(bare)?;
    let starts_a_trace = (first.contains('@') && parse_gecko_frame(first).is_some())
        || (parse_gecko_frame(first).is_some()
            && lines.get(bare + 1).is_some_and(|l| l.contains('@') && parse_gecko_frame(l).is_some()));
    if !starts_a_trace {
        return None;
    }
    let node = tree.push(new_exception("Error", String::new()), None);
    let mut pos = 0;
    while let Some(line) = lines.get(pos) {
        let frame = if pos < bare {
            jsc_bare_frame(line)
        } else if line.trim() == "[native code]" {
            // A builtin frame without a name: read past it, the trace goes on.
            pos += 1;
            continue;
        } else {
            match parse_gecko_frame(line) {
                Some(frame) => frame,
                None => break,
            }
        };
        tree.nodes[node].frames.push(frame);
        pos += 1;
    }
    // A trailing `[native code]` alone does not belong to the trace.
    while pos > 0 && lines.get(pos - 1).is_some_and(|l| l.trim() == "[native code]") {
        pos -= 1;
    }
    Some((node, pos))
}

/// V8 frames printed without their `Error: message` line (a stack logged on its own, or the
/// error line lost): at least two consecutive `at` frames with a location.
fn parse_headless_v8(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let frames: Vec<Frame> = lines.iter().map_while(|l| parse_v8_frame(l)).collect();
    if frames.len() < 2 || !frames.iter().any(|f| f.filename.is_some()) {
        return None;
    }
    let used = frames.len();
    let mut tree = ExceptionTree::default();
    let node = tree.push(new_exception("Error", String::new()), None);
    tree.nodes[node].frames = frames;
    Some((event_from(tree, node), used))
}

/// A JavaScriptCore frame printed as a bare name (`baz`, `eval code`, `global code`).
fn is_jsc_bare_frame(line: &str) -> bool {
    static BARE_NAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[\p{L}_$][\p{L}\p{N}_$.]*$").expect("valid bare name regex"));
    let text = line.trim();
    matches!(text, "eval code" | "global code" | "module code") || (line == text && BARE_NAME.is_match(text))
}

fn jsc_bare_frame(line: &str) -> Frame {
    let text = line.trim();
    let builtin = matches!(text, "eval code" | "global code" | "module code");
    Frame { function: Some(text.to_owned()), in_app: builtin.then_some(false), ..Frame::default() }
}

fn new_exception(name: &str, value: impl Into<String>) -> Exception {
    Exception { ty: name.to_owned(), value: value.into(), ..Exception::default() }
}

fn indent_of(line: &str) -> usize {
    line.chars().take_while(|c| c.is_whitespace()).count()
}

fn parse_any_frame(line: &str) -> Option<Frame> {
    parse_v8_frame(line).or_else(|| parse_gecko_frame(line))
}

/// `    at fn (file:line:col)`, `at file:line:col`, `at async fn (...)`, `at new Foo (...)`,
/// `at Object.<anonymous> (...)`, `at fn [as alias] (...)`, `at eval (eval at f (file:l:c), ...)`.
pub(crate) fn parse_v8_frame(line: &str) -> Option<Frame> {
    let rest = line.trim_start().strip_prefix("at ")?.trim_end();
    let rest = rest.strip_suffix(" {").or_else(|| rest.strip_suffix(',')).unwrap_or(rest);
    let (function, location) = match split_trailing_parenthesized(rest) {
        Some((function, location)) if !function.is_empty() => (Some(function), location),
        // `at (webpack:///mnt/app/Main.js:170:58)`: a location in parentheses, no function.
        Some((_, location)) => (None, location),
        // A line cut off inside the location: `at fn (/app/a`.
        None => match rest.split_once(" (") {
            Some((function, location)) if !location.contains([')', ' ']) => (Some(function), location),
            // `at Foo.run(Foo.java:3)` is a JVM frame, `at Foo.Run () [0x0] in <x>:0` a Mono one.
            _ if rest.contains('(') => return None,
            _ => (None, rest),
        },
    };
    let function = function.map(|f| {
        let f = f.strip_prefix("async ").unwrap_or(f);
        let f = f.strip_prefix("new ").unwrap_or(f);
        match f.ends_with(']').then(|| f.find(" [as ")).flatten() {
            Some(alias) => f.get(..alias).unwrap_or(f),
            None => f,
        }
    });
    let mut frame = parse_location(location);
    frame.function = function.map(str::to_owned);
    Some(frame)
}

/// `text` as `function (location)`, matching the last `)` with its `(`.
fn split_trailing_parenthesized(text: &str) -> Option<(&str, &str)> {
    if !text.ends_with(')') {
        return None;
    }
    let mut depth = 0usize;
    for (index, c) in text.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    // V8 separates function and location by a space; `Foo.run(Foo.java:3)` is a
                    // JVM frame.
                    let function = text.get(..index)?;
                    let location = text.get(index + 1..text.len() - 1)?;
                    // React Native on Android prints `at render(/path/App.js:78:24)`: a location
                    // with a line and a column is V8's, never a JVM `File.java:12`.
                    if !function.is_empty() && !function.ends_with(' ') && !has_line_and_column(location) {
                        return None;
                    }
                    return Some((function.trim_end(), location));
                }
            }
            _ => {}
        }
    }
    None
}

/// `func@file:line:col` (Firefox, Safari), `@file:line`, `func@[native code]`, Safari's bare
/// `http://x/file.js:47:22` and `eval code`.
fn parse_gecko_frame(line: &str) -> Option<Frame> {
    let text = line.trim();
    if text == "eval code" || text == "global code" {
        return Some(Frame { function: Some(text.to_owned()), in_app: Some(false), ..Frame::default() });
    }
    if text.starts_with("at ") {
        return None;
    }
    let Some((function, location)) = split_gecko_frame(text) else {
        return BARE_LOCATION.is_match(text).then(|| parse_location(text));
    };
    // A location is a URL, a path or a script name: junk like `x@x@x:1` is none of these.
    if location.is_empty() || !(location.contains(['/', '.', ' ']) || location == "[native code]") {
        return None;
    }
    let mut frame = if location == "[native code]" {
        Frame { in_app: Some(false), ..Frame::default() }
    } else if let Some(eval) = GECKO_EVAL.captures(location) {
        let mut frame = parse_location(&eval["file"]);
        frame.line = eval["line"].parse().ok();
        frame
    } else {
        let frame = parse_location(location);
        // A Gecko location always carries a line number.
        frame.line?;
        frame
    };
    // Firefox marks async and promise frames with `async*`, anonymous closures with `/<`.
    let function = function.rsplit('*').next().unwrap_or(function).trim_end_matches("/<");
    frame.function = gecko_function_name(function);
    Some(frame)
}

/// Splits `function@location` at the first `@` outside brackets and quotes:
/// `obj["@fn"]@Scratchpad/1:10:29`, `who@http://host/misc/@stuff/foo.js:3:9`.
fn split_gecko_frame(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (index, c) in text.char_indices() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(' | '<' | '{') => depth += 1,
            (None, ']' | ')' | '>' | '}') => depth = depth.saturating_sub(1),
            (None, '@') if depth == 0 => return Some((text.get(..index)?, text.get(index + 1..)?)),
            _ => {}
        }
    }
    None
}

/// Old Gecko and Opera print arguments and anonymous markers around the name:
/// `bar(1)`, `()`, `<anonymous function: run>([arguments not available])`, `<anonymous function>`.
fn gecko_function_name(function: &str) -> Option<String> {
    let mut name = function.trim();
    if name.ends_with(')')
        && let Some(open) = name.find('(')
    {
        name = name.get(..open).unwrap_or(name).trim_end();
    }
    if let Some(inner) = name.strip_prefix("<anonymous function").and_then(|rest| rest.strip_suffix('>')) {
        name = inner.strip_prefix(": ").unwrap_or("");
    }
    (!name.is_empty() && name != "(null)").then(|| name.to_owned())
}

/// `…:78:24` at the end of a location.
fn has_line_and_column(location: &str) -> bool {
    let mut parts = location.rsplitn(3, ':');
    let numeric = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_some_and(|file| !file.is_empty())
}

/// A frame's location: `file:line:col`, a `file://` URL, `node:internal/...`, an eval location,
/// or a builtin such as `<anonymous>`, `native`, `index 0`.
pub(crate) fn parse_location(location: &str) -> Frame {
    if location.starts_with("eval at ") {
        if let Some(origin) = EVAL_ORIGIN.captures(location) {
            return parse_location(&origin["loc"]);
        }
        // `eval at proxyClass (webpack:///x.js?), <anonymous>:4:17`: the script that called eval,
        // without a position in it (4:17 is a position in the evaluated code).
        if let Some(origin) = EVAL_ORIGIN_FILE.captures(location) {
            let mut frame = parse_location(&origin["file"]);
            frame.line = None;
            frame.column = None;
            return frame;
        }
    }
    let (file, line, column) = split_line_and_column(location);
    let line = line.and_then(|m| m.parse::<u32>().ok()).filter(|&n| n > 0);
    let column = column.and_then(|m| m.parse::<u32>().ok()).filter(|&n| n > 0);
    let builtin = file.is_empty()
        || file == "<anonymous>"
        || file == "native"
        || file == "eval code"
        || file.starts_with("index ");
    if builtin || line.is_none() && !file.contains(['/', '\\']) {
        // `<anonymous>:8:9`, Edge's `eval code:1:18`: no file, but a position in the code.
        return Frame { line, column: line.and(column), in_app: Some(false), ..Frame::default() };
    }
    let path = normalize_path(file);
    let library = path.starts_with("node:")
        || path.starts_with("internal/")
        || path.contains("/node_modules/")
        || path.contains("\\node_modules\\");
    let absolute = path.starts_with('/')
        || path.get(1..3).is_some_and(|s| s == ":\\" || s == ":/")
        || path.starts_with("http://")
        || path.starts_with("https://");
    Frame {
        abs_path: absolute.then(|| path.clone()),
        filename: Some(path),
        line,
        column,
        in_app: library.then_some(false),
        ..Frame::default()
    }
}

/// `file:///app/a%20b.mjs` → `/app/a b.mjs`; `webpack:///./src/app.js` → `src/app.js`.
fn normalize_path(file: &str) -> String {
    if let Some(url_path) = file.strip_prefix("file://") {
        let path = percent_decode(url_path);
        // `file:///C:/x.js` → `C:/x.js`
        return match path.get(1..3) {
            Some(drive) if path.starts_with('/') && drive.ends_with(':') => path.get(1..).unwrap_or(&path).to_owned(),
            _ => path,
        };
    }
    for scheme in ["webpack-internal://", "webpack://"] {
        if let Some(rest) = file.strip_prefix(scheme) {
            let rest = rest.split_once("/./").map_or(rest.trim_start_matches('/'), |(_, after)| after);
            return rest.strip_prefix("./").unwrap_or(rest).to_owned();
        }
    }
    file.to_owned()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(value)) => {
                decoded.push(value);
                i += 3;
            }
            _ => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).unwrap_or_else(|_| text.to_owned())
}

impl ExceptionTree {
    /// Node prints the first and last frame of the run it shares with the cause and replaces the
    /// `count` frames between them with `... N lines matching cause stack trace ...`: copy them
    /// back from the cause, after the cause's copy of the frame printed before the marker.
    fn copy_frames_shared_with_cause(&mut self, node: usize, at: usize, count: usize) {
        let Some(before) = at.checked_sub(1).and_then(|i| self.nodes.get(node)?.frames.get(i)).cloned() else {
            return;
        };
        let cause =
            self.parents.iter().position(|p| p.is_some_and(|(parent, kind)| parent == node && kind == LinkKind::Cause));
        let Some(cause) = cause.and_then(|c| self.nodes.get(c)) else {
            return;
        };
        let Some(start) = cause.frames.iter().position(|f| *f == before) else {
            return;
        };
        let shared = cause.frames.iter().skip(start + 1).take(count).cloned().collect::<Vec<_>>();
        if let Some(frames) = self.nodes.get_mut(node).map(|e| &mut e.frames) {
            let at = at.min(frames.len());
            frames.splice(at..at, shared);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Option<(CrashEvent, usize)> {
        let lines: Vec<&str> = text.lines().collect();
        parse(&lines)
    }

    #[test]
    fn v8_frame_shapes() {
        let cases = [
            ("    at total (/app/a.js:12:24)", Some("total"), Some("/app/a.js"), Some(12), Some(24)),
            ("    at /app/a.js:3:5", None, Some("/app/a.js"), Some(3), Some(5)),
            ("    at async main (/app/a.js:13:3)", Some("main"), Some("/app/a.js"), Some(13), Some(3)),
            ("    at new Invoice (/app/a.js:5:13)", Some("Invoice"), Some("/app/a.js"), Some(5), Some(13)),
            (
                "    at Object.<anonymous> (/app/a.js:10:1)",
                Some("Object.<anonymous>"),
                Some("/app/a.js"),
                Some(10),
                Some(1),
            ),
            (
                "    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:164:12)",
                Some("Function.executeUserEntryPoint"),
                Some("node:internal/modules/run_main"),
                Some(164),
                Some(12),
            ),
            ("    at Array.forEach (<anonymous>)", Some("Array.forEach"), None, None, None),
            ("    at async Promise.all (index 0)", Some("Promise.all"), None, None, None),
            ("    at file:///app/a%20b.mjs:8:18", None, Some("/app/a b.mjs"), Some(8), Some(18)),
            (
                "    at eval (eval at runRule (/app/rules.js:3:10), <anonymous>:1:1)",
                Some("eval"),
                Some("/app/rules.js"),
                Some(3),
                Some(10),
            ),
            ("    at Module.x (webpack:///./src/app.js:4:2)", Some("Module.x"), Some("src/app.js"), Some(4), Some(2)),
            (
                "    at r (https://cdn.example.com/bundle.min.js:1:4031)",
                Some("r"),
                Some("https://cdn.example.com/bundle.min.js"),
                Some(1),
                Some(4031),
            ),
        ];
        for (line, function, file, number, column) in cases {
            let frame = parse_v8_frame(line).unwrap_or_else(|| panic!("not a frame: {line}"));
            assert_eq!(
                (frame.function.as_deref(), frame.filename.as_deref(), frame.line, frame.column),
                (function, file, number, column),
                "{line}"
            );
        }
        let internal =
            parse_v8_frame("    at Module._compile (node:internal/modules/cjs/loader:1521:14)").expect("frame");
        assert_eq!(internal.in_app, Some(false));
        let library = parse_v8_frame("    at x (/app/node_modules/express/lib/router.js:1:2)").expect("frame");
        assert_eq!(library.in_app, Some(false));
    }

    // Firefox and Safari are not available on this machine, so these traces are verbatim
    // `error.stack` values from the stacktracejs/error-stack-parser test fixtures
    // (spec/fixtures/captured-errors.js: FIREFOX_31, SAFARI_8, SAFARI_8_EVAL, SAFARI_6), with the
    // error line a logger prints above them. Bun ships JavaScriptCore but formats stacks V8-style.
    #[test]
    fn firefox_31_error() {
        let (event, used) =
            parse_text("Error: Default error\nfoo@http://path/to/file.js:41:13\nbar@http://path/to/file.js:1:1\n")
                .expect("trace");
        assert_eq!(used, 3);
        let error = &event.exceptions[0];
        assert_eq!(error.title(), "Error: Default error");
        let raising = error.frames.last().expect("frame");
        assert_eq!(
            (raising.function.as_deref(), raising.abs_path.as_deref(), raising.line, raising.column),
            (Some("foo"), Some("http://path/to/file.js"), Some(41), Some(13))
        );
    }

    #[test]
    fn safari_8_error_with_bare_location_and_native_code() {
        let (event, used) = parse_text(
            "TypeError: null is not an object (evaluating 'x.undef')\nhttp://path/to/file.js:47:22\nfoo@http://path/to/file.js:52:15\nbar@http://path/to/file.js:108:23",
        )
        .expect("trace");
        assert_eq!(used, 4);
        let frames = &event.exceptions[0].frames;
        assert_eq!(frames.len(), 3);
        assert_eq!((frames[2].function.as_deref(), frames[2].line), (None, Some(47)));

        let (event, used) = parse_text(
            "ReferenceError: Can't find variable: getExceptionProps\neval code\neval@[native code]\nfoo@http://path/to/file.js:58:21\nbar@http://path/to/file.js:109:91",
        )
        .expect("eval trace");
        assert_eq!(used, 5);
        let frames = &event.exceptions[0].frames;
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[2].function.as_deref(), Some("eval"));
        assert_eq!(frames[2].in_app, Some(false));

        let (event, used) =
            parse_text("@http://path/to/file.js:48\ndumpException3@http://path/to/file.js:52\nonclick@http://path/to/file.js:82\n[native code]")
                .expect("headless trace");
        assert_eq!(used, 3);
        assert_eq!(event.exceptions[0].frames.len(), 3);
    }

    // Formats from the runtimes' stack printers that cannot run here (webpack bundles in Chrome,
    // React Native on Android, JavaScriptCore); the lines are those quoted in the bug reports.
    #[test]
    fn v8_locations_that_used_to_become_garbage() {
        let frame = parse_v8_frame("    at (webpack:///mnt/app/Main.js:170:58)").expect("frame");
        assert_eq!(
            (frame.function, frame.filename.as_deref(), frame.line, frame.column),
            (None, Some("mnt/app/Main.js"), Some(170), Some(58))
        );
        let frame = parse_v8_frame("    at render(/data/app/index.android.bundle:78:24)").expect("React Native frame");
        assert_eq!((frame.function.as_deref(), frame.line, frame.column), (Some("render"), Some(78), Some(24)));
        let frame = parse_v8_frame("    at foo (<anonymous>:8:9)").expect("anonymous frame");
        assert_eq!((frame.filename, frame.line, frame.column, frame.in_app), (None, Some(8), Some(9), Some(false)));
        // A JVM frame is still not V8's: its location has a line but no column.
        assert!(parse_v8_frame("\tat com.acme.Foo.run(Foo.java:12)").is_none());
        assert!(parse_v8_frame("\tat com.acme.Foo.run(Native Method)").is_none());
    }

    #[test]
    fn javascriptcore_native_code_lines_do_not_split_a_trace() {
        let (event, used) = parse_text(
            "TypeError: undefined is not an object\n102.js:1:2956\nmap@[native code]\n[native code]\nrender@http://localhost:8081/index.bundle:78:24\nglobal code@http://localhost:8081/index.bundle:90:3",
        )
        .expect("trace");
        assert_eq!(used, 6);
        let functions: Vec<_> =
            event.exceptions[0].frames.iter().map(|f| f.function.as_deref().unwrap_or("")).collect();
        assert_eq!(functions, ["global code", "render", "map", ""]);
        assert_eq!(event.exceptions[0].frames[3].filename.as_deref(), Some("102.js"));
    }

    #[test]
    fn gecko_function_names_with_at_signs_and_arguments() {
        let frame = parse_gecko_frame("obj[\"@fn\"]@Scratchpad/1:10:29").expect("frame");
        assert_eq!(
            (frame.function.as_deref(), frame.filename.as_deref(), frame.line),
            (Some("obj[\"@fn\"]"), Some("Scratchpad/1"), Some(10))
        );
        let frame =
            parse_gecko_frame("<anonymous function: run>([arguments not available])@http://x/f.js:27").expect("frame");
        assert_eq!(frame.function.as_deref(), Some("run"));
        let frame = parse_gecko_frame("who@http://localhost:5000/misc/@stuff/foo.js:3:9").expect("frame");
        assert_eq!(
            (frame.function.as_deref(), frame.abs_path.as_deref()),
            (Some("who"), Some("http://localhost:5000/misc/@stuff/foo.js"))
        );
        assert!(parse_gecko_frame("ada@example.com").is_none());
    }

    #[test]
    fn error_header_agrees_with_the_header_regex() {
        for text in [
            "TypeError: x is undefined",
            "Error",
            "Uncaught TypeError: a",
            "Uncaught [x]",
            "Uncaught",
            "Uncaught 123",
            "TypeError [ERR_INVALID_ARG_TYPE]: The \"path\" argument",
            "Ünïcödé: m",
            "ReferenceÉrror: m",
            "Error:",
            "Error:x",
            "1Error: x",
            "a.b$c_d: m: n",
            "x y",
            "$: m",
            "_",
            "",
            "Error: \u{fffd}",
        ] {
            let expected = HEADER.captures(text).map(|c| {
                (c.name("name").map_or("", |m| m.as_str()), c.name("code").is_some(), c.name("msg").map(|m| m.as_str()))
            });
            let actual = error_header(text).map(|h| (h.name, h.code, h.msg));
            assert_eq!(actual, expected, "{text:?}");
        }
    }

    #[test]
    fn uncaught_and_bracketed_forms() {
        let (event, used) = parse_text("Uncaught TypeError: a is undefined\n    at f (/app/a.js:1:2)").expect("trace");
        assert_eq!((event.title().as_str(), used), ("TypeError: a is undefined", 2));

        let (event, used) = parse_text("TypeError [ERR_INVALID_ARG_TYPE]: The \"path\" argument must be of type string\n    at open (node:fs:1:2)\n    at main (/app/a.js:3:4)\nNode.js v20").expect("trace");
        assert_eq!((event.exceptions[0].ty.as_str(), used), ("TypeError", 3));
    }

    #[test]
    fn unclosed_properties_block_stops_at_the_next_unindented_line() {
        let (event, used) =
            parse_text("Error: x\n    at f (/app/a.js:1:2) {\n  code: 'E'\n12:00 next log line\n}").expect("trace");
        assert_eq!((event.exceptions.len(), used), (1, 3));
    }

    #[test]
    fn unrelated_lines_are_not_traces() {
        for text in [
            "",
            "server listening on http://localhost:3000",
            "Warning: something odd\nnext line",
            "    at f (/app/a.js:1:2)",
            "user@example.com signed in",
            "java.lang.IllegalStateException: x\n\tat com.acme.A.run(A.java:3)",
            "/app/a.js:3\nsome line\nnot a caret",
        ] {
            assert!(parse_text(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn truncated_and_garbled_input_yields_what_could_be_read() {
        let (event, used) =
            parse_text("/app/a.js:3\n  x.y\n   ^\n\nTypeError: boom\n    at f (/app/a.js:3:4)\n    at g (/app/a")
                .expect("trace");
        assert_eq!(used, 7);
        let frames = &event.exceptions[0].frames;
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].context.as_ref().map(|c| c.line.as_str()), Some("  x.y"));
        assert_eq!(frames[0].filename.as_deref(), Some("/app/a"));

        for garbage in [
            "Error: \u{fffd}\n    at \u{fffd}(\u{fffd}:\u{fffd})",
            "Error: x\n    at ((((:1:2",
            "Error: x\n    at )))",
            "%@%:1",
        ] {
            let _ = parse_text(garbage);
        }
    }
}
