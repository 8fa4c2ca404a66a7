//! Classes of input the parsers used to lose, on output captured from real programs
//! (`tests/fixtures/classes/README.md`, `tests/fixtures/goroutine-dumps/README.md`), read the way a
//! crash file is: Go dumps without a panic, V8 eval frames and frames without their error line,
//! traces inside JSON log records, truncated traces, UTF-16 files.

use crashloom::crash::detect::find_traces;
use crashloom::crash::file::parse_crash_file;
use crashloom::crash::scan::TRUNCATED_TRACE;
use crashloom::crash::{CrashEvent, Frame};

fn bytes(path: &str) -> Vec<u8> {
    let full = format!("{}/../tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|error| panic!("reading {full}: {error}"))
}

fn events(path: &str) -> Vec<CrashEvent> {
    let parsed = parse_crash_file(&bytes(path), path);
    assert_eq!(parsed.problems, Vec::<String>::new(), "{path}");
    parsed.events
}

/// `(file name, line, column, function)`.
fn site(frame: &Frame) -> (String, Option<u32>, Option<u32>, String) {
    let file = frame.filename.as_deref().unwrap_or("");
    (
        file.rsplit('/').next().unwrap_or(file).to_owned(),
        frame.line,
        frame.column,
        frame.function.clone().unwrap_or_default(),
    )
}

fn at(file: &str, line: u32, column: Option<u32>, function: &str) -> (String, Option<u32>, Option<u32>, String) {
    (file.to_owned(), Some(line), column, function.to_owned())
}

fn raising(event: &CrashEvent) -> &Frame {
    event.outermost().and_then(|e| e.frames.last()).expect("a raising frame")
}

#[test]
fn go_sigquit_dump_reads_every_goroutine() {
    let events = events("goroutine-dumps/sigquit.txt");
    let [event] = events.as_slice() else { panic!("one dump: {events:?}") };
    assert_eq!(event.title(), "SIGQUIT: quit");
    assert_eq!(event.origin.as_ref().and_then(|o| o.line), Some(2));
    // The crash site is the main goroutine waiting in main.go:30 (goroutine 0 is the runtime's
    // signal handler).
    assert_eq!(event.thread.as_deref(), Some("goroutine 1"));
    let frames = &event.outermost().expect("exception").frames;
    assert!(frames.iter().any(|f| site(f) == at("main.go", 30, None, "main")), "{frames:?}");
    // Every other goroutine is context, with its wait reason and `created by` frame.
    let threads: Vec<(&str, Option<&str>)> =
        event.threads.iter().map(|t| (t.name.as_str(), t.state.as_deref())).collect();
    assert_eq!(
        threads,
        [
            ("goroutine 0", Some("idle")),
            ("goroutine 2", Some("force gc (idle)")),
            ("goroutine 3", Some("GC sweep wait")),
            ("goroutine 4", Some("GC scavenge wait")),
            ("goroutine 5", Some("finalizer wait")),
            ("goroutine 6", Some("sleep")),
            ("goroutine 7", Some("chan receive")),
            ("goroutine 8", Some("semacquire")),
        ]
    );
    let locked = event.threads.iter().find(|t| t.name == "goroutine 8").expect("goroutine 8");
    assert_eq!(locked.frames.first().map(site), Some(at("main.go", 25, None, "main")), "created by main.main");
    assert_eq!(locked.frames.last().map(|f| f.function.clone().unwrap_or_default()).as_deref(), Some("gopark"));
}

#[test]
fn bare_goroutine_dump_crash_site_is_the_running_goroutine() {
    let events = events("goroutine-dumps/runtime-stack-all.txt");
    let [event] = events.as_slice() else { panic!("one dump: {events:?}") };
    assert_eq!(event.title(), "goroutine dump: 2 goroutines");
    assert_eq!(event.thread.as_deref(), Some("goroutine 1"));
    assert_eq!(site(raising(event)), at("main.go", 16, None, "report"));
    let [other] = event.threads.as_slice() else { panic!("one other goroutine") };
    assert_eq!((other.name.as_str(), other.state.as_deref()), ("goroutine 18", Some("chan receive")));
    assert_eq!(
        other.frames.iter().map(site).collect::<Vec<_>>(),
        [at("main.go", 22, None, "main"), at("main.go", 11, None, "poll")]
    );
}

#[test]
fn go_dump_headers_without_goroutines_are_not_crashes() {
    for text in [
        "SIGQUIT: quit\nPC=0x45f1e0 m=0 sigcode=0\n",
        "the goroutine 1 [running]: line is quoted in prose\n",
        "goroutine 7 [running]:\n",
        "SIGQUIT: quit\nINFO shutting down\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\n",
    ] {
        let found = find_traces(text);
        assert!(found.iter().all(|t| t.event.title() != "SIGQUIT: quit"), "{text:?}: {found:?}");
        if !text.contains("main.main") {
            assert!(found.is_empty(), "{text:?}: {found:?}");
        }
    }
}

#[test]
fn v8_eval_frames_point_at_the_eval_call_and_headless_frames_are_read() {
    let events = events("classes/node-eval-and-headless.txt");
    let titles: Vec<String> = events.iter().map(CrashEvent::title).collect();
    assert_eq!(
        titles,
        [
            "TypeError: Cannot read properties of undefined (reading 'map')",
            "TypeError: Cannot read properties of null (reading 'amount')",
            "Error",
        ]
    );
    // `at Layout (eval at proxyClass (/srv/classes/eval_frames.js:3:10), <anonymous>:2:25)`
    assert_eq!(site(raising(&events[0])), at("eval_frames.js", 3, Some(10), "Layout"));
    assert_eq!(raising(&events[0]).abs_path.as_deref(), Some("/srv/classes/eval_frames.js"));
    // `at eval (eval at <anonymous> (/srv/classes/eval_frames.js:12:16), <anonymous>:5:20)`
    assert_eq!(site(raising(&events[1])), at("eval_frames.js", 12, Some(16), "eval"));
    // Frames logged without their `SyntaxError:` line, under "request failed, stack follows".
    let headless = events[2].outermost().expect("exception");
    assert_eq!(headless.frames.len(), 8);
    assert_eq!(site(&headless.frames[6]), at("eval_frames.js", 20, Some(8), "Object.<anonymous>"));
    assert_eq!(events[2].origin.as_ref().and_then(|o| o.line), Some(20));
}

#[test]
fn traces_in_json_log_records() {
    let python = events("classes/python-json-log.txt");
    let [event] = python.as_slice() else { panic!("one crash: {python:?}") };
    assert_eq!(event.title(), "KeyError: 'qty'");
    assert_eq!(event.origin.as_ref().and_then(|o| o.line), Some(2));
    let frames: Vec<_> = event.outermost().expect("exception").frames.iter().map(site).collect();
    assert_eq!(
        frames,
        [
            at("json_log.py", 25, None, "<module>"),
            at("json_log.py", 21, None, "total"),
            at("json_log.py", 21, None, "<genexpr>")
        ]
    );
    let node = events("classes/node-json-log.txt");
    let [event] = node.as_slice() else { panic!("one crash: {node:?}") };
    assert_eq!(event.title(), "TypeError: Cannot read properties of undefined (reading 'number')");
    assert_eq!(site(raising(event)), at("json_stack.js", 2, Some(21), "charge"));
    // Escaped newlines alone are no trace.
    for text in [
        r#"{"msg": "line one\nline two\nline three"}"#,
        r#"note: Traceback (most recent call last):\n is what Python prints\n"#,
    ] {
        assert!(find_traces(text).is_empty(), "{text}");
    }
}

#[test]
fn truncated_traces_are_said_to_be_truncated() {
    let events = events("classes/python-truncated.txt");
    let [event] = events.as_slice() else { panic!("one trace: {events:?}") };
    let exception = event.outermost().expect("exception");
    assert_eq!(exception.ty, TRUNCATED_TRACE);
    assert!(!exception.value.is_empty());
    assert_eq!(site(raising(event)), at("deep.py", 4, None, "visit"));
    // The whole trace is not truncated.
    let whole = self::events("classes/python-deep.txt");
    assert_eq!(whole[0].title(), "RecursionError: tree too deep at node 1073741824");
}

#[test]
fn utf16_crash_files_are_decoded() {
    let plain = events("classes/python-deep.txt");
    let little_endian = events("classes/python-deep-utf16le.txt");
    assert_eq!(little_endian.len(), 1);
    assert_eq!(little_endian[0].exceptions, plain[0].exceptions);
    let big_endian = events("classes/mocha-utf16be.txt");
    let names: Vec<_> = big_endian.iter().map(|e| e.test_name.as_deref().unwrap_or("")).collect();
    assert_eq!(names, ["cart total of an unknown item", "cart average of an empty cart", "cart total is wrong"]);
    // Without a byte-order mark, NUL-laden bytes are still binary data.
    let mut no_bom = bytes("classes/python-deep-utf16le.txt");
    no_bom.drain(..2);
    let parsed = parse_crash_file(&no_bom, "x.txt");
    assert!(parsed.events.is_empty());
    assert_eq!(parsed.problems, ["x.txt is binary data, not a crash report, event or log."]);
    // A BOM followed by an unpaired surrogate: what can be read is read, and the file is named.
    let mut broken = bytes("classes/python-deep-utf16le.txt");
    broken.extend([0x00, 0xd8]);
    let parsed = parse_crash_file(&broken, "y.txt");
    assert_eq!(parsed.events.len(), 1);
    assert_eq!(parsed.problems.len(), 1);
    assert!(parsed.problems[0].starts_with("y.txt is UTF-16 text with an invalid character"), "{:?}", parsed.problems);
}
