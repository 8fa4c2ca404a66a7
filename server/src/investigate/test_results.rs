//! Per-test results of a project's test command, so that regressions are judged test by test
//! rather than by the suite's exit code.
//!
//! [`prepare`] asks the runner for machine-readable results where the command allows it (pytest
//! writes JUnit XML, unittest runs verbose, `go test` prints JSON events, `node --test` reports
//! TAP); [`read_results`] reads them back from the output and any report files: JUnit XML
//! (pytest, Maven Surefire, Gradle), `go test -json`, libtest's lines (`cargo test`, pretty or
//! terse), unittest's verbose lines, TAP, and the default reporters of `node --test`, Jest, Vitest
//! and Mocha. When nothing can be read per test, the caller falls back to the exit code and says so.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What one run of the tests said, per test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResults {
    /// Where the results were read from: `JUnit XML`, `go test -json`, `libtest`, `unittest`, `TAP`...
    pub format: String,
    pub passed: BTreeSet<String>,
    pub failed: BTreeSet<String>,
    /// False when the output names only the failing tests (libtest's terse output): a test that is
    /// not among the failures then passed, but its name is not known.
    pub passed_named: bool,
    /// Tests that passed without being named (counted from the runner's summary).
    #[serde(default)]
    pub passed_unnamed: usize,
}

impl TestResults {
    fn new(format: &str) -> Self {
        TestResults { format: format.to_owned(), passed_named: true, ..TestResults::default() }
    }

    fn is_empty(&self) -> bool {
        self.passed.is_empty() && self.failed.is_empty() && self.passed_unnamed == 0
    }

    /// How many tests passed, named or not.
    pub fn passed_count(&self) -> usize {
        self.passed.len() + self.passed_unnamed
    }

    fn record(&mut self, name: String, passed: bool) {
        if passed {
            if !self.failed.contains(&name) {
                self.passed.insert(name);
            }
        } else {
            self.passed.remove(&name);
            self.failed.insert(name);
        }
    }

    /// Leaves out tests whose name contains `marker` (Crashloom's own reproductions).
    pub fn without(mut self, marker: &str) -> Self {
        self.passed.retain(|name| !name.contains(marker));
        self.failed.retain(|name| !name.contains(marker));
        self
    }
}

/// A test command made to report per test, and the report files it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedTests {
    pub command: Vec<String>,
    /// JUnit XML files or folders to read after the run, relative to the workspace folder.
    pub reports: Vec<String>,
}

/// Folder of the copy where prepared commands write their reports.
pub const RESULTS_DIR: &str = ".crashloom/test-results";

/// `command` with the flags that make its runner report per test; `run` names the run
/// (`before`, `after`) so two runs do not share a report file.
pub fn prepare(command: &[String], run: &str) -> PreparedTests {
    let mut command = command.to_vec();
    let mut reports = Vec::new();
    let is = |arg: &String, names: &[&str]| {
        let base = arg.rsplit('/').next().unwrap_or(arg);
        names.contains(&base)
    };
    let python_module =
        |command: &[String], module: &str| command.windows(2).any(|pair| pair[0] == "-m" && pair[1] == module);
    if python_module(&command, "pytest") || command.first().is_some_and(|p| is(p, &["pytest", "py.test"])) {
        if !command.iter().any(|arg| arg.starts_with("--junitxml") || arg.starts_with("--junit-xml")) {
            let report = format!("{RESULTS_DIR}/pytest-{run}.xml");
            command.push(format!("--junitxml={report}"));
            reports.push(report);
        }
    } else if python_module(&command, "unittest") {
        command.retain(|arg| arg != "-q" && arg != "--quiet");
        if !command.iter().any(|arg| arg == "-v" || arg == "--verbose") {
            let at = command.iter().position(|arg| arg == "unittest").map_or(command.len(), |i| i + 1);
            command.insert(at, "-v".to_owned());
        }
    } else if command.first().is_some_and(|p| is(p, &["go"])) && command.get(1).is_some_and(|a| a == "test") {
        if !command.iter().any(|arg| arg == "-json") {
            command.insert(2, "-json".to_owned());
        }
    } else if command.first().is_some_and(|p| is(p, &["node"])) && command.iter().any(|arg| arg == "--test") {
        if !command.iter().any(|arg| arg.starts_with("--test-reporter")) {
            let at = command.iter().position(|arg| arg == "--test").map_or(1, |i| i + 1);
            command.insert(at, "--test-reporter=tap".to_owned());
        }
    } else if command.first().is_some_and(|p| is(p, &["mvn", "mvnw"])) {
        reports.push("target/surefire-reports".to_owned());
    } else if command.first().is_some_and(|p| is(p, &["gradle", "gradlew"])) {
        reports.push("build/test-results".to_owned());
    }
    PreparedTests { command, reports }
}

