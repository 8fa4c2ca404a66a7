//! The collector over real HTTP on loopback, with a real SQLite store: envelopes shaped the way
//! sentry-python and sentry-javascript send them, every authentication form, the size and rate
//! limits, and bad input that must leave the store as it was.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::Utc;
use crashloom::crash::{CrashEvent, Exception, Frame};
use crashloom::source::collector::{Collector, CollectorConfig, CollectorError};
use crashloom::source::store::CrashStore;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const PROJECT: u64 = 42;

struct RunningCollector {
    addr: SocketAddr,
    dsn: String,
    store_path: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), CollectorError>>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl RunningCollector {
    async fn start() -> Result<Self, Box<dyn std::error::Error>> {
        Self::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut CollectorConfig)) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store_path = dir.path().join("inbox.sqlite");
        let mut config = CollectorConfig {
            listen: "127.0.0.1:0".parse()?,
            keys: vec![KEY.to_owned()],
            project_id: PROJECT,
            ..CollectorConfig::default()
        };
        adjust(&mut config);
        let collector = Collector::bind(config, &store_path).await?;
        let addr = collector.local_addr();
        let dsn = collector.dsn();
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(collector.run(async move {
            let _ = shutdown_rx.await;
        }));
        Ok(Self { addr, dsn, store_path, shutdown: Some(shutdown), task, client: reqwest::Client::new(), _dir: dir })
    }

    fn url(&self, endpoint: &str) -> String {
        format!("http://{}/api/{PROJECT}/{endpoint}/", self.addr)
    }

    /// Posts an envelope the way sentry-python does: `X-Sentry-Auth` and a Content-Encoding.
    async fn post_envelope(&self, body: Vec<u8>, encoding: Option<&str>) -> reqwest::Result<reqwest::Response> {
        let mut request = self
            .client
            .post(self.url("envelope"))
            .header(
                "X-Sentry-Auth",
                format!("Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.19.0"),
            )
            .header("Content-Type", "application/x-sentry-envelope");
        if let Some(encoding) = encoding {
            request = request.header("Content-Encoding", encoding);
        }
        request.body(body).send().await
    }

    fn store(&self) -> Result<CrashStore, Box<dyn std::error::Error>> {
        Ok(CrashStore::open(&self.store_path)?)
    }

    async fn stop(mut self) -> TestResult {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }
}

/// The event sentry-python 2.x sends for an uncaught `KeyError`.
fn python_event(event_id: &str) -> Value {
    json!({
        "event_id": event_id,
        "timestamp": "2026-03-01T12:00:00.123456Z",
        "platform": "python",
        "level": "error",
        "release": "shop@1.0.0",
        "environment": "production",
        "server_name": "web-1",
        "sdk": {"name": "sentry.python", "version": "2.19.0", "packages": [{"name": "pypi:sentry-sdk", "version": "2.19.0"}]},
        "exception": {"values": [{
            "type": "KeyError",
            "value": "'sku-42'",
            "module": null,
            "mechanism": {"type": "excepthook", "handled": false},
            "stacktrace": {"frames": [
                {"filename": "app.py", "abs_path": "/srv/shop/app.py", "function": "<module>", "module": "__main__",
                 "lineno": 12, "pre_context": ["from shop.orders import total", ""], "context_line": "total(ORDER)",
                 "post_context": [], "in_app": true, "vars": {"ORDER": "{'items': ['sku-42']}"}},
                {"filename": "shop/orders.py", "abs_path": "/srv/shop/shop/orders.py", "function": "total",
                 "module": "shop.orders", "lineno": 7, "pre_context": ["def total(order):", "    price = 0"],
                 "context_line": "        price += PRICES[sku]", "post_context": ["    return price"], "in_app": true,
                 "vars": {"order": "{'items': ['sku-42']}", "sku": "'sku-42'"}}
            ]}
        }]},
        "breadcrumbs": {"values": []},
        "contexts": {"runtime": {"name": "CPython", "version": "3.12.3"}},
        "modules": {"sentry-sdk": "2.19.0"},
        "extra": {"sys.argv": ["app.py"]}
    })
}

