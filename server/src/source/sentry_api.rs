//! The Sentry Web API crash source: lists a team's issues, fetches the latest event of each issue
//! whose `lastSeen` moved, and keeps what it knows in the workspace store, so that the editor shows
//! Sentry crashes at start, before the network answers.
//!
//! Endpoints (https://docs.sentry.io/api/):
//! - `GET /api/0/organizations/{org}/projects/`: project slugs to ids. The issues endpoint's
//!   `project` parameter takes numeric ids only ("List an Organization's Issues"); a configured
//!   project that already is a number is used as it is, without this look-up.
//! - `GET /api/0/organizations/{org}/issues/?project={id}&query=…&environment=…&statsPeriod=…&limit=100`
//! - `GET /api/0/organizations/{org}/issues/{id}/events/latest/` (`recommended` when `latest` is gone)
//! - `PUT /api/0/organizations/{org}/issues/{id}/` with `{"status": …}` ("Update an Issue")
//! - `POST /api/0/organizations/{org}/issues/{id}/comments/` with `{"text": …}`: a comment (note)
//!   on the issue's activity, e.g. the link to a pull request with its fix (`event:write`)
//!
//! Pagination follows the `Link` header's `rel="next"` while it says `results="true"`. The next page
//! is requested by its `cursor` on the configured host, so the token never goes to a host named in
//! a header.
//!
//! Rate limits (https://docs.sentry.io/api/ratelimits): a 429 is retried after its `Retry-After`;
//! when `X-Sentry-Rate-Limit-Remaining` reaches 0, requests to that endpoint wait until
//! `X-Sentry-Rate-Limit-Reset`. Server errors and network failures are retried with exponential
//! backoff, capped; see [`RetryPolicy`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode, Url};
use rusqlite::{Connection, params};
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::SentrySourceConfig;
use crate::crash::sentry::{json_kind, parse_event, parse_issue};
use crate::crash::{CrashEvent, IssueSummary, Origin};
use crate::source::store::GroupStatus;

/// Issues are listed with this search query unless the settings give one.
pub const DEFAULT_QUERY: &str = "is:unresolved";
/// Items per page; Sentry's maximum.
pub const PAGE_LIMIT: usize = 100;
/// Latest events fetched at once.
pub const EVENT_FETCH_CONCURRENCY: usize = 8;
/// A listing stops after this many pages (20,000 issues), whatever the `Link` header says.
const MAX_PAGES: usize = 200;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How much of an error body is quoted in a message.
const MAX_DETAIL_CHARS: usize = 200;

const SCOPES_HINT: &str = "the event:read and org:read scopes (event:write to resolve or ignore)";

#[derive(Debug, thiserror::Error)]
pub enum SentryError {
    #[error("no Sentry token: set SENTRY_AUTH_TOKEN to a token with {SCOPES_HINT}")]
    MissingToken,
    #[error("SENTRY_AUTH_TOKEN cannot be sent in an HTTP header: set it to the token exactly as Sentry showed it")]
    InvalidToken,
    #[error("the Sentry url {url:?} is not valid ({reason}): set `url` of the sentry source to e.g. https://sentry.io")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "Sentry rejected the token (HTTP {status} on {request}): set SENTRY_AUTH_TOKEN to a token with {SCOPES_HINT}"
    )]
    Unauthorized { status: u16, request: String },
    #[error("cannot reach Sentry at {url} ({reason}): check `url` of the sentry source and the network")]
    Unreachable { url: String, reason: String },
    #[error("Sentry is rate limiting Crashloom: the next refresh waits {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    #[error("{}", http_message(request, *status, detail))]
    Http { request: String, status: u16, detail: String },
    #[error(
        "Sentry's answer to {request} is not what Sentry sends ({reason}): check that `url` of the sentry source points at Sentry"
    )]
    Malformed { request: String, reason: String },
    #[error(
        "Sentry organization {org} has no project {project} this token can see: check `org` and `project` of the sentry source"
    )]
    UnknownProject { org: String, project: String },
    #[error("the latest event of Sentry issue {issue} is not a crash: {reason}")]
    NotACrash { issue: String, reason: String },
    #[error("cannot keep Sentry issues in {path}: {source}; check that the folder is writable")]
    Store { path: PathBuf, source: rusqlite::Error },
    #[error("cannot create the folder of {path}: {source}; check that the workspace is writable")]
    StoreFolder { path: PathBuf, source: std::io::Error },
}

