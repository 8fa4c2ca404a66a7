//! Parser for Ruby's uncaught-exception output, before 3.4 (``in `m'``) and from 3.4
//! (`in 'Foo#bar'`):
//!
//! ```text
//! app.rb:11:in `total': undefined method `sum' for nil:NilClass (NoMethodError)
//!
//!   order.items.sum
//!              ^^^^
//!     from app.rb:15:in `checkout'
//!     from app.rb:18:in `<main>'
//! app.rb:7:in `Integer': invalid value for Integer(): "12.50" (ArgumentError)
//!     from app.rb:7:in `charge'
//! ```
//!
//! A second `file:line:in ...: msg (Class)` block right after the frames is the cause of the
//! block before it. error_highlight's source line and caret become the raising frame's context.

use std::sync::LazyLock;

use regex::Regex;

use super::{CrashEvent, Exception, ExceptionLink, Frame, Language, LinkKind, SourceContext};

/// How many message continuation lines a header may have before its first `from` line.
const MAX_MESSAGE_LINES: usize = 40;

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<file>(?:[A-Za-z]:)?[^:\s][^:]*|<[^>]*>):(?P<line>\d+):in [`'](?P<label>[^']*)': (?P<msg>.*?) ?\((?P<class>[A-Z][\w]*(?:::[A-Z]\w*)*)\)$")
        .expect("valid header regex")
});

/// `\tfrom file:line:in 'label'`. Ruby prints `(Class)` at the end of the header's first line,
/// so message lines of a multi-line message sit between the header and the first `from` line.
static FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+from (?P<file>(?:[A-Za-z]:)?[^:]+|<[^>]*>):(?P<line>\d+)(?::in [`'](?P<label>[^']*)')?\s*$")
        .expect("valid from regex")
});

static LEVELS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s+\.\.\. (?P<n>\d+) levels\.\.\.\s*$").expect("valid levels regex"));

/// `Foo#bar`, `Foo.bar`, `block in Foo#bar`, `rescue in Foo::Bar#baz` (Ruby 3.4 labels).
static OWNED_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<prefix>(?:(?:block|rescue|ensure)(?: \(\d+ levels\))? in )*)(?P<owner>[A-Z][\w]*(?:::[A-Z]\w*)*)[#.](?P<method>.+)$")
        .expect("valid label regex")
});

static CARET: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*\^+\s*$").expect("valid caret regex"));

/// Parses a Ruby trace that starts at `lines[0]` (log prefixes already stripped). Returns the event
/// and how many lines of `lines` it used, or `None` when no Ruby trace starts there.
pub fn parse(lines: &[&str]) -> Option<(CrashEvent, usize)> {
    let first = *lines.first()?;
    if !first.contains(":in ") {
        return None;
    }
    let (outermost, mut pos) = parse_block(lines, 0)?;
    // Outermost first while reading; each further block is the cause of the one before it.
    let mut blocks = vec![outermost];
    while let Some((cause, end)) = parse_block(lines, pos) {
        blocks.push(cause);
        pos = end;
    }
    let count = blocks.len();
    let exceptions = blocks
        .into_iter()
        .rev()
        .enumerate()
        .map(|(index, mut exception)| {
            exception.link = (index + 1 < count).then_some(ExceptionLink { parent: index + 1, kind: LinkKind::Cause });
            exception
        })
        .collect();
    let event = CrashEvent { language: Some(Language::Ruby), exceptions, ..CrashEvent::default() };
    Some((event, pos))
}

/// One `file:line:in 'm': message (Class)` header with its message lines and `from` frames.
fn parse_block(lines: &[&str], start: usize) -> Option<(Exception, usize)> {
    let caps = HEADER.captures(lines.get(start)?)?;
    let mut frames = vec![frame(&caps["file"], &caps["line"], caps.name("label").map(|m| m.as_str()))];

    let mut message_lines = vec![caps.name("msg").map_or("", |m| m.as_str()).to_owned()];
    let mut pos = start + 1;
    let first_from =
        (pos..lines.len().min(pos + MAX_MESSAGE_LINES + 1)).find(|&i| lines.get(i).is_some_and(|l| FROM.is_match(l)));
    let continuation_end = match first_from {
        Some(end) => end,
        // No frames follow: only error_highlight's snippet is known to belong to the message.
        None if lines.get(pos).is_some_and(|l| l.trim().is_empty())
            && lines.get(pos + 2).is_some_and(|l| CARET.is_match(l)) =>
        {
            pos + 3
        }
        None => pos,
    };
    message_lines.extend(lines.get(pos..continuation_end).unwrap_or_default().iter().map(|l| (*l).to_owned()));
    pos = continuation_end;

    // error_highlight (Ruby 3.1+) appends a blank line, the source line and a caret line.
    let snippet = match message_lines.as_slice() {
        [.., blank, source, caret] if blank.trim().is_empty() && CARET.is_match(caret) => Some(source.clone()),
        _ => None,
    };
    if let Some(source) = snippet {
        message_lines.truncate(message_lines.len() - 3);
        if let Some(raising) = frames.first_mut() {
            raising.context = Some(SourceContext { line: source, ..SourceContext::default() });
        }
    }

    let mut frames_omitted = None;
    while let Some(&line) = lines.get(pos) {
        if let Some(from) = FROM.captures(line) {
            frames.push(frame(&from["file"], &from["line"], from.name("label").map(|m| m.as_str())));
        } else if let Some(levels) = LEVELS.captures(line) {
            frames_omitted = levels["n"].parse::<u32>().ok();
        } else {
            break;
        }
        pos += 1;
    }
    frames.reverse();
    let class = &caps["class"];
    let exception = Exception {
        ty: class.to_owned(),
        value: message_lines.join("\n").trim_end().to_owned(),
        module: class.rsplit_once("::").map(|(namespace, _)| namespace.to_owned()),
        frames,
        frames_omitted,
        ..Exception::default()
    };
    Some((exception, pos))
}

