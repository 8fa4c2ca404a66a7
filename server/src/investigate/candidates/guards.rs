//! The guard family: check the failing condition first and fall back to something the code already
//! means — skip the element in the enclosing loop, or return the function's own "nothing" value
//! where its other returns (or its declared type) say what that is. A failing call is hoisted into
//! a variable first, so it still runs once (`matches = re.findall(...)`, then `if not matches:`).
//!
//! Python and JavaScript/TypeScript. A guard for a missing record (a key, a lookup that found
//! nothing) is labelled as hiding the symptom: it may silently drop data, and ranks below a change
//! that does not.

use super::super::localize::Location;
use super::super::search::Candidate;
use super::super::{CrashFacts, FailingOperation};
use super::{WorkspaceFile, candidate, indent_of};
use crate::workspace::syntax::{SourceLanguage, enclosing_function, functions, is_identifier};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Python,
    JavaScript,
}

impl Dialect {
    fn of(path: &str) -> Option<(Self, SourceLanguage)> {
        let language = SourceLanguage::from_path(path)?;
        match language {
            SourceLanguage::Python => Some((Dialect::Python, language)),
            SourceLanguage::JavaScript | SourceLanguage::TypeScript | SourceLanguage::Tsx => {
                Some((Dialect::JavaScript, language))
            }
            _ => None,
        }
    }

    fn guard(self, condition: &str, then: &str, indent: &str, unit: &str) -> Vec<String> {
        match self {
            Dialect::Python => vec![format!("{indent}if {condition}:"), format!("{indent}{unit}{then}")],
            Dialect::JavaScript => {
                vec![format!("{indent}if ({condition}) {{"), format!("{indent}{unit}{then}"), format!("{indent}}}")]
            }
        }
    }

    fn skip(self) -> &'static str {
        match self {
            Dialect::Python => "continue",
            Dialect::JavaScript => "continue;",
        }
    }

    fn returning(self, value: &str) -> String {
        match (self, value) {
            (Dialect::Python, "") => "return".to_owned(),
            (Dialect::Python, value) => format!("return {value}"),
            (Dialect::JavaScript, "") => "return;".to_owned(),
            (Dialect::JavaScript, value) => format!("return {value};"),
        }
    }

    fn assign(self, name: &str, value: &str) -> String {
        match self {
            Dialect::Python => format!("{name} = {value}"),
            Dialect::JavaScript => format!("const {name} = {value};"),
        }
    }
}

/// What to check before the crash line: the condition, the expression it is about, and whether a
/// fallback for it hides a missing record.
struct Failure {
    condition: String,
    subject: String,
    missing_record: bool,
}

/// What `container[...]` indexes with on `line`, as written.
fn subscript_of(line: &str, container: &str) -> Option<String> {
    let start = line.find(&format!("{container}["))? + container.len() + 1;
    let mut depth = 1;
    for (offset, c) in line[start..].char_indices() {
        match c {
            '[' | '(' | '{' => depth += 1,
            ']' | ')' | '}' => {
                depth -= 1;
                if depth == 0 {
                    let key = line[start..start + offset].trim();
                    return (!key.is_empty()).then(|| key.to_owned());
                }
            }
            _ => {}
        }
    }
    None
}

/// A Python string literal of `text` (the key a `KeyError` printed, quotes already stripped).
fn python_string(text: &str) -> String {
    let text = text.trim_matches(|c| c == '\'' || c == '"');
    format!("{:?}", text)
}

fn failure(dialect: Dialect, operation: &FailingOperation, line: &str) -> Option<Failure> {
    let missing = |subject: &str| match dialect {
        Dialect::Python => format!("{subject} is None"),
        Dialect::JavaScript => format!("{subject} == null"),
    };
    Some(match (dialect, operation) {
        (_, FailingOperation::AttributeOfMissing { expression, .. })
        | (_, FailingOperation::SubscriptOfMissing { expression }) => {
            Failure { condition: missing(expression), subject: expression.clone(), missing_record: true }
        }
        (Dialect::Python, FailingOperation::MissingKey { container, key }) => {
            // The key as the code writes it (`row[field]`), not as the message printed its value.
            let key = subscript_of(line, container).unwrap_or_else(|| python_string(key));
            Failure { condition: format!("{key} not in {container}"), subject: container.clone(), missing_record: true }
        }
        (Dialect::Python, FailingOperation::IndexOutOfRange { container, index, .. }) => {
            let condition = match index.as_deref() {
                Some(index) if index.starts_with('-') || index == "0" => format!("not {container}"),
                Some(index) => format!("{index} >= len({container})"),
                None => format!("not {container}"),
            };
            Failure { condition, subject: container.clone(), missing_record: false }
        }
        (Dialect::Python, FailingOperation::DivisionByZero { divisor }) => {
            Failure { condition: format!("{divisor} == 0"), subject: divisor.clone(), missing_record: false }
        }
        _ => return None,
    })
}

