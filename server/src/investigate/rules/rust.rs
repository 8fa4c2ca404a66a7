//! Rust rules: `unwrap()`/`expect()` on None or Err, indexing past the end, integer division by zero.
//! Each propagates the failure with `?` in the function's own return type; a function that returns
//! neither Option nor a Result with a known error type has no error path, and gets no fix.

use tree_sitter::Node;

use super::{RuleFix, RuleResult, Source, escape_double_quoted, no_rule, same_code};
use crate::investigate::FailingOperation;

pub(super) fn propose(source: &Source, row: usize, operation: &FailingOperation) -> RuleResult {
    match operation {
        FailingOperation::UnwrapNone { expression } => unwrap(source, row, expression, false),
        FailingOperation::UnwrapErr { expression, .. } => unwrap(source, row, expression, true),
        FailingOperation::IndexOutOfRange { container, .. } => index(source, row, container),
        FailingOperation::DivisionByZero { divisor } => division(source, row, divisor),
        other => Err(no_rule("Rust", other)),
    }
}

/// What the enclosing function returns, as far as error handling goes.
enum Returns {
    Option,
    /// `Result<_, String>`.
    ResultOfString,
    /// `Result<_, Box<dyn Error ...>>`: every error and `&str` convert into it.
    ResultOfBoxedError,
    Anyhow,
    Io,
}

