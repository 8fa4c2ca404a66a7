//! Markdown that crash text cannot escape from. Crash text is written by whoever triggered the
//! crash: the report, hovers and pull request descriptions show it as text, never as markup,
//! links, HTML or mentions. A leaf module: the report, the pull request body and the hover all
//! use it.

/// A fenced block that no content can break out of: the fence is longer than any backtick run.
pub fn fenced(language: &str, text: &str) -> String {
    let longest = longest_backtick_run(text);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{language}\n{}\n{fence}\n", text.trim_end())
}

/// Inline code that no content can break out of. Line breaks become spaces; padded only where a
/// backtick would otherwise touch the fence (or the text is blank).
pub fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let ticks = "`".repeat(longest_backtick_run(&text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.trim().is_empty() { " " } else { "" };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// Text shown as it is: every character Markdown or HTML would act on is escaped, a bare URL
/// becomes code (so it is no live link), and `@name` cannot mention anyone.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if looks_like_link(word) {
            out.push_str(&code(word));
            continue;
        }
        for c in word.chars() {
            match c {
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '(' | ')' | '!' | '~' | '&' => {
                    out.push('\\');
                    out.push(c);
                }
                // A zero-width space keeps `@team` from notifying anyone on a forge.
                '@' => out.push_str("@\u{200b}"),
                '\n' | '\r' => out.push(' '),
                c => out.push(c),
            }
        }
    }
    out
}

/// Prose Crashloom wrote around quoted code: "`user` is None on the crash line: KeyError 'x'".
/// Code spans stay as they are (their content is literal); everything else is [`escape`]d, so a
/// crash message inside the sentence cannot become a link, HTML or a heading. One line.
pub fn prose(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text.as_str();
    while let Some(open) = rest.find('`') {
        let run = rest[open..].bytes().take_while(|&b| b == b'`').count();
        let after = &rest[open + run..];
        match closing_run(after, run) {
            Some(close) => {
                out.push_str(&escape(&rest[..open]));
                out.push_str(&rest[open..open + run + close + run]);
                rest = &after[close + run..];
            }
            None => {
                // No matching fence: the backticks are text.
                out.push_str(&escape(&rest[..open + run]));
                rest = after;
            }
        }
    }
    out.push_str(&escape(rest));
    out
}

/// Where in `text` a backtick run of exactly `length` starts.
fn closing_run(text: &str, length: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            if run == length {
                return Some(i);
            }
            i += run;
        } else {
            i += 1;
        }
    }
    None
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Words a Markdown renderer would turn into a link on its own (GitHub's autolinks).
fn looks_like_link(word: &str) -> bool {
    let lower = word.trim_start_matches(['(', '<', '"', '\'']).to_ascii_lowercase();
    lower.contains("://") || lower.starts_with("www.") || lower.starts_with("mailto:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_hold_their_text_as_it_is() {
        assert_eq!(code("my_func<T>"), "`my_func<T>`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`tick"), "`` `tick ``");
        assert_eq!(code("line\nbreak"), "`line break`");
        assert_eq!(code(" "), "`   `");
    }

    #[test]
    fn fences_are_longer_than_any_backtick_run_inside() {
        assert!(fenced("text", "x ```\n# heading").starts_with("````text\n"));
        assert!(fenced("", "plain").starts_with("```\n"));
    }

    #[test]
    fn crash_text_becomes_neither_link_nor_html_nor_mention() {
        let message = "see [the docs](http://evil.example/x) <img src=x onerror=alert(1)> @security-team";
        let shown = escape(message);
        assert!(!shown.contains("[the docs]("), "{shown}");
        assert!(shown.contains("\\<img"), "{shown}");
        assert!(shown.contains("`docs](http://evil.example/x)`"), "a bare URL is shown as code: {shown}");
        assert!(!shown.contains("@security"), "{shown}");
        assert_eq!(escape("www.evil.example"), "`www.evil.example`");
        assert_eq!(escape("# not a heading\n* not a list"), "\\# not a heading \\* not a list");
    }

    #[test]
    fn prose_keeps_its_code_spans_and_escapes_the_rest() {
        assert_eq!(prose("`user` is None: KeyError <b>"), "`user` is None: KeyError \\<b\\>");
        assert_eq!(prose("`a` and ``b`c`` then [x](y)"), "`a` and ``b`c`` then \\[x\\]\\(y\\)");
        // An unmatched backtick is text, escaped.
        assert_eq!(prose("it's a ` tick *bold*"), "it's a \\` tick \\*bold\\*");
        assert_eq!(prose("two\nlines"), "two lines");
    }
}
