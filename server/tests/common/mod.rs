//! A small LSP client for end-to-end tests: starts the real `crashloom lsp` binary, speaks
//! JSON-RPC over its stdio, answers the server's requests, and collects what it publishes.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Long enough for a slow CI machine; tests wait for an event, they do not time it.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    next_id: i64,
    pub root: PathBuf,
    /// Latest diagnostics per URI.
    pub diagnostics: HashMap<String, Vec<Value>>,
    /// The URI of every publishDiagnostics, in the order they came.
    pub published: Vec<String>,
    /// `window/showMessage` and `window/logMessage` notifications, as (type, message).
    pub messages_shown: Vec<(i64, String)>,
    pub log: Vec<(i64, String)>,
    /// Requests the server sent to the client (`workspace/applyEdit`, `window/showDocument`, ...).
    pub server_requests: Vec<Value>,
    /// Press "cancel" on the next progress the server creates.
    pub cancel_next_progress: bool,
    /// Errors the test expects to see; any other error message fails the test at the end.
    pub expected_errors: Vec<String>,
    /// Error responses to no request the test is waiting for; `shutdown` fails unless taken.
    unread_errors: Vec<Value>,
    /// Results of requests sent with [`Self::send_raw`] or not yet waited for.
    unread_results: Vec<Value>,
    /// `$/progress` values by token, in arrival order.
    pub progress: HashMap<String, Vec<Value>>,
    /// Answer the server's requests as an editor would; when false, never answer any.
    answer_server_requests: bool,
    /// Open documents as the client holds them: text and version, by URI.
    pub documents: HashMap<String, (String, i64)>,
    /// The server's stderr lines.
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    shut_down: bool,
}

/// The capabilities of a capable editor (Neovim, VS Code).
pub fn full_capabilities(encodings: Value) -> Value {
    json!({
        "general": {"positionEncodings": encodings},
        "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}, "workspaceEdit": {"documentChanges": true}},
        "textDocument": {"publishDiagnostics": {"relatedInformation": true}, "hover": {"contentFormat": ["markdown"]}},
        "window": {"workDoneProgress": true, "showDocument": {"support": true}}
    })
}

impl LspClient {
    /// Starts the server on `root` and completes `initialize`/`initialized`.
    pub fn start(root: &Path, initialization_options: Value) -> Self {
        Self::start_with(root, initialization_options, json!(["utf-16"]))
    }

    pub fn start_with(root: &Path, initialization_options: Value, encodings: Value) -> Self {
        Self::start_custom(root, initialization_options, full_capabilities(encodings), true)
    }

