//! Local stand-ins for the GitHub REST API and the GitLab REST API (v4), speaking their documented
//! wire formats: pull requests listed newest first with `Link`-header pagination (`rel="next"`,
//! `rel="last"`; GitLab also `X-Next-Page`, `X-Page`, `X-Total`), 201 bodies on creation, 422
//! (GitHub) or 409 (GitLab) when an open one already exists for the branch, 422 when the head
//! branch is not in the repository, `{"message": …}` errors, and the token checked on every request
//! (`Authorization: Bearer` for GitHub, `PRIVATE-TOKEN` for GitLab).
//!
//! The head branch is looked up in the real bare repository the tests push to. Every request is
//! recorded; faults are answered on demand.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const GITHUB_TOKEN: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
pub const GITLAB_TOKEN: &str = "glpat-0123456789abcdefghij";

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    /// The raw path, percent-encoding kept.
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: Value,
    pub authorization: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FakePull {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub draft: bool,
    /// `open`, `closed` or `merged`.
    pub state: String,
    pub labels: Vec<String>,
    pub comments: Vec<String>,
    /// Lists that do not show it yet (a list lagging behind a creation, as search indexes do).
    pub hidden_from_lists: usize,
}

#[derive(Default)]
struct Inner {
    requests: Vec<SeenRequest>,
    pulls: Vec<FakePull>,
    /// Route name (`list`, `create`, `labels`, `comment`) to a status answered instead.
    faults: HashMap<&'static str, u16>,
    page_size: usize,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    repository: String,
    /// The bare repository pushes go to.
    bare: PathBuf,
    base_url: Arc<Mutex<String>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn branch_exists(&self, branch: &str) -> bool {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&self.bare)
            .args(["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

pub struct FakeForge {
    shared: Shared,
    pub api_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeForge {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    GitHub,
    GitLab,
}

impl FakeForge {
    /// GitHub for `owner/name`, its API at `http://127.0.0.1:PORT`.
    pub async fn github(repository: &str, bare: PathBuf) -> Self {
        let shared = shared(repository, bare);
        let router = Router::new()
            .route("/repos/{owner}/{repo}/pulls", get(github_list).post(github_create))
            .route("/repos/{owner}/{repo}/issues/{number}/labels", post(github_labels))
            .route("/repos/{owner}/{repo}/issues/{number}/comments", post(github_comment))
            .fallback(not_found)
            .with_state(shared.clone());
        Self::serve(shared, router, "").await
    }

    /// GitLab for the project path, its API at `http://127.0.0.1:PORT/api/v4`.
    pub async fn gitlab(repository: &str, bare: PathBuf) -> Self {
        let shared = shared(repository, bare);
        let router = Router::new()
            .route("/api/v4/projects/{project}/merge_requests", get(gitlab_list).post(gitlab_create))
            .route("/api/v4/projects/{project}/merge_requests/{iid}/notes", post(gitlab_note))
            .fallback(not_found)
            .with_state(shared.clone());
        Self::serve(shared, router, "/api/v4").await
    }

    async fn serve(shared: Shared, router: Router, api_path: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let base = format!("http://{address}");
        *shared.base_url.lock().unwrap() = base.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { shared, api_url: format!("{base}{api_path}"), server }
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().requests.clone()
    }

    /// Requests other than reads.
    pub fn writes(&self) -> Vec<SeenRequest> {
        self.requests().into_iter().filter(|r| r.method != "GET").collect()
    }

    pub fn pulls(&self) -> Vec<FakePull> {
        self.shared.lock().pulls.clone()
    }

    pub fn fail(&self, route: &'static str, status: u16) {
        self.shared.lock().faults.insert(route, status);
    }

    pub fn heal(&self) {
        self.shared.lock().faults.clear();
    }

    /// Pull requests per page at most (the client asks for 100).
    pub fn set_page_size(&self, n: usize) {
        self.shared.lock().page_size = n;
    }

    pub fn set_state(&self, number: u64, state: &str) {
        let mut inner = self.shared.lock();
        if let Some(pull) = inner.pulls.iter_mut().find(|p| p.number == number) {
            pull.state = state.to_owned();
        }
    }

    /// A pull request made elsewhere (another branch, or an earlier one of the same branch).
    pub fn add_pull(&self, head: &str, state: &str, body: &str) -> u64 {
        let mut inner = self.shared.lock();
        let number = inner.pulls.len() as u64 + 1;
        inner.pulls.push(FakePull {
            number,
            head: head.into(),
            base: "main".into(),
            title: format!("Change {number}"),
            body: body.into(),
            draft: false,
            state: state.into(),
            labels: Vec::new(),
            comments: Vec::new(),
            hidden_from_lists: 0,
        });
        number
    }

    /// A pull request the next `lists` list requests do not show.
    pub fn add_unlisted_pull(&self, head: &str, lists: usize) -> u64 {
        let number = self.add_pull(head, "open", "");
        self.shared.lock().pulls.last_mut().unwrap().hidden_from_lists = lists;
        number
    }
}

fn shared(repository: &str, bare: PathBuf) -> Shared {
    Shared {
        inner: Arc::new(Mutex::new(Inner { page_size: 100, ..Inner::default() })),
        repository: repository.into(),
        bare,
        base_url: Arc::new(Mutex::new(String::new())),
    }
}

fn record(shared: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) {
    let query = uri.query().map(url_pairs).unwrap_or_default();
    let authorization = headers
        .get("authorization")
        .or_else(|| headers.get("private-token"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared.lock().requests.push(SeenRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
        authorization,
    });
}

/// The pull requests a list shows now; the hidden ones get one list closer to showing.
fn unhide(shared: &Shared) -> Vec<FakePull> {
    let mut inner = shared.lock();
    let shown = inner.pulls.iter().filter(|p| p.hidden_from_lists == 0).cloned().collect();
    for pull in &mut inner.pulls {
        pull.hidden_from_lists = pull.hidden_from_lists.saturating_sub(1);
    }
    shown
}

fn url_pairs(query: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn not_found(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Not Found"}))).into_response()
}

// ------------------------------------------------------------------ GitHub

const GITHUB_DOCS: &str = "https://docs.github.com/rest/pulls/pulls";

fn github_error(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (
        status,
        axum::Json(
            json!({"message": message, "documentation_url": GITHUB_DOCS, "status": status.as_u16().to_string()}),
        ),
    )
        .into_response()
}

/// The token, the repository and any fault for `route`; `Some` is the refusal to answer.
fn github_gate(shared: &Shared, headers: &HeaderMap, owner: &str, repo: &str, route: &'static str) -> Option<Response> {
    let expected = format!("Bearer {GITHUB_TOKEN}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return Some(github_error(401, "Bad credentials"));
    }
    if headers.get("accept").and_then(|v| v.to_str().ok()) != Some("application/vnd.github+json") {
        return Some(github_error(415, "Unsupported 'Accept' header"));
    }
    if format!("{owner}/{repo}") != shared.repository {
        return Some(github_error(404, "Not Found"));
    }
    match shared.lock().faults.get(route).copied() {
        Some(401) => Some(github_error(401, "Bad credentials")),
        Some(403) => Some(github_error(403, "Resource not accessible by personal access token")),
        Some(404) => Some(github_error(404, "Not Found")),
        Some(422) => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "base", "code": "invalid"}], "documentation_url": GITHUB_DOCS, "status": "422"})),
        )
            .into_response()),
        Some(status) => Some(github_error(status, "Server Error")),
        None => None,
    }
}

