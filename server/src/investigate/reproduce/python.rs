//! Python reproductions: a unittest test case that calls a function of the crash with the values
//! the crash captured (Sentry's local variables) or with the value its message shows (the key of a
//! `KeyError`, the text `int()` could not read).
//!
//! Values travel as data: each is checked here to be a Python literal (strings, numbers, `True`,
//! `False`, `None`, and lists, tuples, dicts and sets of them; Sentry's JSON containers of such
//! `repr`s), written into the test as a JSON string, and rebuilt there with `json.loads` and
//! `ast.literal_eval`, which read data and never run code.

use std::path::Path;

use super::{
    REPRODUCTION_TEST_MARKER, ReproductionCandidate, ReproductionInputs, ReproductionOrigin, SiteFunction, call_path,
    crashing_function, file_id, is_cut, signature, site_function,
};
use crate::sandbox::FileChange;
use crate::workspace::sites::CrashGroup;
use crate::workspace::syntax::{ExpressionKind, SourceLanguage, expressions_on_line, parse};

/// Turns the values back into Python values without running them: a `repr` through
/// `ast.literal_eval`; a container as Sentry sends it (JSON whose strings are `repr`s) through
/// `json.loads`, then each string leaf the same way.
const REPRODUCTION_PRELUDE: &str = r#"# Reproduces a crash (written by Crashloom into a sandbox copy). The values are data: JSON and
# Python literals read with json.loads and ast.literal_eval, never run as code.
import ast
import json
import sys
import unittest

sys.path.insert(0, ".")


def revive(data):
    if isinstance(data, str):
        return ast.literal_eval(data)
    if isinstance(data, list):
        return [revive(item) for item in data]
    if isinstance(data, dict):
        return {key: revive(item) for key, item in data.items()}
    return data


def value(text):
    if text[:1] in "{[":
        try:
            return revive(json.loads(text))
        except ValueError:
            pass
    return ast.literal_eval(text)


"#;

/// Python crashes whose captured values rebuild a call (see [`captured_values`]): the first.
pub fn from_captured_values(root: &Path, group: &CrashGroup) -> Option<ReproductionCandidate> {
    captured_values(root, group, None).into_iter().next()
}

