//! Finds stack traces inside arbitrary text: a bare trace, or a whole log where every line may carry
//! a timestamp or process prefix and other lines are interleaved.
//!
//! The hot path is one literal search over the whole text (the regex crate turns an alternation of
//! literals into a SIMD multi-literal scan), so ordinary log lines cost almost nothing. Each hit is
//! an anchor: a trace header (Python, Rust, Go) or a frame line (`at ...`, `from ...`,
//! `func@file:line`) whose header sits just above it. The text before the anchor on its line is the
//! log prefix; the same prefix shape (digits may differ, so timestamps still match) is stripped from
//! the lines that follow, lines without it are skipped as interleaved output of another source, and
//! the stripped lines go to the format parsers.

use std::cell::RefCell;
use std::sync::LazyLock;

use regex::Regex;

use super::CrashEvent;

/// A trace found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundTrace {
    pub event: CrashEvent,
    /// 0-based index of the first and one-past-the-last line of the trace in the text.
    pub lines: std::ops::Range<usize>,
}

/// A format parser: parses a trace starting at `lines[0]`, returns the event and the lines used.
type Parser = fn(&[&str]) -> Option<(CrashEvent, usize)>;

/// Literals that every supported trace contains on its first line or its first frame line (all
/// literals, so the regex crate runs them as one SIMD multi-literal search). Firefox/Safari frames
/// (`func@file:line[:column]`) have no literal of their own: [`next_gecko_anchor`] finds them.
static ANCHORS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"Traceback \(most recent call last\):|File "| panicked at |panic: |fatal error: |goroutine |SIGQUIT: |SIGABRT: |SIGSEGV: |SIGBUS: |SIGILL: |SIGFPE: |SIGTRAP: |\tat |  at |\n at |\nat |\\tat |:in '|:in `"#,
    )
    .expect("valid regex")
});

/// What follows the `@` of a Firefox/Safari frame up to the end of its line.
static GECKO_LOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^\s@]*:\d+(?::\d+)?\r?$").expect("valid regex"));

/// The start of the first Firefox/Safari frame anchor at or after `from` (a line start): the `@`
/// of a line whose last `@` is followed by `file:line[:column]` up to the line's end with no
/// whitespace (`@[^\s@]*:\d+(?::\d+)?\r?$`), so that e-mail addresses in ordinary log lines are
/// ruled out by the scan itself. One `memchr` for `@` per line that has one.
fn next_gecko_anchor(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut search = from;
    while let Some(found) = bytes.get(search..).and_then(|rest| memchr::memchr(b'@', rest)) {
        let at = search + found;
        let line_end = bytes.get(at..).and_then(|rest| memchr::memchr(b'\n', rest)).map_or(bytes.len(), |i| at + i);
        let last_at = bytes.get(at..line_end).and_then(|line| memchr::memrchr(b'@', line)).map_or(at, |i| at + i);
        let location = text.get(last_at + 1..line_end).unwrap_or("");
        // Most lines with an `@` (an e-mail address) end in something else than a digit.
        let ends_in_digit = location
            .strip_suffix('\r')
            .unwrap_or(location)
            .chars()
            .next_back()
            .is_some_and(|c| if c.is_ascii() { c.is_ascii_digit() } else { c.is_numeric() });
        if ends_in_digit && GECKO_LOCATION.is_match(location) {
            return Some(last_at);
        }
        search = line_end + 1;
    }
    None
}

/// The next anchor at or after `from`: the earlier of the literal search's and the Gecko search's,
/// each remembered while it lies ahead so neither searches the same text twice.
#[derive(Debug, Default)]
struct AnchorSearch {
    /// The last literal hit's start and the position searched from (`None`: none left).
    literal: Option<(usize, Option<usize>)>,
    gecko: Option<(usize, Option<usize>)>,
}

