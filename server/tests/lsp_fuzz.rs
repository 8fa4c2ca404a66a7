//! No sequence of bytes on stdin stops the server: thousands of malformed messages of each kind,
//! generated deterministically, each answered as JSON-RPC 2.0 says (-32700 for what cannot be
//! read, -32600 for what is not a request, with the request's id when it has one), and a valid
//! request after each kind still answered.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::LspClient;
use serde_json::{Value, json};

/// Messages of each malformed kind.
const PER_KIND: usize = 2000;

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body);
    framed
}

/// A valid hover request body, with an id and some text of varying length.
fn hover(id: i64, random: &mut Random) -> String {
    let name: String = (0..1 + random.below(40)).map(|_| (b'a' + random.below(26) as u8) as char).collect();
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "textDocument/hover",
        "params": {"textDocument": {"uri": format!("file:///nowhere/{name}.py")}, "position": {"line": 0, "character": 0}}
    })
    .to_string()
}

/// Sends a valid request and checks it is answered (an unknown document: no hover).
fn assert_still_answers(client: &mut LspClient) {
    let result = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": "file:///nowhere/still-alive.py"}, "position": {"line": 0, "character": 0}}),
    );
    assert_eq!(result, Value::Null);
}

/// The error responses received since the last check, as (code, id) counts.
fn error_counts(client: &mut LspClient) -> BTreeMap<(i64, String), usize> {
    let mut counts = BTreeMap::new();
    for error in client.take_unread_errors() {
        *counts.entry((error["error"]["code"].as_i64().unwrap(), error["id"].to_string())).or_default() += 1;
    }
    counts
}

fn only(code: i64, id: &str, count: usize) -> BTreeMap<(i64, String), usize> {
    BTreeMap::from([((code, id.to_owned()), count)])
}

/// Sends one kind of malformed input, then a valid request; returns the errors it drew.
fn send_kind(client: &mut LspClient, wire: &[u8], expected_errors: usize) -> BTreeMap<(i64, String), usize> {
    client.send_raw(wire);
    assert_still_answers(client);
    client.wait_for_unread_errors(expected_errors);
    // Nothing more arrives for this kind than was expected.
    client.pump(Duration::from_millis(100));
    error_counts(client)
}

