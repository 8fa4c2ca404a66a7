//! Git for publishing a fix: a clean worktree of the fix's parent commit (never the user's working
//! tree), one commit of the fix, moved onto the remote's base when the base moved, and a push of
//! `crashloom/<short-id>`.
//!
//! Every git command gets its arguments as a list (no shell). A token for an HTTPS remote is handed
//! to git through `GIT_CONFIG_*` environment variables (`http.<url>.extraHeader`), so it is in no
//! command line, no remote URL and no message.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::PublishError;
use crate::sandbox::{FileChange, FileEdit};

/// How git authenticates to the remote: its own configuration (file and SSH remotes, credential
/// helpers), or an `Authorization` header for the remote's HTTPS host.
#[derive(Clone, Default)]
pub struct RemoteAuth {
    /// (`http.https://host/.extraHeader`, `Authorization: Basic …`)
    header: Option<(String, String)>,
    /// The token, to take out of anything git prints.
    secret: Option<String>,
}

impl std::fmt::Debug for RemoteAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteAuth").field("header", &self.header.as_ref().map(|(key, _)| key)).finish()
    }
}

impl RemoteAuth {
    /// A token for an HTTPS remote: GitHub takes `x-access-token:TOKEN`, GitLab `oauth2:TOKEN` as
    /// basic credentials. Other remotes (file, SSH) use their own authentication.
    pub fn for_remote(remote_url: &str, user: &str, token: &str) -> Self {
        let Some(base) = https_base(remote_url) else {
            return Self { header: None, secret: Some(token.to_owned()) };
        };
        use base64::Engine as _;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
        Self {
            header: Some((format!("http.{base}.extraHeader"), format!("Authorization: Basic {credentials}"))),
            secret: Some(token.to_owned()),
        }
    }

    fn apply(&self, command: &mut Command) {
        if let Some((key, value)) = &self.header {
            command.env("GIT_CONFIG_COUNT", "1").env("GIT_CONFIG_KEY_0", key).env("GIT_CONFIG_VALUE_0", value);
        }
    }

    /// `text` without the token and without credentials written into URLs.
    pub fn clean(&self, text: &str) -> String {
        let mut text = strip_url_credentials(text);
        if let Some(secret) = self.secret.as_deref().filter(|s| !s.is_empty()) {
            text = text.replace(secret, "[token]");
        }
        crate::scrub::scrub(&text).into_owned()
    }
}

/// `https://host/` of an HTTPS remote URL (`http://` too, for a local stand-in).
fn https_base(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return None;
    }
    let host = parsed.host_str()?;
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{}://{host}{port}/", parsed.scheme()))
}

/// `https://user:secret@host/…` → `https://host/…`, anywhere in `text`.
pub fn strip_url_credentials(text: &str) -> String {
    static CREDENTIALS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@").unwrap_or_else(|_| unreachable!())
    });
    CREDENTIALS.replace_all(text, "$1").into_owned()
}

/// A git repository seen from the workspace: its top level and the workspace's place in it.
#[derive(Debug, Clone)]
pub struct Repository {
    pub toplevel: PathBuf,
    /// The workspace folder relative to the top level, `/`-terminated, empty at the top.
    pub prefix: String,
}

/// What one git command printed.
struct Output {
    stdout: String,
    stderr: String,
    success: bool,
}

async fn run_git(dir: &Path, args: &[&str], auth: Option<&RemoteAuth>) -> Result<Output, PublishError> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(auth) = auth {
        auth.apply(&mut command);
    }
    let output = command.output().await.map_err(|e| PublishError::Git {
        what: format!("run git {}", args.first().copied().unwrap_or_default()),
        detail: format!("git cannot be started ({e}); install git"),
    })?;
    Ok(Output {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        success: output.status.success(),
    })
}

/// The last meaningful line git printed on stderr, cleaned of secrets.
fn last_words(stderr: &str, auth: Option<&RemoteAuth>) -> String {
    let line = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("hint:") && !l.starts_with("To "))
        .map(|l| l.trim_start_matches("fatal: ").trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join("; ");
    let line: String = line.chars().take(400).collect();
    match auth {
        Some(auth) => auth.clean(&line),
        None => RemoteAuth::default().clean(&line),
    }
}