/// Guards at one location. At the crash site the failing condition is checked; at a caller, the
/// call that crashed is skipped in its loop when it raises the crash's exception (Python).
pub fn candidates(
    file: &WorkspaceFile,
    location: &Location,
    facts: &CrashFacts,
    at_crash_site: bool,
) -> Vec<Candidate> {
    let Some((dialect, language)) = Dialect::of(&file.path) else { return Vec::new() };
    let lines = file.lines();
    let row = location.line.saturating_sub(1) as usize;
    let Some(line) = lines.get(row) else { return Vec::new() };
    if !starts_statement(&lines, row) {
        return Vec::new();
    }
    let spans = functions(language, &file.text);
    let Some(function) = enclosing_function(&spans, row) else { return Vec::new() };
    let indent = indent_of(line).to_owned();
    let unit = super::super::fix::indent_unit(&file.text, language);
    let in_loop = enclosing_loop(dialect, &lines, function.start_line, row).is_some();
    let mut found = Vec::new();

    if !at_crash_site {
        if dialect == Dialect::Python && in_loop && !line.trim_end().ends_with(':') {
            let exception = facts.exception.rsplit('.').next().unwrap_or(&facts.exception);
            if is_identifier(exception) {
                let new_lines = vec![
                    format!("{indent}try:"),
                    format!("{indent}{unit}{}", line.trim()),
                    format!("{indent}except {exception}:"),
                    format!("{indent}{unit}continue"),
                ];
                if let Some(change) = file.replace_rows(row, row, &new_lines) {
                    found.push(candidate(
                        "caller",
                        location,
                        format!("Skip the element in `{}` when the call raises {exception}", function.name),
                        format!(
                            "`{}` calls the crashing code in a loop; one bad element need not stop the others.",
                            function.name
                        ),
                        change,
                        true,
                    ));
                }
            }
        }
        return found;
    }

    let Some(operation) = &facts.failing_operation else { return found };
    let Some(failure) = failure(dialect, operation, line) else {
        found.extend(none_iterable(file, location, facts, row));
        return found;
    };
    // A failing call is hoisted so it runs once.
    let (hoisted, condition, crash_line) = if failure.subject.contains('(') && line.contains(&failure.subject) {
        let name = fresh_name(&file.text, &failure.subject);
        let condition = failure.condition.replace(&failure.subject, &name);
        let condition = match (dialect, operation) {
            // `not matches` reads better than `matches is None` for a hoisted list.
            (Dialect::Python, FailingOperation::IndexOutOfRange { .. }) => format!("not {name}"),
            _ => condition,
        };
        (Some(dialect.assign(&name, &failure.subject)), condition, line.replacen(&failure.subject, &name, 1))
    } else {
        (None, failure.condition.clone(), (*line).to_owned())
    };
    let mut fallbacks: Vec<(String, String, &str)> = Vec::new();
    if in_loop {
        fallbacks.push((dialect.skip().to_owned(), format!("skip the element when {condition}"), "guard"));
    }
    if let Some(nothing) = nothing_value(dialect, &lines, function.start_line, function.end_line) {
        let shown = if nothing.is_empty() { "nothing".to_owned() } else { format!("`{nothing}`") };
        fallbacks.push((dialect.returning(&nothing), format!("return {shown} when {condition}"), "guard"));
    }
    // An assignment from an empty sequence: a neutral value instead (`n = len(rows[0]) if rows else 0`).
    if dialect == Dialect::Python
        && let FailingOperation::IndexOutOfRange { container, index, .. } = operation
        && index.as_deref().is_none_or(|i| i == "0" || i.starts_with('-'))
        && let Some((target, value)) = line.trim().split_once(" = ")
        && is_identifier(target.trim())
        && !value.contains(" if ")
        && !container.contains('(')
    {
        let neutral = if value.trim_start().starts_with("len(") { "0" } else { "None" };
        let new_line = format!("{indent}{} = {} if {container} else {neutral}", target.trim(), value.trim());
        if let Some(change) = file.replace_rows(row, row, &[new_line]) {
            found.push(candidate(
                "guard",
                location,
                format!("In `{}`, `{}` is {neutral} when `{container}` is empty", function.name, target.trim()),
                format!("`{container}` can be empty, and then it has no element to read; `{}` gets the neutral {neutral} instead.", target.trim()),
                change,
                false,
            ));
        }
    }
    for (then, words, family) in fallbacks {
        let mut new_lines: Vec<String> = hoisted.iter().map(|h| format!("{indent}{h}")).collect();
        new_lines.extend(dialect.guard(&condition, &then, &indent, &unit));
        new_lines.push(crash_line.clone());
        let Some(change) = file.replace_rows(row, row, &new_lines) else { continue };
        let rationale = if failure.missing_record {
            format!(
                "`{}` can be missing here; the function {words}, as its other code paths already do. This drops the missing record silently: check that nothing downstream needs it.",
                failure.subject
            )
        } else {
            format!(
                "The crash line fails when {condition}; the function {words} instead, as its other code paths already do."
            )
        };
        found.push(candidate(
            family,
            location,
            format!("In `{}`, {words}", function.name),
            rationale,
            change,
            failure.missing_record,
        ));
    }
    found
}

