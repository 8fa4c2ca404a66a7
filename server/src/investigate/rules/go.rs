//! Go rules: a write into a nil map, a nil pointer dereference, an index out of range, and a
//! `strconv` parse whose error was thrown away. Checks return the function's own `error`; a function
//! that returns no error gets no check, because the only way out would be another panic.

use tree_sitter::Node;

use super::{RuleFix, RuleResult, Source, escape_double_quoted, is_identifier, is_name_chain, no_rule, same_code};
use crate::investigate::FailingOperation;

pub(super) fn propose(source: &Source, row: usize, operation: &FailingOperation) -> RuleResult {
    // A value parsed with its error ignored is the root cause of whatever it broke later.
    if let Some(ignored) = ignored_parse_error(source, row) {
        return handle_parse_error(source, row, ignored);
    }
    match operation {
        FailingOperation::NilMapWrite { map } => nil_map_write(source, row, map),
        FailingOperation::NilDereference { expression } => nil_dereference(source, row, expression),
        FailingOperation::AttributeOfMissing { expression, .. } => nil_dereference(source, row, expression),
        FailingOperation::IndexOutOfRange { container, .. } => index_out_of_range(source, row, container),
        FailingOperation::NumberParse { call, .. } => Err(format!(
            "no `{call}` with an ignored error feeds line {}; how to handle the bad input needs a person",
            row + 1
        )),
        other => Err(no_rule("Go", other)),
    }
}

// ---------------------------------------------------------------- nil map

fn nil_map_write(source: &Source, row: usize, map: &str) -> RuleResult {
    let writes: Vec<Node<'_>> = source
        .on_row(row, &["index_expression"])
        .into_iter()
        .filter(|node| {
            let Some(parent) = node.parent() else { return false };
            match parent.kind() {
                "inc_statement" | "dec_statement" => true,
                "expression_list" => parent.parent().is_some_and(|statement| {
                    statement.kind() == "assignment_statement"
                        && statement.child_by_field_name("left").is_some_and(|l| l.id() == parent.id())
                }),
                _ => false,
            }
        })
        .collect();
    let matching: Vec<Node<'_>> = writes
        .iter()
        .copied()
        .filter(|w| w.child_by_field_name("operand").is_some_and(|o| same_code(source.text_of(o), map)))
        .collect();
    let write = match (matching.as_slice(), writes.as_slice()) {
        ([one], _) => *one,
        ([], [one]) => *one,
        _ => return Err(format!("line {} does not write into `{map}` exactly once", row + 1)),
    };
    let operand = write.child_by_field_name("operand").ok_or("the write has no map")?;
    match operand.kind() {
        "selector_expression" => map_field(source, write, operand),
        "identifier" => map_variable(source, write, operand),
        _ => {
            Err(format!("`{}` is not a variable or a field; where it is made needs a person", source.text_of(operand)))
        }
    }
}

