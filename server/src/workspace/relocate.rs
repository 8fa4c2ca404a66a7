//! Placing a frame's line in today's file when the code moved since the crash.
//!
//! A crash happened in a deployed release; the workspace has moved on. Two witnesses say where the
//! crashed line is today:
//! - the release's commit: `git diff -U0 <commit> -- <file>` tells how every old line moved
//!   ([`GitLineMap`], the only part here that runs a process);
//! - the frame's captured source (`context.line` with `pre` and `post`), searched for in today's
//!   text ([`place_line`], pure).
//!
//! [`place_line_with_history`] uses git where it knows the release and the captured source
//! otherwise, and always says how it placed the line, or that it could not verify it.

use std::fmt;
use std::path::Path;
use std::process::Command;

use crate::crash::Frame;

/// The line a frame's code is on today, and how Crashloom knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinePlacement {
    /// 1-based, always within today's text (the last line when the file got shorter).
    pub line: u32,
    pub how: PlacedBy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacedBy {
    /// The reported line still holds the captured code.
    Confirmed,
    /// The captured code was found on another line; `context_matches` neighbouring lines agreed.
    SourceContext { from: u32, to: u32, context_matches: usize },
    /// `git diff` from the release's commit moved the line.
    Git { from: u32, to: u32, commit: String },
    /// Shown at the reported line (or near it), unconfirmed.
    Unverified(Unverified),
}

/// Why a placement could not be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unverified {
    /// The crash captured no source for the frame, and no release commit was known.
    NoContext,
    /// The captured line is no longer in the file.
    ContextGone { code: String },
    /// The line was edited or deleted since the release (per git), and the captured source does not
    /// find it either; placed where the change is today.
    ChangedSinceRelease { commit: String, deleted: bool },
}

impl fmt::Display for PlacedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Confirmed => f.write_str("the line still holds the code that crashed"),
            Self::SourceContext { from, to, .. } => {
                write!(f, "the crash reported line {from}; the same code is on line {to} today")
            }
            Self::Git { from, to, commit } => {
                write!(f, "line {from} in {} is line {to} today (git diff)", short_commit(commit))
            }
            Self::Unverified(Unverified::NoContext) => {
                f.write_str("the line is as reported; the crash carried no source to confirm it")
            }
            Self::Unverified(Unverified::ContextGone { code }) => {
                write!(f, "the code that crashed (`{}`) is no longer in the file; the line is as reported", code.trim())
            }
            Self::Unverified(Unverified::ChangedSinceRelease { commit, deleted: true }) => {
                write!(f, "the line that crashed was deleted since {}; shown where it was", short_commit(commit))
            }
            Self::Unverified(Unverified::ChangedSinceRelease { commit, deleted: false }) => {
                write!(f, "the line that crashed was changed since {}; shown where it is now", short_commit(commit))
            }
        }
    }
}

fn short_commit(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// Places a frame's line by its captured source alone (pure).
///
/// Confirmed when the reported line still holds the captured line (compared trimmed); otherwise
/// the captured line is searched for: the candidate whose neighbours best match the captured
/// `pre`/`post` lines wins, ties going to the one nearest the reported line.
pub fn place_line(frame: &Frame, reported_line: u32, current_text: &str) -> LinePlacement {
    let lines: Vec<&str> = current_text.lines().collect();
    let reported = reported_line.max(1);
    let clamped = clamp_line(reported, lines.len());
    let Some(context) = &frame.context else {
        return LinePlacement { line: clamped, how: PlacedBy::Unverified(Unverified::NoContext) };
    };
    let wanted = context.line.trim();
    if line_at(&lines, reported).is_some_and(|l| l.trim() == wanted) {
        return LinePlacement { line: reported, how: PlacedBy::Confirmed };
    }
    let context_matches = |i: usize| {
        let before =
            context.pre.iter().rev().enumerate().filter(|(k, pre)| {
                i.checked_sub(k + 1).and_then(|j| lines.get(j)).is_some_and(|l| l.trim() == pre.trim())
            });
        let after = context
            .post
            .iter()
            .enumerate()
            .filter(|(k, post)| lines.get(i + k + 1).is_some_and(|l| l.trim() == post.trim()));
        before.count() + after.count()
    };
    let best = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == wanted)
        .map(|(i, _)| {
            let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
            (line, context_matches(i), line.abs_diff(reported))
        })
        .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)).then(b.0.cmp(&a.0)));
    match best {
        Some((to, context_matches, _)) => {
            LinePlacement { line: to, how: PlacedBy::SourceContext { from: reported, to, context_matches } }
        }
        None => {
            let code = context.line.clone();
            LinePlacement { line: clamped, how: PlacedBy::Unverified(Unverified::ContextGone { code }) }
        }
    }
}

