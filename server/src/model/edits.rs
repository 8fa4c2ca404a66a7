//! Edits in a model's answer: search/replace blocks or a unified diff (also inside a fenced
//! `diff` code block, as many local models answer), applied strictly. A block whose search text does
//! not occur exactly once, a diff hunk that does not match, or a path the change policy refuses is
//! an error to send back to the model, never applied approximately.

use std::collections::BTreeMap;
use std::path::Path;

use crate::sandbox::{ChangePolicy, FileChange, check_change_path};

/// One edit as the model wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub path: String,
    /// Empty for a new file.
    pub old: String,
    pub new: String,
}

/// The edits of an answer and its prose (the summary and rationale around them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedAnswer {
    pub edits: Vec<Edit>,
    pub prose: String,
    /// Blocks that could be told apart as edits but not read (a diff hunk without its file...).
    pub problems: Vec<String>,
}

const SEARCH: &str = "<<<<<<< SEARCH";
const DIVIDER: &str = "=======";
const REPLACE: &str = ">>>>>>> REPLACE";

/// Reads the edits of an answer.
pub fn parse_answer(text: &str) -> ParsedAnswer {
    let mut answer = ParsedAnswer::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut prose = Vec::new();
    let mut last_path: Option<String> = None;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if trimmed == SEARCH {
            // The path is the nearest line above that looks like one.
            let path = prose_path(&prose).or_else(|| last_path.clone());
            let Some(end_search) = (i + 1..lines.len()).find(|&j| lines[j].trim() == DIVIDER) else {
                answer.problems.push("a SEARCH block has no ======= line".into());
                break;
            };
            let Some(end_replace) = (end_search + 1..lines.len()).find(|&j| lines[j].trim() == REPLACE) else {
                answer.problems.push("a SEARCH block has no >>>>>>> REPLACE line".into());
                break;
            };
            match path {
                Some(path) => {
                    answer.edits.push(Edit {
                        path: path.clone(),
                        old: join_lines(&lines[i + 1..end_search]),
                        new: join_lines(&lines[end_search + 1..end_replace]),
                    });
                    last_path = Some(path);
                }
                None => answer.problems.push(
                    "a SEARCH block does not say which file it edits (write the path on the line above it)".into(),
                ),
            }
            // Drop the path line (and an opening fence) from the prose.
            while prose
                .last()
                .is_some_and(|l: &String| l.trim().is_empty() || l.trim().starts_with("```") || looks_like_path(l))
            {
                prose.pop();
            }
            i = end_replace + 1;
            if lines.get(i).is_some_and(|l| l.trim() == "```") {
                i += 1;
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("--- ")
            && lines.get(i + 1).is_some_and(|l| l.trim_start().starts_with("+++ "))
        {
            let old_path = diff_path(rest);
            let new_path = diff_path(lines[i + 1].trim_start().trim_start_matches("+++ "));
            let mut j = i + 2;
            let mut hunks = Vec::new();
            while j < lines.len() && lines[j].starts_with("@@") {
                let mut old = Vec::new();
                let mut new = Vec::new();
                j += 1;
                while j < lines.len()
                    && !lines[j].starts_with("@@")
                    && !lines[j].starts_with("--- ")
                    && !lines[j].starts_with("```")
                {
                    let l = lines[j];
                    if let Some(rest) = l.strip_prefix('-') {
                        old.push(rest);
                    } else if let Some(rest) = l.strip_prefix('+') {
                        new.push(rest);
                    } else if let Some(rest) = l.strip_prefix(' ') {
                        old.push(rest);
                        new.push(rest);
                    } else if l.is_empty() {
                        old.push("");
                        new.push("");
                    } else if l.starts_with('\\') {
                        // "\ No newline at end of file"
                    } else {
                        break;
                    }
                    j += 1;
                }
                // Trailing empty lines are usually the end of the answer, not context.
                while old.last() == Some(&"") && new.last() == Some(&"") {
                    old.pop();
                    new.pop();
                }
                hunks.push((old, new));
            }
            let path =
                if new_path.as_deref() == Some("/dev/null") { old_path.clone() } else { new_path.or(old_path.clone()) };
            match path {
                Some(path) if hunks.is_empty() => answer.problems.push(format!("the diff of {path} has no @@ hunk")),
                Some(path) if old_path.as_deref() == Some("/dev/null") => answer.edits.push(Edit {
                    path,
                    old: String::new(),
                    new: hunks.iter().map(|(_, new)| join_lines(new)).collect::<Vec<_>>().join(""),
                }),
                Some(path) => {
                    for (old, new) in hunks {
                        answer.edits.push(Edit { path: path.clone(), old: join_lines(&old), new: join_lines(&new) });
                    }
                }
                None => answer.problems.push("a diff does not name its file".into()),
            }
            // A fence that closes the diff.
            if prose.last().is_some_and(|l| l.trim().starts_with("```")) {
                prose.pop();
                if lines.get(j).is_some_and(|l| l.trim().starts_with("```")) {
                    j += 1;
                }
            }
            i = j;
            continue;
        }
        prose.push(line.to_owned());
        i += 1;
    }
    answer.prose = prose.join("\n").trim().to_owned();
    answer
}

fn join_lines(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn diff_path(text: &str) -> Option<String> {
    let path = text.split('\t').next()?.trim();
    if path == "/dev/null" {
        return Some(path.to_owned());
    }
    let path = path.strip_prefix("a/").or_else(|| path.strip_prefix("b/")).unwrap_or(path);
    (!path.is_empty()).then(|| path.to_owned())
}

fn looks_like_path(line: &str) -> bool {
    clean_path(line).is_some()
}

/// A path written on its own line (`shop/orders.py`, `**shop/orders.py**`, `File: shop/orders.py`).
fn clean_path(line: &str) -> Option<String> {
    let mut text = line.trim().trim_matches(|c| c == '*' || c == '`' || c == '#' || c == ':').trim();
    for prefix in ["File:", "file:", "Path:", "path:"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest.trim().trim_matches('`');
        }
    }
    let plausible = !text.is_empty()
        && !text.contains(char::is_whitespace)
        && text.contains('.')
        && !text.starts_with("```")
        && text.chars().all(|c| c.is_alphanumeric() || "._-/\\".contains(c));
    plausible.then(|| text.to_owned())
}

fn prose_path(prose: &[String]) -> Option<String> {
    prose.iter().rev().take(3).find_map(|l| clean_path(l))
}

/// The changes the edits make, checked against today's files. Several edits of one file are
/// applied in order to its text; each must match exactly once where it applies.
pub fn apply_strictly(root: &Path, edits: &[Edit], policy: &ChangePolicy) -> Result<Vec<FileChange>, Vec<String>> {
    let tools = super::tools::WorkspaceTools::new(root);
    let mut problems = Vec::new();
    let mut files: BTreeMap<String, (Option<String>, String, usize)> = BTreeMap::new();
    let mut order = Vec::new();
    for (n, edit) in edits.iter().enumerate() {
        let path = edit.path.trim().trim_start_matches("./").to_owned();
        if let Err(reason) = check_change_path(&path, policy) {
            problems.push(format!("edit {} of {path} is refused: {reason}", n + 1));
            continue;
        }
        if !files.contains_key(&path) {
            let original = match tools.resolve(&path) {
                Ok(full) => match std::fs::read_to_string(&full) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        problems.push(format!("edit {} of {path}: cannot read the file ({e})", n + 1));
                        continue;
                    }
                },
                Err(_) if !root.join(&path).exists() => None,
                Err(problem) => {
                    problems.push(format!("edit {} of {path} is refused: {problem}", n + 1));
                    continue;
                }
            };
            let text = original.clone().unwrap_or_default();
            files.insert(path.clone(), (original, text, 0));
            order.push(path.clone());
        }
        let Some((original, text, count)) = files.get_mut(&path) else { continue };
        if edit.old.is_empty() {
            if original.is_some() || *count > 0 {
                problems.push(format!(
                    "edit {} of {path} has an empty SEARCH part but the file exists; copy the lines to replace exactly",
                    n + 1
                ));
            } else {
                *text = edit.new.clone();
                *count += 1;
            }
            continue;
        }
        match text.matches(edit.old.as_str()).count() {
            1 => {
                *text = text.replacen(edit.old.as_str(), &edit.new, 1);
                *count += 1;
            }
            0 if original.is_none() => problems.push(format!("edit {} of {path}: the file does not exist", n + 1)),
            0 => problems.push(format!(
                "edit {} of {path}: the SEARCH text does not occur in the file; copy it exactly (read_file shows today's lines):\n{}",
                n + 1,
                edit.old
            )),
            times => problems.push(format!(
                "edit {} of {path}: the SEARCH text occurs {times} times; include more lines so it matches exactly once",
                n + 1
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut changes = Vec::new();
    for path in order {
        let Some((original, text, count)) = files.remove(&path) else { continue };
        if original.as_deref() == Some(text.as_str()) {
            continue;
        }
        let single = edits.iter().filter(|e| e.path.trim().trim_start_matches("./") == path).collect::<Vec<_>>();
        match (original, count, single.as_slice()) {
            (Some(_), 1, [edit]) => changes.push(FileChange::replace(path, edit.old.clone(), edit.new.clone())),
            _ => changes.push(FileChange::write(path, text)),
        }
    }
    if changes.is_empty() {
        return Err(vec!["the edits change nothing".into()]);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "def receipt(order, customers):\n    customer = customers.get(order[\"customer\"])\n    name = customer[\"name\"]\n    return name\n";

    fn workspace() -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("shop")).expect("mkdir");
        std::fs::write(root.path().join("shop/orders.py"), FILE).expect("write");
        root
    }

    #[test]
    fn search_replace_blocks_apply_when_they_match_once() {
        let answer = parse_answer(
            "Summary: guard the guest\n\nshop/orders.py\n```python\n<<<<<<< SEARCH\n    name = customer[\"name\"]\n=======\n    name = customer[\"name\"] if customer else \"guest\"\n>>>>>>> REPLACE\n```\n",
        );
        assert_eq!(answer.prose, "Summary: guard the guest");
        assert_eq!(answer.edits.len(), 1);
        let root = workspace();
        let changes = apply_strictly(root.path(), &answer.edits, &ChangePolicy::default()).expect("applies");
        assert_eq!(
            changes,
            vec![FileChange::replace(
                "shop/orders.py",
                "    name = customer[\"name\"]\n",
                "    name = customer[\"name\"] if customer else \"guest\"\n"
            )]
        );
    }

    #[test]
    fn a_block_that_does_not_match_exactly_once_is_an_error() {
        let root = workspace();
        let missing =
            Edit { path: "shop/orders.py".into(), old: "    name = customer['name']\n".into(), new: "x\n".into() };
        let problems = apply_strictly(root.path(), &[missing], &ChangePolicy::default()).expect_err("no match");
        assert!(problems[0].contains("does not occur"), "{problems:?}");
        let twice = Edit { path: "shop/orders.py".into(), old: "customer".into(), new: "client".into() };
        let problems = apply_strictly(root.path(), &[twice], &ChangePolicy::default()).expect_err("many");
        assert!(problems[0].contains("occurs 5 times"), "{problems:?}");
        let ci = Edit { path: ".github/workflows/deploy.yml".into(), old: String::new(), new: "run: env\n".into() };
        let problems = apply_strictly(root.path(), &[ci], &ChangePolicy::default()).expect_err("refused");
        assert!(problems[0].contains("CI configuration"), "{problems:?}");
        let outside = Edit { path: "../x.py".into(), old: String::new(), new: "x\n".into() };
        assert!(apply_strictly(root.path(), &[outside], &ChangePolicy::default()).is_err());
    }

    #[test]
    fn a_fenced_unified_diff_becomes_an_exact_replacement() {
        let answer = parse_answer(
            "The customer may be missing.\n\n```diff\n--- a/shop/orders.py\n+++ b/shop/orders.py\n@@ -2,3 +2,5 @@\n     customer = customers.get(order[\"customer\"])\n+    if customer is None:\n+        return \"guest\"\n     name = customer[\"name\"]\n```\nThat is all.",
        );
        assert_eq!(answer.prose, "The customer may be missing.\n\nThat is all.");
        let root = workspace();
        let changes = apply_strictly(root.path(), &answer.edits, &ChangePolicy::default()).expect("applies");
        let crate::sandbox::FileEdit::Replace { old, new } = &changes[0].edit else { panic!("a replacement") };
        assert_eq!(old, "    customer = customers.get(order[\"customer\"])\n    name = customer[\"name\"]\n");
        assert!(new.contains("if customer is None:\n        return \"guest\"\n"));
    }

    #[test]
    fn text_without_edits_has_none() {
        let answer = parse_answer("I think the customer is missing. You should add a check.");
        assert!(answer.edits.is_empty() && answer.problems.is_empty());
        let answer = parse_answer("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n");
        assert_eq!(answer.edits.len(), 0);
        assert_eq!(answer.problems.len(), 1);
    }
}
