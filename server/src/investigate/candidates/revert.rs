//! The revert family: the hunk of the commit that last changed a crash line, reverted alone.
//!
//! `git blame` of the crash lines (Code Search) names the commits; for the newest few, the hunk
//! of `git show` that added today's crash line is taken back: its added lines, still present
//! exactly once in today's file, become the lines it removed. A first commit (which added
//! everything) is never reverted. git runs with an argument vector, never through a shell.

use std::path::Path;
use std::process::Command;

use super::super::search::Candidate;
use super::super::{CodeContext, CrashFacts, FixProposal};
use crate::sandbox::FileChange;

/// Commits of the crash lines' history that are tried, newest first.
const COMMITS_TRIED: usize = 3;

pub fn candidates(root: &Path, facts: &CrashFacts, code: &CodeContext) -> Vec<Candidate> {
    let mut found = Vec::new();
    let sites: Vec<_> = facts.crash_site.iter().chain(facts.in_app_path.iter()).collect();
    for commit in code.history.iter().take(COMMITS_TRIED) {
        if !has_parent(root, &commit.commit) {
            continue;
        }
        for place in &commit.lines {
            let Some((path, line)) = place.rsplit_once(':') else { continue };
            let Ok(line) = line.parse::<usize>() else { continue };
            let Ok(today) = std::fs::read_to_string(root.join(path)) else { continue };
            let Some(crash_line) = today.lines().nth(line.saturating_sub(1)) else { continue };
            let Some(hunk) = hunks(root, &commit.commit, path).into_iter().find(|h| h.adds(crash_line)) else {
                continue;
            };
            let Some(change) = hunk.revert(path, &today) else { continue };
            if found.iter().any(|c: &Candidate| c.fix.changes == vec![change.clone()]) {
                continue;
            }
            let short = commit.commit.get(..10).unwrap_or(&commit.commit);
            let function = sites
                .iter()
                .find(|s| s.path == path)
                .and_then(|s| s.function.clone())
                .unwrap_or_else(|| "?".to_owned());
            found.push(Candidate {
                fix: FixProposal {
                    summary: format!("Revert the change {short} made to {path} (\"{}\")", commit.summary),
                    rationale: format!(
                        "{short} by {} on {} last changed the crash line `{}`; taking that hunk back restores the code as it was before the crash could happen.",
                        commit.author,
                        commit.date,
                        crash_line.trim()
                    ),
                    changes: vec![change],
                    hides_symptom: false,
                    by: "offline family revert".to_owned(),
                },
                family: "revert".to_owned(),
                location: format!("{path}:{function}"),
            });
        }
    }
    found
}

fn has_parent(root: &Path, commit: &str) -> bool {
    Command::new("git")
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{commit}^"))
        .current_dir(root)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// One hunk of a commit's diff of a file.
#[derive(Debug, Default, PartialEq)]
struct Hunk {
    removed: Vec<String>,
    added: Vec<String>,
}

impl Hunk {
    fn adds(&self, line: &str) -> bool {
        let line = line.trim();
        !line.is_empty() && self.added.iter().any(|added| added.trim() == line)
    }

    /// The change that takes the hunk back in today's file, when its added lines are still there
    /// exactly once.
    fn revert(&self, path: &str, today: &str) -> Option<FileChange> {
        if self.added.is_empty() {
            return None;
        }
        let added: String = self.added.iter().map(|l| format!("{l}\n")).collect();
        if today.matches(added.as_str()).count() != 1 {
            return None;
        }
        let removed: String = self.removed.iter().map(|l| format!("{l}\n")).collect();
        Some(FileChange::replace(path, added, removed))
    }
}

/// The hunks of `commit`'s change to `path`, without context lines.
fn hunks(root: &Path, commit: &str, path: &str) -> Vec<Hunk> {
    let Ok(output) = Command::new("git")
        .args(["show", "--format=", "--no-color", "--no-ext-diff", "-U0", commit, "--", path])
        .current_dir(root)
        .output()
    else {
        return Vec::new();
    };
    if !output.status.success() {
        return Vec::new();
    }
    parse_hunks(&String::from_utf8_lossy(&output.stdout))
}

fn parse_hunks(diff: &str) -> Vec<Hunk> {
    let mut hunks: Vec<Hunk> = Vec::new();
    let mut in_hunk = false;
    for line in diff.lines() {
        if line.starts_with("@@") {
            hunks.push(Hunk::default());
            in_hunk = true;
            continue;
        }
        if !in_hunk || line.starts_with("+++") || line.starts_with("---") || line.starts_with('\\') {
            continue;
        }
        let Some(hunk) = hunks.last_mut() else { continue };
        if let Some(added) = line.strip_prefix('+') {
            hunk.added.push(added.to_owned());
        } else if let Some(removed) = line.strip_prefix('-') {
            hunk.removed.push(removed.to_owned());
        }
    }
    hunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hunk_is_reverted_only_when_its_lines_are_still_there_once() {
        let diff = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -3 +3 @@ def f():\n-    return items[-1]\n+    return items[len(items)]\n";
        let hunks = parse_hunks(diff);
        assert_eq!(hunks.len(), 1);
        assert!(hunks[0].adds("        return items[len(items)]"));
        let today = "def f(items):\n    x = 1\n    return items[len(items)]\n";
        assert_eq!(
            hunks[0].revert("x.py", today),
            Some(FileChange::replace("x.py", "    return items[len(items)]\n", "    return items[-1]\n"))
        );
        assert_eq!(hunks[0].revert("x.py", "def f(items):\n    return items[0]\n"), None);
        let twice = "    return items[len(items)]\n    return items[len(items)]\n";
        assert_eq!(hunks[0].revert("x.py", twice), None);
    }
}
