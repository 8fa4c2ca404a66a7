//! A stand-in for sentry.io holding one issue: the ledger example's nil-map panic, the same crash
//! as `examples/ledger-go/.crashloom/crashes/posting-panic.txt` (captured by running the program),
//! in the Web API's event shape (camelCase frames, oldest first). It answers the endpoints the
//! Sentry source uses and records the comments (`POST …/issues/{id}/comments/`, answered 201 with
//! the note's activity as Sentry does).
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const SENTRY_TOKEN: &str = "sntryu_fedcba9876543210fedcba9876543210";
pub const ISSUE_ID: &str = "4711";

#[derive(Clone, Default)]
struct Shared {
    comments: Arc<Mutex<Vec<(String, Value)>>>,
    base: Arc<Mutex<String>>,
}

pub struct FakeSentryIssue {
    shared: Shared,
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSentryIssue {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSentryIssue {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let router = Router::new()
            .route("/api/0/organizations/{org}/projects/", get(projects))
            .route("/api/0/organizations/{org}/issues/", get(issues))
            .route("/api/0/organizations/{org}/issues/{issue}/events/{which}/", get(latest))
            .route("/api/0/organizations/{org}/issues/{issue}/comments/", post(comment))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *shared.base.lock().unwrap() = url.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { shared, url, server }
    }

    /// (path, body) of every comment posted.
    pub fn comments(&self) -> Vec<(String, Value)> {
        self.shared.comments.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The refusal of a request without the token.
fn refused(headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bearer {SENTRY_TOKEN}");
    (headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()))
        .then(|| (StatusCode::UNAUTHORIZED, axum::Json(json!({"detail": "Invalid token"}))).into_response())
}

async fn projects(headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&headers) {
        return refusal;
    }
    axum::Json(json!([{"id": "11", "slug": "ledger", "name": "ledger", "platform": "go"}])).into_response()
}

async fn issues(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&headers) {
        return refusal;
    }
    let base = shared.base.lock().unwrap().clone();
    axum::Json(json!([{
        "id": ISSUE_ID,
        "shortId": "LEDGER-1",
        "title": "panic: assignment to entry in nil map",
        "culprit": "(*Ledger).Post",
        "permalink": format!("{base}/organizations/acme/issues/{ISSUE_ID}/"),
        "level": "fatal",
        "status": "unresolved",
        "substatus": "ongoing",
        "platform": "go",
        "project": {"id": "11", "name": "ledger", "slug": "ledger", "platform": "go"},
        "type": "error",
        "metadata": {"type": "panic", "value": "assignment to entry in nil map"},
        "numComments": 0,
        "isUnhandled": true,
        "count": "42",
        "userCount": 17,
        "firstSeen": "2026-11-30T08:00:00.000000Z",
        "lastSeen": "2026-12-01T06:30:00.000000Z"
    }]))
    .into_response()
}

async fn latest(headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&headers) {
        return refusal;
    }
    let frame = |function: &str, file: &str, line: u32| {
        json!({
            "filename": file,
            "absPath": format!("/srv/ledger-go/{file}"),
            "module": "main",
            "function": function,
            "lineNo": line,
            "colNo": null,
            "inApp": true,
            "context": [],
            "vars": null
        })
    };
    axum::Json(json!({
        "id": "9c1b2a3d4e5f60718293a4b5c6d7e8f9",
        "eventID": "9c1b2a3d4e5f60718293a4b5c6d7e8f9",
        "groupID": ISSUE_ID,
        "projectID": "11",
        "title": "panic: assignment to entry in nil map",
        "message": "",
        "platform": "go",
        "dateCreated": "2026-12-01T06:30:00.000000Z",
        "release": {"version": "ledger@1.4.2"},
        "tags": [{"key": "environment", "value": "production"}],
        "metadata": {"type": "panic", "value": "assignment to entry in nil map"},
        "entries": [{
            "type": "exception",
            "data": {"values": [{
                "type": "panic",
                "value": "assignment to entry in nil map",
                "module": null,
                "mechanism": {"type": "generic", "handled": false},
                "stacktrace": {"frames": [
                    frame("main", "main.go", 54),
                    frame("run", "main.go", 33),
                    frame("(*Ledger).Post", "ledger.go", 31)
                ]}
            }]}
        }]
    }))
    .into_response()
}

async fn comment(
    State(shared): State<Shared>,
    UrlPath((org, issue)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = refused(&headers) {
        return refusal;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(text) = body.get("text").and_then(Value::as_str) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"text": ["This field is required."]}))).into_response();
    };
    let text = text.to_owned();
    shared.comments.lock().unwrap().push((format!("/api/0/organizations/{org}/issues/{issue}/comments/"), body));
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": "1001",
            "type": "note",
            "data": {"text": text},
            "user": {"id": "1", "name": "crashloom"},
            "dateCreated": "2026-12-01T07:00:00.000000Z"
        })),
    )
        .into_response()
}
