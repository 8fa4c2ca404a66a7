//! Per-test results read from the real test runners: each project has one passing and one failing
//! test, the runner is asked for machine-readable results the way the validator asks, runs for
//! real, and the results must name both tests with their verdicts.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crashloom::investigate::test_results::{TestResults, prepare, read_results};

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Runs `command` prepared for per-test results in `root` and reads them.
fn run(root: &Path, command: &[&str], envs: &[(&str, &str)]) -> TestResults {
    let command: Vec<String> = command.iter().map(|c| c.to_string()).collect();
    let prepared = prepare(&command, "before");
    // Standard output and error interleaved in one file, as the sandbox captures them.
    let log = root.join("run.log");
    let file = std::fs::File::create(&log).unwrap();
    let status = Command::new(&prepared.command[0])
        .args(&prepared.command[1..])
        .envs(envs.iter().copied())
        .current_dir(root)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    assert!(!status.success(), "one test fails, so the run fails");
    let text = std::fs::read_to_string(&log).unwrap();
    read_results(&text, root, &prepared.reports).unwrap_or_else(|| panic!("no per-test results in:\n{text}"))
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn repository_python() -> String {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(python.exists(), "the test setup installs pytest into .venv (tests/setup-tools.sh)");
    python.to_string_lossy().into_owned()
}

const PYTHON_TESTS: &str = "import unittest\n\n\nclass Totals(unittest.TestCase):\n    def test_adds(self):\n        self.assertEqual(1 + 1, 2)\n\n    def test_divides(self):\n        self.assertEqual(1 / 0, 0)\n";

#[test]
fn pytest_results_come_from_its_junit_xml() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tests/__init__.py", "");
    write(dir.path(), "tests/test_totals.py", PYTHON_TESTS);
    let python = repository_python();
    let results = run(dir.path(), &[&python, "-m", "pytest", "-q"], &[]);
    assert_eq!(results.format, "JUnit XML");
    assert_eq!(results.passed, set(&["tests.test_totals.Totals.test_adds"]));
    assert_eq!(results.failed, set(&["tests.test_totals.Totals.test_divides"]));
}

#[test]
fn unittest_results_come_from_its_verbose_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tests/__init__.py", "");
    write(dir.path(), "tests/test_totals.py", PYTHON_TESTS);
    let results = run(dir.path(), &["python3", "-m", "unittest", "-q"], &[]);
    assert_eq!(results.format, "unittest");
    assert_eq!(results.passed, set(&["tests.test_totals.Totals.test_adds"]));
    assert_eq!(results.failed, set(&["tests.test_totals.Totals.test_divides"]));
}

#[test]
fn go_test_results_come_from_its_json_events() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "go.mod", "module example.com/totals\n\ngo 1.19\n");
    write(dir.path(), "totals.go", "package totals\n\nfunc Add(a, b int) int { return a + b }\n");
    write(
        dir.path(),
        "totals_test.go",
        "package totals\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(1, 1) != 2 {\n\t\tt.Fatal(\"sum\")\n\t}\n}\n\nfunc TestBroken(t *testing.T) {\n\tif Add(1, 1) != 3 {\n\t\tt.Fatal(\"not three\")\n\t}\n}\n",
    );
    let results = run(dir.path(), &["go", "test", "./..."], &[("GOFLAGS", "-mod=mod"), ("GOPROXY", "off")]);
    assert_eq!(results.format, "go test -json");
    assert_eq!(results.passed, set(&["example.com/totals.TestAdd"]));
    assert_eq!(results.failed, set(&["example.com/totals.TestBroken"]));
}

