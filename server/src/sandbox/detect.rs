//! Guessing a workspace's test command from the files at its root, for when none is configured.

use std::path::Path;

/// The test command of the workspace's build tool, as an argument vector, or `None` when no build
/// tool is recognised. The first match wins, in this order: Cargo, npm (only with a `test` script
/// that is not npm's placeholder), pytest (using the workspace's venv when there is one), Go,
/// Maven, Gradle.
pub fn detect_test_command(workspace: &Path) -> Option<Vec<String>> {
    let argv = |args: &[&str]| Some(args.iter().map(|arg| arg.to_string()).collect());
    let has = |name: &str| workspace.join(name).exists();
    if has("Cargo.toml") {
        return argv(&["cargo", "test"]);
    }
    if has_npm_test_script(workspace) {
        return argv(&["npm", "test"]);
    }
    if uses_pytest(workspace) {
        let python = [".venv", "venv"]
            .into_iter()
            .map(|venv| workspace.join(venv).join("bin/python"))
            .find(|python| python.exists())
            .map(|python| python.to_string_lossy().into_owned())
            .unwrap_or_else(|| "python3".to_string());
        return Some(vec![python, "-m".into(), "pytest".into(), "-q".into()]);
    }
    if has("go.mod") {
        return argv(&["go", "test", "./..."]);
    }
    if has("pom.xml") {
        return argv(&["mvn", "-q", "test"]);
    }
    if has("build.gradle") || has("build.gradle.kts") {
        return argv(&["gradle", "test"]);
    }
    None
}

fn has_npm_test_script(workspace: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(workspace.join("package.json")) else {
        return false;
    };
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    manifest
        .pointer("/scripts/test")
        .and_then(|script| script.as_str())
        .is_some_and(|script| !script.contains("no test specified"))
}

fn uses_pytest(workspace: &Path) -> bool {
    let file_contains = |name: &str, needle: &str| {
        std::fs::read_to_string(workspace.join(name)).is_ok_and(|text| text.contains(needle))
    };
    workspace.join("pytest.ini").is_file()
        || workspace.join("conftest.py").is_file()
        || file_contains("pyproject.toml", "[tool.pytest")
        || file_contains("setup.cfg", "[tool:pytest]")
        || file_contains("tox.ini", "[pytest]")
        || ["tests", "test"].iter().any(|dir| holds_python_tests(&workspace.join(dir)))
}

fn holds_python_tests(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_with(files: &[(&str, &str)]) -> std::io::Result<Option<Vec<String>>> {
        let workspace = tempfile::tempdir()?;
        for (path, content) in files {
            let path = workspace.path().join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, content)?;
        }
        Ok(detect_test_command(workspace.path()))
    }

    fn argv(args: &[&str]) -> Option<Vec<String>> {
        Some(args.iter().map(|arg| arg.to_string()).collect())
    }

    #[test]
    fn each_build_tool_has_its_test_command() -> std::io::Result<()> {
        assert_eq!(detect_with(&[("Cargo.toml", "[package]")])?, argv(&["cargo", "test"]));
        assert_eq!(detect_with(&[("package.json", r#"{"scripts": {"test": "jest"}}"#)])?, argv(&["npm", "test"]));
        assert_eq!(
            detect_with(&[("tests/test_orders.py", "def test_x(): pass")])?,
            argv(&["python3", "-m", "pytest", "-q"])
        );
        assert_eq!(
            detect_with(&[("pyproject.toml", "[tool.pytest.ini_options]")])?,
            argv(&["python3", "-m", "pytest", "-q"])
        );
        assert_eq!(detect_with(&[("go.mod", "module example.com/x")])?, argv(&["go", "test", "./..."]));
        assert_eq!(detect_with(&[("pom.xml", "<project/>")])?, argv(&["mvn", "-q", "test"]));
        assert_eq!(detect_with(&[("build.gradle.kts", "")])?, argv(&["gradle", "test"]));
        assert_eq!(detect_with(&[("README.md", "hello")])?, None);
        Ok(())
    }

    #[test]
    fn npm_placeholder_test_script_is_not_a_test_command() -> std::io::Result<()> {
        let placeholder = r#"{"scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}"#;
        assert_eq!(detect_with(&[("package.json", placeholder)])?, None);
        assert_eq!(detect_with(&[("package.json", r#"{"name": "x"}"#)])?, None);
        Ok(())
    }

    #[test]
    fn pytest_runs_with_the_workspace_venv_python() -> std::io::Result<()> {
        let workspace = tempfile::tempdir()?;
        std::fs::create_dir_all(workspace.path().join(".venv/bin"))?;
        std::fs::write(workspace.path().join(".venv/bin/python"), "")?;
        std::fs::write(workspace.path().join("pytest.ini"), "[pytest]\n")?;
        let python = workspace.path().join(".venv/bin/python").to_string_lossy().into_owned();
        assert_eq!(
            detect_test_command(workspace.path()),
            Some(vec![python, "-m".into(), "pytest".into(), "-q".into()])
        );
        Ok(())
    }
}