fn github_pull_json(shared: &Shared, pull: &FakePull) -> Value {
    let (owner, name) = shared.repository.split_once('/').unwrap();
    let html = format!("https://github.com/{}/pull/{}", shared.repository, pull.number);
    let merged = pull.state == "merged";
    json!({
        "url": format!("{}/repos/{}/pulls/{}", shared.base_url.lock().unwrap(), shared.repository, pull.number),
        "id": 1_000_000 + pull.number,
        "node_id": format!("PR_kwDO{}", pull.number),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "number": pull.number,
        "state": if pull.state == "open" { "open" } else { "closed" },
        "locked": false,
        "title": pull.title,
        "user": {"login": "crashloom-bot", "id": 7, "type": "User"},
        "body": pull.body,
        "labels": pull.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "created_at": "2026-01-05T10:00:00Z",
        "updated_at": "2026-01-05T10:00:00Z",
        "closed_at": if pull.state == "open" { Value::Null } else { json!("2026-01-06T10:00:00Z") },
        "merged_at": if merged { json!("2026-01-06T10:00:00Z") } else { Value::Null },
        "draft": pull.draft,
        "head": {"label": format!("{owner}:{}", pull.head), "ref": pull.head, "sha": "0000000000000000000000000000000000000000", "repo": {"full_name": shared.repository, "name": name}},
        "base": {"label": format!("{owner}:{}", pull.base), "ref": pull.base, "repo": {"full_name": shared.repository, "name": name}},
    })
}

