//! The one place that converts between Crashloom's positions and the protocol's: 1-based crash
//! lines to 0-based LSP lines, Unicode-scalar columns to the negotiated encoding's code units,
//! workspace paths to URIs.

use std::path::Path;

use tower_lsp_server::ls_types::{Position, PositionEncodingKind, Range, Uri};

use crate::workspace::documents::CharPosition;

/// The position encoding agreed with the client in `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    Utf8,
    #[default]
    Utf16,
    Utf32,
}

impl Encoding {
    /// Prefers UTF-8 (no conversion work) when the client offers it; UTF-16 is the protocol default.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Self {
        let offered = offered.unwrap_or(&[]);
        if offered.contains(&PositionEncodingKind::UTF8) {
            Self::Utf8
        } else if offered.contains(&PositionEncodingKind::UTF32) && !offered.contains(&PositionEncodingKind::UTF16) {
            Self::Utf32
        } else {
            Self::Utf16
        }
    }

    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Self::Utf8 => PositionEncodingKind::UTF8,
            Self::Utf16 => PositionEncodingKind::UTF16,
            Self::Utf32 => PositionEncodingKind::UTF32,
        }
    }

    fn units(self, c: char) -> u32 {
        match self {
            Self::Utf8 => c.len_utf8() as u32,
            Self::Utf16 => c.len_utf16() as u32,
            Self::Utf32 => 1,
        }
    }

    /// Code units of the first `chars` characters of `line`.
    pub fn column_of(self, line: &str, chars: usize) -> u32 {
        line.chars().take(chars).map(|c| self.units(c)).sum()
    }

    /// The character index in `line` of a column in code units (clamped to the line).
    pub fn char_of(self, line: &str, column: u32) -> usize {
        let mut units = 0;
        for (i, c) in line.chars().enumerate() {
            if units >= column {
                return i;
            }
            units += self.units(c);
        }
        line.chars().count()
    }
}

/// The range a crash mark covers on a line: its code without the indentation and trailing space,
/// or the line start when the line is blank or unknown.
pub fn code_range(line0: usize, line_text: Option<&str>, encoding: Encoding) -> Range {
    let line = line0 as u32;
    let Some(text) = line_text else {
        return Range::new(Position::new(line, 0), Position::new(line, 0));
    };
    let chars: Vec<char> = text.chars().collect();
    let start = chars.iter().position(|c| !c.is_whitespace()).unwrap_or(0);
    let end = chars.iter().rposition(|c| !c.is_whitespace()).map_or(start, |i| i + 1);
    Range::new(Position::new(line, encoding.column_of(text, start)), Position::new(line, encoding.column_of(text, end)))
}

/// An LSP position in a document to a line and character index.
pub fn char_position(position: Position, line_text: Option<&str>, encoding: Encoding) -> CharPosition {
    let character = line_text.map_or(position.character as usize, |t| encoding.char_of(t, position.character));
    CharPosition { line: position.line as usize, character }
}

pub fn file_uri(root: &Path, relative: &str) -> Option<Uri> {
    Uri::from_file_path(root.join(relative))
}

/// The workspace-relative path of a `file:` URI, when it is inside the root.
pub fn relative_path(root: &Path, uri: &Uri) -> Option<String> {
    let path = uri.to_file_path()?;
    let relative = path.strip_prefix(root).ok()?;
    Some(relative.to_string_lossy().replace('\\', "/"))
}

/// 1-based crash line to 0-based LSP line.
pub fn lsp_line(line1: u32) -> usize {
    line1.saturating_sub(1) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_negotiated_encoding() {
        let line = "    total = prix€ + 😀";
        assert_eq!(Encoding::Utf32.column_of(line, 20), 20);
        assert_eq!(Encoding::Utf16.column_of(line, 21), 21, "€ is one UTF-16 unit");
        assert_eq!(Encoding::Utf16.column_of(line, 22), 23, "the emoji is two");
        assert_eq!(Encoding::Utf8.column_of(line, 17), 19, "€ is three bytes");
        assert_eq!(Encoding::Utf16.char_of(line, 23), 22);
        assert_eq!(Encoding::Utf8.char_of(line, 999), line.chars().count());
    }

    #[test]
    fn a_mark_covers_the_code_not_the_indentation() {
        let range = code_range(4, Some("    return order['sku']  "), Encoding::Utf16);
        assert_eq!((range.start, range.end), (Position::new(4, 4), Position::new(4, 23)));
        assert_eq!(code_range(0, Some("   "), Encoding::Utf8).end.character, 0);
    }

    #[test]
    fn negotiation_prefers_utf8_and_defaults_to_utf16() {
        assert_eq!(
            Encoding::negotiate(Some(&[PositionEncodingKind::UTF16, PositionEncodingKind::UTF8])),
            Encoding::Utf8
        );
        assert_eq!(Encoding::negotiate(None), Encoding::Utf16);
    }
}