/// `for x in value:` where value was None: iterate over nothing instead.
fn none_iterable(file: &WorkspaceFile, location: &Location, facts: &CrashFacts, row: usize) -> Vec<Candidate> {
    let lines = file.lines();
    let line = lines[row];
    if !facts.message.contains("'NoneType' object is not iterable") {
        return Vec::new();
    }
    let trimmed = line.trim();
    let Some(rest) = trimmed.strip_prefix("for ") else { return Vec::new() };
    let Some((target, iterable)) = rest.split_once(" in ") else { return Vec::new() };
    let Some(iterable) = iterable.strip_suffix(':') else { return Vec::new() };
    let new_line = format!("{}for {target} in {} or ():", indent_of(line), iterable.trim());
    file.replace_rows(row, row, &[new_line])
        .map(|change| {
            candidate(
                "guard",
                location,
                format!("Iterate over nothing when `{}` is None", iterable.trim()),
                format!(
                    "`{}` is None when there is nothing to go through; the loop then runs zero times.",
                    iterable.trim()
                ),
                change,
                true,
            )
        })
        .into_iter()
        .collect()
}

/// Whether row starts a statement of its own (the previous line does not continue into it).
fn starts_statement(lines: &[&str], row: usize) -> bool {
    let previous = lines[..row].iter().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim_end());
    let continues = previous.is_some_and(|p| p.ends_with(['(', '[', '{', ',', '\\', '+', '-', '*', '/', '.', '=']));
    let line = lines[row].trim();
    !continues
        && brackets_balance(line)
        && !line.is_empty()
        && !line.starts_with(['.', ')', ']', '}'])
        && !line.starts_with("elif ")
        && !line.starts_with("else")
        && !line.starts_with("except")
}