impl AnchorSearch {
    fn next(&mut self, text: &str, from: usize) -> Option<usize> {
        fn cached(
            slot: &mut Option<(usize, Option<usize>)>,
            from: usize,
            search: impl Fn() -> Option<usize>,
        ) -> Option<usize> {
            match *slot {
                // Searched from at or before `from`, and the hit (or the lack of one) lies ahead.
                Some((searched, hit)) if searched <= from && hit.is_none_or(|h| h >= from) => hit,
                _ => {
                    let hit = search();
                    *slot = Some((from, hit));
                    hit
                }
            }
        }
        let literal = cached(&mut self.literal, from, || ANCHORS.find_at(text, from).map(|m| m.start()));
        let gecko = cached(&mut self.gecko, from, || next_gecko_anchor(text, from));
        match (literal, gecko) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// How far above a frame line its header (exception type and message lines) may start.
const MAX_HEADER_LINES: usize = 20;
/// Lines handed to a parser at first; doubled while the parser uses nearly all of them.
const INITIAL_WINDOW: usize = 64;
/// A parser that finds no trace in a cut-off window of fewer lines gets this many before it is
/// believed (a long message may keep its first frame far down).
const FULL_WINDOW: usize = 256;
/// When a parser stops this close to the window's end, the trace may go on: retry with more lines.
const WINDOW_SLACK: usize = 16;
/// In a prefixed log, this many consecutive lines of other sources end a trace.
const MAX_INTERLEAVED_GAP: usize = 64;
/// Lines of the line table before the one asked for that are dropped at once (they lie before
/// the floor and are never asked for again).
const TABLE_DRAIN_LINES: usize = 4096;

/// Every trace in `text`, in order of appearance. Never panics; garbled traces yield what could be read.
pub fn find_traces(text: &str) -> Vec<FoundTrace> {
    let mut found = find_traces_at_depth(text, 0);
    for trace in &mut found {
        name_truncated_trace(&mut trace.event);
    }
    found
}

fn find_traces_at_depth(text: &str, depth: usize) -> Vec<FoundTrace> {
    let mut scanner = Scanner::new(text, depth);
    scanner.run();
    scanner.found
}

/// A trace cut off before its exception line (a log line limit, a killed process) still shows its
/// frames, under the name "truncated trace", never as a crash of no type.
fn name_truncated_trace(event: &mut CrashEvent) {
    for exception in &mut event.exceptions {
        if exception.ty.trim().is_empty() {
            exception.ty = TRUNCATED_TRACE.to_owned();
            if exception.value.trim().is_empty() {
                exception.value = "the trace ends before its exception was printed".to_owned();
            }
        }
    }
}

/// The exception type given to a trace that ends before its exception line.
pub const TRUNCATED_TRACE: &str = "truncated trace";

/// How many times a trace may be escaped inside another (a JSON log line holding a JSON string).
const MAX_ESCAPE_DEPTH: usize = 2;

/// The start of a line: its byte offset and 0-based index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct LinePosition {
    byte: usize,
    index: usize,
}

/// What an anchor line is the start (or first frame) of.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    /// The trace's first line is the anchor line; `prefix` bytes of it are log prefix.
    Header { prefix: usize, parser: Parser },
    /// The anchor is a frame line; the header may be up to [`MAX_HEADER_LINES`] above. `prefix` is
    /// the log prefix up to the frame's indentation.
    Frame { prefix: usize, parsers: &'static [Parser], allow_headerless: bool },
}

/// How a trace's lines carry the log prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrefixMode {
    /// No prefix: lines are passed as they are.
    None,
    /// Every line of the trace carries the prefix; lines without it belong to other sources.
    EveryLine,
    /// Only the first line has it (Python's `logging.exception`, Java loggers).
    FirstLineOnly,
}

/// The lines given to a parser and where each came from.
#[derive(Debug, Default)]
struct Window<'t> {
    /// Prefix-stripped lines, when the window is not a stretch of the line table as it is.
    lines: Vec<&'t str>,
    /// For each of `lines`: its 0-based index in the text and the byte offset just past it.
    origins: Vec<(usize, usize)>,
    /// The window is the line table's lines with these 0-based text indices, unchanged (no prefix
    /// to strip, no first line replaced): nothing is copied.
    direct: Option<std::ops::Range<usize>>,
    /// Whether the window stopped before the trace could have ended (a size limit).
    truncated: bool,
}

impl<'t> Window<'t> {
    fn len(&self) -> usize {
        self.direct.as_ref().map_or(self.lines.len(), ExactSizeIterator::len)
    }

    /// The window's lines, borrowed from `table` when the window is direct.
    fn lines<'w>(&'w self, table: &'w LineTable<'t>) -> &'w [&'t str] {
        match &self.direct {
            Some(range) => table.slice(range.clone()),
            None => &self.lines,
        }
    }

    /// The text index of the window's line `i` and the byte offset just past it.
    fn origin(&self, table: &LineTable<'t>, i: usize) -> Option<(usize, usize)> {
        match &self.direct {
            Some(range) => {
                let index = range.start + i;
                (index < range.end).then(|| table.end_of(index)).flatten().map(|end| (index, end))
            }
            None => self.origins.get(i).copied(),
        }
    }
}

/// The text's lines around the trace being read, each read once: the parser attempts of one
/// anchor (every start above it, every prefix reading, every parser, every window size) and of the
/// traces that follow it share them, instead of splitting the same lines again per attempt.
#[derive(Debug)]
struct LineTable<'t> {
    text: &'t str,
    /// The position of `lines[0]`.
    first: LinePosition,
    /// CR-trimmed lines from `first` on.
    lines: Vec<&'t str>,
    /// For each of `lines`, the byte offset just past its newline.
    ends: Vec<usize>,
}

impl<'t> LineTable<'t> {
    fn new(text: &'t str) -> Self {
        Self { text, first: LinePosition::default(), lines: Vec::new(), ends: Vec::new() }
    }

    /// Makes the table cover the line at `start` (a line start): kept when it already reaches
    /// there, started anew from `start` otherwise. Lines long before `start` are dropped.
    fn cover(&mut self, start: LinePosition) {
        let end = self.first.index + self.lines.len();
        if start.index < self.first.index || start.index > end {
            self.first = start;
            self.lines.clear();
            self.ends.clear();
        } else if start.index - self.first.index > TABLE_DRAIN_LINES {
            let drop = start.index - self.first.index;
            self.lines.drain(..drop);
            self.ends.drain(..drop);
            self.first = start;
        }
    }

