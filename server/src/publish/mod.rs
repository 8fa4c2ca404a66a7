//! From a validated fix to a pull request: one commit of the fix on `crashloom/<short-id>`, made in
//! a clean worktree of the base (never the user's working tree), pushed, and a pull request on
//! GitHub or a merge request on GitLab, or only the branch for plain git.
//!
//! It refuses fixes that did not validate (and `converted` ones unless `[pull_request]
//! allow_converted = true`). It is idempotent: one pull request per crash group, found again
//! through the forge's list and the workspace store (`pull_requests`), updated and commented on by
//! later runs, and a pull request closed without merging is not opened again for the same fix. A
//! base that moved gets the fix replayed on it, and re-validated when the touched files changed.
//!
//! Every refusal and failure is one [`PublishError`] sentence naming what to change.

mod body;
pub mod forge;
pub mod git;
pub mod state;

use std::path::{Path, PathBuf};

use crate::config::{Config, PullRequestConfig, PullRequestProvider};
use crate::investigate::FixProposal;
use crate::investigate::pipeline::Investigation;
use crate::investigate::validator::{
    CrashOutcome, RUNG_REPRODUCE, RungOutcome, ValidationInputs, ValidationReport, Validator,
};
use crate::sandbox::FileChange;
use crate::source::store::store_path;
use crate::workspace::sites::CrashGroup;
pub use body::{body as pull_request_body, commit_message, title as pull_request_title};
use forge::{Created, Forge, PullRequest, PullState, forge_name, token_variable};
use git::{Author, RemoteAuth, Repository, remote_location};
use state::{PublishState, PullRequestRecord, StateError};

pub const GITHUB_API: &str = "https://api.github.com";
pub const GITLAB_API: &str = "https://gitlab.com/api/v4";

/// What opening the pull request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullRequestOutcome {
    /// A new pull request. `warnings`: what went wrong after it was opened (labels).
    Opened { url: String, number: u64, branch: String, warnings: Vec<String> },
    /// The crash group's open pull request got a comment (and the branch a new commit when `pushed`).
    Updated { url: String, number: u64, branch: String, pushed: bool },
    /// The open pull request already carries this fix and nothing new happened.
    Unchanged { url: String, number: u64, branch: String },
    /// `provider = "git"`: the branch is pushed; `open_url` opens a pull request on GitHub or GitLab.
    Pushed { branch: String, remote: String, pushed: bool, open_url: Option<String> },
}

impl PullRequestOutcome {
    /// The page to show the user: the pull request, or where to open one.
    pub fn url(&self) -> Option<&str> {
        match self {
            Self::Opened { url, .. } | Self::Updated { url, .. } | Self::Unchanged { url, .. } => Some(url),
            Self::Pushed { open_url, .. } => open_url.as_deref(),
        }
    }

