//! JavaScript reproductions for Node: a `node:test` file under `.crashloom/repro/` that loads the
//! module of an exported function of the crash and calls it, with the values Sentry's Node
//! local-variables integration captured, or with the text `JSON.parse` could not read.
//!
//! Values travel as JSON text inside a string literal and are rebuilt with `JSON.parse`: data, never
//! code. The test prints the error the way Node prints an uncaught one, then fails.

use std::path::Path;

use serde_json::Value;

use super::{
    REPRODUCTION_TEST_MARKER, ReproductionCandidate, ReproductionInputs, ReproductionOrigin, SiteFunction, call_path,
    crashing_function, file_id, is_cut, read_workspace_file, signature, site_function,
};
use crate::sandbox::FileChange;
use crate::workspace::sites::CrashGroup;
use crate::workspace::syntax::{ExpressionKind, SourceLanguage, expressions_on_line};

/// How Node's local-variables integration shows `undefined`.
const UNDEFINED: &str = "<undefined>";

/// The crashing function called with the values its frame captured; when they cannot rebuild the
/// call, the outermost exported in-app function whose arguments were all captured.
pub fn captured_values(root: &Path, group: &CrashGroup) -> Vec<ReproductionCandidate> {
    let path = call_path(group);
    let call_of = |site| {
        let function = site_function(root, site)?;
        let frame = group.frame_of(site)?;
        if function.language != SourceLanguage::JavaScript || frame.vars.is_empty() {
            return None;
        }
        let module = Module::of(root, &function)?;
        let mut arguments = Vec::new();
        for parameter in exported_parameters(&function, &module)? {
            let Some((_, text)) = frame.vars.iter().find(|(name, _)| *name == parameter.name) else {
                if parameter.has_default {
                    arguments.push(None);
                    continue;
                }
                return None;
            };
            if is_cut(text) {
                return None;
            }
            arguments.push(revive(text));
        }
        Some((function, module, arguments))
    };
    let chosen = path
        .first()
        .and_then(|site| call_of(site))
        .or_else(|| path.iter().skip(1).filter_map(|s| call_of(s)).next_back());
    let Some((function, module, arguments)) = chosen else {
        return Vec::new();
    };
    let names =
        signature(&function).map(|s| s.parameters.into_iter().map(|p| p.name).collect::<Vec<_>>()).unwrap_or_default();
    let description = format!("{}({}) called with the values the crash captured.", function.name, names.join(", "));
    test_file(group, &function, &module, &arguments, "", ReproductionOrigin::CapturedValues, description)
        .into_iter()
        .collect()
}

/// A value as the integration sent it and the crash model rendered it: objects, arrays, numbers,
/// booleans and `null` as JSON, strings as they are, `undefined` as `<undefined>` (`None`).
fn revive(text: &str) -> Option<Value> {
    if text == UNDEFINED {
        return None;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::String(_)) | Err(_) => Some(Value::String(text.to_owned())),
        Ok(value) => Some(value),
    }
}

/// `parseOrder(text)` called with the text a `JSON.parse` of its parameter could not read, when
/// V8's message shows it whole (`Unexpected token 'e', "tea x2" is not valid JSON`).
pub fn from_code(inputs: &ReproductionInputs<'_>) -> Option<ReproductionCandidate> {
    let function = crashing_function(inputs.root, inputs.group)?;
    if function.language != SourceLanguage::JavaScript || inputs.facts.exception != "SyntaxError" {
        return None;
    }
    let module = Module::of(inputs.root, &function)?;
    let parameters = exported_parameters(&function, &module)?;
    let message = inputs.facts.message.trim();
    let input = message.strip_suffix("\" is not valid JSON")?;
    let input = &input[input.find(", \"")? + 3..];
    let expressions = expressions_on_line(SourceLanguage::JavaScript, &function.text, function.line());
    let parsed = expressions.iter().find_map(|e| {
        let argument = e.part.trim().strip_prefix('(')?.strip_suffix(')')?.trim();
        (e.kind == ExpressionKind::Call && e.target == "JSON.parse").then_some(argument)
    })?;
    let position = parameters.iter().position(|p| p.name == parsed)?;
    if parameters.iter().enumerate().any(|(i, p)| i != position && !p.has_default) {
        return None;
    }
    let mut arguments = vec![None; position];
    arguments.push(Some(Value::String(input.to_owned())));
    let description = format!("{}({parsed}) called with the text JSON.parse could not read: {input:?}.", function.name);
    test_file(inputs.group, &function, &module, &arguments, "_from_code", ReproductionOrigin::FromCode, description)
}

