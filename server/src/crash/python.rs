//! Parser for CPython tracebacks as `traceback.print_exception` writes them: plain tracebacks,
//! chained exceptions (`raise ... from`, "During handling of ..."), exception groups with their
//! `| ` margins, SyntaxError reports, 3.11+ caret lines and collapsed recursion.
//!
//! Exception types follow Sentry's Python SDK so that a crash read from a log and the same crash
//! reported to Sentry group together: `json.decoder.JSONDecodeError` becomes `ty` =
//! `JSONDecodeError` with `module` = `json.decoder`.

use std::sync::LazyLock;

use regex::Regex;

use super::logline::looks_like_log_record_start;
use super::{CrashEvent, Exception, ExceptionLink, Frame, Language, LinkKind, SourceContext};

const TRACEBACK_HEADER: &str = "Traceback (most recent call last):";
const GROUP_TRACEBACK_HEADER: &str = "Exception Group Traceback (most recent call last):";
const CAUSE_SEPARATOR: &str = "The above exception was the direct cause of the following exception:";
const CONTEXT_SEPARATOR: &str = "During handling of the above exception, another exception occurred:";
/// Deeper exception-group nesting than this is treated as garbage (CPython stops at 10).
const MAX_GROUP_DEPTH: usize = 64;

/// `  File "path", line N, in function` (the `, in` part is missing in SyntaxError reports).
static FRAME_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^  File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.+))?$"#).expect("valid regex")
});
/// `Type` or `Type: message`, where Type is a dotted Python name.
static EXCEPTION_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<ty>[A-Za-z_][\w.]*)(?:: (?P<value>.*)|:)?$").expect("valid regex"));
/// `  [Previous line repeated 996 more times]`
static REPEATED_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^  \[Previous line repeated (?P<n>\d+) more times?\]$").expect("valid regex"));
/// A local variable printed by `capture_locals=True`: `    name = value`.
static LOCAL_VARIABLE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^    (?P<name>[A-Za-z_]\w*) = (?P<value>.*)$").expect("valid regex"));

/// Parses a trace that starts at `lines[0]` (log prefixes already stripped). Returns the event and
/// how many lines of `lines` it used, or `None` when no trace of this format starts there.
///
/// A trace starts with `Traceback (most recent call last):`, with the `  + Exception Group
/// Traceback` header of an exception group, or (for a SyntaxError) directly with a `  File` line.
pub fn parse(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let first = lines.first()?;
    let starts_trace = *first == TRACEBACK_HEADER
        || first.strip_prefix("  + ") == Some(GROUP_TRACEBACK_HEADER)
        || FRAME_LINE.is_match(first);
    if !starts_trace {
        return None;
    }
    let mut parser = TracebackParser::default();
    let mut used = 0;
    for (index, raw) in lines.iter().enumerate() {
        let line = split_margin(raw);
        if !parser.accept(line, lines.get(index + 1..).unwrap_or(&[])) {
            break;
        }
        if !line.content.trim().is_empty() || line.depth > 0 {
            used = index + 1;
        }
    }
    parser.finish_all();
    let exceptions = parser.into_exceptions();
    if exceptions.iter().all(|e| e.frames.is_empty() && e.ty.is_empty()) {
        return None;
    }
    let event = CrashEvent { language: Some(Language::Python), exceptions, ..CrashEvent::default() };
    Some((event, used))
}

/// One line with its exception-group margin removed.
#[derive(Debug, Clone, Copy)]
struct MarginLine<'a> {
    /// Exception-group nesting: 0 outside any group, 1 for `  | `, 2 for `    | `, ...
    depth: usize,
    kind: MarginKind,
    content: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MarginKind {
    Content,
    /// `+-+---- 1 ----` or `+---- 2 ----`: the next member of the group at `depth` starts.
    MemberSeparator,
    /// `+------------`: the group at `depth` is complete.
    Close,
}