    /// One sentence for a log or a message.
    pub fn describe(&self) -> String {
        match self {
            Self::Opened { url, warnings, .. } if warnings.is_empty() => format!("pull request opened: {url}"),
            Self::Opened { url, warnings, .. } => format!("pull request opened: {url} ({})", warnings.join("; ")),
            Self::Updated { url, pushed: true, .. } => {
                format!("pull request updated with a new commit and a comment: {url}")
            }
            Self::Updated { url, .. } => format!("pull request commented: {url}"),
            Self::Unchanged { url, .. } => format!("pull request already carries this fix: {url}"),
            Self::Pushed { branch, remote, pushed, open_url } => {
                let verb = if *pushed { "pushed to" } else { "already on" };
                match open_url {
                    Some(open) => format!("branch {branch} {verb} {remote}; open a pull request: {open}"),
                    None => format!("branch {branch} {verb} {remote}"),
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "there is no [pull_request] section in crashloom.toml: add one with provider = \"github\", \"gitlab\" or \"git\" to open pull requests"
    )]
    NotConfigured,
    #[error("the investigation of {short_id} proposed no fix, so there is nothing to open a pull request with")]
    NoFix { short_id: String },
    #[error(
        "the fix for {short_id} is not validated (the change {words}): Crashloom opens pull requests only for validated fixes"
    )]
    NotValidated { short_id: String, words: String },
    #[error(
        "the fix for {short_id} is not validated: the change {words}; set [pull_request] allow_converted = true to open pull requests for such changes too"
    )]
    Converted { short_id: String, words: String },
    #[error("the files the fix for {short_id} touches changed since it was investigated: investigate the crash again")]
    Stale { short_id: String },
    #[error("the working tree has uncommitted changes in {}, which the fix touches: commit or stash them first", .paths.join(", "))]
    DirtyTouchedFiles { paths: Vec<String> },
    #[error("{} is not in a git repository: pull requests need one (git init, git remote add)", .root.display())]
    NotARepository { root: PathBuf },
    #[error("the repository has no commit yet: commit the code first")]
    NoCommits,
    #[error("the git remote {remote} does not exist: add it with git remote add, or set [pull_request] remote")]
    NoRemote { remote: String },
    #[error("cannot tell the default branch of the git remote {remote}: set [pull_request] base")]
    NoDefaultBranch { remote: String },
    #[error("the git remote {remote} has no branch {base}: set [pull_request] base to the branch pull requests target")]
    NoBaseBranch { remote: String, base: String },
    #[error(
        "cannot reach the git remote {remote} ({url}): {detail}; check the remote's URL, its credentials and the network"
    )]
    RemoteUnreachable { remote: String, url: String, detail: String },
    #[error(
        "the git remote {remote} ({url}) refused the credentials: {detail}; for an HTTPS remote set the provider's token (GITHUB_TOKEN or GITLAB_TOKEN) to one that may push, for SSH check the key"
    )]
    RemoteRefusedCredentials { remote: String, url: String, detail: String },
    #[error("the git remote {remote} rejected the push of {branch}: {detail}")]
    PushRejected { remote: String, branch: String, detail: String },
    #[error("the fix no longer applies to {path} ({problem}): investigate the crash again")]
    FixDoesNotApply { path: String, problem: String },
    #[error("the fix conflicts with the latest {base}: investigate the crash again on the current code")]
    ConflictsWithBase { base: String },
    #[error(
        "the files the fix touches changed on {base}, and there the change {words}: investigate the crash again on the current code"
    )]
    NotValidatedOnBase { base: String, words: String },
    #[error("validating the fix again on the latest {base} failed: {detail}")]
    Revalidation { base: String, detail: String },
    #[error("no {forge} token: set {variable} to a token that may push to and open pull requests in {repository}")]
    MissingToken { forge: &'static str, variable: &'static str, repository: String },
    #[error("{variable} cannot be sent in an HTTP header: set it to the token exactly as it was shown")]
    InvalidToken { variable: &'static str },
    #[error("cannot tell the {forge} repository from the remote's URL: set [pull_request] repository")]
    NoRepository { forge: &'static str },
    #[error("[pull_request] api_url {url:?} is not valid ({reason})")]
    InvalidApiUrl { url: String, reason: String },
    #[error("cannot reach the {forge} API at {url} ({reason}): check [pull_request] api_url and the network")]
    ApiUnreachable { forge: &'static str, url: String, reason: String },
    #[error("{forge} answered {request} with HTTP {status}{}: {hint}", if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) })]
    Api { forge: &'static str, request: String, status: u16, detail: String, hint: String },
    #[error(
        "the pull request {url} with this fix was closed without merging: Crashloom does not open it again for the same fix"
    )]
    ClosedUnmerged { url: String },
    #[error("git could not {what}: {detail}")]
    Git { what: String, detail: String },
    #[error("{0}")]
    State(#[from] StateError),
}

/// One publication at a time: they share the repository's worktree list and `FETCH_HEAD`.
static PUBLISHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The branch of a crash group's fix: `crashloom/CL-1A2B3C`.
pub fn branch_name(short_id: &str) -> String {
    let id: String =
        short_id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '-' }).collect();
    format!("crashloom/{}", id.trim_matches('-'))
}

/// A fingerprint of the change a fix makes.
pub fn fix_fingerprint(fix: &FixProposal) -> String {
    let bytes = serde_json::to_vec(&fix.changes).unwrap_or_default();
    format!("{:016x}", crate::crash::group::fnv1a64(&bytes))
}

/// Whether an investigation's fix may become a pull request; the error says why not.
pub fn check_publishable(investigation: &Investigation, settings: &PullRequestConfig) -> Result<(), PublishError> {
    let short_id = investigation.short_id.clone();
    if investigation.fix().is_none() {
        return Err(PublishError::NoFix { short_id });
    }
    let Some(validation) = &investigation.validation else {
        return Err(PublishError::NotValidated { short_id, words: "was not validated".into() });
    };
    if validation.validated {
        return Ok(());
    }
    if validation.outcome == Some(CrashOutcome::Converted) {
        if settings.allow_converted && converted_but_sound(validation) {
            return Ok(());
        }
        if !settings.allow_converted {
            return Err(PublishError::Converted { short_id, words: validation.outcome_words() });
        }
    }
    Err(PublishError::NotValidated { short_id, words: validation.outcome_words() })
}

