//! Test runners' output as crash text: which tests failed, and the crash each one ended with.
//!
//! Read from the runners' default console output (the formats were captured by running each
//! runner, see `tests/fixtures/testruns/README.md`):
//! - pytest: long, short, auto, line and native tracebacks (`--tb=...`), `-x`, `-rA`, with
//!   captured-log sections; the `E   ` lines give the exception, `path:line:` lines the frames;
//! - unittest (`ERROR:` / `FAIL:` blocks with CPython tracebacks);
//! - Jest (`●` blocks), Vitest (` FAIL ` blocks with `❯` frames), Mocha (`N) ` blocks);
//! - `node --test` with the TAP and the spec reporters;
//! - `go test` (`--- FAIL:` with `file_test.go:NN:` lines, panics inside tests) and `go test -json`;
//! - `cargo test` (`---- name stdout ----` blocks, panics of test threads);
//! - JUnit: the Platform console launcher, JUnit 4's `JUnitCore`, and JUnit XML reports
//!   (`TEST-*.xml`, as Maven Surefire, Gradle, the console launcher and `pytest --junitxml` write).
//!
//! A failing test whose output carries no crash (a `t.Errorf` in Go is one) still gets an event
//! built from the failure message and its location, so every failing test can be compared before
//! and after a change; [`FailedTest::event`] is `None` only when nothing but the name was printed.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::javascript::{parse_location, parse_v8_frame};
use super::{CrashEvent, Exception, Frame, Language, scan};

/// One failing test and the crash it ended with.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedTest {
    /// The name as the runner prints it: `test_cart.py::test_total`, `tests::total_is_wrong`,
    /// `cart › total of an unknown item`, `TestTotal`, `com.acme.shop.CartTest.totalIsWrong`.
    pub name: String,
    /// The crash (exception, message, frames), with [`CrashEvent::test_name`] set.
    pub event: Option<CrashEvent>,
    /// 0-based lines of the output that report this test's failure.
    pub lines: Range<usize>,
}

/// A cheap first look: whether `text` may hold a test runner's report of a failure. Pure
/// literals, so that it costs one SIMD scan on ordinary logs.
pub fn may_be_test_output(text: &str) -> bool {
    static MARKERS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"= FAILURES =|= ERRORS =|\nFAIL: |\nERROR: |● | FAIL  | failing\n|not ok |✖ |--- FAIL: | stdout ----|\.\.\. FAILED|<testcase|Failures \(|failures:\n|\x22Action\x22:\x22fail\x22",
        )
        .expect("valid regex")
    });
    MARKERS.is_match(text)
}

/// Reads one runner's report from the output's lines.
type Reader = fn(&[&str]) -> Vec<FailedTest>;

/// Every failing test that `output` reports, in order, with its crash. Output of several runners
/// (a CI log running two suites) is read by each of them. Never panics.
pub fn failing_tests(output: &str) -> Vec<FailedTest> {
    if let Some(text) = go_test_json_output(output) {
        let mut tests = failing_tests(&text);
        // Line numbers of the reconstructed text do not point into the JSON lines.
        let total = output.lines().count();
        for test in &mut tests {
            test.lines = 0..total;
        }
        return tests;
    }
    let lines: Vec<&str> = output.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let mut tests = Vec::new();
    let readers: [Reader; 12] = [
        pytest,
        unittest,
        jest,
        vitest,
        mocha,
        node_tap,
        node_spec,
        go_test,
        cargo_test,
        junit_console,
        junit4_runner,
        junit_xml,
    ];
    for reader in readers {
        for mut test in reader(&lines) {
            if tests.iter().any(|t: &FailedTest| t.name == test.name) {
                continue;
            }
            if let Some(event) = test.event.as_mut() {
                event.test_name = Some(test.name.clone());
            }
            tests.push(test);
        }
    }
    tests.sort_by_key(|t| t.lines.start);
    tests
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The crash in `lines`, read by the trace finder: the outermost trace that has frames, else the
/// first one.
fn crash_in(lines: &[&str]) -> Option<CrashEvent> {
    let text = lines.join("\n");
    let found = scan::find_traces(&text);
    let with_frames = found.iter().position(|t| t.event.exceptions.iter().any(|e| !e.frames.is_empty()));
    let index = with_frames.or((!found.is_empty()).then_some(0))?;
    found.into_iter().nth(index).map(|t| t.event)
}

/// `lines` with their common indentation removed.
fn dedent<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let indent =
        lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    lines.iter().map(|l| l.get(indent..).unwrap_or_else(|| l.trim_start())).collect()
}

/// `Type: message` where Type reads as an exception class (`TypeError`, `java.lang.Error`,
/// `AssertionError [ERR_ASSERTION]`); `None` for ordinary text.
fn split_error_line(line: &str) -> Option<(&str, &str)> {
    static ERROR_LINE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?P<ty>[\p{L}_$][\p{L}\p{N}_$.]*)(?: \[[^\]]*\])?(?:: (?P<msg>.*)|:?)$").expect("valid regex")
    });
    let caps = ERROR_LINE.captures(line.trim())?;
    let ty = caps.name("ty")?.as_str();
    let simple = ty.rsplit('.').next().unwrap_or(ty);
    let named_like_error = ["Error", "Exception", "Failure", "Throwable", "Interrupt", "Exit", "Panic"]
        .iter()
        .any(|suffix| simple.ends_with(suffix));
    named_like_error.then(|| (ty, caps.name("msg").map_or("", |m| m.as_str())))
}