    /// Starts the server as a client with these capabilities would, answering the server's
    /// requests or not.
    pub fn start_custom(
        root: &Path,
        initialization_options: Value,
        capabilities: Value,
        answer_server_requests: bool,
    ) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crashloom"))
            .arg("lsp")
            .env("CRASHLOOM_LOG", "crashloom=debug,crashloom::sandbox::copy=trace")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start crashloom lsp");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let stderr_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let collected = stderr_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[server] {line}");
                collected.lock().unwrap().push(line);
            }
        });
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 {
                        return;
                    }
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    if let Some(value) = header.strip_prefix("Content-Length: ") {
                        length = value.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("Content-Length header")];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let message: Value = serde_json::from_slice(&body).expect("the server sends JSON");
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        let root = root.canonicalize().unwrap();
        let mut client = Self {
            child,
            stdin: Some(stdin),
            messages,
            next_id: 1,
            root: root.clone(),
            diagnostics: HashMap::new(),
            published: Vec::new(),
            messages_shown: Vec::new(),
            log: Vec::new(),
            server_requests: Vec::new(),
            cancel_next_progress: false,
            expected_errors: Vec::new(),
            unread_errors: Vec::new(),
            unread_results: Vec::new(),
            progress: HashMap::new(),
            answer_server_requests,
            documents: HashMap::new(),
            stderr: stderr_lines,
            shut_down: false,
        };
        let uri = file_uri(&root);
        let result = client.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": "workspace"}],
                "initializationOptions": initialization_options,
                "capabilities": capabilities,
            }),
        );
        assert_eq!(result["serverInfo"]["name"], "crashloom");
        client.notify("initialized", json!({}));
        client
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Handles messages for up to `wait`.
    pub fn pump(&mut self, wait: Duration) {
        let _ = self.next_message(Instant::now() + wait);
    }

    /// Handles messages until none arrives for `quiet`.
    pub fn pump_until_quiet(&mut self, quiet: Duration) {
        while self.next_message(Instant::now() + quiet).is_some() {}
    }

    pub fn uri(&self, relative: &str) -> String {
        file_uri(&self.root.join(relative))
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response, handling everything that arrives meanwhile.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        match self.request_outcome(method, params) {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    /// Sends a request and waits for its result or error.
    pub fn request_outcome(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response_to(&json!(id), method)
    }

    /// Waits for the response with this id.
    pub fn response_to(&mut self, id: &Value, what: &str) -> Result<Value, Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(at) = self.unread_errors.iter().position(|e| e.get("id") == Some(id)) {
                return Err(self.unread_errors.remove(at)["error"].clone());
            }
            if let Some(at) = self.unread_results.iter().position(|r| r.get("id") == Some(id)) {
                return Ok(self.unread_results.remove(at)["result"].clone());
            }
            self.next_message(deadline).unwrap_or_else(|| panic!("no response to {what} within {WAIT:?}"));
        }
    }

    /// Sends bytes as they are, framing and all.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// The next free request id (for requests sent raw).
    pub fn take_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// Error responses that answered no request of the test, taken (so `shutdown` accepts them).
    pub fn take_unread_errors(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.unread_errors)
    }

    /// Handles messages until `count` unread error responses arrived (or fails after [`WAIT`]).
    pub fn wait_for_unread_errors(&mut self, count: usize) {
        let deadline = Instant::now() + WAIT;
        while self.unread_errors.len() < count {
            if self.next_message(deadline).is_none() {
                panic!("{} of {count} error responses within {WAIT:?}", self.unread_errors.len());
            }
        }
    }

    /// Waits for a request of the server to the client with this method and returns it.
    pub fn wait_for_server_request(&mut self, method: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(request) = self.server_requests.iter().find(|r| r["method"] == method) {
                return request.clone();
            }
            if self.next_message(deadline).is_none() {
                panic!("no {method} from the server within {WAIT:?}");
            }
        }
    }

    /// Presses "cancel" on the progress `token`.
    pub fn cancel_progress(&mut self, token: &str) {
        self.notify("window/workDoneProgress/cancel", json!({"token": token}));
    }

    /// Waits for the end of the progress `token` and returns its message.
    pub fn wait_for_progress_end(&mut self, token: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(end) = self.progress.get(token).and_then(|p| p.iter().find(|v| v["kind"] == "end")) {
                return end["message"].as_str().unwrap_or_default().to_owned();
            }
            if self.next_message(deadline).is_none() {
                panic!("progress {token} did not end within {WAIT:?}: {:?}", self.progress.get(token));
            }
        }
    }

    /// Waits for a progress report of `token` whose message starts with `prefix`.
    pub fn wait_for_progress_message(&mut self, token: &str, prefix: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let reached = self.progress.get(token).is_some_and(|values| {
                values.iter().any(|v| v["message"].as_str().is_some_and(|m| m.starts_with(prefix)))
            });
            if reached {
                return;
            }
            if self.next_message(deadline).is_none() {
                panic!("no progress {prefix:?} for {token} within {WAIT:?}: {:?}", self.progress.get(token));
            }
        }
    }

    /// Waits until the diagnostics of `relative` satisfy `ready`, and returns them.
    pub fn wait_for_diagnostics(&mut self, relative: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let uri = self.uri(relative);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(diagnostics) = self.diagnostics.get(&uri)
                && ready(diagnostics)
            {
                return diagnostics.clone();
            }
            if self.next_message(deadline).is_none() {
                panic!(
                    "diagnostics of {relative} not as expected within {WAIT:?}; last: {:#?}",
                    self.diagnostics.get(&uri)
                );
            }
        }
    }

    /// Waits until the server has shown a message (`window/showMessage`) matching `wanted`.
    pub fn wait_for_shown_message(&mut self, wanted: impl Fn(i64, &str) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !self.messages_shown.iter().any(|(kind, message)| wanted(*kind, message)) {
            if self.next_message(deadline).is_none() {
                panic!("no such message within {WAIT:?}; shown: {:?}", self.messages_shown);
            }
        }
    }

    pub fn open(&mut self, relative: &str) -> String {
        let text = std::fs::read_to_string(self.root.join(relative)).unwrap();
        let uri = self.uri(relative);
        let language = match relative.rsplit('.').next() {
            Some("py") => "python",
            Some("js") => "javascript",
            Some("ts") => "typescript",
            Some("rs") => "rust",
            Some("go") => "go",
            _ => "plaintext",
        };
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        );
        self.documents.insert(uri.clone(), (text, 1));
        uri
    }

    /// The open document's text as the client holds it.
    pub fn text(&self, relative: &str) -> String {
        self.documents[&self.uri(relative)].0.clone()
    }

    /// Types into an open document: replaces (line, character)..(line, character) with `new_text`
    /// and sends the change incrementally.
    pub fn edit(&mut self, relative: &str, start: (usize, usize), end: (usize, usize), new_text: &str) {
        let uri = self.uri(relative);
        let (text, version) = self.documents.get_mut(&uri).unwrap();
        let (from, to) = (offset_of(text, start), offset_of(text, end));
        text.replace_range(from..to, new_text);
        *version += 1;
        let version = *version;
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": range_json(start, end), "text": new_text}]
            }),
        );
    }

    /// Applies a `WorkspaceEdit` to the open documents as Neovim does: the new text is diffed
    /// against the old and the one changed span is sent (so a guard inserted before a line shows
    /// up as an insertion after that line's indentation).
    fn apply_workspace_edit(&mut self, edit: &Value) {
        let mut by_uri: Vec<(String, Vec<Value>)> = Vec::new();
        if let Some(changes) = edit["changes"].as_object() {
            by_uri.extend(changes.iter().map(|(uri, edits)| (uri.clone(), edits.as_array().unwrap().clone())));
        }
        if let Some(document_changes) = edit["documentChanges"].as_array() {
            for change in document_changes {
                let uri = change["textDocument"]["uri"].as_str().unwrap().to_owned();
                let version = &change["textDocument"]["version"];
                if let (Some((_, ours)), Some(theirs)) = (self.documents.get(&uri), version.as_i64()) {
                    assert_eq!(*ours, theirs, "the edit is for version {theirs} of {uri}, the editor has {ours}");
                }
                by_uri.push((uri, change["edits"].as_array().unwrap().clone()));
            }
        }
        for (uri, mut edits) in by_uri {
            let Some((text, version)) = self.documents.get_mut(&uri) else { continue };
            let old = text.clone();
            let position =
                |p: &Value| (p["line"].as_u64().unwrap() as usize, p["character"].as_u64().unwrap() as usize);
            edits.sort_by_key(|e| std::cmp::Reverse(position(&e["range"]["start"])));
            let mut new = old.clone();
            for edit in &edits {
                let from = offset_of(&new, position(&edit["range"]["start"]));
                let to = offset_of(&new, position(&edit["range"]["end"]));
                new.replace_range(from..to, edit["newText"].as_str().unwrap());
            }
            let prefix = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
            let suffix =
                old[prefix..].bytes().rev().zip(new[prefix..].bytes().rev()).take_while(|(a, b)| a == b).count();
            let (start, end) = (position_of(&old, prefix), position_of(&old, old.len() - suffix));
            let inserted = new[prefix..new.len() - suffix].to_owned();
            *text = new;
            *version += 1;
            let version = *version;
            self.notify(
                "textDocument/didChange",
                json!({
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"range": range_json(start, end), "text": inserted}]
                }),
            );
        }
    }

    /// Shuts the server down cleanly and checks it exits with success.
    pub fn shutdown(mut self) {
        let result = self.request("shutdown", Value::Null);
        assert_eq!(result, Value::Null);
        self.notify("exit", Value::Null);
        self.shut_down = true;
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the server exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "the server did not exit after `exit`");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.assert_no_unexpected_errors();
        assert!(self.unread_errors.is_empty(), "error responses nobody read: {:?}", self.unread_errors);
        let stderr = self.stderr.lock().unwrap();
        assert!(!stderr.iter().any(|line| line.contains("panicked")), "the server panicked: {stderr:?}");
    }

    /// The server's stderr lines so far (its log).
    pub fn server_log(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Closes the server's input and returns how it exited (it must, within [`WAIT`]).
    pub fn close_input(&mut self) -> std::process::ExitStatus {
        self.stdin = None;
        self.shut_down = true;
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit at the end of its input");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn assert_no_unexpected_errors(&self) {
        for (kind, message) in self.messages_shown.iter().chain(&self.log) {
            if *kind == 1 && !self.expected_errors.iter().any(|e| message.contains(e)) {
                panic!("the server reported an unexpected error: {message}");
            }
        }
    }

    fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).unwrap();
        let stdin = self.stdin.as_mut().unwrap();
        write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        stdin.write_all(&body).unwrap();
        stdin.flush().unwrap();
    }

    /// Handles one incoming message; `None` when the deadline passed first.
    fn next_message(&mut self, deadline: Instant) -> Option<Value> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let message = match self.messages.recv_timeout(timeout) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => return None,
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output (did it crash?)"),
        };
        match (message.get("method").and_then(Value::as_str), message.get("id")) {
            (Some(_), Some(_)) if !self.answer_server_requests => self.server_requests.push(message.clone()),
            (Some(method), Some(id)) => {
                // A request from the server: answer as an editor would.
                let result = match method {
                    "workspace/configuration" => json!([null]),
                    "window/showDocument" => json!({"success": true}),
                    "workspace/applyEdit" => {
                        self.apply_workspace_edit(&message["params"]["edit"]);
                        json!({"applied": true})
                    }
                    _ => Value::Null,
                };
                let id = id.clone();
                self.server_requests.push(message.clone());
                self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
                if method == "window/workDoneProgress/create" && std::mem::take(&mut self.cancel_next_progress) {
                    let token = message["params"]["token"].clone();
                    self.send(&json!({"jsonrpc": "2.0", "method": "window/workDoneProgress/cancel", "params": {"token": token}}));
                }
            }
            (Some("textDocument/publishDiagnostics"), None) => {
                let uri = message["params"]["uri"].as_str().unwrap().to_owned();
                let diagnostics = message["params"]["diagnostics"].as_array().unwrap().clone();
                self.published.push(uri.clone());
                self.diagnostics.insert(uri, diagnostics);
            }
            (Some("window/showMessage"), None) => {
                let params = &message["params"];
                self.messages_shown
                    .push((params["type"].as_i64().unwrap(), params["message"].as_str().unwrap().to_owned()));
            }
            (Some("window/logMessage"), None) => {
                let params = &message["params"];
                self.log.push((params["type"].as_i64().unwrap(), params["message"].as_str().unwrap().to_owned()));
            }
            (Some("$/progress"), None) => {
                let params = &message["params"];
                let token = params["token"].as_str().map_or_else(|| params["token"].to_string(), str::to_owned);
                self.progress.entry(token).or_default().push(params["value"].clone());
            }
            (None, Some(_)) if message.get("error").is_some() => self.unread_errors.push(message.clone()),
            (None, Some(_)) => self.unread_results.push(message.clone()),
            _ => {}
        }
        Some(message)
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        if !self.shut_down {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The processes (pids) whose command line is exactly `command`, read from `/proc`.
/// Whether a process is alive: a killed one waiting to be reaped (a zombie) counts as gone.
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

pub fn processes_running(command: &[&str]) -> Vec<u32> {
    let wanted: Vec<u8> = command.iter().flat_map(|arg| arg.bytes().chain([0])).collect();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| line == wanted))
        .collect()
}

