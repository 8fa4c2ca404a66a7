//! The project's own tests that exercise the crashing function (found by Code Search), each run
//! alone with the project's runner, to see whether one already reproduces the crash.

use super::python::{PythonProgram, python_program};
use super::{ReproductionCandidate, ReproductionInputs, ReproductionOrigin, read_workspace_file};
use crate::investigate::CodeRef;
use crate::workspace::syntax::{SourceLanguage, parse};

/// Tests tried at most.
const MAX_TESTS: usize = 3;

/// A candidate per test Code Search found (at most three), tests that use a value of the crash
/// message (the missing key, the unreadable text) first.
pub fn candidates(inputs: &ReproductionInputs<'_>) -> Vec<ReproductionCandidate> {
    let values = quoted_values(&inputs.facts.message);
    let mut tests: Vec<(bool, &CodeRef)> = inputs
        .code
        .tests
        .iter()
        .map(|test| {
            let body = read_workspace_file(inputs.root, &test.path)
                .map(|text| test_body(&text, test.line.saturating_sub(1) as usize))
                .unwrap_or_default();
            (values.iter().any(|v| body.contains(v.as_str())), test)
        })
        .collect();
    tests.sort_by_key(|(uses_value, _)| !uses_value);
    tests.into_iter().filter_map(|(_, test)| candidate(inputs, test)).take(MAX_TESTS).collect()
}

/// The lines of a test starting on a 0-based line: up to the next line indented no deeper than
/// its first (the closing brace included), at most 60.
fn test_body(text: &str, line: usize) -> String {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut lines = text.lines().skip(line);
    let Some(first) = lines.next() else {
        return String::new();
    };
    let mut body = vec![first];
    for next in lines.take(60) {
        if !next.trim().is_empty() && indent(next) <= indent(first) {
            if next.trim_start().starts_with(['}', ')']) {
                body.push(next);
            }
            break;
        }
        body.push(next);
    }
    body.join("\n")
}

/// The texts quoted in a message (`'luxury'`, `"12kw"`), without their quotes.
fn quoted_values(message: &str) -> Vec<String> {
    let mut values = Vec::new();
    for quote in ['\'', '"'] {
        let parts: Vec<&str> = message.split(quote).collect();
        for (i, part) in parts.iter().enumerate() {
            if i % 2 == 1 && i + 1 < parts.len() && !part.trim().is_empty() {
                values.push((*part).to_owned());
            }
        }
    }
    values
}

fn candidate(inputs: &ReproductionInputs<'_>, test: &CodeRef) -> Option<ReproductionCandidate> {
    let name = test.note.trim();
    if name.is_empty() || name.contains('\n') {
        return None;
    }
    let text = read_workspace_file(inputs.root, &test.path)?;
    let language = SourceLanguage::from_path(&test.path)?;
    let owned = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<String>>();
    let command = match language {
        SourceLanguage::Python => {
            let class = python_class_of(&text, test.line.saturating_sub(1) as usize);
            let pytest_id = match &class {
                Some(class) => format!("{}::{class}::{name}", test.path),
                None => format!("{}::{name}", test.path),
            };
            let pytest = ["-x", "-q", "--tb=native", "-p", "no:cacheprovider", pytest_id.as_str()];
            match python_program(inputs.test_command) {
                PythonProgram::Pytest(program) => [vec![program], owned(&pytest)].concat(),
                PythonProgram::Interpreter(python, true) => {
                    [vec![python, "-m".into(), "pytest".into()], owned(&pytest)].concat()
                }
                PythonProgram::Interpreter(python, false) => match (class, test.path.strip_suffix(".py")) {
                    (Some(class), Some(module)) => {
                        let module = module.replace('/', ".");
                        vec![python, "-m".into(), "unittest".into(), "-v".into(), format!("{module}.{class}.{name}")]
                    }
                    _ => [vec![python, "-m".into(), "pytest".into()], owned(&pytest)].concat(),
                },
            }
        }
        SourceLanguage::Go => {
            let dir = test.path.rsplit_once('/').map_or(".", |(dir, _)| dir);
            owned(&["env", "GOPROXY=off", "go", "test", "-count=1", "-run", &format!("^{name}$"), &format!("./{dir}/")])
        }
        SourceLanguage::Rust => {
            let mut command =
                owned(&["env", "RUST_BACKTRACE=1", "CARGO_NET_OFFLINE=true", "cargo", "test", "--offline"]);
            let (crate_dir, within) = rust_crate_of(inputs.root, &test.path)?;
            if !crate_dir.is_empty() {
                command.extend(["--manifest-path".to_owned(), format!("{crate_dir}/Cargo.toml")]);
            }
            let mut path = Vec::new();
            if let Some(file) = within.strip_prefix("tests/").and_then(|f| f.strip_suffix(".rs")) {
                if file.contains('/') {
                    return None;
                }
                command.extend(["--test".to_owned(), file.to_owned()]);
            } else {
                path.extend(rust_module_path(within)?);
            }
            path.extend(rust_mods_around(&text, test.line.saturating_sub(1) as usize));
            path.push(name.to_owned());
            command.extend([path.join("::"), "--".into(), "--exact".into()]);
            command
        }
        SourceLanguage::JavaScript | SourceLanguage::TypeScript | SourceLanguage::Tsx => {
            let escaped = regex::escape(name);
            let manifest = read_workspace_file(inputs.root, "package.json").unwrap_or_default();
            let has = |tool: &str| {
                manifest.contains(&format!("\"{tool}\"")) && inputs.root.join("node_modules/.bin").join(tool).exists()
            };
            if has("jest") {
                owned(&["node_modules/.bin/jest", "--ci", "-t", &escaped, &test.path])
            } else if has("vitest") {
                owned(&["node_modules/.bin/vitest", "run", "-t", &escaped, &test.path])
            } else if language == SourceLanguage::JavaScript {
                // The spec reporter prints a failure's stack as Node prints an uncaught error.
                owned(&[
                    "node",
                    "--test",
                    "--test-reporter=spec",
                    &format!("--test-name-pattern=^{escaped}$"),
                    &test.path,
                ])
            } else {
                return None;
            }
        }
        SourceLanguage::Java => {
            let class = test.path.rsplit('/').next()?.strip_suffix(".java")?;
            if inputs.root.join("pom.xml").exists() {
                owned(&["mvn", "-q", "-o", "test", &format!("-Dtest={class}#{name}"), "-DtrimStackTrace=false"])
            } else if inputs.root.join("build.gradle").exists() || inputs.root.join("build.gradle.kts").exists() {
                let gradle = if inputs.root.join("gradlew").exists() { "./gradlew" } else { "gradle" };
                owned(&[gradle, "test", "--offline", "--tests", &format!("*{class}.{name}")])
            } else {
                return None;
            }
        }
    };
    Some(ReproductionCandidate {
        origin: ReproductionOrigin::ProjectTest { name: name.to_owned() },
        description: format!("The project's test {name} ({}:{}), run alone.", test.path, test.line),
        files: Vec::new(),
        command,
    })
}

