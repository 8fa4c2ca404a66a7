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

/// A unified diff of one file change against the file's current text.
pub fn unified_diff(change: &FileChange, original: Option<&str>) -> Result<String, String> {
    let before = original.unwrap_or("");
    let after = apply(before, &change.edit)?;
    let after = after.as_deref().unwrap_or("");
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    // One contiguous changed region: the common prefix and suffix frame it.
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old.iter().rev().zip(new.iter().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
    let (old_end, new_end) = (old.len() - suffix, new.len() - suffix);
    let start = prefix.saturating_sub(CONTEXT);
    let (old_stop, new_stop) = ((old_end + CONTEXT).min(old.len()), (new_end + CONTEXT).min(new.len()));
    let mut out = format!("--- a/{0}\n+++ b/{0}\n", change.path);
    if prefix == old.len() && prefix == new.len() {
        return Ok(out);
    }
    let range =
        |from: usize, to: usize| if to > from { format!("{},{}", from + 1, to - from) } else { format!("{from},0") };
    out.push_str(&format!("@@ -{} +{} @@\n", range(start, old_stop), range(start, new_stop)));
    for line in &old[start..prefix] {
        out.push_str(&format!(" {line}\n"));
    }
    for line in &old[prefix..old_end] {
        out.push_str(&format!("-{line}\n"));
    }
    for line in &new[prefix..new_end] {
        out.push_str(&format!("+{line}\n"));
    }
    for line in &old[old_end..old_stop] {
        out.push_str(&format!(" {line}\n"));
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
    fn a_stale_replacement_says_why() {
        let change = FileChange::replace("a.py", "gone", "x");
        assert_eq!(
            unified_diff(&change, Some("here\n")),
            Err("the text to replace is no longer in the file".to_owned())
        );
    }
}
