//! Every parser on generated input, bounded (a fixed number of cases per parser): no panic, a
//! parser never claims more lines than it was given, and no quadratic blow-up on one long line
//! (the time for a 2 MiB line against a 512 KiB one, with a bound far above linear growth and far
//! below quadratic growth).

use std::time::Instant;

use crashloom::crash::detect::find_traces;
use crashloom::crash::file::parse_crash_file;
use crashloom::crash::testrun::failing_tests;
use crashloom::crash::{CrashEvent, dotnet, go, javascript, jvm, python, ruby, rust};
use proptest::prelude::*;

type Parser = fn(&[&str]) -> Option<(CrashEvent, usize)>;

const PARSERS: [(&str, Parser); 7] = [
    ("python", python::parse),
    ("rust", rust::parse),
    ("go", go::parse),
    ("jvm", jvm::parse),
    ("javascript", javascript::parse),
    ("dotnet", dotnet::parse),
    ("ruby", ruby::parse),
];

/// Pieces of every supported format, so that generated lines reach deep into the parsers.
const PIECES: &[&str] = &[
    "Traceback (most recent call last):",
    "  File \"a.py\", line 3, in f",
    "    x = y[0]",
    "    ^^^^",
    "ValueError: bad",
    "  + Exception Group Traceback (most recent call last):",
    "  | ",
    "  +-+---------------- 1 ----------------",
    "The above exception was the direct cause of the following exception:",
    "thread 'main' panicked at src/main.rs:3:5:",
    "stack backtrace:",
    "   0: app::main",
    "             at ./src/main.rs:3:5",
    "panic: runtime error: index out of range [5] with length 3",
    "goroutine 1 [running]:",
    "main.main()",
    "\t/app/main.go:12 +0x1d",
    "created by main.main in goroutine 1",
    "SIGQUIT: quit",
    "PC=0x45f1e0 m=0 sigcode=0",
    "Exception in thread \"main\" java.lang.IllegalStateException: boom",
    "\tat com.acme.App.run(App.java:10)",
    "Caused by: java.io.IOException: x",
    "\t... 3 more",
    "TypeError: Cannot read properties of undefined (reading 'x')",
    "    at total (/app/a.js:12:24)",
    "    at (webpack:///src/a.js:1:2)",
    "    at render(/app/App.js:78:24)",
    "    at eval (eval at f (/app/a.js:1:2), <anonymous>:3:4)",
    "foo@http://x/a.js:1:2",
    "global code@http://x/a.js:9:1",
    "obj[\"@fn\"]@Scratchpad/1:10:29",
    "[native code]",
    "System.Exception (0x80004005): a ---> System.IO.IOException: b",
    "   at A.B.C() in /x.cs:line 1",
    "   --- End of inner exception stack trace ---",
    "app.rb:3:in 'Foo#bar': boom (RuntimeError)",
    "\tfrom app.rb:7:in '<main>'",
    "=================================== FAILURES ===================================",
    "___________________________ test_total ____________________________",
    "E       KeyError: 'kiwi'",
    "shop/cart.py:10: KeyError",
    "FAILED test_cart.py::test_total - KeyError: 'kiwi'",
    "  ● cart › total",
    " FAIL  vt/a.test.mjs > cart > total",
    " ❯ src/cart.js:9:44",
    "not ok 2 - total",
    "  ---",
    "  stack: |-",
    "  ...",
    "--- FAIL: TestTotal (0.00s)",
    "    cart_test.go:14: want 5",
    "---- tests::total stdout ----",
    "test tests::total ... FAILED",
    "Failures (1):",
    "    => java.lang.Error: x",
    "There was 1 failure:",
    "1) total(com.acme.CartTest)",
    "<testcase name=\"t\" classname=\"C\"><failure message=\"m\" type=\"T\">&lt;x",
    "{\"exc_info\": \"Traceback (most recent call last):\\n  File \\\"a.py\\\", line 1, in f\\nKeyError: 'k'\"}",
    "2024-05-01 10:00:00,001 ERROR request failed",
    "web_1  | ",
    "",
];

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(PIECES).prop_map(str::to_owned),
        1 => "[ -~\\t]{0,40}",
        1 => "\\PC{0,20}",
        1 => (prop::sample::select(PIECES), "[ -~]{0,8}").prop_map(|(piece, junk)| {
            let cut = piece.char_indices().map(|(i, _)| i).nth(piece.chars().count() / 2).unwrap_or(0);
            format!("{}{junk}", &piece[..cut])
        }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..40).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn format_parsers_never_panic_nor_overrun(text in text()) {
        let lines: Vec<&str> = text.lines().collect();
        for (name, parser) in PARSERS {
            for start in 0..lines.len().min(4) {
                let window = &lines[start..];
                if let Some((_, used)) = parser(window) {
                    prop_assert!(used <= window.len(), "{name} used {used} of {} lines", window.len());
                }
            }
        }
    }

    #[test]
    fn trace_finder_never_panics_and_ranges_are_in_the_text(text in text()) {
        let count = text.lines().count();
        for trace in find_traces(&text) {
            prop_assert!(trace.lines.start < trace.lines.end.max(trace.lines.start + 1));
            prop_assert!(trace.lines.end <= count.max(1), "{:?} of {count} lines", trace.lines);
            let exception = trace.event.outermost();
            prop_assert!(exception.is_some_and(|e| !e.ty.is_empty()), "a crash without a type: {:?}", trace.event);
        }
    }

    #[test]
    fn test_run_reader_never_panics(text in text()) {
        for test in failing_tests(&text) {
            prop_assert!(!test.name.is_empty(), "a failing test without a name: {test:?}");
        }
    }

    #[test]
    fn crash_files_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), text in text()) {
        let _ = parse_crash_file(&bytes, "fuzz.bin");
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let _ = parse_crash_file(&utf16, "fuzz.txt");
    }
}