/// The crashing function called with the values its frame captured; when those cannot rebuild
/// the call (a method needs `self`, a value is missing, cut or not data), the outermost in-app
/// function whose arguments were all captured, then the nearest such caller. At most two.
pub fn captured_values(root: &Path, group: &CrashGroup, test_command: Option<&[String]>) -> Vec<ReproductionCandidate> {
    let path = call_path(group);
    let call_of = |site| {
        let function = site_function(root, site)?;
        let frame = group.frame_of(site)?;
        if function.language != SourceLanguage::Python || frame.vars.is_empty() {
            return None;
        }
        let arguments = captured_arguments(&function, &frame.vars)?;
        Some((function, arguments))
    };
    let mut calls: Vec<(SiteFunction<'_>, Vec<(String, String)>)> = Vec::new();
    if let Some(crashing) = path.first().and_then(|site| call_of(site)) {
        calls.push(crashing);
    } else {
        let callers: Vec<_> = path.iter().skip(1).filter_map(|site| call_of(site)).collect();
        let nearest = callers.first().map(|(f, _)| f.site.frame);
        let mut callers = callers.into_iter();
        if let Some(outermost) = callers.next_back() {
            calls.push(outermost);
        }
        if let Some(nearest) = callers.find(|(f, _)| Some(f.site.frame) == nearest) {
            calls.push(nearest);
        }
    }
    calls
        .into_iter()
        .filter_map(|(function, arguments)| {
            let names: Vec<&str> = arguments.iter().map(|(n, _)| n.as_str()).collect();
            let description =
                format!("{}({}) called with the values the crash captured.", function.name, names.join(", "));
            let slot = if function.site.frame == group.crash_site()?.frame {
                String::new()
            } else {
                format!("_{}", function.name)
            };
            test_case(
                group,
                &function,
                &arguments,
                &slot,
                test_command,
                ReproductionOrigin::CapturedValues,
                description,
            )
        })
        .collect()
}

/// The values a frame captured for every parameter of a module-level function; `None` when one
/// is missing, cut, or not data.
fn captured_arguments(function: &SiteFunction<'_>, vars: &[(String, String)]) -> Option<Vec<(String, String)>> {
    let signature = module_function(function)?;
    let mut arguments = Vec::new();
    for parameter in &signature {
        let Some((_, value)) = vars.iter().find(|(var, _)| *var == parameter.name) else {
            if parameter.has_default {
                continue;
            }
            return None;
        };
        if is_cut(value) || !is_data(value) {
            return None;
        }
        arguments.push((parameter.name.clone(), value.clone()));
    }
    Some(arguments)
}

/// The parameters of a function defined at the top of an importable module; `None` for methods
/// (they need an instance the crash did not capture), nested functions and unusual parameters.
fn module_function(function: &SiteFunction<'_>) -> Option<Vec<super::Parameter>> {
    let definition = function.definition();
    if !definition.starts_with("def ") && !definition.starts_with("async def ") {
        return None;
    }
    module_of(&function.site.path)?;
    let signature = signature(function)?;
    (signature.owner.is_none()).then_some(signature.parameters)
}

/// `shop.orders` for `shop/orders.py`; `None` when the path is not an importable module.
fn module_of(path: &str) -> Option<String> {
    let module = path.strip_suffix(".py")?.replace('/', ".");
    let module = module.strip_suffix(".__init__").unwrap_or(&module).to_owned();
    module.split('.').all(is_python_identifier).then_some(module)
}

/// A crash whose message shows the one value its function was called with: `KeyError: 'luxury'`
/// where the function looks up its parameter, `invalid literal for int() with base 10: '3 boxes'`
/// where it converts its parameter. Other parameters must have defaults; no guessing.
pub fn from_code(inputs: &ReproductionInputs<'_>) -> Option<ReproductionCandidate> {
    let function = crashing_function(inputs.root, inputs.group)?;
    let parameters = module_function(&function)?;
    let exception = inputs.facts.exception.rsplit('.').next().unwrap_or("");
    let message = inputs.facts.message.trim();
    let expressions = expressions_on_line(SourceLanguage::Python, &function.text, function.line());
    let is_parameter = |name: &str| parameters.iter().any(|p| p.name == name);
    let (parameter, value, what) = match exception {
        "KeyError" => {
            let index = expressions.iter().find(|e| e.kind == ExpressionKind::Index && is_parameter(e.part.trim()))?;
            (index.part.trim().to_owned(), message.to_owned(), "the key the crash names")
        }
        "ValueError" => {
            let input = ["invalid literal for int() with base ", "could not convert string to float: "]
                .iter()
                .find_map(|prefix| message.strip_prefix(prefix))?;
            let input = input.split_once(": ").map_or(input, |(_, input)| input);
            let call = expressions.iter().find(|e| {
                e.kind == ExpressionKind::Call
                    && matches!(e.target.as_str(), "int" | "float")
                    && argument_root(&e.part).is_some_and(is_parameter)
            })?;
            (argument_root(&call.part)?.to_owned(), input.to_owned(), "the text the crash names")
        }
        _ => return None,
    };
    if is_cut(&value) || !is_literal(&value) {
        return None;
    }
    if parameters.iter().any(|p| p.name != parameter && !p.has_default) {
        return None;
    }
    let description = format!("{}({parameter}) called with {what}: {value}.", function.name);
    test_case(
        inputs.group,
        &function,
        &[(parameter, value)],
        "_from_code",
        inputs.test_command,
        ReproductionOrigin::FromCode,
        description,
    )
}

/// `text` for `(text)`, `(text.strip())`, `(text.strip().lower())`: the parameter a call converts.
fn argument_root(arguments: &str) -> Option<&str> {
    let inner = arguments.trim().strip_prefix('(')?.strip_suffix(')')?.trim();
    let mut parts = inner.split('.');
    let root = parts.next()?;
    let methods_ok = parts.all(|m| m.strip_suffix("()").is_some_and(is_python_identifier));
    (is_python_identifier(root) && methods_ok).then_some(root)
}

fn test_case(
    group: &CrashGroup,
    function: &SiteFunction<'_>,
    arguments: &[(String, String)],
    slot: &str,
    test_command: Option<&[String]>,
    origin: ReproductionOrigin,
    description: String,
) -> Option<ReproductionCandidate> {
    let module = module_of(&function.site.path)?;
    let name = &function.name;
    let literal = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let mut script = String::from(REPRODUCTION_PRELUDE);
    script.push_str(&format!("from {module} import {name}\n\narguments = {{\n"));
    for (parameter, value) in arguments {
        script.push_str(&format!("    {}: value({}),\n", literal(parameter), literal(value)));
    }
    script.push_str(&format!(
        "}}\n\n\nclass CrashloomReproduction(unittest.TestCase):\n    def test_{REPRODUCTION_TEST_MARKER}(self):\n        {name}(**arguments)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n"
    ));
    let path = format!(".crashloom/repro/test_{REPRODUCTION_TEST_MARKER}_{}{slot}.py", file_id(group));
    Some(ReproductionCandidate {
        origin,
        command: command(test_command, &path),
        files: vec![FileChange::write(path, script)],
        description,
    })
}

/// The test file run by the project's interpreter: through pytest (native tracebacks, no cache
/// written) when the project's tests run with pytest, else as a unittest program.
fn command(test_command: Option<&[String]>, path: &str) -> Vec<String> {
    let owned = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let pytest = ["-x", "-q", "--tb=native", "-p", "no:cacheprovider", path];
    match python_program(test_command) {
        PythonProgram::Pytest(program) => [vec![program], owned(&pytest)].concat(),
        PythonProgram::Interpreter(python, true) => {
            [vec![python, "-m".into(), "pytest".into()], owned(&pytest)].concat()
        }
        PythonProgram::Interpreter(python, false) => vec![python, path.to_owned()],
    }
}

pub(crate) enum PythonProgram {
    /// A `pytest` executable.
    Pytest(String),
    /// An interpreter, and whether the project runs pytest with it.
    Interpreter(String, bool),
}

/// The interpreter (or pytest) the project's test command uses; `python3` when it names none.
pub(crate) fn python_program(test_command: Option<&[String]>) -> PythonProgram {
    let Some(command) = test_command.filter(|c| !c.is_empty()) else {
        return PythonProgram::Interpreter("python3".into(), false);
    };
    // `env VAR=x python ...`, `uv run python ...`: the first word that is a program of interest.
    for (i, word) in command.iter().enumerate() {
        let file = word.rsplit('/').next().unwrap_or(word);
        if file == "pytest" || file == "py.test" {
            return PythonProgram::Pytest(word.clone());
        }
        if file.starts_with("python") && file[6..].chars().all(|c| c.is_ascii_digit() || c == '.') {
            let pytest = command.get(i + 1..i + 3).is_some_and(|rest| rest[0] == "-m" && rest[1] == "pytest");
            return PythonProgram::Interpreter(word.clone(), pytest);
        }
    }
    PythonProgram::Interpreter("python3".into(), false)
}

/// A captured value that rebuilds as data: a Python literal, or Sentry's JSON container whose
/// string leaves are literals.
fn is_data(value: &str) -> bool {
    if value.starts_with(['{', '['])
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(value)
    {
        return json_leaves_are_literals(&json);
    }
    is_literal(value)
}

fn json_leaves_are_literals(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => !is_cut(text) && is_literal(text),
        serde_json::Value::Array(items) => items.iter().all(json_leaves_are_literals),
        serde_json::Value::Object(items) => items.values().all(json_leaves_are_literals),
        _ => true,
    }
}

