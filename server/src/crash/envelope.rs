//! Sentry's ingestion bodies: the envelope format (`POST /api/<project>/envelope/`), the
//! `Content-Encoding`s SDKs compress them with, and the legacy `/store/` body forms.
//!
//! Pure functions over bytes, so the collector, the files source and the tests share them. Every
//! error names what is wrong in one sentence; the collector sends it back as the 400 reason.

use std::io::Read;

use serde_json::Value;

/// A parsed envelope: its header line and its items, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The envelope headers (`event_id`, `dsn`, `sdk`, `sent_at`, `trace`, ...): always an object.
    pub headers: Value,
    pub items: Vec<EnvelopeItem>,
}

/// One item: its header line and its payload bytes. Items of unknown types are kept as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeItem {
    /// The header's `type`: `event`, `transaction`, `attachment`, `session`, ...
    pub item_type: String,
    /// The item headers: always an object with a string `type`.
    pub headers: Value,
    pub payload: Vec<u8>,
}

impl Envelope {
    /// The envelope header's `event_id`, when present.
    pub fn event_id(&self) -> Option<&str> {
        self.headers.get("event_id").and_then(Value::as_str)
    }

    /// The `event` item, if the envelope carries one (at most one per envelope).
    pub fn event_item(&self) -> Option<&EnvelopeItem> {
        self.items.iter().find(|item| item.item_type == "event")
    }
}

impl EnvelopeItem {
    /// The payload read as JSON (events, transactions, sessions, client reports are JSON).
    pub fn payload_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the envelope is empty")]
    Empty,
    #[error("the envelope header line is not JSON: {0}")]
    HeadersNotJson(String),
    #[error("the envelope header line is not a JSON object")]
    HeadersNotObject,
    #[error("the header line of item {item} (at byte {offset}) is not a JSON object: {reason}")]
    ItemHeadersInvalid { item: usize, offset: usize, reason: String },
    #[error("item {item} has no string \"type\" in its header")]
    ItemWithoutType { item: usize },
    #[error("item {item} has a \"length\" that is not a non-negative integer")]
    InvalidLength { item: usize },
    #[error("item {item} declares a length of {length} bytes but only {available} remain (the envelope is truncated)")]
    Truncated { item: usize, length: u64, available: usize },
    #[error("the payload of item {item} is not followed by a newline after its {length} bytes (wrong \"length\"?)")]
    MissingNewlineAfterPayload { item: usize, length: usize },
}

/// Parses a decompressed envelope body.
///
/// Follows the develop docs' grammar `Headers { "\n" Item } [ "\n" ]`: an item with a `length`
/// header has exactly that many payload bytes followed by `\n` or the end (sentry-python,
/// sentry-rust); without one the payload runs to the next `\n` or the end (sentry-javascript,
/// which also sends no final newline). Blank lines between items are tolerated.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(EnvelopeError::Empty);
    }
    let (header_line, mut position) = line_at(body, 0);
    let headers: Value =
        serde_json::from_slice(header_line).map_err(|e| EnvelopeError::HeadersNotJson(e.to_string()))?;
    if !headers.is_object() {
        return Err(EnvelopeError::HeadersNotObject);
    }

    let mut items = Vec::new();
    while position < body.len() {
        let offset = position;
        let (line, after_line) = line_at(body, position);
        position = after_line;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item = items.len() + 1;
        let headers: Value = serde_json::from_slice(line).map_err(|e| EnvelopeError::ItemHeadersInvalid {
            item,
            offset,
            reason: e.to_string(),
        })?;
        if !headers.is_object() {
            return Err(EnvelopeError::ItemHeadersInvalid { item, offset, reason: "found another JSON value".into() });
        }
        let item_type =
            headers.get("type").and_then(Value::as_str).ok_or(EnvelopeError::ItemWithoutType { item })?.to_owned();
        let payload = match headers.get("length") {
            None | Some(Value::Null) => {
                let (payload, after_payload) = line_at(body, position);
                position = after_payload;
                payload
            }
            Some(length) => {
                let length = length.as_u64().ok_or(EnvelopeError::InvalidLength { item })?;
                let available = body.len() - position;
                let length_in_body = usize::try_from(length)
                    .ok()
                    .filter(|n| *n <= available)
                    .ok_or(EnvelopeError::Truncated { item, length, available })?;
                let payload = &body[position..position + length_in_body];
                position += length_in_body;
                match body.get(position) {
                    None => {}
                    Some(b'\n') => position += 1,
                    Some(_) => {
                        return Err(EnvelopeError::MissingNewlineAfterPayload { item, length: length_in_body });
                    }
                }
                payload
            }
        };
        items.push(EnvelopeItem { item_type, headers, payload: payload.to_vec() });
    }
    Ok(Envelope { headers, items })
}