fn http_message(request: &str, status: u16, detail: &str) -> String {
    let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
    match status {
        404 => {
            format!("Sentry answered {request} with HTTP 404{detail}: check `org` and `project` of the sentry source")
        }
        500..=599 => format!(
            "Sentry answered {request} with HTTP {status}{detail}: Sentry is having trouble, Crashloom tries again at the next refresh"
        ),
        _ => format!("Sentry refused {request} with HTTP {status}{detail}: check the sentry source settings"),
    }
}

impl SentryError {
    /// Whether the error concerns one issue only, so a refresh goes on with the others.
    fn is_about_one_issue(&self) -> bool {
        match self {
            Self::NotACrash { .. } | Self::Malformed { .. } => true,
            Self::Http { status, .. } => *status == 404,
            _ => false,
        }
    }
}

/// How failed requests are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per request, the first one included.
    pub attempts: u32,
    /// The wait after the first failure (server error or network); it doubles with each failure.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest wait for a rate limit (`Retry-After`, or the reset of an exhausted limit) inside one
    /// request; a longer one ends the request with [`SentryError::RateLimited`].
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        self.first_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// The endpoints, each with its own rate limit at Sentry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Endpoint {
    Projects,
    Issues,
    LatestEvent,
    UpdateIssue,
    Comment,
}

/// A client of one organization's Web API. Cheap to clone; clones share the rate-limit state.
#[derive(Clone)]
pub struct SentryClient {
    inner: Arc<ClientInner>,
    retry: RetryPolicy,
}

struct ClientInner {
    http: reqwest::Client,
    /// `url` of the settings, without a trailing slash.
    base: Url,
    org: String,
    environment: Option<String>,
    query: String,
    period: Option<String>,
    /// Project slug to numeric id, filled by the first look-up.
    project_ids: Mutex<HashMap<String, String>>,
    /// Per endpoint, no request before this instant (its rate limit is exhausted).
    paused_until: Mutex<HashMap<Endpoint, Instant>>,
}

impl std::fmt::Debug for SentryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentryClient").field("url", &self.inner.base.as_str()).field("org", &self.inner.org).finish()
    }
}

/// A successful answer.
struct Answer {
    request: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Result<Value, SentryError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| SentryError::Malformed { request: self.request.clone(), reason: format!("invalid JSON: {e}") })
    }
}

