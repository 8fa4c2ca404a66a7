//! Documents open in the editor: their text (a rope) and where each crash site sits in it now.
//!
//! Sites follow edits: an edit above a site moves it with the code; an edit on the site's own line
//! leaves it in place, and the diagnostic then says the line changed since the crash.

use ropey::Rope;

use super::sites::SiteRef;

/// One open document.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: Rope,
    pub version: i32,
    /// Workspace-relative path, when the document is a file of the workspace.
    pub path: Option<String>,
    pub tracked: Vec<TrackedSite>,
    /// The functions of the current text, computed on first need after each change.
    pub outline: Option<std::sync::Arc<Vec<super::syntax::FunctionSpan>>>,
}

/// A crash site as it sits in the open document.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedSite {
    pub site: SiteRef,
    /// 0-based line in the current text.
    pub line: usize,
    /// The code the crash saw on that line, to tell whether the line has been edited since.
    pub code: Option<String>,
}

/// A position as a 0-based line and a 0-based character (Unicode scalar) offset in that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharPosition {
    pub line: usize,
    pub character: usize,
}

impl Document {
    pub fn new(text: &str, version: i32, path: Option<String>) -> Self {
        Self { text: Rope::from_str(text), version, path, tracked: Vec::new(), outline: None }
    }

    /// The text of a 0-based line without its line break, if the line exists.
    pub fn line_text(&self, line: usize) -> Option<String> {
        if line >= self.text.len_lines() {
            return None;
        }
        let text = self.text.line(line).to_string();
        Some(text.trim_end_matches(['\n', '\r']).to_owned())
    }

    /// Whether the site's line no longer holds the code the crash saw.
    pub fn line_changed(&self, tracked: &TrackedSite) -> bool {
        match (&tracked.code, self.line_text(tracked.line)) {
            (Some(code), Some(now)) => code.trim() != now.trim(),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Replaces `start..end` with `new_text` and moves the tracked sites accordingly. Positions
    /// beyond the end are clamped, so a confused client cannot make this panic.
    pub fn apply_change(&mut self, start: CharPosition, end: CharPosition, new_text: &str) {
        let (start, end) =
            if (end.line, end.character) < (start.line, start.character) { (end, start) } else { (start, end) };
        let from = self.char_index(start);
        let to = self.char_index(end).max(from);
        // The rope's own view of where the positions landed (after clamping).
        let start_line = self.text.char_to_line(from);
        let end_line = self.text.char_to_line(to);
        let end_at_line_start = to == self.text.line_to_char(end_line);
        let start_at_line_start = from == self.text.line_to_char(start_line);
        self.text.remove(from..to);
        self.text.insert(from, new_text);
        self.outline = None;

        let added = new_text.matches('\n').count() as isize;
        let removed = (end_line - start_line) as isize;
        let delta = added - removed;
        for site in &mut self.tracked {
            let line = site.line;
            let edit_is_above = line > end_line
                || (line == end_line && end_at_line_start && (start_line < end_line || start_at_line_start));
            if edit_is_above {
                site.line = (line as isize + delta).max(0) as usize;
            } else if line > start_line && line <= end_line {
                // The lines holding the site were replaced: keep it where the replacement starts.
                site.line = start_line;
            }
        }
        let last = self.text.len_lines().saturating_sub(1);
        for site in &mut self.tracked {
            site.line = site.line.min(last);
        }
    }

    /// Replaces the whole text (a full-document sync) and finds each site's code again: the line
    /// holding it nearest to where the site was, else the site stays (clamped).
    pub fn replace_all(&mut self, new_text: &str) {
        self.text = Rope::from_str(new_text);
        self.outline = None;
        self.refind_sites();
    }

    /// Moves each tracked site to the line nearest to it that holds its code, if any.
    pub fn refind_sites(&mut self) {
        let lines: Vec<String> = (0..self.text.len_lines()).filter_map(|l| self.line_text(l)).collect();
        let last = lines.len().saturating_sub(1);
        for site in &mut self.tracked {
            let Some(code) = site.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
                site.line = site.line.min(last);
                continue;
            };
            let nearest =
                lines.iter().enumerate().filter(|(_, l)| l.trim() == code).min_by_key(|(i, _)| i.abs_diff(site.line));
            site.line = nearest.map_or(site.line.min(last), |(i, _)| i);
        }
    }

    fn char_index(&self, position: CharPosition) -> usize {
        let lines = self.text.len_lines();
        if position.line >= lines {
            return self.text.len_chars();
        }
        let line_start = self.text.line_to_char(position.line);
        let line_len = self.line_text(position.line).map_or(0, |l| l.chars().count());
        line_start + position.character.min(line_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_with_site_on(line: usize, text: &str) -> Document {
        let mut doc = Document::new(text, 1, None);
        let code = doc.line_text(line);
        doc.tracked.push(TrackedSite { site: SiteRef { group: 0, site: 0 }, line, code });
        doc
    }

    fn at(line: usize, character: usize) -> CharPosition {
        CharPosition { line, character }
    }

    #[test]
    fn lines_inserted_above_move_the_site() {
        let mut doc = doc_with_site_on(2, "a\nb\ncrash()\nd\n");
        doc.apply_change(at(0, 0), at(0, 0), "x\ny\n");
        assert_eq!(doc.tracked[0].line, 4);
        assert!(!doc.line_changed(&doc.tracked[0]));
        // Typing a new line at the end of the line above also pushes the site down.
        doc.apply_change(at(3, 1), at(3, 1), "\nz");
        assert_eq!(doc.tracked[0].line, 5);
        assert_eq!(doc.line_text(5).as_deref(), Some("crash()"));
    }

    #[test]
    fn lines_deleted_above_move_the_site_up() {
        let mut doc = doc_with_site_on(2, "a\nb\ncrash()\n");
        doc.apply_change(at(0, 0), at(2, 0), "");
        assert_eq!(doc.tracked[0].line, 0);
        assert!(!doc.line_changed(&doc.tracked[0]));
    }

    #[test]
    fn editing_the_crash_line_keeps_the_site_and_flags_it() {
        let mut doc = doc_with_site_on(1, "a\ncrash()\nc\n");
        doc.apply_change(at(1, 0), at(1, 5), "safe");
        assert_eq!(doc.tracked[0].line, 1);
        assert!(doc.line_changed(&doc.tracked[0]));
        doc.apply_change(at(1, 0), at(1, 4), "crash");
        assert!(!doc.line_changed(&doc.tracked[0]), "undoing the edit clears the flag");
    }

    #[test]
    fn edits_below_do_nothing_and_wild_positions_are_clamped() {
        let mut doc = doc_with_site_on(0, "crash()\nb\n");
        doc.apply_change(at(1, 0), at(1, 1), "bb\nbbb");
        assert_eq!(doc.tracked[0].line, 0);
        doc.apply_change(at(99, 99), at(120, 0), "tail");
        doc.apply_change(at(5, 0), at(0, 0), "");
        assert!(doc.tracked[0].line < doc.text.len_lines());
    }

    #[test]
    fn a_full_sync_finds_the_code_again() {
        let mut doc = doc_with_site_on(1, "a\ncrash()\n");
        doc.replace_all("new\nlines\na\ncrash()\n");
        assert_eq!(doc.tracked[0].line, 3);
    }
}