/// Whether a line opens as many brackets as it closes (outside strings): a whole statement, not
/// the first line of a call that goes on below.
fn brackets_balance(line: &str) -> bool {
    let mut depth: i32 = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        if let Some(q) = quote {
            match c {
                '\\' if !escaped => escaped = true,
                c if c == q && !escaped => quote = None,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '#' => break,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth == 0 && quote.is_none()
}

/// The row of the loop holding `row` inside the function starting at `function_start`.
fn enclosing_loop(dialect: Dialect, lines: &[&str], function_start: usize, row: usize) -> Option<usize> {
    let mut indent = indent_of(lines[row]).len();
    for candidate in (function_start + 1..row).rev() {
        let line = lines[candidate];
        if line.trim().is_empty() {
            continue;
        }
        let this = indent_of(line).len();
        if this >= indent {
            continue;
        }
        indent = this;
        let trimmed = line.trim_start();
        let is_loop = match dialect {
            Dialect::Python => {
                trimmed.starts_with("for ") || trimmed.starts_with("while ") || trimmed.starts_with("async for ")
            }
            Dialect::JavaScript => {
                trimmed.starts_with("for (") || trimmed.starts_with("while (") || trimmed.starts_with("for await (")
            }
        };
        if is_loop {
            return Some(candidate);
        }
        // A nested function or a callback ends the search: `continue` would not reach the loop.
        let nested = match dialect {
            Dialect::Python => {
                trimmed.starts_with("def ") || trimmed.starts_with("async def ") || trimmed.starts_with("class ")
            }
            Dialect::JavaScript => trimmed.contains("=>") || trimmed.contains("function"),
        };
        if nested {
            return None;
        }
    }
    None
}

/// The value the function returns for "nothing", when its other returns or its declared type say
/// what that is: `None`, `[]`, `{}`, `""`, `0`, `null`; "" for a bare return.
fn nothing_value(dialect: Dialect, lines: &[&str], start: usize, end: usize) -> Option<String> {
    const NOTHING: &[&str] = &["None", "[]", "{}", "\"\"", "''", "()", "0", "null", "undefined", "false", "False"];
    let body = &lines[start..=end.min(lines.len().saturating_sub(1))];
    let mut returns_something = false;
    for line in body.iter().skip(1) {
        let trimmed = line.trim().trim_end_matches(';');
        if trimmed == "return" {
            return Some(String::new());
        }
        if let Some(value) = trimmed.strip_prefix("return ") {
            let value = value.trim();
            if NOTHING.contains(&value) {
                return Some(value.to_owned());
            }
            returns_something = true;
        }
    }
    let header: String = body.iter().take(3).copied().collect::<Vec<_>>().join(" ");
    if dialect == Dialect::Python
        && let Some((_, annotation)) = header.split_once("->")
    {
        let annotation = annotation.trim();
        return if annotation.starts_with("Optional") || annotation.contains("| None") || annotation.starts_with("None")
        {
            Some("None".to_owned())
        } else if annotation.starts_with("list") || annotation.starts_with("List") {
            Some("[]".to_owned())
        } else if annotation.starts_with("dict") || annotation.starts_with("Dict") {
            Some("{}".to_owned())
        } else if annotation.starts_with("str") {
            Some("\"\"".to_owned())
        } else if annotation.starts_with("int") {
            Some("0".to_owned())
        } else {
            None
        };
    }
    // A function that returns nothing anywhere returns nothing here too.
    (!returns_something).then(String::new)
}

/// A local name for a hoisted call, unused in the file.
fn fresh_name(text: &str, call: &str) -> String {
    let base = if call.contains("findall") || call.contains("matchAll") {
        "matches"
    } else if ["match(", "search(", ".find(", ".get("].iter().any(|method| call.contains(method)) {
        "found"
    } else {
        "result"
    };
    let mut name = base.to_owned();
    let mut n = 2;
    while text.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nothing_value_comes_from_other_returns_or_the_declared_type() {
        let lines: Vec<&str> = "def f(x):\n    if x:\n        return []\n    return x[0]\n".lines().collect();
        assert_eq!(nothing_value(Dialect::Python, &lines, 0, 3), Some("[]".to_owned()));
        let lines: Vec<&str> = "def f(x) -> Optional[int]:\n    return x[0]\n".lines().collect();
        assert_eq!(nothing_value(Dialect::Python, &lines, 0, 1), Some("None".to_owned()));
        let lines: Vec<&str> = "def f(x):\n    print(x[0])\n".lines().collect();
        assert_eq!(nothing_value(Dialect::Python, &lines, 0, 1), Some(String::new()));
        // Only a real value is returned: what "nothing" is cannot be told.
        let lines: Vec<&str> = "def f(x):\n    return x[0]\n".lines().collect();
        assert_eq!(nothing_value(Dialect::Python, &lines, 0, 1), None);
    }

    #[test]
    fn a_missing_key_is_checked_with_the_key_as_the_code_writes_it() {
        let operation = FailingOperation::MissingKey { container: "self.none_format".into(), key: "Status".into() };
        let failure = failure(Dialect::Python, &operation, "        value = self.none_format[field]").expect("a guard");
        assert_eq!(failure.condition, "field not in self.none_format");
        let failure = failure_without_subscript();
        assert_eq!(failure.condition, "\"Status\" not in prices");
    }

    fn failure_without_subscript() -> Failure {
        let operation = FailingOperation::MissingKey { container: "prices".into(), key: "'Status'".into() };
        failure(Dialect::Python, &operation, "    total = lookup(prices)").expect("a guard")
    }

    #[test]
    fn a_line_that_opens_a_call_going_on_below_is_not_a_statement_of_its_own() {
        let lines = vec!["def f(x):", "    emit(x.name,", "         x.value)", "    return x"];
        assert!(!starts_statement(&lines, 1));
        assert!(!starts_statement(&lines, 2));
        assert!(starts_statement(&lines, 3));
        assert!(brackets_balance("    print(\"(\", x)  # (unbalanced in a comment"));
    }

    #[test]
    fn a_loop_is_found_unless_a_nested_function_is_in_between() {
        let lines: Vec<&str> =
            "def f(rows):\n    for row in rows:\n        if row:\n            total = row[0]\n".lines().collect();
        assert_eq!(enclosing_loop(Dialect::Python, &lines, 0, 3), Some(1));
        let lines: Vec<&str> =
            "def f(rows):\n    for row in rows:\n        def g():\n            return row[0]\n".lines().collect();
        assert_eq!(enclosing_loop(Dialect::Python, &lines, 0, 3), None);
    }
}
