//! The wire in front of the protocol library: splits stdin into `Content-Length` frames, checks
//! each message (UTF-8, JSON, JSON-RPC 2.0 shape) and answers the bad ones itself, so that only
//! well-formed messages reach `tower-lsp-server` (which stops reading at its first decode error).
//!
//! Resynchronisation: the byte sequence `Content-Length: <digits>\r\n` cannot occur inside a valid
//! JSON body (outside strings the letters are not JSON; inside strings a raw line break is not
//! allowed). So a body that contains it was declared longer than it is: it is answered with a
//! parse error and reading goes on at that header. A declared length that never completes
//! therefore stops nothing: the next message's header ends it. Bytes before a header (the rest of
//! a message whose length was too small) are skipped.

use std::sync::LazyLock;

use regex::bytes::Regex;
use serde_json::{Value, json};

/// JSON-RPC error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;

/// A message larger than this is refused (an editor sends whole documents, never this much).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// Header bytes kept while no header end is in sight; older bytes are skipped as noise.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How far back a body scan restarts, so a header split across reads is still found.
const SCAN_OVERLAP: usize = 64;

static CONTENT_LENGTH: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern
    Regex::new(r"(?i)content-length[ \t]*:[ \t]*([0-9]{1,20})[ \t]*\r\n").unwrap()
});
static CONTENT_LENGTH_NAME: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern
    Regex::new(r"(?i)content-length[ \t]*:").unwrap()
});

/// What one step of reading produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A well-formed message for the library, re-serialised (so duplicate keys and other oddities
    /// the library's strict decoder would stop on never reach it).
    Message { body: Vec<u8>, method: Option<String>, is_request: bool },
    /// Error responses to send back; the message is dropped.
    Answer(Vec<Value>),
}

/// Splits a byte stream into checked messages. Pure: bytes in, messages out.
#[derive(Default)]
pub struct Framer {
    buffer: Vec<u8>,
    /// The declared body length of the message being read, once its header is complete.
    body_length: Option<usize>,
    /// How much of the current body was already scanned for a following header.
    scanned: usize,
}

impl Framer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a message.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete message or answer, `None` when more bytes are needed.
    pub fn next_incoming(&mut self) -> Option<Incoming> {
        loop {
            match self.body_length {
                None => {
                    if let Some(answer) = self.read_header()? {
                        return Some(answer);
                    }
                }
                Some(length) => return self.read_body(length),
            }
        }
    }

    /// Reads one header block. `Some(None)` when a length was found (the body comes next) or the
    /// block was empty, `Some(Some(answer))` when the header was bad, `None` for more bytes.
    fn read_header(&mut self) -> Option<Option<Incoming>> {
        let Some(end) = find(&self.buffer, b"\r\n\r\n") else {
            if self.buffer.len() > MAX_HEADER_BYTES {
                // Noise without a header end: keep only what could still start a header.
                let skipped = self.buffer.len() - SCAN_OVERLAP;
                tracing::warn!("skipped {skipped} bytes that are not a message");
                self.buffer.drain(..skipped);
            }
            return None;
        };
        let block: Vec<u8> = self.buffer.drain(..end + 4).collect();
        let block = &block[..end + 2];
        if block.iter().all(u8::is_ascii_whitespace) {
            return Some(None);
        }
        let Some(found) = CONTENT_LENGTH.captures_iter(block).last() else {
            let problem = if CONTENT_LENGTH_NAME.is_match(block) {
                "the Content-Length header is not a length"
            } else {
                "the message has no Content-Length header"
            };
            return Some(Some(parse_error(problem)));
        };
        let whole = found.get(0).map_or(0..0, |m| m.range());
        let skipped = &block[..whole.start];
        if !skipped.is_empty() && !is_header_lines(skipped) {
            tracing::warn!("skipped {} bytes before a message header", skipped.len());
        }
        let digits = found.get(1).map_or(&b""[..], |m| m.as_bytes());
        let length = std::str::from_utf8(digits).ok().and_then(|d| d.parse::<usize>().ok());
        match length {
            Some(0) => Some(Some(parse_error("the message is empty (Content-Length: 0)"))),
            Some(length) if length <= MAX_MESSAGE_BYTES => {
                self.body_length = Some(length);
                self.scanned = 0;
                Some(None)
            }
            _ => Some(Some(parse_error("the Content-Length is larger than any message Crashloom accepts"))),
        }
    }

    fn read_body(&mut self, length: usize) -> Option<Incoming> {
        let available = self.buffer.len().min(length);
        let scan_from = self.scanned.saturating_sub(SCAN_OVERLAP);
        if let Some(next_header) = find_header_start(&CONTENT_LENGTH, &self.buffer[..available], scan_from) {
            // The body was declared longer than it is: the next message starts inside it.
            self.buffer.drain(..next_header);
            self.body_length = None;
            return Some(parse_error("the message ended before its Content-Length"));
        }
        if self.buffer.len() < length {
            self.scanned = available;
            return None;
        }
        let checked = check_message(&self.buffer[..length]);
        // A body that cannot be read because its declared end cut the next header in two ends
        // where that header starts: at a header name, or else after the JSON value it begins with.
        let end = match &checked {
            Incoming::Answer(answers) if answers.iter().any(|a| a["error"]["code"] == PARSE_ERROR) => {
                let body = &self.buffer[..length];
                find_header_start(&CONTENT_LENGTH_NAME, body, 0)
                    .filter(|at| *at > 0)
                    .or_else(|| end_of_first_json_value(body))
                    .unwrap_or(length)
            }
            _ => length,
        };
        self.buffer.drain(..end);
        self.body_length = None;
        Some(checked)
    }
}