impl SentryClient {
    pub fn new(config: &SentrySourceConfig, token: String) -> Result<Self, SentryError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(SentryError::MissingToken);
        }
        let invalid_url = |reason: String| SentryError::InvalidUrl { url: config.url.clone(), reason };
        let base = Url::parse(config.url.trim().trim_end_matches('/')).map_err(|e| invalid_url(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid_url("it must start with https:// or http://".into()));
        }
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| SentryError::InvalidToken)?;
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization);
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("crashloom/", env!("CARGO_PKG_VERSION"))));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| invalid_url(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                http,
                base,
                org: config.org.clone(),
                environment: config.environment.clone().filter(|e| !e.is_empty()),
                query: config.query.clone().unwrap_or_else(|| DEFAULT_QUERY.to_owned()),
                period: config.period.clone().filter(|p| !p.is_empty()),
                project_ids: Mutex::new(HashMap::new()),
                paused_until: Mutex::new(HashMap::new()),
            }),
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The unresolved (or whatever the query selects) issues of one project, most recently seen
    /// first. Issue objects without an id are skipped.
    pub async fn list_issues(&self, project: &str) -> Result<Vec<IssueSummary>, SentryError> {
        let project_id = self.project_id(project).await?;
        let mut query = vec![("project", project_id), ("query", self.inner.query.clone())];
        if let Some(environment) = &self.inner.environment {
            query.push(("environment", environment.clone()));
        }
        if let Some(period) = &self.inner.period {
            query.push(("statsPeriod", period.clone()));
        }
        let path = self.org_path(&["issues", ""]);
        let items = self.get_all_pages(Endpoint::Issues, &path, query).await?;
        let mut issues = Vec::with_capacity(items.len());
        for item in &items {
            match parse_issue(item) {
                Ok(issue) => issues.push(issue),
                Err(e) => tracing::warn!(project, "skipping a Sentry issue: {e}"),
            }
        }
        Ok(issues)
    }

    /// The latest event of an issue (the `recommended` one when Sentry no longer has the latest),
    /// with `issue` set to the summary given and `origin` to the issue's permalink.
    pub async fn latest_event(&self, issue: &IssueSummary) -> Result<CrashEvent, SentryError> {
        let query: Vec<(&str, String)> =
            self.inner.environment.iter().map(|environment| ("environment", environment.clone())).collect();
        let latest = self.org_path(&["issues", &issue.id, "events", "latest", ""]);
        let answer = match self.send(Endpoint::LatestEvent, Method::GET, &latest, &query, None).await {
            Err(SentryError::Http { status: 404, .. }) => {
                let recommended = self.org_path(&["issues", &issue.id, "events", "recommended", ""]);
                self.send(Endpoint::LatestEvent, Method::GET, &recommended, &query, None).await?
            }
            other => other?,
        };
        let mut event = parse_event(&answer.json()?)
            .map_err(|e| SentryError::NotACrash { issue: issue.id.clone(), reason: e.to_string() })?;
        attach_issue(&mut event, issue);
        Ok(event)
    }

    /// Resolves, ignores or reopens an issue in Sentry. Needs the `event:write` scope.
    pub async fn set_status(&self, issue_id: &str, status: GroupStatus) -> Result<(), SentryError> {
        let path = self.org_path(&["issues", issue_id, ""]);
        let body = serde_json::json!({ "status": status.as_str() });
        self.send(Endpoint::UpdateIssue, Method::PUT, &path, &[], Some(&body)).await?;
        Ok(())
    }

    /// Adds a comment to an issue (its activity shows it), e.g. the pull request with its fix.
    /// Needs the `event:write` scope.
    pub async fn add_comment(&self, issue_id: &str, text: &str) -> Result<(), SentryError> {
        let path = self.org_path(&["issues", issue_id, "comments", ""]);
        let body = serde_json::json!({ "text": text });
        self.send(Endpoint::Comment, Method::POST, &path, &[], Some(&body)).await?;
        Ok(())
    }

    /// The numeric id the issues endpoint wants for a configured project.
    async fn project_id(&self, project: &str) -> Result<String, SentryError> {
        if !project.is_empty() && project.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(project.to_owned());
        }
        if let Some(id) = self.cached_project_id(project) {
            return Ok(id);
        }
        let path = self.org_path(&["projects", ""]);
        let items = self.get_all_pages(Endpoint::Projects, &path, Vec::new()).await?;
        {
            let mut ids = self.inner.project_ids.lock().unwrap_or_else(PoisonError::into_inner);
            for item in &items {
                let text = |key: &str| match item.get(key) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                if let (Some(slug), Some(id)) = (text("slug"), text("id")) {
                    ids.insert(slug, id);
                }
            }
        }
        self.cached_project_id(project)
            .ok_or_else(|| SentryError::UnknownProject { org: self.inner.org.clone(), project: project.to_owned() })
    }

    fn cached_project_id(&self, slug: &str) -> Option<String> {
        self.inner.project_ids.lock().unwrap_or_else(PoisonError::into_inner).get(slug).cloned()
    }

    /// `/api/0/organizations/{org}/` followed by `segments`, each percent-encoded.
    fn org_path(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "0", "organizations", &self.inner.org]).extend(segments);
        }
        url
    }

    /// Every item of a paginated list.
    async fn get_all_pages(
        &self,
        endpoint: Endpoint,
        path: &Url,
        query: Vec<(&str, String)>,
    ) -> Result<Vec<Value>, SentryError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_query = query.clone();
            page_query.push(("limit", PAGE_LIMIT.to_string()));
            if let Some(cursor) = &cursor {
                page_query.push(("cursor", cursor.clone()));
            }
            let answer = self.send(endpoint, Method::GET, path, &page_query, None).await?;
            match answer.json()? {
                Value::Array(page) => items.extend(page),
                other => {
                    return Err(SentryError::Malformed {
                        request: answer.request,
                        reason: format!("expected a JSON list, found {}", json_kind(&other)),
                    });
                }
            }
            let link = answer.headers.get_all(reqwest::header::LINK).iter().filter_map(|v| v.to_str().ok());
            match next_cursor(&link.collect::<Vec<_>>().join(",")) {
                Some(next) if cursor.as_ref() != Some(&next) => cursor = Some(next),
                _ => return Ok(items),
            }
        }
        tracing::warn!(path = path.path(), "stopped listing after {MAX_PAGES} pages");
        Ok(items)
    }

    /// Sends one request, waiting out rate limits and retrying server errors and network failures.
    async fn send(
        &self,
        endpoint: Endpoint,
        method: Method,
        url: &Url,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, SentryError> {
        let request = format!("{method} {}", url.path());
        let mut failures = 0u32;
        loop {
            let pause = self.pause_before(endpoint);
            if pause > self.retry.max_rate_limit_wait {
                return Err(SentryError::RateLimited { retry_after: pause });
            }
            if !pause.is_zero() {
                tracing::debug!(%request, "waiting {pause:?} for Sentry's rate limit to reset");
                tokio::time::sleep(pause).await;
            }
            let mut builder = self.inner.http.request(method.clone(), url.clone()).query(query);
            if let Some(body) = body {
                builder = builder.json(body);
            }
            let retry_in = match builder.send().await {
                Err(error) => {
                    failures += 1;
                    if failures >= self.retry.attempts {
                        return Err(self.unreachable(&error));
                    }
                    self.retry.backoff(failures)
                }
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    self.note_rate_limit(endpoint, &headers);
                    let body = match response.bytes().await {
                        Ok(bytes) => bytes.to_vec(),
                        Err(error) => {
                            failures += 1;
                            if failures >= self.retry.attempts {
                                return Err(self.unreachable(&error));
                            }
                            tokio::time::sleep(self.retry.backoff(failures)).await;
                            continue;
                        }
                    };
                    if status.is_success() {
                        return Ok(Answer { request, headers, body });
                    }
                    failures += 1;
                    match status {
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                            return Err(SentryError::Unauthorized { status: status.as_u16(), request });
                        }
                        StatusCode::TOO_MANY_REQUESTS => {
                            let retry_after = retry_after(&headers).unwrap_or_else(|| self.retry.backoff(failures));
                            if failures >= self.retry.attempts || retry_after > self.retry.max_rate_limit_wait {
                                return Err(SentryError::RateLimited { retry_after });
                            }
                            tracing::info!(%request, "Sentry asked to retry in {retry_after:?}");
                            retry_after
                        }
                        _ if status.is_server_error() && failures < self.retry.attempts => self.retry.backoff(failures),
                        _ => {
                            return Err(SentryError::Http { request, status: status.as_u16(), detail: detail(&body) });
                        }
                    }
                }
            };
            tokio::time::sleep(retry_in).await;
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> SentryError {
        let reason = if error.is_timeout() {
            "no answer in time".to_owned()
        } else if error.is_connect() {
            "connection failed".to_owned()
        } else {
            error.to_string()
        };
        SentryError::Unreachable { url: self.inner.base.to_string(), reason }
    }

    fn pause_before(&self, endpoint: Endpoint) -> Duration {
        let paused = self.inner.paused_until.lock().unwrap_or_else(PoisonError::into_inner);
        paused.get(&endpoint).map(|until| until.saturating_duration_since(Instant::now())).unwrap_or_default()
    }

    /// Remembers an exhausted rate limit: no request to `endpoint` before its reset.
    fn note_rate_limit(&self, endpoint: Endpoint, headers: &HeaderMap) {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
        if number("x-sentry-rate-limit-remaining") != Some(0.0) {
            return;
        }
        let Some(reset) = number("x-sentry-rate-limit-reset") else {
            return;
        };
        let now = Utc::now().timestamp_millis() as f64 / 1000.0;
        let wait = Duration::try_from_secs_f64(reset - now).unwrap_or_default();
        let mut paused = self.inner.paused_until.lock().unwrap_or_else(PoisonError::into_inner);
        paused.insert(endpoint, Instant::now() + wait.min(Duration::from_secs(3600)));
    }
}

