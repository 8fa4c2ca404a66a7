//! Git's smart HTTP protocol served by the real `git http-backend` (as CGI) in front of a bare
//! repository, behind basic authentication as GitHub asks of a token (`x-access-token:TOKEN`).
//! Every request's `Authorization` header and URL are recorded.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// (path and query, `Authorization`) of each request.
type Seen = Vec<(String, Option<String>)>;

#[derive(Clone)]
struct Shared {
    /// The folder holding the bare repositories.
    root: PathBuf,
    expected: String,
    seen: Arc<Mutex<Seen>>,
}

pub struct GitHttp {
    shared: Shared,
    pub base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for GitHttp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl GitHttp {
    /// Serves the bare repositories under `root` at `http://127.0.0.1:PORT/NAME.git`, accepting
    /// `user:token` as basic credentials.
    pub async fn start(root: PathBuf, user: &str, token: &str) -> Self {
        use base64::Engine as _;
        let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}")));
        let shared = Shared { root, expected, seen: Arc::default() };
        let router = Router::new().fallback(backend).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { shared, base, server }
    }

    /// (path and query, Authorization) of every request.
    pub fn requests(&self) -> Vec<(String, Option<String>)> {
        self.shared.seen.lock().unwrap().clone()
    }
}

async fn backend(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    shared.seen.lock().unwrap().push((uri.to_string(), authorization.clone()));
    if authorization.as_deref() != Some(shared.expected.as_str()) {
        let mut refused = (StatusCode::UNAUTHORIZED, "Authentication failed\n").into_response();
        refused.headers_mut().insert("www-authenticate", HeaderValue::from_static("Basic realm=\"GitHub\""));
        return refused;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (root, path, query) = (shared.root.clone(), uri.path().to_owned(), uri.query().unwrap_or_default().to_owned());
    let (content_type, encoding) = (header("content-type"), header("content-encoding"));
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("git")
            .arg("http-backend")
            .env("GIT_PROJECT_ROOT", &root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("PATH_INFO", &path)
            .env("QUERY_STRING", &query)
            .env("REQUEST_METHOD", method.as_str())
            .env("CONTENT_TYPE", &content_type)
            .env("CONTENT_LENGTH", body.len().to_string())
            .env("HTTP_CONTENT_ENCODING", &encoding)
            .env("REMOTE_USER", "x-access-token")
            .env("REMOTE_ADDR", "127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&body).unwrap();
        child.wait_with_output().unwrap().stdout
    })
    .await
    .unwrap();
    // A CGI answer: headers, a blank line, the body.
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| output.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, gap)) = split else {
        return (StatusCode::BAD_GATEWAY, "git http-backend gave no headers").into_response();
    };
    let mut response = Response::new(Body::from(output[at + gap..].to_vec()));
    for line in String::from_utf8_lossy(&output[..at]).lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().and_then(|c| c.parse().ok()).unwrap_or(500);
            *response.status_mut() = StatusCode::from_u16(code).unwrap();
        } else if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value))
        {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