/// The per-test results of a run: from its report files (read from `workspace`) when there are
/// any, else from its output. `None` when neither names a single test.
pub fn read_results(output: &str, workspace: &Path, reports: &[String]) -> Option<TestResults> {
    let mut from_reports = TestResults::new("JUnit XML");
    for report in reports {
        for file in xml_files(&workspace.join(report)) {
            if let Ok(text) = std::fs::read_to_string(&file) {
                read_junit_xml(&text, &mut from_reports);
            }
        }
    }
    if !from_reports.is_empty() {
        return Some(from_reports);
    }
    let readers: [fn(&str) -> TestResults; 6] =
        [read_go_json, read_libtest, read_unittest, read_tap, read_check_marks, read_jest_failures];
    readers.into_iter().map(|read| read(output)).find(|results| !results.is_empty())
}

fn xml_files(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "xml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// JUnit XML as pytest, Surefire and Gradle write it: `<testcase classname=… name=…>` with a
/// `<failure>` or `<error>` child when it failed, `<skipped>` when it did not run.
pub fn read_junit_xml(text: &str, results: &mut TestResults) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut current: Option<(String, bool, bool)> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(element)) if element.name().as_ref() == b"testcase" => {
                current = Some((testcase_name(&element), false, false));
            }
            // A testcase without children passed.
            Ok(Event::Empty(element)) if element.name().as_ref() == b"testcase" => {
                results.record(testcase_name(&element), true);
            }
            Ok(Event::Start(element)) | Ok(Event::Empty(element)) => {
                if let Some((_, failed, skipped)) = current.as_mut() {
                    match element.name().as_ref() {
                        b"failure" | b"error" => *failed = true,
                        b"skipped" => *skipped = true,
                        _ => {}
                    }
                }
            }
            Ok(Event::End(element)) if element.name().as_ref() == b"testcase" => {
                if let Some((name, failed, skipped)) = current.take()
                    && !skipped
                {
                    results.record(name, !failed);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn testcase_name(element: &quick_xml::events::BytesStart<'_>) -> String {
    let attribute = |key: &[u8]| {
        element
            .attributes()
            .flatten()
            .find(|a| a.key.as_ref() == key)
            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
    };
    let name = attribute(b"name").unwrap_or_default();
    match attribute(b"classname").filter(|c| !c.is_empty()) {
        Some(class) => format!("{class}.{name}"),
        None => name,
    }
}

/// `go test -json`: one JSON event a line; `pass`/`fail` actions of named tests.
fn read_go_json(output: &str) -> TestResults {
    let mut results = TestResults::new("go test -json");
    for line in output.lines().filter(|line| line.starts_with('{')) {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let (Some(action), Some(test)) = (event["Action"].as_str(), event["Test"].as_str()) else { continue };
        let package = event["Package"].as_str().unwrap_or_default();
        let name = if package.is_empty() { test.to_owned() } else { format!("{package}.{test}") };
        match action {
            "pass" => results.record(name, true),
            "fail" => results.record(name, false),
            _ => {}
        }
    }
    results
}

/// libtest (`cargo test`): `test name ... ok|FAILED` lines, or with terse output only the
/// `---- name stdout ----` blocks of failures. Names are qualified by the test binary, which
/// `Running …` lines name, so a unit test and an integration test of the same name stay apart.
fn read_libtest(output: &str) -> TestResults {
    let mut results = TestResults::new("libtest");
    let mut binary = String::new();
    let mut saw_result_line = false;
    let mut terse = false;
    let mut summary_passed = 0;
    for line in output.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.trim_start().strip_prefix("Running ") {
            let rest = rest.split(" (").next().unwrap_or(rest).trim();
            binary = rest.strip_prefix("unittests ").unwrap_or(rest).to_owned();
            continue;
        }
        let qualified = |name: &str| if binary.is_empty() { name.to_owned() } else { format!("{binary}::{name}") };
        if let Some(rest) = line.strip_prefix("test ")
            && let Some((name, verdict)) = rest.rsplit_once(" ... ")
        {
            match verdict.trim() {
                "ok" => results.record(qualified(name.trim()), true),
                "FAILED" => results.record(qualified(name.trim()), false),
                _ => {}
            }
            continue;
        }
        if let Some(name) = line.strip_prefix("---- ").and_then(|rest| rest.strip_suffix(" stdout ----")) {
            results.record(qualified(name.trim()), false);
            continue;
        }
        if let Some(summary) = line.strip_prefix("test result: ") {
            saw_result_line = true;
            summary_passed += summary
                .split(['.', ';'])
                .find_map(|part| part.trim().strip_suffix(" passed"))
                .and_then(|count| count.trim().parse::<usize>().ok())
                .unwrap_or(0);
        }
        if !line.is_empty() && line.chars().all(|c| matches!(c, '.' | 'F' | 'i')) {
            terse = true;
        }
    }
    if saw_result_line && (terse || results.passed.len() < summary_passed) {
        results.passed_named = false;
        results.passed_unnamed = summary_passed.saturating_sub(results.passed.len());
    }
    if !saw_result_line && results.passed.is_empty() {
        return TestResults::new("libtest");
    }
    results
}

/// unittest's verbose lines: `test_name (module.Class.test_name) ... ok` (Python 3.11+) or
/// `test_name (module.Class) ... FAIL`, the description on the next line when there is a docstring.
fn read_unittest(output: &str) -> TestResults {
    let mut results = TestResults::new("unittest");
    let mut pending: Option<String> = None;
    for line in output.lines() {
        let line = line.trim_end();
        let (head, verdict) = match line.rsplit_once(" ... ") {
            Some((head, verdict)) => (Some(head), Some(verdict)),
            None => (None, None),
        };
        let name = head.and_then(unittest_name).or_else(|| if verdict.is_some() { pending.take() } else { None });
        if let (Some(name), Some(verdict)) = (name, verdict) {
            match verdict.trim() {
                "ok" => results.record(name, true),
                "FAIL" | "ERROR" => results.record(name, false),
                _ => {}
            }
            pending = None;
        } else {
            pending = unittest_name(line);
        }
    }
    results
}

fn unittest_name(head: &str) -> Option<String> {
    let (method, rest) = head.split_once(" (")?;
    let target = rest.strip_suffix(')')?;
    if method.contains(' ') || !target.contains('.') {
        return None;
    }
    Some(if target.ends_with(&format!(".{method}")) { target.to_owned() } else { format!("{target}.{method}") })
}

/// TAP (`node --test --test-reporter=tap`): `ok 1 - name` / `not ok 2 - name`, subtests indented
/// under their parent, whose name prefixes theirs.
fn read_tap(output: &str) -> TestResults {
    let mut results = TestResults::new("TAP");
    let mut parents: Vec<(usize, String)> = Vec::new();
    for line in output.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("# Subtest: ") {
            parents.retain(|(level, _)| *level < indent);
            parents.push((indent, name.to_owned()));
            continue;
        }
        let (passed, rest) = if let Some(rest) = trimmed.strip_prefix("not ok ") {
            (false, rest)
        } else if let Some(rest) = trimmed.strip_prefix("ok ") {
            (true, rest)
        } else {
            continue;
        };
        let Some((number, name)) = rest.split_once(" - ") else { continue };
        if !number.chars().all(|c| c.is_ascii_digit()) || name.contains("# SKIP") || name.contains("# TODO") {
            continue;
        }
        parents.retain(|(level, _)| *level < indent);
        let mut qualified: Vec<&str> = parents.iter().map(|(_, parent)| parent.as_str()).collect();
        let name = name.trim();
        if qualified.last() == Some(&name) {
            qualified.pop();
        }
        qualified.push(name);
        let qualified = qualified.join(" > ");
        // A file or a suite is a test too in node's TAP; its subtests carry its verdict already.
        results.record(qualified, passed);
    }
    results
}

