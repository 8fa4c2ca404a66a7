//! Python rules: a None from a lookup, a missing key, a zero divisor, an index out of range, and
//! `int()`/`float()` of text that is not a number.

use tree_sitter::Node;

use super::{RuleFix, RuleResult, Source, escape_double_quoted, is_identifier, no_rule, same_code};
use crate::investigate::FailingOperation;
use crate::text::unquote;

pub(super) fn propose(source: &Source, row: usize, operation: &FailingOperation) -> RuleResult {
    match operation {
        FailingOperation::SubscriptOfMissing { expression } => none_from_lookup(source, row, expression, None),
        FailingOperation::AttributeOfMissing { expression, attribute } => {
            none_from_lookup(source, row, expression, Some(attribute))
        }
        FailingOperation::MissingKey { container, key } => missing_key(source, row, container, key),
        FailingOperation::DivisionByZero { divisor } => zero_divisor(source, row, divisor),
        FailingOperation::IndexOutOfRange { container, index, .. } => {
            index_out_of_range(source, row, container, index.as_deref())
        }
        FailingOperation::NumberParse { call, .. } => number_parse(source, row, call),
        other => Err(no_rule("Python", other)),
    }
}

/// Calls that return None when what they look up is absent.
fn returns_none_when_absent(source: &Source, call: Node<'_>) -> bool {
    let Some(function) = call.child_by_field_name("function") else { return false };
    let name = source.text_of(function);
    let method = name.rsplit('.').next().unwrap_or(name);
    (function.kind() == "attribute" && method == "get")
        || matches!(name, "re.match" | "re.search" | "re.fullmatch")
        || (function.kind() == "attribute" && matches!(method, "match" | "search" | "fullmatch"))
}

/// `x = mapping.get(key)` and later `x[...]` or `x.attr`: raise a named error right where the lookup
/// comes back empty.
fn none_from_lookup(source: &Source, row: usize, expression: &str, attribute: Option<&String>) -> RuleResult {
    if !is_identifier(expression) {
        return Err(format!("`{expression}` is not a plain variable, so there is no one assignment to guard"));
    }
    let uses = source.on_row(row, &["subscript", "attribute"]);
    let crash = uses
        .into_iter()
        .find(|node| {
            let object = node.child_by_field_name(if node.kind() == "subscript" { "value" } else { "object" });
            object.is_some_and(|object| source.text_of(object) == expression)
                && attribute.is_none_or(|attribute| {
                    node.child_by_field_name("attribute").is_none_or(|a| source.text_of(a) == attribute)
                })
        })
        .ok_or_else(|| format!("line {} does not use `{expression}` the way the crash says", row + 1))?;
    let function =
        source.enclosing_function(crash).ok_or("the crash is outside any function, so there is no lookup to guard")?;
    let function_name = source.function_name(function);
    let assignment = source
        .find(function, |node| {
            node.kind() == "assignment"
                && node.end_position().row < row
                && node.child_by_field_name("left").is_some_and(|left| source.text_of(left) == expression)
                && source.enclosing_function(node).is_some_and(|f| f.id() == function.id())
        })
        .into_iter()
        .next_back()
        .ok_or_else(|| {
            format!(
                "`{expression}` is not assigned in `{function_name}` (it is a parameter or comes from elsewhere), so \
                 the None arrives from a caller; a guard here would only move the crash"
            )
        })?;
    let value = assignment.child_by_field_name("right").ok_or("the assignment has no value")?;
    if value.kind() != "call" || !returns_none_when_absent(source, value) {
        return Err(format!(
            "`{expression}` is assigned from `{}`, not from a lookup that returns None when the key is absent; \
             why it is None needs a person",
            source.text_of(value)
        ));
    }
    let arguments: Vec<Node<'_>> = value
        .child_by_field_name("arguments")
        .map(|arguments| {
            let mut cursor = arguments.walk();
            arguments.named_children(&mut cursor).filter(|a| a.kind() != "comment").collect()
        })
        .unwrap_or_default();
    if let Some(default) = arguments.get(1)
        && source.text_of(*default) != "None"
    {
        return Err(format!("`{}` has a default, so it does not return None", source.text_of(value)));
    }
    let statement = source.statement_of(assignment).ok_or("the assignment is not a statement of its own")?;
    let block = statement.parent().ok_or("the assignment is not in a block")?;
    if !(block.start_position().row <= row && row <= block.end_position().row) {
        return Err(format!("the assignment of `{expression}` does not always run before line {}", row + 1));
    }
    let error = error_class(source, function, "LookupError");
    let message = match arguments.first().filter(|a| a.kind() != "keyword_argument") {
        Some(key) => fstring(&[Part::Text(&format!("unknown {expression} ")), Part::Repr(source.text_of(*key))]),
        None => fstring(&[Part::Text(&format!("{expression} not found"))]),
    };
    let guard = [(0, format!("if {expression} is None:")), (1, format!("raise {error}({message})"))];
    let edit = source.insert_after(statement, &guard)?;
    let lookup = source.text_of(value);
    Ok(RuleFix {
        rule: "python-none-from-lookup",
        summary: format!("Raise {error} in `{function_name}` when `{lookup}` finds nothing"),
        rationale: format!(
            "`{expression}` comes from `{lookup}` (line {}), which returns None when the key is absent; the code \
             then used it as if it were found. The change handles the absent case where it arises, raising {error} \
             with the key, so callers get a named error instead of a TypeError/AttributeError further down.",
            statement.start_position().row + 1
        ),
        edit,
        hides_symptom: false,
    })
}