    /// Reads lines until the one with text index `index` is in the table; false when the text
    /// ends before it (or it lies before the table).
    fn fill_to(&mut self, index: usize) -> bool {
        let Some(offset) = index.checked_sub(self.first.index) else {
            return false;
        };
        let text = self.text;
        while self.lines.len() <= offset {
            let byte = self.ends.last().copied().unwrap_or(self.first.byte);
            if byte >= text.len() {
                return false;
            }
            let rest = text.as_bytes().get(byte..).unwrap_or(&[]);
            let (end, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (byte + i, byte + i + 1),
                None => (text.len(), text.len()),
            };
            self.lines.push(trim_cr(text.get(byte..end).unwrap_or("")));
            self.ends.push(next);
        }
        true
    }

    /// The line with text index `index` and the byte offset just past it, read when first asked for.
    fn line(&mut self, index: usize) -> Option<(&'t str, usize)> {
        if !self.fill_to(index) {
            return None;
        }
        let offset = index - self.first.index;
        Some((*self.lines.get(offset)?, *self.ends.get(offset)?))
    }

    fn end_of(&self, index: usize) -> Option<usize> {
        self.ends.get(index.checked_sub(self.first.index)?).copied()
    }

    fn slice(&self, range: std::ops::Range<usize>) -> &[&'t str] {
        let start = range.start.saturating_sub(self.first.index);
        let end = range.end.saturating_sub(self.first.index);
        self.lines.get(start..end).unwrap_or_default()
    }
}

/// A parsed trace before it is accepted.
struct Candidate {
    event: CrashEvent,
    start: usize,
    /// One past the last line used, and the byte offset where scanning resumes.
    end: LinePosition,
    /// How many (prefix-stripped) lines the parser used.
    used: usize,
}

struct Scanner<'t> {
    text: &'t str,
    found: Vec<FoundTrace>,
    /// Lines before this belong to a trace already found.
    floor: LinePosition,
    /// A known line start at or before the line being looked at, for counting line numbers.
    cursor: LinePosition,
    /// How many escaping layers were removed to get `text` (see [`Scanner::escaped_traces`]).
    depth: usize,
    /// The lines the parsers are given, read once.
    table: RefCell<LineTable<'t>>,
}

impl<'t> Scanner<'t> {
    fn new(text: &'t str, depth: usize) -> Self {
        Scanner {
            text,
            found: Vec::new(),
            floor: LinePosition::default(),
            cursor: LinePosition::default(),
            depth,
            table: RefCell::new(LineTable::new(text)),
        }
    }

    fn run(&mut self) {
        let text = self.text;
        let mut search_from = 0;
        // The last frame line that did not lead to a trace: frame lines right after it are skipped,
        // so an unparseable 100,000-frame trace is not retried once per frame.
        let mut failed_frame_line: Option<usize> = None;
        let mut anchors = AnchorSearch::default();
        while let Some(hit) = anchors.next(text, search_from) {
            // `\n at ` and `\nat ` anchors start with the newline before their line.
            let hit_start = hit + usize::from(text.as_bytes().get(hit) == Some(&b'\n'));
            let line_start = text.get(..hit_start).and_then(|before| before.rfind('\n')).map_or(0, |i| i + 1);
            let line_end =
                text.get(hit_start..).and_then(|after| after.find('\n')).map_or(text.len(), |i| hit_start + i);
            search_from = (line_end + 1).min(text.len());
            let position = self.position_of(line_start);
            let line = trim_cr(text.get(line_start..line_end).unwrap_or(""));
            if self.depth < MAX_ESCAPE_DEPTH
                && memchr::memchr(b'\\', line.as_bytes()).is_some()
                && line.matches("\\n").nth(1).is_some()
            {
                let escaped = escaped_traces(line, hit_start - line_start, self.depth);
                if !escaped.is_empty() {
                    for event in escaped {
                        self.found.push(FoundTrace { event, lines: position.index..position.index + 1 });
                    }
                    let end = LinePosition { byte: search_from, index: position.index + 1 };
                    self.floor = end;
                    self.cursor = position;
                    failed_frame_line = None;
                    continue;
                }
            }
            let Some(anchor) = classify_anchor(line) else {
                continue;
            };
            let candidate = match anchor {
                Anchor::Header { prefix, parser } => self.parse_from_header(position, line, prefix, parser),
                Anchor::Frame { prefix, parsers, allow_headerless } => {
                    if failed_frame_line.is_some_and(|failed| failed + 1 == position.index) {
                        failed_frame_line = Some(position.index);
                        continue;
                    }
                    let candidate = self.parse_from_frame(position, line, prefix, parsers, allow_headerless);
                    if candidate.is_none() {
                        failed_frame_line = Some(position.index);
                    }
                    candidate
                }
            };
            if let Some(candidate) = candidate {
                self.found.push(FoundTrace { event: candidate.event, lines: candidate.start..candidate.end.index });
                self.floor = candidate.end;
                self.cursor = candidate.end;
                search_from = search_from.max(candidate.end.byte);
                failed_frame_line = None;
            }
            if search_from >= text.len() {
                break;
            }
        }
    }

    /// The position of the line starting at `line_start` (which is at or after the cursor).
    fn position_of(&mut self, line_start: usize) -> LinePosition {
        let between = self.text.as_bytes().get(self.cursor.byte..line_start).unwrap_or(&[]);
        let newlines = memchr::memchr_iter(b'\n', between).count();
        self.cursor = LinePosition { byte: line_start, index: self.cursor.index + newlines };
        self.cursor
    }