fn returns(source: &Source, node: Node<'_>, row: usize) -> Result<(Returns, String), String> {
    let function = source.enclosing_function(node).ok_or("the crash is outside any function")?;
    if function.kind() == "closure_expression" {
        return Err(format!(
            "line {} is inside a closure; `?` there would return from the closure, not the function",
            row + 1
        ));
    }
    let name = source.function_name(function);
    let declared = function.child_by_field_name("return_type").map_or("()", |t| source.text_of(t)).trim();
    let generic = |prefix: &str| declared.strip_prefix(prefix).and_then(|rest| rest.strip_suffix('>'));
    let imports = |path: &str| source.text.contains(path);
    let kind = if declared.starts_with("Option<") {
        Returns::Option
    } else if generic("anyhow::Result<").is_some() {
        Returns::Anyhow
    } else if generic("io::Result<").is_some() || generic("std::io::Result<").is_some() {
        Returns::Io
    } else if let Some(arguments) = generic("Result<") {
        match split_top_level(arguments).as_slice() {
            [_, error] => match error.trim() {
                "String" => Returns::ResultOfString,
                e if e.starts_with("Box<dyn") && e.contains("Error") => Returns::ResultOfBoxedError,
                "anyhow::Error" => Returns::Anyhow,
                "io::Error" | "std::io::Error" => Returns::Io,
                e => {
                    return Err(format!(
                        "`{name}` returns errors of type `{e}`, and which of its variants fits this failure needs \
                         a person"
                    ));
                }
            },
            [_] if imports("use anyhow::Result") || imports("anyhow::{Result") => Returns::Anyhow,
            [_] if imports("use std::io::Result") => Returns::Io,
            _ => return Err(format!("`{name}` returns `{declared}`, whose error type is not known here")),
        }
    } else {
        return Err(format!(
            "`{name}` returns `{declared}`, so the failure has no error path to take; making it return Option or \
             Result changes its callers, which needs a person (an `expect` would only document the panic)"
        ));
    };
    Ok((kind, name))
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0i32, 0, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// The text after an Option-valued expression that propagates its None with `message`.
fn propagate_none(source: &Source, returns: &Returns, message: &str) -> String {
    let quoted = format!("\"{}\"", escape_double_quoted(message));
    match returns {
        Returns::Option => "?".to_owned(),
        Returns::ResultOfString | Returns::ResultOfBoxedError => format!(".ok_or({quoted})?"),
        Returns::Anyhow if source.text.contains("Context") => format!(".context({quoted})?"),
        Returns::Anyhow => {
            format!(".ok_or_else(|| anyhow::anyhow!({}))?", quoted.replace('{', "{{").replace('}', "}}"))
        }
        Returns::Io => format!(".ok_or_else(|| std::io::Error::other({quoted}))?"),
    }
}

fn unwrap(source: &Source, row: usize, expression: &str, on_err: bool) -> RuleResult {
    let calls: Vec<(Node<'_>, Node<'_>)> = source
        .on_row(row, &["call_expression"])
        .into_iter()
        .filter_map(|call| {
            let callee = call.child_by_field_name("function").filter(|f| f.kind() == "field_expression")?;
            let method = source.text_of(callee.child_by_field_name("field")?);
            matches!(method, "unwrap" | "expect").then_some((call, callee.child_by_field_name("value")?))
        })
        .collect();
    let matching: Vec<_> = calls.iter().filter(|(_, value)| same_code(source.text_of(*value), expression)).collect();
    let (call, value) = match (matching.as_slice(), calls.as_slice()) {
        ([one], _) => **one,
        ([], [one]) => *one,
        _ => return Err(format!("line {} does not hold exactly one `unwrap`/`expect` of `{expression}`", row + 1)),
    };
    let (returns, function) = returns(source, call, row)?;
    let value_text = source.text_of(value);
    let (suffix, hides_symptom, how) = if on_err {
        let message = format!("{value_text} failed");
        match returns {
            Returns::Option => {
                (".ok()?".to_owned(), true, "turns the error into None for the caller, dropping its detail".to_owned())
            }
            Returns::ResultOfString => {
                let format = escape_double_quoted(&message).replace('{', "{{").replace('}', "}}");
                (
                    format!(".map_err(|error| format!(\"{format}: {{error}}\"))?"),
                    false,
                    "propagates the error to the caller with what failed".to_owned(),
                )
            }
            Returns::ResultOfBoxedError => ("?".to_owned(), false, "propagates the error to the caller".to_owned()),
            Returns::Anyhow => ("?".to_owned(), false, "propagates the error to the caller".to_owned()),
            Returns::Io => (
                ".map_err(std::io::Error::other)?".to_owned(),
                false,
                "propagates the error to the caller as an io::Error".to_owned(),
            ),
        }
    } else {
        let message = if value.kind() == "call_expression" {
            format!("{value_text} returned None")
        } else {
            format!("{value_text} is None")
        };
        let suffix = propagate_none(source, &returns, &message);
        let how = if matches!(returns, Returns::Option) {
            "returns None to the caller, as the function's signature already allows".to_owned()
        } else {
            format!("returns an error saying \"{message}\" to the caller")
        };
        (suffix, false, how)
    };
    let edit = super::Edit { start: value.end_byte(), end: call.end_byte(), replacement: suffix.clone() };
    let unwrapped = &source.text[value.end_byte()..call.end_byte()];
    let what = if on_err { "Err" } else { "None" };
    Ok(RuleFix {
        rule: if on_err { "rust-unwrap-err" } else { "rust-unwrap-none" },
        summary: format!("Propagate instead of `{unwrapped}` in `{function}`"),
        rationale: format!(
            "`{value_text}{unwrapped}` panicked on {what}. `{function}` already reports failure through its \
             return type, so the change replaces the panic with `{suffix}`, which {how}.{}",
            if hides_symptom { " This hides why it failed: the error's detail is lost." } else { "" }
        ),
        edit,
        hides_symptom,
    })
}

fn index(source: &Source, row: usize, container: &str) -> RuleResult {
    let indexes: Vec<Node<'_>> = source.on_row(row, &["index_expression"]);
    let matching: Vec<Node<'_>> = indexes
        .iter()
        .copied()
        .filter(|node| node.named_child(0).is_some_and(|c| same_code(source.text_of(c), container)))
        .collect();
    let access = match (matching.as_slice(), indexes.as_slice()) {
        ([one], _) => *one,
        ([], [one]) => *one,
        _ => return Err(format!("line {} does not index `{container}` exactly once", row + 1)),
    };
    let (Some(collection), Some(position)) = (access.named_child(0), access.named_child(1)) else {
        return Err("the index expression is incomplete".into());
    };
    let parent = access.parent().ok_or("the index expression has no parent")?;
    if matches!(parent.kind(), "assignment_expression" | "compound_assignment_expr")
        && parent.child_by_field_name("left").is_some_and(|l| l.id() == access.id())
    {
        return Err(format!("line {} writes through the index; that needs `get_mut` and a person", row + 1));
    }
    let (returns, function) = returns(source, access, row)?;
    let (collection, position) = (source.text_of(collection), source.text_of(position));
    let message = format!("index {position} is out of range for {collection}");
    let lookup = format!("{collection}.get({position}){}", propagate_none(source, &returns, &message));
    let (node, replacement) = match parent.kind() {
        "reference_expression" if !source.text_of(parent).starts_with("&mut") => (parent, lookup),
        "field_expression" if parent.child_by_field_name("value").is_some_and(|v| v.id() == access.id()) => {
            (access, lookup)
        }
        _ => (access, format!("*{lookup}")),
    };
    let edit = source.replace_node(node, replacement.clone());
    Ok(RuleFix {
        rule: "rust-index-get",
        summary: format!("Use `{collection}.get({position})` in `{function}` instead of indexing"),
        rationale: format!(
            "`{}` panicked: the index was past the end. The change looks the item up with `.get`, which returns \
             None when it is missing, and propagates that through `{function}`'s return type.",
            source.text_of(access)
        ),
        edit,
        hides_symptom: false,
    })
}

fn division(source: &Source, row: usize, divisor: &str) -> RuleResult {
    let divisions: Vec<Node<'_>> = source
        .on_row(row, &["binary_expression"])
        .into_iter()
        .filter(|node| node.child_by_field_name("operator").is_some_and(|o| matches!(source.text_of(o), "/" | "%")))
        .collect();
    let division = source.the_division_by(&divisions, divisor, row)?;
    let (Some(left), Some(right), Some(operator)) = (
        division.child_by_field_name("left"),
        division.child_by_field_name("right"),
        division.child_by_field_name("operator"),
    ) else {
        return Err("the division is incomplete".into());
    };
    if left.kind() == "integer_literal" && source.text_of(left).chars().all(|c| c.is_ascii_digit() || c == '_') {
        return Err(format!("line {} divides an untyped literal; `checked_div` on it does not compile", row + 1));
    }
    let (returns, function) = returns(source, division, row)?;
    let left_text = match left.kind() {
        "identifier"
        | "field_expression"
        | "call_expression"
        | "parenthesized_expression"
        | "index_expression"
        | "self"
        | "integer_literal" => source.text_of(left).to_owned(),
        _ => format!("({})", source.text_of(left)),
    };
    let right_text = source.text_of(right);
    let method = if source.text_of(operator) == "/" { "checked_div" } else { "checked_rem" };
    let message = format!("{right_text} is zero");
    let replacement = format!("{left_text}.{method}({right_text}){}", propagate_none(source, &returns, &message));
    Ok(RuleFix {
        rule: "rust-checked-div",
        summary: format!("Use `{method}` in `{function}` so a zero `{right_text}` is an error, not a panic"),
        rationale: format!(
            "`{}` panicked dividing by zero. `{method}` returns None for a zero divisor (and for overflow), \
             which the change propagates through `{function}`'s return type instead of panicking.",
            source.text_of(division)
        ),
        edit: source.replace_node(division, replacement),
        hides_symptom: false,
    })
}