/// `s.counts[k] = v` with `counts` a map field: add it to the one composite literal that builds the struct.
fn map_field(source: &Source, write: Node<'_>, operand: Node<'_>) -> RuleResult {
    let field = operand.child_by_field_name("field").map(|f| source.text_of(f)).ok_or("no field")?;
    let owners: Vec<(String, String)> = source
        .find(source.root(), |n| n.kind() == "type_spec")
        .into_iter()
        .filter_map(|spec| {
            let body = spec.child_by_field_name("type").filter(|t| t.kind() == "struct_type")?;
            let declaration = source.find(body, |n| n.kind() == "field_declaration").into_iter().find(|d| {
                let mut cursor = d.walk();
                let named = d.children_by_field_name("name", &mut cursor).any(|n| source.text_of(n) == field);
                named && d.child_by_field_name("type").is_some_and(|t| t.kind() == "map_type")
            })?;
            let map_type = source.text_of(declaration.child_by_field_name("type")?).to_owned();
            Some((source.text_of(spec.child_by_field_name("name")?).to_owned(), map_type))
        })
        .collect();
    let (owner, map_type) = match owners.as_slice() {
        [one] => one.clone(),
        [] => return Err(format!("no struct in {} declares a map field `{field}`", source.path)),
        _ => {
            return Err(format!("several structs in {} have a map field `{field}`; which one is unclear", source.path));
        }
    };
    let literals: Vec<Node<'_>> = source
        .find(source.root(), |n| {
            n.kind() == "composite_literal" && n.child_by_field_name("type").is_some_and(|t| source.text_of(t) == owner)
        })
        .into_iter()
        .collect();
    let make = format!("make({map_type})");
    match literals.as_slice() {
        [literal] => {
            let body = literal.child_by_field_name("body").ok_or("the literal has no body")?;
            let mut cursor = body.walk();
            let elements: Vec<Node<'_>> = body.named_children(&mut cursor).filter(|e| e.kind() != "comment").collect();
            if elements.iter().any(|e| e.kind() != "keyed_element") {
                return Err(format!("`{owner}` is built with positional fields; adding one needs a person"));
            }
            if elements.iter().any(|e| e.named_child(0).is_some_and(|k| source.text_of(k) == field)) {
                return Err(format!(
                    "`{owner}{{...}}` already sets `{field}`; something sets it to nil later, which needs a person"
                ));
            }
            let constructor = source
                .enclosing_function(*literal)
                .map_or("its declaration".to_owned(), |f| format!("`{}`", source.function_name(f)));
            let edit = insert_into_literal(source, body, &elements, &format!("{field}: {make}"));
            Ok(RuleFix {
                rule: "go-nil-map-init",
                summary: format!("Initialise `{field}` where `{owner}` is built ({constructor})"),
                rationale: format!(
                    "`{}` wrote into a nil map: `{owner}.{field}` is never made. The change makes the map in the \
                     one place `{owner}` is built, so every `{owner}` has it before use.",
                    source.text_of(write)
                ),
                edit,
                hides_symptom: false,
            })
        }
        [] => {
            let root = source.text_of(operand.child_by_field_name("operand").ok_or("no operand")?);
            let function = source.enclosing_function(write).ok_or("the write is outside any function")?;
            let receiver = function.child_by_field_name("receiver").map(|r| source.text_of(r)).unwrap_or_default();
            if !(receiver.contains(&format!("{root} *")) || receiver.contains(&format!("{root} *{owner}"))) {
                return Err(format!(
                    "`{owner}` is never built with a literal in {} and `{root}` is not a pointer receiver; where \
                     to make the map needs a person",
                    source.path
                ));
            }
            let target = source.text_of(operand);
            let statement = source.statement_of(write).ok_or("the write is not a statement")?;
            let guard = [(0, format!("if {target} == nil {{")), (1, format!("{target} = {make}")), (0, "}".to_owned())];
            Ok(RuleFix {
                rule: "go-nil-map-init",
                summary: format!("Make `{target}` on first write"),
                rationale: format!(
                    "`{owner}` is used as a zero value (no literal builds it in {}), so `{field}` starts nil. The \
                     change makes the map before the first write, the usual way to keep a zero value usable.",
                    source.path
                ),
                edit: source.insert_before(statement, &guard)?,
                hides_symptom: false,
            })
        }
        several => Err(format!(
            "`{owner}` is built in {} places; initialising `{field}` in all of them touches more than one function",
            several.len()
        )),
    }
}

fn insert_into_literal(source: &Source, body: Node<'_>, elements: &[Node<'_>], element: &str) -> super::Edit {
    let close = body.end_byte() - 1;
    let close_row = body.end_position().row;
    let multi_line = body.start_position().row != close_row;
    if multi_line && source.line(close_row).trim_start().starts_with('}') {
        let indent = elements.last().map_or_else(
            || format!("{}{}", source.indent(close_row), source.unit()),
            |last| source.indent(last.start_position().row).to_owned(),
        );
        let start = source.row_start(close_row);
        return super::Edit { start, end: start, replacement: format!("{indent}{element},\n") };
    }
    let before = source.text[..close].trim_end();
    let replacement = if elements.is_empty() {
        element.to_owned()
    } else if before.ends_with(',') {
        format!(" {element}")
    } else {
        format!(", {element}")
    };
    let start = before.len();
    super::Edit { start, end: start, replacement }
}