/// sentry-python's framing: a `length` on every item and a newline after every payload.
fn python_envelope(event_id: &str, items: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut body =
        serde_json::to_vec(&json!({"event_id": event_id, "sent_at": Utc::now().to_rfc3339()})).unwrap_or_default();
    body.push(b'\n');
    for (item_type, payload) in items {
        let header = json!({"type": item_type, "content_type": "application/json", "length": payload.len()});
        body.extend(serde_json::to_vec(&header).unwrap_or_default());
        body.push(b'\n');
        body.extend(payload);
        body.push(b'\n');
    }
    body
}

fn python_event_envelope(event_id: &str) -> Vec<u8> {
    python_envelope(event_id, &[("event", serde_json::to_vec(&python_event(event_id)).unwrap_or_default())])
}

/// A release-health session: SDKs send these alongside events; the inbox does not keep them.
fn session_envelope() -> Vec<u8> {
    let mut body = b"{\"sent_at\":\"2026-03-01T12:00:00Z\"}\n".to_vec();
    body.extend(b"{\"type\":\"session\"}\n");
    body.extend(br#"{"sid":"7c7b6585f901487aa4d1f0b3c2d5f0a1","init":true,"started":"2026-03-01T12:00:00Z","status":"ok","errors":0,"attrs":{"release":"shop@1.0.0"}}"#);
    body
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
        let _ = encoder.write_all(bytes);
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, byte)| n | u32::from(*byte) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
        out.push_str(&"="[..usize::from(chunk.len() < 3)].repeat(3 - chunk.len()));
    }
    out
}

/// A crash already in the inbox before the collector sees bad input.
fn stored_crash() -> CrashEvent {
    CrashEvent {
        event_id: Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into()),
        exceptions: vec![Exception {
            ty: "ValueError".into(),
            value: "bad".into(),
            frames: vec![Frame {
                filename: Some("shop/cart.py".into()),
                function: Some("add".into()),
                ..Frame::default()
            }],
            ..Exception::default()
        }],
        ..CrashEvent::default()
    }
}

async fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// A request with `Transfer-Encoding: chunked` and no Content-Length, written by hand on a socket.
/// The answer is read while the body is still being written: a collector refusing a body answers
/// before it has read all of it.
async fn post_chunked(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut reader, mut writer) = stream.into_split();
    let mut request =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut framed = request.into_bytes();
    for chunk in body.chunks(100) {
        framed.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        framed.extend(chunk);
        framed.extend(b"\r\n");
    }
    framed.extend(b"0\r\n\r\n");
    // Writing fails with a broken pipe once the collector has answered and closed: that is fine.
    // The write half stays open until the answer is read: dropping it would half-close the
    // connection, and a server may take that as the client giving up.
    let sending = tokio::spawn(async move {
        let _ = writer.write_all(&framed).await;
        writer
    });
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(read) = reader.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        response.extend(&buffer[..read]);
    }
    let _ = sending.await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    Ok((status, response))
}

// --- Real SDK events: these need `crash::sentry::parse_event`. ---

#[tokio::test]
async fn a_python_sdk_event_compressed_with_brotli_is_in_the_store_when_the_sdk_gets_200() -> TestResult {
    let collector = RunningCollector::start().await?;
    let event_id = "fc6d8c0c43fc4630ad850ee518f1b9d0";

    let response = collector.post_envelope(brotli(&python_event_envelope(event_id)), Some("br")).await?;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type").await.as_deref(), Some("application/json"));
    assert_eq!(response.json::<Value>().await?, json!({"id": event_id}));
    let groups = collector.store()?.groups(10)?;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].exception_type, "KeyError");
    assert_eq!(groups[0].issue.count, Some(1));
    assert_eq!(groups[0].issue.releases, ["shop@1.0.0"]);
    let latest = groups[0].latest_event.as_ref().ok_or("no event stored")?;
    assert_eq!(latest.event_id.as_deref(), Some(event_id));
    collector.stop().await
}