/// The byte offset of a (line, character) position in ASCII text.
fn offset_of(text: &str, (line, character): (usize, usize)) -> usize {
    let line_start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    let line_len = text[line_start..].split('\n').next().map_or(0, str::len);
    line_start + character.min(line_len)
}

fn position_of(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    (line, offset - before.rfind('\n').map_or(0, |i| i + 1))
}

fn range_json(start: (usize, usize), end: (usize, usize)) -> Value {
    json!({"start": {"line": start.0, "character": start.1}, "end": {"line": end.0, "character": end.1}})
}

/// Makes `root` a git repository of its own with everything in it committed.
pub fn commit_all(root: &Path) {
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com"])
            .args(args)
            .current_dir(root)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "Receipts name the customer"]);
}

pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A copy of an example workspace in a temporary folder, so tests can change it freely.
pub fn example_workspace(name: &str) -> tempfile::TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&source, dir.path());
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__"
                && entry.file_name() != "node_modules"
                && entry.file_name() != "target"
            {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A diagnostic as `(line, severity, first line of the message)`, 0-based line.
pub fn summary(diagnostic: &Value) -> (u64, u64, String) {
    (
        diagnostic["range"]["start"]["line"].as_u64().unwrap(),
        diagnostic["severity"].as_u64().unwrap(),
        diagnostic["message"].as_str().unwrap().lines().next().unwrap().to_owned(),
    )
}