/// `container[key]` with the key absent: check for it and raise a named error.
fn missing_key(source: &Source, row: usize, container: &str, key: &str) -> RuleResult {
    let wanted = unquote(key);
    let candidates: Vec<Node<'_>> = source
        .on_row(row, &["subscript"])
        .into_iter()
        .filter(|node| node.child_by_field_name("value").is_some_and(|v| same_code(source.text_of(v), container)))
        .filter(|node| {
            node.child_by_field_name("subscript").is_some_and(|index| {
                let text = source.text_of(index);
                key.is_empty() || same_code(text, key) || unquote(text) == wanted
            })
        })
        .collect();
    let subscript = match candidates.as_slice() {
        [one] => *one,
        [] => return Err(format!("line {} does not read `{container}[{key}]`", row + 1)),
        _ => {
            return Err(format!(
                "line {} reads `{container}[...]` more than once; which key is missing is unclear",
                row + 1
            ));
        }
    };
    let index = subscript.child_by_field_name("subscript").ok_or("the subscript has no key")?;
    if let Some(parent) = subscript.parent()
        && matches!(parent.kind(), "assignment" | "augmented_assignment")
        && parent.child_by_field_name("left").is_some_and(|left| left.id() == subscript.id())
    {
        return Err(format!(
            "line {} writes `{}`; whether a missing key should start from a default is a decision for a person",
            row + 1,
            source.text_of(subscript)
        ));
    }
    let container_node = subscript.child_by_field_name("value").ok_or("the subscript has no container")?;
    check_plain(source, container_node)?;
    check_plain(source, index)?;
    let statement = guardable_statement(source, subscript, row)?;
    let function = source.enclosing_function(subscript);
    let error = match function {
        Some(function) => error_class(source, function, "ValueError"),
        None => "ValueError".to_owned(),
    };
    let index_text = source.text_of(index);
    let message = if index.kind() == "string" {
        fstring(&[Part::Text(&format!("{container} has no {}", quoted_single(wanted)))])
    } else {
        fstring(&[Part::Text(&format!("{container} has no key ")), Part::Repr(index_text)])
    };
    let guard = [(0, format!("if {index_text} not in {container}:")), (1, format!("raise {error}({message})"))];
    let edit = source.insert_before(statement, &guard)?;
    Ok(RuleFix {
        rule: "python-missing-key",
        summary: format!("Raise {error} when `{container}` has no {index_text}"),
        rationale: format!(
            "`{container}` did not hold {index_text}, and `{}` raised a bare KeyError. The key comes with the \
             input, so a missing one is an input error: the change checks for it before use and raises {error} \
             naming what is missing. It does not default the value, which would hide the bad input.",
            source.text_of(subscript)
        ),
        edit,
        hides_symptom: false,
    })
}