/// Splits the `  | ` / `  + ` margin of exception-group output (see CPython's
/// `_ExceptionPrintContext.emit` and `TracebackException.format`).
fn split_margin(line: &str) -> MarginLine<'_> {
    let plain = MarginLine { depth: 0, kind: MarginKind::Content, content: line };
    let spaces = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[spaces..];
    if spaces == 0 || !spaces.is_multiple_of(2) {
        return plain;
    }
    if let Some(content) = rest.strip_prefix("| ").or_else(|| (rest == "|").then_some("")) {
        return MarginLine { depth: spaces / 2, kind: MarginKind::Content, content };
    }
    if let Some(content) = rest.strip_prefix("+ ") {
        return MarginLine { depth: spaces / 2, kind: MarginKind::Content, content };
    }
    if rest.starts_with("+-") && rest.trim_end().ends_with('-') {
        if let Some(after_first) = rest.strip_prefix("+-+") {
            // The first member of the group whose own lines sit at this depth.
            if after_first.starts_with('-') {
                return MarginLine { depth: spaces / 2, kind: MarginKind::MemberSeparator, content: "" };
            }
        }
        let has_title =
            rest.trim_matches(|c| c == '+' || c == '-' || c == ' ').chars().any(|c| c.is_ascii_digit() || c == '.');
        // Later members and the closing line are printed one level further in.
        let depth = (spaces / 2).saturating_sub(1);
        let kind = if has_title { MarginKind::MemberSeparator } else { MarginKind::Close };
        return MarginLine { depth, kind, content: "" };
    }
    plain
}

/// Where the parser is inside the current exception block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    /// Reading `File` lines, their source and locals.
    Frames,
    /// The exception line was read; further lines continue its message (or are notes).
    Message,
}

#[derive(Debug)]
struct Block {
    depth: usize,
    state: BlockState,
    exception: Exception,
    /// The frame whose source line may follow.
    expecting_source: bool,
    has_type: bool,
}

/// A finished exception and how it hangs off another one, before ordering.
#[derive(Debug)]
struct Node {
    exception: Exception,
    /// Arena index of the exception this one is attached to.
    parent: Option<(usize, LinkKind)>,
}

/// An exception group whose members are being read.
#[derive(Debug)]
struct OpenGroup {
    node: usize,
    /// Depth of the members' lines (one more than the group's own lines).
    member_depth: usize,
}

#[derive(Debug, Default)]
struct TracebackParser {
    nodes: Vec<Node>,
    block: Option<Block>,
    groups: Vec<OpenGroup>,
    /// Per chain level: the last finished block and, once a separator was read, how the next block
    /// at that level relates to it.
    chain: Vec<ChainSlot>,
    /// A separator line was read; the next content must continue the trace.
    expecting_continuation: bool,
}

#[derive(Debug, Default, Clone, Copy)]
struct ChainSlot {
    last: Option<usize>,
    pending: Option<(usize, LinkKind)>,
}

impl TracebackParser {
    /// Consumes one line; returns `false` when the line is not part of the trace.
    fn accept(&mut self, line: MarginLine<'_>, rest: &[&str]) -> bool {
        if line.depth > MAX_GROUP_DEPTH {
            return false;
        }
        // Leaving a group's member lines closes the groups nested deeper.
        if line.kind == MarginKind::Content && !line.content.trim().is_empty() {
            self.close_groups_deeper_than(line.depth);
        }
        match line.kind {
            MarginKind::MemberSeparator | MarginKind::Close => self.accept_separator(line),
            MarginKind::Content => self.accept_content(line, rest),
        }
    }