/// Where a `Content-Length` header line (as `header` finds it) begins inside `bytes`, searching
/// from `from`.
fn find_header_start(header: &Regex, bytes: &[u8], from: usize) -> Option<usize> {
    let found = header.find_at(bytes, from)?;
    // Take in the header lines right before it (a `Content-Type` sent first), when there are.
    let mut start = found.start();
    while let Some(before) = bytes[..start].strip_suffix(b"\r\n") {
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if !is_header_lines(&bytes[line_start..start]) {
            break;
        }
        start = line_start;
    }
    Some(start)
}

/// Whether `bytes` are complete `Name: value` header lines (what precedes `Content-Length` in a
/// well-formed header).
fn is_header_lines(bytes: &[u8]) -> bool {
    bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()).all(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line.iter().position(|b| *b == b':') {
            Some(colon) => colon > 0 && line[..colon].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-'),
            None => false,
        }
    })
}

/// Where the JSON value at the start of `bytes` ends, when it is complete and more follows.
fn end_of_first_json_value(bytes: &[u8]) -> Option<usize> {
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => Some(values.byte_offset()).filter(|end| *end < bytes.len()),
        _ => None,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Checks one message body: UTF-8, JSON (nested at most 128 deep), and the shape of a JSON-RPC
/// 2.0 request, notification or response.
pub fn check_message(body: &[u8]) -> Incoming {
    let Ok(text) = std::str::from_utf8(body) else {
        return parse_error("the message is not valid UTF-8");
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) if e.to_string().contains("recursion limit") => {
            return parse_error("the message is nested deeper than 128 levels");
        }
        Err(e) => return parse_error(&format!("the message is not JSON: {e}")),
    };
    match value {
        Value::Array(items) => answer_batch(&items),
        Value::Object(_) => match check_shape(&value) {
            Ok((method, is_request)) => match serde_json::to_vec(&value) {
                Ok(body) => Incoming::Message { body, method, is_request },
                Err(e) => parse_error(&format!("the message cannot be re-encoded: {e}")),
            },
            Err(problem) => invalid_request(known_id(&value), problem),
        },
        _ => invalid_request(Value::Null, "a JSON-RPC message is an object"),
    }
}

/// The method (for requests and notifications) and whether the message expects an answer, or
/// what is wrong with it.
fn check_shape(message: &Value) -> Result<(Option<String>, bool), &'static str> {
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err("\"jsonrpc\" must be \"2.0\"");
    }
    let id = message.get("id");
    if let Some(id) = id
        && !is_valid_id(id)
    {
        return Err("\"id\" must be an integer, a string or null");
    }
    let has_result = message.get("result").is_some();
    let error = message.get("error");
    match message.get("method") {
        Some(Value::String(method)) => {
            if has_result || error.is_some() {
                return Err("a request has no \"result\" or \"error\"");
            }
            match message.get("params") {
                None | Some(Value::Object(_) | Value::Array(_) | Value::Null) => {}
                Some(_) => return Err("\"params\" must be an object or an array"),
            }
            Ok((Some(method.clone()), id.is_some()))
        }
        Some(_) => Err("\"method\" must be a string"),
        None => {
            if id.is_none() {
                return Err("a message needs a \"method\" or, as a response, an \"id\"");
            }
            match (has_result, error) {
                (true, None) => Ok((None, false)),
                (false, Some(error)) => {
                    let code_ok = error.get("code").and_then(Value::as_i64).is_some();
                    let message_ok = error.get("message").is_some_and(Value::is_string);
                    if error.is_object() && code_ok && message_ok {
                        Ok((None, false))
                    } else {
                        Err("a response's \"error\" needs an integer \"code\" and a string \"message\"")
                    }
                }
                _ => Err("a response has exactly one of \"result\" and \"error\""),
            }
        }
    }
}

fn is_valid_id(id: &Value) -> bool {
    match id {
        Value::Number(n) => n.as_i64().is_some(),
        Value::String(_) | Value::Null => true,
        _ => false,
    }
}