#[test]
fn malformed_messages_of_every_kind_are_answered_and_the_server_keeps_serving() {
    let workspace = tempfile::tempdir().unwrap();
    let mut client = LspClient::start(workspace.path(), Value::Null);
    let mut random = Random(0x00c0_ffee_1234_5678);
    let mut next_id = 1_000_000;
    let mut fresh_id = || {
        next_id += 1;
        next_id
    };

    // Bodies that are cut short: never JSON.
    let mut wire = Vec::new();
    for _ in 0..PER_KIND {
        let body = hover(fresh_id(), &mut random);
        let cut = 1 + random.below(body.len() - 1);
        wire.extend(frame(&body.as_bytes()[..cut]));
    }
    assert_eq!(send_kind(&mut client, &wire, PER_KIND), only(-32700, "null", PER_KIND), "truncated JSON");

    // Invalid UTF-8 somewhere in the body.
    let mut wire = Vec::new();
    for _ in 0..PER_KIND {
        let mut body = hover(fresh_id(), &mut random).into_bytes();
        let at = random.below(body.len());
        let bad: &[u8] = [&[0xff][..], &[0xc3, 0x28], &[0xed, 0xa0, 0x80], &[0x80]][random.below(4)];
        body.splice(at..at, bad.iter().copied());
        wire.extend(frame(&body));
    }
    assert_eq!(send_kind(&mut client, &wire, PER_KIND), only(-32700, "null", PER_KIND), "invalid UTF-8");

    // Batches: each request in one is refused with its own id; an empty batch once with null.
    let mut wire = Vec::new();
    let mut batch_ids = Vec::new();
    for i in 0..PER_KIND {
        let items: Vec<Value> = (0..i % 4)
            .map(|_| {
                let id = fresh_id();
                batch_ids.push(id);
                serde_json::from_str(&hover(id, &mut random)).unwrap()
            })
            .collect();
        wire.extend(frame(Value::Array(items).to_string().as_bytes()));
    }
    let empty_batches = PER_KIND.div_ceil(4);
    let counts = send_kind(&mut client, &wire, batch_ids.len() + empty_batches);
    let mut expected = only(-32600, "null", empty_batches);
    expected.extend(batch_ids.iter().map(|id| ((-32600, id.to_string()), 1)));
    assert_eq!(counts, expected, "batches");

    // Ids that are not an integer, a string or null.
    let bad_ids =
        [json!({"a": 1}), json!([1]), json!(true), json!(1.5), json!(18_446_744_073_709_551_615u64), json!(-1e300)];
    let mut wire = Vec::new();
    for _ in 0..PER_KIND {
        let mut message: Value = serde_json::from_str(&hover(0, &mut random)).unwrap();
        message["id"] = bad_ids[random.below(bad_ids.len())].clone();
        wire.extend(frame(message.to_string().as_bytes()));
    }
    assert_eq!(send_kind(&mut client, &wire, PER_KIND), only(-32600, "null", PER_KIND), "bad ids");

    // Methods that are not strings: refused with the request's id.
    let bad_methods = [json!(7), json!(null), json!(["textDocument/hover"]), json!({"m": 1}), json!(false)];
    let mut wire = Vec::new();
    let mut method_ids = Vec::new();
    for _ in 0..PER_KIND {
        let id = fresh_id();
        method_ids.push(id);
        let mut message: Value = serde_json::from_str(&hover(id, &mut random)).unwrap();
        message["method"] = bad_methods[random.below(bad_methods.len())].clone();
        wire.extend(frame(message.to_string().as_bytes()));
    }
    let expected: BTreeMap<_, _> = method_ids.iter().map(|id| ((-32600, id.to_string()), 1)).collect();
    assert_eq!(send_kind(&mut client, &wire, PER_KIND), expected, "bad methods");

    // Nesting deeper than 128.
    let mut wire = Vec::new();
    for _ in 0..PER_KIND {
        let depth = 130 + random.below(400);
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"workspace/didChangeConfiguration","params":{{"settings":{}0{}}}}}"#,
            fresh_id(),
            "[".repeat(depth),
            "]".repeat(depth)
        );
        wire.extend(frame(body.as_bytes()));
    }
    assert_eq!(send_kind(&mut client, &wire, PER_KIND), only(-32700, "null", PER_KIND), "deep nesting");

    // Other shapes that are JSON but not JSON-RPC 2.0.
    let mut wire = Vec::new();
    let mut shape_ids = BTreeMap::new();
    for i in 0..PER_KIND {
        let id = fresh_id();
        let (body, answered_id) = match i % 5 {
            0 => (json!({"jsonrpc": "1.0", "id": id, "method": "textDocument/hover"}), id.to_string()),
            1 => (json!({"id": id, "method": "textDocument/hover"}), id.to_string()),
            2 => (json!({"jsonrpc": "2.0", "id": id, "method": "textDocument/hover", "params": 5}), id.to_string()),
            3 => {
                (json!({"jsonrpc": "2.0", "id": id, "result": 1, "error": {"code": 1, "message": "m"}}), id.to_string())
            }
            _ => ([json!(42), json!("text"), json!(null), json!({"jsonrpc": "2.0"})][i % 4].clone(), "null".to_owned()),
        };
        *shape_ids.entry((-32600, answered_id)).or_default() += 1;
        wire.extend(frame(body.to_string().as_bytes()));
    }
    assert_eq!(send_kind(&mut client, &wire, PER_KIND), shape_ids, "not JSON-RPC");

    // A Content-Length too small: the cut-off body is refused, its rest skipped.
    let mut wire = Vec::new();
    for _ in 0..PER_KIND {
        let body = hover(fresh_id(), &mut random);
        let length = 1 + random.below(body.len() - 1);
        wire.extend(format!("Content-Length: {length}\r\n\r\n{body}").into_bytes());
    }
    assert_eq!(send_kind(&mut client, &wire, PER_KIND), only(-32700, "null", PER_KIND), "too small");

    // A Content-Length too large: the message ends at the next header.
    let mut wire = Vec::new();
    for _ in 0..PER_KIND {
        let body = hover(fresh_id(), &mut random);
        let length = body.len() + 1 + random.below(5000);
        wire.extend(format!("Content-Length: {length}\r\n\r\n{body}").into_bytes());
    }
    assert_eq!(send_kind(&mut client, &wire, PER_KIND), only(-32700, "null", PER_KIND), "too large");

    // No Content-Length, or one that is not a length.
    let lengths = ["", "abc", "-5", "1e3", "99999999999999999999999", "0x10", "0"];
    let mut wire = Vec::new();
    for i in 0..PER_KIND {
        let body = hover(fresh_id(), &mut random);
        let header = if i % 2 == 0 {
            "Content-Type: application/vscode-jsonrpc; charset=utf-8".to_owned()
        } else {
            format!("Content-Length: {}", lengths[random.below(lengths.len())])
        };
        wire.extend(format!("{header}\r\n\r\n{body}").into_bytes());
    }
    assert_eq!(send_kind(&mut client, &wire, PER_KIND), only(-32700, "null", PER_KIND), "no usable length");

    // Random bytes: whatever they draw, the server keeps serving.
    let mut wire = Vec::new();
    for _ in 0..PER_KIND {
        let length = 1 + random.below(200);
        wire.extend((0..length).map(|_| random.next() as u8));
        if random.below(3) == 0 {
            wire.extend(b"\r\n\r\n");
        }
    }
    wire.extend(b"\r\n\r\n");
    client.send_raw(&wire);
    assert_still_answers(&mut client);
    client.take_unread_errors();

    client.shutdown();
}

