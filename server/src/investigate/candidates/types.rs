//! Python's type and value errors, the most common crashes of Python programs, at the crash line:
//! - `can only concatenate str (not "int") to str`, `unsupported operand type(s) for +: 'int' and
//!   'str'`: the odd operand converted (`str(x)`, `int(x)`);
//! - an operand or a `len()` of None: `(x or 0)`, `len(x or [])`;
//! - `max() arg is an empty sequence`: `max(x, default=...)` with the function's own nothing;
//! - `UnboundLocalError` (`local variable 'x' referenced before assignment`, `cannot access local
//!   variable 'x'`): the variable given a value at the top of the function.

use std::sync::LazyLock;

use regex::Regex;

use super::super::CrashFacts;
use super::super::localize::Location;
use super::super::search::Candidate;
use super::{WorkspaceFile, candidate, indent_of};
use crate::workspace::syntax::{SourceLanguage, enclosing_function, functions, is_identifier};

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|error| unreachable!("a type-family pattern is invalid: {error}"))
}

static OPERAND: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"([A-Za-z_][\w.]*(?:\[[^\]]*\])?(?:\([^()]*\))?)\s*\+\s*([A-Za-z_][\w.]*(?:\[[^\]]*\])?(?:\([^()]*\))?)")
});
static UNBOUND: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"local variable '(\w+)' referenced before assignment|cannot access local variable '(\w+)'")
});
static UNSUPPORTED: LazyLock<Regex> =
    LazyLock::new(|| regex(r"unsupported operand type\(s\) for [^:]+: '(\w+)' and '(\w+)'"));
static LEN_OF: LazyLock<Regex> = LazyLock::new(|| regex(r"\blen\(([A-Za-z_][\w.]*)\)"));
static EMPTY_REDUCTION: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(max|min)\(([^()]*(?:\([^()]*\))?[^()]*)\)"));

pub fn candidates(file: &WorkspaceFile, location: &Location, facts: &CrashFacts) -> Vec<Candidate> {
    if SourceLanguage::from_path(&file.path) != Some(SourceLanguage::Python) {
        return Vec::new();
    }
    let lines = file.lines();
    let row = location.line.saturating_sub(1) as usize;
    let Some(line) = lines.get(row).copied() else { return Vec::new() };
    let message = facts.message.as_str();
    let mut found = Vec::new();
    let mut on_line = |new_line: String, summary: String, rationale: String, hides: bool| {
        if let Some(change) = file.replace_rows(row, row, &[new_line]) {
            found.push(candidate("types", location, summary, rationale, change, hides));
        }
    };

    if message.starts_with("can only concatenate str")
        && let Some(captures) = OPERAND.captures(line)
    {
        for operand in [&captures[1], &captures[2]] {
            if operand.starts_with("str(") {
                continue;
            }
            let new_line = replace_word(line, operand, &format!("str({operand})"));
            on_line(
                new_line,
                format!("Turn `{operand}` into text before joining it"),
                format!("{message}: `{operand}` is not text; `str({operand})` makes the concatenation work."),
                false,
            );
        }
    }
    if let Some(types) = UNSUPPORTED.captures(message)
        && let Some(operands) = OPERAND.captures(line)
    {
        let (left_type, right_type) = (&types[1], &types[2]);
        let (left, right) = (&operands[1], &operands[2]);
        let mut convert = |operand: &str, into: &str| {
            let new_line = replace_word(line, operand, &into.replace('_', operand));
            on_line(
                new_line,
                format!("Convert `{operand}` with `{}`", into.replace('_', operand)),
                format!("{message}: the operands do not match; `{}` makes them.", into.replace('_', operand)),
                into.contains(" or "),
            );
        };
        match (left_type, right_type) {
            ("str", "int") => convert(left, "int(_)"),
            ("int", "str") => convert(right, "int(_)"),
            ("str", "float") => convert(left, "float(_)"),
            ("float", "str") => convert(right, "float(_)"),
            ("NoneType", _) => convert(left, "(_ or 0)"),
            (_, "NoneType") => convert(right, "(_ or 0)"),
            _ => {}
        }
    }
    if message.contains("object of type 'NoneType' has no len()")
        && let Some(captures) = LEN_OF.captures(line)
    {
        let value = &captures[1];
        on_line(
            line.replacen(&format!("len({value})"), &format!("len({value} or [])"), 1),
            format!("Count `{value}` as empty when it is None"),
            format!("`{value}` is None when there is nothing; `len({value} or [])` counts it as empty."),
            true,
        );
    }
    if message.ends_with("arg is an empty sequence")
        && let Some(captures) = EMPTY_REDUCTION.captures(line)
        && !captures[2].contains("default=")
    {
        let (function, argument) = (&captures[1], &captures[2]);
        // A generator expression must be parenthesised once it is not the only argument.
        let argument = if argument.contains(" for ") && !argument.starts_with('(') {
            format!("({argument})")
        } else {
            argument.to_owned()
        };
        for default in ["None", "0"] {
            on_line(
                line.replacen(&captures[0], &format!("{function}({argument}, default={default})"), 1),
                format!("`{function}` of an empty sequence gives {default}"),
                format!("{message}: with `default={default}` an empty input has an answer instead of a crash."),
                false,
            );
        }
    }
    if let Some(captures) = UNBOUND.captures(message) {
        let name = captures.get(1).or_else(|| captures.get(2)).map(|m| m.as_str()).unwrap_or_default();
        found.extend(unbound_local(file, location, name, row));
    }
    found
}