/// The message's id when it is one the client can match, `null` otherwise.
fn known_id(message: &Value) -> Value {
    match message.get("id") {
        Some(id) if is_valid_id(id) => id.clone(),
        _ => Value::Null,
    }
}

/// LSP has no batches: each request in one gets its own error (so a client waiting for an id
/// hears back), or one error with id null when none has an id.
fn answer_batch(items: &[Value]) -> Incoming {
    const PROBLEM: &str = "JSON-RPC batches are not supported by the Language Server Protocol";
    let answers: Vec<Value> = items
        .iter()
        .filter(|item| item.get("method").is_some())
        .map(known_id)
        .filter(|id| !id.is_null())
        .map(|id| error_response(id, INVALID_REQUEST, PROBLEM))
        .collect();
    if answers.is_empty() { invalid_request(Value::Null, PROBLEM) } else { Incoming::Answer(answers) }
}

fn parse_error(problem: &str) -> Incoming {
    tracing::warn!("a message from the client was refused: {problem}");
    Incoming::Answer(vec![error_response(Value::Null, PARSE_ERROR, problem)])
}

fn invalid_request(id: Value, problem: &str) -> Incoming {
    tracing::warn!("a message from the client was refused: {problem}");
    Incoming::Answer(vec![error_response(id, INVALID_REQUEST, problem)])
}

pub fn error_response(id: Value, code: i64, problem: &str) -> Value {
    let message = if code == PARSE_ERROR { "Parse error" } else { "Invalid request" };
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": format!("{message}: {problem}")}})
}