fn frame(file: &str, line: &str, label: Option<&str>) -> Frame {
    let (module, function) = match label.and_then(|l| OWNED_LABEL.captures(l)) {
        Some(owned) => (Some(owned["owner"].to_owned()), Some(format!("{}{}", &owned["prefix"], &owned["method"]))),
        None => (None, label.map(str::to_owned)),
    };
    let library = file.starts_with("<internal:") || file.contains("/gems/") || file.contains("/lib/ruby/");
    let absolute = file.starts_with('/') || file.get(1..3).is_some_and(|s| s == ":/" || s == ":\\");
    Frame {
        function,
        module,
        filename: Some(file.to_owned()),
        abs_path: absolute.then(|| file.to_owned()),
        line: line.parse::<u32>().ok().filter(|&n| n > 0),
        in_app: library.then_some(false),
        ..Frame::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Option<(CrashEvent, usize)> {
        let lines: Vec<&str> = text.lines().collect();
        parse(&lines)
    }

    // Ruby 3.4 is not packaged here; the labels are the forms given in ruby/ruby PR #9608 as
    // quoted by getsentry/sentry-ruby PR #2252 (`app.rb:3:in 'Foo#bar'`).
    #[test]
    fn ruby_3_4_labels_name_the_owner() {
        let (event, used) = parse_text(
            "app.rb:3:in 'Foo#bar': boom (RuntimeError)\n\tfrom app.rb:7:in 'block in Foo.run'\n\tfrom app.rb:7:in 'Array#each'\n\tfrom app.rb:10:in '<main>'",
        )
        .expect("trace");
        assert_eq!(used, 4);
        let frames = &event.exceptions[0].frames;
        let labels: Vec<_> = frames.iter().map(|f| (f.module.as_deref(), f.function.as_deref())).collect();
        assert_eq!(
            labels,
            [
                (None, Some("<main>")),
                (Some("Array"), Some("each")),
                (Some("Foo"), Some("block in run")),
                (Some("Foo"), Some("bar"))
            ]
        );
    }

    #[test]
    fn levels_elided_and_internal_frames() {
        let (event, used) = parse_text(
            "<internal:kernel>:90:in `tap': deep (SystemStackError)\n\tfrom app.rb:2:in `a'\n\t ... 10067 levels...\n\tfrom app.rb:9:in `<main>'",
        )
        .expect("trace");
        assert_eq!(used, 4);
        let exception = &event.exceptions[0];
        assert_eq!(exception.frames_omitted, Some(10067));
        assert_eq!(exception.frames.last().and_then(|f| f.in_app), Some(false));
    }

    #[test]
    fn unrelated_lines_are_not_traces() {
        for text in [
            "",
            "Started GET \"/\" for 127.0.0.1",
            "app.rb:3:in `x': warning without a class",
            "\tfrom app.rb:3:in `x'",
            "java.lang.Error: x\n\tat A.b(A.java:1)",
        ] {
            assert!(parse_text(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn truncated_and_garbled_input_yields_what_could_be_read() {
        let (event, used) = parse_text("app.rb:1:in `<main>': boom (RuntimeError)").expect("header only");
        assert_eq!((event.exceptions[0].frames.len(), used), (1, 1));
        let (event, used) =
            parse_text("app.rb:1:in `a': boom (RuntimeError)\n\tfrom app.rb:2:in `b'\n\tfrom app.r\u{fffd}")
                .expect("partial");
        assert_eq!((event.exceptions[0].frames.len(), used), (2, 2));
    }
}
