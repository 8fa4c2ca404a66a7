//! A local stand-in for sentry.io's Web API, speaking its documented wire format: issue objects
//! with camelCase fields and `count` as a string, cursor pagination in the `Link` header, rate-limit
//! headers on every answer, `{"detail": …}` errors, and latest events in the Web API shape built
//! from the real SDK events under `tests/fixtures/sentry/web_api/` (only ids and dates vary).
//!
//! It counts requests per endpoint and per issue, and answers with faults on demand (a status, a
//! broken body, an exhausted rate limit), so tests can check what the client asked and when.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};

pub const ORG: &str = "acme";
pub const TOKEN: &str = "sntryu_0123456789abcdef0123456789abcdef";

/// The Web API fixtures the events are built from, in the order issues cycle through them.
pub const FIXTURES: &[&str] = &[
    "python_key_error",
    "python_attribute_error",
    "python_chained",
    "python_context",
    "python_exception_group",
    "node_type_error",
    "node_type_error_big",
];

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sentry")
}

/// Endpoints, as counted and as faults are aimed at them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Projects,
    Issues,
    LatestEvent,
    UpdateIssue,
}

/// A wrong answer the fake gives instead of the right one.
#[derive(Debug, Clone)]
pub enum Fault {
    /// This status with a `{"detail": …}` body, and `Retry-After` when given.
    Status { status: u16, retry_after: Option<&'static str> },
    /// 200 with this body.
    Body(&'static str),
    /// The right answer, with `X-Sentry-Rate-Limit-Remaining: 0` and a reset this many seconds on.
    ExhaustedLimit { reset_in_secs: i64 },
}

#[derive(Debug, Clone)]
pub struct FakeIssue {
    pub id: String,
    pub number: u64,
    pub project_id: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: u64,
    pub user_count: u64,
    pub status: String,
    /// Index into [`FIXTURES`] of the event this issue's events are built from.
    pub fixture: usize,
    /// Grows with every new event, so each has its own event id.
    pub event_version: u64,
    /// `events/latest/` answers 404 (the event aged out); `recommended` still answers.
    pub latest_gone: bool,
    /// Its events carry a message and no exception (`capture_message`).
    pub message_only: bool,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub endpoint: Endpoint,
    pub at: Instant,
    pub wall: SystemTime,
    pub query: Vec<(String, String)>,
    pub issue: Option<String>,
    pub body: Option<Value>,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
}

struct Inner {
    base: String,
    projects: Vec<(String, String)>,
    issues: Vec<FakeIssue>,
    requests: Vec<SeenRequest>,
    faults: HashMap<Endpoint, VecDeque<Fault>>,
}

pub struct FakeSentry {
    pub url: String,
    state: Arc<FakeState>,
}

struct FakeState {
    inner: Mutex<Inner>,
    /// Parsed Web API fixtures, in [`FIXTURES`] order.
    events: Vec<Value>,
}

impl FakeState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The moment the fake's issues were last seen, before any `touch`.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().unwrap_or_default()
}

impl FakeSentry {
    /// Starts the fake on 127.0.0.1 with these projects (id, slug) and no issues.
    pub async fn start(projects: &[(&str, &str)]) -> Self {
        let events = FIXTURES
            .iter()
            .map(|name| {
                let path = fixture_dir().join(format!("web_api/{name}.json"));
                let text = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            })
            .collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Sentry");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(FakeState {
            inner: Mutex::new(Inner {
                base: url.clone(),
                projects: projects.iter().map(|(id, slug)| ((*id).to_owned(), (*slug).to_owned())).collect(),
                issues: Vec::new(),
                requests: Vec::new(),
                faults: HashMap::new(),
            }),
            events,
        });
        let app = Router::new()
            .route("/api/0/organizations/{org}/projects/", get(list_projects))
            .route("/api/0/organizations/{org}/issues/", get(list_issues))
            .route("/api/0/organizations/{org}/issues/{issue}/", axum::routing::put(update_issue))
            .route("/api/0/organizations/{org}/issues/{issue}/events/{which}/", get(issue_event))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state }
    }

    /// Adds `n` unresolved issues to a project; issue `k` (from 0) was last seen `k` minutes before
    /// [`epoch`], and its events come from fixture `k % FIXTURES.len()`. Returns their ids.
    pub fn add_issues(&self, project_id: &str, n: usize) -> Vec<String> {
        let mut inner = self.state.lock();
        let start = inner.issues.len() as u64;
        (0..n as u64)
            .map(|k| {
                let number = start + k;
                let issue = FakeIssue {
                    id: (4_000_000 + number).to_string(),
                    number,
                    project_id: project_id.to_owned(),
                    first_seen: epoch() - Duration::days(7) - Duration::minutes(number as i64),
                    last_seen: epoch() - Duration::minutes(number as i64),
                    count: 10 + number,
                    user_count: 1 + number % 5,
                    status: "unresolved".into(),
                    fixture: number as usize % FIXTURES.len(),
                    event_version: 1,
                    latest_gone: false,
                    message_only: false,
                };
                let id = issue.id.clone();
                inner.issues.push(issue);
                id
            })
            .collect()
    }

    /// A new event of an issue: later `lastSeen`, one more in `count`, a new event id.
    pub fn touch(&self, issue_id: &str) {
        self.update(issue_id, |issue| {
            issue.last_seen += Duration::hours(1);
            issue.count += 1;
            issue.event_version += 1;
        });
    }

    /// Resolves or ignores an issue as someone in Sentry's UI would.
    pub fn set_status(&self, issue_id: &str, status: &str) {
        self.update(issue_id, |issue| issue.status = status.to_owned());
    }

    pub fn forget_latest_event(&self, issue_id: &str) {
        self.update(issue_id, |issue| issue.latest_gone = true);
    }

    pub fn make_message_only(&self, issue_id: &str) {
        self.update(issue_id, |issue| issue.message_only = true);
    }

    pub fn issue(&self, issue_id: &str) -> FakeIssue {
        self.state.lock().issues.iter().find(|i| i.id == issue_id).cloned().expect("a known issue")
    }

    fn update(&self, issue_id: &str, change: impl FnOnce(&mut FakeIssue)) {
        let mut inner = self.state.lock();
        let issue = inner.issues.iter_mut().find(|i| i.id == issue_id).expect("a known issue");
        change(issue);
    }

    /// The next request to `endpoint` gets `fault` (faults queue up in order).
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        self.state.lock().faults.entry(endpoint).or_default().push_back(fault);
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.lock().requests.clone()
    }

    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.state.lock().requests.iter().filter(|r| r.endpoint == endpoint).count()
    }

    /// The issues whose latest event was asked for, once per request.
    pub fn events_fetched_for(&self) -> Vec<String> {
        let inner = self.state.lock();
        inner.requests.iter().filter(|r| r.endpoint == Endpoint::LatestEvent).filter_map(|r| r.issue.clone()).collect()
    }

    /// The event the fake serves for an issue now, as the client should receive it.
    pub fn event_json(&self, issue_id: &str) -> Value {
        let inner = self.state.lock();
        let issue = inner.issues.iter().find(|i| i.id == issue_id).expect("a known issue");
        build_event(&self.state.events, issue)
    }
}

