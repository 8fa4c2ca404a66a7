//! Python reproductions: the crashing function called with the values the crash captured.

use std::path::Path;

use super::{REPRODUCTION_TEST_MARKER, ReproductionCandidate, ReproductionOrigin};
use crate::sandbox::FileChange;
use crate::workspace::sites::CrashGroup;
use crate::workspace::syntax::{SourceLanguage, enclosing_function, functions};

/// Turns captured values back into Python values without running them: a `repr` through
/// `ast.literal_eval`; a container as Sentry sends it (JSON whose strings are `repr`s) through
/// `json.loads`, then each string leaf the same way.
const REPRODUCTION_PRELUDE: &str = r#"# Reproduces a crash with the values it captured (written by Crashloom into a sandbox copy).
import ast
import json
import sys
import unittest

sys.path.insert(0, ".")


def leaf(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def revive(data):
    if isinstance(data, str):
        return leaf(data)
    if isinstance(data, list):
        return [revive(item) for item in data]
    if isinstance(data, dict):
        return {key: revive(item) for key, item in data.items()}
    return data


def value(text):
    if text[:1] in "{[":
        return revive(json.loads(text))
    return ast.literal_eval(text)


"#;

/// Python crashes whose crash frame captured every argument of the crashing function (Sentry's
/// local variables, `repr`s): the values are rebuilt with `ast.literal_eval`, which reads data and
/// never runs code, so crash data is never executed. Other crashes get none.
pub fn from_captured_values(root: &Path, group: &CrashGroup) -> Option<ReproductionCandidate> {
    let site = group.crash_site()?;
    let frame = group.frame_of(site)?;
    let function = site.function.as_deref()?;
    if !site.path.ends_with(".py") || frame.vars.is_empty() || !is_python_identifier(function) {
        return None;
    }
    let module = site.path.strip_suffix(".py")?.replace('/', ".");
    let module = module.strip_suffix(".__init__").unwrap_or(&module).to_owned();
    if !module.split('.').all(is_python_identifier) {
        return None;
    }
    let text = std::fs::read_to_string(root.join(&site.path)).ok()?;
    let spans = functions(SourceLanguage::Python, &text);
    let span = enclosing_function(&spans, site.line.saturating_sub(1) as usize)?;
    if span.name != function {
        return None;
    }
    // Top-level functions only: a method needs an instance the crash did not capture.
    let definition = text.lines().nth(span.start_line)?;
    if !definition.starts_with("def ") && !definition.starts_with("async def ") {
        return None;
    }
    let parameters = python_parameters(&text, span.start_line)?;
    let mut arguments = Vec::new();
    for name in &parameters {
        let (_, value) = frame.vars.iter().find(|(var, _)| var == name)?;
        // Sentry cuts long values; a cut value is not the value the function got.
        if value.ends_with("...") || value.ends_with('…') {
            return None;
        }
        arguments.push((name.clone(), value.clone()));
    }
    let literal = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let mut script = String::from(REPRODUCTION_PRELUDE);
    script.push_str(&format!("from {module} import {function}\n\narguments = {{\n"));
    for (name, value) in &arguments {
        script.push_str(&format!("    {}: value({}),\n", literal(name), literal(value)));
    }
    script.push_str(&format!(
        "}}\n\n\nclass CrashloomReproduction(unittest.TestCase):\n    def test_{REPRODUCTION_TEST_MARKER}(self):\n        {function}(**arguments)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n"
    ));
    let id: String =
        group.short_id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let path = format!(".crashloom/repro/test_{REPRODUCTION_TEST_MARKER}_{id}.py");
    let names: Vec<&str> = parameters.iter().map(String::as_str).collect();
    Some(ReproductionCandidate {
        origin: ReproductionOrigin::CapturedValues,
        command: vec!["python3".to_owned(), path.clone()],
        files: vec![FileChange::write(path, script)],
        description: format!("{function}({}) called with the values the crash captured.", names.join(", ")),
    })
}

fn is_python_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The plain parameter names of the `def` starting on a 0-based line; `None` for `*args`,
/// `**kwargs` or anything unusual.
fn python_parameters(text: &str, line: usize) -> Option<Vec<String>> {
    let header: String = text.lines().skip(line).take(20).collect::<Vec<_>>().join(" ");
    let open = header.find('(')?;
    let close = header[open..].find(')')? + open;
    let mut names = Vec::new();
    for parameter in header[open + 1..close].split(',') {
        let parameter = parameter.trim();
        if parameter.is_empty() || parameter == "/" {
            continue;
        }
        let name = parameter.split([':', '=']).next()?.trim();
        if !is_python_identifier(name) {
            return None;
        }
        names.push(name.to_owned());
    }
    Some(names)
}