/// Whether a text is one Python literal expression, as `ast.literal_eval` accepts: no names, no
/// calls, no f-strings, no operators but a sign or a complex number's `+`/`-`.
pub(crate) fn is_literal(text: &str) -> bool {
    let Some(tree) = parse(SourceLanguage::Python, text) else {
        return false;
    };
    let root = tree.root_node();
    if root.has_error() || root.named_child_count() != 1 {
        return false;
    }
    let Some(statement) = root.named_child(0).filter(|s| s.kind() == "expression_statement") else {
        return false;
    };
    if statement.named_child_count() != 1 {
        return false;
    }
    let mut stack = vec![statement.named_child(0)];
    while let Some(Some(node)) = stack.pop() {
        let allowed = match node.kind() {
            "string"
            | "concatenated_string"
            | "string_start"
            | "string_content"
            | "string_end"
            | "escape_sequence"
            | "integer"
            | "float"
            | "true"
            | "false"
            | "none"
            | "list"
            | "tuple"
            | "dictionary"
            | "set"
            | "pair"
            | "parenthesized_expression" => true,
            "unary_operator" | "binary_operator" => {
                let operator = node.child_by_field_name("operator").map(|o| o.kind());
                matches!(operator, Some("-" | "+"))
            }
            _ => false,
        };
        if !allowed {
            return false;
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor).map(Some));
    }
    true
}

fn is_python_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_literals_are_data() {
        for literal in ["'luxury'", "3", "-1.5", "None", "(1, 'a')", "{'a': [1, 2.0], 'b': {1, 2}}", "1+2j", "b'x'"] {
            assert!(is_literal(literal), "{literal}");
        }
        for code in [
            "__import__('os').system('touch pwned')",
            "f'{x}'",
            "open('x')",
            "[x for x in y]",
            "'a' * 3",
            "<tariffs.basket.Basket object at 0x7f>",
            "'cut",
            "1; 2",
        ] {
            assert!(!is_literal(code), "{code}");
        }
        assert!(is_data(r#"{"qty":"'4'","sku":"'B2'"}"#));
        assert!(!is_data(r#"{"self":"<Basket object at 0x1>"}"#));
    }
}
