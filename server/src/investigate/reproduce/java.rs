//! Java reproductions written from the code: a JUnit test (5 or 4, as the build declares) in the
//! crashing class's package under `src/test/java`, calling a static method with the value the
//! exception shows: the text `NumberFormatException` quotes, the index that was out of bounds.
//! Run with the project's build tool, offline (`mvn -o`, `gradle --offline`).

use super::text::{Dialect, string_literal};
use super::{
    REPRODUCTION_TEST_MARKER, ReproductionCandidate, ReproductionInputs, ReproductionOrigin, crashing_function, is_cut,
    read_workspace_file, signature,
};
use crate::sandbox::FileChange;
use crate::workspace::syntax::{ExpressionKind, SourceLanguage, expressions_on_line};

/// The test class every Java reproduction defines.
pub const TEST_CLASS: &str = "CrashloomReproTest";

pub fn from_code(inputs: &ReproductionInputs<'_>) -> Option<ReproductionCandidate> {
    let function = crashing_function(inputs.root, inputs.group)?;
    if function.language != SourceLanguage::Java {
        return None;
    }
    let signature = signature(&function)?;
    let class = signature.owner.clone()?;
    if !signature.is_static {
        return None;
    }
    let [parameter] = signature.parameters.as_slice() else {
        return None;
    };
    let ty = parameter.ty.as_deref()?;
    let exception = inputs.facts.exception.rsplit('.').next().unwrap_or("");
    let message = inputs.facts.message.trim();
    let expressions = expressions_on_line(SourceLanguage::Java, &function.text, function.line());
    let (argument, what) = match exception {
        "NumberFormatException" => {
            let input = message.strip_prefix("For input string: \"")?;
            let input = input.strip_suffix('"').or_else(|| input.rsplit_once("\" under radix ").map(|(i, _)| i))?;
            if ty != "String" || is_cut(message) {
                return None;
            }
            let parses = expressions.iter().any(|e| {
                e.kind == ExpressionKind::Call
                    && ["parseInt", "parseLong", "parseDouble", "parseFloat", "parseShort", "parseByte", "valueOf"]
                        .iter()
                        .any(|p| e.target.ends_with(p))
                    && argument_root(&e.part) == Some(parameter.name.as_str())
            });
            if !parses {
                return None;
            }
            (string_literal(input, Dialect::Java), format!("the text the exception quotes, {input:?}"))
        }
        "ArrayIndexOutOfBoundsException" | "IndexOutOfBoundsException" | "StringIndexOutOfBoundsException" => {
            let index: i64 = message.strip_prefix("Index ")?.split_whitespace().next()?.parse().ok()?;
            if !matches!(ty, "int" | "long" | "short" | "Integer") {
                return None;
            }
            let indexes = expressions.iter().any(|e| {
                (e.kind == ExpressionKind::Index && e.part.trim() == parameter.name)
                    || (e.kind == ExpressionKind::Call
                        && e.target.ends_with(".get")
                        && argument_root(&e.part) == Some(parameter.name.as_str()))
            });
            if !indexes {
                return None;
            }
            (index.to_string(), format!("the index the exception names, {index}"))
        }
        _ => return None,
    };
    let (source_root, package_path) = function.site.path.split_once("src/main/java/")?;
    let package = function.text.lines().find_map(|l| l.trim().strip_prefix("package "))?.trim_end_matches(';').trim();
    let directory = package_path.rsplit_once('/').map_or("", |(dir, _)| dir);
    if directory.replace('/', ".") != package {
        return None;
    }
    let build = Build::of(inputs, source_root)?;
    let (import, assertion) = match build.junit {
        JUnit::Five => ("org.junit.jupiter.api.Test", ""),
        JUnit::Four => ("org.junit.Test", "public "),
    };
    let test = format!(
        "// Reproduces a crash (written by Crashloom into a sandbox copy).\npackage {package};\n\nimport {import};\n\n{assertion}class {TEST_CLASS} {{\n    @Test\n    {assertion}void {REPRODUCTION_TEST_MARKER}() {{\n        {class}.{}({argument});\n    }}\n}}\n",
        function.name
    );
    let path = format!("{source_root}src/test/java/{directory}/{TEST_CLASS}.java");
    Some(ReproductionCandidate {
        origin: ReproductionOrigin::FromCode,
        description: format!("{class}.{} called with {what}.", function.name),
        files: vec![FileChange::write(path, test)],
        command: build.command(package),
    })
}

/// `text` for `(text)` and `(text.trim())`.
fn argument_root(arguments: &str) -> Option<&str> {
    let inner = arguments.trim().strip_prefix('(')?.strip_suffix(')')?.trim();
    let root = inner.split('.').next()?;
    let rest = &inner[root.len()..];
    let methods_ok =
        rest.split('.').skip(1).all(|m| m.strip_suffix("()").is_some_and(crate::workspace::syntax::is_identifier));
    (crate::workspace::syntax::is_identifier(root) && methods_ok).then_some(root)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JUnit {
    Four,
    Five,
}

enum Tool {
    Maven,
    Gradle(&'static str),
}

struct Build {
    tool: Tool,
    /// The module folder (`""` at the root), for `-f`/`-p`.
    module: String,
    junit: JUnit,
}

impl Build {
    /// The build file of the module holding the sources, and the JUnit it declares.
    fn of(inputs: &ReproductionInputs<'_>, module: &str) -> Option<Build> {
        let module = module.trim_end_matches('/').to_owned();
        let file = |name: &str| {
            read_workspace_file(
                inputs.root,
                &if module.is_empty() { name.to_owned() } else { format!("{module}/{name}") },
            )
        };
        let (tool, text) = if let Some(pom) = file("pom.xml") {
            (Tool::Maven, pom)
        } else if let Some(gradle) = file("build.gradle").or_else(|| file("build.gradle.kts")) {
            let wrapper = inputs.root.join(&module).join("gradlew").exists();
            (Tool::Gradle(if wrapper { "./gradlew" } else { "gradle" }), gradle)
        } else {
            return None;
        };
        let junit = if text.contains("junit-jupiter") || text.contains("org.junit.jupiter") {
            JUnit::Five
        } else if text.contains("<artifactId>junit</artifactId>") || text.contains("junit:junit") {
            JUnit::Four
        } else {
            return None;
        };
        Some(Build { tool, module, junit })
    }

    fn command(&self, package: &str) -> Vec<String> {
        let mut command: Vec<String> = Vec::new();
        match self.tool {
            Tool::Maven => {
                command.extend(["mvn", "-q", "-o"].map(str::to_owned));
                if !self.module.is_empty() {
                    command.extend(["-f".to_owned(), format!("{}/pom.xml", self.module)]);
                }
                command.extend(
                    [
                        "test",
                        &format!("-Dtest={TEST_CLASS}"),
                        "-DtrimStackTrace=false",
                        "-Dsurefire.failIfNoSpecifiedTests=false",
                    ]
                    .map(str::to_owned),
                );
            }
            Tool::Gradle(program) => {
                command.push(program.to_owned());
                if !self.module.is_empty() {
                    command.extend(["-p".to_owned(), self.module.clone()]);
                }
                command.extend(["test", "--offline", "--tests", &format!("{package}.{TEST_CLASS}")].map(str::to_owned));
            }
        }
        command
    }
}