/// `a / b` with `b` zero: check the divisor before dividing.
fn zero_divisor(source: &Source, row: usize, divisor: &str) -> RuleResult {
    let divisions: Vec<Node<'_>> = source
        .on_row(row, &["binary_operator", "augmented_assignment"])
        .into_iter()
        .filter(|node| {
            node.child_by_field_name("operator")
                .is_some_and(|op| matches!(source.text_of(op), "/" | "//" | "%" | "/=" | "//=" | "%="))
        })
        .collect();
    let division = source.the_division_by(&divisions, divisor, row)?;
    let right = division.child_by_field_name("right").ok_or("the division has no divisor")?;
    let divisor_text = source.text_of(right);
    if matches!(right.kind(), "integer" | "float") {
        return Err(format!("line {} divides by the constant {divisor_text}; that needs a person", row + 1));
    }
    let (condition, message) = match len_argument(source, right) {
        Some(sized) => (format!("if not {sized}:"), fstring(&[Part::Text(&format!("{sized} is empty"))])),
        None => {
            check_plain(source, right)?;
            (format!("if {divisor_text} == 0:"), fstring(&[Part::Text(&format!("{divisor_text} is zero"))]))
        }
    };
    let statement = guardable_statement(source, division, row)?;
    let error =
        source.enclosing_function(division).map_or("ValueError".to_owned(), |f| error_class(source, f, "ValueError"));
    let guard = [(0, condition), (1, format!("raise {error}({message})"))];
    let edit = source.insert_before(statement, &guard)?;
    Ok(RuleFix {
        rule: "python-zero-divisor",
        summary: format!("Raise {error} before dividing when `{divisor_text}` is zero"),
        rationale: format!(
            "`{}` divided by zero. The change checks the divisor first and raises {error} saying what was \
             empty or zero, instead of a ZeroDivisionError with no context; it does not invent a result.",
            source.text_of(division)
        ),
        edit,
        hides_symptom: false,
    })
}

/// `items[i]` past the end: check the index against the length first.
fn index_out_of_range(source: &Source, row: usize, container: &str, index: Option<&str>) -> RuleResult {
    let candidates: Vec<Node<'_>> = source
        .on_row(row, &["subscript"])
        .into_iter()
        .filter(|node| node.child_by_field_name("value").is_some_and(|v| same_code(source.text_of(v), container)))
        .filter(|node| {
            node.child_by_field_name("subscript")
                .is_some_and(|i| i.kind() != "slice" && index.is_none_or(|index| same_code(source.text_of(i), index)))
        })
        .collect();
    let subscript = match candidates.as_slice() {
        [one] => *one,
        [] => return Err(format!("line {} does not index `{container}`", row + 1)),
        _ => {
            return Err(format!(
                "line {} indexes `{container}` more than once; which index is out of range is unclear",
                row + 1
            ));
        }
    };
    let container_node = subscript.child_by_field_name("value").ok_or("the subscript has no container")?;
    let index_node = subscript.child_by_field_name("subscript").ok_or("the subscript has no index")?;
    check_plain(source, container_node)?;
    check_plain(source, index_node)?;
    let index_text = source.text_of(index_node);
    let (condition, message) = match index_text.parse::<i64>() {
        Ok(0) | Ok(-1) => (format!("if not {container}:"), fstring(&[Part::Text(&format!("{container} is empty"))])),
        Ok(n) if n > 0 => (
            format!("if len({container}) <= {n}:"),
            fstring(&[Part::Text(&format!("{container} has fewer than {} items", n + 1))]),
        ),
        Ok(_) => return Err(format!("line {} uses a negative index; that needs a person", row + 1)),
        Err(_) => (
            format!("if not -len({container}) <= {index_text} < len({container}):"),
            fstring(&[
                Part::Text("index "),
                Part::Value(index_text),
                Part::Text(&format!(" is out of range for {container} of length ")),
                Part::Value(&format!("len({container})")),
            ]),
        ),
    };
    let statement = guardable_statement(source, subscript, row)?;
    let error =
        source.enclosing_function(subscript).map_or("ValueError".to_owned(), |f| error_class(source, f, "ValueError"));
    let guard = [(0, condition), (1, format!("raise {error}({message})"))];
    let edit = source.insert_before(statement, &guard)?;
    Ok(RuleFix {
        rule: "python-index-bounds",
        summary: format!("Check `{index_text}` against the length of `{container}` before indexing"),
        rationale: format!(
            "`{}` read past the end of `{container}`. The change checks the bounds first and raises {error} \
             saying which index and length, instead of a bare IndexError; it does not pick a substitute item.",
            source.text_of(subscript)
        ),
        edit,
        hides_symptom: false,
    })
}