fn event(language: Language, exception: Exception) -> CrashEvent {
    CrashEvent { language: Some(language), exceptions: vec![exception], ..CrashEvent::default() }
}

/// Python's `module.Type` → (`Type`, `module`), as the Python parser and Sentry's SDK do.
fn python_type(printed: &str) -> (String, Option<String>) {
    match printed.rsplit_once('.') {
        Some((module, ty)) if !module.is_empty() && !ty.is_empty() => (ty.to_owned(), Some(module.to_owned())),
        _ => (printed.to_owned(), None),
    }
}

fn is_absolute(path: &str) -> bool {
    path.starts_with('/') || path.get(1..3).is_some_and(|s| s == ":\\" || s == ":/")
}

fn frame_at(file: &str, line: Option<u32>, function: Option<&str>) -> Frame {
    Frame {
        function: function.filter(|f| !f.is_empty()).map(str::to_owned),
        filename: Some(file.to_owned()),
        abs_path: is_absolute(file).then(|| file.to_owned()),
        line,
        ..Frame::default()
    }
}

// ---------------------------------------------------------------------------------------------
// pytest

static PYTEST_SECTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^=+ (?P<title>.+?) =+$").expect("valid regex"));
static PYTEST_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^_{2,} (?P<name>.+?) _{2,}$").expect("valid regex"));
static PYTEST_LOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+): ?(?P<rest>.*)$").expect("valid regex"));
static PYTEST_DEF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^>?\s*(?:async\s+)?def (?P<name>\w+)\s*\(").expect("valid regex"));
static PYTEST_SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:FAILED|ERROR) (?P<id>\S+)(?: - (?P<msg>.*))?$").expect("valid regex"));

fn pytest(lines: &[&str]) -> Vec<FailedTest> {
    let summary: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| PYTEST_SUMMARY.captures(l).and_then(|c| c.name("id")).map(|m| (i, m.as_str())))
        .collect();
    let mut tests = Vec::new();
    let mut in_failures = false;
    let mut block: Option<(usize, &str)> = None;
    let mut line_mode_start = None;
    let mut line_mode_index = 0;
    let finish = |tests: &mut Vec<FailedTest>, block: Option<(usize, &str)>, end: usize| {
        if let Some((start, name)) = block {
            let body = lines.get(start + 1..end).unwrap_or_default();
            let name = pytest_node_id(name, &summary);
            tests.push(FailedTest { event: pytest_block_event(name_leaf(&name), body), name, lines: start..end });
        }
    };
    for (index, line) in lines.iter().enumerate() {
        if let Some(section) = PYTEST_SECTION.captures(line) {
            finish(&mut tests, block.take(), index);
            let title = &section["title"];
            in_failures = title == "FAILURES" || title == "ERRORS";
            line_mode_start = in_failures.then_some(index + 1);
            continue;
        }
        if !in_failures {
            continue;
        }
        if let Some(header) = PYTEST_HEADER.captures(line) {
            finish(&mut tests, block.take(), index);
            let name = header.name("name").map_or("", |m| m.as_str());
            let name = name.strip_prefix("ERROR at setup of ").or_else(|| name.strip_prefix("ERROR at teardown of "));
            block = Some((index, name.unwrap_or_else(|| header.name("name").map_or("", |m| m.as_str()))));
            line_mode_start = None;
            continue;
        }
        // `--tb=line`: one `path:line: Type: message` line per failure, no headers.
        if let (Some(start), None) = (line_mode_start, block)
            && let Some(location) = PYTEST_LOCATION.captures(line)
            && let Some((ty, message)) = split_error_line(&location["rest"])
        {
            let name = summary
                .get(line_mode_index)
                .map_or_else(|| format!("failure {}", line_mode_index + 1), |s| s.1.to_owned());
            line_mode_index += 1;
            let (ty, module) = python_type(ty);
            let frame = frame_at(&location["file"], location["line"].parse().ok(), None);
            let exception =
                Exception { ty, module, value: message.to_owned(), frames: vec![frame], ..Exception::default() };
            tests.push(FailedTest { name, event: Some(event(Language::Python, exception)), lines: start..index + 1 });
            line_mode_start = Some(index + 1);
        }
    }
    finish(&mut tests, block.take(), lines.len());
    tests
}