/// A converted fix whose other rungs (build, tests) all passed.
fn converted_but_sound(validation: &ValidationReport) -> bool {
    validation.outcome == Some(CrashOutcome::Converted)
        && validation.rungs.iter().filter(|r| r.name != RUNG_REPRODUCE).all(|r| r.outcome == RungOutcome::Passed)
}

fn load_record(root: &Path, group_id: &str) -> Result<Option<PullRequestRecord>, PublishError> {
    Ok(PublishState::open(&store_path(root))?.get(group_id)?)
}

fn save_record(root: &Path, record: &PullRequestRecord) -> Result<(), PublishError> {
    Ok(PublishState::open(&store_path(root))?.save(record)?)
}

/// Every pull request the workspace store remembers.
pub fn remembered_pull_requests(root: &Path) -> Result<Vec<PullRequestRecord>, PublishError> {
    Ok(PublishState::open(&store_path(root))?.all()?)
}

/// Remembers that the Sentry issue of a group got the pull request's link.
pub fn remember_sentry_noted(root: &Path, group_id: &str) -> Result<(), PublishError> {
    Ok(PublishState::open(&store_path(root))?.set_sentry_noted(group_id)?)
}

/// The forges' tokens: `GITHUB_TOKEN` and `GITLAB_TOKEN`, from the environment only.
#[derive(Clone, Default)]
pub struct Tokens {
    pub github: Option<String>,
    pub gitlab: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("github", &self.github.is_some())
            .field("gitlab", &self.gitlab.is_some())
            .finish()
    }
}

impl Tokens {
    pub fn from_env() -> Self {
        let read = |name: &str| std::env::var(name).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        Self { github: read("GITHUB_TOKEN"), gitlab: read("GITLAB_TOKEN") }
    }

    fn of(&self, provider: PullRequestProvider) -> Option<&str> {
        match provider {
            PullRequestProvider::Github => self.github.as_deref(),
            PullRequestProvider::Gitlab => self.gitlab.as_deref(),
            PullRequestProvider::Git => None,
        }
    }
}

/// Pushes the investigation's fix of `group` to `crashloom/<short-id>` and opens (or updates) its
/// pull request as `[pull_request]` of `config` says, with the tokens of the environment. `root` is
/// the workspace the investigation ran on; its working tree and branches are never changed.
pub async fn open_pull_request(
    root: &Path,
    config: &Config,
    group: &CrashGroup,
    investigation: &Investigation,
) -> Result<PullRequestOutcome, PublishError> {
    open_pull_request_with(root, config, group, investigation, &Tokens::from_env()).await
}