/// Places a frame's line using the release's history when there is one, and its captured source
/// otherwise (or when the two disagree: the captured source is what actually ran).
pub fn place_line_with_history(
    frame: &Frame,
    reported_line: u32,
    current_text: &str,
    history: Option<&GitLineMap>,
) -> LinePlacement {
    let by_context = place_line(frame, reported_line, current_text);
    let Some(history) = history else {
        return by_context;
    };
    if by_context.how == PlacedBy::Confirmed {
        return by_context;
    }
    let lines: Vec<&str> = current_text.lines().collect();
    let reported = reported_line.max(1);
    let commit = history.commit.clone();
    let fate = history.map_line(reported);
    match fate {
        LineFate::Moved(to) => {
            let agrees = match &frame.context {
                Some(context) => line_at(&lines, to).is_some_and(|l| l.trim() == context.line.trim()),
                None => true,
            };
            if !agrees {
                return by_context;
            }
            if to == reported {
                return LinePlacement { line: to, how: PlacedBy::Confirmed };
            }
            LinePlacement { line: clamp_line(to, lines.len()), how: PlacedBy::Git { from: reported, to, commit } }
        }
        LineFate::Changed { now_at } | LineFate::Deleted { now_at } => {
            if matches!(by_context.how, PlacedBy::SourceContext { .. }) {
                return by_context;
            }
            let deleted = matches!(fate, LineFate::Deleted { .. });
            let how = PlacedBy::Unverified(Unverified::ChangedSinceRelease { commit, deleted });
            LinePlacement { line: clamp_line(now_at, lines.len()), how }
        }
        LineFate::Unknown => by_context,
    }
}

fn line_at<'t>(lines: &[&'t str], line: u32) -> Option<&'t str> {
    lines.get(usize::try_from(line).ok()?.checked_sub(1)?).copied()
}

fn clamp_line(line: u32, line_count: usize) -> u32 {
    let last = u32::try_from(line_count).unwrap_or(u32::MAX).max(1);
    line.clamp(1, last)
}

// ---------------------------------------------------------------------------------------------
// Git

/// How the lines of one file moved between a commit and the working tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLineMap {
    /// The full commit id the map starts from.
    pub commit: String,
    hunks: Vec<Hunk>,
    /// The file did not exist at the commit (or is gone now): old lines have no counterpart.
    unrelated: bool,
}

/// One `@@ -old_start,old_count +new_start,new_count @@` hunk of a `-U0` diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hunk {
    old_start: u32,
    old_count: u32,
    new_start: u32,
    new_count: u32,
}

/// What became of an old line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFate {
    /// The line is unchanged, now at this line.
    Moved(u32),
    /// The line was edited; the edited lines start here today.
    Changed { now_at: u32 },
    /// The line was removed; the code after it starts here today.
    Deleted { now_at: u32 },
    /// The file did not exist at the commit, or no longer exists.
    Unknown,
}

/// Why the release's history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("the release `{0}` is not a plain version or commit name, so it is not passed to git")]
    UnsafeRelease(String),
    #[error("could not run git ({0}); install git or make sure it is on PATH")]
    Spawn(#[source] std::io::Error),
    #[error("git diff failed: {0}")]
    Diff(String),
}

impl GitLineMap {
    /// Reads a `git diff -U0` (pure): only the file header and the hunk headers matter.
    pub fn from_diff(commit: &str, diff: &str) -> Self {
        let mut hunks = Vec::new();
        let mut unrelated = false;
        for line in diff.lines() {
            if line.starts_with("--- /dev/null") || line.starts_with("+++ /dev/null") {
                unrelated = true;
            } else if let Some(hunk) = parse_hunk_header(line) {
                hunks.push(hunk);
            }
        }
        Self { commit: commit.to_owned(), hunks, unrelated }
    }