/// How the function's file is loaded.
struct Module {
    esm: bool,
}

impl Module {
    fn of(root: &Path, function: &SiteFunction<'_>) -> Option<Module> {
        let path = &function.site.path;
        let esm = if path.ends_with(".mjs") {
            true
        } else if path.ends_with(".cjs") {
            false
        } else {
            package_type(root, path).as_deref() == Some("module")
        };
        Some(Module { esm })
    }
}

/// `"module"` or `"commonjs"` from the nearest package.json above a file.
fn package_type(root: &Path, path: &str) -> Option<String> {
    let mut dir = path;
    loop {
        dir = dir.rsplit_once('/').map_or("", |(parent, _)| parent);
        let manifest = if dir.is_empty() { "package.json".to_owned() } else { format!("{dir}/package.json") };
        if let Some(text) = read_workspace_file(root, &manifest) {
            let json: Value = serde_json::from_str(&text).ok()?;
            return Some(json.get("type").and_then(Value::as_str).unwrap_or("commonjs").to_owned());
        }
        if dir.is_empty() {
            return None;
        }
    }
}

/// The parameters of a module-level function its module exports; `None` for methods (they need
/// an object the crash did not capture), functions the module keeps to itself, and parameters
/// that are patterns or rests.
fn exported_parameters(function: &SiteFunction<'_>, module: &Module) -> Option<Vec<super::Parameter>> {
    let signature = signature(function)?;
    if signature.owner.is_some() || function.definition().starts_with([' ', '\t']) {
        return None;
    }
    let name = regex::escape(&function.name);
    let exported = if module.esm {
        format!(r"(?m)^export\s+(async\s+)?(function\*?|const|let|var)\s+{name}\b|^export\s*\{{[^}}]*\b{name}\b")
    } else {
        format!(
            r"(?m)\bmodule\.exports\s*=\s*\{{[^}}]*\b{name}\b|\bexports\.{name}\s*=|\bmodule\.exports\s*=\s*{name}\s*;?\s*$"
        )
    };
    let exported = regex::Regex::new(&exported).ok()?;
    exported.is_match(&function.text).then_some(signature.parameters)
}

fn test_file(
    group: &CrashGroup,
    function: &SiteFunction<'_>,
    module: &Module,
    arguments: &[Option<Value>],
    slot: &str,
    origin: ReproductionOrigin,
    description: String,
) -> Option<ReproductionCandidate> {
    let values: Vec<Value> = arguments.iter().map(|a| a.clone().unwrap_or(Value::Null)).collect();
    let missing: Vec<usize> = arguments.iter().enumerate().filter(|(_, a)| a.is_none()).map(|(i, _)| i).collect();
    let json = serde_json::to_string(&Value::Array(values)).ok()?;
    // A JSON string is a JavaScript string literal: the values' JSON, quoted once more.
    let values_literal = serde_json::to_string(&json).ok()?;
    let path_literal = serde_json::to_string(&function.site.path).ok()?;
    let name_literal = serde_json::to_string(&function.name).ok()?;
    let missing = serde_json::to_string(&missing).ok()?;
    let load = if module.esm {
        format!(
            "import test from 'node:test';\nimport path from 'node:path';\nimport {{ pathToFileURL }} from 'node:url';\n\nconst loaded = await import(pathToFileURL(path.resolve({path_literal})).href);\n"
        )
    } else {
        format!(
            "'use strict';\nconst test = require('node:test');\nconst path = require('node:path');\n\nconst loaded = require(path.resolve({path_literal}));\n"
        )
    };
    let script = format!(
        "// Reproduces a crash (written by Crashloom into a sandbox copy). The values are JSON read with\n// JSON.parse, never run as code.\n{load}const name = {name_literal};\nconst target = typeof loaded[name] === 'function' ? loaded[name] : loaded;\nconst values = JSON.parse({values_literal});\nconst missing = {missing};\nconst args = values.map((value, i) => (missing.includes(i) ? undefined : value));\n\ntest('{REPRODUCTION_TEST_MARKER}', async () => {{\n  try {{\n    await target(...args);\n  }} catch (error) {{\n    console.error(error);\n    throw error;\n  }}\n}});\n"
    );
    let extension = if module.esm { "mjs" } else { "cjs" };
    let path = format!(".crashloom/repro/{REPRODUCTION_TEST_MARKER}_{}{slot}.test.{extension}", file_id(group));
    Some(ReproductionCandidate {
        origin,
        description,
        command: vec!["node".to_owned(), path.clone()],
        files: vec![FileChange::write(path, script)],
    })
}