async fn git_ok(dir: &Path, args: &[&str], what: &str) -> Result<String, PublishError> {
    let output = run_git(dir, args, None).await?;
    if output.success {
        Ok(output.stdout)
    } else {
        Err(PublishError::Git { what: what.to_owned(), detail: last_words(&output.stderr, None) })
    }
}

impl Repository {
    pub async fn open(root: &Path) -> Result<Self, PublishError> {
        let output = run_git(root, &["rev-parse", "--show-toplevel", "--show-prefix"], None).await?;
        if !output.success {
            return Err(PublishError::NotARepository { root: root.to_path_buf() });
        }
        let mut lines = output.stdout.lines();
        let toplevel = PathBuf::from(lines.next().unwrap_or_default().trim());
        let prefix = lines.next().unwrap_or_default().trim().to_owned();
        Ok(Self { toplevel, prefix })
    }

    fn in_repo(&self, workspace_path: &str) -> String {
        format!("{}{workspace_path}", self.prefix)
    }

    /// The touched files that differ from `HEAD` in the user's working tree or index.
    pub async fn dirty_files(&self, paths: &[String]) -> Result<Vec<String>, PublishError> {
        let mut args = vec!["status".to_owned(), "--porcelain".to_owned(), "--".to_owned()];
        args.extend(paths.iter().map(|p| self.in_repo(p)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = git_ok(&self.toplevel, &args, "read the working tree's status").await?;
        Ok(out.lines().filter_map(|l| l.get(3..)).map(|p| p.trim_matches('"').to_owned()).collect())
    }

    pub async fn head(&self) -> Result<String, PublishError> {
        let output = run_git(&self.toplevel, &["rev-parse", "--verify", "HEAD^{commit}"], None).await?;
        if !output.success {
            return Err(PublishError::NoCommits);
        }
        Ok(output.stdout.trim().to_owned())
    }

    pub async fn remote_url(&self, remote: &str) -> Result<String, PublishError> {
        let output = run_git(&self.toplevel, &["remote", "get-url", remote], None).await?;
        if !output.success {
            return Err(PublishError::NoRemote { remote: remote.to_owned() });
        }
        Ok(output.stdout.trim().to_owned())
    }

    /// The remote's default branch (what its `HEAD` points at).
    pub async fn default_branch(&self, remote: &str, auth: &RemoteAuth) -> Result<String, PublishError> {
        let output = run_git(&self.toplevel, &["ls-remote", "--symref", remote, "HEAD"], Some(auth)).await?;
        if !output.success {
            return Err(self.unreachable(remote, &output.stderr, auth).await);
        }
        output
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("ref: refs/heads/")?.split_once('\t').map(|(b, _)| b.to_owned()))
            .ok_or_else(|| PublishError::NoDefaultBranch { remote: remote.to_owned() })
    }

    async fn unreachable(&self, remote: &str, stderr: &str, auth: &RemoteAuth) -> PublishError {
        let url = self.remote_url(remote).await.map(|u| auth.clean(&u)).unwrap_or_default();
        let detail = last_words(stderr, Some(auth));
        let refused = [
            "Authentication failed",
            "Permission denied",
            "could not read Username",
            "returned error: 401",
            "returned error: 403",
        ]
        .iter()
        .any(|sign| stderr.contains(sign));
        if refused {
            PublishError::RemoteRefusedCredentials { remote: remote.to_owned(), url, detail }
        } else {
            PublishError::RemoteUnreachable { remote: remote.to_owned(), url, detail }
        }
    }

    /// The commit at the tip of `branch` on the remote, fetched; `None` when there is no such branch.
    pub async fn fetch_branch(
        &self,
        remote: &str,
        branch: &str,
        auth: &RemoteAuth,
    ) -> Result<Option<String>, PublishError> {
        let refname = format!("refs/heads/{branch}");
        let listed = run_git(&self.toplevel, &["ls-remote", remote, &refname], Some(auth)).await?;
        if !listed.success {
            return Err(self.unreachable(remote, &listed.stderr, auth).await);
        }
        let Some(tip) = listed.stdout.split_whitespace().next().map(str::to_owned) else {
            return Ok(None);
        };
        let fetched = run_git(&self.toplevel, &["fetch", "--quiet", "--no-tags", remote, &refname], Some(auth)).await?;
        if !fetched.success {
            return Err(self.unreachable(remote, &fetched.stderr, auth).await);
        }
        Ok(Some(tip))
    }

    /// Whether the touched files are the same in two commits.
    pub async fn same_files(&self, a: &str, b: &str, paths: &[String]) -> Result<bool, PublishError> {
        let mut args = vec!["diff".to_owned(), "--quiet".to_owned(), a.to_owned(), b.to_owned(), "--".to_owned()];
        args.extend(paths.iter().map(|p| self.in_repo(p)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run_git(&self.toplevel, &args, None).await?;
        Ok(output.success)
    }

    pub async fn tree_of(&self, commit: &str) -> Result<String, PublishError> {
        git_ok(&self.toplevel, &["rev-parse", &format!("{commit}^{{tree}}")], "read a commit")
            .await
            .map(|s| s.trim().to_owned())
    }

    pub async fn parent_of(&self, commit: &str) -> Result<String, PublishError> {
        git_ok(&self.toplevel, &["rev-parse", &format!("{commit}^")], "read a commit")
            .await
            .map(|s| s.trim().to_owned())
    }

    /// Pushes `commit` to `refs/heads/{branch}`, replacing `expected` (the tip seen before; `None`:
    /// the branch must not exist yet).
    pub async fn push(
        &self,
        remote: &str,
        commit: &str,
        branch: &str,
        expected: Option<&str>,
        auth: &RemoteAuth,
    ) -> Result<(), PublishError> {
        let refname = format!("refs/heads/{branch}");
        let lease = format!("--force-with-lease={refname}:{}", expected.unwrap_or(""));
        let refspec = format!("{commit}:{refname}");
        let output =
            run_git(&self.toplevel, &["push", "--porcelain", "--no-verify", &lease, remote, &refspec], Some(auth))
                .await?;
        if output.success {
            return Ok(());
        }
        let rejected = output.stdout.lines().any(|l| l.starts_with('!')) || output.stderr.contains("rejected");
        if rejected {
            let detail = output
                .stdout
                .lines()
                .chain(output.stderr.lines())
                .filter(|l| l.starts_with('!') || l.starts_with("remote:") || l.contains("rejected"))
                .map(|l| l.trim_start_matches('!').trim())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(PublishError::PushRejected {
                remote: remote.to_owned(),
                branch: branch.to_owned(),
                detail: auth.clean(&detail.chars().take(400).collect::<String>()),
            });
        }
        Err(self.unreachable(remote, &output.stderr, auth).await)
    }

    /// A clean worktree of `commit`, detached, in a temporary folder; removed on drop.
    pub async fn worktree(&self, commit: &str) -> Result<Worktree, PublishError> {
        let dir = tempfile::Builder::new()
            .prefix("crashloom-publish-")
            .tempdir()
            .map_err(|e| PublishError::Git { what: "create a temporary folder".into(), detail: e.to_string() })?;
        let path = dir.path().join("checkout");
        let path_text = path.to_string_lossy().into_owned();
        git_ok(&self.toplevel, &["worktree", "add", "--quiet", "--detach", &path_text, commit], "create a worktree")
            .await?;
        Ok(Worktree { repository: self.clone(), path, _dir: Some(dir) })
    }
}

/// A worktree of the user's repository for one fix.
pub struct Worktree {
    repository: Repository,
    pub path: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Worktree {
    fn drop(&mut self) {
        let _ = std::process::Command::new("git")
            .arg("-C")
            .arg(&self.repository.toplevel)
            .args(["worktree", "remove", "--force"])
            .arg(&self.path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::process::Command::new("git")
            .arg("-C")
            .arg(&self.repository.toplevel)
            .args(["worktree", "prune"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The commit's author and committer.
#[derive(Debug, Clone)]
pub struct Author {
    pub name: String,
    pub email: String,
}

impl Author {
    /// `Name <email>`; a bare name gets Crashloom's address.
    pub fn parse(text: &str) -> Self {
        match text.split_once('<') {
            Some((name, rest)) => {
                Self { name: name.trim().to_owned(), email: rest.trim_end().trim_end_matches('>').trim().to_owned() }
            }
            None => Self { name: text.trim().to_owned(), email: "crashloom@localhost".into() },
        }
    }
}

impl Worktree {
    /// The workspace folder inside the worktree.
    pub fn workspace(&self) -> PathBuf {
        self.path.join(&self.repository.prefix)
    }

    async fn git(&self, args: &[&str], author: Option<&Author>, what: &str) -> Result<Output, PublishError> {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.path)
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(author) = author {
            for role in ["AUTHOR", "COMMITTER"] {
                command.env(format!("GIT_{role}_NAME"), &author.name).env(format!("GIT_{role}_EMAIL"), &author.email);
            }
        }
        let output = command
            .output()
            .await
            .map_err(|e| PublishError::Git { what: what.to_owned(), detail: format!("git cannot be started ({e})") })?;
        Ok(Output {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            success: output.status.success(),
        })
    }

    async fn git_ok(&self, args: &[&str], author: Option<&Author>, what: &str) -> Result<String, PublishError> {
        let output = self.git(args, author, what).await?;
        if output.success {
            Ok(output.stdout.trim().to_owned())
        } else {
            Err(PublishError::Git { what: what.to_owned(), detail: last_words(&output.stderr, None) })
        }
    }

    /// Writes the fix into the worktree's files.
    pub fn apply(&self, changes: &[FileChange]) -> Result<(), PublishError> {
        let workspace = self.workspace();
        for change in changes {
            let does_not_apply = |problem: String| PublishError::FixDoesNotApply { path: change.path.clone(), problem };
            if change.path.split('/').any(|part| part == ".." || part == ".git") || change.path.starts_with('/') {
                return Err(does_not_apply("the path leaves the workspace".into()));
            }
            let target = workspace.join(&change.path);
            match &change.edit {
                FileEdit::Write { content } => {
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| does_not_apply(e.to_string()))?;
                    }
                    std::fs::write(&target, content).map_err(|e| does_not_apply(e.to_string()))?;
                }
                FileEdit::Replace { old, new } => {
                    let current = std::fs::read_to_string(&target)
                        .map_err(|e| does_not_apply(format!("the file cannot be read ({e})")))?;
                    if current.matches(old.as_str()).count() != 1 {
                        return Err(does_not_apply("the text the fix replaces is not there exactly once".into()));
                    }
                    std::fs::write(&target, current.replacen(old.as_str(), new, 1))
                        .map_err(|e| does_not_apply(e.to_string()))?;
                }
                FileEdit::Delete => std::fs::remove_file(&target).map_err(|e| does_not_apply(e.to_string()))?,
            }
        }
        Ok(())
    }

    /// Commits the touched files; returns the commit.
    pub async fn commit(&self, paths: &[String], message: &str, author: &Author) -> Result<String, PublishError> {
        let mut add = vec!["add".to_owned(), "-A".to_owned(), "--".to_owned()];
        add.extend(paths.iter().map(|p| self.repository.in_repo(p)));
        let add: Vec<&str> = add.iter().map(String::as_str).collect();
        // `-C` paths are relative to the worktree's top level.
        self.git_ok(&add, None, "stage the fix").await?;
        self.git_ok(&["commit", "--quiet", "--no-verify", "-m", message], Some(author), "commit the fix").await?;
        self.git_ok(&["rev-parse", "HEAD"], None, "read the commit").await
    }

    /// Replays `commit` on top of `base`; `false` when it conflicts (the worktree is left at `base`).
    pub async fn replay_onto(&self, commit: &str, base: &str, author: &Author) -> Result<Option<String>, PublishError> {
        self.git_ok(&["checkout", "--quiet", "--detach", base], None, "check out the base").await?;
        let picked = self.git(&["cherry-pick", "--allow-empty", commit], Some(author), "move the fix").await?;
        if !picked.success {
            let _ = self.git(&["cherry-pick", "--abort"], None, "stop moving the fix").await;
            return Ok(None);
        }
        self.git_ok(&["rev-parse", "HEAD"], None, "read the commit").await.map(Some)
    }

    pub async fn checkout(&self, commit: &str) -> Result<(), PublishError> {
        self.git_ok(&["checkout", "--quiet", "--detach", commit], None, "check out a commit").await.map(|_| ())
    }

    /// A file's content in the worktree, for re-validation.
    pub fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.workspace().join(path)).ok()
    }
}

/// Where a remote lives, from its URL: `git@github.com:acme/shop.git`, `https://gitlab.com/a/b/c`,
/// `ssh://git@host:22/acme/shop.git`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLocation {
    pub host: String,
    /// `owner/name` (GitHub) or the project path (GitLab), without `.git`.
    pub path: String,
}

pub fn remote_location(url: &str) -> Option<RemoteLocation> {
    let url = url.trim();
    let (host, path) = if let Ok(parsed) = reqwest::Url::parse(url) {
        if !matches!(parsed.scheme(), "https" | "http" | "ssh" | "git") {
            return None;
        }
        (parsed.host_str()?.to_owned(), parsed.path().to_owned())
    } else {
        // scp-like: [user@]host:path
        let (left, path) = url.split_once(':')?;
        if left.contains('/') {
            return None;
        }
        let host = left.rsplit('@').next()?.to_owned();
        (host, path.to_owned())
    };
    let path = path.trim_matches('/').trim_end_matches(".git").trim_matches('/').to_owned();
    if host.is_empty() || !path.contains('/') {
        return None;
    }
    Some(RemoteLocation { host, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_name_their_host_and_repository() {
        let github = RemoteLocation { host: "github.com".into(), path: "acme/shop".into() };
        assert_eq!(remote_location("git@github.com:acme/shop.git"), Some(github.clone()));
        assert_eq!(remote_location("https://github.com/acme/shop.git"), Some(github.clone()));
        assert_eq!(remote_location("ssh://git@github.com:22/acme/shop"), Some(github));
        assert_eq!(
            remote_location("https://gitlab.com/acme/backend/shop").map(|l| l.path),
            Some("acme/backend/shop".into())
        );
        assert_eq!(remote_location("/srv/git/shop.git"), None);
        assert_eq!(remote_location("file:///srv/git/shop.git"), None);
    }

    #[test]
    fn tokens_and_url_credentials_never_leave_in_messages() {
        let auth = RemoteAuth::for_remote("https://github.com/acme/shop.git", "x-access-token", "ghp_secret123456");
        assert_eq!(
            auth.clean("fatal: unable to access 'https://bob:ghp_secret123456@github.com/acme/shop.git/'"),
            "fatal: unable to access 'https://github.com/acme/shop.git/'"
        );
        assert_eq!(auth.clean("token ghp_secret123456 refused"), "token [token] refused");
        let (key, value) = auth.header.clone().expect("an HTTPS remote gets a header");
        assert_eq!(key, "http.https://github.com/.extraHeader");
        assert!(value.starts_with("Authorization: Basic ") && !value.contains("ghp_secret123456"));
        assert!(RemoteAuth::for_remote("/srv/git/shop.git", "x", "t").header.is_none(), "no header for a file remote");
    }

    #[test]
    fn an_author_reads_as_name_and_email() {
        let author = Author::parse("Crash Bot <bot@example.com>");
        assert_eq!((author.name.as_str(), author.email.as_str()), ("Crash Bot", "bot@example.com"));
    }
}