#[tokio::test]
async fn gzip_deflate_and_plain_bodies_are_all_read() -> TestResult {
    let collector = RunningCollector::start().await?;
    let ids =
        ["00000000000000000000000000000001", "00000000000000000000000000000002", "00000000000000000000000000000003"];

    let gzipped = collector.post_envelope(gzip(&python_event_envelope(ids[0])), Some("gzip")).await?;
    let deflated = collector.post_envelope(zlib(&python_event_envelope(ids[1])), Some("deflate")).await?;
    let plain = collector.post_envelope(python_event_envelope(ids[2]), None).await?;

    for response in [gzipped, deflated, plain] {
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(collector.store()?.groups(10)?[0].issue.count, Some(3));
    collector.stop().await
}

#[tokio::test]
async fn a_js_style_envelope_without_lengths_sent_chunked_with_the_key_in_the_url_is_stored() -> TestResult {
    let collector = RunningCollector::start().await?;
    let event_id = "b1b2b3b4b5b6b7b8b9b0b1b2b3b4b5b6";
    // sentry-javascript: no `length`, no final newline, auth in the query string.
    let body = format!(
        "{}\n{{\"type\":\"event\"}}\n{}",
        json!({"event_id": event_id, "sent_at": "2026-03-01T12:00:00Z", "sdk": {"name": "sentry.javascript.node", "version": "8.0.0"}}),
        serde_json::to_string(&python_event(event_id))?
    );
    let path = format!(
        "/api/{PROJECT}/envelope/?sentry_version=7&sentry_key={KEY}&sentry_client=sentry.javascript.node%2F8.0.0"
    );

    let (status, response) =
        post_chunked(collector.addr, &path, &[("Content-Type", "text/plain;charset=UTF-8")], body.as_bytes()).await?;

    assert_eq!(status, 200, "{response}");
    assert!(response.contains(event_id));
    assert_eq!(collector.store()?.total_event_count()?, 1);
    collector.stop().await
}

#[tokio::test]
async fn the_legacy_store_endpoints_take_json_and_base64_zlib_bodies() -> TestResult {
    let collector = RunningCollector::start().await?;
    let auth = format!("Sentry sentry_key={KEY}, sentry_version=7");
    let plain = serde_json::to_vec(&python_event("11111111111111111111111111111111"))?;
    let packed = base64(&zlib(&serde_json::to_vec(&python_event("22222222222222222222222222222222"))?));

    let first = collector.client.post(collector.url("store")).header("X-Sentry-Auth", &auth).body(plain).send().await?;
    let second =
        collector.client.post(collector.url("store")).header("X-Sentry-Auth", &auth).body(packed).send().await?;
    let oldest_sdks = format!("http://{}/api/store/", collector.addr);
    let third = serde_json::to_vec(&python_event("33333333333333333333333333333333"))?;
    let third = collector.client.post(oldest_sdks).header("X-Sentry-Auth", &auth).body(third).send().await?;

    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.json::<Value>().await?, json!({"id": "11111111111111111111111111111111"}));
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(third.status(), StatusCode::OK);
    assert_eq!(collector.store()?.total_event_count()?, 3);
    collector.stop().await
}

#[tokio::test]
async fn an_envelope_resent_after_a_timeout_is_counted_once() -> TestResult {
    let collector = RunningCollector::start().await?;
    let envelope = python_event_envelope("33333333333333333333333333333333");

    for _ in 0..2 {
        let response = collector.post_envelope(envelope.clone(), None).await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await?, json!({"id": "33333333333333333333333333333333"}));
    }
    assert_eq!(collector.store()?.total_event_count()?, 1);
    collector.stop().await
}

// --- Protocol, limits and bad input: independent of event parsing. ---