/// The cursor of the `rel="next"` link when it says `results="true"`.
///
/// `<https://…&cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"` (several links are
/// separated by commas, which may also appear inside the `<…>`).
pub fn next_cursor(link_header: &str) -> Option<String> {
    for link in link_header.split('<').skip(1) {
        let Some((target, parameters)) = link.split_once('>') else {
            continue;
        };
        let mut rel = None;
        let mut results = None;
        let mut cursor = None;
        for parameter in parameters.split(';') {
            let Some((key, value)) = parameter.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_end_matches(',').trim().trim_matches('"');
            match key.trim() {
                "rel" => rel = Some(value),
                "results" => results = Some(value),
                "cursor" => cursor = Some(value),
                _ => {}
            }
        }
        if rel == Some("next") {
            if results != Some("true") {
                return None;
            }
            let from_target =
                || Url::parse(target).ok()?.query_pairs().find(|(k, _)| k == "cursor").map(|(_, v)| v.into_owned());
            return cursor.map(str::to_owned).or_else(from_target).filter(|c| !c.is_empty());
        }
    }
    None
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or_default())
}

/// Sentry's `{"detail": "…"}`, or the start of the body.
fn detail(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => match object.get("detail") {
            Some(Value::String(detail)) => detail.clone(),
            Some(other) => other.to_string(),
            None => String::from_utf8_lossy(body).into_owned(),
        },
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > MAX_DETAIL_CHARS {
        format!("{}…", text.chars().take(MAX_DETAIL_CHARS).collect::<String>())
    } else {
        text
    }
}