    /// Where the old line `line` (at the commit) is today.
    pub fn map_line(&self, line: u32) -> LineFate {
        if self.unrelated {
            return LineFate::Unknown;
        }
        let mut shift: i64 = 0;
        for hunk in &self.hunks {
            // A pure insertion (`old_count` 0) goes after old line `old_start`.
            let (first_old, last_old) = if hunk.old_count == 0 {
                (hunk.old_start + 1, hunk.old_start)
            } else {
                (hunk.old_start, hunk.old_start + hunk.old_count - 1)
            };
            if line < first_old {
                break;
            }
            if line <= last_old {
                return if hunk.new_count == 0 {
                    // `new_start` is the line before the gap; the code that followed starts after it.
                    LineFate::Deleted { now_at: hunk.new_start + 1 }
                } else {
                    LineFate::Changed { now_at: hunk.new_start }
                };
            }
            shift += i64::from(hunk.new_count) - i64::from(hunk.old_count);
        }
        LineFate::Moved(u32::try_from((i64::from(line) + shift).max(1)).unwrap_or(u32::MAX))
    }

    /// Diffs `file` (relative to `workspace_root`) between the crash's release and the working tree.
    /// `Ok(None)` when the release does not name a commit of the workspace's repository (or the
    /// workspace is not a git repository).
    pub fn load(workspace_root: &Path, release: &str, file: &str) -> Result<Option<Self>, GitError> {
        let Some(commit) = commit_for_release(workspace_root, release)? else {
            return Ok(None);
        };
        let output = git(workspace_root)
            .args(["diff", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames"])
            .arg(&commit)
            .arg("--")
            .arg(file)
            .output()
            .map_err(GitError::Spawn)?;
        if !output.status.success() {
            return Err(GitError::Diff(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
        }
        Ok(Some(Self::from_diff(&commit, &String::from_utf8_lossy(&output.stdout))))
    }
}

/// `@@ -12,3 +14 @@ def total():` → the hunk; counts default to 1.
fn parse_hunk_header(line: &str) -> Option<Hunk> {
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |text: &str| -> Option<(u32, u32)> {
        match text.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((text.parse().ok()?, 1)),
        }
    };
    let (old_start, old_count) = range(old)?;
    let (new_start, new_count) = range(new)?;
    Some(Hunk { old_start, old_count, new_start, new_count })
}

/// Whether a release string from crash data may be handed to git as a revision: only
/// `[0-9a-zA-Z._/@+-]`, no leading `-` (an option), no `..` (a range).
pub fn is_safe_release(release: &str) -> bool {
    !release.is_empty()
        && release.len() <= 200
        && !release.starts_with('-')
        && !release.contains("..")
        && release.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '@' | '+' | '-'))
}

/// The names a release may go by in git, most specific first: `myapp@1.2.3+abc1234` → itself,
/// `abc1234`, `1.2.3+abc1234`, `1.2.3`, `v1.2.3`.
pub fn release_revisions(release: &str) -> Vec<String> {
    let mut names: Vec<String> = vec![release.to_owned()];
    let mut push = |name: &str| {
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    };
    if let Some((_, sha)) = release.rsplit_once('+') {
        push(sha);
    }
    let version = release.rsplit_once('@').map_or(release, |(_, v)| v);
    push(version);
    let bare_version = version.split('+').next().unwrap_or(version);
    push(bare_version);
    if bare_version.starts_with(|c: char| c.is_ascii_digit()) {
        push(&format!("v{bare_version}"));
    }
    names
}

/// The commit a crash's release names in the workspace's repository, if any.
pub fn commit_for_release(workspace_root: &Path, release: &str) -> Result<Option<String>, GitError> {
    let release = release.trim();
    if !is_safe_release(release) {
        return Err(GitError::UnsafeRelease(release.to_owned()));
    }
    for revision in release_revisions(release).iter().filter(|r| is_safe_release(r)) {
        let output = git(workspace_root)
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("{revision}^{{commit}}"))
            .output()
            .map_err(GitError::Spawn)?;
        if output.status.success() {
            let commit = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            if !commit.is_empty() {
                return Ok(Some(commit));
            }
        }
    }
    Ok(None)
}

