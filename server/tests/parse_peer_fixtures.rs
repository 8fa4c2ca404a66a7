//! Well-known stack-trace parsers' own fixtures, as data (`tests/fixtures/peers/`, see its
//! README): every frame those parsers expect must be found, field by field, through the same
//! `find_traces` that reads crash files and logs. Where the runtime's format says the peer is wrong,
//! the difference is listed in [`DEVIATIONS`] with the reason; nothing else may differ.
//!
//! The test prints the agreement per peer (frame fields agreeing with the peer's expectation).

#![allow(clippy::print_stdout)] // The agreement per peer is the measurement this test reports.

use crashloom::crash::Frame;
use crashloom::crash::detect::find_traces;
use serde_json::Value;

fn peer_fixture(name: &str) -> Vec<Value> {
    let full = format!("{}/../tests/fixtures/peers/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("reading {full}: {error}"));
    match serde_json::from_str(&text) {
        Ok(Value::Array(cases)) => cases,
        other => panic!("{full}: not a list of cases: {other:?}"),
    }
}

/// A field where Crashloom follows the runtime and the peer does not: (fixture, frame index newest
/// first, field, the value Crashloom gives, why).
type Deviation = (&'static str, usize, &'static str, Option<&'static str>, &'static str);

const DEVIATIONS: &[Deviation] = &[
    // error-stack-parser keeps V8's `new ` keyword in the function name; the function called is
    // `CustomError`, and `new` is how it was called (Sentry's SDK strips it the same way).
    ("CHROME_46", 0, "function", Some("CustomError"), "`new ` is the call's keyword, not the name"),
    // `(native)` is V8's placeholder for a builtin without a file, not a file name.
    ("CHROME_NATIVE", 0, "file", None, "`native` is V8's word for a builtin without a file"),
    // Edge's `eval code` frames have no file: error-stack-parser gives none too, but names the
    // third frame `eval` where Edge printed `eval code`.
    ("EDGE_20_NESTED_EVAL", 2, "function", Some("eval code"), "Edge printed `eval code` as the function"),
    // A `webpack:///` URL names a source path; Crashloom reads it as that path, so that it maps to
    // the workspace file (the query `?` is kept: it is part of what webpack printed).
    (
        "WEBPACK_EVAL",
        0,
        "file",
        Some("../react-hot-loader/~/react-proxy/modules/createClassProxy.js?"),
        "webpack:/// URLs are read as the path they name",
    ),
    // Mono prints `<filename unknown>:0` when it has no symbols: there is no file and no line.
    ("MonoStackTrace", usize::MAX, "file", None, "Mono's `<filename unknown>` means no file"),
    ("MonoStackTrace", usize::MAX, "line", None, "Mono's `:0` after `<filename unknown>` is no line"),
];

/// Frames the runtime printed that the peer leaves out: (fixture, function, why).
const DROPPED: &[(&str, &str, &str)] = &[
    // JavaScriptCore printed `eval@[native code]`: the builtin `eval` was on the stack.
    ("SAFARI_9_NESTED_EVAL", "eval", "the runtime printed the native `eval` frame"),
    ("SAFARI_8_EVAL", "eval", "the runtime printed the native `eval` frame"),
];

struct Tally {
    agreeing: usize,
    total: usize,
    problems: Vec<String>,
}

fn field_value(frame: &Frame, field: &str) -> Option<String> {
    match field {
        "function" => frame.function.clone(),
        "module" => frame.module.clone(),
        "file" => frame.abs_path.clone().or_else(|| frame.filename.clone()),
        "line" => frame.line.map(|n| n.to_string()),
        "column" => frame.column.map(|n| n.to_string()),
        _ => None,
    }
}

fn expected_value(expected: &Value) -> Option<String> {
    match expected {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Compares the frames found in `text` (newest first over the whole chain, or oldest first for a
/// peer that keeps the printed order) with the peer's.
fn check_case(
    tally: &mut Tally,
    fixture: &str,
    text: &str,
    expected_frames: &[Value],
    fields: &[&str],
    newest_first: bool,
) {
    let found = find_traces(text);
    let traces: Vec<_> = found.iter().filter(|t| t.event.exceptions.iter().any(|e| !e.frames.is_empty())).collect();
    if traces.len() != 1 {
        tally.problems.push(format!("{fixture}: {} traces with frames, not one", traces.len()));
    }
    let mut frames: Vec<&Frame> = traces
        .first()
        .map(|t| t.event.exceptions.iter().flat_map(|e| e.frames.iter().rev()).collect())
        .unwrap_or_default();
    if !newest_first {
        frames.reverse();
    }
    // Frames the runtime printed and the peer drops.
    frames
        .retain(|f| !DROPPED.iter().any(|(fx, function, _)| *fx == fixture && f.function.as_deref() == Some(function)));
    for (index, expected) in expected_frames.iter().enumerate() {
        for field in fields {
            let Some(expected_field) = expected.get(*field) else { continue };
            tally.total += 1;
            let want = expected_value(expected_field);
            let got = frames.get(index).and_then(|f| field_value(f, field));
            let deviation = DEVIATIONS.iter().find(|(f, i, name, value, _)| {
                *f == fixture && (*i == index || *i == usize::MAX) && name == field && value.map(str::to_owned) == got
            });
            if got == want {
                tally.agreeing += 1;
            } else if deviation.is_none() {
                tally.problems.push(format!("{fixture} frame {index} {field}: peer {want:?}, Crashloom {got:?}"));
            }
        }
    }
}

fn report(peer: &str, tally: &Tally) {
    let percent = 100.0 * tally.agreeing as f64 / tally.total.max(1) as f64;
    println!("{peer}: {}/{} frame fields agree with the peer ({percent:.0}%)", tally.agreeing, tally.total);
    assert!(tally.total > 0);
    assert!(tally.problems.is_empty(), "{peer}: {} differences:\n{}", tally.problems.len(), tally.problems.join("\n"));
}

#[test]
fn javascript_error_stack_parser() {
    let mut tally = Tally { agreeing: 0, total: 0, problems: Vec::new() };
    for (n, case) in peer_fixture("javascript-error-stack-parser.json").iter().enumerate() {
        let fixture = case["fixture"].as_str().map_or_else(|| unnamed_js_fixture(n), str::to_owned);
        let stack = case["stack"].as_str().unwrap_or_default();
        // The peer's texts are `Error.stack` values; Firefox and Safari's lack the `Error: message`
        // line a logger prints above them. Both forms must be read.
        let message = case["message"].as_str().unwrap_or_default();
        let first = stack.lines().next().unwrap_or_default();
        let has_header = !message.is_empty() && first.contains(message) || case["message"].is_null();
        let texts = if has_header {
            vec![stack.to_owned()]
        } else {
            vec![format!("Error: {message}\n{stack}"), stack.to_owned()]
        };
        let expected = case["expected_frames"].as_array().cloned().unwrap_or_default();
        for text in texts {
            check_case(&mut tally, &fixture, &text, &expected, &["function", "file", "line", "column"], true);
        }
    }
    report("error-stack-parser", &tally);
}

/// Names for the peer's inline cases that have no fixture name, by position in the file.
fn unnamed_js_fixture(index: usize) -> String {
    match index {
        10 => "CHROME_NATIVE".to_owned(),
        20 => "WEBPACK_EVAL".to_owned(),
        _ => format!("case {index}"),
    }
}

#[test]
fn dotnet_stacktraceparser() {
    let mut tally = Tally { agreeing: 0, total: 0, problems: Vec::new() };
    for case in peer_fixture("dotnet-stacktraceparser.json") {
        let fixture = case["fixture"].as_str().unwrap_or_default();
        let text = case["text"].as_str().unwrap_or_default();
        let expected = case["expected_frames"].as_array().cloned().unwrap_or_default();
        check_case(&mut tally, fixture, text, &expected, &["function", "module", "file", "line"], true);
    }
    report("StackTraceParser", &tally);
}

#[test]
fn python_boltons_tbutils() {
    let mut tally = Tally { agreeing: 0, total: 0, problems: Vec::new() };
    for case in peer_fixture("python-boltons-tbutils.json") {
        let fixture = case["fixture"].as_str().unwrap_or_default();
        let text = case["text"].as_str().unwrap_or_default();
        let expected = case["expected_frames"].as_array().cloned().unwrap_or_default();
        // boltons keeps the traceback's order, oldest call first.
        check_case(&mut tally, fixture, text, &expected, &["function", "file", "line"], false);
    }
    report("boltons", &tally);
}