fn record(state: &FakeState, endpoint: Endpoint, headers: &HeaderMap, query: &[(String, String)], issue: Option<&str>) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    state.lock().requests.push(SeenRequest {
        endpoint,
        at: Instant::now(),
        wall: SystemTime::now(),
        query: query.to_vec(),
        issue: issue.map(str::to_owned),
        body: None,
        authorization: header("authorization"),
        user_agent: header("user-agent"),
    });
}

/// 401 unless the request carries the fake's token.
fn check_token(headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bearer {TOKEN}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str()) {
        return None;
    }
    Some(error(StatusCode::UNAUTHORIZED, "Invalid token header. No credentials provided."))
}

fn error(status: StatusCode, detail: &str) -> Response {
    (status, rate_limit_headers(None), axum::Json(json!({ "detail": detail }))).into_response()
}

/// The headers Sentry puts on every answer; `exhausted_for` makes the limit run out.
fn rate_limit_headers(exhausted_for: Option<i64>) -> HeaderMap {
    let now = Utc::now().timestamp();
    let (remaining, reset) = match exhausted_for {
        Some(seconds) => (0, now + seconds),
        None => (39, now + 1),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("x-sentry-rate-limit-limit", 40),
        ("x-sentry-rate-limit-remaining", remaining),
        ("x-sentry-rate-limit-reset", reset),
        ("x-sentry-rate-limit-concurrentlimit", 25),
        ("x-sentry-rate-limit-concurrentremaining", 24),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    headers
}

fn take_fault(state: &FakeState, endpoint: Endpoint) -> Option<Fault> {
    state.lock().faults.get_mut(&endpoint).and_then(VecDeque::pop_front)
}

/// Takes the fault queued for `endpoint`: `Ok` with the reset of an exhausted limit (the handler
/// answers normally with it), or `Err` with the answer that replaces the right one.
fn apply_fault(state: &FakeState, endpoint: Endpoint) -> Result<Option<i64>, Box<Response>> {
    let response = match take_fault(state, endpoint) {
        None => return Ok(None),
        Some(Fault::ExhaustedLimit { reset_in_secs }) => return Ok(Some(reset_in_secs)),
        Some(Fault::Body(body)) => {
            (StatusCode::OK, rate_limit_headers(None), [("content-type", "application/json")], body).into_response()
        }
        Some(Fault::Status { status, retry_after }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = error(status, "fault injected by the test");
            if let Some(seconds) = retry_after {
                response.headers_mut().insert("retry-after", HeaderValue::from_static(seconds));
            }
            response
        }
    };
    Err(Box::new(response))
}

/// The `Link` header of a page at `offset` of `total` items, as Sentry's `CURSOR_LINK_HEADER`.
fn link_header(
    base: &str,
    path: &str,
    query: &[(String, String)],
    offset: usize,
    limit: usize,
    total: usize,
) -> String {
    let mut kept = reqwest::Url::parse(&format!("{base}{path}")).expect("a valid url");
    kept.query_pairs_mut().extend_pairs(query.iter().filter(|(k, _)| k != "cursor"));
    let previous = format!("0:{}:1", offset.saturating_sub(limit));
    let next = format!("0:{}:0", offset + limit);
    format!(
        "<{kept}&cursor={previous}>; rel=\"previous\"; results=\"{}\"; cursor=\"{previous}\", \
         <{kept}&cursor={next}>; rel=\"next\"; results=\"{}\"; cursor=\"{next}\"",
        offset > 0,
        offset + limit < total
    )
}

fn page_bounds(query: &[(String, String)]) -> (usize, usize) {
    let value = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let limit = value("limit").and_then(|l| l.parse().ok()).unwrap_or(100usize).clamp(1, 100);
    let offset = value("cursor").and_then(|c| c.split(':').nth(1)).and_then(|o| o.parse().ok()).unwrap_or(0);
    (offset, limit)
}

async fn list_projects(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    record(&state, Endpoint::Projects, &headers, &query, None);
    if let Some(denied) = check_token(&headers) {
        return denied;
    }
    let exhausted = match apply_fault(&state, Endpoint::Projects) {
        Ok(exhausted) => exhausted,
        Err(response) => return *response,
    };
    let inner = state.lock();
    let (offset, limit) = page_bounds(&query);
    let page: Vec<Value> = inner
        .projects
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(id, slug)| json!({"id": id, "slug": slug, "name": slug, "platform": "python", "status": "active"}))
        .collect();
    let link = link_header(
        &inner.base,
        &format!("/api/0/organizations/{ORG}/projects/"),
        &query,
        offset,
        limit,
        inner.projects.len(),
    );
    let mut headers = rate_limit_headers(exhausted);
    headers.insert("link", HeaderValue::from_str(&link).expect("a valid header"));
    (headers, axum::Json(Value::Array(page))).into_response()
}

