//! Agent 4, offline: proposes a minimal change for crash classes that have a standard, safe fix.
//!
//! Each rule (one file per language under `rules/`) looks at the failing operation the Error Analyzer
//! found, today's text of the crashing file and its syntax tree, and either builds one edit or says why
//! it does not apply. The engine then turns the edit into a [`FileChange::replace`] whose `old` text is
//! an exact, unique snippet of today's file, checks that the edited file still parses, and refuses
//! ([`FixOutcome::NoConfidentFix`]) rather than guess when anything does not hold: the crash line is not
//! in the workspace, the file changed since the crash, the snippet is not unique, or the edit would
//! reach outside one function.

#[path = "rules/go.rs"]
mod go;
#[path = "rules/java.rs"]
mod java;
#[path = "rules/javascript.rs"]
mod javascript;
#[path = "rules/python.rs"]
mod python;
#[path = "rules/rust.rs"]
mod rust;

use std::path::Path;

use tree_sitter::{Node, Parser, Tree};

use super::{CodeContext, CrashFacts, CrashInput, FailingOperation, FixOutcome, FixProposal, FixProposer, Hypothesis};
use crate::sandbox::{ChangePolicy, FileChange, check_change_path};
use crate::workspace::syntax::SourceLanguage;

/// The offline fix proposer: a fixed set of rules, no model, no network.
pub struct OfflineFixProposer;

impl FixProposer for OfflineFixProposer {
    fn propose(
        &self,
        input: &CrashInput<'_>,
        facts: &CrashFacts,
        _code: &CodeContext,
        _hypotheses: &[Hypothesis],
    ) -> FixOutcome {
        match propose_fix(&input.root, facts) {
            Ok(fix) => FixOutcome::Proposed { fix },
            Err(reason) => FixOutcome::NoConfidentFix { reason },
        }
    }
}

/// What a rule decided: one edit of the crashing file and how to present it.
pub(super) struct RuleFix {
    pub rule: &'static str,
    pub summary: String,
    pub rationale: String,
    pub edit: Edit,
    pub hides_symptom: bool,
}

/// Replace the bytes `start..end` of the file with `replacement` (`start == end` inserts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Edit {
    pub start: usize,
    pub end: usize,
    pub replacement: String,
}

/// Why a rule does not apply, in a sentence the report shows as is.
pub(super) type RuleResult = Result<RuleFix, String>;

fn propose_fix(root: &Path, facts: &CrashFacts) -> Result<FixProposal, String> {
    let site = facts
        .crash_site
        .as_ref()
        .ok_or("the crash has no frame in the workspace, so there is no line of ours to change")?;
    let operation = facts.failing_operation.as_ref().ok_or_else(|| {
        format!("it is not known what failed on {}:{}, so no rule can tell the change to make", site.path, site.line)
    })?;
    if check_change_path(&site.path, &ChangePolicy::default()).is_err() {
        return Err(format!("{} is not a workspace file the fix may change", site.path));
    }
    let language = SourceLanguage::from_path(&site.path)
        .ok_or_else(|| format!("{} is not in a language the offline rules know", site.path))?;
    let text = std::fs::read_to_string(root.join(&site.path))
        .map_err(|error| format!("the crash line {}:{} is not in the workspace ({error})", site.path, site.line))?;
    let source = Source::parse(&site.path, text, language)?;
    let row = source.crash_row(site.line, site.code.as_deref())?;
    let fix = match language {
        SourceLanguage::Python => python::propose(&source, row, operation),
        SourceLanguage::JavaScript | SourceLanguage::TypeScript | SourceLanguage::Tsx => {
            javascript::propose(&source, row, operation)
        }
        SourceLanguage::Rust => rust::propose(&source, row, operation),
        SourceLanguage::Go => go::propose(&source, row, operation),
        SourceLanguage::Java => java::propose(&source, row, operation),
    }?;
    let (old, new) = source.unique_snippet(&fix.edit)?;
    source.check_still_parses(&fix.edit)?;
    Ok(FixProposal {
        summary: fix.summary,
        rationale: fix.rationale,
        changes: vec![FileChange::replace(site.path.clone(), old, new)],
        hides_symptom: fix.hides_symptom,
        by: format!("offline rule {}", fix.rule),
    })
}