/// One page of `items` with GitHub's (or GitLab's) `Link` header.
fn page(shared: &Shared, uri: &Uri, items: Vec<Value>, per_page: usize, page: usize, gitlab: bool) -> Response {
    let size = per_page.clamp(1, 100).min(shared.lock().page_size.max(1));
    let pages = items.len().div_ceil(size).max(1);
    let shown: Vec<Value> = items.into_iter().skip((page - 1) * size).take(size).collect();
    let link_to = |n: usize| {
        let mut pairs: Vec<(String, String)> =
            uri.query().map(url_pairs).unwrap_or_default().into_iter().filter(|(k, _)| k != "page").collect();
        pairs.sort();
        pairs.push(("page".into(), n.to_string()));
        let query: String = pairs.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        format!("{}{}?{query}", shared.base_url.lock().unwrap(), uri.path())
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link_to(pages)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", link_to(1)));
        links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
    }
    let mut response = axum::Json(Value::Array(shown)).into_response();
    let headers = response.headers_mut();
    if !links.is_empty() {
        headers.insert("link", HeaderValue::from_str(&links.join(", ")).unwrap());
    }
    if gitlab {
        headers.insert("x-page", HeaderValue::from_str(&page.to_string()).unwrap());
        headers.insert("x-per-page", HeaderValue::from_str(&size.to_string()).unwrap());
        headers.insert("x-total-pages", HeaderValue::from_str(&pages.to_string()).unwrap());
        let next = if page < pages { (page + 1).to_string() } else { String::new() };
        headers.insert("x-next-page", HeaderValue::from_str(&next).unwrap());
    }
    response
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn github_list(
    State(shared): State<Shared>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    if let Some(answer) = github_gate(&shared, &headers, &owner, &repo, "list") {
        return answer;
    }
    let state = query.get("state").map(String::as_str).unwrap_or("open");
    let head = query.get("head").cloned();
    let mut pulls: Vec<FakePull> = unhide(&shared)
        .into_iter()
        .filter(|p| match state {
            "all" => true,
            "closed" => p.state != "open",
            _ => p.state == "open",
        })
        .filter(|p| head.as_ref().is_none_or(|h| *h == format!("{owner}:{}", p.head)))
        .collect();
    pulls.sort_by_key(|pull| std::cmp::Reverse(pull.number));
    let items = pulls.iter().map(|p| github_pull_json(&shared, p)).collect();
    let per_page = query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
    let page_number = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1usize).max(1);
    page(&shared, &uri, items, per_page, page_number, false)
}

