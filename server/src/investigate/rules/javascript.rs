//! JavaScript and TypeScript rules: reading a property of `undefined` or `null`.

use tree_sitter::Node;

use super::{RuleFix, RuleResult, Source, escape_double_quoted, is_identifier, is_name_chain, no_rule, same_code};
use crate::investigate::FailingOperation;

pub(super) fn propose(source: &Source, row: usize, operation: &FailingOperation) -> RuleResult {
    match operation {
        FailingOperation::AttributeOfMissing { expression, attribute } => {
            property_of_missing(source, row, expression, Some(attribute))
        }
        FailingOperation::SubscriptOfMissing { expression } => property_of_missing(source, row, expression, None),
        other => Err(no_rule("JavaScript/TypeScript", other)),
    }
}

/// `x.y` with `x` undefined or null: throw a named error where `x` arrives (the top of the function for
/// a parameter, right after the declaration for a local), the way the function already throws.
fn property_of_missing(source: &Source, row: usize, expression: &str, attribute: Option<&String>) -> RuleResult {
    if !is_name_chain(expression) || expression == "this" {
        return Err(format!("`{expression}` is not a plain variable or property chain, so a check would run it twice"));
    }
    let access = source
        .on_row(row, &["member_expression", "subscript_expression"])
        .into_iter()
        .find(|node| {
            node.child_by_field_name("object").is_some_and(|o| same_code(source.text_of(o), expression))
                && attribute.is_none_or(|attribute| {
                    node.kind() != "member_expression"
                        || node.child_by_field_name("property").is_some_and(|p| source.text_of(p) == attribute)
                })
        })
        .ok_or_else(|| format!("line {} does not read a property of `{expression}`", row + 1))?;
    let function = source.enclosing_function(access);
    let function_name = function.map_or("the module".to_owned(), |f| source.function_name(f));
    let error = function.and_then(|f| thrown_class(source, f)).or_else(|| thrown_class(source, source.root()));
    let error = error.unwrap_or_else(|| "Error".to_owned());
    let quote = if prefers_single_quotes(source) { '\'' } else { '"' };
    let message = format!("{function_name}: {expression} is missing");
    let message = if quote == '"' {
        format!("\"{}\"", escape_double_quoted(&message))
    } else {
        format!("'{}'", message.replace('\\', "\\\\").replace('\'', "\\'"))
    };
    let semicolon = if source.text.lines().any(|l| l.trim_end().ends_with(';')) { ";" } else { "" };
    let guard = [
        (0, format!("if ({expression} == null) {{")),
        (1, format!("throw new {error}({message}){semicolon}")),
        (0, "}".to_owned()),
    ];
    let (edit, place) = match function.filter(|_| is_identifier(expression)) {
        Some(function) if is_parameter(source, function, expression) => {
            let body =
                function.child_by_field_name("body").filter(|b| b.kind() == "statement_block").ok_or_else(|| {
                    format!(
                        "`{expression}` is a parameter of a callback written as one expression; that needs a person"
                    )
                })?;
            let first = body.named_child(0).ok_or("the function body is empty")?;
            (source.insert_before(first, &guard)?, format!("at the top of `{function_name}`, where it arrives"))
        }
        Some(function) => match declaration_of(source, function, expression, row) {
            Some(declaration) => (source.insert_after(declaration, &guard)?, "right after it is declared".to_owned()),
            None => (source.insert_before(statement_of(source, access, row)?, &guard)?, "before it is used".to_owned()),
        },
        None => (source.insert_before(statement_of(source, access, row)?, &guard)?, "before it is used".to_owned()),
    };
    let read = source.text_of(access);
    Ok(RuleFix {
        rule: "js-property-of-missing",
        summary: format!("Throw {error} {place} when `{expression}` is missing"),
        rationale: format!(
            "`{read}` read a property of `{expression}` while it was undefined or null. The change checks \
             `{expression} == null` (both undefined and null) {place} and throws {error} naming it, the way the \
             code already reports errors, instead of a TypeError deeper down. It does not substitute a default, \
             which would hide where the missing value comes from."
        ),
        edit,
        hides_symptom: false,
    })
}

fn statement_of<'t>(source: &Source, node: Node<'t>, row: usize) -> Result<Node<'t>, String> {
    source.statement_of(node).ok_or_else(|| {
        format!("line {} fails inside a callback written as one expression; that needs a person", row + 1)
    })
}

fn is_parameter(source: &Source, function: Node<'_>, name: &str) -> bool {
    let Some(parameters) =
        function.child_by_field_name("parameters").or_else(|| function.child_by_field_name("parameter"))
    else {
        return false;
    };
    if parameters.kind() == "identifier" {
        return source.text_of(parameters) == name;
    }
    let mut cursor = parameters.walk();
    parameters.named_children(&mut cursor).any(|parameter| {
        let pattern = match parameter.kind() {
            "required_parameter" | "optional_parameter" => parameter.child_by_field_name("pattern"),
            "assignment_pattern" => parameter.child_by_field_name("left"),
            _ => Some(parameter),
        };
        pattern.is_some_and(|p| p.kind() == "identifier" && source.text_of(p) == name)
    })
}

/// The `const/let/var name = ...` statement of `name` in `function` before `row`, when it dominates it.
fn declaration_of<'t>(source: &Source, function: Node<'t>, name: &str, row: usize) -> Option<Node<'t>> {
    let declarator = source
        .find(function, |node| {
            node.kind() == "variable_declarator"
                && node.end_position().row < row
                && node.child_by_field_name("name").is_some_and(|n| source.text_of(n) == name)
                && node.child_by_field_name("value").is_some()
        })
        .into_iter()
        .next_back()?;
    let statement = declarator.parent()?;
    let block = statement.parent()?;
    (source.is_block(block.kind()) && block.start_position().row <= row && row <= block.end_position().row)
        .then_some(statement)
}

/// The class of the first `throw new X(...)` under `node`.
fn thrown_class(source: &Source, node: Node<'_>) -> Option<String> {
    source.find(node, |n| n.kind() == "throw_statement").into_iter().find_map(|throw| {
        let created = throw.named_child(0).filter(|c| c.kind() == "new_expression")?;
        Some(source.text_of(created.child_by_field_name("constructor")?).to_owned())
    })
}

fn prefers_single_quotes(source: &Source) -> bool {
    let strings = source.find(source.root(), |n| n.is_named() && n.kind() == "string");
    let single = strings.iter().filter(|s| source.text_of(**s).starts_with('\'')).count();
    single * 2 > strings.len()
}