/// Says a failing operation has no rule in this language.
pub(super) fn no_rule(language: &str, operation: &FailingOperation) -> String {
    let what = match operation {
        FailingOperation::AttributeOfMissing { .. } => "reading an attribute of a missing value",
        FailingOperation::SubscriptOfMissing { .. } => "subscripting a missing value",
        FailingOperation::MissingKey { .. } => "a missing key",
        FailingOperation::IndexOutOfRange { .. } => "an index out of range",
        FailingOperation::DivisionByZero { .. } => "a division by zero",
        FailingOperation::UnwrapNone { .. } => "unwrapping None",
        FailingOperation::UnwrapErr { .. } => "unwrapping an Err",
        FailingOperation::NilMapWrite { .. } => "a write into a nil map",
        FailingOperation::NilDereference { .. } => "a nil dereference",
        FailingOperation::NumberParse { .. } => "parsing a number",
        FailingOperation::Other { .. } => "this kind of failure",
    };
    format!("the offline rules have no standard fix for {what} in {language}")
}

/// Today's text of the crashing file with its syntax tree and the helpers every rule uses.
pub(super) struct Source {
    pub path: String,
    pub text: String,
    pub language: SourceLanguage,
    pub tree: Tree,
    line_starts: Vec<usize>,
    unit: String,
}

fn parse_tree(language: SourceLanguage, text: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser.set_language(&language.grammar()).ok()?;
    parser.parse(text, None)
}

impl Source {
    pub fn parse(path: &str, text: String, language: SourceLanguage) -> Result<Self, String> {
        let tree = parse_tree(language, &text).ok_or_else(|| format!("{path} could not be parsed"))?;
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let unit = indent_unit(&text, language);
        Ok(Source { path: path.to_owned(), text, language, tree, line_starts, unit })
    }

    /// The 0-based row of the crash line, after checking today's line still holds the crashed code.
    fn crash_row(&self, line: u32, code: Option<&str>) -> Result<usize, String> {
        let row = (line as usize).checked_sub(1).filter(|row| *row < self.line_count()).ok_or_else(|| {
            format!("{}:{line} is past the end of the file today; the file changed since the crash", self.path)
        })?;
        if let Some(code) = code.map(str::trim).filter(|code| !code.is_empty())
            && self.line(row).trim() != code
        {
            return Err(format!(
                "{}:{line} no longer holds the crashed code `{code}`; the file changed since the crash",
                self.path
            ));
        }
        Ok(row)
    }

    pub fn line_count(&self) -> usize {
        if self.text.ends_with('\n') { self.line_starts.len() - 1 } else { self.line_starts.len() }
    }

    pub fn row_start(&self, row: usize) -> usize {
        self.line_starts.get(row).copied().unwrap_or(self.text.len())
    }

    /// The text of a row without its line ending.
    pub fn line(&self, row: usize) -> &str {
        let start = self.row_start(row);
        let end = self.line_starts.get(row + 1).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    pub fn indent(&self, row: usize) -> &str {
        let line = self.line(row);
        &line[..line.len() - line.trim_start().len()]
    }

    /// One level of indentation as the file writes it.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    pub fn text_of(&self, node: Node<'_>) -> &str {
        &self.text[node.byte_range()]
    }

