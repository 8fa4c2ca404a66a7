//! Finding traces in captured logs: output of real programs with prefixes added by the program's
//! logger or by real tools (`ts`, awk in the journald and Kubernetes CRI formats, docker compose
//! style service prefixes). See `tests/fixtures/traces/generate-python-rust-go.sh`.

use crashloom::crash::detect::{FoundTrace, find_traces};
use crashloom::crash::{Exception, Language};

fn fixture(path: &str) -> String {
    let full = format!(
        "{}/../tests/fixtures/traces/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("reading {full}: {error}"))
}

fn outermost(trace: &FoundTrace) -> &Exception {
    trace.event.outermost().expect("an exception")
}

/// `(file name, line, function)` of the raising frame.
fn crash_site(trace: &FoundTrace) -> (String, Option<u32>, String) {
    let frame = outermost(trace).frames.last().expect("a raising frame");
    let file = frame.filename.as_deref().unwrap_or("");
    (
        file.rsplit('/').next().unwrap_or(file).to_owned(),
        frame.line,
        frame.function.clone().unwrap_or_default(),
    )
}

fn site(file: &str, line: u32, function: &str) -> (String, Option<u32>, String) {
    (file.to_owned(), Some(line), function.to_owned())
}

#[test]
fn python_logging_exception_and_the_final_crash() {
    let text = fixture("logs/python_logging.txt");
    let found = find_traces(&text);
    assert_eq!(found.len(), 2);
    // logger.exception: the record's first line has the timestamp, the traceback has none.
    assert_eq!(found[0].lines, 3..13);
    assert_eq!(
        outermost(&found[0]).title(),
        "ValueError: could not convert string to float: 'twelve'"
    );
    assert_eq!(
        crash_site(&found[0]),
        site("worker.py", 15, "amount_in_cents")
    );
    assert_eq!(found[1].lines, 15..25);
    assert_eq!(outermost(&found[1]).title(), "KeyError: 'amount'");
    assert_eq!(outermost(&found[1]).frames.len(), 3);
}

#[test]
fn go_crash_with_every_line_stamped_by_ts() {
    let text = fixture("logs/go_ts.txt");
    let found = find_traces(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].lines, 4..13);
    assert_eq!(found[0].event.language, Some(Language::Go));
    assert_eq!(
        outermost(&found[0]).title(),
        "panic: assignment to entry in nil map"
    );
    assert_eq!(outermost(&found[0]).frames.len(), 3);
    assert_eq!(
        crash_site(&found[0]),
        site("server.go", 14, "(*session).set")
    );
}

#[test]
fn rust_backtrace_in_a_kubernetes_cri_log() {
    let text = fixture("logs/rust_cri.txt");
    let found = find_traces(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].lines, 6..28);
    let exception = outermost(&found[0]);
    assert_eq!(exception.title(), "panic: no entry found for key");
    assert_eq!(exception.frames.len(), 3);
    assert_eq!(
        crash_site(&found[0]),
        site("ledger.rs", 5, "ledger::balance")
    );
}

#[test]
fn rust_panic_in_a_journald_log() {
    let text = fixture("logs/rust_journald.txt");
    let found = find_traces(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].lines, 6..9);
    assert_eq!(outermost(&found[0]).value, "no entry found for key");
    assert_eq!(found[0].event.thread.as_deref(), Some("main"));
    let frame = outermost(&found[0])
        .frames
        .last()
        .expect("the panic location");
    assert_eq!(
        (frame.filename.as_deref(), frame.line, frame.column),
        (Some("programs/ledger.rs"), Some(5), Some(11))
    );
}

#[test]
fn two_services_in_a_compose_log() {
    let text = fixture("logs/compose.txt");
    let found = find_traces(&text);
    let titles: Vec<String> = found.iter().map(|t| outermost(t).title()).collect();
    assert_eq!(
        titles,
        [
            "panic: assignment to entry in nil map",
            "ValueError: could not convert string to float: 'twelve'",
            "KeyError: 'amount'",
        ]
    );
    let lines: Vec<&str> = text.lines().collect();
    for trace in &found {
        let service = lines[trace.lines.start].split(' ').next().unwrap_or("");
        assert!(
            lines[trace.lines.clone()]
                .iter()
                .all(|l| l.starts_with(service)),
            "a trace mixes services"
        );
    }
}

