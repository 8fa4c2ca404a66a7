//! The REST APIs pull requests are opened through.
//!
//! GitHub (https://docs.github.com/en/rest/pulls/pulls):
//! - `GET {api}/repos/{owner}/{repo}/pulls?head={owner}:{branch}&state=all&per_page=100`, pages
//!   followed through the `Link` header's `rel="next"`;
//! - `POST {api}/repos/{owner}/{repo}/pulls` with `title`, `head`, `base`, `body`, `draft`
//!   (201 with the pull request; 422 when one already exists for the branch);
//! - `POST {api}/repos/{owner}/{repo}/issues/{number}/labels` with `labels`;
//! - `POST {api}/repos/{owner}/{repo}/issues/{number}/comments` with `body`.
//!
//! GitLab (https://docs.gitlab.com/api/merge_requests/):
//! - `GET {api}/projects/{path}/merge_requests?source_branch={branch}&state=all&per_page=100`,
//!   pages followed through the `Link` header's `rel="next"`;
//! - `POST {api}/projects/{path}/merge_requests` with `source_branch`, `target_branch`, `title`,
//!   `description`, `labels` (a comma list) (201; 409 when one is already open for the branch);
//! - `POST {api}/projects/{path}/merge_requests/{iid}/notes` with `body`.
//!
//! `{path}` is the URL-encoded project path (`acme%2Fshop`). Tokens go in headers only
//! (`Authorization: Bearer` for GitHub, `PRIVATE-TOKEN` for GitLab) and never into a message.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, LINK, USER_AGENT};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use super::PublishError;
use crate::config::PullRequestProvider;

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_PAGES: usize = 50;

/// A pull (merge) request as the forge knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// GitHub's `number`, GitLab's `iid`.
    pub number: u64,
    pub url: String,
    pub state: PullState,
    /// The description, where Crashloom's marker names the fix it carries.
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullState {
    Open,
    Merged,
    /// Closed without merging.
    Closed,
}

impl PullState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Merged => "merged",
            Self::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "merged" => Some(Self::Merged),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// What creating a pull request gave.
pub enum Created {
    Opened(PullRequest),
    /// The forge says one is already open for the branch.
    AlreadyExists,
}

/// A client of one repository on GitHub or GitLab.
pub struct Forge {
    provider: PullRequestProvider,
    http: reqwest::Client,
    api: Url,
    /// `owner/name` or the project path.
    repository: String,
}