fn name_leaf(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

/// The node id the short summary gives for the test a `___ name ___` header names.
fn pytest_node_id(name: &str, summary: &[(usize, &str)]) -> String {
    let as_path = name.replace('.', "::");
    summary
        .iter()
        .map(|(_, id)| *id)
        .find(|id| id.ends_with(&format!("::{as_path}")) || *id == name)
        .map_or_else(|| name.to_owned(), str::to_owned)
}

/// The crash of one pytest failure block: a native traceback, or pytest's own long/short format.
fn pytest_block_event(test: &str, body: &[&str]) -> Option<CrashEvent> {
    // The traceback ends where the captured output sections begin.
    let end = body.iter().position(|l| l.starts_with("----") && l.contains(" Captured ")).unwrap_or(body.len());
    let body = body.get(..end).unwrap_or_default();
    if body.iter().any(|l| l.trim_start().starts_with("Traceback (most recent call last):")) {
        return crash_in(body);
    }
    let mut frames: Vec<Frame> = Vec::new();
    let mut current_def: Option<&str> = None;
    let mut error_lines: Vec<&str> = Vec::new();
    // A location line after the `E` lines of one exception means another one follows (a chained
    // exception): its `E` lines replace the earlier ones.
    let mut location_since_errors = false;
    let mut final_type: Option<&str> = None;
    for line in body {
        if line.starts_with("_ _ _") {
            current_def = None;
            continue;
        }
        if line.starts_with("The above exception was the direct cause")
            || line.starts_with("During handling of the above exception")
        {
            frames.clear();
            final_type = None;
            continue;
        }
        if let Some(rest) = line.strip_prefix('E')
            && (rest.is_empty() || rest.starts_with(' '))
        {
            if location_since_errors {
                error_lines.clear();
                location_since_errors = false;
            }
            error_lines.push(rest);
            continue;
        }
        if let Some(def) = PYTEST_DEF.captures(line.trim_start_matches('>').trim_start()) {
            current_def = def.name("name").map(|m| m.as_str());
            continue;
        }
        if line.starts_with(' ') || line.is_empty() {
            continue;
        }
        if let Some(location) = PYTEST_LOCATION.captures(line) {
            let rest = location.name("rest").map_or("", |m| m.as_str());
            let function = match rest.strip_prefix("in ") {
                Some(function) => Some(function),
                None => current_def.or((frames.is_empty()).then_some(test)),
            };
            if !rest.is_empty() && !rest.starts_with("in ") {
                final_type = Some(rest);
            } else if !error_lines.is_empty() {
                location_since_errors = true;
            }
            frames.push(frame_at(&location["file"], location["line"].parse().ok(), function));
            current_def = None;
        }
    }
    let dedented = dedent(&error_lines);
    let first = dedented.iter().position(|l| !l.trim().is_empty())?;
    let header = dedented.get(first).copied().unwrap_or("");
    let (ty, value) = match split_error_line(header) {
        Some((ty, message)) => {
            let mut value = message.to_owned();
            for more in dedented.get(first + 1..).unwrap_or_default() {
                value.push('\n');
                value.push_str(more);
            }
            (ty.to_owned(), value)
        }
        // `E       assert 3 == 4` (an assertion rewritten by pytest): the type is on the location line.
        None => {
            (final_type.unwrap_or("AssertionError").to_owned(), dedented.get(first..).unwrap_or_default().join("\n"))
        }
    };
    let (ty, module) = python_type(&ty);
    Some(event(Language::Python, Exception { ty, module, value, frames, ..Exception::default() }))
}

// ---------------------------------------------------------------------------------------------
// unittest

static UNITTEST_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:ERROR|FAIL): (?P<test>\S+) \((?P<where>[^)]+)\)").expect("valid regex"));

fn unittest(lines: &[&str]) -> Vec<FailedTest> {
    let mut tests = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(header) = UNITTEST_HEADER.captures(line) else { continue };
        if !index.checked_sub(1).and_then(|i| lines.get(i)).is_some_and(|l| l.starts_with("=====")) {
            continue;
        }
        let test = &header["test"];
        let place = &header["where"];
        // 3.11+: `test_x (module.Class.test_x)`; before: `test_x (module.Class)`.
        let name = if place.ends_with(&format!(".{test}")) { place.to_owned() } else { format!("{place}.{test}") };
        let start = index + 2;
        let end = (start..lines.len())
            .find(|&i| lines.get(i).is_some_and(|l| l.starts_with("=====") || l.starts_with("-----")))
            .unwrap_or(lines.len());
        let event = crash_in(lines.get(start.min(end)..end).unwrap_or_default());
        tests.push(FailedTest { name, event, lines: index..end });
    }
    tests
}

// ---------------------------------------------------------------------------------------------
// JavaScript runners

/// An event from a JavaScript failure: the error line (or, for a matcher failure that prints no
/// error name, `default_type` with the message), and every frame line in `frame_lines`.
fn js_event(message_lines: &[&str], frames: Vec<Frame>, default_type: &str) -> Option<CrashEvent> {
    let message_lines: Vec<&str> = message_lines.iter().map(|l| l.trim_end()).collect();
    let first = message_lines.iter().position(|l| !l.trim().is_empty())?;
    let header = message_lines.get(first).copied().unwrap_or("").trim();
    let rest = message_lines.get(first + 1..).unwrap_or_default();
    let rest: Vec<&str> = rest.iter().map(|l| l.trim()).collect();
    let rest_text = rest.join("\n");
    let rest_text = rest_text.trim_matches('\n');
    let (ty, value) = match split_error_line(header) {
        Some((ty, message)) if rest_text.is_empty() => (ty.to_owned(), message.to_owned()),
        Some((ty, message)) => (ty.to_owned(), format!("{message}\n{rest_text}")),
        None if rest_text.is_empty() => (default_type.to_owned(), header.to_owned()),
        None => (default_type.to_owned(), format!("{header}\n{rest_text}")),
    };
    let mut frames = frames;
    frames.reverse();
    Some(event(Language::JavaScript, Exception { ty, value, frames, ..Exception::default() }))
}

fn v8_frames(lines: &[&str]) -> Vec<Frame> {
    lines.iter().filter(|l| l.trim_start().starts_with("at ")).filter_map(|l| parse_v8_frame(l)).collect()
}