#[test]
fn every_bare_fixture_is_one_trace() {
    let bare = [
        ("python/simple.txt", 1),
        ("python/carets.txt", 1),
        ("python/chained_cause.txt", 1),
        ("python/chained_context.txt", 1),
        ("python/exception_group.txt", 1),
        ("python/recursion.txt", 1),
        ("python/syntax_error.txt", 1),
        ("python/multiline_message.txt", 1),
        ("rust/explicit_panic.txt", 1),
        ("rust/explicit_panic_backtrace.txt", 1),
        ("rust/explicit_panic_backtrace_full.txt", 1),
        ("rust/unwrap_none.txt", 1),
        ("rust/unwrap_none_backtrace.txt", 1),
        ("rust/index_out_of_bounds.txt", 1),
        ("rust/assert_eq.txt", 1),
        ("rust/named_thread.txt", 2),
        ("go/nilmap.txt", 1),
        ("go/nilpointer.txt", 1),
        ("go/indexrange.txt", 1),
        ("go/custompanic.txt", 1),
        ("go/goroutinedump.txt", 1),
        ("go/goroutinepanic.txt", 1),
        ("go/recovered.txt", 1),
    ];
    for (path, expected) in bare {
        let text = fixture(path);
        let found = find_traces(&text);
        assert_eq!(found.len(), expected, "{path}");
        let last_line = text.lines().count();
        assert_eq!(
            found.last().map(|t| t.lines.end),
            Some(last_line),
            "{path}: the trace should run to the end"
        );
    }
}

#[test]
fn traces_of_several_formats_in_one_log() {
    let mut text = String::from("starting up\n");
    for path in [
        "python/chained_cause.txt",
        "go/recovered.txt",
        "rust/explicit_panic_backtrace.txt",
        "python/syntax_error.txt",
    ] {
        text.push_str(&fixture(path));
        text.push_str("2024-01-01 12:00:00 INFO restarted\n");
    }
    let found = find_traces(&text);
    let languages: Vec<Option<Language>> = found.iter().map(|t| t.event.language).collect();
    assert_eq!(
        languages,
        [
            Some(Language::Python),
            Some(Language::Go),
            Some(Language::Rust),
            Some(Language::Python)
        ]
    );
    let lines: Vec<&str> = text.lines().collect();
    for trace in &found {
        assert!(!lines[trace.lines.end - 1].contains("INFO restarted"));
    }
}

#[test]
fn junk_around_and_inside_traces() {
    let mut junk = String::new();
    for i in 0..2000u32 {
        let c = char::from_u32(i * 37 % 0x2FF).unwrap_or('?');
        junk.push(c);
        if i.is_multiple_of(50) {
            junk.push_str("\n  File \"x\", line\n@:1\tat panic: \r\n");
        }
    }
    let text = format!("{junk}\n{}{junk}", fixture("python/simple.txt"));
    let found = find_traces(&text);
    assert!(
        found
            .iter()
            .any(|t| outermost(t).title() == "KeyError: 'plum'")
    );
    let very_long_line = "Traceback (most recent call last):".repeat(100_000);
    let _ = find_traces(&very_long_line);
}

#[test]
fn a_100_000_frame_trace_in_a_prefixed_log() {
    let mut text = String::from(
        "2024-01-01T00:00:00.000Z stderr F panic: deep\n2024-01-01T00:00:00.000Z stderr F \n",
    );
    text.push_str("2024-01-01T00:00:00.000Z stderr F goroutine 1 [running]:\n");
    for i in 0..100_000 {
        text.push_str(&format!("2024-01-01T00:00:00.{i:03}Z stderr F main.f(...)\n2024-01-01T00:00:00.000Z stderr F \t/app/main.go:{i}\n"));
    }
    let found = find_traces(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].lines, 0..200_003);
    assert_eq!(outermost(&found[0]).frames.len(), 100_000);
}

/// Not timed (debug builds are slow); prints the throughput with `--nocapture`.
#[test]
#[allow(clippy::print_stderr)]
fn throughput_on_a_large_log() {
    let traces = [
        fixture("python/chained_cause.txt"),
        fixture("go/nilpointer.txt"),
        fixture("rust/index_out_of_bounds.txt"),
    ];
    let mut text = String::with_capacity(24 << 20);
    let mut expected = 0;
    let mut i = 0u64;
    while text.len() < 20 << 20 {
        i += 1;
        text.push_str(&format!(
            "2024-01-01 12:00:{:02},{:03} INFO [http] 10.0.0.{} - GET /api/orders/{i}?user=user{}@example.com 200 in {}ms\n",
            i % 60,
            i % 1000,
            i % 255,
            i % 97,
            i % 500
        ));
        if i.is_multiple_of(2000) {
            let trace = &traces[(i / 2000 % 3) as usize];
            for line in trace.lines() {
                text.push_str("2024-01-01 12:00:00,000 ERROR [app] ");
                text.push_str(line);
                text.push('\n');
            }
            expected += 1;
        }
    }
    let started = std::time::Instant::now();
    let found = find_traces(&text);
    let elapsed = started.elapsed();
    assert_eq!(found.len(), expected);
    let megabytes = text.len() as f64 / 1e6;
    eprintln!(
        "find_traces: {megabytes:.1} MB in {elapsed:?} = {:.0} MB/s ({} traces)",
        megabytes / elapsed.as_secs_f64(),
        found.len()
    );
}