impl Forge {
    pub fn new(
        provider: PullRequestProvider,
        api_url: &str,
        repository: &str,
        token: &str,
    ) -> Result<Self, PublishError> {
        let invalid = |reason: &str| PublishError::InvalidApiUrl { url: api_url.to_owned(), reason: reason.to_owned() };
        let api = Url::parse(api_url.trim().trim_end_matches('/')).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(api.scheme(), "http" | "https") || api.cannot_be_a_base() {
            return Err(invalid("it must start with https://"));
        }
        let mut headers = HeaderMap::new();
        let mut secret = match provider {
            PullRequestProvider::Gitlab => HeaderValue::from_str(token.trim()),
            _ => HeaderValue::from_str(&format!("Bearer {}", token.trim())),
        }
        .map_err(|_| PublishError::InvalidToken { variable: token_variable(provider) })?;
        secret.set_sensitive(true);
        match provider {
            PullRequestProvider::Gitlab => {
                headers.insert("PRIVATE-TOKEN", secret);
            }
            _ => {
                headers.insert(AUTHORIZATION, secret);
                headers.insert(ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
                headers.insert("X-GitHub-Api-Version", HeaderValue::from_static("2022-11-28"));
            }
        }
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("crashloom/", env!("CARGO_PKG_VERSION"))));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Self { provider, http, api, repository: repository.trim_matches('/').to_owned() })
    }

    fn name(&self) -> &'static str {
        forge_name(self.provider)
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            match self.provider {
                PullRequestProvider::Gitlab => {
                    // One segment, so its `/` are encoded: `projects/acme%2Fshop`.
                    path.push("projects").push(&self.repository);
                }
                _ => {
                    path.push("repos").extend(self.repository.split('/'));
                }
            }
            path.extend(segments);
        }
        url
    }

    async fn send(&self, method: Method, url: Url, body: Option<&Value>) -> Result<(HeaderMap, Value), PublishError> {
        let request = format!("{method} {}", url.path());
        let mut builder = self.http.request(method, url);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(|e| PublishError::ApiUnreachable {
            forge: self.name(),
            url: self.api.to_string(),
            reason: if e.is_timeout() {
                "no answer in time".into()
            } else if e.is_connect() {
                "connection failed".into()
            } else {
                "the request failed".into()
            },
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok((headers, value));
        }
        Err(PublishError::Api {
            forge: self.name(),
            request,
            status: status.as_u16(),
            detail: api_detail(&value),
            hint: self.hint(status),
        })
    }

    fn hint(&self, status: StatusCode) -> String {
        let variable = token_variable(self.provider);
        match status.as_u16() {
            401 => format!("set {variable} to a valid token"),
            403 => match self.provider {
                PullRequestProvider::Gitlab => {
                    format!("give the token of {variable} the api scope and Developer access to {}", self.repository)
                }
                _ => format!(
                    "give the token of {variable} contents and pull requests write access to {}",
                    self.repository
                ),
            },
            404 => format!("check [pull_request] repository ({}) and api_url ({})", self.repository, self.api),
            _ => "see the detail above".to_owned(),
        }
    }

    /// The pull requests whose head is `branch`, newest first, every page read.
    pub async fn find(&self, branch: &str) -> Result<Vec<PullRequest>, PublishError> {
        let mut url = match self.provider {
            PullRequestProvider::Gitlab => {
                let mut url = self.url(&["merge_requests"]);
                url.query_pairs_mut()
                    .append_pair("source_branch", branch)
                    .append_pair("state", "all")
                    .append_pair("per_page", "100");
                url
            }
            _ => {
                let owner = self.repository.split('/').next().unwrap_or_default();
                let mut url = self.url(&["pulls"]);
                url.query_pairs_mut()
                    .append_pair("head", &format!("{owner}:{branch}"))
                    .append_pair("state", "all")
                    .append_pair("per_page", "100");
                url
            }
        };
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            let (headers, page) = self.send(Method::GET, url.clone(), None).await?;
            let Value::Array(items) = page else {
                return Err(PublishError::Api {
                    forge: self.name(),
                    request: format!("GET {}", url.path()),
                    status: 200,
                    detail: "the answer is not a list".into(),
                    hint: format!("check that [pull_request] api_url points at the {} API", self.name()),
                });
            };
            found.extend(items.iter().filter(|item| self.head_of(item) == Some(branch)).filter_map(|i| self.parse(i)));
            match next_page(&headers, &self.api) {
                Some(next) if next != url => url = next,
                _ => break,
            }
        }
        found.sort_by_key(|pull| std::cmp::Reverse(pull.number));
        Ok(found)
    }

    fn head_of<'a>(&self, item: &'a Value) -> Option<&'a str> {
        match self.provider {
            PullRequestProvider::Gitlab => item.get("source_branch")?.as_str(),
            _ => item.get("head")?.get("ref")?.as_str(),
        }
    }

    fn parse(&self, item: &Value) -> Option<PullRequest> {
        let text = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        match self.provider {
            PullRequestProvider::Gitlab => Some(PullRequest {
                number: item.get("iid")?.as_u64()?,
                url: text("web_url"),
                state: match item.get("state")?.as_str()? {
                    "opened" | "locked" => PullState::Open,
                    "merged" => PullState::Merged,
                    _ => PullState::Closed,
                },
                body: text("description"),
            }),
            _ => Some(PullRequest {
                number: item.get("number")?.as_u64()?,
                url: text("html_url"),
                state: match item.get("state")?.as_str()? {
                    "open" => PullState::Open,
                    _ if item.get("merged_at").is_some_and(|m| !m.is_null()) => PullState::Merged,
                    _ => PullState::Closed,
                },
                body: text("body"),
            }),
        }
    }

    /// Opens the pull request; labels are added after (GitHub) or with it (GitLab).
    pub async fn create(
        &self,
        title: &str,
        branch: &str,
        base: &str,
        body: &str,
        draft: bool,
        labels: &[String],
    ) -> Result<(Created, Option<PublishError>), PublishError> {
        let (url, request) = match self.provider {
            PullRequestProvider::Gitlab => {
                let title = if draft { format!("Draft: {title}") } else { title.to_owned() };
                let mut request = json!({
                    "source_branch": branch,
                    "target_branch": base,
                    "title": title,
                    "description": body,
                });
                if !labels.is_empty() {
                    request["labels"] = json!(labels.join(","));
                }
                (self.url(&["merge_requests"]), request)
            }
            _ => (
                self.url(&["pulls"]),
                json!({ "title": title, "head": branch, "base": base, "body": body, "draft": draft }),
            ),
        };
        let created = match self.send(Method::POST, url, Some(&request)).await {
            Ok((_, value)) => value,
            Err(PublishError::Api { status: 409 | 422, detail, .. }) if detail.contains("already exists") => {
                return Ok((Created::AlreadyExists, None));
            }
            Err(e) => return Err(e),
        };
        let Some(pull) = self.parse(&created) else {
            return Err(PublishError::Api {
                forge: self.name(),
                request: "the pull request it created".into(),
                status: 201,
                detail: "the answer has no number or URL".into(),
                hint: format!("check that [pull_request] api_url points at the {} API", self.name()),
            });
        };
        let mut label_problem = None;
        if self.provider == PullRequestProvider::Github && !labels.is_empty() {
            let url = self.url(&["issues", &pull.number.to_string(), "labels"]);
            if let Err(e) = self.send(Method::POST, url, Some(&json!({ "labels": labels }))).await {
                label_problem = Some(e);
            }
        }
        Ok((Created::Opened(pull), label_problem))
    }

    /// Adds a comment to the pull request.
    pub async fn comment(&self, number: u64, body: &str) -> Result<(), PublishError> {
        let url = match self.provider {
            PullRequestProvider::Gitlab => self.url(&["merge_requests", &number.to_string(), "notes"]),
            _ => self.url(&["issues", &number.to_string(), "comments"]),
        };
        self.send(Method::POST, url, Some(&json!({ "body": body }))).await.map(|_| ())
    }
}

