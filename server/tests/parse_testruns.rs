//! Test runners' output as crash text, on output captured by running the real runners on a small
//! cart program with three bugs (`tests/fixtures/testruns/README.md`): which tests failed, the
//! exception each ended with, its message and the in-app crash site; and that `find_traces` (used
//! for crash files and by the validator) gives one crash per failing test, named after it.

use crashloom::crash::detect::find_traces;
use crashloom::crash::file::parse_crash_file;
use crashloom::crash::group::looks_in_app;
use crashloom::crash::testrun::{FailedTest, failing_tests};
use crashloom::crash::{CrashEvent, Frame};

fn fixture(path: &str) -> String {
    let full = format!("{}/../tests/fixtures/testruns/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("reading {full}: {error}"))
}

/// `(test name, exception type, first line of the message)` of every failing test.
fn summary(tests: &[FailedTest]) -> Vec<(String, String, String)> {
    tests
        .iter()
        .map(|t| {
            let exception = t.event.as_ref().and_then(CrashEvent::outermost);
            (
                t.name.clone(),
                exception.map(|e| e.ty.clone()).unwrap_or_default(),
                exception.map(|e| e.value.lines().next().unwrap_or("").to_owned()).unwrap_or_default(),
            )
        })
        .collect()
}

fn row(name: &str, ty: &str, message: &str) -> (String, String, String) {
    (name.to_owned(), ty.to_owned(), message.to_owned())
}

/// The in-app frames, newest first, as `(file name, line, function)`.
fn in_app_frames(test: &FailedTest) -> Vec<(String, Option<u32>, String)> {
    let event = test.event.as_ref().unwrap_or_else(|| panic!("{}: no crash", test.name));
    let exception = event.outermost().expect("an exception");
    exception.frames.iter().rev().filter(|f| looks_in_app(f)).map(site).collect()
}

fn site(frame: &Frame) -> (String, Option<u32>, String) {
    let file = frame.filename.as_deref().unwrap_or("");
    (file.rsplit('/').next().unwrap_or(file).to_owned(), frame.line, frame.function.clone().unwrap_or_default())
}

fn at(file: &str, line: u32, function: &str) -> (String, Option<u32>, String) {
    (file.to_owned(), Some(line), function.to_owned())
}

fn test<'a>(tests: &'a [FailedTest], name: &str) -> &'a FailedTest {
    tests.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no failing test {name}: {:?}", summary(tests)))
}

/// `find_traces` gives one crash per failing test, each carrying its test's name, in order.
fn assert_one_crash_per_test(text: &str, tests: &[FailedTest]) {
    let found = find_traces(text);
    let names: Vec<Option<&str>> = found.iter().map(|t| t.event.test_name.as_deref()).collect();
    let expected: Vec<Option<&str>> =
        tests.iter().filter(|t| t.event.is_some()).map(|t| Some(t.name.as_str())).collect();
    assert_eq!(names, expected);
}

const PYTEST_FAILURES: [(&str, &str, &str); 3] = [
    ("test_cart.py::test_total_unknown_item", "KeyError", "'kiwi'"),
    ("test_cart.py::test_average_of_empty_cart", "ZeroDivisionError", "division by zero"),
    ("test_cart.py::test_total_is_wrong", "AssertionError", "assert 3 == 4"),
];

fn pytest_rows() -> Vec<(String, String, String)> {
    PYTEST_FAILURES.iter().map(|(n, t, m)| row(n, t, m)).collect()
}

#[test]
fn pytest_every_traceback_style() {
    for style in ["auto", "long", "short", "native"] {
        let text = fixture(&format!("pytest/tb-{style}.txt"));
        let tests = failing_tests(&text);
        assert_eq!(summary(&tests), pytest_rows(), "--tb={style}");
        let key_error = test(&tests, "test_cart.py::test_total_unknown_item");
        let frames = in_app_frames(key_error);
        assert_eq!(frames.first(), Some(&at("cart.py", 10, "price_of")), "--tb={style}");
        assert_eq!(frames.last(), Some(&at("test_cart.py", 12, "test_total_unknown_item")), "--tb={style}");
        assert!(frames.contains(&at("cart.py", 14, "total")), "--tb={style}: {frames:?}");
        let division = test(&tests, "test_cart.py::test_average_of_empty_cart");
        assert_eq!(
            in_app_frames(division),
            [at("cart.py", 18, "average"), at("test_cart.py", 16, "test_average_of_empty_cart")],
            "--tb={style}"
        );
        let assertion = test(&tests, "test_cart.py::test_total_is_wrong");
        assert_eq!(in_app_frames(assertion), [at("test_cart.py", 20, "test_total_is_wrong")], "--tb={style}");
        assert_one_crash_per_test(&text, &tests);
    }
}