    pub fn root(&self) -> Node<'_> {
        self.tree.root_node()
    }

    /// Every node under `root` (itself included) that `keep` accepts, outermost first.
    pub fn find<'t>(&self, root: Node<'t>, keep: impl Fn(Node<'t>) -> bool) -> Vec<Node<'t>> {
        let mut found = Vec::new();
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            if keep(node) {
                found.push(node);
            }
            let mut cursor = node.walk();
            let children: Vec<Node<'t>> = node.children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
        found
    }

    /// Nodes of one of `kinds` on the crash row (starting on it, or spanning it).
    /// Of the divisions on a line, the one by `divisor` (or the only one): the division that failed.
    pub fn the_division_by<'t>(&self, divisions: &[Node<'t>], divisor: &str, row: usize) -> Result<Node<'t>, String> {
        let matching: Vec<Node<'t>> = divisions
            .iter()
            .copied()
            .filter(|node| node.child_by_field_name("right").is_some_and(|r| same_code(self.text_of(r), divisor)))
            .collect();
        match (matching.as_slice(), divisions) {
            ([one], _) | ([], [one]) => Ok(*one),
            _ => Err(format!("line {} does not hold exactly one division by `{divisor}`", row + 1)),
        }
    }

    pub fn on_row(&self, row: usize, kinds: &[&str]) -> Vec<Node<'_>> {
        self.find(self.root(), |node| {
            kinds.contains(&node.kind()) && node.start_position().row <= row && row <= node.end_position().row
        })
    }

    pub fn is_function(&self, node: Node<'_>) -> bool {
        self.language.is_function(node.kind())
    }

    /// The innermost function holding `node`.
    pub fn enclosing_function<'t>(&self, node: Node<'t>) -> Option<Node<'t>> {
        let mut current = node.parent();
        while let Some(candidate) = current {
            if self.is_function(candidate) {
                return Some(candidate);
            }
            current = candidate.parent();
        }
        None
    }

    /// A function's name, for messages.
    pub fn function_name(&self, function: Node<'_>) -> String {
        function.child_by_field_name("name").map(|name| self.text_of(name).to_owned()).unwrap_or_else(|| {
            function
                .parent()
                .and_then(|parent| parent.child_by_field_name("name"))
                .map(|name| self.text_of(name).to_owned())
                .unwrap_or_else(|| "the function".to_owned())
        })
    }

    fn is_block(&self, kind: &str) -> bool {
        match self.language {
            SourceLanguage::Python => matches!(kind, "block" | "module"),
            SourceLanguage::JavaScript | SourceLanguage::TypeScript | SourceLanguage::Tsx => {
                matches!(kind, "statement_block" | "program" | "switch_case" | "switch_default")
            }
            SourceLanguage::Rust => kind == "block",
            SourceLanguage::Go => matches!(
                kind,
                "block" | "statement_list" | "expression_case" | "default_case" | "type_case" | "communication_case"
            ),
            SourceLanguage::Java => {
                matches!(kind, "block" | "constructor_body" | "switch_block_statement_group" | "program")
            }
        }
    }

    /// The statement holding `node`: its nearest ancestor (or itself) that sits directly in a block.
    /// `None` when a function boundary comes first (the node is inside a callback or lambda).
    pub fn statement_of<'t>(&self, node: Node<'t>) -> Option<Node<'t>> {
        let mut current = node;
        loop {
            let parent = current.parent()?;
            if self.is_block(parent.kind()) && current.is_named() {
                return Some(current);
            }
            if self.is_function(parent) {
                return None;
            }
            current = parent;
        }
    }

    /// Inserts `lines` (each `(depth, text)`, depth in indentation units below the statement's own)
    /// on new lines right before `statement`.
    pub fn insert_before(&self, statement: Node<'_>, lines: &[(usize, String)]) -> Result<Edit, String> {
        let row = statement.start_position().row;
        let start = self.row_start(row);
        if !self.text[start..statement.start_byte()].trim().is_empty() {
            return Err(format!(
                "line {} holds other code before the crashing statement; a change there needs a person",
                row + 1
            ));
        }
        Ok(Edit { start, end: start, replacement: self.render(self.indent(row), lines) })
    }

    /// Inserts `lines` on new lines right after `statement`, at its indentation.
    pub fn insert_after(&self, statement: Node<'_>, lines: &[(usize, String)]) -> Result<Edit, String> {
        let last_row = statement.end_position().row;
        let rest = self.line(last_row)[statement.end_position().column.min(self.line(last_row).len())..].trim();
        if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with("//")) {
            return Err(format!(
                "line {} holds other code after the statement; a change there needs a person",
                last_row + 1
            ));
        }
        let line_end = self.row_start(last_row) + self.line(last_row).len();
        let mut rendered = self.render(self.indent(statement.start_position().row), lines);
        rendered.pop();
        Ok(Edit { start: line_end, end: line_end, replacement: format!("\n{rendered}") })
    }

    /// Replaces `statement` (whole lines) with `lines` at its indentation.
    pub fn replace_statement(&self, statement: Node<'_>, lines: &[(usize, String)]) -> Result<Edit, String> {
        let mut edit = self.insert_before(statement, lines)?;
        let last_row = statement.end_position().row;
        let rest = self.line(last_row)[statement.end_position().column.min(self.line(last_row).len())..].trim();
        if !rest.is_empty() {
            return Err(format!(
                "line {} holds other code after the statement; a change there needs a person",
                last_row + 1
            ));
        }
        edit.end = self.row_start(last_row + 1);
        if edit.end == self.text.len() && !self.text.ends_with('\n') {
            edit.replacement.pop();
        }
        Ok(edit)
    }

    /// Replaces exactly one node's text.
    pub fn replace_node(&self, node: Node<'_>, replacement: String) -> Edit {
        Edit { start: node.start_byte(), end: node.end_byte(), replacement }
    }

    fn render(&self, indent: &str, lines: &[(usize, String)]) -> String {
        let mut out = String::new();
        for (depth, line) in lines {
            out.push_str(indent);
            for _ in 0..*depth {
                out.push_str(&self.unit);
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    fn row_of(&self, byte: usize) -> usize {
        self.line_starts.partition_point(|start| *start <= byte).saturating_sub(1)
    }

    /// The edit as `(old, new)` where `old` is whole lines of today's file that occur exactly once,
    /// widened by neighbouring lines of the same function until they do.
    fn unique_snippet(&self, edit: &Edit) -> Result<(String, String), String> {
        let at = |byte: usize| self.root().descendant_for_byte_range(byte, byte);
        let function_at = |byte: usize| at(byte).and_then(|node| self.enclosing_function_or_self(node));
        let end_probe = if edit.end > edit.start { edit.end - 1 } else { edit.end };
        let probe_start = edit.start.min(self.text.len().saturating_sub(1));
        let (function_start, function_end) = (function_at(probe_start), function_at(end_probe));
        if function_start.map(|f| f.id()) != function_end.map(|f| f.id()) {
            return Err("the change would reach into more than one function; that needs a person".into());
        }
        let (low, high) = match function_start {
            Some(function) => (function.start_position().row, function.end_position().row),
            None => (0, self.line_count().saturating_sub(1)),
        };
        let mut first = self.row_of(edit.start);
        let mut last = if edit.end > edit.start { self.row_of(edit.end - 1) } else { first };
        loop {
            let from = self.row_start(first);
            let to = self.line_starts.get(last + 1).copied().unwrap_or(self.text.len());
            let old = &self.text[from..to];
            if !old.trim().is_empty() && self.text.matches(old).count() == 1 {
                let new = format!("{}{}{}", &self.text[from..edit.start], edit.replacement, &self.text[edit.end..to]);
                return Ok((old.to_owned(), new));
            }
            if first > low {
                first -= 1;
            } else if last < high {
                last += 1;
            } else {
                return Err(format!(
                    "the code to change occurs more than once in {} (the same lines appear elsewhere), so no \
                     snippet names it uniquely",
                    self.path
                ));
            }
        }
    }

    fn enclosing_function_or_self<'t>(&self, node: Node<'t>) -> Option<Node<'t>> {
        if self.is_function(node) { Some(node) } else { self.enclosing_function(node) }
    }

    fn check_still_parses(&self, edit: &Edit) -> Result<(), String> {
        let edited = format!("{}{}{}", &self.text[..edit.start], edit.replacement, &self.text[edit.end..]);
        let parses = parse_tree(self.language, &edited).is_some_and(|tree| !tree.root_node().has_error());
        if !parses && !self.root().has_error() {
            return Err(format!("the change the rule built would not parse in {}; proposing nothing", self.path));
        }
        Ok(())
    }
}