    /// Parses from a header line. With a prefix, the lines after it may carry the same prefix (a
    /// prefixed log, maybe interleaved with other sources) or none (a logger that prefixes only a
    /// record's first line); both readings are tried and the one the parser reads further wins.
    fn parse_from_header(
        &self,
        position: LinePosition,
        line: &str,
        prefix: usize,
        parser: Parser,
    ) -> Option<Candidate> {
        let shape = line.get(..prefix).unwrap_or("");
        if shape.is_empty() {
            return self.parse_window(position, shape, PrefixMode::None, None, parser);
        }
        let every_line = self.parse_window(position, shape, PrefixMode::EveryLine, None, parser);
        let first_line_only = self.parse_window(position, shape, PrefixMode::FirstLineOnly, None, parser);
        match (every_line, first_line_only) {
            (Some(every), Some(first)) => Some(if first.used > every.used { first } else { every }),
            (every, first) => every.or(first),
        }
    }

    /// Tries the frame-line parsers from the anchor itself and from each line above it, and keeps
    /// the trace that starts highest while still reaching the anchor.
    fn parse_from_frame(
        &self,
        anchor: LinePosition,
        line: &str,
        prefix: usize,
        parsers: &[Parser],
        allow_headerless: bool,
    ) -> Option<Candidate> {
        let above = self.lines_above(anchor, MAX_HEADER_LINES);
        // Every start tried below lies between the highest line above and the anchor: the line
        // table covers them all from here.
        self.table.borrow_mut().cover(above.last().map_or(anchor, |(position, _)| *position));
        let shape = frame_prefix_shape(line, prefix, above.first().map(|(_, text)| *text));
        let mode = if shape.is_empty() { PrefixMode::None } else { PrefixMode::EveryLine };
        let mut best: Option<Candidate> = None;
        let mut header_found = false;
        // The starts above the anchor first; the anchor itself (a trace without a header) only
        // counts when none of them gives a trace, so it is parsed only then.
        for distance in 1..=above.len() {
            let (start, start_text) = *above.get(distance - 1)?;
            if mode == PrefixMode::EveryLine && strip_prefix_shape(shape, start_text).is_none() {
                break;
            }
            let stripped = match mode {
                PrefixMode::EveryLine => strip_prefix_shape(shape, start_text).unwrap_or(start_text),
                _ => start_text,
            };
            if stripped.trim().is_empty() {
                break;
            }
            let mut accepted = self.best_of(parsers, start, shape, mode, None, anchor);
            if accepted.is_none() && distance == 1 && mode == PrefixMode::None {
                // A logger may print the exception on its own prefixed line:
                // `12:00:01 ERROR App - java.lang.IllegalStateException: boom`.
                for cut in header_cuts(start_text) {
                    accepted = self.best_of(parsers, start, shape, mode, Some(cut), anchor);
                    if accepted.is_some() {
                        break;
                    }
                }
            }
            // The nearest header wins, extended upward while the lines above still parse (a .NET
            // ` ---> ` inner line under its outer header); lines that do not parse are skipped
            // until a first header is found (multi-line messages).
            match accepted {
                Some(candidate) => {
                    header_found = true;
                    best = Some(candidate);
                }
                None if header_found => break,
                None => {}
            }
        }
        if best.is_none() && allow_headerless {
            best = self.best_of(parsers, anchor, shape, mode, None, anchor);
        }
        best
    }

    /// The parser result that reaches furthest, if any reaches past `anchor`. The parsers share
    /// one window of lines (built once, grown only when a parser needs more).
    fn best_of(
        &self,
        parsers: &[Parser],
        start: LinePosition,
        shape: &str,
        mode: PrefixMode,
        first_line: Option<&'t str>,
        anchor: LinePosition,
    ) -> Option<Candidate> {
        let mut window = self.window(start, shape, mode, first_line, INITIAL_WINDOW);
        let mut best: Option<Candidate> = None;
        for parser in parsers {
            if let Some(candidate) = self.parse_in(&mut window, start, shape, mode, first_line, *parser)
                && candidate.end.index > anchor.index
                && best.as_ref().is_none_or(|b| candidate.end.index > b.end.index)
            {
                best = Some(candidate);
            }
        }
        best
    }

    /// Runs `parser` over the prefix-stripped lines from `start`, growing the window while the
    /// parser uses nearly all of it.
    fn parse_window(
        &self,
        start: LinePosition,
        shape: &str,
        mode: PrefixMode,
        first_line: Option<&'t str>,
        parser: Parser,
    ) -> Option<Candidate> {
        let mut window = self.window(start, shape, mode, first_line, INITIAL_WINDOW);
        self.parse_in(&mut window, start, shape, mode, first_line, parser)
    }