/// Jest: `  ● suite › test`, the error, a code frame, then `at` frames.
fn jest(lines: &[&str]) -> Vec<FailedTest> {
    let mut tests = Vec::new();
    let headers: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            lines.get(i).is_some_and(|l| l.starts_with("  ● ") && l.len() > 6)
                && lines.get(i + 1).is_some_and(|next| next.trim().is_empty())
        })
        .collect();
    for (n, &start) in headers.iter().enumerate() {
        let name = lines.get(start).map_or("", |l| l.trim_start_matches("  ● ").trim()).to_owned();
        if name == "Test suite failed to run" && n > 0 {
            continue;
        }
        let limit = headers.get(n + 1).copied().unwrap_or(lines.len());
        let end = (start + 1..limit)
            .find(|&i| {
                lines
                    .get(i)
                    .is_some_and(|l| l.starts_with("Test Suites:") || l.starts_with("FAIL ") || l.starts_with("PASS "))
            })
            .unwrap_or(limit);
        let body = lines.get(start + 1..end).unwrap_or_default();
        // The message runs up to the code frame (`  > 5 | ...`) or the first frame.
        let message_end = body
            .iter()
            .position(|l| {
                let t = l.trim_start();
                t.starts_with("at ")
                    || t.starts_with("> ")
                    || t.split_once(" | ").is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok())
            })
            .unwrap_or(body.len());
        let event = js_event(body.get(..message_end).unwrap_or_default(), v8_frames(body), "JestAssertionError");
        tests.push(FailedTest { name, event, lines: start..end });
    }
    tests
}

/// Vitest: ` FAIL  file > suite > test`, the error, then `❯ function file:line:col` frames with
/// code frames between them; blocks end at a `⎯⎯⎯` rule.
fn vitest(lines: &[&str]) -> Vec<FailedTest> {
    let mut tests = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let Some(name) = line.strip_prefix(" FAIL  ") else { continue };
        if !name.contains(" > ") {
            continue;
        }
        let end = (start + 1..lines.len())
            .find(|&i| lines.get(i).is_some_and(|l| l.starts_with('⎯') || l.starts_with(" FAIL  ")))
            .unwrap_or(lines.len());
        let body = lines.get(start + 1..end).unwrap_or_default();
        let message_end = body.iter().position(|l| l.trim_start().starts_with("❯ ")).unwrap_or(body.len());
        let frames = body.iter().filter_map(|l| vitest_frame(l)).collect();
        let message = body.get(..message_end).unwrap_or_default();
        // Vitest prints the expected/received diff after a blank line; the message is the error
        // line and its direct continuation.
        let message_end = message.iter().position(|l| l.trim().is_empty()).unwrap_or(message.len());
        let event = js_event(message.get(..message_end).unwrap_or_default(), frames, "AssertionError");
        tests.push(FailedTest { name: name.trim().to_owned(), event, lines: start..end });
    }
    tests
}

/// ` ❯ Module.total src/cart.js:9:16` or ` ❯ src/cart.js:9:44`.
fn vitest_frame(line: &str) -> Option<Frame> {
    let rest = line.trim_start().strip_prefix("❯ ")?.trim_end();
    let (function, location) = match rest.rsplit_once(' ') {
        Some((function, location)) => (Some(function.trim()), location),
        None => (None, rest),
    };
    let mut frame = parse_location(location);
    frame.line?;
    frame.function = function.map(|f| f.strip_prefix("async ").unwrap_or(f).to_owned());
    Some(frame)
}

static MOCHA_FAILING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s+\d+ failing$").expect("valid regex"));
static MOCHA_ENTRY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^  (?P<n>\d+)\) (?P<title>.*)$").expect("valid regex"));

/// Mocha's spec reporter: after `N failing`, `  1) suite` / `       test:` then the error.
fn mocha(lines: &[&str]) -> Vec<FailedTest> {
    let Some(failing) = lines.iter().position(|l| MOCHA_FAILING.is_match(l)) else {
        return Vec::new();
    };
    let entries: Vec<usize> =
        (failing + 1..lines.len()).filter(|&i| lines.get(i).is_some_and(|l| MOCHA_ENTRY.is_match(l))).collect();
    let mut tests = Vec::new();
    for (n, &start) in entries.iter().enumerate() {
        let end = entries.get(n + 1).copied().unwrap_or(lines.len());
        let mut title = Vec::new();
        let mut pos = start;
        while let Some(line) = lines.get(pos).filter(|_| pos < end) {
            let text = if pos == start {
                MOCHA_ENTRY.captures(line).and_then(|c| c.name("title")).map_or("", |m| m.as_str())
            } else {
                line.trim()
            };
            pos += 1;
            if let Some(last) = text.strip_suffix(':') {
                title.push(last);
                break;
            }
            title.push(text);
        }
        let body = lines.get(pos..end).unwrap_or_default();
        let message_end = body.iter().position(|l| l.trim_start().starts_with("at ")).unwrap_or(body.len());
        let message = dedent(body.get(..message_end).unwrap_or_default());
        // Mocha prints the assertion's diff (`+ expected - actual`) after a blank line.
        let first = message.iter().position(|l| !l.trim().is_empty()).unwrap_or(0);
        let message_stop = message
            .iter()
            .skip(first)
            .position(|l| l.trim_start().starts_with("+ expected"))
            .map_or(message.len(), |p| p + first);
        let event = js_event(message.get(..message_stop).unwrap_or_default(), v8_frames(body), "AssertionError");
        tests.push(FailedTest { name: title.join(" "), event, lines: start..end });
    }
    tests
}