#[test]
fn cargo_test_results_come_from_libtest_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Cargo.toml",
        "[package]\nname = \"totals\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    write(
        dir.path(),
        "src/lib.rs",
        "pub fn add(a: u32, b: u32) -> u32 { a + b }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(1, 1), 2); }\n\n    #[test]\n    fn broken() { assert_eq!(super::add(1, 1), 3); }\n}\n",
    );
    let target = dir.path().join("target");
    let target = target.to_string_lossy();
    let results = run(dir.path(), &["cargo", "test", "--offline"], &[("CARGO_TARGET_DIR", &target)]);
    assert_eq!(results.format, "libtest");
    assert_eq!(results.passed, set(&["src/lib.rs::tests::adds"]));
    assert_eq!(results.failed, set(&["src/lib.rs::tests::broken"]));

    // Terse output names only the failure (cargo's `--quiet` also drops the binary's name); the
    // pass is counted.
    let quiet = run(dir.path(), &["cargo", "test", "--offline", "--quiet"], &[("CARGO_TARGET_DIR", &target)]);
    assert_eq!(quiet.failed, set(&["tests::broken"]));
    assert!(!quiet.passed_named);
    assert_eq!(quiet.passed_count(), 1);
}

#[test]
fn node_test_results_come_from_tap() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "test/totals.test.js",
        "const test = require('node:test');\nconst assert = require('node:assert');\n\ntest('adds', () => assert.strictEqual(1 + 1, 2));\ntest('is broken', () => assert.strictEqual(1 + 1, 3));\n",
    );
    let results = run(dir.path(), &["node", "--test"], &[]);
    assert_eq!(results.format, "TAP");
    assert!(results.passed.iter().any(|n| n.ends_with("adds")), "{results:?}");
    assert!(results.failed.iter().any(|n| n.ends_with("is broken")), "{results:?}");
    assert!(!results.passed.iter().any(|n| n.ends_with("is broken")), "{results:?}");
}

/// Outputs captured from real runs of the runners (tests/fixtures/testruns/README.md): one test
/// of the cart passes, three fail.
fn captured(path: &str) -> TestResults {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/testruns");
    let text = std::fs::read_to_string(root.join(path)).unwrap();
    read_results(&text, &root, &[]).unwrap_or_else(|| panic!("no per-test results in {path}"))
}

const FAILING: [&str; 3] = ["total of an unknown item", "average of an empty cart", "total is wrong"];

fn ends_with_each(names: &BTreeSet<String>, expected: &[&str]) {
    for name in expected {
        assert!(names.iter().any(|n| n.ends_with(name)), "{name} not in {names:?}");
    }
}

#[test]
fn jest_vitest_mocha_and_node_spec_output_is_read_per_test() {
    for path in ["jest/jest.txt", "mocha/mocha.txt", "node-test/node-test-spec.txt"] {
        let results = captured(path);
        ends_with_each(&results.failed, &FAILING);
        ends_with_each(&results.passed, &["total of known items"]);
        assert!(!results.failed.iter().any(|n| n.ends_with("known items") || n.ends_with(':')), "{path}: {results:?}");
    }
    let vitest = captured("vitest/vitest.txt");
    ends_with_each(&vitest.failed, &FAILING);
    assert!(!vitest.passed_named);
    assert_eq!(vitest.passed_count(), 1);
}

#[test]
fn junit_reports_and_go_json_and_unittest_captures_are_read_per_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/testruns");
    let junit = read_results("", &root, &["junit/TEST-junit-jupiter.xml".to_owned()]).unwrap();
    assert_eq!(junit.format, "JUnit XML");
    assert_eq!(junit.failed.len(), 3, "{junit:?}");
    assert_eq!(junit.passed.len(), 1, "{junit:?}");
    let go = captured("go-test/go-test-json.txt");
    assert_eq!(go.format, "go test -json");
    // The panic in one test ends the test binary: the test after it never runs, so it is in
    // neither set (and a test that passed before and did not run after counts as broken).
    assert_eq!((go.passed.len(), go.failed.len()), (1, 2), "{go:?}");
    let unittest = captured("unittest/unittest-verbose.txt");
    assert_eq!(unittest.format, "unittest");
    assert_eq!((unittest.passed.len(), unittest.failed.len()), (1, 3), "{unittest:?}");
}
