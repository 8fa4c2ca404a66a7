//! The offline candidate families of the fix search. Each family looks at one location (a frame
//! ranked by [`super::localize`]) and proposes the changes it knows, or none when it does not
//! apply; the Sandbox Validator decides which of them really fix the crash.
//!
//! - [`revert`]: the hunk of the commit that last changed the crash lines, reverted alone;
//! - [`guards`]: a guard with a meaningful fallback — skip the element in the enclosing loop, or
//!   return the function's own "nothing" value where its other returns or its type say what that
//!   is — also with the failing call hoisted into a variable so it runs once (`re.findall(...)[0]`);
//! - [`bounds`]: loop bounds and index arithmetic that run one step too far;
//! - [`types`]: Python's type and value errors (mismatched operands, None where a number or a
//!   sequence was meant, reductions of empty sequences, locals read before assignment);
//! - the rules of [`super::fix`] ("raise a clearer error", `?`, initialise the map), kept as
//!   candidates: the ones that raise are labelled `conversion` and rank below any change that makes
//!   the reproduction succeed.

pub mod bounds;
pub mod guards;
pub mod revert;
pub mod types;

use std::path::Path;

use super::localize::{Location, rank_locations};
use super::search::{Candidate, CandidateProposer, ProposalContext};
use super::{FixOutcome, FixProposal, FixProposer};
use crate::sandbox::{ChangePolicy, FileChange, check_change_path};

/// How many of the ranked locations get candidates.
const LOCATIONS_SEARCHED: usize = 3;

/// Every offline family, over the top-ranked locations; proposes everything in the first round.
pub struct OfflineCandidates;

impl CandidateProposer for OfflineCandidates {
    fn name(&self) -> String {
        "offline candidate families".to_owned()
    }

    fn propose(&self, context: &ProposalContext<'_>) -> Vec<Candidate> {
        if context.round > 1 {
            return Vec::new();
        }
        let root = context.input.root.as_path();
        let locations = rank_locations(root, context.facts, context.code);
        let mut found: Vec<Candidate> = Vec::new();
        found.extend(revert::candidates(root, context.facts, context.code));
        for location in locations.iter().take(LOCATIONS_SEARCHED) {
            let Some(file) = WorkspaceFile::read(root, &location.path) else { continue };
            let is_crash_site = rank_is_crash_site(context, location);
            found.extend(guards::candidates(&file, location, context.facts, is_crash_site));
            found.extend(bounds::candidates(&file, location, context.facts));
            if is_crash_site {
                found.extend(types::candidates(&file, location, context.facts));
            }
        }
        // The rules, as before: one change at the crash site.
        if let FixOutcome::Proposed { fix } =
            super::fix::OfflineFixProposer.propose(context.input, context.facts, context.code, context.hypotheses)
        {
            let family = rule_family(&fix);
            let location = context
                .facts
                .crash_site
                .as_ref()
                .map(|s| format!("{}:{}", s.path, s.function.as_deref().unwrap_or("?")))
                .unwrap_or_default();
            found.push(Candidate { fix, family, location });
        }
        found.retain(|c| {
            c.fix.changes.iter().all(|change| check_change_path(&change.path, &ChangePolicy::default()).is_ok())
        });
        found
    }
}

fn rank_is_crash_site(context: &ProposalContext<'_>, location: &Location) -> bool {
    context.facts.crash_site.as_ref().is_some_and(|s| s.path == location.path && s.line == location.line)
}

/// The family of one of the rules' fixes, from what it does.
fn rule_family(fix: &FixProposal) -> String {
    let raises = fix.changes.iter().any(|change| match &change.edit {
        crate::sandbox::FileEdit::Replace { old, new } => {
            let added = new.replacen(old.as_str(), "", 1);
            ["raise ", "throw ", "panic!(", "throw new "].iter().any(|word| added.contains(word) && !old.contains(word))
        }
        _ => false,
    });
    if raises { "conversion".to_owned() } else { "rule".to_owned() }
}

/// A workspace file's text, with the helpers the families share.
pub struct WorkspaceFile {
    pub path: String,
    pub text: String,
}

impl WorkspaceFile {
    pub fn read(root: &Path, path: &str) -> Option<Self> {
        let text = std::fs::read_to_string(root.join(path)).ok()?;
        Some(WorkspaceFile { path: path.to_owned(), text })
    }

    pub fn lines(&self) -> Vec<&str> {
        self.text.lines().collect()
    }

    /// The change that replaces rows `first..=last` (0-based) with `new_lines`, as an exact,
    /// unique snippet of today's file (widened upwards with context until it is unique).
    pub fn replace_rows(&self, first: usize, last: usize, new_lines: &[String]) -> Option<FileChange> {
        let lines = self.lines();
        if last >= lines.len() || first > last {
            return None;
        }
        let mut start = first;
        loop {
            let old: String = lines[start..=last].iter().map(|l| format!("{l}\n")).collect();
            let context: String = lines[start..first].iter().map(|l| format!("{l}\n")).collect();
            let new = format!("{context}{}", new_lines.iter().map(|l| format!("{l}\n")).collect::<String>());
            if self.text.matches(old.as_str()).count() == 1 {
                return (old != new).then(|| FileChange::replace(self.path.clone(), old, new));
            }
            if start == 0 || first - start >= 4 {
                return None;
            }
            start -= 1;
        }
    }
}

/// A candidate for one location.
pub(crate) fn candidate(
    family: &str,
    location: &Location,
    summary: String,
    rationale: String,
    change: FileChange,
    hides_symptom: bool,
) -> Candidate {
    Candidate {
        fix: FixProposal {
            summary,
            rationale,
            changes: vec![change],
            hides_symptom,
            by: format!("offline family {family}"),
        },
        family: family.to_owned(),
        location: location.label(),
    }
}

/// The leading white space of a line.
pub(crate) fn indent_of(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}