/// One frame on the wire.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body);
    framed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn all(framer: &mut Framer) -> Vec<Incoming> {
        std::iter::from_fn(|| framer.next_incoming()).collect()
    }

    fn codes(incoming: &[Incoming]) -> Vec<(i64, Value)> {
        incoming
            .iter()
            .flat_map(|i| match i {
                Incoming::Answer(answers) => answers.clone(),
                Incoming::Message { .. } => vec![json!({"error": {"code": 0}, "id": "message"})],
            })
            .map(|a| (a["error"]["code"].as_i64().unwrap(), a["id"].clone()))
            .collect()
    }

    const HOVER: &str = r#"{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":{}}"#;

    #[test]
    fn a_well_formed_message_passes_split_anywhere() {
        let wire = frame(HOVER.as_bytes());
        for split in 0..wire.len() {
            let mut framer = Framer::default();
            framer.push(&wire[..split]);
            let mut got = all(&mut framer);
            framer.push(&wire[split..]);
            got.extend(all(&mut framer));
            assert_eq!(got.len(), 1, "split at {split}");
            let Incoming::Message { method, is_request, .. } = &got[0] else { panic!("{got:?}") };
            assert_eq!(method.as_deref(), Some("textDocument/hover"));
            assert!(is_request);
        }
    }

    #[test]
    fn bad_bodies_are_answered_with_the_right_code_and_id() {
        let cases: &[(&[u8], i64, Value)] = &[
            (b"{\"jsonrpc\":", PARSE_ERROR, Value::Null),
            (b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}", PARSE_ERROR, Value::Null),
            (b"[]", INVALID_REQUEST, Value::Null),
            (b"42", INVALID_REQUEST, Value::Null),
            (br#"{"jsonrpc":"2.0","id":{"a":1},"method":"x"}"#, INVALID_REQUEST, Value::Null),
            (br#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#, INVALID_REQUEST, Value::Null),
            (br#"{"jsonrpc":"2.0","id":3,"method":7}"#, INVALID_REQUEST, json!(3)),
            (br#"{"jsonrpc":"1.0","id":"a","method":"x"}"#, INVALID_REQUEST, json!("a")),
            (br#"{"jsonrpc":"2.0","id":4,"method":"x","params":5}"#, INVALID_REQUEST, json!(4)),
            (br#"{"jsonrpc":"2.0","id":4,"result":1,"error":{"code":1,"message":"m"}}"#, INVALID_REQUEST, json!(4)),
            (br#"{"jsonrpc":"2.0","id":4,"error":{"code":"x","message":"m"}}"#, INVALID_REQUEST, json!(4)),
            (br#"{"jsonrpc":"2.0"}"#, INVALID_REQUEST, Value::Null),
        ];
        for (body, code, id) in cases {
            let mut framer = Framer::default();
            framer.push(&frame(body));
            assert_eq!(codes(&all(&mut framer)), vec![(*code, id.clone())], "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn nesting_deeper_than_128_is_a_parse_error_and_128_is_not() {
        let nested = |depth: usize| {
            format!(r#"{{"jsonrpc":"2.0","method":"m","params":{}1{}}}"#, "[".repeat(depth), "]".repeat(depth))
        };
        let mut framer = Framer::default();
        framer.push(&frame(nested(126).as_bytes()));
        assert!(matches!(all(&mut framer)[..], [Incoming::Message { .. }]));
        framer.push(&frame(nested(200).as_bytes()));
        assert_eq!(codes(&all(&mut framer)), vec![(PARSE_ERROR, Value::Null)]);
    }

    #[test]
    fn a_batch_gets_one_error_per_request_id() {
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":"b","method":"c"}]"#;
        let mut framer = Framer::default();
        framer.push(&frame(batch));
        assert_eq!(codes(&all(&mut framer)), vec![(INVALID_REQUEST, json!(1)), (INVALID_REQUEST, json!("b"))]);
    }

    #[test]
    fn duplicate_keys_reach_the_library_once() {
        let mut framer = Framer::default();
        framer.push(&frame(br#"{"jsonrpc":"2.0","method":"a","method":"b"}"#));
        let got = all(&mut framer);
        let [Incoming::Message { body, method, is_request }] = &got[..] else { panic!("{got:?}") };
        assert_eq!(method.as_deref(), Some("b"));
        assert!(!is_request);
        assert_eq!(serde_json::from_slice::<Value>(body).unwrap(), json!({"jsonrpc": "2.0", "method": "b"}));
    }

    #[test]
    fn a_too_small_length_is_answered_and_the_next_message_still_read() {
        let mut wire = format!("Content-Length: 10\r\n\r\n{HOVER}").into_bytes();
        wire.extend(frame(HOVER.as_bytes()));
        let mut framer = Framer::default();
        framer.push(&wire);
        assert_eq!(codes(&all(&mut framer)), vec![(PARSE_ERROR, Value::Null), (0, json!("message"))]);
        assert_eq!(framer.pending(), 0);
    }

    #[test]
    fn a_too_large_length_ends_at_the_next_header_even_one_sent_later() {
        let mut framer = Framer::default();
        framer.push(format!("Content-Length: 5000\r\n\r\n{HOVER}").as_bytes());
        assert!(all(&mut framer).is_empty(), "waits for the rest of the body");
        let mut next = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n".to_vec();
        next.extend(frame(HOVER.as_bytes()));
        for byte in next {
            framer.push(&[byte]);
        }
        assert_eq!(codes(&all(&mut framer)), vec![(PARSE_ERROR, Value::Null), (0, json!("message"))]);
    }

    #[test]
    fn a_too_large_length_that_ends_inside_the_next_header_still_finds_it() {
        let next = frame(HOVER.as_bytes());
        for cut in 1..next.len() {
            let mut wire = format!("Content-Length: {}\r\n\r\n{HOVER}", HOVER.len() + cut).into_bytes();
            wire.extend(&next);
            let mut framer = Framer::default();
            framer.push(&wire);
            let got = codes(&all(&mut framer));
            assert_eq!(got.last(), Some(&(0, json!("message"))), "cut {cut}: {got:?}");
            assert_eq!(got.len(), 2, "cut {cut}: {got:?}");
        }
    }

    #[test]
    fn headers_without_a_usable_length_are_answered_and_skipped() {
        let mut wire = b"Content-Type: text/plain\r\n\r\n".to_vec();
        wire.extend(b"Content-Length: -4\r\n\r\n");
        wire.extend(b"Content-Length: 99999999999999999999\r\n\r\n");
        wire.extend(b"Content-Length: 0\r\n\r\n");
        wire.extend(b"\r\n\r\n");
        wire.extend(frame(HOVER.as_bytes()));
        let mut framer = Framer::default();
        framer.push(&wire);
        assert_eq!(
            codes(&all(&mut framer)),
            vec![
                (PARSE_ERROR, Value::Null),
                (PARSE_ERROR, Value::Null),
                (PARSE_ERROR, Value::Null),
                (PARSE_ERROR, Value::Null),
                (0, json!("message"))
            ]
        );
    }

    #[test]
    fn endless_noise_is_dropped_and_a_later_message_read() {
        let mut framer = Framer::default();
        framer.push(&vec![b'x'; 10 * MAX_HEADER_BYTES]);
        assert!(all(&mut framer).is_empty());
        assert!(framer.pending() <= MAX_HEADER_BYTES);
        framer.push(&frame(HOVER.as_bytes()));
        assert_eq!(codes(&all(&mut framer)), vec![(0, json!("message"))]);
    }

    #[test]
    fn a_body_that_mentions_content_length_in_a_string_is_one_message() {
        let body = r#"{"jsonrpc":"2.0","method":"m","params":{"text":"Content-Length: 12\\r\\n"}}"#;
        let mut framer = Framer::default();
        framer.push(&frame(body.as_bytes()));
        assert!(matches!(all(&mut framer)[..], [Incoming::Message { .. }]));
    }
}
