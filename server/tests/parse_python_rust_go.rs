//! The Python, Rust and Go parsers on traces captured from real programs
//! (`tests/fixtures/traces/generate-python-rust-go.sh` runs them): what a user would see for each
//! crash — type, message, the crash site, the frames and the chain.

use crashloom::crash::{CrashEvent, Exception, Frame, Language, LinkKind, go, python, rust};

type Parser = fn(&[&str]) -> Option<(CrashEvent, usize)>;

fn fixture(path: &str) -> String {
    let full = format!(
        "{}/../tests/fixtures/traces/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("reading {full}: {error}"))
}

/// Parses a whole fixture (leading blank lines skipped) and checks every line of it was used.
fn parse_fixture(parser: Parser, path: &str) -> CrashEvent {
    let text = fixture(path);
    let lines: Vec<&str> = text.lines().skip_while(|l| l.trim().is_empty()).collect();
    let (event, used) = parser(&lines).unwrap_or_else(|| panic!("{path}: no trace found"));
    assert_eq!(used, lines.len(), "{path}: the whole trace should be read");
    event
}

fn outermost(event: &CrashEvent) -> &Exception {
    event.outermost().expect("an exception")
}

fn crash_site(exception: &Exception) -> &Frame {
    exception.frames.last().expect("a raising frame")
}

/// `(file name, line, function)` of a frame, the file name without its folders.
fn site(frame: &Frame) -> (&str, Option<u32>, &str) {
    let file = frame.filename.as_deref().unwrap_or("");
    (
        file.rsplit('/').next().unwrap_or(file),
        frame.line,
        frame.function.as_deref().unwrap_or(""),
    )
}

fn functions(exception: &Exception) -> Vec<&str> {
    exception
        .frames
        .iter()
        .map(|f| f.function.as_deref().unwrap_or(""))
        .collect()
}

// ---------------------------------------------------------------- Python

#[test]
fn python_key_error_in_a_generator() {
    let event = parse_fixture(python::parse, "python/simple.txt");
    assert_eq!(event.language, Some(Language::Python));
    assert_eq!(event.exceptions.len(), 1);
    let exception = outermost(&event);
    assert_eq!(exception.title(), "KeyError: 'plum'");
    assert_eq!(
        functions(exception),
        ["<module>", "order_total", "<genexpr>", "load_price"]
    );
    let site_frame = crash_site(exception);
    assert_eq!(site(site_frame), ("simple.py", Some(5), "load_price"));
    assert_eq!(
        site_frame.abs_path.as_deref(),
        Some("/tmp/crashloom-fixtures/python/programs/simple.py")
    );
    assert_eq!(
        site_frame.context.as_ref().map(|c| c.line.as_str()),
        Some("return prices[sku]")
    );
}

#[test]
fn python_caret_lines_are_not_source() {
    let event = parse_fixture(python::parse, "python/carets.txt");
    let exception = outermost(&event);
    assert_eq!(exception.title(), "ZeroDivisionError: division by zero");
    assert_eq!(exception.frames.len(), 4);
    assert_eq!(site(crash_site(exception)), ("carets.py", Some(5), "ratio"));
    for frame in &exception.frames {
        let code = &frame.context.as_ref().expect("source line").line;
        assert!(
            !code.contains('^') && !code.contains('~'),
            "caret line kept as source: {code}"
        );
    }
}

#[test]
fn python_direct_cause_chain() {
    let event = parse_fixture(python::parse, "python/chained_cause.txt");
    assert_eq!(event.exceptions.len(), 2);
    let cause = &event.exceptions[0];
    assert_eq!(cause.ty, "JSONDecodeError");
    assert_eq!(cause.module.as_deref(), Some("json.decoder"));
    assert_eq!(
        cause.value,
        "Expecting property name enclosed in double quotes: line 1 column 13 (char 12)"
    );
    assert_eq!(cause.frames.len(), 5);
    assert_eq!(
        site(crash_site(cause)),
        ("decoder.py", Some(353), "raw_decode")
    );
    assert_eq!(
        cause.link.map(|l| (l.parent, l.kind)),
        Some((1, LinkKind::Cause))
    );

    let outer = &event.exceptions[1];
    assert_eq!(
        outer.title(),
        "StartupError: could not read the configuration"
    );
    assert_eq!(outer.link, None);
    assert_eq!(
        site(crash_site(outer)),
        ("chained_cause.py", Some(17), "start")
    );
    assert_eq!(event.root_causes().map(|(i, _)| i).collect::<Vec<_>>(), [0]);
}

#[test]
fn python_exception_during_handling_chain() {
    let event = parse_fixture(python::parse, "python/chained_context.txt");
    assert_eq!(event.exceptions.len(), 2);
    let context = &event.exceptions[0];
    assert_eq!(
        context.title(),
        "ValueError: invalid literal for int() with base 10: 'eighty'"
    );
    assert_eq!(
        context.link.map(|l| (l.parent, l.kind)),
        Some((1, LinkKind::Context))
    );
    assert_eq!(
        site(crash_site(context)),
        ("chained_context.py", Some(5), "parse_port")
    );
    let outer = &event.exceptions[1];
    assert_eq!(
        outer.title(),
        "AttributeError: 'NoneType' object has no attribute 'warning'"
    );
    assert_eq!(
        site(crash_site(outer)),
        ("chained_context.py", Some(13), "configure")
    );
}

#[test]
fn python_exception_group_with_a_nested_group() {
    let event = parse_fixture(python::parse, "python/exception_group.txt");
    let titles: Vec<String> = event.exceptions.iter().map(Exception::title).collect();
    assert_eq!(
        titles,
        [
            "ValueError: record 1 has no name",
            "TypeError: record 2 has a negative age",
            "ExceptionGroup: age checks failed (1 sub-exception)",
            "ExceptionGroup: validation failed (2 sub-exceptions)",
        ]
    );
    let links: Vec<Option<(usize, LinkKind)>> = event
        .exceptions
        .iter()
        .map(|e| e.link.map(|l| (l.parent, l.kind)))
        .collect();
    assert_eq!(
        links,
        [
            Some((3, LinkKind::GroupMember)),
            Some((2, LinkKind::GroupMember)),
            Some((3, LinkKind::GroupMember)),
            None
        ]
    );
    assert_eq!(
        site(crash_site(&event.exceptions[0])),
        ("exception_group.py", Some(6), "check_name")
    );
    assert_eq!(
        site(crash_site(&event.exceptions[1])),
        ("exception_group.py", Some(11), "check_age")
    );
    // The inner group was never raised, so it has no traceback of its own.
    assert!(event.exceptions[2].frames.is_empty());
    assert_eq!(
        site(crash_site(&event.exceptions[3])),
        ("exception_group.py", Some(30), "validate")
    );
}

#[test]
fn python_recursion_collapses_repeated_frames() {
    let event = parse_fixture(python::parse, "python/recursion.txt");
    let exception = outermost(&event);
    assert_eq!(
        exception.title(),
        "RecursionError: maximum recursion depth exceeded"
    );
    assert_eq!(exception.frames.len(), 4);
    assert_eq!(exception.frames_omitted, Some(996));
    assert_eq!(
        site(crash_site(exception)),
        ("recursion.py", Some(5), "depth")
    );
}

#[test]
fn python_syntax_error_points_at_the_line() {
    let event = parse_fixture(python::parse, "python/syntax_error.txt");
    let exception = outermost(&event);
    assert_eq!(exception.title(), "SyntaxError: '(' was never closed");
    assert_eq!(exception.frames.len(), 1);
    let frame = crash_site(exception);
    assert_eq!(site(frame), ("syntax_error.py", Some(5), ""));
    assert_eq!(
        frame.context.as_ref().map(|c| c.line.as_str()),
        Some("print(\"hello\", name")
    );
}

#[test]
fn python_multi_line_message() {
    let event = parse_fixture(python::parse, "python/multiline_message.txt");
    let exception = outermost(&event);
    assert_eq!(exception.ty, "RuntimeError");
    assert_eq!(
        exception.value,
        "migration failed:\n  drop orders\n  drop carts"
    );
    assert_eq!(
        site(crash_site(exception)),
        ("multiline_message.py", Some(8), "apply")
    );
}

// ---------------------------------------------------------------- Rust

#[test]
fn rust_panic_without_backtrace_points_at_the_panic() {
    let event = parse_fixture(rust::parse, "rust/explicit_panic.txt");
    assert_eq!(event.language, Some(Language::Rust));
    assert_eq!(event.thread.as_deref(), Some("main"));
    let exception = outermost(&event);
    assert_eq!(
        exception.title(),
        "panic: insufficient funds: balance 20, amount 40"
    );
    assert_eq!(exception.frames.len(), 1);
    let frame = crash_site(exception);
    assert_eq!(
        frame.filename.as_deref(),
        Some("programs/explicit_panic.rs")
    );
    assert_eq!((frame.line, frame.column), (Some(5), Some(9)));
}

#[test]
fn rust_short_backtrace_drops_the_panic_machinery() {
    let event = parse_fixture(rust::parse, "rust/explicit_panic_backtrace.txt");
    let exception = outermost(&event);
    assert_eq!(exception.value, "insufficient funds: balance 20, amount 40");
    assert_eq!(
        functions(exception),
        [
            "core::ops::function::FnOnce::call_once",
            "explicit_panic::main",
            "explicit_panic::checkout",
            "<core::slice::iter::Iter<T> as core::iter::traits::iterator::Iterator>::fold",
            "explicit_panic::checkout::{{closure}}",
            "explicit_panic::charge",
        ]
    );
    let frame = crash_site(exception);
    assert_eq!(
        site(frame),
        ("explicit_panic.rs", Some(5), "explicit_panic::charge")
    );
    assert_eq!(
        frame.filename.as_deref(),
        Some("programs/explicit_panic.rs")
    );
    assert_eq!(frame.module.as_deref(), Some("explicit_panic"));
}

#[test]
fn rust_full_backtrace_gives_the_same_frames_as_the_short_one() {
    let full = parse_fixture(rust::parse, "rust/explicit_panic_backtrace_full.txt");
    let short = parse_fixture(rust::parse, "rust/explicit_panic_backtrace.txt");
    assert_eq!(functions(outermost(&full)), functions(outermost(&short)));
    let frame = crash_site(outermost(&full));
    assert_eq!(
        frame.abs_path.as_deref(),
        Some("/tmp/crashloom-fixtures/rust/programs/explicit_panic.rs")
    );
    assert_eq!((frame.line, frame.column), (Some(5), Some(9)));
}

#[test]
fn rust_unwrap_on_none_blames_the_caller_not_option() {
    let event = parse_fixture(rust::parse, "rust/unwrap_none_backtrace.txt");
    let exception = outermost(&event);
    assert_eq!(
        exception.title(),
        "panic: called `Option::unwrap()` on a `None` value"
    );
    assert_eq!(
        functions(exception),
        [
            "core::ops::function::FnOnce::call_once",
            "unwrap_none::main",
            "unwrap_none::port_of"
        ]
    );
    assert_eq!(
        site(crash_site(exception)),
        ("unwrap_none.rs", Some(5), "unwrap_none::port_of")
    );

    let without_backtrace = parse_fixture(rust::parse, "rust/unwrap_none.txt");
    let frame = crash_site(outermost(&without_backtrace));
    assert_eq!(
        (frame.filename.as_deref(), frame.line, frame.column),
        (Some("programs/unwrap_none.rs"), Some(5), Some(27))
    );
}

#[test]
fn rust_index_out_of_bounds() {
    let event = parse_fixture(rust::parse, "rust/index_out_of_bounds.txt");
    let exception = outermost(&event);
    assert_eq!(
        exception.value,
        "index out of bounds: the len is 2 but the index is 2"
    );
    assert_eq!(exception.frames.len(), 3);
    assert_eq!(
        site(crash_site(exception)),
        (
            "index_out_of_bounds.rs",
            Some(4),
            "index_out_of_bounds::third"
        )
    );
}

#[test]
fn rust_assert_eq_message_spans_lines() {
    let event = parse_fixture(rust::parse, "rust/assert_eq.txt");
    let exception = outermost(&event);
    assert_eq!(
        exception.value,
        "assertion `left == right` failed: totals must add up\n  left: 4\n right: 3"
    );
    assert_eq!(
        exception.title(),
        "panic: assertion `left == right` failed: totals must add up"
    );
}

#[test]
fn rust_panic_in_a_named_thread_then_in_main() {
    // The output holds two panics; the parser reads the first, the second starts after it.
    let text = fixture("rust/named_thread.txt");
    let lines: Vec<&str> = text.lines().skip(1).collect();
    let (worker, used) = rust::parse(&lines).expect("the worker's panic");
    assert_eq!(used, 3);
    assert_eq!(worker.thread.as_deref(), Some("job-worker"));
    assert_eq!(
        outermost(&worker).value,
        "job id must be a number: ParseIntError { kind: InvalidDigit }"
    );
    assert_eq!(crash_site(outermost(&worker)).line, Some(5));

    let rest: Vec<&str> = lines[used..]
        .iter()
        .copied()
        .skip_while(|l| l.is_empty())
        .collect();
    let (main, used) = rust::parse(&rest).expect("main's panic");
    assert_eq!(used, 2);
    assert_eq!(main.thread.as_deref(), Some("main"));
    assert_eq!(
        outermost(&main).value,
        "called `Result::unwrap()` on an `Err` value: Any { .. }"
    );
    assert_eq!(crash_site(outermost(&main)).line, Some(13));
}

// ---------------------------------------------------------------- Go

#[test]
fn go_nil_map_write() {
    let event = parse_fixture(go::parse, "go/nilmap.txt");
    assert_eq!(event.language, Some(Language::Go));
    assert_eq!(event.thread.as_deref(), Some("goroutine 1"));
    let exception = outermost(&event);
    assert_eq!(exception.title(), "panic: assignment to entry in nil map");
    assert_eq!(functions(exception), ["main", "(*cache).put"]);
    let frame = crash_site(exception);
    assert_eq!(frame.module.as_deref(), Some("main"));
    assert_eq!(
        frame.filename.as_deref(),
        Some("crashloom.test/gofixtures/nilmap/main.go")
    );
    assert_eq!(frame.line, Some(9));
}

#[test]
fn go_nil_pointer_dereference_keeps_the_signal() {
    let event = parse_fixture(go::parse, "go/nilpointer.txt");
    let exception = outermost(&event);
    assert_eq!(
        exception.title(),
        "runtime.Error: invalid memory address or nil pointer dereference"
    );
    assert_eq!(
        site(crash_site(exception)),
        ("main.go", Some(11), "greeting")
    );
    assert_eq!(event.tags, [("signal".to_owned(), "SIGSEGV".to_owned())]);
}

#[test]
fn go_index_out_of_range() {
    let event = parse_fixture(go::parse, "go/indexrange.txt");
    let exception = outermost(&event);
    assert_eq!(exception.ty, "runtime.Error");
    assert_eq!(exception.value, "index out of range [5] with length 3");
    assert_eq!(exception.frames.len(), 2);
    assert_eq!(site(crash_site(exception)), ("main.go", Some(10), "pick"));
}

#[test]
fn go_custom_panic_in_a_method() {
    let event = parse_fixture(go::parse, "go/custompanic.txt");
    let exception = outermost(&event);
    assert_eq!(exception.title(), "panic: reserve apple: out of stock");
    assert_eq!(
        site(crash_site(exception)),
        ("main.go", Some(15), "(*inventory).reserve")
    );
}

#[test]
fn go_goroutine_dump_reads_only_the_crashed_goroutine() {
    let event = parse_fixture(go::parse, "go/goroutinedump.txt");
    assert_eq!(event.thread.as_deref(), Some("goroutine 1"));
    let exception = outermost(&event);
    assert_eq!(
        exception.title(),
        "panic: shutting down: state is inconsistent"
    );
    assert_eq!(functions(exception), ["main"]);
    assert_eq!(site(crash_site(exception)), ("main.go", Some(28), "main"));
}

#[test]
fn go_panic_inside_a_goroutine_starts_at_its_creator() {
    let event = parse_fixture(go::parse, "go/goroutinepanic.txt");
    assert!(
        event
            .thread
            .as_deref()
            .is_some_and(|t| t.starts_with("goroutine "))
    );
    let exception = outermost(&event);
    assert_eq!(exception.title(), "runtime.Error: integer divide by zero");
    assert_eq!(
        functions(exception),
        ["startWorker", "startWorker.func1", "process"]
    );
    assert_eq!(
        site(&exception.frames[0]),
        ("main.go", Some(16), "startWorker")
    );
    assert_eq!(
        site(crash_site(exception)),
        ("main.go", Some(12), "process")
    );
}

#[test]
fn go_panic_while_recovering_is_a_chain() {
    let event = parse_fixture(go::parse, "go/recovered.txt");
    assert_eq!(event.exceptions.len(), 2);
    let first = &event.exceptions[0];
    assert_eq!(first.title(), "panic: assignment to entry in nil map");
    assert_eq!(
        first.link.map(|l| (l.parent, l.kind)),
        Some((1, LinkKind::Context))
    );
    assert_eq!(functions(first), ["main", "run"]);
    assert_eq!(site(crash_site(first)), ("main.go", Some(15), "run"));
    let second = &event.exceptions[1];
    assert_eq!(
        second.title(),
        "panic: cleanup failed after: assignment to entry in nil map"
    );
    assert_eq!(functions(second), ["main", "run", "cleanup"]);
    assert_eq!(site(crash_site(second)), ("main.go", Some(8), "cleanup"));
}