static TAP_NOT_OK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<indent>\s*)not ok \d+ - (?P<name>.*?)(?: # .*)?$").expect("valid regex"));
static TAP_SUBTEST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<indent>\s*)# Subtest: (?P<name>.*)$").expect("valid regex"));

/// `node --test` with the TAP reporter: `not ok N - name` and its YAML diagnostics block.
fn node_tap(lines: &[&str]) -> Vec<FailedTest> {
    if !lines.first().is_some_and(|l| l.starts_with("TAP version"))
        && !lines.iter().any(|l| l.trim_start().starts_with("# Subtest: "))
    {
        return Vec::new();
    }
    let mut tests = Vec::new();
    let mut parents: Vec<(usize, &str)> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if let Some(subtest) = TAP_SUBTEST.captures(line) {
            let indent = subtest["indent"].len();
            parents.retain(|(i, _)| *i < indent);
            parents.push((indent, subtest.name("name").map_or("", |m| m.as_str())));
            continue;
        }
        let Some(not_ok) = TAP_NOT_OK.captures(line) else { continue };
        let indent = not_ok["indent"].len();
        let yaml_start = index + 1;
        let yaml_end = if lines.get(yaml_start).is_some_and(|l| l.trim() == "---") {
            (yaml_start + 1..lines.len())
                .find(|&i| lines.get(i).is_some_and(|l| l.trim() == "..."))
                .unwrap_or(lines.len())
        } else {
            yaml_start
        };
        let yaml = lines.get((yaml_start + 1).min(yaml_end)..yaml_end).unwrap_or_default();
        let fields = yaml_fields(yaml);
        let field = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
        if field("failureType") == Some("subtestsFailed") {
            continue;
        }
        let mut path: Vec<&str> = parents.iter().filter(|(i, _)| *i < indent).map(|(_, n)| *n).collect();
        path.push(not_ok.name("name").map_or("", |m| m.as_str()));
        let frames: Vec<Frame> = field("stack")
            .map(|stack| stack.lines().filter_map(|l| parse_v8_frame(&format!("at {}", l.trim()))).collect())
            .unwrap_or_default();
        let ty = field("name").unwrap_or("Error");
        let value = field("error").unwrap_or("").trim_end().to_owned();
        let mut frames = frames;
        frames.reverse();
        let event = event(Language::JavaScript, Exception { ty: ty.to_owned(), value, frames, ..Exception::default() });
        tests.push(FailedTest {
            name: path.join(" > "),
            event: Some(event),
            lines: index..(yaml_end + 1).min(lines.len()),
        });
    }
    tests
}

/// The top-level `key: value` pairs of a TAP YAML block: quoted scalars unquoted, `|-` blocks
/// joined.
fn yaml_fields<'a>(lines: &[&'a str]) -> Vec<(&'a str, String)> {
    let Some(indent) = lines.iter().find(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()) else {
        return Vec::new();
    };
    let mut fields = Vec::new();
    let mut index = 0;
    while let Some(line) = lines.get(index) {
        index += 1;
        let own_indent = line.len() - line.trim_start().len();
        if own_indent != indent {
            continue;
        }
        let Some((key, value)) = line.trim().split_once(':') else { continue };
        let value = value.trim();
        if value == "|-" || value == "|" || value == ">-" {
            let mut block = Vec::new();
            while let Some(more) = lines.get(index) {
                if !more.trim().is_empty() && more.len() - more.trim_start().len() <= indent {
                    break;
                }
                block.push(more.get(indent + 2..).unwrap_or(more.trim()));
                index += 1;
            }
            fields.push((key, block.join("\n")));
        } else if let Some(quoted) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            fields.push((key, quoted.replace("''", "'")));
        } else if value.starts_with('"') {
            fields.push((
                key,
                serde_json::from_str::<String>(value).unwrap_or_else(|_| value.trim_matches('"').to_owned()),
            ));
        } else {
            fields.push((key, value.to_owned()));
        }
    }
    fields
}

static SPEC_FAILED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<indent>\s*)✖ (?P<name>.+?)(?: \([\d.]+m?s\))?$").expect("valid regex"));
static SPEC_SUITE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<indent>\s*)▶ (?P<name>.+?)(?: \([\d.]+m?s\))?$").expect("valid regex"));

/// `node --test` with the spec reporter: `✖ name (1.2ms)` followed by the indented error.
fn node_spec(lines: &[&str]) -> Vec<FailedTest> {
    let mut tests = Vec::new();
    let mut suites: Vec<(usize, &str)> = Vec::new();
    let stop = lines.iter().position(|l| l.trim() == "✖ failing tests:").unwrap_or(lines.len());
    for index in 0..stop {
        let Some(line) = lines.get(index) else { break };
        if let Some(suite) = SPEC_SUITE.captures(line) {
            let indent = suite["indent"].len();
            suites.retain(|(i, _)| *i < indent);
            suites.push((indent, suite.name("name").map_or("", |m| m.as_str())));
            continue;
        }
        let Some(failed) = SPEC_FAILED.captures(line) else { continue };
        let indent = failed["indent"].len();
        let end = (index + 1..stop)
            .find(|&i| lines.get(i).is_some_and(|l| !l.trim().is_empty() && l.len() - l.trim_start().len() <= indent))
            .unwrap_or(stop);
        let body = lines.get(index + 1..end).unwrap_or_default();
        if body.iter().all(|l| l.trim().is_empty()) {
            continue;
        }
        let body = dedent(body);
        let message_end = body.iter().position(|l| l.trim_start().starts_with("at ")).unwrap_or(body.len());
        let mut path: Vec<&str> = suites.iter().filter(|(i, _)| *i < indent).map(|(_, n)| *n).collect();
        path.push(failed.name("name").map_or("", |m| m.as_str()));
        let event = js_event(body.get(..message_end).unwrap_or_default(), v8_frames(&body), "AssertionError");
        tests.push(FailedTest { name: path.join(" > "), event, lines: index..end });
    }
    tests
}