fn attach_issue(event: &mut CrashEvent, issue: &IssueSummary) {
    event.issue = Some(issue.clone());
    if let Some(permalink) = &issue.permalink {
        event.origin = Some(Origin { location: permalink.clone(), line: None });
    }
}

/// One issue as the source knows it.
#[derive(Debug, Clone)]
struct KnownIssue {
    project: String,
    summary: IssueSummary,
    /// The latest event, without `issue` and `origin` (they come from `summary`). `None` when the
    /// latest event is not a crash or Sentry no longer has it.
    event: Option<CrashEvent>,
}

impl KnownIssue {
    fn crash_event(&self) -> Option<CrashEvent> {
        let mut event = self.event.clone()?;
        attach_issue(&mut event, &self.summary);
        Some(event)
    }
}

/// A Sentry source: the issues of the configured projects and the latest event of each.
///
/// The language server opens it with [`SentrySource::load_cached`] (what the store holds, shown at
/// once), then calls [`SentrySource::refresh`] every `refresh_secs`.
#[derive(Debug)]
pub struct SentrySource {
    config: SentrySourceConfig,
    cache: IssueCache,
    /// In the order Sentry lists them (most recently seen first).
    issues: Vec<KnownIssue>,
}

impl SentrySource {
    /// The source as the workspace store last saw it, without touching the network. A store that
    /// does not exist yet gives an empty source.
    pub fn load_cached(store_path: &Path, config: &SentrySourceConfig) -> Result<Self, SentryError> {
        let cache = IssueCache { path: store_path.to_path_buf(), scope: scope_of(config) };
        let issues = cache.load(&config.project)?;
        Ok(Self { config: config.clone(), cache, issues })
    }