/// [`open_pull_request`] with the tokens given.
pub async fn open_pull_request_with(
    root: &Path,
    config: &Config,
    group: &CrashGroup,
    investigation: &Investigation,
    tokens: &Tokens,
) -> Result<PullRequestOutcome, PublishError> {
    let settings = config.pull_request.as_ref().ok_or(PublishError::NotConfigured)?;
    check_publishable(investigation, settings)?;
    let fix = investigation.fix().ok_or_else(|| PublishError::NoFix { short_id: investigation.short_id.clone() })?;
    if !investigation.files_unchanged(root) {
        return Err(PublishError::Stale { short_id: investigation.short_id.clone() });
    }
    let _one_at_a_time = PUBLISHING.lock().await;
    let repository = Repository::open(root).await?;
    let paths: Vec<String> = fix.changes.iter().map(|c| c.path.clone()).collect();
    let dirty = repository.dirty_files(&paths).await?;
    if !dirty.is_empty() {
        return Err(PublishError::DirtyTouchedFiles { paths: dirty });
    }
    let head = repository.head().await?;
    let remote = settings.remote.as_str();
    let remote_url = repository.remote_url(remote).await?;
    let location = remote_location(&remote_url);

    let (forge, auth) = match settings.provider {
        PullRequestProvider::Git => (None, RemoteAuth::default()),
        provider => {
            let name = forge_name(provider);
            let repository_path = settings
                .repository
                .clone()
                .or_else(|| location.as_ref().map(|l| l.path.clone()))
                .ok_or(PublishError::NoRepository { forge: name })?;
            let variable = token_variable(provider);
            let token = tokens.of(provider).map(str::to_owned).ok_or_else(|| PublishError::MissingToken {
                forge: name,
                variable,
                repository: repository_path.clone(),
            })?;
            let api = settings.api_url.clone().unwrap_or_else(|| {
                if provider == PullRequestProvider::Gitlab { GITLAB_API.into() } else { GITHUB_API.into() }
            });
            let user = if provider == PullRequestProvider::Gitlab { "oauth2" } else { "x-access-token" };
            (
                Some(Forge::new(provider, &api, &repository_path, &token)?),
                RemoteAuth::for_remote(&remote_url, user, token.trim()),
            )
        }
    };

    let branch = branch_name(&investigation.short_id);
    let fix_key = fix_fingerprint(fix);
    let record = load_record(root, &investigation.group_id)?;
    let existing: Option<PullRequest> = match &forge {
        // The open one, else the newest.
        Some(forge) => {
            let all = forge.find(&branch).await?;
            all.iter().find(|p| p.state == PullState::Open).or(all.first()).cloned()
        }
        None => None,
    };
    let remember = |state: &str, pull: Option<&PullRequest>, commit: &str| PullRequestRecord {
        group_id: investigation.group_id.clone(),
        short_id: investigation.short_id.clone(),
        provider: format!("{:?}", settings.provider).to_lowercase(),
        branch: branch.clone(),
        number: pull.map(|p| p.number),
        url: pull.map(|p| p.url.clone()),
        state: state.to_owned(),
        fix: fix_key.clone(),
        commit: commit.to_owned(),
        count: group.count,
        sentry_noted: record.as_ref().is_some_and(|r| r.sentry_noted && r.number == pull.map(|p| p.number)),
    };
    if let Some(pull) = existing.as_ref().filter(|p| p.state == PullState::Closed) {
        let remembered = record.as_ref().filter(|r| r.number == Some(pull.number)).map(|r| r.fix.clone());
        let closed_fix = body::fix_in_marker(&pull.body).map(str::to_owned).or(remembered);
        if closed_fix.as_deref() == Some(fix_key.as_str()) {
            let commit = record.as_ref().map(|r| r.commit.clone()).unwrap_or_default();
            save_record(root, &remember(PullState::Closed.as_str(), Some(pull), &commit))?;
            return Err(PublishError::ClosedUnmerged { url: pull.url.clone() });
        }
    }

    let base = match &settings.base {
        Some(base) => base.clone(),
        None => repository.default_branch(remote, &auth).await?,
    };
    let base_tip = repository
        .fetch_branch(remote, &base, &auth)
        .await?
        .ok_or_else(|| PublishError::NoBaseBranch { remote: remote.to_owned(), base: base.clone() })?;

    // The commit, in a clean worktree of the commit the fix was made on, moved onto the base.
    let worktree = repository.worktree(&head).await?;
    worktree.apply(&fix.changes)?;
    let author = Author::parse(&settings.author);
    let mut commit = worktree.commit(&paths, &commit_message(investigation), &author).await?;
    if base_tip != head {
        commit = worktree
            .replay_onto(&commit, &base_tip, &author)
            .await?
            .ok_or_else(|| PublishError::ConflictsWithBase { base: base.clone() })?;
        if !repository.same_files(&head, &base_tip, &paths).await? {
            revalidate(&worktree, config, group, investigation, fix, &paths, &commit, &base_tip, &base).await?;
        }
    }

    let remote_tip = repository.fetch_branch(remote, &branch, &auth).await?;
    let already_there = match &remote_tip {
        Some(tip) => {
            repository.tree_of(tip).await? == repository.tree_of(&commit).await?
                && repository.parent_of(tip).await.ok().as_deref() == Some(base_tip.as_str())
        }
        None => false,
    };
    let pushed = !already_there;
    if pushed {
        repository.push(remote, &commit, &branch, remote_tip.as_deref(), &auth).await?;
    } else if let Some(tip) = remote_tip {
        commit = tip;
    }
    drop(worktree);
    tracing::info!(crash = %investigation.short_id, %branch, pushed, "fix branch ready");

    let Some(forge) = forge else {
        save_record(root, &remember("pushed", None, &commit))?;
        let open_url = location.as_ref().and_then(|l| open_pull_request_url(&l.host, &l.path, &base, &branch));
        return Ok(PullRequestOutcome::Pushed { branch: branch.clone(), remote: remote.to_owned(), pushed, open_url });
    };

    let open = match existing.filter(|p| p.state == PullState::Open) {
        Some(open) => Some(open),
        None => {
            let title = pull_request_title(investigation);
            let description = pull_request_body(investigation, group, &fix_key, &branch);
            match forge.create(&title, &branch, &base, &description, settings.draft, &settings.labels).await {
                Ok((Created::Opened(pull), label_problem)) => {
                    save_record(root, &remember(PullState::Open.as_str(), Some(&pull), &commit))?;
                    let warnings =
                        label_problem.map(|e| format!("the labels were not added: {e}")).into_iter().collect();
                    return Ok(PullRequestOutcome::Opened {
                        url: pull.url.clone(),
                        number: pull.number,
                        branch: branch.clone(),
                        warnings,
                    });
                }
                Ok((Created::AlreadyExists, _)) => {
                    forge.find(&branch).await?.into_iter().find(|p| p.state == PullState::Open)
                }
                Err(e) => {
                    // The branch is pushed; the next run opens the pull request.
                    save_record(root, &remember("pushed", None, &commit))?;
                    return Err(e);
                }
            }
        }
    };
    let Some(open) = open else {
        save_record(root, &remember("pushed", None, &commit))?;
        return Err(PublishError::Api {
            forge: forge_name(settings.provider),
            request: "the pull request list".into(),
            status: 422,
            detail: format!("it says a pull request for {branch} exists but lists none open"),
            hint: "try again later".into(),
        });
    };
    let count_changed = record.as_ref().is_none_or(|r| r.count != group.count || r.number != Some(open.number));
    let outcome = if pushed || count_changed {
        forge.comment(open.number, &body::update_comment(investigation, group, &commit, pushed)).await?;
        PullRequestOutcome::Updated { url: open.url.clone(), number: open.number, branch: branch.clone(), pushed }
    } else {
        PullRequestOutcome::Unchanged { url: open.url.clone(), number: open.number, branch: branch.clone() }
    };
    save_record(root, &remember(PullState::Open.as_str(), Some(&open), &commit))?;
    Ok(outcome)
}