#[test]
fn pytest_native_tracebacks_keep_pytest_itself_out_of_the_app() {
    let tests = failing_tests(&fixture("pytest/tb-native.txt"));
    let key_error = test(&tests, "test_cart.py::test_total_unknown_item");
    let exception = key_error.event.as_ref().and_then(CrashEvent::outermost).expect("a crash");
    // The runner's own frames are there, but they are library code.
    assert!(exception.frames.len() > 10);
    assert_eq!(in_app_frames(key_error).len(), 4);
}

#[test]
fn pytest_line_style_names_tests_from_the_summary() {
    let tests = failing_tests(&fixture("pytest/tb-line.txt"));
    assert_eq!(summary(&tests), pytest_rows());
    let frames: Vec<_> = tests.iter().map(|t| in_app_frames(t)[0].clone()).collect();
    assert_eq!(frames, [at("cart.py", 10, ""), at("cart.py", 18, ""), at("test_cart.py", 20, "")]);
}

#[test]
fn pytest_exit_first_and_captured_logs() {
    let tests = failing_tests(&fixture("pytest/exitfirst.txt"));
    assert_eq!(summary(&tests), pytest_rows()[..1]);
    // `-rA --log-level=INFO`: captured log sections and a PASSES section do not become failures
    // or messages.
    let text = fixture("pytest/ra-logs.txt");
    let tests = failing_tests(&text);
    assert_eq!(summary(&tests), pytest_rows());
    let key_error = test(&tests, "test_cart.py::test_total_unknown_item");
    let message = &key_error.event.as_ref().and_then(CrashEvent::outermost).expect("a crash").value;
    assert_eq!(message, "'kiwi'");
    assert!(!tests.iter().any(|t| t.name.contains("test_total_known_items")));
    assert_one_crash_per_test(&text, &tests);
}

#[test]
fn unittest_errors_and_failures() {
    for file in ["unittest/unittest.txt", "unittest/unittest-verbose.txt"] {
        let text = fixture(file);
        let tests = failing_tests(&text);
        assert_eq!(
            summary(&tests),
            [
                row("test_cart_unittest.CartTest.test_average_of_empty_cart", "ZeroDivisionError", "division by zero"),
                row("test_cart_unittest.CartTest.test_total_unknown_item", "KeyError", "'kiwi'"),
                row("test_cart_unittest.CartTest.test_total_is_wrong", "AssertionError", "3 != 4"),
            ],
            "{file}"
        );
        let key_error = test(&tests, "test_cart_unittest.CartTest.test_total_unknown_item");
        assert_eq!(in_app_frames(key_error)[0], at("cart.py", 10, "price_of"));
        assert_one_crash_per_test(&text, &tests);
    }
}

const JS_TYPE_ERROR: &str = "Cannot read properties of undefined (reading 'toFixed')";

#[test]
fn jest_blocks() {
    let text = fixture("jest/jest.txt");
    let tests = failing_tests(&text);
    assert_eq!(
        summary(&tests),
        [
            row("cart › total of an unknown item", "TypeError", JS_TYPE_ERROR),
            row("cart › average of an empty cart", "RangeError", "cannot average an empty cart"),
            // Jest's matchers throw a `JestAssertionError` and print only its message.
            row("cart › total is wrong", "JestAssertionError", "expect(received).toBe(expected) // Object.is equality"),
        ]
    );
    let range = test(&tests, "cart › average of an empty cart");
    assert_eq!(in_app_frames(range), [at("cart.js", 14, "average"), at("cart.test.js", 13, "Object.average")]);
    let type_error = test(&tests, "cart › total of an unknown item");
    assert_eq!(in_app_frames(type_error)[0], at("cart.js", 5, "toFixed"));
    let event = type_error.event.as_ref().expect("a crash");
    assert_eq!(event.outermost().and_then(|e| e.frames.last()).and_then(|f| f.column), Some(16));
    assert_one_crash_per_test(&text, &tests);
}