// ---------------------------------------------------------------------------------------------
// go test

static GO_FAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<indent>\s*)--- FAIL: (?P<name>\S+) \(").expect("valid regex"));
static GO_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^=== (?:RUN|CONT|PAUSE) +(?P<name>\S+)").expect("valid regex"));
static GO_LOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<indent>\s+)(?P<file>[\w.\-/]+\.go):(?P<line>\d+): (?P<msg>.*)$").expect("valid regex")
});

/// One `t.Log`/`t.Error` line of a Go test: file, line, message.
struct GoLog {
    file: String,
    line: u32,
    message: String,
}

/// What the output says about one Go test so far.
struct GoTest<'a> {
    name: &'a str,
    lines: Range<usize>,
    logs: Vec<GoLog>,
    failed: bool,
}

fn go_test(lines: &[&str]) -> Vec<FailedTest> {
    if !lines.iter().any(|l| GO_FAIL.is_match(l)) {
        return Vec::new();
    }
    let package =
        lines.iter().find_map(|l| l.strip_prefix("FAIL\t")).map(|rest| rest.split('\t').next().unwrap_or(rest));
    let mut tests = Vec::new();
    // Log lines belong to the test of the nearest `=== RUN` above (-v) or `--- FAIL` above.
    let mut current: Option<&str> = None;
    let mut seen: Vec<GoTest<'_>> = Vec::new();
    fn entry<'s, 'a>(seen: &'s mut Vec<GoTest<'a>>, name: &'a str, index: usize) -> Option<&'s mut GoTest<'a>> {
        match seen.iter().position(|t| t.name == name) {
            Some(at) => seen.get_mut(at),
            None => {
                seen.push(GoTest { name, lines: index..index + 1, logs: Vec::new(), failed: false });
                seen.last_mut()
            }
        }
    }
    for (index, line) in lines.iter().enumerate() {
        if let Some(run) = GO_RUN.captures(line) {
            current = run.name("name").map(|m| m.as_str());
            continue;
        }
        if let Some(fail) = GO_FAIL.captures(line) {
            let name = fail.name("name").map_or("", |m| m.as_str());
            current = Some(name);
            if let Some(test) = entry(&mut seen, name, index) {
                test.failed = true;
                test.lines.end = test.lines.end.max(index + 1);
            }
            continue;
        }
        // A panic outside any test (in `TestMain`, an `init`) fails no test by name.
        if line.starts_with("panic: ")
            && let Some(name) = current
        {
            let end = (index + 1..lines.len())
                .find(|&i| {
                    lines.get(i).is_some_and(|l| {
                        l.starts_with("FAIL\t")
                            || l.starts_with("ok  \t")
                            || *l == "FAIL"
                            || l.starts_with("exit status")
                    })
                })
                .unwrap_or(lines.len());
            let event = crash_in(lines.get(index..end).unwrap_or_default());
            let start = seen.iter().find(|t| t.name == name).map_or(index, |t| t.lines.start);
            seen.retain(|t| t.name != name);
            tests.push(FailedTest { name: name.to_owned(), event, lines: start..end });
            current = None;
            continue;
        }
        if let (Some(name), Some(log)) = (current, GO_LOG.captures(line))
            && let Some(test) = entry(&mut seen, name, index)
        {
            test.lines.end = test.lines.end.max(index + 1);
            test.logs.push(GoLog {
                file: log["file"].to_owned(),
                line: log["line"].parse().unwrap_or(0),
                message: log["msg"].to_owned(),
            });
        }
    }
    for test in seen.into_iter().filter(|t| t.failed) {
        // The first log line is where the test reported its failure (`t.Errorf`, `t.Fatalf`).
        let event = test.logs.first().map(|first| {
            let function = test.name.split('/').next().unwrap_or(test.name);
            let mut frame = frame_at(&first.file, Some(first.line), Some(function));
            frame.module = package.map(str::to_owned);
            let value = test.logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>().join("\n");
            event(
                Language::Go,
                Exception { ty: "test failure".to_owned(), value, frames: vec![frame], ..Exception::default() },
            )
        });
        tests.push(FailedTest { name: test.name.to_owned(), event, lines: test.lines });
    }
    tests
}

/// `go test -json` output: the text the tests printed, in order, when most lines are its events.
fn go_test_json_output(output: &str) -> Option<String> {
    let first = output.lines().find(|l| !l.trim().is_empty())?;
    if !(first.starts_with('{') && first.contains("\"Action\"")) {
        return None;
    }
    let mut text = String::new();
    for line in output.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if value.get("Action").and_then(|a| a.as_str()) == Some("output")
            && let Some(printed) = value.get("Output").and_then(|o| o.as_str())
        {
            text.push_str(printed);
        }
    }
    (!text.is_empty()).then_some(text)
}