    fn accept_separator(&mut self, line: MarginLine<'_>) -> bool {
        let group_depth = line.depth;
        // A first-member separator right after a block makes that block a group.
        if line.kind == MarginKind::MemberSeparator && !self.groups.iter().any(|g| g.member_depth == group_depth + 1) {
            let Some(block) = self.block.as_ref() else {
                return false;
            };
            if block.depth != group_depth || !block.has_type {
                return false;
            }
            let node = self.finish_block();
            if let Some(node) = node {
                self.groups.push(OpenGroup { node, member_depth: group_depth + 1 });
            }
            return true;
        }
        if !self.groups.iter().any(|g| g.member_depth == group_depth + 1) {
            return false;
        }
        self.close_groups_deeper_than(group_depth + 1);
        self.finish_member(group_depth + 1);
        if line.kind == MarginKind::Close {
            self.groups.pop();
        }
        true
    }

    fn accept_content(&mut self, line: MarginLine<'_>, rest: &[&str]) -> bool {
        let content = line.content;
        let depth = line.depth;
        let trimmed = content.trim();
        if trimmed.is_empty() {
            if let Some(block) = self.block.as_mut() {
                if block.state == BlockState::Message && block.depth == depth {
                    // A blank line ends the message; only a chain separator or group output may
                    // follow.
                    if !continues_after_blank(rest, depth) {
                        return false;
                    }
                }
            } else if !self.expecting_continuation && !continues_after_blank(rest, depth) {
                return false;
            }
            return true;
        }
        let header = content == TRACEBACK_HEADER || content == GROUP_TRACEBACK_HEADER;
        if header {
            // Outside exception-group output, a new traceback without a chain separator before it
            // is the next crash (tracebacks printed one after another), not part of this one.
            let started = self.block.is_some() || !self.nodes.is_empty();
            if started && depth == 0 && !self.expecting_continuation {
                return false;
            }
            self.finish_block();
            self.start_block(depth);
            return true;
        }
        if content == CAUSE_SEPARATOR || content == CONTEXT_SEPARATOR {
            self.finish_block();
            let kind = if content == CAUSE_SEPARATOR { LinkKind::Cause } else { LinkKind::Context };
            let level = self.chain_level(depth);
            let slot = self.chain_slot(level);
            match slot.last {
                Some(last) => slot.pending = Some((last, kind)),
                None => return false,
            }
            self.expecting_continuation = true;
            return true;
        }
        if is_group_elision(trimmed) {
            return self.groups.iter().any(|g| g.member_depth <= depth);
        }
        let in_block_at_depth = self.block.as_ref().is_some_and(|b| b.depth == depth);
        if !in_block_at_depth {
            // Only a group member may start without a Traceback header (a group that was never
            // raised, or a member printed by `format_exception_only`), or a SyntaxError report.
            let starts_member = self.groups.iter().any(|g| g.member_depth == depth);
            let syntax_report = FRAME_LINE.is_match(content);
            let plausible =
                (starts_member || self.expecting_continuation) && (syntax_report || EXCEPTION_LINE.is_match(content));
            if !(plausible || (self.nodes.is_empty() && self.block.is_none() && syntax_report)) {
                return false;
            }
            self.finish_block();
            self.start_block(depth);
        }
        self.accept_block_line(content)
    }