/// `int(text)` of something that is not a number: re-raise with what the text was.
fn number_parse(source: &Source, row: usize, call: &str) -> RuleResult {
    let wanted = call.trim_end_matches("()");
    let calls: Vec<Node<'_>> = source
        .on_row(row, &["call"])
        .into_iter()
        .filter(|node| {
            node.child_by_field_name("function").is_some_and(|f| {
                let name = source.text_of(f);
                matches!(name, "int" | "float" | "Decimal" | "decimal.Decimal") && (wanted.is_empty() || name == wanted)
            })
        })
        .collect();
    let parse = match calls.as_slice() {
        [one] => *one,
        [] => return Err(format!("line {} does not call `{wanted}(...)`", row + 1)),
        _ => return Err(format!("line {} parses more than one number; which one failed is unclear", row + 1)),
    };
    let argument = parse
        .child_by_field_name("arguments")
        .and_then(|arguments| arguments.named_child(0))
        .filter(|a| a.kind() != "keyword_argument")
        .ok_or("the call has no text to parse")?;
    let statement = guardable_statement(source, parse, row)?;
    if statement.start_position().row != statement.end_position().row
        || !matches!(statement.kind(), "expression_statement" | "return_statement")
    {
        return Err(format!("line {} is not a simple one-line statement to wrap", row + 1));
    }
    let function = source.enclosing_function(parse);
    let mut ancestor = parse.parent();
    while let Some(node) = ancestor {
        if node.kind() == "try_statement" {
            return Err(format!("line {} is already inside a `try`; how it handles errors needs a person", row + 1));
        }
        if function.is_some_and(|f| f.id() == node.id()) {
            break;
        }
        ancestor = node.parent();
    }
    let error = function.map_or("ValueError".to_owned(), |f| error_class(source, f, "ValueError"));
    let argument_text = source.text_of(argument);
    let kind = if source.text_of(parse).starts_with("int") { "a whole number" } else { "a number" };
    let message = fstring(&[Part::Text(&format!("{argument_text} is not {kind}: ")), Part::Repr(argument_text)]);
    let lines = [
        (0, "try:".to_owned()),
        (1, source.text_of(statement).to_owned()),
        (0, "except ValueError as error:".to_owned()),
        (1, format!("raise {error}({message}) from error")),
    ];
    let edit = source.replace_statement(statement, &lines)?;
    Ok(RuleFix {
        rule: "python-number-parse",
        summary: format!("Raise {error} naming the text when `{}` fails", source.text_of(parse)),
        rationale: format!(
            "`{}` got text that is not {kind}. The change catches the ValueError right there and raises {error} \
             that says which value was bad (chained with `from error`), so the failure points at the input \
             rather than at the parse.",
            source.text_of(parse)
        ),
        edit,
        hides_symptom: false,
    })
}

/// The statement before which a guard goes; refuses inside comprehensions and lambdas, where a guard
/// before the statement could not see each item.
fn guardable_statement<'t>(source: &Source, node: Node<'t>, row: usize) -> Result<Node<'t>, String> {
    let mut ancestor = node.parent();
    while let Some(current) = ancestor {
        if matches!(
            current.kind(),
            "list_comprehension" | "dictionary_comprehension" | "set_comprehension" | "generator_expression" | "lambda"
        ) {
            return Err(format!(
                "line {} fails inside a comprehension or lambda; a guard before it cannot see each item",
                row + 1
            ));
        }
        if source.is_block(current.kind()) {
            break;
        }
        ancestor = current.parent();
    }
    let statement = source.statement_of(node).ok_or("the crashing code is not a statement of its own")?;
    if matches!(statement.kind(), "while_statement" | "elif_clause") {
        return Err(format!("line {} is a loop or `elif` condition; a guard before it would run once", row + 1));
    }
    Ok(statement)
}

