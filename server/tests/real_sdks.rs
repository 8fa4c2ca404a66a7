//! Real Sentry SDKs report real crashes of the example apps to `crashloom collect`, and the
//! language server shows them on the line that crashed: sentry-python (brotli, and gzip when
//! brotli is missing), @sentry/node, and the Rust `sentry` crate's panic integration. Then the
//! collector is killed with SIGKILL in the middle of a load, and every event it acknowledged must
//! be in the store.
//!
//! The SDKs are installed by `tests/setup-tools.sh`: `.venv` (sentry-sdk, brotli),
//! `tests/.tools/node-sdk` (@sentry/node), and the app in `tests/sdk/rust-app` (built into its own
//! `target/`). A missing SDK fails the test with a message naming that script.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{LspClient, WAIT, example_workspace, summary};
use crashloom::source::store::CrashStore;
use serde_json::Value;

const ERROR: u64 = 1;

/// The root of this repository.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// A file `tests/setup-tools.sh` installs, or a failed test that says to run it.
fn installed(relative: &str) -> PathBuf {
    let path = repo().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run tests/setup-tools.sh, which installs the Sentry SDKs these tests use",
        path.display()
    );
    path
}

/// A copy of an example app whose crash files are removed, so that only the collector feeds it.
fn workspace_fed_by_the_collector(example: &str) -> tempfile::TempDir {
    let workspace = example_workspace(example);
    let crash_files = workspace.path().join(".crashloom/crashes");
    if crash_files.exists() {
        std::fs::remove_dir_all(crash_files).unwrap();
    }
    workspace
}

/// `crashloom collect` on a workspace, as a user starts it.
struct CollectorProcess {
    child: Child,
    /// The DSN it printed.
    dsn: String,
    key: String,
    addr: SocketAddr,
    store_path: PathBuf,
}