/// The line starting at `start` (without its `\n`) and the position after the `\n` (or the end).
fn line_at(body: &[u8], start: usize) -> (&[u8], usize) {
    match body[start..].iter().position(|b| *b == b'\n') {
        Some(end) => (&body[start..start + end], start + end + 1),
        None => (&body[start..], body.len()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported Content-Encoding {0:?} (supported: gzip, deflate, br, identity)")]
    UnsupportedEncoding(String),
    #[error("the body is larger than {limit} bytes once decompressed")]
    TooLarge { limit: usize },
    #[error("the body is not valid {encoding}: {reason}")]
    Corrupt { encoding: &'static str, reason: String },
}

/// Decodes a request body to the bytes of an envelope or event.
///
/// `content_encoding` is the header value (`gzip`, `deflate` (zlib, or raw deflate), `br`,
/// `identity`, or a comma-separated list applied in order). The result never exceeds
/// `max_decompressed` bytes: decompression streams and stops at the cap with
/// [`DecodeError::TooLarge`], so a decompression bomb costs no more memory than the cap.
///
/// A body that is not JSON but base64 of zlib-compressed data (the legacy `/store/` form older SDKs
/// send without a `Content-Encoding`) is decoded too.
pub fn decode_body(
    body: &[u8],
    content_encoding: Option<&str>,
    max_decompressed: usize,
) -> Result<Vec<u8>, DecodeError> {
    let encodings: Vec<String> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e != "identity")
        .collect();
    let mut decoded: Option<Vec<u8>> = None;
    // Encodings are listed in the order they were applied, so they are undone last first.
    for encoding in encodings.iter().rev() {
        let input = decoded.as_deref().unwrap_or(body);
        decoded = Some(match encoding.as_str() {
            "gzip" | "x-gzip" => read_capped(flate2::read::MultiGzDecoder::new(input), max_decompressed, "gzip")?,
            "deflate" => inflate(input, max_decompressed)?,
            "br" => read_capped(brotli::Decompressor::new(input, 4096), max_decompressed, "brotli")?,
            other => return Err(DecodeError::UnsupportedEncoding(other.to_owned())),
        });
    }
    let plain = match decoded {
        Some(bytes) => bytes,
        None if body.len() > max_decompressed => {
            return Err(DecodeError::TooLarge { limit: max_decompressed });
        }
        None => body.to_vec(),
    };
    match legacy_store_payload(&plain) {
        Some(zlib) => inflate(&zlib, max_decompressed),
        None => Ok(plain),
    }
}

/// `deflate` is zlib by the HTTP spec, but some clients send raw deflate streams.
fn inflate(input: &[u8], max: usize) -> Result<Vec<u8>, DecodeError> {
    if looks_like_zlib(input) {
        read_capped(flate2::read::ZlibDecoder::new(input), max, "zlib")
    } else {
        read_capped(flate2::read::DeflateDecoder::new(input), max, "deflate")
    }
}

fn looks_like_zlib(bytes: &[u8]) -> bool {
    matches!(bytes, [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

/// Reads a decompressor to the end, refusing to hold more than `max` bytes.
fn read_capped(reader: impl Read, max: usize, encoding: &'static str) -> Result<Vec<u8>, DecodeError> {
    let mut limited = reader.take(u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1));
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = match limited.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DecodeError::Corrupt { encoding, reason: e.to_string() });
            }
        };
        if out.len() + read > max {
            return Err(DecodeError::TooLarge { limit: max });
        }
        // Grow by doubling, but never past the cap.
        if out.capacity() < out.len() + read {
            let target = (out.capacity() * 2).max(out.len() + read).min(max);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&chunk[..read]);
    }
    Ok(out)
}

/// The zlib bytes of a legacy `/store/` body sent as base64(zlib(json)), if it is one.
fn legacy_store_payload(body: &[u8]) -> Option<Vec<u8>> {
    let trimmed = body.trim_ascii();
    // JSON and envelopes start with `{` or `[`, which base64 never contains.
    if trimmed.is_empty() || matches!(trimmed[0], b'{' | b'[') {
        return None;
    }
    let zlib = decode_base64(trimmed)?;
    looks_like_zlib(&zlib).then_some(zlib)
}

