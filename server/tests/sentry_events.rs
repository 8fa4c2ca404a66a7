//! Sentry events and envelopes as real SDKs send them (sentry-sdk for Python, @sentry/node), read the
//! way a user will see them: exception, message, crash site, frames, source context and locals.
//!
//! The fixtures under `tests/fixtures/sentry` are captured by `generate.sh` from small crashing
//! programs; `web_api/` holds the same events converted to the Sentry Web API shape.

use std::io::Write;
use std::path::{Path, PathBuf};

use crashloom::crash::envelope::{DecodeError, EnvelopeError, decode_body, parse_envelope};
use crashloom::crash::file::parse_crash_file;
use crashloom::crash::group::looks_in_app;
use crashloom::crash::sentry::{SentryEventError, parse_event};
use crashloom::crash::{CrashEvent, Exception, ExceptionLink, Frame, Language, LinkKind};
use serde_json::Value;

const FIXTURES: &[&str] = &[
    "python_key_error",
    "python_attribute_error",
    "python_chained",
    "python_context",
    "python_exception_group",
    "node_type_error",
    "node_type_error_big",
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sentry")
}

fn read_fixture(relative: &str) -> Vec<u8> {
    let path = fixture_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn json_fixture(relative: &str) -> Value {
    serde_json::from_slice(&read_fixture(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn raw_event(name: &str) -> CrashEvent {
    parse_event(&json_fixture(&format!("raw/{name}.json"))).unwrap_or_else(|e| panic!("raw/{name}: {e}"))
}

fn web_api_event(name: &str) -> CrashEvent {
    parse_event(&json_fixture(&format!("web_api/{name}.json"))).unwrap_or_else(|e| panic!("web_api/{name}: {e}"))
}

fn crash_site(event: &CrashEvent) -> &Frame {
    event.outermost().and_then(|e| e.frames.last()).expect("the outermost exception has frames")
}

fn site(frame: &Frame) -> (Option<&str>, Option<u32>, Option<&str>) {
    (frame.filename.as_deref(), frame.line, frame.function.as_deref())
}

fn var<'a>(frame: &'a Frame, name: &str) -> Option<&'a str> {
    frame.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn python_key_error_shows_the_missing_key_where_it_was_looked_up() {
    for event in [raw_event("python_key_error"), web_api_event("python_key_error")] {
        assert_eq!(event.title(), "KeyError: 'banana'");
        assert_eq!(event.language, Some(Language::Python));
        assert_eq!(event.release.as_deref(), Some("shop@1.4.2"));
        assert_eq!(event.environment.as_deref(), Some("production"));
        assert!(event.tags.contains(&("customer_tier".to_owned(), "gold".to_owned())));
        assert!(event.timestamp.is_some());
        let id = event.event_id.as_deref().expect("event id");
        assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");

        let exception = event.outermost().expect("exception");
        assert_eq!(exception.handled, Some(false));
        let functions: Vec<_> = exception.frames.iter().map(|f| f.function.as_deref().unwrap_or("")).collect();
        assert_eq!(functions, ["<module>", "order_total", "line_total"]);
        assert!(exception.frames.iter().all(|f| f.in_app == Some(true)));

        let frame = crash_site(&event);
        assert_eq!(site(frame), (Some("shop/orders.py"), Some(5), Some("line_total")));
        assert!(frame.abs_path.as_deref().is_some_and(|p| p.ends_with("/python/shop/orders.py")));
        assert_eq!(frame.module.as_deref(), Some("shop.orders"));
        let context = frame.context.as_ref().expect("source context");
        assert_eq!(context.line, "    unit_price = PRICES[line[\"sku\"]]");
        assert_eq!(context.pre.last().map(String::as_str), Some("def line_total(line):"));
        assert_eq!(context.post.first().map(String::as_str), Some("    return unit_price * line[\"quantity\"]"));
        assert_eq!(var(frame, "line"), Some(r#"{"quantity":"1","sku":"'banana'"}"#));
        let caller = &exception.frames[1];
        assert_eq!(var(caller, "total"), Some("6"));
    }
}

#[test]
fn python_attribute_error_on_none_passes_through_library_frames() {
    let event = raw_event("python_attribute_error");
    assert_eq!(event.title(), "AttributeError: 'NoneType' object has no attribute 'lower'");
    let exception = event.outermost().expect("exception");
    assert_eq!(exception.frames.len(), 6);
    let frame = crash_site(&event);
    assert_eq!(site(frame), (Some("shop/customers.py"), Some(6), Some("build_customer")));
    assert_eq!(frame.context.as_ref().map(|c| c.line.trim()), Some("fields[\"email\"] = fields[\"email\"].lower()"));
    assert!(var(frame, "fields").is_some_and(|v| v.contains("'Ada'")));
    // The json module's frames sit between the app's frames and are not application code.
    let library: Vec<_> = exception.frames.iter().filter(|f| !looks_in_app(f)).collect();
    assert!(!library.is_empty());
    assert!(library.iter().all(|f| f.abs_path.as_deref().is_some_and(|p| p.contains("/json/"))));
    assert!(library.iter().all(|f| f.in_app.is_none()), "sentry-python leaves in_app out for the stdlib");
}

#[test]
fn python_raise_from_links_the_cause_to_the_raised_error() {
    let event = raw_event("python_chained");
    assert_eq!(event.title(), "PaymentError: unknown account acct-404");
    let types: Vec<_> = event.exceptions.iter().map(|e| e.ty.as_str()).collect();
    assert_eq!(types, ["KeyError", "PaymentError"]);
    assert_eq!(event.exceptions[0].link, Some(ExceptionLink { parent: 1, kind: LinkKind::Cause }));
    assert_eq!(event.exceptions[1].link, None);
    let root_causes: Vec<_> = event.root_causes().map(|(_, e)| e.title()).collect();
    assert_eq!(root_causes, ["KeyError: 'acct-404'"]);
    let cause_site = event.exceptions[0].frames.last().expect("frames");
    assert_eq!(site(cause_site), (Some("shop/payments.py"), Some(9), Some("balance")));
    assert_eq!(site(crash_site(&event)), (Some("shop/payments.py"), Some(16), Some("charge")));
    assert_eq!(var(crash_site(&event), "amount"), Some("25"));
}

#[test]
fn python_error_while_handling_another_keeps_both() {
    // sentry-python sends no exception ids for a plain chain, so whether the KeyError was the
    // `__cause__` or the `__context__` is not in the event: it is linked as the cause.
    let event = raw_event("python_context");
    assert_eq!(event.title(), "TypeError: str.upper() takes no arguments (1 given)");
    assert_eq!(event.exceptions[0].ty, "KeyError");
    assert_eq!(event.exceptions[0].link, Some(ExceptionLink { parent: 1, kind: LinkKind::Cause }));
    assert_eq!(site(crash_site(&event)), (Some("shop/payments.py"), Some(25), Some("refund")));
    assert_eq!(var(crash_site(&event), "log_line"), Some("'refund failed for acct-404'"));
}

#[test]
fn python_exception_group_members_hang_off_the_group() {
    let event = raw_event("python_exception_group");
    assert_eq!(event.title(), "ExceptionGroup: settlement failed");
    let types: Vec<_> = event.exceptions.iter().map(|e| e.ty.as_str()).collect();
    assert_eq!(types, ["KeyError", "PaymentError", "KeyError", "PaymentError", "ExceptionGroup"]);
    let links: Vec<_> = event.exceptions.iter().map(|e| e.link.map(|l| (l.parent, l.kind))).collect();
    // As sentry-python sends it: every member's parent_id is the group's id (0), the members' own
    // causes included, with `source` telling a member (`exceptions[i]`) from a cause.
    assert_eq!(
        links,
        [
            Some((4, LinkKind::Cause)),
            Some((4, LinkKind::GroupMember)),
            Some((4, LinkKind::Cause)),
            Some((4, LinkKind::GroupMember)),
            None
        ]
    );
    assert_eq!(site(crash_site(&event)), (Some("shop/payments.py"), Some(36), Some("settle_all")));
}

#[test]
fn node_type_error_points_at_the_column() {
    for event in [raw_event("node_type_error"), web_api_event("node_type_error")] {
        assert_eq!(event.title(), "TypeError: Cannot read properties of undefined (reading 'amount')");
        assert_eq!(event.language, Some(Language::JavaScript));
        assert_eq!(event.release.as_deref(), Some("cart@2.0.1"));
        assert_eq!(event.environment.as_deref(), Some("staging"));
        let exception = event.outermost().expect("exception");
        assert_eq!(exception.frames.len(), 5);
        let in_app: Vec<_> = exception.frames.iter().map(|f| f.in_app).collect();
        assert_eq!(in_app, [Some(false), Some(false), Some(true), Some(true), Some(true)]);
        let frame = crash_site(&event);
        assert!(frame.filename.as_deref().is_some_and(|p| p.ends_with("/node/cart.js")));
        assert_eq!((frame.line, frame.column, frame.function.as_deref()), (Some(3), Some(30), Some("applyCoupon")));
        assert_eq!(frame.context.as_ref().map(|c| c.line.as_str()), Some("  return cart.total - coupon.amount;"));
    }
}

#[test]
fn raw_and_web_api_shapes_of_each_event_read_the_same() {
    for name in FIXTURES {
        let raw = raw_event(name);
        let web = web_api_event(name);
        // Sentry stores a missing `in_app` as false, so the Web API always says `inApp: false`
        // where sentry-python left it out.
        assert_eq!(in_app_as_stored(raw.exceptions.clone()), web.exceptions, "{name}: exceptions differ");
        assert_eq!(raw.event_id, web.event_id, "{name}");
        assert_eq!(raw.language, web.language, "{name}");
        assert_eq!(raw.timestamp, web.timestamp, "{name}");
        assert_eq!(raw.release, web.release, "{name}");
        assert_eq!(raw.environment, web.environment, "{name}");
        for tag in &raw.tags {
            assert!(web.tags.contains(tag), "{name}: tag {tag:?} missing from the Web API event");
        }
    }
}

fn in_app_as_stored(mut exceptions: Vec<Exception>) -> Vec<Exception> {
    for frame in exceptions.iter_mut().flat_map(|e| e.frames.iter_mut()) {
        frame.in_app = Some(frame.in_app.unwrap_or(false));
    }
    exceptions
}

/// The envelope files are named `<fixture>[.<content-encoding>].bin`.
fn envelope_files() -> Vec<(String, Option<String>, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(fixture_dir().join("envelopes"))
        .expect("envelopes folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let stem = path.file_stem().and_then(|s| s.to_str()).expect("name").to_owned();
            let (name, encoding) = match stem.split_once('.') {
                Some((name, encoding)) => (name.to_owned(), Some(encoding.to_owned())),
                None => (stem, None),
            };
            let body = std::fs::read(&path).expect("read");
            (name, encoding, body)
        })
        .collect()
}

#[test]
fn envelopes_from_each_sdk_decode_and_yield_their_event() {
    let files = envelope_files();
    assert_eq!(files.len(), FIXTURES.len());
    let encodings: Vec<_> = files.iter().filter_map(|(_, e, _)| e.as_deref()).collect();
    assert!(encodings.contains(&"br") && encodings.contains(&"gzip"), "{encodings:?}");
    for (name, encoding, body) in &files {
        let plain = decode_body(body, encoding.as_deref(), 1024 * 1024).unwrap_or_else(|e| panic!("{name}: {e}"));
        let envelope = parse_envelope(&plain).unwrap_or_else(|e| panic!("{name}: {e}"));
        let item = envelope.event_item().unwrap_or_else(|| panic!("{name}: no event item"));
        let event = parse_event(&item.payload_json().expect("event JSON")).expect("a crash");
        assert_eq!(event, raw_event(name), "{name}");
        assert_eq!(envelope.event_id(), event.event_id.as_deref(), "{name}");

        // What each SDK does with item lengths and the final newline, as the reference describes.
        if name.starts_with("python") {
            assert!(item.headers.get("length").is_some(), "{name}: sentry-python always sends length");
            assert!(plain.ends_with(b"\n"), "{name}");
        } else {
            assert!(item.headers.get("length").is_none(), "{name}: sentry-javascript sends no length");
            assert!(!plain.ends_with(b"\n"), "{name}");
        }
    }
}

#[test]
fn crash_files_holding_real_events_in_every_shape() {
    let raw = parse_crash_file(&read_fixture("raw/python_key_error.json"), "key_error.json");
    assert_eq!(raw.events.len(), 1, "{:?}", raw.problems);
    assert_eq!(raw.events[0].title(), "KeyError: 'banana'");
    assert_eq!(raw.events[0].origin.as_ref().map(|o| (o.location.as_str(), o.line)), Some(("key_error.json", None)));

    // A list of Web API events, as saved from `/issues/{id}/events/?full=true`.
    let list = Value::Array(FIXTURES.iter().map(|n| json_fixture(&format!("web_api/{n}.json"))).collect());
    let parsed = parse_crash_file(list.to_string().as_bytes(), "events.json");
    assert_eq!(parsed.events.len(), FIXTURES.len(), "{:?}", parsed.problems);

    // JSON lines: one raw event per line.
    let lines: Vec<String> = FIXTURES.iter().map(|n| json_fixture(&format!("raw/{n}.json")).to_string()).collect();
    let parsed = parse_crash_file(lines.join("\n").as_bytes(), "events.jsonl");
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let origin_lines: Vec<_> = parsed.events.iter().map(|e| e.origin.as_ref().and_then(|o| o.line)).collect();
    assert_eq!(origin_lines, (1..=FIXTURES.len() as u32).map(Some).collect::<Vec<_>>());

    // Saved envelopes, as sent and gzipped.
    for relative in ["envelopes/node_type_error.bin", "envelopes/python_attribute_error.gzip.bin"] {
        let parsed = parse_crash_file(&read_fixture(relative), relative);
        assert_eq!(parsed.events.len(), 1, "{relative}: {:?}", parsed.problems);
        assert!(parsed.problems.is_empty(), "{relative}: {:?}", parsed.problems);
    }
}

#[test]
fn a_decompression_bomb_stops_at_the_cap() {
    // 1 GiB of zeros as 1024 gzip members of 1 MiB each (gzip allows concatenated members): about
    // 1 MB to hold, built without ever holding the gigabyte.
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    member.write_all(&zeros).expect("compress");
    let member = member.finish().expect("finish");
    let bomb: Vec<u8> = member.iter().copied().cycle().take(member.len() * 1024).collect();
    assert!(bomb.len() < 4 * 1024 * 1024);

    let cap = 8 * 1024 * 1024;
    let started = std::time::Instant::now();
    assert_eq!(decode_body(&bomb, Some("gzip"), cap), Err(DecodeError::TooLarge { limit: cap }));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "decoding went past the cap");

    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..4 {
        zlib.write_all(&zeros).expect("compress");
    }
    let zlib = zlib.finish().expect("finish");
    assert_eq!(decode_body(&zlib, Some("deflate"), 1000), Err(DecodeError::TooLarge { limit: 1000 }));

    let mut brotli_bomb = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut brotli_bomb, 4096, 1, 22);
        for _ in 0..4 {
            writer.write_all(&zeros).expect("compress");
        }
    }
    assert_eq!(decode_body(&brotli_bomb, Some("br"), 1000), Err(DecodeError::TooLarge { limit: 1000 }));
}

#[test]
fn garbage_and_truncated_envelopes_give_clear_errors() {
    let body = read_fixture("envelopes/python_chained.bin");
    let cut = &body[..body.len() / 2];
    let error = parse_envelope(cut).expect_err("truncated");
    assert!(matches!(error, EnvelopeError::Truncated { item: 1, .. }), "{error}");
    assert!(error.to_string().contains("the envelope is truncated"), "{error}");

    let error = parse_envelope(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").expect_err("garbage");
    assert!(error.to_string().starts_with("the envelope header line is not JSON"), "{error}");

    let gzipped = read_fixture("envelopes/python_context.gzip.bin");
    let error = decode_body(&gzipped[..gzipped.len() / 2], Some("gzip"), 1024 * 1024).expect_err("cut gzip");
    assert!(error.to_string().starts_with("the body is not valid gzip"), "{error}");

    let error = decode_body(&read_fixture("envelopes/python_key_error.br.bin"), Some("gzip"), 1024 * 1024)
        .expect_err("brotli sent as gzip");
    assert!(matches!(error, DecodeError::Corrupt { encoding: "gzip", .. }), "{error}");
}

#[test]
fn events_that_are_not_crashes_say_why() {
    let message = serde_json::json!({"event_id": "0123456789abcdef0123456789abcdef", "message": "cache warmed",
        "level": "info", "platform": "python"});
    let error = parse_event(&message).expect_err("not a crash");
    assert!(matches!(error, SentryEventError::NotAnEvent(_)));
    assert_eq!(
        error.to_string(),
        "not a Sentry event: a message-only event without an exception or stack trace is not a crash"
    );
}

/// Every node of a real event replaced, one at a time, by each kind of wrong value.
#[test]
fn no_json_shape_makes_the_event_reader_panic() {
    let replacements = [
        Value::Null,
        Value::from(-1),
        Value::from(u64::MAX),
        Value::from(1e308),
        Value::from(""),
        Value::from("x"),
        Value::Array(vec![Value::Null, Value::from(0)]),
        serde_json::json!({"values": null, "frames": 1}),
    ];
    for name in ["python_chained", "node_type_error"] {
        for original in [json_fixture(&format!("raw/{name}.json")), json_fixture(&format!("web_api/{name}.json"))] {
            let paths = node_paths(&original);
            for path in &paths {
                for replacement in &replacements {
                    let mut mutated = original.clone();
                    if let Some(node) = node_at(&mut mutated, path) {
                        *node = replacement.clone();
                    }
                    let _ = parse_event(&mutated);
                }
            }
        }
    }
}

/// Truncated and bit-flipped bodies and files are refused or read in part, never a panic.
#[test]
fn no_bytes_make_the_envelope_or_file_readers_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (name, encoding, body) in envelope_files() {
        let plain = decode_body(&body, encoding.as_deref(), 1024 * 1024).expect("fixture decodes");
        for _ in 0..200 {
            let mut mutated = plain.clone();
            let cut = (next() as usize) % (mutated.len() + 1);
            mutated.truncate(cut.max(mutated.len() / 2));
            for _ in 0..(next() % 4) {
                let at = (next() as usize) % mutated.len().max(1);
                if let Some(byte) = mutated.get_mut(at) {
                    *byte = next() as u8;
                }
            }
            let _ = parse_envelope(&mutated);
            let _ = parse_crash_file(&mutated, &name);
            let _ = decode_body(&mutated, Some("gzip"), 4096);
            let _ = decode_body(&mutated, Some("br"), 4096);
            let _ = decode_body(&mutated, None, 4096);
        }
    }
}

fn node_paths(root: &Value) -> Vec<Vec<PathStep>> {
    let mut paths = Vec::new();
    let mut pending = vec![(root, Vec::new())];
    while let Some((node, path)) = pending.pop() {
        match node {
            Value::Object(object) => {
                for (key, child) in object {
                    let mut child_path = path.clone();
                    child_path.push(PathStep::Key(key.clone()));
                    pending.push((child, child_path));
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    let mut child_path = path.clone();
                    child_path.push(PathStep::Index(index));
                    pending.push((child, child_path));
                }
            }
            _ => {}
        }
        paths.push(path);
    }
    paths
}

#[derive(Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn node_at<'a>(root: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    path.iter().try_fold(root, |node, step| match step {
        PathStep::Key(key) => node.get_mut(key.as_str()),
        PathStep::Index(index) => node.get_mut(*index),
    })
}