#[tokio::test]
async fn sessions_transactions_attachments_and_unknown_items_are_accepted_and_not_stored() -> TestResult {
    let collector = RunningCollector::start().await?;

    let sessions = collector.post_envelope(session_envelope(), None).await?;
    let mixed = python_envelope(
        "44444444444444444444444444444444",
        &[
            ("transaction", br#"{"type":"transaction","spans":[]}"#.to_vec()),
            ("client_report", br#"{"discarded_events":[]}"#.to_vec()),
            ("attachment", b"log line one\nlog line two\n".to_vec()),
            ("sessions", br#"{"aggregates":[]}"#.to_vec()),
            ("a_type_from_the_future", b"\x00\x01binary".to_vec()),
        ],
    );
    let mixed = collector.post_envelope(gzip(&mixed), Some("gzip")).await?;

    assert_eq!(sessions.status(), StatusCode::OK);
    assert_eq!(sessions.json::<Value>().await?, json!({}), "no event id: Relay answers {{}}");
    assert_eq!(mixed.status(), StatusCode::OK);
    assert_eq!(mixed.json::<Value>().await?, json!({"id": "44444444444444444444444444444444"}));
    let store = collector.store()?;
    assert!(store.groups(10)?.is_empty());
    assert_eq!(store.change_marker()?, 0);
    collector.stop().await
}

#[tokio::test]
async fn every_sentry_auth_form_is_accepted_and_an_unknown_key_gets_401() -> TestResult {
    let collector = RunningCollector::start().await?;
    let url = collector.url("envelope");
    let client = &collector.client;

    let header = client
        .post(&url)
        .header("X-Sentry-Auth", format!("Sentry sentry_version=7, sentry_client=sentry.rust/0.34.0, sentry_key={KEY}"))
        .body(session_envelope())
        .send()
        .await?;
    let authorization = client
        .post(&url)
        .header("Authorization", format!("Sentry sentry_key={KEY}"))
        .body(session_envelope())
        .send()
        .await?;
    let query = client.post(format!("{url}?sentry_version=7&sentry_key={KEY}")).body(session_envelope()).send().await?;
    let tunnelled = format!("{}\n{{\"type\":\"session\"}}\n{{}}", json!({"dsn": collector.dsn}));
    let dsn_header = client.post(&url).body(tunnelled).send().await?;
    for response in [header, authorization, query, dsn_header] {
        assert_eq!(response.status(), StatusCode::OK);
    }

    let unknown = client
        .post(format!("{url}?sentry_key=ffffffffffffffffffffffffffffffff"))
        .body(session_envelope())
        .send()
        .await?;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(self::header(&unknown, "x-sentry-error").await.is_some_and(|error| error.contains("sentry_key")));

    let foreign_dsn = format!("{}\n{{\"type\":\"session\"}}\n{{}}", json!({"dsn": "http://ffff@127.0.0.1:1/42"}));
    assert_eq!(client.post(&url).body(foreign_dsn).send().await?.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(client.post(&url).body(session_envelope()).send().await?.status(), StatusCode::FORBIDDEN);

    let other_project =
        client.post(format!("http://{}/api/7/envelope/?sentry_key={KEY}", collector.addr)).body(session_envelope());
    assert_eq!(other_project.send().await?.status(), StatusCode::NOT_FOUND);
    collector.stop().await
}

#[tokio::test]
async fn the_dsn_points_sdks_at_this_collector() -> TestResult {
    let collector = RunningCollector::start().await?;
    assert_eq!(collector.dsn, format!("http://{KEY}@127.0.0.1:{}/{PROJECT}", collector.addr.port()));
    collector.stop().await?;

    let generated = Collector::bind(
        CollectorConfig { listen: "127.0.0.1:0".parse()?, ..CollectorConfig::default() },
        tempfile::tempdir()?.path().join("inbox.sqlite"),
    )
    .await?;
    let key = &generated.config().keys[0];
    assert_eq!(key.len(), 32);
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    Ok(())
}

#[tokio::test]
async fn a_body_over_the_size_limit_gets_413_with_or_without_a_length_header() -> TestResult {
    let collector = RunningCollector::start_with(|config| config.max_body_bytes = 64 * 1024).await?;
    let mut huge = session_envelope();
    huge.extend(b"\n{\"type\":\"attachment\"}\n");
    huge.extend(vec![b'x'; 100 * 1024]);

    let with_length = collector.post_envelope(huge.clone(), None).await?;
    assert_eq!(with_length.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(header(&with_length, "x-sentry-error").await.is_some());

    let path = format!("/api/{PROJECT}/envelope/?sentry_key={KEY}");
    let (status, _) = post_chunked(collector.addr, &path, &[], &huge).await?;
    assert_eq!(status, 413);
    collector.stop().await
}

#[tokio::test]
async fn a_decompression_bomb_is_stopped_at_the_limit_with_413() -> TestResult {
    let collector = RunningCollector::start_with(|config| config.max_decompressed_bytes = 1024 * 1024).await?;
    // 8 MiB of zeros inside an otherwise valid envelope: a few KiB on the wire.
    let mut bomb = session_envelope();
    bomb.extend(b"\n{\"type\":\"attachment\"}\n");
    bomb.extend(vec![0u8; 8 * 1024 * 1024]);

    for (encoding, body) in [("gzip", gzip(&bomb)), ("br", brotli(&bomb)), ("deflate", zlib(&bomb))] {
        assert!(body.len() < 64 * 1024);
        let response = collector.post_envelope(body, Some(encoding)).await?;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{encoding}");
        assert!(header(&response, "x-sentry-error").await.is_some_and(|error| error.contains("decompressed")));
    }
    assert_eq!(collector.post_envelope(gzip(&session_envelope()), Some("gzip")).await?.status(), StatusCode::OK);
    collector.stop().await
}

#[tokio::test]
async fn an_event_item_over_one_mebibyte_gets_413() -> TestResult {
    let collector = RunningCollector::start().await?;
    let mut event = python_event("55555555555555555555555555555555");
    event["extra"]["blob"] = Value::String("x".repeat(1024 * 1024));
    let envelope = python_envelope("55555555555555555555555555555555", &[("event", serde_json::to_vec(&event)?)]);

    let response = collector.post_envelope(gzip(&envelope), Some("gzip")).await?;

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(collector.store()?.groups(1)?.is_empty());
    collector.stop().await
}

#[tokio::test]
async fn garbage_gets_400_with_the_reason_and_leaves_the_store_as_it_was() -> TestResult {
    let collector = RunningCollector::start().await?;
    let mut store = collector.store()?;
    store.insert_event(&stored_crash(), Utc::now())?;
    let marker = store.change_marker()?;

    let garbage: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("not an envelope", b"GET / HTTP/1.1\r\n\r\n".to_vec(), None),
        ("item header without type", b"{}\n{\"length\":2}\n{}\n".to_vec(), None),
        ("length beyond the end", b"{}\n{\"type\":\"event\",\"length\":5000}\n{\"a\":1}\n".to_vec(), None),
        ("event that is not JSON", b"{}\n{\"type\":\"event\"}\n{\"exception\": [oops\n".to_vec(), None),
        ("gzip header lying", b"this is not gzip".to_vec(), Some("gzip")),
        (
            "truncated brotli",
            brotli(&python_event_envelope("66666666666666666666666666666666"))[..20].to_vec(),
            Some("br"),
        ),
        ("unknown encoding", python_event_envelope("77777777777777777777777777777777"), Some("zstd")),
    ];
    for (what, body, encoding) in garbage {
        let response = collector.post_envelope(body, encoding).await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        assert!(header(&response, "x-sentry-error").await.is_some(), "{what}");
        let detail = response.json::<Value>().await?;
        assert!(detail["detail"].as_str().is_some_and(|d| !d.is_empty()), "{what}: {detail}");
    }

    assert_eq!(store.change_marker()?, marker);
    let groups = store.groups(10)?;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].issue.count, Some(1));
    assert_eq!(groups[0].latest_event.as_ref().and_then(|e| e.event_id.as_deref()), stored_crash().event_id.as_deref());
    collector.stop().await
}

#[tokio::test]
async fn a_key_over_its_event_rate_gets_429_with_retry_after() -> TestResult {
    let collector = RunningCollector::start_with(|config| config.rate_limit_per_key = 2).await?;
    let ids =
        ["a0000000000000000000000000000001", "a0000000000000000000000000000002", "a0000000000000000000000000000003"];

    let mut statuses = Vec::new();
    let mut last = None;
    for id in ids {
        let response = collector.post_envelope(python_event_envelope(id), None).await?;
        statuses.push(response.status());
        last = Some(response);
    }
    let limited = last.ok_or("no response")?;

    assert!(statuses[..2].iter().all(|status| *status != StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&limited, "retry-after").await.ok_or("no Retry-After")?.parse()?;
    assert!((1..=2).contains(&retry_after));
    assert_eq!(header(&limited, "x-sentry-rate-limits").await, Some(format!("{retry_after}:error;default:key")));
    // Sessions carry no events and are not limited.
    assert_eq!(collector.post_envelope(session_envelope(), None).await?.status(), StatusCode::OK);
    collector.stop().await
}