/// `var m map[K]V` (never made) and `m[k] = v`: declare it made.
fn map_variable(source: &Source, write: Node<'_>, operand: Node<'_>) -> RuleResult {
    let name = source.text_of(operand);
    let scope = source.enclosing_function(write).unwrap_or_else(|| source.root());
    let specs: Vec<Node<'_>> = source
        .find(source.root(), |n| {
            n.kind() == "var_spec"
                && n.child_by_field_name("name").is_some_and(|v| source.text_of(v) == name)
                && n.child_by_field_name("type").is_some_and(|t| t.kind() == "map_type")
                && n.child_by_field_name("value").is_none()
        })
        .into_iter()
        .filter(|spec| {
            let owner = source.enclosing_function(*spec);
            owner.is_none() || owner.is_some_and(|o| o.id() == scope.id())
        })
        .collect();
    let [spec] = specs.as_slice() else {
        return Err(format!(
            "`{name}` is not declared with `var {name} map[...]` in this function or file (it may come from a \
             caller); where to make it needs a person"
        ));
    };
    let map_type = source.text_of(spec.child_by_field_name("type").ok_or("no type")?);
    Ok(RuleFix {
        rule: "go-nil-map-init",
        summary: format!("Declare `{name}` with `make({map_type})`"),
        rationale: format!(
            "`var {name} {map_type}` declares a nil map, and `{}` wrote into it. The change makes the map where \
             it is declared.",
            source.text_of(write)
        ),
        edit: source.replace_node(*spec, format!("{name} = make({map_type})")),
        hides_symptom: false,
    })
}

// ---------------------------------------------------------------- error returns

/// How the enclosing function returns an error: its name, the zero values of its other results, and
/// how to build an error (`fmt.Errorf` or `errors.New`).
struct ErrorReturn {
    function: String,
    zeros: Vec<String>,
    fmt: bool,
}

impl ErrorReturn {
    fn of(source: &Source, node: Node<'_>, row: usize) -> Result<Self, String> {
        let function = source.enclosing_function(node).ok_or("the crash is outside any function")?;
        let name = source.function_name(function);
        let results: Vec<String> = match function.child_by_field_name("result") {
            None => Vec::new(),
            Some(list) if list.kind() == "parameter_list" => {
                let mut cursor = list.walk();
                let declarations: Vec<Node<'_>> = list.named_children(&mut cursor).collect();
                declarations
                    .iter()
                    .flat_map(|d| {
                        let ty =
                            d.child_by_field_name("type").map(|t| source.text_of(t).to_owned()).unwrap_or_default();
                        let mut names = d.walk();
                        let count = d.children_by_field_name("name", &mut names).count().max(1);
                        std::iter::repeat_n(ty, count)
                    })
                    .collect()
            }
            Some(single) => vec![source.text_of(single).to_owned()],
        };
        if results.last().map(String::as_str) != Some("error") {
            return Err(format!(
                "`{name}` returns no error, so a check on line {} would have no way to report the failure but \
                 another panic; that needs a person",
                row + 1
            ));
        }
        let mut zeros = Vec::new();
        for ty in &results[..results.len() - 1] {
            zeros.push(
                zero_value(source, ty)
                    .ok_or_else(|| format!("the zero value of `{ty}` (a result of `{name}`) is not known here"))?,
            );
        }
        let imports = |path: &str| {
            source.find(source.root(), |n| n.kind() == "import_spec").iter().any(|spec| {
                spec.child_by_field_name("path").is_some_and(|p| source.text_of(p) == format!("\"{path}\""))
            })
        };
        let fmt = imports("fmt");
        if !fmt && !imports("errors") {
            return Err(format!("{} imports neither `fmt` nor `errors` to build an error with", source.path));
        }
        Ok(ErrorReturn { function: name, zeros, fmt })
    }