#[test]
fn a_message_whose_body_never_completes_does_not_stop_the_next_one() {
    let workspace = tempfile::tempdir().unwrap();
    let mut client = LspClient::start(workspace.path(), Value::Null);
    // Announces 100 bytes more than it sends, then nothing for a while.
    let body = json!({"jsonrpc": "2.0", "id": 99, "method": "textDocument/hover", "params": {}}).to_string();
    client.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len() + 100).as_bytes());
    client.pump(Duration::from_millis(300));
    // The next message is read, and the unfinished one refused.
    assert_still_answers(&mut client);
    client.wait_for_unread_errors(1);
    assert_eq!(error_counts(&mut client), only(-32700, "null", 1));
    client.shutdown();
}

#[test]
fn responses_to_nothing_unknown_notifications_and_unknown_methods_are_harmless() {
    let workspace = tempfile::tempdir().unwrap();
    let mut client = LspClient::start(workspace.path(), Value::Null);
    client.send_raw(&frame(br#"{"jsonrpc":"2.0","id":123456,"result":{"applied":true}}"#));
    client.send_raw(&frame(br#"{"jsonrpc":"2.0","id":"x","error":{"code":-1,"message":"no"}}"#));
    client.send_raw(&frame(br#"{"jsonrpc":"2.0","method":"$/unknownNotification","params":{"a":[1,2]}}"#));
    assert_still_answers(&mut client);
    // An unknown request is answered with "method not found", not by dying.
    let id = client.take_id();
    client.send_raw(&frame(json!({"jsonrpc": "2.0", "id": id, "method": "crashloom/nothing"}).to_string().as_bytes()));
    let error = client.response_to(&json!(id), "crashloom/nothing").unwrap_err();
    assert_eq!(error["code"], -32601);
    client.shutdown();
}

#[test]
fn the_server_stops_at_the_end_of_its_input_and_says_it_was_not_shut_down() {
    let workspace = tempfile::tempdir().unwrap();
    let mut client = LspClient::start(workspace.path(), Value::Null);
    client.send_raw(b"Content-Length: 40\r\n\r\n{\"jsonrpc\":");
    let status = client.close_input();
    assert_eq!(status.code(), Some(1), "exit status 1 without `shutdown`, as the protocol asks");
}

#[test]
fn exit_without_shutdown_stops_the_server_with_status_1() {
    let workspace = tempfile::tempdir().unwrap();
    let mut client = LspClient::start(workspace.path(), Value::Null);
    client.notify("exit", Value::Null);
    let status = client.close_input();
    assert_eq!(status.code(), Some(1));
}
