//! Go reproductions written from the code: a `go test` test in the crashing function's own package
//! (`<pkg>/crashloom_repro_test.go`, so unexported functions are reachable) that calls it with the
//! value the panic shows: the text `strconv` could not parse, the index that was out of range; or,
//! for a write into a nil map, the method called on a value built by the package's constructor.

use super::text::{Dialect, escaped_quote, string_literal};
use super::{
    REPRODUCTION_TEST_MARKER, ReproductionCandidate, ReproductionInputs, ReproductionOrigin, crashing_function, is_cut,
    read_workspace_file, signature,
};
use crate::sandbox::FileChange;
use crate::workspace::syntax::{ExpressionKind, SourceLanguage, expressions_on_line, functions};

pub fn from_code(inputs: &ReproductionInputs<'_>) -> Option<ReproductionCandidate> {
    let function = crashing_function(inputs.root, inputs.group)?;
    if function.language != SourceLanguage::Go || function.site.path.ends_with("_test.go") {
        return None;
    }
    let signature = signature(&function)?;
    let message = inputs.facts.message.trim();
    let package = function.text.lines().find_map(|l| l.strip_prefix("package "))?.trim().to_owned();
    if !crate::workspace::syntax::is_identifier(&package) {
        return None;
    }
    let single = |ty: &dyn Fn(&str) -> bool| {
        let [parameter] = signature.parameters.as_slice() else {
            return None;
        };
        parameter.ty.as_deref().is_some_and(ty).then(|| parameter.name.clone())
    };
    let (call, what) = if let Some(after) =
        ["strconv.Atoi: ", "strconv.ParseInt: ", "strconv.ParseUint: ", "strconv.ParseFloat: ", "strconv.ParseBool: "]
            .iter()
            .find(|prefix| message.contains(*prefix))
    {
        if !signature.is_static || is_cut(message) {
            return None;
        }
        let input = escaped_quote(message, &format!("{after}parsing "))?;
        let parameter = single(&|ty| ty == "string")?;
        let parsed = functions_calls(&function.source_lines(), &parameter);
        if !parsed {
            return None;
        }
        (
            format!("{}({})", function.name, string_literal(&input, Dialect::Go)),
            format!("the text the panic names, {input:?}"),
        )
    } else if let Some((_, index)) = message.split_once("index out of range [") {
        if !signature.is_static {
            return None;
        }
        let index: i64 = index.split(']').next()?.parse().ok()?;
        let parameter = single(&|ty| is_integer(ty))?;
        let expressions = expressions_on_line(SourceLanguage::Go, &function.text, function.line());
        expressions.iter().find(|e| e.kind == ExpressionKind::Index && e.part.trim() == parameter)?;
        (format!("{}({index})", function.name), format!("the index the panic names, {index}"))
    } else if message.starts_with("assignment to entry in nil map") {
        let owner = signature.owner.clone().filter(|_| !signature.is_static)?;
        let constructor = constructor_of(inputs.root, &function.site.path, &owner)?;
        let mut zeros = Vec::new();
        for parameter in &signature.parameters {
            zeros.push(zero_value(parameter.ty.as_deref()?)?);
        }
        (
            format!("{constructor}().{}({})", function.name, zeros.join(", ")),
            format!("a {owner} made by {constructor}() (the map it writes is never made)"),
        )
    } else {
        return None;
    };
    let dir = function.site.path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let path = if dir.is_empty() {
        format!("{REPRODUCTION_TEST_MARKER}_test.go")
    } else {
        format!("{dir}/{REPRODUCTION_TEST_MARKER}_test.go")
    };
    let test = format!(
        "// Reproduces a crash (written by Crashloom into a sandbox copy).\npackage {package}\n\nimport \"testing\"\n\nfunc Test_{REPRODUCTION_TEST_MARKER}(t *testing.T) {{\n\t{call}\n}}\n"
    );
    let target = if dir.is_empty() { "./".to_owned() } else { format!("./{dir}/") };
    Some(ReproductionCandidate {
        origin: ReproductionOrigin::FromCode,
        description: format!("{} called with {what}.", function.name),
        files: vec![FileChange::write(path, test)],
        command: [
            "env",
            "GOPROXY=off",
            "go",
            "test",
            "-count=1",
            "-run",
            &format!("^Test_{REPRODUCTION_TEST_MARKER}$"),
            &target,
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect(),
    })
}

/// Whether the function hands the parameter to a `strconv` parser.
fn functions_calls(lines: &[&str], parameter: &str) -> bool {
    lines.iter().any(|line| {
        ["Atoi(", "ParseInt(", "ParseUint(", "ParseFloat(", "ParseBool("].iter().any(|call| {
            line.split(&format!("strconv.{call}")).nth(1).is_some_and(|rest| {
                let argument: String = rest.chars().take_while(|c| *c != ',' && *c != ')').collect();
                argument.trim() == parameter
            })
        })
    })
}

fn is_integer(ty: &str) -> bool {
    matches!(ty, "int" | "int8" | "int16" | "int32" | "int64" | "uint" | "uint8" | "uint16" | "uint32" | "uint64")
}

fn zero_value(ty: &str) -> Option<String> {
    Some(match ty {
        "string" => "\"\"".to_owned(),
        "bool" => "false".to_owned(),
        "float32" | "float64" => "0".to_owned(),
        _ if is_integer(ty) => "0".to_owned(),
        _ => return None,
    })
}

/// `NewRegistry` for `Registry`: a function of the same package, without parameters, that returns
/// the type or a pointer to it.
fn constructor_of(root: &std::path::Path, path: &str, owner: &str) -> Option<String> {
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let entries = std::fs::read_dir(root.join(dir)).ok()?;
    let mut files: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|name| name.ends_with(".go") && !name.ends_with("_test.go"))
        .collect();
    files.sort();
    for file in files {
        let relative = if dir.is_empty() { file } else { format!("{dir}/{file}") };
        let Some(text) = read_workspace_file(root, &relative) else {
            continue;
        };
        for span in functions(SourceLanguage::Go, &text) {
            let Some(header) = text.lines().nth(span.start_line) else {
                continue;
            };
            let wanted = [format!("func {}() *{owner} {{", span.name), format!("func {}() {owner} {{", span.name)];
            if wanted.iter().any(|w| header.trim() == w) {
                return Some(span.name);
            }
        }
    }
    None
}