    /// The current crash events, one per issue, each with its `issue` set.
    pub fn events(&self) -> Vec<CrashEvent> {
        self.issues.iter().filter_map(KnownIssue::crash_event).collect()
    }

    /// The issue summary of one listed issue.
    pub fn issue(&self, issue_id: &str) -> Option<&IssueSummary> {
        self.issues.iter().find(|known| known.summary.id == issue_id).map(|known| &known.summary)
    }

    /// Lists the issues of every configured project and fetches the latest event of the issues that
    /// are new or whose `lastSeen` moved; issues no longer listed drop out. What changed is written
    /// to the store.
    ///
    /// On an error that is not about one issue (token, network, rate limit) the events fetched so
    /// far are kept, the others stay as they were, and the error is returned.
    pub async fn refresh(&mut self, client: &SentryClient) -> Result<Vec<CrashEvent>, SentryError> {
        let span = tracing::info_span!("sentry_refresh", org = %self.config.org);
        self.refresh_inner(client).instrument(span).await
    }

    async fn refresh_inner(&mut self, client: &SentryClient) -> Result<Vec<CrashEvent>, SentryError> {
        let mut listed: Vec<(String, IssueSummary)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for project in &self.config.project {
            for summary in client.list_issues(project).await? {
                // A project named twice (by slug and by id) lists its issues twice.
                if seen.insert(summary.id.clone()) {
                    listed.push((project.clone(), summary));
                }
            }
        }
        let previous: HashMap<&str, &KnownIssue> = self.issues.iter().map(|k| (k.summary.id.as_str(), k)).collect();
        let to_fetch: Vec<IssueSummary> = listed
            .iter()
            .filter(|(_, summary)| {
                previous.get(summary.id.as_str()).is_none_or(|k| k.summary.last_seen != summary.last_seen)
            })
            .map(|(_, summary)| summary.clone())
            .collect();
        tracing::info!(listed = listed.len(), changed = to_fetch.len(), "listed Sentry issues");
        let (fetched, fatal) = fetch_latest_events(client, to_fetch).await;

        let mut next = Vec::with_capacity(listed.len());
        let mut changes = CacheChanges::default();
        for (project, summary) in listed {
            let old = previous.get(summary.id.as_str()).copied();
            let known = match (fetched.get(&summary.id), old) {
                (Some(Ok(event)), _) => KnownIssue { project, summary, event: Some(strip_issue(event.clone())) },
                (Some(Err(e)), _) => {
                    tracing::warn!(issue = %summary.id, "{e}");
                    KnownIssue { project, summary, event: None }
                }
                // Not fetched because it did not change: fresh counts, same event.
                (None, Some(old)) if old.summary.last_seen == summary.last_seen => {
                    if old.summary != summary {
                        changes.summaries.push(summary.clone());
                    }
                    next.push(KnownIssue { project, summary, event: old.event.clone() });
                    continue;
                }
                // Changed but not fetched (the refresh stopped early): as it was, fetched next time.
                (None, Some(old)) => {
                    next.push(old.clone());
                    continue;
                }
                (None, None) => continue,
            };
            changes.upserts.push(known.clone());
            next.push(known);
        }
        let kept: std::collections::HashSet<&str> = next.iter().map(|k| k.summary.id.as_str()).collect();
        changes.removed =
            self.issues.iter().map(|k| k.summary.id.clone()).filter(|id| !kept.contains(id.as_str())).collect();
        drop(kept);
        self.issues = next;

        let cache = self.cache.clone();
        match tokio::task::spawn_blocking(move || cache.write(&changes)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("{e}"),
            Err(e) => tracing::warn!("writing the Sentry cache failed: {e}"),
        }
        match fatal {
            Some(error) => Err(error),
            None => Ok(self.events()),
        }
    }