/// The class a Python `def` on a 0-based line is defined in, from the indentation above it.
fn python_class_of(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = indent(lines.get(line)?);
    if own == 0 {
        return None;
    }
    lines[..line].iter().rev().find(|l| !l.trim().is_empty() && indent(l) < own).and_then(|l| {
        let rest = l.trim_start().strip_prefix("class ")?;
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        (!name.is_empty() && indent(l) == 0).then_some(name)
    })
}

/// The folder of the crate holding a file (`""` for the workspace root) and the file's path in it.
pub(crate) fn rust_crate_of<'a>(root: &std::path::Path, path: &'a str) -> Option<(String, &'a str)> {
    let mut dir = path;
    while let Some((parent, _)) = dir.rsplit_once('/') {
        dir = parent;
        if root.join(dir).join("Cargo.toml").is_file() {
            return Some((dir.to_owned(), &path[dir.len() + 1..]));
        }
    }
    root.join("Cargo.toml").is_file().then_some((String::new(), path))
}

/// `["a", "b"]` for `src/a/b.rs` or `src/a/b/mod.rs`, `[]` for `src/lib.rs` and `src/main.rs`.
pub(crate) fn rust_module_path(within: &str) -> Option<Vec<String>> {
    let inside = within.strip_prefix("src/")?.strip_suffix(".rs")?;
    let inside = inside.strip_suffix("/mod").unwrap_or(inside);
    if matches!(inside, "lib" | "main") || inside.starts_with("bin/") {
        return Some(Vec::new());
    }
    Some(inside.split('/').map(str::to_owned).collect())
}

/// The inline `mod` blocks around a 0-based line of a Rust file, outermost first.
fn rust_mods_around(text: &str, line: usize) -> Vec<String> {
    let Some(tree) = parse(SourceLanguage::Rust, text) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.start_position().row > line || node.end_position().row < line {
            continue;
        }
        if node.kind() == "mod_item"
            && let Some(name) = node.child_by_field_name("name").and_then(|n| n.utf8_text(text.as_bytes()).ok())
        {
            names.push((node.start_position().row, name.to_owned()));
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    names.sort();
    names.into_iter().map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_tests_are_named_by_their_module_path() {
        assert_eq!(rust_module_path("src/lib.rs"), Some(vec![]));
        assert_eq!(rust_module_path("src/stock/shelves.rs"), Some(vec!["stock".to_owned(), "shelves".to_owned()]));
        assert_eq!(rust_module_path("src/stock/mod.rs"), Some(vec!["stock".to_owned()]));
        let text =
            "fn f() {}\n#[cfg(test)]\nmod tests {\n    mod inner {\n        #[test]\n        fn t() {}\n    }\n}\n";
        assert_eq!(rust_mods_around(text, 5), vec!["tests".to_owned(), "inner".to_owned()]);
        assert_eq!(rust_mods_around(text, 0), Vec::<String>::new());
    }

    #[test]
    fn python_tests_know_their_class() {
        let text = "import unittest\n\nclass RateTest(unittest.TestCase):\n    def test_a(self):\n        pass\n\ndef test_b():\n    pass\n";
        assert_eq!(python_class_of(text, 3).as_deref(), Some("RateTest"));
        assert_eq!(python_class_of(text, 6), None);
        assert_eq!(quoted_values("KeyError: 'luxury' and \"12kw\""), vec!["luxury".to_owned(), "12kw".to_owned()]);
    }
}