/// Lines that once were, or could be, hard on a scanner: one anchor or bracket repeated.
fn long_line(piece: &str, bytes: usize) -> String {
    piece.repeat(bytes / piece.len().max(1) + 1)
}

/// Seconds for the fastest of three runs of `work`.
fn fastest(work: impl Fn()) -> f64 {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

/// Whether 4x the input took clearly less than the 16x of quadratic work. Times this short (tens of
/// milliseconds for 2 MiB) are too small for the clock to tell apart, and too small to be a blow-up.
fn linear(small: f64, large: f64) -> bool {
    large < 10.0 * small || large < 0.05
}

#[test]
fn one_long_line_is_read_in_linear_time() {
    const SMALL: usize = 512 * 1024;
    const LARGE: usize = 2 * 1024 * 1024;
    for piece in
        ["at ", "  at f (", "@", "x@a.js:1 ", "File \"", "((((", "panic: ", "goroutine 1 [", "\\n", "● ", "<testcase "]
    {
        let small = long_line(piece, SMALL);
        let large = long_line(piece, LARGE);
        // The small input first: it also builds the parsers' regexes.
        let small_time = fastest(|| {
            let _ = find_traces(&small);
            let _ = failing_tests(&small);
        });
        let large_time = fastest(|| {
            let _ = find_traces(&large);
            let _ = failing_tests(&large);
        });
        // 4x the input: linear work takes about 4x the time, quadratic 16x.
        assert!(
            linear(small_time, large_time),
            "{piece:?}: {LARGE} bytes took {large_time:.4} s, {SMALL} bytes {small_time:.4} s"
        );
        // The format parsers on the pieces that reach into them without an anchor search.
        if !["at ", "@", "((((", "panic: "].contains(&piece) {
            continue;
        }
        for (name, parser) in PARSERS {
            let small_time = fastest(|| {
                let _ = parser(&[small.as_str()]);
            });
            let large_time = fastest(|| {
                let _ = parser(&[large.as_str()]);
            });
            assert!(
                linear(small_time, large_time),
                "{name} on {piece:?}: {large_time:.4} s for 2 MiB, {small_time:.4} s for 512 KiB"
            );
        }
    }
}