    fn accept_block_line(&mut self, content: &str) -> bool {
        let Some(block) = self.block.as_mut() else {
            return false;
        };
        match block.state {
            BlockState::Frames => {
                if let Some(frame) = parse_frame_line(content) {
                    block.exception.frames.push(frame);
                    block.expecting_source = true;
                    return true;
                }
                if let Some(n) = REPEATED_LINE.captures(content).and_then(|c| c["n"].parse::<u32>().ok()) {
                    let omitted = block.exception.frames_omitted.unwrap_or(0);
                    block.exception.frames_omitted = Some(omitted.saturating_add(n));
                    block.expecting_source = false;
                    return true;
                }
                if let Some(code) = content.strip_prefix("    ") {
                    let code_trimmed = code.trim();
                    if is_caret_line(code_trimmed) || is_elided_source(code_trimmed) {
                        return true;
                    }
                    if let Some(frame) = block.exception.frames.last_mut() {
                        if block.expecting_source {
                            block.expecting_source = false;
                            frame.context =
                                Some(SourceContext { line: code_trimmed.to_owned(), ..SourceContext::default() });
                            return true;
                        }
                        if let Some(var) = LOCAL_VARIABLE_LINE.captures(content) {
                            frame.vars.push((var["name"].to_owned(), var["value"].to_owned()));
                            return true;
                        }
                        // Further lines of a multi-line source statement (3.13 prints them).
                        return true;
                    }
                    return false;
                }
                if let Some(captures) = EXCEPTION_LINE.captures(content) {
                    let printed = &captures["ty"];
                    let (module, ty) = match printed.rsplit_once('.') {
                        Some((module, ty)) if !module.is_empty() && !ty.is_empty() => (Some(module.to_owned()), ty),
                        _ => (None, printed),
                    };
                    block.exception.ty = ty.to_owned();
                    block.exception.module = module;
                    block.exception.value = captures.name("value").map_or("", |m| m.as_str()).to_owned();
                    block.has_type = true;
                    block.state = BlockState::Message;
                    self.expecting_continuation = false;
                    return true;
                }
                false
            }
            BlockState::Message => {
                if FRAME_LINE.is_match(content) || looks_like_log_record_start(content) {
                    return false;
                }
                if content.starts_with("Traceback (") {
                    return false;
                }
                block.exception.value.push('\n');
                block.exception.value.push_str(content);
                true
            }
        }
    }

    fn start_block(&mut self, depth: usize) {
        self.block = Some(Block {
            depth,
            state: BlockState::Frames,
            exception: Exception::default(),
            expecting_source: false,
            has_type: false,
        });
    }

    /// The chain level of lines at `depth`: a top-level group's own lines sit at depth 1 but belong
    /// to the outermost chain.
    fn chain_level(&self, depth: usize) -> usize {
        if self.groups.iter().any(|g| g.member_depth == depth) { depth } else { depth.saturating_sub(1) }
    }

    fn chain_slot(&mut self, level: usize) -> &mut ChainSlot {
        if self.chain.len() <= level {
            self.chain.resize(level + 1, ChainSlot::default());
        }
        &mut self.chain[level]
    }

    /// Moves the current block into the arena, linking a pending chain to it.
    fn finish_block(&mut self) -> Option<usize> {
        let block = self.block.take()?;
        if !block.has_type && block.exception.frames.is_empty() {
            return None;
        }
        let index = self.nodes.len();
        self.nodes.push(Node { exception: block.exception, parent: None });
        let level = self.chain_level(block.depth);
        let slot = self.chain_slot(level);
        if let Some((previous, kind)) = slot.pending.take()
            && let Some(node) = self.nodes.get_mut(previous)
        {
            node.parent = Some((index, kind));
        }
        self.chain_slot(level).last = Some(index);
        self.expecting_continuation = false;
        Some(index)
    }

    /// Attaches the head of the member chain at `member_depth` to its group.
    fn finish_member(&mut self, member_depth: usize) {
        if self.block.as_ref().is_some_and(|b| b.depth >= member_depth) {
            self.finish_block();
        }
        let Some(group) = self.groups.iter().find(|g| g.member_depth == member_depth) else {
            return;
        };
        let group_node = group.node;
        let slot = self.chain_slot(member_depth);
        let head = slot.last.take();
        slot.pending = None;
        if let Some(head) = head
            && let Some(node) = self.nodes.get_mut(head)
            && node.parent.is_none()
        {
            node.parent = Some((group_node, LinkKind::GroupMember));
        }
    }

    fn close_groups_deeper_than(&mut self, depth: usize) {
        while let Some(group) = self.groups.last() {
            if group.member_depth <= depth {
                break;
            }
            let member_depth = group.member_depth;
            self.finish_member(member_depth);
            self.groups.pop();
        }
    }