#[test]
fn vitest_blocks() {
    let text = fixture("vitest/vitest.txt");
    let tests = failing_tests(&text);
    assert_eq!(
        summary(&tests),
        [
            row("vt/cart.test.mjs > cart > total of an unknown item", "TypeError", JS_TYPE_ERROR),
            row("vt/cart.test.mjs > cart > average of an empty cart", "RangeError", "cannot average an empty cart"),
            row(
                "vt/cart.test.mjs > cart > total is wrong",
                "AssertionError",
                "expected 3 to be 4 // Object.is equality"
            ),
        ]
    );
    let type_error = test(&tests, "vt/cart.test.mjs > cart > total of an unknown item");
    assert_eq!(
        in_app_frames(type_error),
        [
            at("cart.js", 5, "priceOf"),
            at("cart.js", 9, ""),
            at("cart.js", 9, "Module.total"),
            at("cart.test.mjs", 10, "")
        ]
    );
    assert_one_crash_per_test(&text, &tests);
}

#[test]
fn mocha_blocks() {
    let text = fixture("mocha/mocha.txt");
    let tests = failing_tests(&text);
    assert_eq!(
        summary(&tests),
        [
            row("cart total of an unknown item", "TypeError", JS_TYPE_ERROR),
            row("cart average of an empty cart", "RangeError", "cannot average an empty cart"),
            row("cart total is wrong", "AssertionError", "Expected values to be strictly equal:"),
        ]
    );
    let type_error = test(&tests, "cart total of an unknown item");
    assert_eq!(in_app_frames(type_error)[0], at("cart.js", 5, "priceOf"));
    assert_eq!(in_app_frames(type_error).last(), Some(&at("cart.spec.js", 10, "Context.<anonymous>")));
    assert_one_crash_per_test(&text, &tests);
}

#[test]
fn node_test_tap_and_spec_reporters() {
    let expected = [
        row("cart > total of an unknown item", "TypeError", JS_TYPE_ERROR),
        row("cart > average of an empty cart", "RangeError", "cannot average an empty cart"),
        row("cart > total is wrong", "AssertionError", "Expected values to be strictly equal:"),
    ];
    for file in ["node-test/node-test-tap.txt", "node-test/node-test-spec.txt"] {
        let text = fixture(file);
        let tests = failing_tests(&text);
        // The suite `cart` fails only because its tests do: it is not a failing test of its own.
        assert_eq!(summary(&tests), expected, "{file}");
        let type_error = test(&tests, "cart > total of an unknown item");
        let frames = in_app_frames(type_error);
        assert_eq!(frames[0], at("cart.js", 5, "priceOf"), "{file}");
        assert_eq!(frames.last(), Some(&at("cart.test.js", 11, "TestContext.<anonymous>")), "{file}");
        // The spec reporter repeats the failures in a closing summary: still one crash per test.
        assert_one_crash_per_test(&text, &tests);
    }
}

#[test]
fn go_test_failures_and_panics() {
    for file in ["go-test/go-test.txt", "go-test/go-test-v.txt", "go-test/go-test-json.txt"] {
        let text = fixture(file);
        let tests = failing_tests(&text);
        assert_eq!(
            summary(&tests),
            [
                row("TestTotalIsWrong", "test failure", "PriceOf(pear) = 4, want 5"),
                row("TestTotal", "runtime.Error", "index out of range [1] with length 1"),
            ],
            "{file}"
        );
        let failure = test(&tests, "TestTotalIsWrong");
        assert_eq!(in_app_frames(failure), [at("cart_test.go", 14, "TestTotalIsWrong")], "{file}");
        let message = &failure.event.as_ref().and_then(CrashEvent::outermost).expect("a failure").value;
        assert_eq!(message, "PriceOf(pear) = 4, want 5\nchecked the pear", "{file}");
        let panic = test(&tests, "TestTotal");
        assert_eq!(
            in_app_frames(panic),
            [at("cart.go", 11, "PriceOf"), at("cart.go", 17, "Total"), at("cart_test.go", 20, "TestTotal")],
            "{file}"
        );
    }
    let text = fixture("go-test/go-test.txt");
    assert_one_crash_per_test(&text, &failing_tests(&text));
}

