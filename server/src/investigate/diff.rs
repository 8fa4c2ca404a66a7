//! Unified diffs of proposed changes, for the report and "Show fix".

use crate::sandbox::{FileChange, FileEdit};

const CONTEXT: usize = 3;

/// The text of a file after a change, or why it does not apply.
pub fn apply(original: &str, edit: &FileEdit) -> Result<Option<String>, String> {
    match edit {
        FileEdit::Write { content } => Ok(Some(content.clone())),
        FileEdit::Delete => Ok(None),
        FileEdit::Replace { old, new } => match original.matches(old.as_str()).count() {
            1 => Ok(Some(original.replacen(old.as_str(), new, 1))),
            0 => Err("the text to replace is no longer in the file".to_owned()),
            n => Err(format!("the text to replace occurs {n} times in the file")),
        },
    }
}

/// A unified diff of one file change against the file's current text: every changed region its
/// own hunk with three lines of context (`similar`'s Myers diff, as `git diff` writes it).
pub fn unified_diff(change: &FileChange, original: Option<&str>) -> Result<String, String> {
    let before = original.unwrap_or("");
    let after = apply(before, &change.edit)?;
    let after = after.as_deref().unwrap_or("");
    let header = format!("--- a/{0}\n+++ b/{0}\n", change.path);
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = header.clone();
    for hunk in diff.unified_diff().context_radius(CONTEXT).iter_hunks() {
        out.push_str(&hunk.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_diffs_with_context() {
        let original = "a\nb\nc\nd\ncustomer = x\ne\nf\ng\nh\n";
        let change = FileChange::replace(
            "shop/orders.py",
            "customer = x\n",
            "customer = x\nif customer is None:\n    raise E\n",
        );
        let diff = unified_diff(&change, Some(original)).expect("applies");
        assert_eq!(
            diff,
            "--- a/shop/orders.py\n+++ b/shop/orders.py\n@@ -3,6 +3,8 @@\n c\n d\n customer = x\n+if customer is None:\n+    raise E\n e\n f\n g\n"
        );
    }

    #[test]
    fn changes_far_apart_are_hunks_of_their_own() {
        let original: String = (1..=20).map(|n| format!("line {n}\n")).collect();
        let changed = original.replace("line 2\n", "line two\n").replace("line 18\n", "line 18\nline 18b\n");
        let change = FileChange::write("notes.txt", changed.as_str());
        let diff = unified_diff(&change, Some(&original)).expect("applies");
        assert_eq!(
            diff,
            "--- a/notes.txt\n+++ b/notes.txt\n\
             @@ -1,5 +1,5 @@\n line 1\n-line 2\n+line two\n line 3\n line 4\n line 5\n\
             @@ -16,5 +16,6 @@\n line 16\n line 17\n line 18\n+line 18b\n line 19\n line 20\n"
        );
        assert_eq!(
            unified_diff(&FileChange::write("notes.txt", original.as_str()), Some(&original)).expect("applies"),
            "--- a/notes.txt\n+++ b/notes.txt\n"
        );
    }

    #[test]
    fn a_stale_replacement_says_why() {
        let change = FileChange::replace("a.py", "gone", "x");
        assert_eq!(
            unified_diff(&change, Some("here\n")),
            Err("the text to replace is no longer in the file".to_owned())
        );
    }
}