async fn github_create(
    State(shared): State<Shared>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    if let Some(answer) = github_gate(&shared, &headers, &owner, &repo, "create") {
        return answer;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return github_error(400, "Problems parsing JSON");
    };
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(title), Some(head), Some(base)) = (text("title"), text("head"), text("base")) else {
        return github_error(422, "Invalid request.\n\n\"title\", \"head\" and \"base\" are required.");
    };
    let invalid = |field: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": field, "code": "invalid"}], "documentation_url": GITHUB_DOCS, "status": "422"})),
        )
            .into_response()
    };
    if !shared.branch_exists(&head) {
        return invalid("head");
    }
    if !shared.branch_exists(&base) {
        return invalid("base");
    }
    let mut inner = shared.lock();
    if inner.pulls.iter().any(|p| p.head == head && p.state == "open") {
        drop(inner);
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {owner}:{head}.")}], "documentation_url": GITHUB_DOCS, "status": "422"})),
        )
            .into_response();
    }
    let pull = FakePull {
        number: inner.pulls.len() as u64 + 1,
        head,
        base,
        title,
        body: text("body").unwrap_or_default(),
        draft: request.get("draft").and_then(Value::as_bool).unwrap_or(false),
        state: "open".into(),
        labels: Vec::new(),
        comments: Vec::new(),
        hidden_from_lists: 0,
    };
    inner.pulls.push(pull.clone());
    drop(inner);
    let mut response = (StatusCode::CREATED, axum::Json(github_pull_json(&shared, &pull))).into_response();
    response.headers_mut().insert(
        "location",
        HeaderValue::from_str(&format!(
            "{}/repos/{}/pulls/{}",
            shared.base_url.lock().unwrap(),
            shared.repository,
            pull.number
        ))
        .unwrap(),
    );
    response
}

async fn github_labels(
    State(shared): State<Shared>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    if let Some(answer) = github_gate(&shared, &headers, &owner, &repo, "labels") {
        return answer;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(labels) = request.get("labels").and_then(Value::as_array) else {
        return github_error(422, "Invalid request.\n\nFor 'links/0/schema', nil is not an array.");
    };
    let mut inner = shared.lock();
    let Some(pull) = inner.pulls.iter_mut().find(|p| p.number == number) else {
        return github_error(404, "Not Found");
    };
    pull.labels.extend(labels.iter().filter_map(Value::as_str).map(str::to_owned));
    let answer: Vec<Value> = pull
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| json!({"id": 200 + i, "node_id": format!("LA_{i}"), "name": l, "color": "ededed", "default": false}))
        .collect();
    (StatusCode::OK, axum::Json(Value::Array(answer))).into_response()
}

async fn github_comment(
    State(shared): State<Shared>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    if let Some(answer) = github_gate(&shared, &headers, &owner, &repo, "comment") {
        return answer;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(text) = request.get("body").and_then(Value::as_str) else {
        return github_error(422, "Invalid request.\n\n\"body\" wasn't supplied.");
    };
    let mut inner = shared.lock();
    let Some(pull) = inner.pulls.iter_mut().find(|p| p.number == number) else {
        return github_error(404, "Not Found");
    };
    pull.comments.push(text.to_owned());
    let id = 3000 + pull.comments.len();
    let html = format!("https://github.com/{}/pull/{number}#issuecomment-{id}", shared.repository);
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "html_url": html, "body": text, "user": {"login": "crashloom-bot"}})),
    )
        .into_response()
}

// ------------------------------------------------------------------ GitLab

fn gitlab_error(status: u16, message: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(json!({ "message": message }))).into_response()
}

fn gitlab_gate(shared: &Shared, headers: &HeaderMap, project: &str, route: &'static str) -> Option<Response> {
    if headers.get("private-token").and_then(|v| v.to_str().ok()) != Some(GITLAB_TOKEN) {
        return Some(gitlab_error(401, json!("401 Unauthorized")));
    }
    if project != shared.repository {
        return Some(gitlab_error(404, json!("404 Project Not Found")));
    }
    match shared.lock().faults.get(route).copied() {
        Some(401) => Some(gitlab_error(401, json!("401 Unauthorized"))),
        Some(403) => Some(gitlab_error(403, json!("403 Forbidden"))),
        Some(404) => Some(gitlab_error(404, json!("404 Project Not Found"))),
        Some(status) => Some(gitlab_error(status, json!("500 Internal Server Error"))),
        None => None,
    }
}