// ---------------------------------------------------------------------------------------------
// cargo test

static CARGO_STDOUT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^---- (?P<name>\S+) std(?:out|err) ----$").expect("valid regex"));
static CARGO_FAILED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:test (?P<a>\S+) \.\.\. FAILED|(?P<b>\S+) --- FAILED)$").expect("valid regex"));

fn cargo_test(lines: &[&str]) -> Vec<FailedTest> {
    let mut tests = Vec::new();
    let mut named: Vec<(usize, &str)> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if let Some(block) = CARGO_STDOUT.captures(line) {
            let name = block.name("name").map_or("", |m| m.as_str());
            let end = (index + 1..lines.len())
                .find(|&i| {
                    lines.get(i).is_some_and(|l| {
                        CARGO_STDOUT.is_match(l) || *l == "failures:" || l.starts_with("test result: ")
                    })
                })
                .unwrap_or(lines.len());
            let event = crash_in(lines.get(index + 1..end).unwrap_or_default());
            tests.push(FailedTest { name: name.to_owned(), event, lines: index..end });
        } else if let Some(failed) = CARGO_FAILED.captures(line)
            && let Some(name) = failed.name("a").or_else(|| failed.name("b"))
        {
            named.push((index, name.as_str()));
        }
    }
    // Tests whose output was not captured (`--nocapture`, `--test-threads=1` with output shown):
    // the panic's thread is named after the test.
    if tests.is_empty() && !named.is_empty() {
        let text = lines.join("\n");
        for trace in scan::find_traces(&text) {
            let Some(thread) = trace.event.thread.clone() else { continue };
            if named.iter().any(|(_, n)| *n == thread) && !tests.iter().any(|t: &FailedTest| t.name == thread) {
                tests.push(FailedTest { name: thread, event: Some(trace.event), lines: trace.lines });
            }
        }
    }
    for (index, name) in named {
        if !tests.iter().any(|t| t.name == name) {
            tests.push(FailedTest { name: name.to_owned(), event: None, lines: index..index + 1 });
        }
    }
    tests
}

// ---------------------------------------------------------------------------------------------
// JUnit

static JUNIT_METHOD_SOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"MethodSource \[className = '(?P<class>[^']*)', methodName = '(?P<method>[^']*)'").expect("valid regex")
});

/// The JUnit Platform console launcher: `Failures (N):`, then per test its display path, its
/// source and `=> Type: message` with the frames below it.
fn junit_console(lines: &[&str]) -> Vec<FailedTest> {
    let Some(failures) = lines.iter().position(|l| l.starts_with("Failures (") && l.ends_with("):")) else {
        return Vec::new();
    };
    let mut tests = Vec::new();
    let entries: Vec<usize> = (failures + 1..lines.len())
        .filter(|&i| lines.get(i).is_some_and(|l| l.starts_with("  ") && !l.starts_with("   ") && !l.trim().is_empty()))
        .collect();
    for (n, &start) in entries.iter().enumerate() {
        let end = entries.get(n + 1).copied().unwrap_or_else(|| {
            (start + 1..lines.len()).find(|&i| lines.get(i).is_some_and(|l| !l.starts_with(' '))).unwrap_or(lines.len())
        });
        let body = lines.get(start + 1..end).unwrap_or_default();
        let name = body.iter().find_map(|l| JUNIT_METHOD_SOURCE.captures(l)).map_or_else(
            || lines.get(start).map_or("", |l| l.trim()).to_owned(),
            |c| format!("{}.{}", &c["class"], &c["method"]),
        );
        let mut trace: Vec<String> = Vec::new();
        for line in body {
            let trimmed = line.trim();
            if let Some(header) = trimmed.strip_prefix("=> ") {
                trace.push(header.to_owned());
            } else if !trace.is_empty() && trimmed != "[...]" && !trimmed.is_empty() {
                let is_header = trimmed.starts_with("Caused by: ")
                    || trimmed.starts_with("Suppressed: ")
                    || trimmed.starts_with("... ");
                trace.push(if is_header { trimmed.to_owned() } else { format!("\tat {trimmed}") });
            }
        }
        let trace: Vec<&str> = trace.iter().map(String::as_str).collect();
        let event = crash_in(&trace).or_else(|| {
            let (ty, message) = trace.first().and_then(|h| split_error_line(h))?;
            Some(event(
                Language::Java,
                Exception { ty: ty.to_owned(), value: message.to_owned(), ..Exception::default() },
            ))
        });
        tests.push(FailedTest { name, event, lines: start..end });
    }
    tests
}

static JUNIT4_ENTRY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d+\) (?P<method>[^(\s]+)\((?P<class>[^)]+)\)$").expect("valid regex"));