/// Standard base64 (with or without padding, whitespace ignored); `None` on any other byte.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    fn sextet(byte: u8) -> Option<u32> {
        Some(u32::from(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        }))
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    let mut padding = false;
    for &byte in text {
        if byte.is_ascii_whitespace() {
            continue;
        }
        if byte == b'=' {
            padding = true;
            continue;
        }
        if padding {
            return None;
        }
        buffer = (buffer << 6) | sextet(byte)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_from_the_envelope_docs() {
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42\"}\n\
{\"type\":\"attachment\",\"length\":10,\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}\n\
\xef\xbb\xbfHello\r\n\n\
{\"type\":\"event\",\"length\":41,\"content_type\":\"application/json\",\"filename\":\"application.log\"}\n\
{\"message\":\"hello world\",\"level\":\"error\"}\n";
        let envelope = parse_envelope(body).expect("valid");
        assert_eq!(envelope.event_id(), Some("9ec79c33ec9942ab8353589fcb2e04dc"));
        assert_eq!(envelope.items.len(), 2);
        assert_eq!(envelope.items[0].payload, b"\xef\xbb\xbfHello\r\n");
        let event = envelope.event_item().expect("event item").payload_json().expect("json");
        assert_eq!(event["message"], "hello world");
    }

    #[test]
    fn items_without_length_empty_payloads_and_unknown_types() {
        let body = b"{}\n{\"type\":\"session\"}\n{\"sid\":\"1\"}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"future_thing\"}\n";
        let envelope = parse_envelope(body).expect("valid");
        let types: Vec<&str> = envelope.items.iter().map(|i| i.item_type.as_str()).collect();
        assert_eq!(types, ["session", "attachment", "future_thing"]);
        assert_eq!(envelope.items[1].payload, b"");
        assert_eq!(envelope.items[2].payload, b"");
    }

    #[test]
    fn broken_envelopes_say_what_is_wrong() {
        assert_eq!(parse_envelope(b"  \n"), Err(EnvelopeError::Empty));
        assert!(matches!(parse_envelope(b"not json\n"), Err(EnvelopeError::HeadersNotJson(_))));
        assert_eq!(parse_envelope(b"[1]\n"), Err(EnvelopeError::HeadersNotObject));
        assert_eq!(parse_envelope(b"{}\n{\"length\":2}\nab"), Err(EnvelopeError::ItemWithoutType { item: 1 }));
        assert_eq!(
            parse_envelope(b"{}\n{\"type\":\"event\",\"length\":99}\n{}"),
            Err(EnvelopeError::Truncated { item: 1, length: 99, available: 2 })
        );
        assert_eq!(
            parse_envelope(b"{}\n{\"type\":\"event\",\"length\":1}\n{}\n"),
            Err(EnvelopeError::MissingNewlineAfterPayload { item: 1, length: 1 })
        );
        assert_eq!(
            parse_envelope(b"{}\n{\"type\":\"event\",\"length\":-1}\n{}"),
            Err(EnvelopeError::InvalidLength { item: 1 })
        );
        let error = parse_envelope(b"{}\n{\"type\":\"event\"}\n{}\n{\"type\":").expect_err("truncated header");
        assert!(error.to_string().starts_with("the header line of item 2 (at byte 23)"), "{error}");
    }

    #[test]
    fn legacy_store_base64_zlib_body() {
        use std::io::Write;
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(br#"{"message":"hi"}"#).expect("write");
        let compressed = zlib.finish().expect("finish");
        let encoded = encode_base64(&compressed);
        assert_eq!(decode_body(encoded.as_bytes(), None, 1000).expect("decoded"), br#"{"message":"hi"}"#);
        assert_eq!(decode_body(b"{\"a\":1}", None, 1000).expect("plain"), b"{\"a\":1}");
        assert_eq!(decode_body(b"{\"a\":1}", None, 3), Err(DecodeError::TooLarge { limit: 3 }));
    }

    #[test]
    fn deflate_accepts_zlib_and_raw_streams() {
        use std::io::Write;
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(b"{}\n").expect("write");
        let raw = raw.finish().expect("finish");
        assert_eq!(decode_body(&raw, Some("deflate"), 100).expect("raw deflate"), b"{}\n");
        assert!(matches!(decode_body(b"junk", Some("gzip"), 100), Err(DecodeError::Corrupt { .. })));
        assert_eq!(decode_body(b"x", Some("zstd"), 100), Err(DecodeError::UnsupportedEncoding("zstd".into())));
    }

    fn encode_base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