    fn finish_all(&mut self) {
        self.close_groups_deeper_than(0);
        self.finish_block();
    }

    /// Orders the exceptions root cause first, outermost last: every exception comes after the
    /// ones attached to it (a post-order walk of the tree the links form).
    fn into_exceptions(self) -> Vec<Exception> {
        let count = self.nodes.len();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); count];
        let mut roots = Vec::new();
        for (index, node) in self.nodes.iter().enumerate() {
            match node.parent {
                Some((parent, _)) if parent < count && parent != index => children[parent].push(index),
                _ => roots.push(index),
            }
        }
        // Iterative post-order, so deep chains cannot overflow the stack.
        let mut order = Vec::with_capacity(count);
        let mut visited = vec![false; count];
        for root in roots {
            let mut stack = vec![(root, 0usize)];
            while let Some((node, next_child)) = stack.pop() {
                if let Some(&child) = children[node].get(next_child) {
                    stack.push((node, next_child + 1));
                    if !visited[child] {
                        stack.push((child, 0));
                    }
                } else if !visited[node] {
                    visited[node] = true;
                    order.push(node);
                }
            }
        }
        let mut position = vec![usize::MAX; count];
        for (new_index, &old) in order.iter().enumerate() {
            position[old] = new_index;
        }
        let mut nodes: Vec<Option<Node>> = self.nodes.into_iter().map(Some).collect();
        order
            .iter()
            .filter_map(|&old| {
                let node = nodes.get_mut(old)?.take()?;
                let mut exception = node.exception;
                exception.link = node.parent.and_then(|(parent, kind)| {
                    let parent = *position.get(parent)?;
                    (parent != usize::MAX).then_some(ExceptionLink { parent, kind })
                });
                Some(exception)
            })
            .collect()
    }
}

/// After a blank line, a trace continues only with a chain separator or more group output.
fn continues_after_blank(rest: &[&str], depth: usize) -> bool {
    for raw in rest.iter().take(3) {
        let line = split_margin(raw);
        if line.kind != MarginKind::Content {
            return line.depth + 1 >= depth;
        }
        if line.content.trim().is_empty() {
            continue;
        }
        return line.content == CAUSE_SEPARATOR
            || line.content == CONTEXT_SEPARATOR
            || (depth > 0 && line.depth > 0)
            || (line.depth > 0 && line.content == GROUP_TRACEBACK_HEADER);
    }
    false
}

fn parse_frame_line(content: &str) -> Option<Frame> {
    let captures = FRAME_LINE.captures(content)?;
    let file = &captures["file"];
    let is_absolute = file.starts_with('/') || file.get(1..3) == Some(":\\") || file.starts_with("\\\\");
    Some(Frame {
        function: captures.name("func").map(|m| m.as_str().to_owned()),
        filename: Some(file.to_owned()),
        abs_path: is_absolute.then(|| file.to_owned()),
        line: captures["line"].parse().ok(),
        ..Frame::default()
    })
}

/// Lines CPython prints in place of group members it leaves out.
fn is_group_elision(content: &str) -> bool {
    let more = content
        .strip_prefix("and ")
        .and_then(|rest| rest.strip_suffix(" more exceptions").or_else(|| rest.strip_suffix(" more exception")));
    more.is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        || (content.starts_with("... (max_group_depth is ") && content.ends_with(')'))
}

/// 3.11+ marks the failing expression with `^` and `~` under the source line.
fn is_caret_line(code: &str) -> bool {
    !code.is_empty() && code.chars().all(|c| c == '^' || c == '~' || c == ' ')
}