#[test]
fn cargo_test_panics_in_tests() {
    for file in ["cargo-test/cargo-test.txt", "cargo-test/cargo-test-backtrace.txt"] {
        let text = fixture(file);
        let mut tests = failing_tests(&text);
        tests.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            summary(&tests),
            [
                row("tests::average_of_empty_cart", "panic", "attempt to divide by zero"),
                row("tests::total_is_wrong", "panic", "assertion `left == right` failed"),
                row("tests::total_of_unknown_item", "panic", "no price for kiwi"),
            ],
            "{file}"
        );
        let unknown = test(&tests, "tests::total_of_unknown_item");
        assert_eq!(in_app_frames(unknown)[0].0, "lib.rs", "{file}");
        assert_eq!(in_app_frames(unknown)[0].1, Some(5), "{file}");
        let event = unknown.event.as_ref().expect("a crash");
        assert_eq!(event.thread.as_deref(), Some("tests::total_of_unknown_item"));
    }
    let text = fixture("cargo-test/cargo-test-backtrace.txt");
    let tests = failing_tests(&text);
    let unknown = test(&tests, "tests::total_of_unknown_item");
    let frames = in_app_frames(unknown);
    assert_eq!(frames[0], at("lib.rs", 5, "shop::price_of"));
    assert!(frames.contains(&at("lib.rs", 28, "shop::tests::total_of_unknown_item")), "{frames:?}");
    assert_one_crash_per_test(&text, &tests);
}

#[test]
fn junit_console_launcher_junit4_and_xml_reports() {
    let expected = |order: [usize; 3]| {
        let rows = [
            row(
                "com.acme.shop.CartTest.totalIsWrong",
                "org.opentest4j.AssertionFailedError",
                "expected: <4> but was: <3>",
            ),
            row("com.acme.shop.CartTest.averageOfEmptyCart", "java.lang.ArithmeticException", "/ by zero"),
            row(
                "com.acme.shop.CartTest.totalOfUnknownItem",
                "java.lang.NullPointerException",
                "Cannot invoke \"java.lang.Integer.intValue()\" because \"<local1>\" is null",
            ),
        ];
        order.map(|i| rows[i].clone()).to_vec()
    };
    let console = failing_tests(&fixture("junit/junit-console.txt"));
    assert_eq!(summary(&console), expected([0, 1, 2]));
    let xml = failing_tests(&fixture("junit/TEST-junit-jupiter.xml"));
    assert_eq!(summary(&xml), expected([0, 2, 1]));
    for tests in [&console, &xml] {
        let npe = test(tests, "com.acme.shop.CartTest.totalOfUnknownItem");
        let frames = in_app_frames(npe);
        assert_eq!(
            frames[..3],
            [
                at("Cart.java", 11, "priceOf"),
                at("Cart.java", 17, "total"),
                at("CartTest.java", 16, "totalOfUnknownItem")
            ]
        );
    }
    let junit4 = failing_tests(&fixture("junit/junit4-runner.txt"));
    let mut rows = expected([0, 1, 2]);
    rows[0].1 = "java.lang.AssertionError".to_owned();
    rows[0].2 = "expected:<4> but was:<3>".to_owned();
    assert_eq!(summary(&junit4), rows);
}

#[test]
fn test_output_dropped_as_a_crash_file() {
    let bytes = fixture("pytest/tb-short.txt").into_bytes();
    let parsed = parse_crash_file(&bytes, ".crashloom/crashes/ci.log");
    let names: Vec<_> = parsed.events.iter().map(|e| e.test_name.as_deref().unwrap_or("")).collect();
    assert_eq!(names, PYTEST_FAILURES.map(|(name, _, _)| name));
    assert_eq!(parsed.events[0].title(), "KeyError: 'kiwi'");
}

#[test]
fn passing_runs_and_ordinary_logs_have_no_failing_tests() {
    for text in [
        "============================= test session starts ==============================\ncollected 1 item\n\ntest_a.py .                                                              [100%]\n\n============================== 1 passed in 0.01s ===============================\n",
        "=== RUN   TestA\n--- PASS: TestA (0.00s)\nPASS\nok  \texample.com/a\t0.002s\n",
        "running 1 test\ntest tests::a ... ok\n\ntest result: ok. 1 passed; 0 failed\n",
        "TAP version 13\n# Subtest: a\nok 1 - a\n  ---\n  duration_ms: 1\n  ...\n1..1\n",
        "2024-01-01 12:00:00 INFO FAILED login for ada (wrong password)\n2024-01-01 12:00:01 INFO not ok yet\n",
    ] {
        assert_eq!(summary(&failing_tests(text)), [], "{text}");
        assert!(find_traces(text).iter().all(|t| t.event.test_name.is_none()));
    }
}