    /// Runs `parser` on `window`, replacing it by a larger one while the parser uses nearly all of
    /// it and more lines exist.
    fn parse_in(
        &self,
        window: &mut Window<'t>,
        start: LinePosition,
        shape: &str,
        mode: PrefixMode,
        first_line: Option<&'t str>,
        parser: Parser,
    ) -> Option<Candidate> {
        loop {
            let parsed = {
                let table = self.table.borrow();
                parser(window.lines(&table))
            };
            let Some((event, used)) = parsed else {
                if window.truncated && window.len() < FULL_WINDOW {
                    *window = self.window(start, shape, mode, first_line, FULL_WINDOW);
                    continue;
                }
                return None;
            };
            let used = used.min(window.len());
            if window.truncated && used + WINDOW_SLACK >= window.len() {
                let limit = window.len().max(1).saturating_mul(2);
                *window = self.window(start, shape, mode, first_line, limit);
                continue;
            }
            if used == 0 {
                return None;
            }
            let (last_index, end_byte) = window.origin(&self.table.borrow(), used - 1)?;
            return Some(Candidate {
                event,
                start: start.index,
                end: LinePosition { byte: end_byte, index: last_index + 1 },
                used,
            });
        }
    }

    /// Up to `limit` lines from `start` for a parser: prefix-stripped in a prefixed log, skipping
    /// (up to [`MAX_INTERLEAVED_GAP`] in a row) lines of other sources.
    fn window(
        &self,
        start: LinePosition,
        shape: &str,
        mode: PrefixMode,
        first_line: Option<&'t str>,
        limit: usize,
    ) -> Window<'t> {
        let mut table = self.table.borrow_mut();
        table.cover(start);
        let text_len = self.text.len();
        if mode == PrefixMode::None && first_line.is_none() {
            // The lines as they are: a stretch of the table.
            let available = if table.fill_to(start.index + limit.saturating_sub(1)) {
                limit
            } else {
                table.first.index + table.lines.len() - start.index
            };
            let end = start.index + available;
            let truncated = available >= limit
                && end.checked_sub(1).and_then(|last| table.end_of(last)).is_some_and(|byte| byte < text_len);
            return Window { direct: Some(start.index..end), truncated, ..Window::default() };
        }
        let mut window = Window::default();
        let mut gap = 0;
        let mut index = start.index;
        while let Some((raw, next)) = table.line(index) {
            if window.lines.len() >= limit {
                window.truncated = true;
                break;
            }
            let is_first = index == start.index;
            let line = match (mode, is_first) {
                (_, true) if first_line.is_some() => first_line,
                (PrefixMode::None, _) => Some(raw),
                (PrefixMode::FirstLineOnly, false) => Some(raw),
                _ => strip_prefix_shape(shape, raw),
            };
            match line {
                Some(line) => {
                    window.lines.push(line);
                    window.origins.push((index, next));
                    gap = 0;
                }
                None => {
                    gap += 1;
                    if gap > MAX_INTERLEAVED_GAP {
                        break;
                    }
                }
            }
            index += 1;
        }
        window
    }

    /// Up to `count` lines directly above `position` (nearest first), not reaching into a trace
    /// already found.
    fn lines_above(&self, position: LinePosition, count: usize) -> Vec<(LinePosition, &'t str)> {
        let mut lines = Vec::new();
        let mut end = position.byte;
        let mut index = position.index;
        while lines.len() < count && index > self.floor.index && end > self.floor.byte {
            let before = self.text.get(..end - 1).unwrap_or("");
            let start = before.rfind('\n').map_or(0, |i| i + 1);
            index -= 1;
            lines.push((LinePosition { byte: start, index }, trim_cr(before.get(start..).unwrap_or(""))));
            end = start;
        }
        lines
    }
}

/// Traces written into one line with their newlines escaped as `\n` (a JSON log's `"exc_info"` or
/// `"stack"` field, a logger that escapes newlines): the escaped string around the anchor at
/// `anchor` is unescaped and searched.
fn escaped_traces(line: &str, anchor: usize, depth: usize) -> Vec<CrashEvent> {
    let bytes = line.as_bytes();
    let unescaped_quote = |i: usize| {
        bytes.get(i) == Some(&b'"')
            && bytes.get(..i).is_some_and(|b| b.iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0)
    };
    let start = (0..anchor.min(bytes.len())).rev().find(|&i| unescaped_quote(i)).map_or(0, |i| i + 1);
    let end = (anchor..bytes.len()).find(|&i| unescaped_quote(i)).unwrap_or(bytes.len());
    let Some(segment) = line.get(start..end) else {
        return Vec::new();
    };
    let decoded =
        serde_json::from_str::<String>(&format!("\"{segment}\"")).unwrap_or_else(|_| unescape_newlines(segment));
    if !decoded.contains('\n') {
        return Vec::new();
    }
    find_traces_at_depth(&decoded, depth + 1).into_iter().map(|t| t.event).collect()
}