async fn list_issues(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    record(&state, Endpoint::Issues, &headers, &query, None);
    if let Some(denied) = check_token(&headers) {
        return denied;
    }
    let exhausted = match apply_fault(&state, Endpoint::Issues) {
        Ok(exhausted) => exhausted,
        Err(response) => return *response,
    };
    let inner = state.lock();
    let projects: HashSet<&str> = query.iter().filter(|(k, _)| k == "project").map(|(_, v)| v.as_str()).collect();
    let search = query.iter().find(|(k, _)| k == "query").map_or("is:unresolved", |(_, v)| v.as_str());
    let mut matching: Vec<&FakeIssue> = inner
        .issues
        .iter()
        .filter(|i| projects.is_empty() || projects.contains(i.project_id.as_str()))
        .filter(|i| !search.contains("is:unresolved") || i.status == "unresolved")
        .collect();
    // sort=date: last seen first.
    matching.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.number.cmp(&b.number)));
    let (offset, limit) = page_bounds(&query);
    let page: Vec<Value> =
        matching.iter().skip(offset).take(limit).map(|issue| issue_json(&inner, &state.events, issue)).collect();
    let link =
        link_header(&inner.base, &format!("/api/0/organizations/{ORG}/issues/"), &query, offset, limit, matching.len());
    let mut headers = rate_limit_headers(exhausted);
    headers.insert("link", HeaderValue::from_str(&link).expect("a valid header"));
    (headers, axum::Json(Value::Array(page))).into_response()
}