fn gitlab_mr_json(shared: &Shared, pull: &FakePull) -> Value {
    json!({
        "id": 50_000 + pull.number,
        "iid": pull.number,
        "project_id": 278964,
        "title": pull.title,
        "description": pull.body,
        "state": match pull.state.as_str() { "open" => "opened", other => other },
        "created_at": "2026-01-05T10:00:00.000Z",
        "merged_at": if pull.state == "merged" { json!("2026-01-06T10:00:00.000Z") } else { Value::Null },
        "target_branch": pull.base,
        "source_branch": pull.head,
        "author": {"id": 7, "username": "crashloom-bot"},
        "labels": pull.labels,
        "draft": pull.draft,
        "work_in_progress": pull.draft,
        "merge_status": "can_be_merged",
        "web_url": format!("https://gitlab.com/{}/-/merge_requests/{}", shared.repository, pull.number),
    })
}

async fn gitlab_list(
    State(shared): State<Shared>,
    UrlPath(project): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    if let Some(answer) = gitlab_gate(&shared, &headers, &project, "list") {
        return answer;
    }
    let state = query.get("state").map(String::as_str).unwrap_or("all");
    let source = query.get("source_branch").cloned();
    let mut pulls: Vec<FakePull> = unhide(&shared)
        .into_iter()
        .filter(|p| match state {
            "opened" => p.state == "open",
            "closed" => p.state == "closed",
            "merged" => p.state == "merged",
            _ => true,
        })
        .filter(|p| source.as_ref().is_none_or(|s| *s == p.head))
        .collect();
    pulls.sort_by_key(|pull| std::cmp::Reverse(pull.number));
    let items = pulls.iter().map(|p| gitlab_mr_json(&shared, p)).collect();
    let per_page = query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(20);
    let page_number = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1usize).max(1);
    page(&shared, &uri, items, per_page, page_number, true)
}

async fn gitlab_create(
    State(shared): State<Shared>,
    UrlPath(project): UrlPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    if let Some(answer) = gitlab_gate(&shared, &headers, &project, "create") {
        return answer;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return gitlab_error(400, json!("400 Bad request"));
    };
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(source), Some(target), Some(title)) = (text("source_branch"), text("target_branch"), text("title"))
    else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "source_branch, target_branch, title are missing"})),
        )
            .into_response();
    };
    if !shared.branch_exists(&source) || !shared.branch_exists(&target) {
        return gitlab_error(
            422,
            json!(["You can't use same project/branch for source and target", "Source branch is invalid"]),
        );
    }
    let mut inner = shared.lock();
    if let Some(open) = inner.pulls.iter().find(|p| p.head == source && p.state == "open") {
        let message = format!("Another open merge request already exists for this source branch: !{}", open.number);
        drop(inner);
        return gitlab_error(409, json!([message]));
    }
    let draft = title.starts_with("Draft:");
    let pull = FakePull {
        number: inner.pulls.len() as u64 + 1,
        head: source,
        base: target,
        title,
        body: text("description").unwrap_or_default(),
        draft,
        state: "open".into(),
        labels: text("labels")
            .map(|l| l.split(',').map(str::to_owned).filter(|l| !l.is_empty()).collect())
            .unwrap_or_default(),
        comments: Vec::new(),
        hidden_from_lists: 0,
    };
    inner.pulls.push(pull.clone());
    drop(inner);
    (StatusCode::CREATED, axum::Json(gitlab_mr_json(&shared, &pull))).into_response()
}

async fn gitlab_note(
    State(shared): State<Shared>,
    UrlPath((project, iid)): UrlPath<(String, u64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    if let Some(answer) = gitlab_gate(&shared, &headers, &project, "comment") {
        return answer;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(text) = request.get("body").and_then(Value::as_str) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "body is missing"}))).into_response();
    };
    let mut inner = shared.lock();
    let Some(pull) = inner.pulls.iter_mut().find(|p| p.number == iid) else {
        return gitlab_error(404, json!("404 Not found"));
    };
    pull.comments.push(text.to_owned());
    (StatusCode::CREATED, axum::Json(json!({"id": 900 + pull.comments.len(), "body": text, "noteable_type": "MergeRequest", "noteable_iid": iid, "system": false}))).into_response()
}
