//! The bounds family: loops and index arithmetic that run one step too far, for crashes that are
//! an index out of range. In the function of the location (the crash site, or the caller whose
//! loop passed the bad index), each off-by-one shape becomes one candidate:
//! `range(n + 1)` → `range(n)`, `i <= len(x)` → `i < len(x)` (and `.length`, `.len()`, `.size()`),
//! `0..=x.len()` → `0..x.len()`, `x[len(x)]` → `x[len(x) - 1]`.

use std::sync::LazyLock;

use regex::Regex;

use super::super::localize::Location;
use super::super::search::Candidate;
use super::super::{CrashFacts, FailingOperation};
use super::{WorkspaceFile, candidate};
use crate::workspace::syntax::{SourceLanguage, enclosing_function, functions};

struct Shape {
    regex: Regex,
    replacement: &'static str,
    words: &'static str,
}

static SHAPES: LazyLock<Vec<(SourceLanguage, Shape)>> = LazyLock::new(|| {
    let shape = |pattern: &str, replacement: &'static str, words: &'static str| Shape {
        regex: Regex::new(pattern).unwrap_or_else(|error| unreachable!("a bounds shape is invalid: {error}")),
        replacement,
        words,
    };
    let mut shapes = vec![
        (
            SourceLanguage::Python,
            shape(r"range\(([^()]*?(?:\([^()]*\))?[^()]*?)\s*\+\s*1\)", "range($1)", "the loop runs one step too far"),
        ),
        (SourceLanguage::Python, shape(r"\b(\w+)\[len\((\w+)\)\]", "$1[len($2) - 1]", "the index is one past the end")),
        (SourceLanguage::Python, shape(r"<=\s*len\(", "< len(", "the loop condition lets the index reach the length")),
        (SourceLanguage::Rust, shape(r"\.\.=\s*([\w.]+\.len\(\))", "..$1", "the range includes the length")),
    ];
    for language in [SourceLanguage::JavaScript, SourceLanguage::TypeScript, SourceLanguage::Tsx, SourceLanguage::Java]
    {
        shapes.push((
            language,
            shape(r"<=\s*([\w.]+)\.(length|size\(\))", "< $1.$2", "the loop condition lets the index reach the length"),
        ));
    }
    shapes.push((
        SourceLanguage::Go,
        shape(r"<=\s*len\(", "< len(", "the loop condition lets the index reach the length"),
    ));
    shapes.push((
        SourceLanguage::Rust,
        shape(r"<=\s*([\w.]+)\.len\(\)", "< $1.len()", "the loop condition lets the index reach the length"),
    ));
    shapes
});

fn is_out_of_range(facts: &CrashFacts) -> bool {
    matches!(facts.failing_operation, Some(FailingOperation::IndexOutOfRange { .. }))
        || [
            "IndexError",
            "ArrayIndexOutOfBoundsException",
            "IndexOutOfBoundsException",
            "StringIndexOutOfBoundsException",
            "RangeError",
        ]
        .iter()
        .any(|e| facts.exception.ends_with(e))
        || facts.message.contains("index out of range")
        || facts.message.contains("out of bounds")
}

pub fn candidates(file: &WorkspaceFile, location: &Location, facts: &CrashFacts) -> Vec<Candidate> {
    if !is_out_of_range(facts) {
        return Vec::new();
    }
    let Some(language) = SourceLanguage::from_path(&file.path) else { return Vec::new() };
    let spans = functions(language, &file.text);
    let row = location.line.saturating_sub(1) as usize;
    let Some(function) = enclosing_function(&spans, row) else { return Vec::new() };
    let lines = file.lines();
    let mut found = Vec::new();
    for (shape_language, shape) in SHAPES.iter() {
        if *shape_language != language {
            continue;
        }
        let last = function.end_line.min(lines.len().saturating_sub(1));
        for (candidate_row, line) in lines.iter().enumerate().take(last + 1).skip(function.start_line) {
            if !shape.regex.is_match(line) {
                continue;
            }
            let new_line = shape.regex.replacen(line, 1, shape.replacement).into_owned();
            let Some(change) = file.replace_rows(candidate_row, candidate_row, std::slice::from_ref(&new_line)) else {
                continue;
            };
            found.push(candidate(
                "bounds",
                location,
                format!("In `{}`, {} (line {}): `{}`", function.name, shape.words, candidate_row + 1, new_line.trim()),
                format!(
                    "The crash is an index out of range; on line {} of `{}` {}, so the last step reads past the end.",
                    candidate_row + 1,
                    function.name,
                    shape.words
                ),
                change,
                false,
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes_for(language: SourceLanguage, line: &str) -> Vec<String> {
        SHAPES
            .iter()
            .filter(|(l, s)| *l == language && s.regex.is_match(line))
            .map(|(_, s)| s.regex.replacen(line, 1, s.replacement).into_owned())
            .collect()
    }

    #[test]
    fn off_by_one_shapes_are_recognised_per_language() {
        assert_eq!(
            shapes_for(SourceLanguage::Python, "    for i in range(len(items) + 1):"),
            vec!["    for i in range(len(items)):"]
        );
        assert_eq!(
            shapes_for(SourceLanguage::Python, "    for page in range(pages + 1):"),
            vec!["    for page in range(pages):"]
        );
        assert_eq!(
            shapes_for(SourceLanguage::Python, "    last = items[len(items)]"),
            vec!["    last = items[len(items) - 1]"]
        );
        assert_eq!(
            shapes_for(SourceLanguage::JavaScript, "for (let i = 0; i <= rows.length; i++) {"),
            vec!["for (let i = 0; i < rows.length; i++) {"]
        );
        assert_eq!(
            shapes_for(SourceLanguage::Go, "for i := 0; i <= len(rows); i++ {"),
            vec!["for i := 0; i < len(rows); i++ {"]
        );
        assert_eq!(shapes_for(SourceLanguage::Rust, "for i in 0..=rows.len() {"), vec!["for i in 0..rows.len() {"]);
        assert!(shapes_for(SourceLanguage::Python, "    for i in range(len(items)):").is_empty());
        assert!(shapes_for(SourceLanguage::JavaScript, "for (let i = 0; i < rows.length; i++) {").is_empty());
    }
}