/// `\n`, `\t`, `\"` and `\\` in text that is not valid JSON string content.
fn unescape_newlines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => {}
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Which kind of trace an anchor line starts, and where its log prefix ends.
fn classify_anchor(line: &str) -> Option<Anchor> {
    use super::{go, javascript, python, ruby, rust};
    const RUBY_PARSERS: &[Parser] = &[ruby::parse];
    const GECKO_PARSERS: &[Parser] = &[javascript::parse];

    if let Some(at) = line.find("Traceback (most recent call last):") {
        let mut prefix = at;
        let before = line.get(..prefix).unwrap_or("");
        if let Some(group) = before.strip_suffix("Exception Group ") {
            prefix = group.strip_suffix("  + ").map_or(group.len(), str::len);
        }
        return Some(Anchor::Header { prefix, parser: python::parse });
    }
    if let Some(panicked) = line.find(" panicked at ")
        && let Some(thread) = line.get(..panicked).and_then(|before| before.rfind("thread '"))
    {
        return Some(Anchor::Header { prefix: thread, parser: rust::parse });
    }
    for header in ["panic: ", "fatal error: "] {
        if let Some(at) = line.find(header) {
            let word_start =
                line.get(..at).and_then(|b| b.chars().next_back()).is_none_or(|c| !c.is_alphanumeric() && c != '_');
            if word_start {
                return Some(Anchor::Header { prefix: at, parser: go::parse });
            }
        }
    }
    if let Some(at) = line.find("goroutine ")
        && line.trim_end().ends_with("]:")
        && line.get(at + "goroutine ".len()..).is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Some(Anchor::Header { prefix: at, parser: go::parse });
    }
    if let Some(at) = line.find("SIG")
        && line
            .get(at..)
            .is_some_and(|rest| rest.split_once(": ").is_some_and(|(s, _)| s.bytes().all(|b| b.is_ascii_uppercase())))
    {
        return Some(Anchor::Header { prefix: at, parser: go::parse });
    }
    if let Some(file) = line.find("File \"") {
        let before = line.get(..file).unwrap_or("");
        if let Some(prefix) = before.strip_suffix("  ") {
            return Some(Anchor::Header { prefix: prefix.len(), parser: python::parse });
        }
    }
    if let Some(at) = find_frame_keyword(line, "at ").or_else(|| line.starts_with("at ").then_some(0)) {
        return Some(Anchor::Frame {
            prefix: at,
            parsers: at_parsers(line.get(at..).unwrap_or("")),
            allow_headerless: true,
        });
    }
    if line.contains(":in '") || line.contains(":in `") {
        if let Some(from) = find_frame_keyword(line, "from ") {
            return Some(Anchor::Frame { prefix: from, parsers: RUBY_PARSERS, allow_headerless: true });
        }
        // The uncaught-exception line itself: `app.rb:3:in 'Foo#bar': message (RuntimeError)`.
        let location = line.find(":in ").unwrap_or(0);
        let token_start = line.get(..location).and_then(|b| b.rfind(char::is_whitespace)).map_or(0, |i| i + 1);
        return Some(Anchor::Frame { prefix: token_start, parsers: RUBY_PARSERS, allow_headerless: true });
    }
    if let Some(at_sign) = line.find('@')
        && looks_like_gecko_frame(line.get(at_sign..).unwrap_or(""))
    {
        let token_start = gecko_function_start(line.get(..at_sign).unwrap_or(""));
        return Some(Anchor::Frame { prefix: token_start, parsers: GECKO_PARSERS, allow_headerless: true });
    }
    None
}

/// The parsers an `at` frame line may belong to, by the shape of its location: V8 ends with a line
/// and a column (`(/app/a.js:12:24)`), the JVM with a source in parentheses (`(App.java:10)`),
/// .NET with `:line N` or a Mono offset. Anything else may be any of the three.
fn at_parsers(frame: &str) -> &'static [Parser] {
    use super::{dotnet, javascript, jvm};
    const ALL: &[Parser] = &[jvm::parse, dotnet::parse, javascript::parse];
    const V8: &[Parser] = &[javascript::parse];
    const JVM: &[Parser] = &[jvm::parse];
    const DOTNET: &[Parser] = &[dotnet::parse];
    let text = frame.trim_end();
    let location = text.strip_suffix(')').unwrap_or(text);
    let mut parts = location.rsplitn(3, ':');
    let numeric = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    if numeric(parts.next()) && numeric(parts.next()) && parts.next().is_some() {
        return V8;
    }
    if text.contains(":line ") {
        return DOTNET;
    }
    if text.ends_with(')') && [".java:", ".kt:", ".scala:", ".groovy:", ".clj:"].iter().any(|ext| text.contains(ext)) {
        return JVM;
    }
    ALL
}

/// Finds a frame line's keyword (`at `, `from `) preceded by indentation; returns where that
/// indentation starts, which is where the log prefix ends.
fn find_frame_keyword(line: &str, keyword: &str) -> Option<usize> {
    let mut search = 0;
    while let Some(found) = line.get(search..).and_then(|rest| rest.find(keyword)) {
        let at = search + found;
        let before = line.get(..at).unwrap_or("");
        let indentation = before.len() - before.trim_end_matches([' ', '\t']).len();
        if indentation > 0 {
            return Some(at - indentation);
        }
        search = at + keyword.len();
    }
    None
}

/// Where the function name of a Firefox/Safari frame starts, given the text before its `@`: after
/// the last space outside brackets (`<anonymous function: run>([arguments not available])`), and
/// before the runtimes' two-word names (`global code`, `eval code`, `Anonymous function`). What
/// comes before is log prefix.
fn gecko_function_start(before_at: &str) -> usize {
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in before_at.char_indices().rev() {
        match c {
            ')' | ']' | '>' | '}' => depth += 1,
            '(' | '[' | '<' | '{' => depth = depth.saturating_sub(1),
            c if c.is_whitespace() && depth == 0 => {
                start = index + c.len_utf8();
                break;
            }
            _ => {}
        }
    }
    let token = before_at.get(start..).unwrap_or("");
    let before = before_at.get(..start).unwrap_or("");
    let two_word = match token {
        "code" => ["global ", "eval ", "module "].iter().find(|w| before.ends_with(*w)),
        "function" => ["Anonymous ", "anonymous "].iter().find(|w| before.ends_with(*w)),
        _ => None,
    };
    two_word.map_or(start, |word| start - word.len())
}