impl CollectorProcess {
    fn start(workspace: &Path, extra_args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crashloom"))
            .args(["collect", "--listen", "127.0.0.1:0", "--workspace"])
            .arg(workspace)
            .args(extra_args)
            .env("CRASHLOOM_LOG", "crashloom=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start crashloom collect");
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[collector] {line}");
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + WAIT;
        let (mut dsn, mut store_path) = (None, None);
        while dsn.is_none() || store_path.is_none() {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("crashloom collect printed no DSN and store within {WAIT:?}"));
            if let Some(printed) = line.strip_prefix("Point your Sentry SDK at this DSN: ") {
                dsn = Some(printed.to_owned());
            } else if let Some(printed) = line.strip_prefix("Crashes go to ") {
                store_path = Some(PathBuf::from(printed));
            }
        }
        let dsn = dsn.unwrap();
        let (key, host) = dsn.strip_prefix("http://").and_then(|rest| rest.split_once('@')).unwrap();
        let addr = host.strip_suffix("/1").unwrap().parse().unwrap();
        let store_path = store_path.unwrap();
        assert_eq!(store_path, workspace.canonicalize().unwrap().join(".crashloom/crashloom.db"));
        Self { key: key.to_owned(), child, dsn, addr, store_path }
    }

    /// SIGKILL: the process gets no chance to finish anything.
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP relay between an SDK and the collector that keeps the bytes the SDK sent, so a test can
/// check the HTTP headers the SDK put on the wire (the collector does not echo them).
struct WireTap {
    addr: SocketAddr,
    upstream: SocketAddr,
    /// What the SDK sent, one buffer per connection.
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// One request an SDK sent, as seen on the wire.
#[derive(Debug, PartialEq)]
struct SentRequest {
    request_line: String,
    content_encoding: Option<String>,
}

impl WireTap {
    fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::clone(&sent);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut server) = TcpStream::connect(upstream) else { return };
                let (mut client_reader, mut server_writer) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let connection = {
                    let mut connections = connections.lock().unwrap();
                    connections.push(Vec::new());
                    connections.len() - 1
                };
                let record = Arc::clone(&connections);
                std::thread::spawn(move || {
                    let mut chunk = [0; 16 * 1024];
                    while let Ok(n @ 1..) = client_reader.read(&mut chunk) {
                        record.lock().unwrap()[connection].extend_from_slice(&chunk[..n]);
                        if server_writer.write_all(&chunk[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server_writer.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Self { addr, upstream, sent }
    }

    /// The collector's DSN, pointed at the tap.
    fn dsn(&self, collector_dsn: &str) -> String {
        collector_dsn.replace(&self.upstream.to_string(), &self.addr.to_string())
    }

    /// Every request sent so far, in the order of the connections.
    fn requests(&self) -> Vec<SentRequest> {
        let sent = self.sent.lock().unwrap();
        let mut requests = Vec::new();
        for bytes in sent.iter() {
            let mut rest = &bytes[..];
            while let Some(start) = find(rest, b"POST /") {
                let head_end = find(&rest[start..], b"\r\n\r\n").map_or(rest.len(), |end| start + end);
                let head = String::from_utf8_lossy(&rest[start..head_end]);
                let mut lines = head.split("\r\n");
                let request_line = lines.next().unwrap_or_default().to_owned();
                let content_encoding = lines
                    .filter_map(|line| line.split_once(':'))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-encoding"))
                    .map(|(_, value)| value.trim().to_owned());
                requests.push(SentRequest { request_line, content_encoding });
                rest = &rest[head_end..];
            }
        }
        requests
    }

    fn content_encodings(&self) -> Vec<Option<String>> {
        self.requests().into_iter().map(|request| request.content_encoding).collect()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Runs a crashing program with a real SDK and checks it crashed the way the example documents.
fn run_crashing(command: &mut Command, expected_exit: i32, expected_stderr: &str) -> Output {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(expected_exit), "{command:?} did not crash as expected; stderr:\n{stderr}");
    assert!(stderr.contains(expected_stderr), "{command:?} did not print {expected_stderr:?}; stderr:\n{stderr}");
    output
}

/// The crash groups of a workspace, as `crashloom crashes --json` prints them.
fn crash_groups(workspace: &Path) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["crashes", "--json", "--workspace"])
        .arg(workspace)
        .output()
        .unwrap();
    assert!(output.status.success(), "crashloom crashes failed: {}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report["groups"].as_array().unwrap().clone()
}

/// The crash site of a group, as `(path, line, function)`.
fn crash_site(group: &Value) -> (String, u64, String) {
    let site = group["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|site| site["role"] == "crash_site")
        .unwrap_or_else(|| panic!("no crash site in {group:#}"));
    (
        site["path"].as_str().unwrap().to_owned(),
        site["line"].as_u64().unwrap(),
        site["function"].as_str().unwrap().to_owned(),
    )
}

/// Waits until the server shows `message` as an error at `line` (0-based) of `file`. Crashes from
/// the inbox also say when they were last seen (`, last 2026-03-01 12:00 UTC`), which is left out.
fn wait_for_error(client: &mut LspClient, file: &str, line: u64, message: &str) -> Value {
    let is_it = |diagnostic: &Value| {
        let (at, severity, text) = summary(diagnostic);
        let without_last_seen = text.split_once(", last ").map_or(text.as_str(), |(before, _)| before);
        (at, severity, without_last_seen) == (line, ERROR, message)
    };
    let diagnostics = client.wait_for_diagnostics(file, |diagnostics| diagnostics.iter().any(is_it));
    diagnostics.into_iter().find(is_it).unwrap()
}

/// The range of a diagnostic as `((line, character), (line, character))`, 0-based.
fn range(diagnostic: &Value) -> ((u64, u64), (u64, u64)) {
    let position = |p: &Value| (p["line"].as_u64().unwrap(), p["character"].as_u64().unwrap());
    (position(&diagnostic["range"]["start"]), position(&diagnostic["range"]["end"]))
}

#[derive(Clone, Copy, PartialEq)]
enum Brotli {
    Installed,
    Missing,
}

/// The shop's guest checkout, run by `tests/sdk/python/guest_checkout.py` with sentry-sdk.
fn guest_checkout(workspace: &Path, dsn: &str, brotli: Brotli) {
    let python = installed(".venv/bin/python");
    let mut command = Command::new(python);
    command
        .arg(repo().join("tests/sdk/python/guest_checkout.py"))
        .current_dir(workspace)
        .env("SENTRY_DSN", dsn)
        .env("WITHOUT_BROTLI", if brotli == Brotli::Missing { "1" } else { "0" })
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run_crashing(&mut command, 1, "TypeError: 'NoneType' object is not subscriptable");
}

/// Three guest checkouts crash, sentry-python reports them, the collector groups them, and the
/// editor shows the group on `receipt`'s line; a fourth crash shows up while the editor is open.
fn python_guest_checkout_crashes_reach_the_editor(brotli: Brotli, encoding: &str) {
    let workspace = workspace_fed_by_the_collector("shop-python");
    let collector = CollectorProcess::start(workspace.path(), &[]);
    let tap = WireTap::start(collector.addr);
    let dsn = tap.dsn(&collector.dsn);
    for _ in 0..3 {
        guest_checkout(workspace.path(), &dsn, brotli);
    }
    let encodings = tap.content_encodings();
    assert!(!encodings.is_empty(), "sentry-sdk sent nothing");
    assert!(
        encodings.iter().all(|sent| sent.as_deref() == Some(encoding)),
        "sentry-sdk should compress with {encoding} here (is brotli installed in .venv? run tests/setup-tools.sh); sent: {encodings:?}"
    );

    let groups = crash_groups(workspace.path());
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let group = &groups[0];
    assert_eq!(group["title"], "TypeError: 'NoneType' object is not subscriptable");
    assert_eq!(group["count"], 3);
    assert_eq!(group["releases"], serde_json::json!(["shop@1.0.0"]));
    assert_eq!(crash_site(group), ("shop/orders.py".to_owned(), 26, "receipt".to_owned()));
    // include_local_variables: the SDK sent the frame's locals, and the store kept them.
    let store = CrashStore::open(&collector.store_path).unwrap();
    let stored = store.groups(10).unwrap();
    let event = stored[0].latest_event.as_ref().unwrap();
    let receipt = event.outermost().unwrap().frames.last().unwrap();
    assert_eq!(receipt.function.as_deref(), Some("receipt"));
    assert!(receipt.vars.contains(&("customer".to_owned(), "None".to_owned())), "{:?}", receipt.vars);

    let mut client = LspClient::start(workspace.path(), Value::Null);
    let diagnostic = wait_for_error(
        &mut client,
        "shop/orders.py",
        25,
        "TypeError: 'NoneType' object is not subscriptable — crashed here 3 times",
    );
    // `name = customer["name"]`, without the indentation.
    assert_eq!(range(&diagnostic), ((25, 4), (25, 27)));
    guest_checkout(workspace.path(), &dsn, brotli);
    wait_for_error(
        &mut client,
        "shop/orders.py",
        25,
        "TypeError: 'NoneType' object is not subscriptable — crashed here 4 times",
    );
    client.shutdown();
}

#[test]
fn python_sdk_with_brotli_reports_the_guest_checkout_crash_to_the_editor() {
    python_guest_checkout_crashes_reach_the_editor(Brotli::Installed, "br");
}

#[test]
fn python_sdk_without_brotli_falls_back_to_gzip_and_the_crash_still_reaches_the_editor() {
    python_guest_checkout_crashes_reach_the_editor(Brotli::Missing, "gzip");
}

#[test]
fn node_sdk_reports_the_cart_checkout_crash_to_the_editor() {
    let node_modules = installed("tests/.tools/node-sdk/node_modules");
    installed("tests/.tools/node-sdk/node_modules/@sentry/node/package.json");
    let workspace = workspace_fed_by_the_collector("cart-node");
    let collector = CollectorProcess::start(workspace.path(), &[]);
    let tap = WireTap::start(collector.addr);

    let mut node = Command::new("node");
    node.arg("--import")
        .arg(repo().join("tests/sdk/node/instrument.js"))
        .args(["src/cli.js", "data/orders.json"])
        .current_dir(workspace.path())
        .env("SENTRY_DSN", tap.dsn(&collector.dsn))
        .env("NODE_PATH", node_modules);
    run_crashing(&mut node, 1, "TypeError: Cannot read properties of undefined (reading 'percent')");
    // @sentry/node compresses only bodies over 32 KiB.
    let requests = tap.requests();
    assert!(!requests.is_empty(), "@sentry/node sent nothing");
    assert!(requests.iter().all(|r| r.content_encoding.is_none()), "{requests:?}");

    let groups = crash_groups(workspace.path());
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0]["title"], "TypeError: Cannot read properties of undefined (reading 'percent')");
    assert_eq!(groups[0]["count"], 1);
    assert_eq!(crash_site(&groups[0]), ("src/cart.js".to_owned(), 12, "discount".to_owned()));

    let mut client = LspClient::start(workspace.path(), Value::Null);
    let diagnostic = wait_for_error(
        &mut client,
        "src/cart.js",
        11,
        "TypeError: Cannot read properties of undefined (reading 'percent') — crashed here 1 time",
    );
    assert_eq!(range(&diagnostic), ((11, 2), (11, 53)));
    client.shutdown();
}

/// Builds `tests/sdk/rust-app` into its own target folder (a no-op once `tests/setup-tools.sh`
/// built it) and returns its binary.
fn rust_app_binary() -> PathBuf {
    let app = installed("tests/sdk/rust-app");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--quiet", "--locked", "--manifest-path"])
        .arg(app.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", app.join("target"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "tests/sdk/rust-app does not build (tests/setup-tools.sh builds it once, fetching the sentry crate from crates.io):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    app.join("target/debug/stock-picker")
}

#[test]
fn rust_sentry_panic_integration_reports_the_unwrap_panic_to_the_editor() {
    let binary = rust_app_binary();
    // The app's sources, deployed somewhere else than where they were built.
    let workspace = tempfile::tempdir().unwrap();
    let app = repo().join("tests/sdk/rust-app");
    common::copy_dir(&app.join("src"), &workspace.path().join("src"));
    std::fs::copy(app.join("Cargo.toml"), workspace.path().join("Cargo.toml")).unwrap();
    let collector = CollectorProcess::start(workspace.path(), &[]);
    let tap = WireTap::start(collector.addr);

    let mut app = Command::new(binary);
    app.current_dir(workspace.path()).env("SENTRY_DSN", tap.dsn(&collector.dsn));
    run_crashing(&mut app, 101, "called `Option::unwrap()` on a `None` value");
    let requests = tap.requests();
    assert!(!requests.is_empty(), "the sentry crate sent nothing");
    assert!(requests.iter().all(|r| r.content_encoding.is_none()), "{requests:?}");

    let groups = crash_groups(workspace.path());
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0]["exception"], "panic");
    assert_eq!(groups[0]["message"], "called `Option::unwrap()` on a `None` value");
    assert_eq!(groups[0]["count"], 1);
    assert_eq!(crash_site(&groups[0]), ("src/main.rs".to_owned(), 8, "reserve".to_owned()));

    let mut client = LspClient::start(workspace.path(), Value::Null);
    let diagnostic = wait_for_error(
        &mut client,
        "src/main.rs",
        7,
        "panic: called `Option::unwrap()` on a `None` value — crashed here 1 time",
    );
    assert_eq!(range(&diagnostic), ((7, 4), (7, 43)));
    client.shutdown();
}

/// An envelope as a real SDK sent it (`tests/fixtures/sentry/envelopes/`), decompressed, and the
/// encoding it was sent with.
struct CapturedEnvelope {
    body: Vec<u8>,
    encoding: Option<&'static str>,
    event_id: String,
}

impl CapturedEnvelope {
    fn all() -> Vec<Self> {
        let folder = repo().join("tests/fixtures/sentry/envelopes");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder).unwrap().map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        let envelopes: Vec<Self> = paths
            .iter()
            .map(|path| {
                let name = path.file_name().unwrap().to_str().unwrap();
                let sent = std::fs::read(path).unwrap();
                let mut body = Vec::new();
                let encoding = if name.ends_with(".gzip.bin") {
                    flate2::read::GzDecoder::new(&sent[..]).read_to_end(&mut body).unwrap();
                    Some("gzip")
                } else if name.ends_with(".br.bin") {
                    brotli::Decompressor::new(&sent[..], 4096).read_to_end(&mut body).unwrap();
                    Some("br")
                } else {
                    body = sent;
                    None
                };
                let header_line = body.split(|b| *b == b'\n').next().unwrap();
                let header: Value = serde_json::from_slice(header_line).unwrap();
                let event_id = header["event_id"].as_str().unwrap().to_owned();
                Self { body, encoding, event_id }
            })
            .collect();
        assert!(envelopes.len() >= 5, "captured envelopes missing in {}", folder.display());
        envelopes
    }

    /// The same envelope for another event: the id is replaced (same length, so item lengths
    /// stay right) and the body compressed as the SDK did.
    fn with_event_id(&self, event_id: &str) -> Vec<u8> {
        assert_eq!(event_id.len(), self.event_id.len());
        let mut body = self.body.clone();
        let old = self.event_id.as_bytes();
        let mut at = 0;
        while let Some(found) = find(&body[at..], old) {
            body[at + found..at + found + old.len()].copy_from_slice(event_id.as_bytes());
            at += found + old.len();
        }
        match self.encoding {
            Some("gzip") => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(&body).unwrap();
                encoder.finish().unwrap()
            }
            Some(_) => {
                let mut compressed = Vec::new();
                {
                    let mut encoder = brotli::CompressorWriter::new(&mut compressed, 4096, 1, 22);
                    encoder.write_all(&body).unwrap();
                }
                compressed
            }
            None => body,
        }
    }
}