/// The local variable given `None` at the top of its function, so every path has a value.
fn unbound_local(file: &WorkspaceFile, location: &Location, name: &str, row: usize) -> Option<Candidate> {
    if !is_identifier(name) {
        return None;
    }
    let lines = file.lines();
    let spans = functions(SourceLanguage::Python, &file.text);
    let function = enclosing_function(&spans, row)?;
    // The first line of the body: after the `def` line(s) and a docstring.
    let mut first = function.start_line + 1;
    while first <= function.end_line && !lines.get(first.saturating_sub(1))?.trim_end().ends_with(':') {
        first += 1;
    }
    let body_start = (first..=function.end_line).find(|r| !lines[*r].trim().is_empty())?;
    let mut insert_at = body_start;
    let trimmed = lines[body_start].trim_start();
    if trimmed.starts_with("\"\"\"") || trimmed.starts_with("'''") {
        let quote = &trimmed[..3];
        insert_at = if trimmed.len() > 3 && trimmed[3..].contains(quote) {
            body_start + 1
        } else {
            (body_start + 1..=function.end_line).find(|r| lines[*r].contains(quote))? + 1
        };
    }
    let indent = indent_of(lines[body_start]).to_owned();
    let mut new_lines = vec![format!("{indent}{name} = None")];
    new_lines.push(lines[insert_at].to_owned());
    let change = file.replace_rows(insert_at, insert_at, &new_lines)?;
    Some(candidate(
        "types",
        location,
        format!("Give `{name}` a value (None) at the top of `{}`", function.name),
        format!(
            "`{name}` is only assigned on some paths of `{}`; the path that crashed reads it before any assignment.",
            function.name
        ),
        change,
        false,
    ))
}

/// `line` with the first whole occurrence of `word` replaced.
fn replace_word(line: &str, word: &str, with: &str) -> String {
    line.replacen(word, with, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(line: u32) -> Location {
        Location { path: "app.py".into(), line, function: Some("f".into()), score: 1.0, evidence: Vec::new() }
    }

    fn facts(message: &str) -> CrashFacts {
        CrashFacts { message: message.into(), ..CrashFacts::default() }
    }

    fn new_texts(text: &str, line: u32, message: &str) -> Vec<String> {
        let file = WorkspaceFile { path: "app.py".into(), text: text.into() };
        candidates(&file, &location(line), &facts(message))
            .into_iter()
            .map(|c| match &c.fix.changes[0].edit {
                crate::sandbox::FileEdit::Replace { new, .. } => new.clone(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn concatenating_a_number_to_text_converts_it() {
        let text = "def f(name, count):\n    return name + count\n";
        assert_eq!(
            new_texts(text, 2, "can only concatenate str (not \"int\") to str"),
            vec!["    return str(name) + count\n", "    return name + str(count)\n"]
        );
        assert_eq!(
            new_texts(text, 2, "unsupported operand type(s) for +: 'int' and 'str'"),
            vec!["    return name + int(count)\n"]
        );
        assert_eq!(
            new_texts(text, 2, "unsupported operand type(s) for +: 'int' and 'NoneType'"),
            vec!["    return name + (count or 0)\n"]
        );
    }

    #[test]
    fn an_unbound_local_gets_a_value_after_the_docstring() {
        let text =
            "def f(rows):\n    \"\"\"Totals.\"\"\"\n    for row in rows:\n        total = row\n    return total\n";
        assert_eq!(
            new_texts(text, 5, "cannot access local variable 'total' where it is not associated with a value"),
            vec!["    total = None\n    for row in rows:\n"]
        );
    }

    #[test]
    fn empty_reductions_get_a_default_and_other_messages_nothing() {
        let text = "def f(xs):\n    return max(x * 2 for x in xs)\n";
        assert_eq!(
            new_texts(text, 2, "max() arg is an empty sequence"),
            vec![
                "    return max((x * 2 for x in xs), default=None)\n",
                "    return max((x * 2 for x in xs), default=0)\n"
            ]
        );
        assert!(new_texts(text, 2, "division by zero").is_empty());
    }
}