/// Validates the fix again on the base it was moved onto (its touched files changed there).
#[allow(clippy::too_many_arguments)]
async fn revalidate(
    worktree: &git::Worktree,
    config: &Config,
    group: &CrashGroup,
    investigation: &Investigation,
    fix: &FixProposal,
    paths: &[String],
    commit: &str,
    base_tip: &str,
    base: &str,
) -> Result<(), PublishError> {
    let changes: Vec<FileChange> = paths
        .iter()
        .map(|path| match worktree.read(path) {
            Some(content) => FileChange::write(path.clone(), content),
            None => FileChange::delete(path.clone()),
        })
        .collect();
    let moved = FixProposal { changes, ..fix.clone() };
    worktree.checkout(base_tip).await?;
    let workspace = worktree.workspace();
    let validator = Validator { root: &workspace, validate: &config.validate, sandbox: &config.sandbox };
    tracing::info!(crash = %investigation.short_id, %base, "the touched files changed on the base: validating the fix again");
    let inputs = ValidationInputs {
        facts: Some(&investigation.facts),
        code: Some(&investigation.code),
        reproduction: investigation.validation.as_ref().and_then(|v| v.reproduction.as_ref()),
    };
    let report = validator
        .validate_with(group, &moved, inputs)
        .await
        .map_err(|e| PublishError::Revalidation { base: base.to_owned(), detail: e.to_string() });
    worktree.checkout(commit).await?;
    let report = report?;
    let allow_converted = config.pull_request.as_ref().is_some_and(|p| p.allow_converted);
    if report.validated || (allow_converted && converted_but_sound(&report)) {
        Ok(())
    } else {
        Err(PublishError::NotValidatedOnBase { base: base.to_owned(), words: report.outcome_words() })
    }
}

/// Where to open a pull request for a pushed branch, on GitHub or GitLab hosts.
pub fn open_pull_request_url(host: &str, path: &str, base: &str, branch: &str) -> Option<String> {
    if host.contains("github") {
        Some(format!("https://{host}/{path}/compare/{base}...{branch}?expand=1"))
    } else if host.contains("gitlab") {
        Some(format!(
            "https://{host}/{path}/-/merge_requests/new?merge_request%5Bsource_branch%5D={branch}&merge_request%5Btarget_branch%5D={base}"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_are_safe_refs() {
        assert_eq!(branch_name("CL-1A2B3C"), "crashloom/CL-1A2B3C");
        assert_eq!(branch_name("BACKEND-3F"), "crashloom/BACKEND-3F");
        assert_eq!(branch_name("a b/../c"), "crashloom/a-b----c");
    }

    #[test]
    fn only_github_and_gitlab_hosts_get_a_link_to_open_a_pull_request() {
        assert_eq!(
            open_pull_request_url("github.com", "acme/shop", "main", "crashloom/CL-1"),
            Some("https://github.com/acme/shop/compare/main...crashloom/CL-1?expand=1".into())
        );
        assert!(
            open_pull_request_url("gitlab.com", "acme/shop", "main", "crashloom/CL-1")
                .is_some_and(|u| u.contains("/-/merge_requests/new"))
        );
        assert_eq!(open_pull_request_url("git.example.com", "acme/shop", "main", "crashloom/CL-1"), None);
    }
}