    /// Resolves, ignores or reopens an issue in Sentry; a resolved or ignored issue leaves the
    /// source at once when the query lists unresolved issues only.
    pub async fn set_status(
        &mut self,
        client: &SentryClient,
        issue_id: &str,
        status: GroupStatus,
    ) -> Result<(), SentryError> {
        client.set_status(issue_id, status).await?;
        let unresolved_only = self.config.query.as_deref().unwrap_or(DEFAULT_QUERY).contains("is:unresolved");
        let mut changes = CacheChanges::default();
        if status != GroupStatus::Unresolved && unresolved_only {
            self.issues.retain(|known| known.summary.id != issue_id);
            changes.removed.push(issue_id.to_owned());
        } else if let Some(known) = self.issues.iter_mut().find(|known| known.summary.id == issue_id) {
            known.summary.status = Some(status.as_str().to_owned());
            changes.summaries.push(known.summary.clone());
        }
        let cache = self.cache.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || cache.write(&changes)).await {
            tracing::warn!("{e}");
        }
        Ok(())
    }
}

fn strip_issue(mut event: CrashEvent) -> CrashEvent {
    event.issue = None;
    event.origin = None;
    event
}

type Fetched = HashMap<String, Result<CrashEvent, SentryError>>;

/// Fetches the latest events, [`EVENT_FETCH_CONCURRENCY`] at a time. Errors about one issue are
/// kept with it; the first other error stops new fetches and is returned beside the results.
async fn fetch_latest_events(client: &SentryClient, issues: Vec<IssueSummary>) -> (Fetched, Option<SentryError>) {
    let mut pending = issues.into_iter();
    let mut running = JoinSet::new();
    let mut fetched = HashMap::new();
    let mut fatal = None;
    loop {
        while fatal.is_none() && running.len() < EVENT_FETCH_CONCURRENCY {
            let Some(issue) = pending.next() else { break };
            let client = client.clone();
            running.spawn(async move {
                let result = client.latest_event(&issue).await;
                (issue.id, result)
            });
        }
        match running.join_next().await {
            Some(Ok((id, Err(error)))) if !error.is_about_one_issue() => {
                tracing::warn!(issue = %id, "{error}");
                fatal.get_or_insert(error);
            }
            Some(Ok((id, result))) => {
                fetched.insert(id, result);
            }
            Some(Err(e)) => tracing::warn!("fetching a Sentry event failed: {e}"),
            None => break,
        }
    }
    (fetched, fatal)
}

/// Which Sentry (host and organization) a cached row belongs to.
fn scope_of(config: &SentrySourceConfig) -> String {
    format!("{}/{}", config.url.trim().trim_end_matches('/'), config.org)
}

/// What a refresh changed, for the store.
#[derive(Debug, Default)]
struct CacheChanges {
    /// Issues whose event was (re)fetched.
    upserts: Vec<KnownIssue>,
    /// Issues whose summary changed but not their event.
    summaries: Vec<IssueSummary>,
    removed: Vec<String>,
}

/// The `sentry_issues` table of the workspace store (the file the crash inbox and investigations
/// live in). One connection per operation: refreshes are a minute apart.
#[derive(Debug, Clone)]
struct IssueCache {
    path: PathBuf,
    scope: String,
}

const CACHE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sentry_issues (
    source     TEXT NOT NULL, -- the Sentry url and organization
    issue_id   TEXT NOT NULL,
    project    TEXT NOT NULL,
    last_seen  TEXT,          -- RFC 3339, UTC
    issue_json TEXT NOT NULL, -- IssueSummary
    event_json TEXT,          -- CrashEvent without its issue; NULL when the latest event is no crash
    PRIMARY KEY (source, issue_id)
);";