/// JUnit 4's `JUnitCore`: `There were N failures:`, then `1) method(class)` and the trace.
fn junit4_runner(lines: &[&str]) -> Vec<FailedTest> {
    let Some(failures) = lines.iter().position(|l| l.starts_with("There w") && l.contains(" failure")) else {
        return Vec::new();
    };
    let entries: Vec<usize> =
        (failures + 1..lines.len()).filter(|&i| lines.get(i).is_some_and(|l| JUNIT4_ENTRY.is_match(l))).collect();
    let mut tests = Vec::new();
    for (n, &start) in entries.iter().enumerate() {
        let end = entries.get(n + 1).copied().unwrap_or_else(|| {
            (start + 1..lines.len())
                .find(|&i| lines.get(i).is_some_and(|l| l.trim().is_empty() || l.starts_with("FAILURES!!!")))
                .unwrap_or(lines.len())
        });
        let Some(entry) = lines.get(start).and_then(|l| JUNIT4_ENTRY.captures(l)) else { continue };
        let name = format!("{}.{}", &entry["class"], &entry["method"]);
        let event = crash_in(lines.get(start + 1..end).unwrap_or_default());
        tests.push(FailedTest { name, event, lines: start..end });
    }
    tests
}

/// JUnit XML reports (`TEST-*.xml`): each `<testcase>` with a `<failure>` or `<error>`.
fn junit_xml(lines: &[&str]) -> Vec<FailedTest> {
    if !lines.iter().take(5).any(|l| l.contains("<testsuite") || l.starts_with("<?xml")) {
        return Vec::new();
    }
    let mut tests = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let Some(line) = lines.get(index) else { break };
        let Some(at) = line.find("<testcase ") else {
            index += 1;
            continue;
        };
        let start = index;
        let tag = line.get(at..).unwrap_or("");
        let name = xml_attribute(tag, "name").unwrap_or_default();
        let class = xml_attribute(tag, "classname").unwrap_or_default();
        let name = name.strip_suffix("()").unwrap_or(&name).to_owned();
        let name = if class.is_empty() { name } else { format!("{class}.{name}") };
        let self_closing = tag.split_once('>').is_some_and(|(open, _)| open.ends_with('/'));
        let end = if self_closing {
            index + 1
        } else {
            (index..lines.len())
                .find(|&i| lines.get(i).is_some_and(|l| l.contains("</testcase>")))
                .map_or(lines.len(), |i| i + 1)
        };
        index = end.max(index + 1);
        let body = lines.get(start..end).unwrap_or_default().join("\n");
        let Some(failure) = ["<failure", "<error"].iter().find_map(|t| body.find(t).map(|at| (t, at))) else {
            continue;
        };
        let (_, at) = failure;
        let element = body.get(at..).unwrap_or("");
        let open_end = element.find('>').unwrap_or(element.len());
        let open = element.get(..open_end).unwrap_or("");
        let ty = xml_attribute(open, "type");
        let message = xml_attribute(open, "message");
        let content = element.get(open_end + 1..).unwrap_or("");
        let content = content.split("</failure>").next().unwrap_or(content).split("</error>").next().unwrap_or(content);
        let text = match content.trim_start().strip_prefix("<![CDATA[") {
            Some(cdata) => cdata.split("]]>").next().unwrap_or(cdata).to_owned(),
            None => xml_unescape(content),
        };
        let text_lines: Vec<&str> = text.lines().collect();
        let event = crash_in(&text_lines).or_else(|| {
            let message = message.clone().unwrap_or_default();
            let (ty, value) = match ty.clone() {
                Some(ty) => (ty, message),
                None => match split_error_line(&message) {
                    Some((ty, value)) => (ty.to_owned(), value.to_owned()),
                    None => ("test failure".to_owned(), message.clone()),
                },
            };
            Some(event(Language::Other, Exception { ty, value, ..Exception::default() }))
        });
        tests.push(FailedTest { name, event, lines: start..end });
    }
    tests
}

fn xml_attribute(tag: &str, name: &str) -> Option<String> {
    let pattern = format!(" {name}=\"");
    let start = tag.find(&pattern)? + pattern.len();
    let value = tag.get(start..)?.split('"').next()?;
    Some(xml_unescape(value))
}

fn xml_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or(""));
        let after = rest.get(amp..).unwrap_or("");
        let Some(semi) = after.find(';').filter(|&s| s <= 10) else {
            out.push('&');
            rest = after.get(1..).unwrap_or("");
            continue;
        };
        let entity = after.get(1..semi).unwrap_or("");
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = after.get(semi + 1..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = after.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_need_an_error_name() {
        assert_eq!(split_error_line("TypeError: x"), Some(("TypeError", "x")));
        assert_eq!(split_error_line("AssertionError [ERR_ASSERTION]: a"), Some(("AssertionError", "a")));
        assert_eq!(split_error_line("java.lang.NullPointerException"), Some(("java.lang.NullPointerException", "")));
        assert_eq!(split_error_line("expect(received).toBe(expected)"), None);
        assert_eq!(split_error_line("Note: something"), None);
    }

    #[test]
    fn xml_entities() {
        assert_eq!(xml_unescape("a &lt;b&gt; &amp; &quot;c&quot; &#65;&#x42; & x"), "a <b> & \"c\" AB & x");
        assert_eq!(xml_attribute("<x name=\"a&amp;b\" type=\"T\">", "type").as_deref(), Some("T"));
    }

    #[test]
    fn plain_logs_are_not_test_output() {
        assert!(!may_be_test_output("2024-01-01 INFO started\n2024-01-01 INFO ok\n"));
        assert!(failing_tests("FAILED to connect\nnot a test run\n").is_empty());
        assert!(failing_tests("").is_empty());
    }
}