/// `git` run in the workspace, reading paths literally and never asking for credentials.
fn git(workspace_root: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("--literal-pathspecs")
        .arg("-C")
        .arg(workspace_root)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null());
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::SourceContext;

    fn with_context(pre: &[&str], line: &str, post: &[&str]) -> Frame {
        let context = SourceContext {
            pre: pre.iter().map(|l| (*l).to_owned()).collect(),
            line: line.to_owned(),
            post: post.iter().map(|l| (*l).to_owned()).collect(),
        };
        Frame { line: Some(3), context: Some(context), ..Frame::default() }
    }

    const ORDERS_AT_RELEASE: &str =
        "def total(order):\n    items = order[\"items\"]\n    return sum(i[\"price\"] for i in items)\n";

    #[test]
    fn an_unchanged_line_is_confirmed() {
        let frame = with_context(&["    items = order[\"items\"]"], "return sum(i[\"price\"] for i in items)", &[]);
        assert_eq!(place_line(&frame, 3, ORDERS_AT_RELEASE), LinePlacement { line: 3, how: PlacedBy::Confirmed });
    }

    #[test]
    fn code_that_moved_down_is_found_by_its_captured_source() {
        let today = format!("import logging\n\nlog = logging.getLogger()\n\n{ORDERS_AT_RELEASE}");
        let frame = with_context(&["    items = order[\"items\"]"], "    return sum(i[\"price\"] for i in items)", &[]);
        let placed = place_line(&frame, 3, &today);
        assert_eq!(
            placed,
            LinePlacement { line: 7, how: PlacedBy::SourceContext { from: 3, to: 7, context_matches: 1 } }
        );
        assert_eq!(placed.how.to_string(), "the crash reported line 3; the same code is on line 7 today");
    }

    #[test]
    fn of_several_copies_the_one_with_matching_neighbours_wins_then_the_nearest() {
        let today = "a = 1\nreturn x\nb = 2\nc = 3\nreturn x\nd = 4\nreturn x\n";
        // `c = 3` before and `d = 4` after point at line 5, though line 2 is nearer to 1.
        assert_eq!(place_line(&with_context(&["c = 3"], "return x", &["d = 4"]), 1, today).line, 5);
        // No neighbour matches anywhere: the nearest copy to the reported line 6.
        assert_eq!(place_line(&with_context(&["zzz"], "return x", &[]), 6, today).line, 5);
        assert_eq!(place_line(&with_context(&[], "return x", &[]), 7, today).how, PlacedBy::Confirmed);
    }

    #[test]
    fn unverifiable_lines_say_why() {
        let no_context = Frame { line: Some(3), ..Frame::default() };
        let placed = place_line(&no_context, 3, ORDERS_AT_RELEASE);
        assert_eq!(placed, LinePlacement { line: 3, how: PlacedBy::Unverified(Unverified::NoContext) });

        let gone = with_context(&[], "    return order.total()", &[]);
        let placed = place_line(&gone, 9, ORDERS_AT_RELEASE);
        assert_eq!(placed.line, 3, "kept inside today's shorter file");
        assert_eq!(
            placed.how,
            PlacedBy::Unverified(Unverified::ContextGone { code: "    return order.total()".into() })
        );
        assert!(placed.how.to_string().contains("(`return order.total()`) is no longer in the file"), "{}", placed.how);
    }

    #[test]
    fn diff_hunks_move_changed_and_deleted_lines() {
        let diff = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+x\n+y\n@@ -5,2 +7,3 @@\n-a\n-b\n+c\n+d\n+e\n@@ -10 +12,0 @@\n-gone\n";
        let map = GitLineMap::from_diff("abc", diff);
        assert_eq!(map.map_line(1), LineFate::Moved(3));
        assert_eq!(map.map_line(4), LineFate::Moved(6));
        assert_eq!(map.map_line(5), LineFate::Changed { now_at: 7 });
        assert_eq!(map.map_line(6), LineFate::Changed { now_at: 7 });
        assert_eq!(map.map_line(7), LineFate::Moved(10));
        assert_eq!(map.map_line(10), LineFate::Deleted { now_at: 13 });
        assert_eq!(map.map_line(11), LineFate::Moved(13));
        assert_eq!(GitLineMap::from_diff("abc", "").map_line(4), LineFate::Moved(4));
        let new_file = "--- /dev/null\n+++ b/f\n@@ -0,0 +1,3 @@\n";
        assert_eq!(GitLineMap::from_diff("abc", new_file).map_line(2), LineFate::Unknown);
    }

    #[test]
    fn only_plain_release_names_reach_git() {
        for release in ["myapp@1.2.3+abc1234", "v2.0.1", "3f5fd8dd41153bc5", "release/2024-06_1"] {
            assert!(is_safe_release(release), "{release}");
        }
        for release in ["--output=/tmp/x", "-c", "a..b", "HEAD@{1}", "x y", "$(rm -rf /)", "", "a;b"] {
            assert!(!is_safe_release(release), "{release}");
        }
        assert_eq!(
            release_revisions("myapp@1.2.3+abc1234"),
            ["myapp@1.2.3+abc1234", "abc1234", "1.2.3+abc1234", "1.2.3", "v1.2.3"]
        );
    }

    /// A repository with `shop/orders.py` as released (tagged `v1.0.0`), then edited by `edit`.
    fn released_repository(edit: impl FnOnce(&str) -> String) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = |args: &[&str]| {
            let output = Command::new("git").args(args).current_dir(dir.path()).output().expect("git runs");
            assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        run(&["init", "-q"]);
        run(&["config", "user.name", "Crash Test"]);
        run(&["config", "user.email", "crash@example.com"]);
        run(&["config", "commit.gpgsign", "false"]);
        std::fs::create_dir_all(dir.path().join("shop")).expect("folder");
        std::fs::write(dir.path().join("shop/orders.py"), ORDERS_AT_RELEASE).expect("write");
        run(&["add", "."]);
        run(&["commit", "-q", "-m", "release 1.0.0"]);
        run(&["tag", "v1.0.0"]);
        let sha = run(&["rev-parse", "HEAD"]);
        std::fs::write(dir.path().join("shop/orders.py"), edit(ORDERS_AT_RELEASE)).expect("write");
        run(&["commit", "-q", "--allow-empty", "-am", "later work"]);
        (dir, sha)
    }

    #[test]
    fn a_line_that_moved_since_the_release_is_placed_through_git() {
        let (dir, sha) = released_repository(|text| format!("import logging\n\n{text}"));
        let release = format!("shop@1.0.0+{}", &sha[..7]);
        let history =
            GitLineMap::load(dir.path(), &release, "shop/orders.py").expect("git works").expect("release known");
        assert_eq!(history.commit, sha);

        let today = std::fs::read_to_string(dir.path().join("shop/orders.py")).expect("read");
        let frame = Frame { line: Some(3), ..Frame::default() };
        let placed = place_line_with_history(&frame, 3, &today, Some(&history));
        assert_eq!(placed, LinePlacement { line: 5, how: PlacedBy::Git { from: 3, to: 5, commit: sha.clone() } });
        assert!(placed.how.to_string().starts_with(&format!("line 3 in {} is line 5 today", &sha[..10])));

        // The tag names the same commit.
        assert_eq!(commit_for_release(dir.path(), "shop@1.0.0").expect("git works"), Some(sha));
    }

    #[test]
    fn a_line_edited_since_the_release_is_shown_unverified() {
        let (dir, sha) = released_repository(|text| text.replace("return sum", "return 0 + sum"));
        let history = GitLineMap::load(dir.path(), "v1.0.0", "shop/orders.py").expect("git works").expect("tag known");
        let today = std::fs::read_to_string(dir.path().join("shop/orders.py")).expect("read");
        let frame = with_context(&[], "    return sum(i[\"price\"] for i in items)", &[]);
        let placed = place_line_with_history(&frame, 3, &today, Some(&history));
        let how = PlacedBy::Unverified(Unverified::ChangedSinceRelease { commit: sha, deleted: false });
        assert_eq!(placed, LinePlacement { line: 3, how });
    }

    #[test]
    fn releases_git_does_not_know_or_should_not_see_are_refused() {
        let (dir, _) = released_repository(str::to_owned);
        assert!(GitLineMap::load(dir.path(), "shop@9.9.9", "shop/orders.py").expect("git works").is_none());
        assert!(matches!(commit_for_release(dir.path(), "--exec=evil"), Err(GitError::UnsafeRelease(_))));
        let not_a_repository = tempfile::tempdir().expect("tempdir");
        assert!(commit_for_release(not_a_repository.path(), "v1.0.0").expect("git runs").is_none());
    }
}