impl IssueCache {
    fn sqlite_error(&self) -> impl Fn(rusqlite::Error) -> SentryError + '_ {
        |source| SentryError::Store { path: self.path.clone(), source }
    }

    fn open(&self) -> Result<Connection, SentryError> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| SentryError::StoreFolder { path: self.path.clone(), source })?;
        }
        let connection = Connection::open(&self.path).map_err(self.sqlite_error())?;
        connection.busy_timeout(Duration::from_secs(5)).map_err(self.sqlite_error())?;
        connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(self.sqlite_error())?;
        connection.execute_batch(CACHE_SCHEMA).map_err(self.sqlite_error())?;
        Ok(connection)
    }

    fn load(&self, projects: &[String]) -> Result<Vec<KnownIssue>, SentryError> {
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        let connection = self.open()?;
        let mut statement = connection
            .prepare(
                "SELECT project, issue_json, event_json FROM sentry_issues WHERE source = ?1
                 ORDER BY last_seen DESC, issue_id",
            )
            .map_err(self.sqlite_error())?;
        let rows = statement
            .query_map([&self.scope], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, Option<String>>(2)?))
            })
            .map_err(self.sqlite_error())?;
        let mut issues = Vec::new();
        for row in rows {
            let (project, issue_json, event_json) = row.map_err(self.sqlite_error())?;
            if !projects.contains(&project) {
                continue;
            }
            // Rows another version wrote and this one cannot read are refetched.
            let Ok(summary) = serde_json::from_str::<IssueSummary>(&issue_json) else {
                continue;
            };
            let event = match event_json.map(|json| serde_json::from_str::<CrashEvent>(&json)) {
                Some(Ok(event)) => Some(event),
                Some(Err(_)) => continue,
                None => None,
            };
            issues.push(KnownIssue { project, summary, event });
        }
        Ok(issues)
    }

    fn write(&self, changes: &CacheChanges) -> Result<(), SentryError> {
        if changes.upserts.is_empty() && changes.summaries.is_empty() && changes.removed.is_empty() {
            return Ok(());
        }
        let mut connection = self.open()?;
        let tx = connection.transaction().map_err(self.sqlite_error())?;
        {
            let mut upsert = tx
                .prepare(
                    "INSERT INTO sentry_issues (source, issue_id, project, last_seen, issue_json, event_json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (source, issue_id) DO UPDATE SET
                         project = ?3, last_seen = ?4, issue_json = ?5, event_json = ?6",
                )
                .map_err(self.sqlite_error())?;
            for known in &changes.upserts {
                let event_json = known.event.as_ref().map(|e| serde_json::to_string(e).unwrap_or_default());
                upsert
                    .execute(params![
                        self.scope,
                        known.summary.id,
                        known.project,
                        last_seen_text(&known.summary),
                        serde_json::to_string(&known.summary).unwrap_or_default(),
                        event_json
                    ])
                    .map_err(self.sqlite_error())?;
            }
            let mut update = tx
                .prepare("UPDATE sentry_issues SET last_seen = ?3, issue_json = ?4 WHERE source = ?1 AND issue_id = ?2")
                .map_err(self.sqlite_error())?;
            for summary in &changes.summaries {
                update
                    .execute(params![
                        self.scope,
                        summary.id,
                        last_seen_text(summary),
                        serde_json::to_string(summary).unwrap_or_default()
                    ])
                    .map_err(self.sqlite_error())?;
            }
            let mut delete = tx
                .prepare("DELETE FROM sentry_issues WHERE source = ?1 AND issue_id = ?2")
                .map_err(self.sqlite_error())?;
            for id in &changes.removed {
                delete.execute(params![self.scope, id]).map_err(self.sqlite_error())?;
            }
        }
        tx.commit().map_err(self.sqlite_error())
    }
}

fn last_seen_text(summary: &IssueSummary) -> Option<String> {
    summary.last_seen.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_cursor_is_read_only_while_there_are_results() {
        let more = r#"<https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", <https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0""#;
        assert_eq!(next_cursor(more).as_deref(), Some("0:100:0"));
        let done = more.replace(r#"results="true""#, r#"results="false""#);
        assert_eq!(next_cursor(&done), None);
        let no_cursor_parameter = r#"<https://sentry.io/api/0/x/?a=1,2&cursor=1:200:0>; rel="next"; results="true""#;
        assert_eq!(next_cursor(no_cursor_parameter).as_deref(), Some("1:200:0"));
        assert_eq!(next_cursor(""), None);
        assert_eq!(next_cursor("<<>>;;=,\""), None);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=6).map(|n| policy.backoff(n).as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000]);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