async fn issue_event(
    State(state): State<Arc<FakeState>>,
    UrlPath((_org, issue_id, which)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    record(&state, Endpoint::LatestEvent, &headers, &query, Some(&issue_id));
    if let Some(denied) = check_token(&headers) {
        return denied;
    }
    let exhausted = match apply_fault(&state, Endpoint::LatestEvent) {
        Ok(exhausted) => exhausted,
        Err(response) => return *response,
    };
    let inner = state.lock();
    let Some(issue) = inner.issues.iter().find(|i| i.id == issue_id) else {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    };
    if (which == "latest" && issue.latest_gone) || !matches!(which.as_str(), "latest" | "recommended") {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    (rate_limit_headers(exhausted), axum::Json(build_event(&state.events, issue))).into_response()
}

async fn update_issue(
    State(state): State<Arc<FakeState>>,
    UrlPath((_org, issue_id)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    record(&state, Endpoint::UpdateIssue, &headers, &[], Some(&issue_id));
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    if let Some(last) = state.lock().requests.last_mut() {
        last.body = parsed.clone();
    }
    if let Some(denied) = check_token(&headers) {
        return denied;
    }
    if let Err(response) = apply_fault(&state, Endpoint::UpdateIssue) {
        return *response;
    }
    let Some(status) = parsed.as_ref().and_then(|b| b.get("status")).and_then(Value::as_str).map(str::to_owned) else {
        return error(StatusCode::BAD_REQUEST, "status: this field is required");
    };
    let mut inner = state.lock();
    let Some(issue) = inner.issues.iter_mut().find(|i| i.id == issue_id) else {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    };
    issue.status = status.clone();
    (rate_limit_headers(None), axum::Json(json!({"status": status, "statusDetails": {}}))).into_response()
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An issue object as `GroupSerializer` writes it (`count` is a string).
fn issue_json(inner: &Inner, events: &[Value], issue: &FakeIssue) -> Value {
    let event = &events[issue.fixture];
    let slug = inner.projects.iter().find(|(id, _)| *id == issue.project_id).map_or("unknown", |(_, s)| s.as_str());
    json!({
        "id": issue.id,
        "shareId": null,
        "shortId": format!("{}-{:X}", slug.to_uppercase(), issue.number + 1),
        "title": event.get("title"),
        "culprit": event.get("culprit"),
        "permalink": format!("{}/organizations/{ORG}/issues/{}/", inner.base, issue.id),
        "logger": null,
        "level": "error",
        "status": issue.status,
        "statusDetails": {},
        "substatus": "ongoing",
        "isPublic": false,
        "platform": event.get("platform"),
        "project": {"id": issue.project_id, "name": slug, "slug": slug, "platform": event.get("platform")},
        "type": "error",
        "metadata": event.get("metadata"),
        "numComments": 0,
        "assignedTo": null,
        "isBookmarked": false,
        "isSubscribed": false,
        "subscriptionDetails": null,
        "hasSeen": false,
        "annotations": [],
        "issueType": "error",
        "issueCategory": "error",
        "priority": "high",
        "priorityLockedAt": null,
        "isUnhandled": true,
        "count": issue.count.to_string(),
        "userCount": issue.user_count,
        "firstSeen": timestamp(issue.first_seen),
        "lastSeen": timestamp(issue.last_seen),
        "stats": {"24h": [[issue.last_seen.timestamp() / 3600 * 3600, 1]]}
    })
}

/// The issue's current latest event: its fixture with this issue's ids and date.
fn build_event(events: &[Value], issue: &FakeIssue) -> Value {
    let mut event = events[issue.fixture].clone();
    let event_id = format!("{:016x}{:016x}", issue.number + 1, issue.event_version);
    if let Value::Object(object) = &mut event {
        object.insert("id".into(), json!(event_id));
        object.insert("eventID".into(), json!(event_id));
        object.insert("groupID".into(), json!(issue.id));
        object.insert("projectID".into(), json!(issue.project_id));
        object.insert("dateCreated".into(), json!(timestamp(issue.last_seen)));
        if issue.message_only
            && let Some(Value::Array(entries)) = object.get_mut("entries")
        {
            entries.retain(|entry| entry.get("type").and_then(Value::as_str) != Some("exception"));
        }
    }
    event
}
