//! Java rules: a NullPointerException on a plain variable or field chain, a NumberFormatException from
//! `Integer.parseInt` and friends, and an array or list index out of bounds.

use tree_sitter::Node;

use super::{RuleFix, RuleResult, Source, escape_double_quoted, is_identifier, is_name_chain, no_rule, same_code};
use crate::investigate::FailingOperation;

pub(super) fn propose(source: &Source, row: usize, operation: &FailingOperation) -> RuleResult {
    match operation {
        FailingOperation::AttributeOfMissing { expression, .. } => null_check(source, row, expression),
        FailingOperation::NumberParse { call, .. } => number_format(source, row, call),
        FailingOperation::IndexOutOfRange { container, index, .. } => {
            index_out_of_bounds(source, row, container, index.as_deref())
        }
        other => Err(no_rule("Java", other)),
    }
}

fn null_check(source: &Source, row: usize, expression: &str) -> RuleResult {
    if !is_name_chain(expression) || expression.starts_with('<') {
        return Err(format!("`{expression}` is not a variable or field chain; a null check would evaluate it twice"));
    }
    let access = source
        .on_row(row, &["field_access", "method_invocation", "array_access"])
        .into_iter()
        .find(|node| {
            let object = node.child_by_field_name("object").or_else(|| node.child_by_field_name("array"));
            object.is_some_and(|o| same_code(source.text_of(o), expression))
        })
        .ok_or_else(|| format!("line {} does not use `{expression}` the way the crash says", row + 1))?;
    let method = source.enclosing_function(access).ok_or("the crash is outside any method")?;
    let statement = statement_of(source, access, row)?;
    let name = source.function_name(method);
    let root = expression.split('.').next().unwrap_or(expression);
    let error = exception_class(source, method, root);
    let message = match expression.rsplit_once('.') {
        Some((owner, field)) => format!("{name}: {owner} has no {field}"),
        None => format!("{name}: {expression} is null"),
    };
    let guard = [
        (0, format!("if ({expression} == null) {{")),
        (1, format!("throw new {error}(\"{}\");", escape_double_quoted(&message))),
        (0, "}".to_owned()),
    ];
    Ok(RuleFix {
        rule: "java-null-check",
        summary: format!("Throw {error} in `{name}` when `{expression}` is null"),
        rationale: format!(
            "`{}` failed because `{expression}` was null. The change checks it before use and throws {error} \
             saying what is missing, instead of a NullPointerException; it does not substitute a default, which \
             would hide where the null comes from.",
            source.text_of(access)
        ),
        edit: source.insert_before(statement, &guard)?,
        hides_symptom: false,
    })
}

fn number_format(source: &Source, row: usize, call: &str) -> RuleResult {
    let parses: Vec<Node<'_>> = source
        .on_row(row, &["method_invocation"])
        .into_iter()
        .filter(|node| {
            let object = node.child_by_field_name("object").map(|o| source.text_of(o));
            let name = node.child_by_field_name("name").map(|n| source.text_of(n)).unwrap_or_default();
            matches!(object, Some("Integer" | "Long" | "Double" | "Float" | "Short" | "Byte"))
                && (name.starts_with("parse") || name == "valueOf")
        })
        .collect();
    let matching: Vec<Node<'_>> = parses
        .iter()
        .copied()
        .filter(|p| call.is_empty() || same_code(source.text_of(*p), call) || source.text_of(*p).starts_with(call))
        .collect();
    let parse = match (matching.as_slice(), parses.as_slice()) {
        ([one], _) => *one,
        ([], [one]) => *one,
        _ => return Err(format!("line {} does not parse exactly one number", row + 1)),
    };
    let method = source.enclosing_function(parse).ok_or("the crash is outside any method")?;
    if source.text.contains("catch (NumberFormatException") {
        return Err(format!(
            "{} already catches NumberFormatException; rethrowing it as another type would slip past that \
             handler, so how to report the bad text needs a person",
            source.path
        ));
    }
    let mut ancestor = parse.parent();
    while let Some(node) = ancestor.filter(|n| n.id() != method.id()) {
        if node.kind() == "try_statement" {
            return Err(format!("line {} is already inside a `try`; how it handles errors needs a person", row + 1));
        }
        ancestor = node.parent();
    }
    let argument = parse
        .child_by_field_name("arguments")
        .and_then(|a| a.named_child(0))
        .map(|a| source.text_of(a))
        .ok_or("the parse has no argument")?;
    let statement = statement_of(source, parse, row)?;
    let exception = if source.find(method, |n| n.kind() == "identifier" && source.text_of(n) == "e").is_empty() {
        "e"
    } else {
        "parseError"
    };
    let message = format!("\"{} is not a number: \\\"\" + {argument} + \"\\\"\"", escape_double_quoted(argument));
    let rethrow = format!("throw new IllegalArgumentException({message}, {exception});");
    let catch = format!("}} catch (NumberFormatException {exception}) {{");
    let lines: Vec<(usize, String)> = match statement.kind() {
        "return_statement" | "expression_statement" => vec![
            (0, "try {".into()),
            (1, source.text_of(statement).to_owned()),
            (0, catch),
            (1, rethrow),
            (0, "}".into()),
        ],
        "local_variable_declaration" => {
            let ty = statement.child_by_field_name("type").map(|t| source.text_of(t)).ok_or("no type")?;
            let mut cursor = statement.walk();
            let declarators: Vec<Node<'_>> = statement.children_by_field_name("declarator", &mut cursor).collect();
            let [declarator] = declarators.as_slice() else {
                return Err(format!("line {} declares several variables; that needs a person", row + 1));
            };
            let (Some(name), Some(value)) =
                (declarator.child_by_field_name("name"), declarator.child_by_field_name("value"))
            else {
                return Err("the declaration has no value".into());
            };
            let modifiers = if source.text_of(statement).starts_with("final ") { "final " } else { "" };
            vec![
                (0, format!("{modifiers}{ty} {};", source.text_of(name))),
                (0, "try {".into()),
                (1, format!("{} = {};", source.text_of(name), source.text_of(value))),
                (0, catch),
                (1, rethrow),
                (0, "}".into()),
            ]
        }
        _ => return Err(format!("line {} is not a simple statement to wrap", row + 1)),
    };
    let name = source.function_name(method);
    Ok(RuleFix {
        rule: "java-number-format",
        summary: format!(
            "Rethrow the NumberFormatException of `{}` in `{name}` with the bad text",
            source.text_of(parse)
        ),
        rationale: format!(
            "`{}` got text that is not a number. The change catches the NumberFormatException right there and \
             throws IllegalArgumentException naming `{argument}` and its value, with the original as the cause, \
             so the failure points at the input.",
            source.text_of(parse)
        ),
        edit: source.replace_statement(statement, &lines)?,
        hides_symptom: false,
    })
}

