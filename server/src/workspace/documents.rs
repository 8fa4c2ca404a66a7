//! Documents open in the editor: their text (a rope), the crash picture their sites point into,
//! and where each site sits in the text now.
//!
//! Sites follow edits: an edit above a site moves it with the code; an edit on the site's own line
//! leaves it in place, and the diagnostic then says the line changed since the crash. An edit that
//! replaces the site's line along with others (how editors apply a fix) keeps the site on its
//! code when the new text still holds it. A reload keeps every site the document already tracked
//! where the edits took it; a new site is carried through the edits made since the text it was
//! placed in.

use std::collections::HashMap;
use std::sync::Arc;

use ropey::Rope;

use super::sites::{CrashGroup, CrashPicture, Placement, Site, SiteRef, SiteRole};

/// One open document.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: Rope,
    pub version: i32,
    /// Workspace-relative path, when the document is a file of the workspace.
    pub path: Option<String>,
    /// The picture `tracked` points into: a request reads sites, groups and lines from one
    /// snapshot, whatever reload happens meanwhile.
    pub picture: Arc<CrashPicture>,
    pub tracked: Vec<TrackedSite>,
    /// The functions of the current text, computed on first need after each change.
    pub outline: Option<std::sync::Arc<Vec<super::syntax::FunctionSpan>>>,
    /// Counts the changes since the document was opened.
    pub revision: u64,
    /// The changes that moved lines, to carry a line of an older revision to today's text.
    journal: Vec<LineEdit>,
    /// Revisions before this one are not in the journal (a full-text replacement came since).
    journal_start: u64,
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

/// One change, as far as line numbers are concerned.
#[derive(Debug, Clone, Copy)]
struct LineEdit {
    /// The document's revision after the change.
    revision: u64,
    start_line: usize,
    end_line: usize,
    /// The change ends at the start of `end_line` and so leaves that line whole.
    spares_end_line: bool,
    added_lines: usize,
}

impl LineEdit {
    /// Where `line` goes when nothing better is known: down or up with the code above it, to the
    /// same place inside a replaced block (clamped), or nowhere.
    fn carry(&self, line: usize) -> Carried {
        if line > self.end_line || (line == self.end_line && self.spares_end_line) {
            let moved = line as isize + self.added_lines as isize - (self.end_line - self.start_line) as isize;
            Carried::Moved(moved.max(0) as usize)
        } else if line >= self.start_line && !(line == self.start_line && self.start_line == self.end_line) {
            Carried::Replaced(self.start_line + (line - self.start_line).min(self.block_lines() - 1))
        } else {
            Carried::Unchanged(line)
        }
    }
}

impl LineEdit {
    /// How many lines of today's text the new text occupies from `start_line` (at least one).
    fn block_lines(&self) -> usize {
        (self.added_lines + 1).saturating_sub(usize::from(self.spares_end_line)).max(1)
    }
}

enum Carried {
    Unchanged(usize),
    Moved(usize),
    /// The line was inside the replaced text.
    Replaced(usize),
}

impl Carried {
    fn line(&self) -> usize {
        match self {
            Self::Unchanged(line) | Self::Moved(line) | Self::Replaced(line) => *line,
        }
    }
}

/// A site's identity across pictures: the same frame of the same crash at the same reported line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SiteKey {
    group: String,
    role: SiteRole,
    exception: usize,
    frame: usize,
    path: String,
    reported_line: u32,
}

impl SiteKey {
    fn of(group: &CrashGroup, site: &Site) -> Self {
        let reported_line = match site.placement {
            Placement::Moved { from, .. } => from,
            Placement::Confirmed | Placement::Unverified { .. } => site.line,
        };
        Self {
            group: group.id.clone(),
            role: site.role,
            exception: site.exception,
            frame: site.frame,
            path: site.path.clone(),
            reported_line,
        }
    }
}