/// The check-mark reporters (`node --test` spec, Jest, Vitest, Mocha): `✔ name (1ms)` or
/// `✓ name` passed, `✖ name` / `✕ name` / `× name 4ms` failed; Mocha numbers its failures
/// (`1) name`) above its `N passing` line; Vitest names only failures and counts the rest
/// (`(4 tests | 3 failed)`).
fn read_check_marks(output: &str) -> TestResults {
    let mut results = TestResults::new("reporter check marks");
    let mut counted: Option<(usize, usize)> = None;
    let mut before_summary = true;
    for line in output.lines() {
        let trimmed = line.trim();
        if trimmed.ends_with(" passing") || trimmed.contains(" passing (") {
            before_summary = false;
        }
        if let Some(counts) = vitest_counts(trimmed) {
            let (tests, failed) = counted.unwrap_or((0, 0));
            counted = Some((tests + counts.0, failed + counts.1));
        }
        let mut chars = trimmed.chars();
        let (passed, rest) = match chars.next() {
            Some('✔' | '✓' | '√') => (true, chars.as_str()),
            Some('✖' | '✕' | '×') => (false, chars.as_str()),
            _ => {
                // Mocha: `  1) name` in the list of tests, before the summary.
                match mocha_failure(trimmed) {
                    Some(name) if before_summary => results.record(name.to_owned(), false),
                    _ => {}
                }
                continue;
            }
        };
        let name = strip_duration(rest.trim());
        if !name.is_empty() && !name.ends_with(':') {
            results.record(name.to_owned(), passed);
        }
    }
    if let Some((tests, failed)) = counted
        && results.passed.is_empty()
        && tests > failed
    {
        results.passed_named = false;
        results.passed_unnamed = tests - failed;
    }
    results
}