/// `@file:line` or `@file:line:col` at the end of a line (Firefox and Safari stacks).
fn looks_like_gecko_frame(from_at_sign: &str) -> bool {
    let rest = from_at_sign.trim_end();
    let mut parts = rest.rsplitn(3, ':');
    let last = parts.next().unwrap_or("");
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    numeric(last) && rest.len() > last.len() + 2
}

/// The log prefix of a frame line: the text before its indentation, plus the separator spaces the
/// header line above shows after that text (`web_1  | ` rather than `web_1  |`). Without a log
/// prefix this is the indentation of a trace printed inside another structure (Node's
/// `[errors]: [` block of an AggregateError).
fn frame_prefix_shape<'l>(line: &'l str, prefix: usize, line_above: Option<&str>) -> &'l str {
    let base = line.get(..prefix).unwrap_or("");
    let indentation = line.get(prefix..).map_or(0, |rest| rest.len() - rest.trim_start_matches([' ', '\t']).len());
    let separator = match line_above.and_then(|above| strip_prefix_shape(base, above)) {
        Some(rest) if !rest.trim().is_empty() => rest.len() - rest.trim_start_matches([' ', '\t']).len(),
        _ if base.is_empty() => 0,
        _ => usize::from(line.get(prefix..).is_some_and(|rest| rest.starts_with(' ')) && indentation > 1),
    };
    line.get(..prefix + separator.min(indentation)).unwrap_or(base)
}

/// Where a logger's prefix may end on a line holding an exception header, left to right.
fn header_cuts(line: &str) -> impl Iterator<Item = &str> {
    [" - ", "] ", ": ", " | "]
        .into_iter()
        .flat_map(move |separator| line.match_indices(separator).map(move |(at, _)| at + separator.len()))
        .filter_map(move |at| line.get(at..))
        .filter(|rest| !rest.trim().is_empty())
}

/// Strips a prefix shaped like `shape` from `line`: the same text, except that each run of digits
/// may be any run of digits (timestamps and process ids change from line to line). A line that is
/// the prefix alone (trailing spaces trimmed) yields an empty line.
fn strip_prefix_shape<'l>(shape: &str, line: &'l str) -> Option<&'l str> {
    let shape_bytes = shape.as_bytes();
    let line_bytes = line.as_bytes();
    let (mut i, mut j) = (0, 0);
    while i < shape_bytes.len() {
        let expected = shape_bytes[i];
        if expected.is_ascii_digit() {
            if !line_bytes.get(j).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            while shape_bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            while line_bytes.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            continue;
        }
        match line_bytes.get(j) {
            Some(&actual) if actual == expected => {
                i += 1;
                j += 1;
            }
            None if shape_bytes.get(i..).is_some_and(|rest| rest.iter().all(u8::is_ascii_whitespace)) => {
                return Some("");
            }
            _ => return None,
        }
    }
    line.get(j..)
}