/// Refuses expressions with calls: a guard would evaluate them twice.
fn check_plain(source: &Source, node: Node<'_>) -> Result<(), String> {
    if source.find(node, |n| n.kind() == "call" || n.kind() == "await").is_empty() {
        Ok(())
    } else {
        Err(format!("`{}` calls a function; checking it first would call it twice", source.text_of(node)))
    }
}

/// `x` when the node is `len(x)` of a plain expression.
fn len_argument<'s>(source: &'s Source, node: Node<'_>) -> Option<&'s str> {
    if node.kind() != "call" || node.child_by_field_name("function").map(|f| source.text_of(f)) != Some("len") {
        return None;
    }
    let argument = node.child_by_field_name("arguments")?.named_child(0)?;
    check_plain(source, argument).ok()?;
    Some(&source.text[argument.byte_range()])
}

/// The exception class to raise in `function`, the way the code around it does: one it already raises,
/// else the one exception class the module defines (or imports), else `fallback`.
fn error_class(source: &Source, function: Node<'_>, fallback: &str) -> String {
    let raised = source.find(function, |n| n.kind() == "raise_statement").into_iter().find_map(|raise| {
        let raised = raise.named_child(0)?;
        let name = match raised.kind() {
            "call" => raised.child_by_field_name("function")?,
            "identifier" | "attribute" => raised,
            _ => return None,
        };
        let name = source.text_of(name);
        (name != "Exception" && name.chars().next().is_some_and(char::is_uppercase)).then(|| name.to_owned())
    });
    if let Some(raised) = raised {
        return raised;
    }
    let defined: Vec<String> = source
        .find(source.root(), |n| n.kind() == "class_definition")
        .into_iter()
        .filter(|class| {
            class.child_by_field_name("superclasses").is_some_and(|s| {
                let bases = source.text_of(s);
                bases.contains("Error") || bases.contains("Exception")
            })
        })
        .filter_map(|class| class.child_by_field_name("name").map(|n| source.text_of(n).to_owned()))
        .collect();
    if let [one] = defined.as_slice() {
        return one.clone();
    }
    let imported: Vec<String> = source
        .find(source.root(), |n| n.kind() == "import_from_statement")
        .into_iter()
        .flat_map(|import| {
            let mut cursor = import.walk();
            import
                .children_by_field_name("name", &mut cursor)
                .map(|name| {
                    let name = name.child_by_field_name("alias").unwrap_or(name);
                    source.text_of(name).to_owned()
                })
                .collect::<Vec<_>>()
        })
        .filter(|name| is_identifier(name) && (name.ends_with("Error") || name.ends_with("Exception")))
        .collect();
    if defined.is_empty()
        && let [one] = imported.as_slice()
    {
        return one.clone();
    }
    fallback.to_owned()
}

enum Part<'a> {
    Text(&'a str),
    /// `{expr!r}`.
    Repr(&'a str),
    /// `{expr}`.
    Value(&'a str),
}

/// A Python string literal (an f-string when it interpolates) that works on Python 3.8+: expressions
/// inside braces may not reuse the outer quote, so their double quotes become single ones; an
/// expression that cannot be written so is shown as text.
fn fstring(parts: &[Part<'_>]) -> String {
    let interpolates = parts.iter().any(|p| !matches!(p, Part::Text(_)));
    let mut out = String::from(if interpolates { "f\"" } else { "\"" });
    let push_text = |out: &mut String, text: &str| {
        let escaped = escape_double_quoted(text);
        if interpolates {
            out.push_str(&escaped.replace('{', "{{").replace('}', "}}"));
        } else {
            out.push_str(&escaped);
        }
    };
    for part in parts {
        match part {
            Part::Text(text) => push_text(&mut out, text),
            Part::Repr(expr) | Part::Value(expr) => {
                let usable = !(expr.contains('\\') || expr.contains('"') && expr.contains('\''));
                if usable {
                    out.push('{');
                    out.push_str(&expr.replace('"', "'"));
                    out.push_str(if matches!(part, Part::Repr(_)) { "!r}" } else { "}" });
                } else {
                    push_text(&mut out, expr);
                }
            }
        }
    }
    out.push('"');
    out
}

fn quoted_single(content: &str) -> String {
    format!("'{}'", content.replace('\\', "\\\\").replace('\'', "\\'"))
}