fn index_out_of_bounds(source: &Source, row: usize, container: &str, index: Option<&str>) -> RuleResult {
    let accesses: Vec<(Node<'_>, &str, &str)> = source
        .on_row(row, &["array_access", "method_invocation"])
        .into_iter()
        .filter_map(|node| {
            if node.kind() == "array_access" {
                let array = source.text_of(node.child_by_field_name("array")?);
                Some((node, array, source.text_of(node.child_by_field_name("index")?)))
            } else {
                (source.text_of(node.child_by_field_name("name")?) == "get").then_some(())?;
                let list = source.text_of(node.child_by_field_name("object")?);
                Some((node, list, source.text_of(node.child_by_field_name("arguments")?.named_child(0)?)))
            }
        })
        .filter(|(_, c, i)| same_code(c, container) && index.is_none_or(|index| same_code(i, index)))
        .collect();
    let (access, collection, position) = match accesses.as_slice() {
        [one] => *one,
        [] => return Err(format!("line {} does not index `{container}`", row + 1)),
        _ => {
            return Err(format!(
                "line {} indexes `{container}` more than once; which is out of bounds is unclear",
                row + 1
            ));
        }
    };
    if !is_name_chain(collection) || !(is_name_chain(position) || position.parse::<u32>().is_ok()) {
        return Err(format!("`{collection}` or `{position}` calls a method; a bounds check would call it twice"));
    }
    let length =
        if access.kind() == "array_access" { format!("{collection}.length") } else { format!("{collection}.size()") };
    let method = source.enclosing_function(access).ok_or("the crash is outside any method")?;
    let root = if is_identifier(position) { position } else { collection.split('.').next().unwrap_or(collection) };
    let error = exception_class(source, method, root);
    let (condition, message) = match position.parse::<u32>() {
        Ok(n) => (
            format!("if ({length} <= {n}) {{"),
            format!("\"{} has fewer than {} items\"", escape_double_quoted(collection), n + 1),
        ),
        Err(_) => (
            format!("if ({position} < 0 || {position} >= {length}) {{"),
            format!(
                "\"index \" + {position} + \" is out of range for {} of length \" + {length}",
                escape_double_quoted(collection)
            ),
        ),
    };
    let statement = statement_of(source, access, row)?;
    let guard = [(0, condition), (1, format!("throw new {error}({message});")), (0, "}".into())];
    Ok(RuleFix {
        rule: "java-index-bounds",
        summary: format!("Check `{position}` against `{length}` before indexing"),
        rationale: format!(
            "`{}` indexed past the end of `{collection}`. The change checks the bounds first and throws {error} \
             naming the index and the length; it does not pick a substitute item.",
            source.text_of(access)
        ),
        edit: source.insert_before(statement, &guard)?,
        hides_symptom: false,
    })
}

fn statement_of<'t>(source: &Source, node: Node<'t>, row: usize) -> Result<Node<'t>, String> {
    source
        .statement_of(node)
        .ok_or_else(|| format!("line {} fails inside a lambda written as one expression; that needs a person", row + 1))
}

/// The unchecked exception to throw: one the method already throws, else IllegalArgumentException when
/// the bad value is a parameter (the caller passed it), else IllegalStateException.
fn exception_class(source: &Source, method: Node<'_>, root: &str) -> String {
    let thrown = source.find(method, |n| n.kind() == "throw_statement").into_iter().find_map(|throw| {
        let created = throw.named_child(0).filter(|c| c.kind() == "object_creation_expression")?;
        let ty = source.text_of(created.child_by_field_name("type")?);
        (ty.ends_with("Exception") && !ty.contains("NullPointer")).then(|| ty.to_owned())
    });
    if let Some(thrown) = thrown {
        return thrown;
    }
    let is_parameter = method.child_by_field_name("parameters").is_some_and(|parameters| {
        source
            .find(parameters, |n| n.kind() == "formal_parameter")
            .iter()
            .any(|p| p.child_by_field_name("name").is_some_and(|name| source.text_of(name) == root))
    });
    if is_parameter { "IllegalArgumentException".into() } else { "IllegalStateException".into() }
}
