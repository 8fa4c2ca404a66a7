//! A local stand-in for the three model APIs, speaking their documented wire formats: OpenAI Chat
//! Completions (`POST /chat/completions`, `Authorization: Bearer`, `tool_calls`, SSE chunks with
//! `delta.tool_calls` ending in `data: [DONE]`), Anthropic Messages (`POST /v1/messages`,
//! `x-api-key` and `anthropic-version`, `tool_use`/`tool_result` blocks, SSE events from
//! `message_start` to `message_stop`) and Ollama (`POST /api/chat`, `tool_calls` with object
//! arguments, NDJSON lines ending with `done: true`).
//!
//! It replays a script of replies, one per request, and records every request (path, headers,
//! body) so tests assert what was sent. It checks what it is sent the way the real services do:
//! a wrong key gets the provider's 401 body, and a conversation whose tool results do not answer
//! the tool calls before them gets a 400.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const KEY: &str = "sk-test-0123456789abcdefghijklmnop";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Ollama,
}

impl Provider {
    pub fn all() -> [Provider; 3] {
        [Provider::OpenAi, Provider::Anthropic, Provider::Ollama]
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Ollama => "ollama",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Provider::OpenAi => "/chat/completions",
            Provider::Anthropic => "/v1/messages",
            Provider::Ollama => "/api/chat",
        }
    }
}

/// One scripted reply.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A final answer.
    Text(String),
    /// Tool calls: (name, arguments as the model writes them, possibly broken JSON).
    Tools(Vec<(String, String)>),
    /// An HTTP error with an optional `retry-after`.
    Status(u16, Option<String>),
    /// No answer for this long, then the text.
    Slow(Duration, String),
    /// The reply, its stream cut off before the end.
    Truncated(Box<Reply>),
}

pub fn tool(name: &str, arguments: Value) -> (String, String) {
    (name.to_owned(), arguments.to_string())
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub raw: String,
}

struct Shared {
    provider: Provider,
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
}

pub struct FakeModel {
    pub url: String,
    shared: Arc<Shared>,
    _runtime: tokio::runtime::Runtime,
}

impl FakeModel {
    pub fn start(provider: Provider, script: Vec<Reply>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let shared = Arc::new(Shared { provider, script: Mutex::new(script.into()), requests: Mutex::new(Vec::new()) });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url: format!("http://{address}"), shared, _runtime: runtime }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn replies_left(&self) -> usize {
        self.shared.script.lock().unwrap().len()
    }