/// Vitest's `❯ file (4 tests | 3 failed) 11ms` or `✓ file (4 tests) 3ms`: (tests, failed).
fn vitest_counts(line: &str) -> Option<(usize, usize)> {
    let inner = line.split_once('(')?.1.split_once(')')?.0;
    let mut parts = inner.split(" | ");
    let tests = parts.next()?.strip_suffix(" tests").or_else(|| inner.strip_suffix(" test"))?.trim().parse().ok()?;
    let failed = parts.find_map(|p| p.strip_suffix(" failed")).and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    Some((tests, failed))
}

fn mocha_failure(line: &str) -> Option<&str> {
    let (number, name) = line.split_once(") ")?;
    (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) && !name.trim().is_empty()).then_some(name.trim())
}

fn strip_duration(name: &str) -> &str {
    match name.rsplit_once(" (") {
        Some((head, tail)) if tail.ends_with(')') && tail.chars().next().is_some_and(|c| c.is_ascii_digit()) => head,
        _ => match name.rsplit_once(' ') {
            // Vitest: `name 4ms`.
            Some((head, tail))
                if tail.ends_with("ms")
                    && tail.trim_end_matches("ms").chars().all(|c| c.is_ascii_digit() || c == '.') =>
            {
                head
            }
            _ => name,
        },
    }
}

