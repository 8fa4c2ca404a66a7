//! Values taken out of crash messages, and written back as string literals no input can end early.

/// The text of the first double-quoted string after `after` in a message printed with backslash
/// escapes (Go's `%q`, Rust's `{:?}`, JSON), unescaped. `None` when the quote does not close, holds
/// an escape that cannot be read, or was cut (`...` before the closing quote is kept as text: a cut
/// message is told by the caller).
pub fn escaped_quote(message: &str, after: &str) -> Option<String> {
    let start = message.find(after)? + after.len();
    let rest = &message[start..];
    let rest = &rest[rest.find('"')? + 1..];
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                'x' => {
                    let hex: String = chars.by_ref().take(2).collect();
                    let byte = u8::from_str_radix(&hex, 16).ok().filter(u8::is_ascii)?;
                    out.push(char::from(byte));
                }
                'u' => {
                    let mut ahead = chars.clone();
                    let hex: String = if ahead.next() == Some('{') {
                        let braced: String = ahead.by_ref().take_while(|c| *c != '}').collect();
                        chars = ahead;
                        braced
                    } else {
                        chars.by_ref().take(4).collect()
                    };
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                'U' => {
                    let hex: String = chars.by_ref().take(8).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            other => out.push(other),
        }
    }
    None
}

/// Which escapes a language's string literals read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `\u{1f600}`.
    Rust,
    /// `\uXXXX` UTF-16 units, octal escapes for control characters (Java).
    Java,
    /// `\UXXXXXXXX` (Go).
    Go,
}

/// A string as a double-quoted literal that reads back as exactly that string: quotes, backslashes
/// and control characters are escaped and everything outside printable ASCII is a `\u` escape, so
/// no input can end the literal or the line early (Java reads `\u` escapes before it reads the
/// source, so a literal line break must never come out of one: control characters are escaped as
/// `\u` only where the language reads them inside the literal).
pub fn string_literal(text: &str, dialect: Dialect) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            _ => match dialect {
                Dialect::Rust => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                Dialect::Go => out.push_str(&format!("\\U{:08x}", c as u32)),
                Dialect::Java if (c as u32) < 0x20 => out.push_str(&format!("\\{:03o}", c as u32)),
                Dialect::Java => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            },
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_inputs_come_back_unescaped() {
        let go = r#"strconv.Atoi: parsing "\"+os.Exit(3)+\" `rm -rf /`": invalid syntax"#;
        assert_eq!(escaped_quote(go, "parsing ").as_deref(), Some(r#""+os.Exit(3)+" `rm -rf /`"#));
        let rust = r#"quantity "caf\u{e9}\n" is not a number"#;
        assert_eq!(escaped_quote(rust, "quantity ").as_deref(), Some("café\n"));
        assert_eq!(escaped_quote(r#"parsing "open"#, "parsing "), None);
        assert_eq!(escaped_quote(r#"parsing "\q""#, "parsing "), None);
        assert_eq!(escaped_quote("no quote here", "parsing "), None);
    }

    #[test]
    fn literals_cannot_be_ended_by_their_text() {
        let text = "\"); System.exit(3); (\"\\\n\u{7}é😀";
        assert_eq!(string_literal(text, Dialect::Rust), r#""\"); System.exit(3); (\"\\\n\u{7}\u{e9}\u{1f600}""#);
        assert_eq!(
            string_literal(text, Dialect::Go),
            r#""\"); System.exit(3); (\"\\\n\U00000007\U000000e9\U0001f600""#
        );
        assert_eq!(string_literal(text, Dialect::Java), r#""\"); System.exit(3); (\"\\\n\007\u00e9\ud83d\ude00""#);
    }
}