impl Document {
    pub fn new(text: &str, version: i32, path: Option<String>) -> Self {
        Self {
            text: Rope::from_str(text),
            version,
            path,
            picture: Arc::new(CrashPicture::default()),
            tracked: Vec::new(),
            outline: None,
            revision: 0,
            journal: Vec::new(),
            journal_start: 0,
        }
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

    /// Points the document's sites at `picture`, built from this document's text as of
    /// `placed_in` (a revision; 0 when the picture read the file from disk). A site tracked
    /// before keeps the line the edits took it to. A new one is carried through the edits since
    /// the text it was placed in; a site whose line nothing confirmed was reported against the
    /// code as it was, so it is carried from the text as opened.
    pub fn track(&mut self, picture: Arc<CrashPicture>, placed_in: u64) {
        let before: HashMap<SiteKey, (usize, Option<String>)> = self
            .tracked
            .iter()
            .filter_map(|t| {
                let (group, site) = self.picture.site(&t.site)?;
                Some((SiteKey::of(group, site), (t.line, t.code.clone())))
            })
            .collect();
        let sites = match &self.path {
            Some(path) => picture.sites_in(path),
            None => &[],
        };
        let last = self.text.len_lines().saturating_sub(1);
        self.tracked = sites
            .iter()
            .filter_map(|at| {
                let (group, site) = picture.site(at)?;
                if let Some((line, code)) = before.get(&SiteKey::of(group, site)) {
                    return Some(TrackedSite { site: at.clone(), line: (*line).min(last), code: code.clone() });
                }
                let reported = site.line.saturating_sub(1) as usize;
                Some(match &site.placement {
                    Placement::Unverified { .. } => {
                        let line = self.carry_line(reported, 0).min(last);
                        // What the line holds now stands for the code the crash saw.
                        TrackedSite { site: at.clone(), line, code: self.line_text(line) }
                    }
                    Placement::Confirmed | Placement::Moved { .. } => TrackedSite {
                        site: at.clone(),
                        line: self.carry_line(reported, placed_in).min(last),
                        code: site.code.clone(),
                    },
                })
            })
            .collect();
        self.picture = picture;
    }

    /// A 0-based line of the text as of `revision`, in today's text.
    pub fn carry_line(&self, line: usize, revision: u64) -> usize {
        if revision < self.journal_start {
            return line;
        }
        self.journal.iter().filter(|edit| edit.revision > revision).fold(line, |line, edit| edit.carry(line).line())
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
        let spares_end_line = to == self.text.line_to_char(end_line)
            && (start_line < end_line || { from == self.text.line_to_char(start_line) });
        // The code on each site's line before the change, to find it again in a replaced block.
        let before: Vec<Option<String>> = self.tracked.iter().map(|site| self.line_text(site.line)).collect();
        self.text.remove(from..to);
        self.text.insert(from, new_text);
        self.outline = None;
        self.revision += 1;

        let edit = LineEdit {
            revision: self.revision,
            start_line,
            end_line,
            spares_end_line,
            added_lines: new_text.matches('\n').count(),
        };
        if start_line != end_line || edit.added_lines > 0 {
            self.journal.push(edit);
        }
        let mut tracked = std::mem::take(&mut self.tracked);
        for (site, code_before) in tracked.iter_mut().zip(before) {
            site.line = match edit.carry(site.line) {
                Carried::Unchanged(line) | Carried::Moved(line) => line,
                // The site's line was rewritten with others: its code where the new text holds
                // it (nearest to where it was), else the same place in the block.
                Carried::Replaced(fallback) => {
                    self.find_in_block(code_before.as_deref(), start_line, edit.block_lines(), fallback)
                }
            };
            // A change that starts on the site's line and holds its code on a later line (an
            // editor inserting lines before it, diffed from the line's indentation) moves it.
            if site.line == start_line
                && edit.added_lines > 0
                && !edit.spares_end_line
                && end_line == start_line
                && let Some(code) = &site.code
            {
                site.line = self.find_in_block(Some(code), start_line, edit.block_lines(), start_line);
            }
        }
        let last = self.text.len_lines().saturating_sub(1);
        for site in &mut tracked {
            site.line = site.line.min(last);
        }
        self.tracked = tracked;
    }

    /// The line of the `lines` from `start` that holds `code` (trimmed), nearest to `near`, else
    /// `near`.
    fn find_in_block(&self, code: Option<&str>, start: usize, lines: usize, near: usize) -> usize {
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else { return near };
        (start..start + lines)
            .filter(|line| self.line_text(*line).is_some_and(|text| text.trim() == code))
            .min_by_key(|line| line.abs_diff(near))
            .unwrap_or(near)
    }

    /// Replaces the whole text (a full-document sync) and finds each site's code again: the line
    /// holding it nearest to where the site was, else the site stays (clamped).
    pub fn replace_all(&mut self, new_text: &str) {
        self.text = Rope::from_str(new_text);
        self.outline = None;
        self.revision += 1;
        self.journal.clear();
        self.journal_start = self.revision;
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
        doc.tracked.push(TrackedSite { site: SiteRef { group: Arc::default(), site: 0 }, line, code });
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
    fn a_replacement_covering_the_crash_line_keeps_the_site_on_its_code() {
        // How an editor applies a fix that adds a guard: the lines around the crash rewritten.
        let mut doc = doc_with_site_on(2, "a\n  x = get()\n  crash(x)\nd\n");
        doc.apply_change(at(1, 0), at(3, 0), "  x = get()\n  if x is None:\n    raise E\n  crash(x)\n");
        assert_eq!(doc.tracked[0].line, 4);
        assert_eq!(doc.line_text(4).as_deref(), Some("  crash(x)"));
        assert!(!doc.line_changed(&doc.tracked[0]));
        // A block that no longer holds the code keeps the site at the same place in the block.
        doc.apply_change(at(1, 0), at(5, 0), "  one()\n  two()\n");
        assert_eq!(doc.tracked[0].line, 2);
        assert!(doc.line_changed(&doc.tracked[0]));
    }

    #[test]
    fn lines_inserted_after_the_crash_lines_indentation_move_the_site_to_its_code() {
        // Neovim diffs an applied fix into "insert after the two spaces of the crash line".
        let mut doc = doc_with_site_on(1, "  x = get()\n  crash(x)\n");
        doc.apply_change(at(1, 2), at(1, 2), "if x is None:\n    raise E\n  ");
        assert_eq!(doc.line_text(3).as_deref(), Some("  crash(x)"));
        assert_eq!(doc.tracked[0].line, 3);
        // A line break typed at the end of the crash line leaves the site where it is.
        doc.apply_change(at(3, 10), at(3, 10), "\n");
        assert_eq!(doc.tracked[0].line, 3);
    }

    #[test]
    fn a_line_of_an_older_revision_is_carried_to_todays_text() {
        let mut doc = Document::new("a\nb\nc\nd\ne\nf\n", 1, None);
        doc.apply_change(at(0, 0), at(0, 0), "x\ny\n");
        let after_insert = doc.revision;
        doc.apply_change(at(2, 0), at(3, 0), "");
        doc.apply_change(at(1, 0), at(1, 1), "Y");
        assert_eq!(doc.carry_line(4, 0), 5, "e: two lines added above, one removed");
        assert_eq!(doc.carry_line(6, after_insert), 5);
        assert_eq!(doc.carry_line(0, 0), 2, "a was deleted: the place it was");
        doc.replace_all("new\n");
        assert_eq!(doc.carry_line(4, 0), 4, "nothing is known across a full replacement");
    }

    #[test]
    fn a_full_sync_finds_the_code_again() {
        let mut doc = doc_with_site_on(1, "a\ncrash()\n");
        doc.replace_all("new\nlines\na\ncrash()\n");
        assert_eq!(doc.tracked[0].line, 3);
    }
}