/// One level of indentation as the file writes it: a tab when lines start with tabs, else the
/// smallest step between indented lines (4 spaces when nothing tells).
/// One level of indentation as the file writes it: tabs when most indented lines start with one,
/// else the most common step by which a line is indented deeper than the line before it (so a
/// docstring's one-space continuation does not pass for the file's indentation).
pub(super) fn indent_unit(text: &str, language: SourceLanguage) -> String {
    let indents: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| &line[..line.len() - line.trim_start().len()])
        .collect();
    let indented: Vec<&&str> = indents.iter().filter(|indent| !indent.is_empty()).collect();
    let tabs = indented.iter().filter(|indent| indent.starts_with('\t')).count();
    if (language == SourceLanguage::Go && indented.is_empty()) || tabs * 2 > indented.len() && tabs > 0 {
        return "\t".to_owned();
    }
    let mut steps: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for pair in indents.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        if after.len() > before.len() && after.chars().all(|c| c == ' ') && before.chars().all(|c| c == ' ') {
            *steps.entry(after.len() - before.len()).or_default() += 1;
        }
    }
    let step = steps.iter().max_by_key(|(step, count)| (**count, std::cmp::Reverse(**step))).map(|(step, _)| *step);
    " ".repeat(step.unwrap_or(4))
}

pub(super) use crate::workspace::syntax::is_identifier;

/// Whether `text` is a chain of names and field accesses (`a`, `a.b`, `self.c`) with no calls.
pub(super) fn is_name_chain(text: &str) -> bool {
    !text.is_empty() && text.split('.').all(is_identifier)
}

/// Source text compared without whitespace differences.
pub(super) fn same_code(a: &str, b: &str) -> bool {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    squash(a) == squash(b)
}

/// Escapes text for a double-quoted string literal in C-like languages (and Python).
pub(super) fn escape_double_quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod indent_tests {
    use super::*;

    #[test]
    fn the_indent_unit_is_the_files_usual_step_not_a_docstrings_odd_line() {
        let text =
            "def f(x):\n    \"\"\"Totals.\n\n     continued\n    \"\"\"\n    if x:\n        return 1\n    return 0\n";
        assert_eq!(indent_unit(text, SourceLanguage::Python), "    ");
        assert_eq!(indent_unit("func f() {\n\tx := 1\n}\n", SourceLanguage::Go), "\t");
        assert_eq!(indent_unit("function f() {\n  if (x) {\n    y();\n  }\n}\n", SourceLanguage::JavaScript), "  ");
    }
}