    /// The `[model]` section pointing at this stand-in.
    pub fn config_toml(&self, stream: bool, extra: &str) -> String {
        let base = match self.shared.provider {
            Provider::OpenAi => format!("{}/v1", self.url),
            _ => self.url.clone(),
        };
        format!(
            "[model]\nprovider = \"{}\"\nmodel = \"scripted-1\"\nbase_url = \"{base}\"\nstream = {stream}\ntemperature = 0.2\n{extra}",
            self.shared.provider.name()
        )
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let provider = shared.provider;
    let path = uri.path().to_owned();
    let header_map: HashMap<String, String> =
        headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    shared.requests.lock().unwrap().push(Recorded {
        path: path.clone(),
        headers: header_map.clone(),
        body: parsed.clone(),
        raw: body.clone(),
    });
    let expected_path = match provider {
        Provider::OpenAi => "/v1/chat/completions",
        other => other.path(),
    };
    if path != expected_path {
        return error(provider, StatusCode::NOT_FOUND, "not_found_error", &format!("no route {path}"));
    }
    if header_map.get("content-type").map(String::as_str) != Some("application/json") {
        return error(
            provider,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "content-type must be application/json",
        );
    }
    let authorised = match provider {
        Provider::OpenAi => header_map.get("authorization") == Some(&format!("Bearer {KEY}")),
        Provider::Anthropic => header_map.get("x-api-key").map(String::as_str) == Some(KEY),
        Provider::Ollama => true,
    };
    let script_says_401 = matches!(shared.script.lock().unwrap().front(), Some(Reply::Status(401, _)));
    if !authorised || script_says_401 {
        if script_says_401 {
            shared.script.lock().unwrap().pop_front();
        }
        let message = match provider {
            Provider::Anthropic => "invalid x-api-key",
            _ => "Incorrect API key provided",
        };
        return error(provider, StatusCode::UNAUTHORIZED, "authentication_error", message);
    }
    if provider == Provider::Anthropic && header_map.get("anthropic-version").map(String::as_str) != Some("2023-06-01")
    {
        return error(
            provider,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version header is required",
        );
    }
    if let Err(problem) = check_conversation(provider, &parsed) {
        return error(provider, StatusCode::BAD_REQUEST, "invalid_request_error", &problem);
    }
    let Some(reply) = shared.script.lock().unwrap().pop_front() else {
        return error(provider, StatusCode::INTERNAL_SERVER_ERROR, "api_error", "the script has no more replies");
    };
    let stream = parsed["stream"].as_bool().unwrap_or(false);
    let prompt_tokens = (body.len() / 4) as u64;
    respond(provider, reply, stream, prompt_tokens, &parsed).await
}

/// What the real services refuse: a tool result that answers no tool call, or a missing field.
fn check_conversation(provider: Provider, body: &Value) -> Result<(), String> {
    let messages = body["messages"].as_array().ok_or("messages is required")?;
    if body["model"].as_str().is_none() {
        return Err("model is required".into());
    }
    let mut open_calls: Vec<String> = Vec::new();
    match provider {
        Provider::OpenAi => {
            for m in messages {
                match m["role"].as_str() {
                    Some("assistant") => {
                        open_calls = m["tool_calls"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
                            .collect();
                        for c in m["tool_calls"].as_array().into_iter().flatten() {
                            if c["type"] != "function" || !c["function"]["arguments"].is_string() {
                                return Err("tool_calls[].function.arguments must be a string".into());
                            }
                        }
                    }
                    Some("tool") => {
                        let id = m["tool_call_id"].as_str().unwrap_or_default();
                        if !open_calls.iter().any(|c| c == id) {
                            return Err(format!("tool message {id} does not answer a preceding tool call"));
                        }
                    }
                    Some("system" | "user") => {}
                    other => return Err(format!("unknown role {other:?}")),
                }
                if !(m["content"].is_string() || m["content"].is_null()) {
                    return Err("content must be a string".into());
                }
            }
        }
        Provider::Anthropic => {
            if body["max_tokens"].as_u64().is_none() {
                return Err("max_tokens: Field required".into());
            }
            let mut last_role = "";
            for m in messages {
                let role = m["role"].as_str().unwrap_or_default();
                if role == last_role {
                    return Err("roles must alternate between user and assistant".into());
                }
                if !matches!(role, "user" | "assistant") {
                    return Err(format!("unknown role {role}"));
                }
                last_role = role;
                let blocks = m["content"].as_array().ok_or("content must be a list of blocks")?;
                for b in blocks {
                    match b["type"].as_str() {
                        Some("tool_use") => {
                            if !b["input"].is_object() {
                                return Err("tool_use.input must be an object".into());
                            }
                            open_calls.push(b["id"].as_str().unwrap_or_default().to_owned());
                        }
                        Some("tool_result") => {
                            if role != "user"
                                || !open_calls.iter().any(|c| c == b["tool_use_id"].as_str().unwrap_or_default())
                            {
                                return Err("tool_result must answer a tool_use of the previous turn".into());
                            }
                        }
                        Some("text") => {}
                        other => return Err(format!("unknown block {other:?}")),
                    }
                }
            }
            if messages.first().and_then(|m| m["role"].as_str()) != Some("user") {
                return Err("the first message must be the user's".into());
            }
        }
        Provider::Ollama => {
            for m in messages {
                match m["role"].as_str() {
                    Some("system" | "user" | "assistant") => {
                        for c in m["tool_calls"].as_array().into_iter().flatten() {
                            if !c["function"]["arguments"].is_object() {
                                return Err("tool_calls[].function.arguments must be an object".into());
                            }
                        }
                    }
                    Some("tool") => {
                        if m["tool_name"].as_str().is_none() {
                            return Err("a tool message names its tool".into());
                        }
                    }
                    other => return Err(format!("unknown role {other:?}")),
                }
            }
        }
    }
    Ok(())
}

fn error(provider: Provider, status: StatusCode, kind: &str, message: &str) -> Response {
    let body = match provider {
        Provider::Anthropic => json!({"type": "error", "error": {"type": kind, "message": message}}),
        Provider::OpenAi => json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
        Provider::Ollama => json!({"error": message}),
    };
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

async fn respond(provider: Provider, reply: Reply, stream: bool, prompt_tokens: u64, _request: &Value) -> Response {
    match reply {
        Reply::Status(status, retry_after) => {
            let mut response = error(provider, StatusCode::from_u16(status).unwrap(), "rate_limit_error", "slow down");
            if let Some(after) = retry_after {
                response.headers_mut().insert("retry-after", after.parse().unwrap());
            }
            response
        }
        Reply::Slow(wait, text) => {
            tokio::time::sleep(wait).await;
            Box::pin(respond(provider, Reply::Text(text), stream, prompt_tokens, _request)).await
        }
        Reply::Truncated(inner) => {
            let (content_type, body) = render(provider, &inner, stream, prompt_tokens);
            let cut = &body[..body.len() / 2];
            ok(content_type, cut.to_owned())
        }
        reply => {
            let (content_type, body) = render(provider, &reply, stream, prompt_tokens);
            ok(content_type, body)
        }
    }
}

fn ok(content_type: &str, body: String) -> Response {
    Response::builder().status(200).header("content-type", content_type).body(Body::from(body)).unwrap()
}

/// Pieces of a text, as a stream sends them.
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(chars.len().div_ceil(3).max(1)).map(|c| c.iter().collect()).collect()
}

fn render(provider: Provider, reply: &Reply, stream: bool, prompt_tokens: u64) -> (&'static str, String) {
    let (text, calls): (String, Vec<(String, String)>) = match reply {
        Reply::Text(text) => (text.clone(), Vec::new()),
        Reply::Tools(calls) => (String::new(), calls.clone()),
        _ => unreachable!("rendered replies are answers"),
    };
    let completion_tokens = ((text.len() + calls.iter().map(|c| c.1.len()).sum::<usize>()) / 4 + 1) as u64;
    let model = "scripted-1";
    let created_at = "2025-05-27T22:54:57.641643Z";
    match (provider, stream) {
        (Provider::OpenAi, false) => {
            let tool_calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| json!({"id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": args}}))
                .collect();
            let mut message = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }, "refusal": null});
            if !tool_calls.is_empty() {
                message["tool_calls"] = json!(tool_calls);
            }
            let body = json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1741569952, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": if calls.is_empty() { "stop" } else { "tool_calls" }}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
            });
            ("application/json", body.to_string())
        }
        (Provider::OpenAi, true) => {
            let chunk = |delta: Value, finish: Value| {
                json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1741569952, "model": model,
                    "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
            };
            let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
            for piece in pieces(&text) {
                events.push(chunk(json!({"content": piece}), Value::Null));
            }
            for (i, (name, args)) in calls.iter().enumerate() {
                events.push(chunk(json!({"tool_calls": [{"index": i, "id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": ""}}]}), Value::Null));
                for piece in pieces(args) {
                    events.push(chunk(
                        json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                        Value::Null,
                    ));
                }
            }
            events.push(chunk(json!({}), json!(if calls.is_empty() { "stop" } else { "tool_calls" })));
            events.push(json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1741569952, "model": model, "choices": [],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}}));
            let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
            body.push_str("data: [DONE]\n\n");
            ("text/event-stream", body)
        }
        (Provider::Anthropic, false) => {
            let mut content = Vec::new();
            if !text.is_empty() {
                content.push(json!({"type": "text", "text": text}));
            }
            for (i, (name, args)) in calls.iter().enumerate() {
                // The API always sends an object; a model's broken JSON arrives as its raw text.
                let input = serde_json::from_str::<Value>(args).unwrap_or_else(|_| json!({"_raw": args}));
                content.push(json!({"type": "tool_use", "id": format!("toolu_{i}"), "name": name, "input": input}));
            }
            let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": if calls.is_empty() { "end_turn" } else { "tool_use" }, "stop_sequence": null,
                "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens}});
            ("application/json", body.to_string())
        }
        (Provider::Anthropic, true) => {
            let mut events: Vec<(&str, Value)> = vec![
                (
                    "message_start",
                    json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": model,
                    "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}}),
                ),
                ("ping", json!({"type": "ping"})),
            ];
            let mut index = 0;
            if !text.is_empty() {
                events.push(("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
                for piece in pieces(&text) {
                    events.push(("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})));
                }
                events.push(("content_block_stop", json!({"type": "content_block_stop", "index": index})));
                index += 1;
            }
            for (i, (name, args)) in calls.iter().enumerate() {
                events.push(("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": format!("toolu_{i}"), "name": name, "input": {}}})));
                for piece in pieces(args) {
                    events.push(("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})));
                }
                events.push(("content_block_stop", json!({"type": "content_block_stop", "index": index})));
                index += 1;
            }
            events.push(("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": if calls.is_empty() { "end_turn" } else { "tool_use" }, "stop_sequence": null}, "usage": {"output_tokens": completion_tokens}})));
            events.push(("message_stop", json!({"type": "message_stop"})));
            (
                "text/event-stream",
                events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect(),
            )
        }
        (Provider::Ollama, _) => {
            let tool_calls: Vec<Value> = calls
                .iter()
                .map(|(name, args)| {
                    let arguments = serde_json::from_str::<Value>(args).unwrap_or_else(|_| json!(args));
                    json!({"function": {"name": name, "arguments": arguments}})
                })
                .collect();
            let last = |message: Value| {
                json!({"model": model, "created_at": created_at, "message": message, "done_reason": "stop", "done": true,
                    "total_duration": 4883583458u64, "load_duration": 1334875, "prompt_eval_count": prompt_tokens,
                    "prompt_eval_duration": 342546000, "eval_count": completion_tokens, "eval_duration": 4535599000u64})
            };
            let mut message = json!({"role": "assistant", "content": text});
            if !tool_calls.is_empty() {
                message["tool_calls"] = json!(tool_calls);
            }
            if !stream {
                return ("application/json", last(message).to_string());
            }
            let mut lines = Vec::new();
            for piece in pieces(&text) {
                lines.push(json!({"model": model, "created_at": created_at, "message": {"role": "assistant", "content": piece}, "done": false}));
            }
            if !tool_calls.is_empty() {
                lines.push(json!({"model": model, "created_at": created_at, "message": {"role": "assistant", "content": "", "tool_calls": tool_calls}, "done": false}));
            }
            lines.push(last(json!({"role": "assistant", "content": ""})));
            ("application/x-ndjson", lines.iter().map(|l| format!("{l}\n")).collect())
        }
    }
}