fn trim_cr(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line ranges of the traces found.
    fn ranges(text: &str) -> Vec<std::ops::Range<usize>> {
        find_traces(text).into_iter().map(|t| t.lines).collect()
    }

    #[test]
    fn prefix_shapes_match_other_timestamps() {
        let shape = "2024-01-01T00:00:00.5Z stderr F ";
        assert_eq!(strip_prefix_shape(shape, "2024-01-01T00:00:01.123456Z stderr F x"), Some("x"));
        assert_eq!(strip_prefix_shape(shape, "2024-01-01T00:00:01.1Z stdout F x"), None);
        assert_eq!(strip_prefix_shape("web_1  | ", "web_1  |"), Some(""));
        assert_eq!(strip_prefix_shape("web_1  | ", "db_1   | x"), None);
        assert_eq!(strip_prefix_shape("", "x"), Some("x"));
        assert_eq!(strip_prefix_shape("é1 ", "é22 ü"), Some("ü"));
    }

    #[test]
    fn bare_python_trace() {
        let text =
            "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n    f()\nValueError: bad\n";
        assert_eq!(ranges(text), vec![0..4]);
    }

    #[test]
    fn prefixed_trace_with_interleaved_lines() {
        let text = "\
web_1  | Traceback (most recent call last):
db_1   | LOG:  checkpoint starting
web_1  |   File \"a.py\", line 1, in <module>
web_1  |     f()
db_1   | LOG:  checkpoint complete
web_1  | ValueError: bad
web_1  | INFO:     172.18.0.1:5000 - GET /health 200 OK
";
        let found = find_traces(text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].lines, 0..6);
        let exception = &found[0].event.exceptions[0];
        assert_eq!(exception.title(), "ValueError: bad");
        assert_eq!(exception.frames[0].line, Some(1));
    }

    #[test]
    fn frame_anchors_try_the_header_above() {
        // A stand-in for the JVM parser: a `Type: message` header, then `\tat` frames.
        fn jvm_like(lines: &[&str]) -> Option<(CrashEvent, usize)> {
            let (ty, value) = lines.first()?.split_once(": ")?;
            if ty.contains(' ') {
                return None;
            }
            let frames = lines.iter().skip(1).take_while(|l| l.starts_with("\tat ")).count();
            (frames > 0).then(|| {
                let exception = super::super::Exception { ty: ty.into(), value: value.into(), ..Default::default() };
                (CrashEvent { exceptions: vec![exception], ..CrashEvent::default() }, frames + 1)
            })
        }
        const PARSERS: &[Parser] = &[jvm_like];
        let text = "\
2024-05-01 10:00:00.001 INFO  starting
2024-05-01 10:00:00.002 ERROR request failed
2024-05-01 10:00:00.003 java.lang.IllegalStateException: boom
2024-05-01 10:00:00.004 \tat com.acme.App.run(App.java:10)
2024-05-01 10:00:00.005 \tat com.acme.App.main(App.java:3)
2024-05-01 10:00:00.006 INFO  done
";
        let scanner = Scanner::new(text, 0);
        let line = text.lines().nth(3).unwrap_or("");
        let anchor = LinePosition { byte: text.find(line).unwrap_or(0), index: 3 };
        let prefix = find_frame_keyword(line, "at ").unwrap_or(0);
        let candidate = scanner.parse_from_frame(anchor, line, prefix, PARSERS, false).expect("a trace");
        assert_eq!(candidate.start, 2);
        assert_eq!(candidate.end.index, 5);
        assert_eq!(candidate.event.exceptions[0].ty, "java.lang.IllegalStateException");
    }

    #[test]
    fn two_word_gecko_function_names_are_not_log_prefixes() {
        assert_eq!(gecko_function_start("2024-01-01T10:00:00Z web global code"), "2024-01-01T10:00:00Z web ".len());
        assert_eq!(gecko_function_start("Anonymous function"), 0);
        assert_eq!(gecko_function_start("INFO <anonymous function: run>([arguments not available])"), "INFO ".len());
        assert_eq!(gecko_function_start("12:00:01 app foo"), "12:00:01 app ".len());
        let text = "\
2024-05-01T10:00:00Z web TypeError: x is undefined
2024-05-01T10:00:01Z web foo@http://localhost/app.js:3:9
2024-05-01T10:00:01Z web global code@http://localhost/app.js:9:1
2024-05-01T10:00:02Z web INFO next request
";
        let found = find_traces(text);
        assert_eq!(found.len(), 1);
        let functions: Vec<_> =
            found[0].event.exceptions[0].frames.iter().map(|f| f.function.as_deref().unwrap_or("")).collect();
        assert_eq!(functions, ["global code", "foo"]);
    }

    #[test]
    fn long_and_back_to_back_traces_read_from_one_line_table() {
        // 300 frames: the parser's window grows past its first and its full size.
        let mut text = String::from("TypeError: long\n");
        for i in 0..300 {
            text.push_str(&format!("    at f{i} (/app/a.js:{}:2)\n", i + 1));
        }
        text.push('\n');
        // The next trace starts inside the lines read ahead for the first; the text ends
        // without a newline.
        text.push_str("RangeError: next\n    at g (/app/b.js:1:2)\n    at h (/app/b.js:2:2)");
        let found = find_traces(&text);
        assert_eq!(ranges(&text), vec![0..301, 302..305]);
        assert_eq!(found[0].event.exceptions[0].frames.len(), 300);
        assert_eq!(found[1].event.exceptions[0].title(), "RangeError: next");
        assert_eq!(found[1].event.exceptions[0].frames.len(), 2);
        // Frames alone (no header line): the anchor itself is the start.
        let headless = "    at g (/app/b.js:1:2)\n    at h (/app/b.js:2:2)\n";
        assert_eq!(ranges(headless), vec![0..2]);
    }

    #[test]
    fn gecko_anchors_are_found_where_the_frame_pattern_matches() {
        let pattern = Regex::new(r"(?m)@[^\s@]*:\d+(?::\d+)?\r?$").expect("valid regex");
        let text = "user=ada@example.com duration_ms=12\n\
                    foo@http://localhost/app.js:3:9\n\
                    obj[\"@fn\"]@Scratchpad/1:10:29\r\n\
                    a@b@c.js:1 x\n\
                    @http://x/y.js:48\n\
                    mail ada@example.com:25\n\
                    x@y.js:\n\
                    x@y.js:12:\n\
                    z@q.js:١٢\n\
                    é@ü.js:7";
        let mut expected = Vec::new();
        let mut from = 0;
        while let Some(m) = pattern.find_at(text, from) {
            expected.push(m.start());
            from = m.end();
        }
        let mut actual = Vec::new();
        let mut from = 0;
        while let Some(at) = next_gecko_anchor(text, from) {
            actual.push(at);
            from = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
        }
        assert_eq!(actual, expected);
        assert_eq!(actual.len(), 6, "{actual:?}");
    }

    #[test]
    fn junk_and_edge_cases_do_not_panic() {
        for text in [
            "",
            "\n",
            "@",
            "panic: ",
            "thread ' panicked at ",
            "\tat \n\tat ",
            "File \"",
            "é@:1\r\n",
            "  + Exception Group Traceback (most recent call last):",
        ] {
            let _ = find_traces(text);
        }
        let long_line = "x@".repeat(200_000) + ":1";
        assert!(find_traces(&long_line).is_empty());
    }
}