/// One envelope posted the way SDKs post it, on a connection of its own, with a plain socket.
/// Returns the status and the whole response.
fn post_envelope(addr: SocketAddr, key: &str, body: &[u8], encoding: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(WAIT))?;
    let mut head = format!(
        "POST /api/1/envelope/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         X-Sentry-Auth: Sentry sentry_key={key}, sentry_version=7, sentry_client=crashloom-tests/1.0\r\n\
         Content-Type: application/x-sentry-envelope\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(encoding) = encoding {
        head.push_str(&format!("Content-Encoding: {encoding}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    Ok((status, response))
}

#[test]
fn every_event_the_collector_acknowledged_survives_kill_9_in_the_middle_of_a_load() {
    const SENDERS: usize = 6;
    const ACKNOWLEDGED_BEFORE_THE_KILL: usize = 1000;
    let workspace = tempfile::tempdir().unwrap();
    let mut collector = CollectorProcess::start(workspace.path(), &["--rate-limit", "0"]);
    let envelopes = Arc::new(CapturedEnvelope::all());
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let killed = Arc::new(AtomicBool::new(false));

    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (envelopes, acknowledged, killed) =
                (Arc::clone(&envelopes), Arc::clone(&acknowledged), Arc::clone(&killed));
            let (addr, key) = (collector.addr, collector.key.clone());
            std::thread::spawn(move || {
                // Returns how many envelopes it sent, the last one cut off by the kill.
                for request in 0.. {
                    let event_id = format!("{sender:016x}{request:016x}");
                    let envelope = &envelopes[(sender + request) % envelopes.len()];
                    let body = envelope.with_event_id(&event_id);
                    match post_envelope(addr, &key, &body, envelope.encoding) {
                        Ok((200, response)) if response.contains(&event_id) => {
                            acknowledged.lock().unwrap().push(event_id);
                        }
                        _ if killed.load(Ordering::SeqCst) => return request + 1,
                        Ok((status, response)) => panic!("the collector answered {status}: {response}"),
                        Err(error) => panic!("a request failed before the collector was killed: {error}"),
                    }
                }
                unreachable!()
            })
        })
        .collect();

    let deadline = Instant::now() + WAIT;
    while acknowledged.lock().unwrap().len() < ACKNOWLEDGED_BEFORE_THE_KILL {
        assert!(Instant::now() < deadline, "the collector acknowledged too few events within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    killed.store(true, Ordering::SeqCst);
    collector.kill_9();
    let sent: usize = senders.into_iter().map(|sender| sender.join().unwrap()).sum();
    let acknowledged = acknowledged.lock().unwrap().clone();
    // Sent, but never answered with a whole 200: the senders were busy when the kill came.
    let cut_off = sent - acknowledged.len();
    eprintln!("{sent} envelopes sent, {} acknowledged, {cut_off} cut off by kill -9", acknowledged.len());
    assert!(cut_off > 0, "the kill came after the load, not in the middle of it");

    // The store opens as the next collector or editor would open it, after the crash.
    let store = CrashStore::open(&collector.store_path).unwrap();
    let counted = store.total_event_count().unwrap();
    // Every event id the store ever took is in `seen_event_ids` (groups keep only their latest
    // events in full); the store has no API to list them, so ask SQLite.
    let connection = rusqlite::Connection::open(&collector.store_path).unwrap();
    let stored: HashSet<String> = connection
        .prepare("SELECT event_id FROM seen_event_ids")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events are not in the store after kill -9: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    // At most the cut-off requests were committed without their 200 reaching the sender.
    assert!(stored.len() <= sent, "{} events stored, only {sent} sent", stored.len());
    assert_eq!(counted, stored.len() as u64, "every stored event is counted once");
}

/// The moment the editor opens the workspace is the moment a crash is most likely to come in
/// (the app under test is started next to it). An event the collector stores right after the
/// server read the inbox must still show up.
#[test]
fn an_event_that_arrives_right_after_the_editor_read_the_inbox_is_shown() {
    // The program the captured envelopes came from, so their frames land in the workspace.
    let workspace = tempfile::tempdir().unwrap();
    common::copy_dir(&repo().join("tests/fixtures/sentry/programs/python"), workspace.path());
    let collector = CollectorProcess::start(workspace.path(), &[]);
    let key_error = CapturedEnvelope::all().into_iter().find(|e| e.encoding == Some("br")).unwrap();
    let post = |event_id: &str| {
        let (status, response) =
            post_envelope(collector.addr, &collector.key, &key_error.with_event_id(event_id), key_error.encoding)
                .unwrap();
        assert_eq!(status, 200, "{response}");
    };
    post("00000000000000000000000000000001");

    let mut client = LspClient::start(workspace.path(), Value::Null);
    wait_for_error(&mut client, "shop/orders.py", 4, "KeyError: 'banana' — crashed here 1 time");
    post("00000000000000000000000000000002");
    wait_for_error(&mut client, "shop/orders.py", 4, "KeyError: 'banana' — crashed here 2 times");
    client.shutdown();
}

/// With no `[validate] reproduce` configured, the investigation derives a reproduction from what
/// sentry-python captured (the crashing function's arguments) and still proves the fix.
#[test]
fn a_reproduction_derived_from_captured_arguments_judges_the_fix() {
    let workspace = workspace_fed_by_the_collector("shop-python");
    std::fs::write(
        workspace.path().join("crashloom.toml"),
        "[mapping]\nroots = [{ from = \"/srv/shop-python/\", to = \"\" }]\n\n[validate]\ntest = \"python3 -m unittest -q\"\n",
    )
    .unwrap();
    let collector = CollectorProcess::start(workspace.path(), &[]);
    guest_checkout(workspace.path(), &collector.dsn, Brotli::Installed);
    let group = crash_groups(workspace.path()).into_iter().find(|g| g["exception"] == "TypeError").unwrap();
    let crash = group["short_id"].as_str().unwrap().to_owned();

    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["investigate", "--json", "--crash", &crash, "--workspace"])
        .arg(workspace.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let investigation: Value = serde_json::from_slice(&output.stdout).unwrap();
    let validation = &investigation["validation"];
    assert_eq!(validation["reproduction"]["origin"]["kind"], "captured_values", "{validation:#}");
    let reproduce = &validation["rungs"][1];
    let detail = reproduce["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("Reproduction written from the crash's captured values: receipt(order, customers)"),
        "{detail}"
    );
    assert!(
        reproduce["commands"][0]["output"]
            .as_str()
            .unwrap()
            .contains("TypeError: 'NoneType' object is not subscriptable")
    );
    // The offline change raises OrderError instead: the captured call still fails, so it is not a fix.
    assert_eq!(validation["outcome"], "converted");
    assert_eq!(validation["validated"], false);

    // A change that lets the guest through makes the same captured call succeed.
    let root = workspace.path();
    let config = crashloom::config::Config::load(root).unwrap();
    let loaded = crashloom::engine::load_workspace(root, &config).unwrap();
    let group = loaded.picture.groups.iter().find(|g| g.exception == "TypeError").unwrap().clone();
    let fix = crashloom::investigate::FixProposal {
        summary: "A guest has no customer record".into(),
        rationale: String::new(),
        changes: vec![crashloom::sandbox::FileChange::replace(
            "shop/orders.py",
            "    name = customer[\"name\"]\n",
            "    name = customer[\"name\"] if customer else \"Guest\"\n",
        )],
        hides_symptom: false,
        by: "test".into(),
    };
    let validator =
        crashloom::investigate::validator::Validator { root, validate: &config.validate, sandbox: &config.sandbox };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = runtime.block_on(validator.validate(&group, &fix)).unwrap();
    assert!(report.validated, "{report:#?}");
    assert_eq!(report.outcome, Some(crashloom::investigate::validator::CrashOutcome::Fixed));
    // The script lived in the sandbox copy only.
    assert!(!workspace.path().join(".crashloom/repro").exists());
}