/// Jest's default (non-verbose) output names only failures: `● Suite › test name`.
fn read_jest_failures(output: &str) -> TestResults {
    let mut results = TestResults::new("Jest");
    for line in output.lines() {
        if let Some(name) = line.trim().strip_prefix("● ")
            && !name.starts_with("Test suite failed")
            && name.contains(" › ")
        {
            results.record(name.trim().to_owned(), false);
        }
    }
    if !results.failed.is_empty() {
        results.passed_named = false;
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn names(set: &BTreeSet<String>) -> Vec<&str> {
        set.iter().map(String::as_str).collect()
    }

    #[test]
    fn runners_are_asked_for_per_test_results() {
        let pytest = prepare(&argv(&["python3", "-m", "pytest", "-q"]), "before");
        assert_eq!(
            pytest.command,
            argv(&["python3", "-m", "pytest", "-q", "--junitxml=.crashloom/test-results/pytest-before.xml"])
        );
        assert_eq!(pytest.reports, vec![".crashloom/test-results/pytest-before.xml".to_owned()]);
        assert_eq!(
            prepare(&argv(&["python3", "-m", "unittest", "-q"]), "x").command,
            argv(&["python3", "-m", "unittest", "-v"])
        );
        assert_eq!(prepare(&argv(&["go", "test", "./..."]), "x").command, argv(&["go", "test", "-json", "./..."]));
        assert_eq!(prepare(&argv(&["node", "--test"]), "x").command, argv(&["node", "--test", "--test-reporter=tap"]));
        assert_eq!(prepare(&argv(&["cargo", "test", "-q"]), "x").command, argv(&["cargo", "test", "-q"]));
        assert_eq!(prepare(&argv(&["mvn", "-q", "test"]), "x").reports, vec!["target/surefire-reports".to_owned()]);
    }

    #[test]
    fn junit_xml_names_each_case_with_its_class() {
        let xml = r#"<?xml version="1.0"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_orders" name="test_total" time="0.001" />
<testcase classname="tests.test_orders" name="test_receipt"><failure message="boom">trace &lt;here&gt;</failure></testcase>
<testcase classname="tests.test_orders" name="test_skip"><skipped message="later"/></testcase>
<testcase classname="tests.test_orders" name="test_ok"></testcase>
</testsuite></testsuites>"#;
        let mut results = TestResults::new("JUnit XML");
        read_junit_xml(xml, &mut results);
        assert_eq!(names(&results.passed), vec!["tests.test_orders.test_ok", "tests.test_orders.test_total"]);
        assert_eq!(names(&results.failed), vec!["tests.test_orders.test_receipt"]);
    }

    #[test]
    fn libtest_terse_output_counts_passes_and_names_failures() {
        let output = "     Running unittests src/main.rs (target/debug/deps/inventory-1)\n\nrunning 3 tests\n..F\nfailures:\n\n---- picking::tests::x stdout ----\npanicked\n\nfailures:\n    picking::tests::x\n\ntest result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
        let results = read_libtest(output);
        assert_eq!(names(&results.failed), vec!["src/main.rs::picking::tests::x"]);
        assert!(!results.passed_named);
        assert_eq!(results.passed_count(), 2);
        let all_passed = read_libtest("\nrunning 3 tests\n...\ntest result: ok. 3 passed; 0 failed; 0 ignored\n");
        assert_eq!(all_passed.passed_count(), 3);
        assert!(all_passed.failed.is_empty());
    }

    #[test]
    fn nothing_readable_is_none() {
        assert_eq!(read_results("Ran the thing.\nAll good\n", Path::new("/nonexistent"), &[]), None);
    }
}