    /// `return <zeros>, <error>` where the error says `message` (a format string when `arguments`).
    fn statement(&self, message: &str, arguments: &str) -> Result<String, String> {
        let message = escape_double_quoted(&format!("{}: {message}", self.function));
        let error = if self.fmt {
            format!("fmt.Errorf(\"{message}\"{arguments})")
        } else if arguments.is_empty() {
            format!("errors.New(\"{message}\")")
        } else {
            return Err("the error needs `fmt.Errorf`, and `fmt` is not imported".into());
        };
        let mut values = self.zeros.clone();
        values.push(error);
        Ok(format!("return {}", values.join(", ")))
    }
}

fn zero_value(source: &Source, ty: &str) -> Option<String> {
    let ty = ty.trim();
    let numeric = [
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintptr",
        "float32",
        "float64",
        "complex64",
        "complex128",
        "byte",
        "rune",
    ];
    if numeric.contains(&ty) {
        return Some("0".into());
    }
    match ty {
        "string" => return Some("\"\"".into()),
        "bool" => return Some("false".into()),
        "error" | "any" => return Some("nil".into()),
        _ => {}
    }
    if ["*", "[]", "map[", "chan ", "func(", "interface"].iter().any(|p| ty.starts_with(p)) {
        return Some("nil".into());
    }
    if !is_identifier(ty) {
        return None;
    }
    let spec = source
        .find(source.root(), |n| {
            n.kind() == "type_spec" && n.child_by_field_name("name").is_some_and(|name| source.text_of(name) == ty)
        })
        .into_iter()
        .next()?;
    match spec.child_by_field_name("type")?.kind() {
        "struct_type" => Some(format!("{ty}{{}}")),
        "interface_type" | "map_type" | "slice_type" | "pointer_type" | "function_type" | "channel_type" => {
            Some("nil".into())
        }
        _ => None,
    }
}

// ---------------------------------------------------------------- nil dereference, index

fn nil_dereference(source: &Source, row: usize, expression: &str) -> RuleResult {
    if !is_name_chain(expression) {
        return Err(format!("`{expression}` is not a variable or field chain; a nil check would evaluate it twice"));
    }
    let access = source
        .on_row(row, &["selector_expression", "index_expression", "unary_expression"])
        .into_iter()
        .find(|node| {
            let inner = node.child_by_field_name("operand");
            inner.is_some_and(|inner| same_code(source.text_of(inner), expression))
        })
        .ok_or_else(|| format!("line {} does not dereference `{expression}`", row + 1))?;
    let errors = ErrorReturn::of(source, access, row)?;
    let statement = source.statement_of(access).ok_or("the dereference is not in a statement of its own")?;
    let guard = [
        (0, format!("if {expression} == nil {{")),
        (1, errors.statement(&format!("{expression} is nil"), "")?),
        (0, "}".to_owned()),
    ];
    Ok(RuleFix {
        rule: "go-nil-check",
        summary: format!("Return an error from `{}` when `{expression}` is nil", errors.function),
        rationale: format!(
            "`{}` dereferenced `{expression}` while it was nil. The change checks it first and returns an error \
             through `{}`'s own error result, so the caller learns what was missing instead of the process \
             panicking.",
            source.text_of(access),
            errors.function
        ),
        edit: source.insert_before(statement, &guard)?,
        hides_symptom: false,
    })
}