/// 3.13 shortens long multi-line statements with `...<N lines>...`.
fn is_elided_source(code: &str) -> bool {
    code.strip_prefix("...<")
        .and_then(|rest| rest.strip_suffix(" lines>..."))
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (CrashEvent, usize) {
        let lines: Vec<&str> = text.lines().collect();
        parse(&lines).expect("a traceback")
    }

    #[test]
    fn simple_traceback() {
        let (event, used) = parse_text(
            "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\n    main()\n  File \"/srv/app/lib.py\", line 7, in main\n    return d['x']\n           ~^^^^^\nKeyError: 'x'\n2024-01-01 12:00:00 INFO next request",
        );
        assert_eq!(used, 7);
        let exception = &event.exceptions[0];
        assert_eq!(exception.title(), "KeyError: 'x'");
        assert_eq!(exception.frames.len(), 2);
        let last = &exception.frames[1];
        assert_eq!(last.function.as_deref(), Some("main"));
        assert_eq!(last.abs_path.as_deref(), Some("/srv/app/lib.py"));
        assert_eq!(last.line, Some(7));
        assert_eq!(last.context.as_ref().map(|c| c.line.as_str()), Some("return d['x']"));
    }

    #[test]
    fn tracebacks_printed_one_after_another_are_separate_crashes() {
        let text = "Traceback (most recent call last):\n  File \"a.py\", line 4, in first\n    y = 2\nValueError: one\nTraceback (most recent call last):\n  File \"a.py\", line 4, in second\n    y = 2\nValueError: two\n";
        let (event, used) = parse_text(text);
        assert_eq!(used, 4, "the first crash ends where the next traceback starts");
        assert_eq!(event.exceptions.len(), 1);
        assert_eq!(event.exceptions[0].title(), "ValueError: one");
        // With a chain separator between them they are one crash.
        let chained = text.replacen(
            "ValueError: one\n",
            "ValueError: one\n\nDuring handling of the above exception, another exception occurred:\n\n",
            1,
        );
        let (event, _) = parse_text(&chained);
        assert_eq!(event.exceptions.len(), 2);
    }

    #[test]
    fn dotted_type_is_split_like_sentry() {
        let (event, _) = parse_text(
            "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\nurllib.error.URLError: <urlopen error>",
        );
        let exception = &event.exceptions[0];
        assert_eq!(exception.ty, "URLError");
        assert_eq!(exception.module.as_deref(), Some("urllib.error"));
    }

    #[test]
    fn truncated_traceback_keeps_the_frames_read() {
        let (event, used) = parse_text(
            "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n    g()\n  File \"b.py\", li",
        );
        assert_eq!(used, 3);
        assert_eq!(event.exceptions[0].frames.len(), 1);
        assert_eq!(event.exceptions[0].ty, "");
    }

    #[test]
    fn header_alone_or_garbage_is_not_a_trace() {
        assert!(parse(&["Traceback (most recent call last):"]).is_none());
        assert!(parse(&["hello"]).is_none());
        assert!(parse(&[]).is_none());
        assert!(parse(&["  File \"\u{1F600}", "\u{0}\u{0}"]).is_none());
    }

    #[test]
    fn garbled_group_margins_do_not_panic() {
        let text = "  + Exception Group Traceback (most recent call last):\n  +-+---- 1 ----\n      +--------\n        | ValueError: x\n  | E: y\n+-+\n    +---- 9 ----\n  |";
        let lines: Vec<&str> = text.lines().collect();
        let _ = parse(&lines);
        for cut in 0..lines.len() {
            let _ = parse(&lines[cut..]);
        }
    }

    #[test]
    fn a_very_deep_traceback_parses_in_linear_time() {
        let mut text = String::from("Traceback (most recent call last):\n");
        for i in 0..100_000 {
            text.push_str(&format!("  File \"deep.py\", line {i}, in f\n    f()\n"));
        }
        text.push_str("RecursionError: maximum recursion depth exceeded\n");
        let (event, used) = parse_text(&text);
        assert_eq!(used, 200_002);
        assert_eq!(event.exceptions[0].frames.len(), 100_000);
    }
}