pub fn forge_name(provider: PullRequestProvider) -> &'static str {
    match provider {
        PullRequestProvider::Gitlab => "GitLab",
        PullRequestProvider::Github => "GitHub",
        PullRequestProvider::Git => "git",
    }
}

pub fn token_variable(provider: PullRequestProvider) -> &'static str {
    match provider {
        PullRequestProvider::Gitlab => "GITLAB_TOKEN",
        _ => "GITHUB_TOKEN",
    }
}

/// The next page: the `Link` header's `rel="next"`, on the API's own host only, so the token never
/// goes elsewhere.
fn next_page(headers: &HeaderMap, api: &Url) -> Option<Url> {
    let links: Vec<&str> = headers.get_all(LINK).iter().filter_map(|v| v.to_str().ok()).collect();
    for link in links.join(",").split('<').skip(1) {
        let Some((target, parameters)) = link.split_once('>') else { continue };
        let is_next = parameters.split(';').any(|p| {
            p.split_once('=')
                .is_some_and(|(k, v)| k.trim() == "rel" && v.trim().trim_end_matches(',').trim_matches('"') == "next")
        });
        if is_next {
            let next = Url::parse(target.trim()).ok()?;
            return (next.host_str() == api.host_str() && next.port_or_known_default() == api.port_or_known_default())
                .then_some(next);
        }
    }
    None
}

/// GitHub's `message` and `errors[].message`, GitLab's `message` (a string, list or map).
fn api_detail(value: &Value) -> String {
    let mut parts = Vec::new();
    match value.get("message") {
        Some(Value::String(message)) => parts.push(message.clone()),
        Some(Value::Array(items)) => parts.extend(items.iter().filter_map(Value::as_str).map(str::to_owned)),
        Some(other @ Value::Object(_)) => parts.push(other.to_string()),
        _ => {}
    }
    if let Some(Value::Array(errors)) = value.get("errors") {
        for error in errors {
            match error.get("message").and_then(Value::as_str) {
                Some(message) => parts.push(message.to_owned()),
                None => {
                    if let Some(code) = error.get("code").and_then(Value::as_str) {
                        parts.push(code.to_owned());
                    }
                }
            }
        }
    }
    if let Some(Value::String(error)) = value.get("error") {
        parts.push(error.clone());
    }
    let text = parts.join(": ").split_whitespace().collect::<Vec<_>>().join(" ");
    crate::scrub::scrub(&text.chars().take(300).collect::<String>()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_stays_on_the_api_host() {
        let api = Url::parse("https://api.github.com").unwrap_or_else(|_| unreachable!());
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static(
                "<https://api.github.com/repos/a/b/pulls?page=2>; rel=\"next\", <https://api.github.com/repos/a/b/pulls?page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_page(&headers, &api).map(|u| u.to_string()),
            Some("https://api.github.com/repos/a/b/pulls?page=2".into())
        );
        headers.insert(LINK, HeaderValue::from_static("<https://evil.example/x?page=2>; rel=\"next\""));
        assert_eq!(next_page(&headers, &api), None);
        headers.insert(LINK, HeaderValue::from_static("<https://api.github.com/repos/a/b/pulls?page=1>; rel=\"prev\""));
        assert_eq!(next_page(&headers, &api), None);
    }

    #[test]
    fn api_errors_read_as_one_line() {
        let github = json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for acme:crashloom/CL-1."}]});
        assert_eq!(api_detail(&github), "Validation Failed: A pull request already exists for acme:crashloom/CL-1.");
        let gitlab = json!({"message": ["Another open merge request already exists for this source branch: !3"]});
        assert_eq!(api_detail(&gitlab), "Another open merge request already exists for this source branch: !3");
    }
}