fn index_out_of_range(source: &Source, row: usize, container: &str) -> RuleResult {
    let indexes: Vec<Node<'_>> = source.on_row(row, &["index_expression"]);
    let matching: Vec<Node<'_>> = indexes
        .iter()
        .copied()
        .filter(|n| n.child_by_field_name("operand").is_some_and(|o| same_code(source.text_of(o), container)))
        .collect();
    let access = match (matching.as_slice(), indexes.as_slice()) {
        ([one], _) => *one,
        ([], [one]) => *one,
        _ => return Err(format!("line {} does not index `{container}` exactly once", row + 1)),
    };
    let (Some(operand), Some(index)) = (access.child_by_field_name("operand"), access.child_by_field_name("index"))
    else {
        return Err("the index expression is incomplete".into());
    };
    let (operand, index) = (source.text_of(operand), source.text_of(index));
    if !is_name_chain(operand) || !(is_name_chain(index) || index.parse::<u64>().is_ok()) {
        return Err(format!("`{operand}[{index}]` calls a function; a bounds check would call it twice"));
    }
    let errors = ErrorReturn::of(source, access, row)?;
    let (condition, message, arguments) = match index.parse::<u64>() {
        Ok(n) => (
            format!("if len({operand}) <= {n} {{"),
            format!("{operand} has %d items, need more than {n}"),
            format!(", len({operand})"),
        ),
        Err(_) => (
            format!("if {index} < 0 || {index} >= len({operand}) {{"),
            format!("index %d out of range for {operand} of length %d"),
            format!(", {index}, len({operand})"),
        ),
    };
    let statement = source.statement_of(access).ok_or("the index is not in a statement of its own")?;
    let guard = [(0, condition), (1, errors.statement(&message, &arguments)?), (0, "}".to_owned())];
    Ok(RuleFix {
        rule: "go-index-bounds",
        summary: format!("Check `{index}` against `len({operand})` in `{}`", errors.function),
        rationale: format!(
            "`{operand}[{index}]` indexed past the end. The change checks the bounds first and returns an error \
             through `{}`'s error result, naming the index and the length.",
            errors.function
        ),
        edit: source.insert_before(statement, &guard)?,
        hides_symptom: false,
    })
}

// ---------------------------------------------------------------- ignored strconv error

/// `n, _ := strconv.Atoi(s)` earlier in the function, with `n` used on the crash line.
fn ignored_parse_error(source: &Source, row: usize) -> Option<Node<'_>> {
    let used: Vec<String> =
        source.on_row(row, &["identifier"]).into_iter().map(|n| source.text_of(n).to_owned()).collect();
    let at_row = source.on_row(row, &["identifier"]).into_iter().next()?;
    let function = source.enclosing_function(at_row)?;
    source
        .find(function, |n| {
            if n.kind() != "short_var_declaration" || n.end_position().row >= row {
                return false;
            }
            let (Some(left), Some(right)) = (n.child_by_field_name("left"), n.child_by_field_name("right")) else {
                return false;
            };
            let names: Vec<&str> = source.text_of(left).split(',').map(str::trim).collect();
            let parses =
                source.text_of(right).starts_with("strconv.Parse") || source.text_of(right).starts_with("strconv.Atoi");
            matches!(names.as_slice(), [value, "_"] if used.iter().any(|u| u == value)) && parses
        })
        .into_iter()
        .next_back()
}

fn handle_parse_error(source: &Source, row: usize, declaration: Node<'_>) -> RuleResult {
    let left = declaration.child_by_field_name("left").map(|l| source.text_of(l)).unwrap_or_default();
    let value = left.split(',').next().unwrap_or_default().trim().to_owned();
    let call = declaration.child_by_field_name("right").map(|r| source.text_of(r)).unwrap_or_default();
    let errors = ErrorReturn::of(source, declaration, row)
        .map_err(|reason| format!("`{value}` comes from `{call}` whose error is ignored, but {reason}"))?;
    let lines = [
        (0, format!("{value}, err := {call}")),
        (0, "if err != nil {".to_owned()),
        (1, errors.statement(&format!("parsing {value}: %w"), ", err")?),
        (0, "}".to_owned()),
    ];
    Ok(RuleFix {
        rule: "go-handle-parse-error",
        summary: format!("Handle the error of `{call}` in `{}`", errors.function),
        rationale: format!(
            "`{value}` comes from `{call}`, whose error was thrown away with `_`, so bad input became `{value}`'s \
             zero value and crashed line {} later. The change returns the parse error (wrapped with %w) from \
             `{}` where it happens.",
            row + 1,
            errors.function
        ),
        edit: source.replace_statement(declaration, &lines)?,
        hides_symptom: false,
    })
}
