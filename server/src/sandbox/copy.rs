//! The isolated copy of the workspace, and its removal.
//!
//! In a git repository the copy is a detached `git worktree` of `HEAD`, then brought to the current
//! state: `git diff --binary HEAD` (staged and unstaged changes, deletions included) is applied with
//! `git apply`, and untracked files that are not ignored are copied over. Without git (or without a
//! first commit) it is a plain recursive copy. Either way, build output and dependency folders
//! ([`SKIPPED_DIRS`]) are not copied: they are reused from the workspace (see [`super::cache`]).
//!
//! Layout of one copy, in a fresh temporary folder:
//! ```text
//! crashloom-sandbox-XXXXXX/
//!   checkout/   the worktree or plain copy (the workspace itself is `checkout/<prefix>` when it
//!               is a subfolder of its git repository)
//!   home/       HOME for commands run in the copy
//!   tmp/        TMPDIR for commands run in the copy
//! ```
//!
//! The copy is always removed: [`WorkspaceCopy::remove`] does it asynchronously, and `Drop` does it
//! synchronously when the copy is dropped without being removed (an error, a cancelled future, a
//! panic). Removal is `git worktree remove --force`, deleting the folder, and `git worktree prune`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::SandboxError;
use super::cache::{CacheReuse, detect_cache_reuse};

/// Folder names never copied from the workspace: build output and dependencies, reused instead.
pub const SKIPPED_DIRS: &[&str] = &[
    ".git",
    "target",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".gradle",
];

/// How the copy was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    GitWorktree,
    PlainCopy,
}

/// An isolated copy of a workspace, removed again by [`WorkspaceCopy::remove`] or on drop.
#[derive(Debug)]
pub struct WorkspaceCopy {
    origin: PathBuf,
    root: PathBuf,
    checkout: PathBuf,
    workspace: PathBuf,
    /// The repository's top level, when the copy is a worktree of it.
    git_toplevel: Option<PathBuf>,
    cache_reuse: CacheReuse,
    removed: bool,
}

impl WorkspaceCopy {
    /// Copies `workspace` into a new folder of the system's temporary directory.
    pub async fn create(workspace: &Path) -> Result<Self, SandboxError> {
        Self::create_in(workspace, &std::env::temp_dir()).await
    }

    /// Copies `workspace` into a new folder inside `parent`.
    pub async fn create_in(workspace: &Path, parent: &Path) -> Result<Self, SandboxError> {
        let origin =
            workspace.canonicalize().map_err(|error| SandboxError::io("open the workspace", workspace, error))?;
        let root = tempfile::Builder::new()
            .prefix("crashloom-sandbox-")
            .tempdir_in(parent)
            .map_err(|error| SandboxError::io("create a temporary folder in", parent, error))?
            .keep();
        let root = root.canonicalize().unwrap_or(root);
        let checkout = root.join("checkout");
        let mut copy = WorkspaceCopy {
            workspace: checkout.clone(),
            checkout,
            root,
            cache_reuse: detect_cache_reuse(&origin),
            origin,
            git_toplevel: None,
            removed: false,
        };
        // From here on, an early return drops `copy`, which removes everything made so far.
        for dir in [copy.home_dir(), copy.tmp_dir()] {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|error| SandboxError::io("create the folder", &dir, error))?;
        }
        match git_repository_of(&copy.origin).await {
            Some((toplevel, prefix)) => {
                copy.git_toplevel = Some(toplevel.clone());
                copy.workspace = copy.checkout.join(prefix);
                make_worktree(&toplevel, &copy.checkout).await?;
                // An untracked workspace folder holding only ignored files is not in the worktree.
                tokio::fs::create_dir_all(&copy.workspace)
                    .await
                    .map_err(|error| SandboxError::io("create the folder", &copy.workspace, error))?;
            }
            None => {
                let (from, to) = (copy.origin.clone(), copy.checkout.clone());
                tokio::task::spawn_blocking(move || copy_tree(&from, &to))
                    .await
                    .map_err(|join| SandboxError::io("copy", &copy.origin, std::io::Error::other(join)))??;
            }
        }
        copy.link_reused_caches()?;
        tracing::debug!(origin = %copy.origin.display(), copy = %copy.workspace.display(), kind = ?copy.kind(), "workspace copy created");
        Ok(copy)
    }

    /// The real workspace this is a copy of.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The copy's counterpart of the workspace folder: where changes apply and commands run.
    pub fn workspace_dir(&self) -> &Path {
        &self.workspace
    }

    /// The temporary folder holding the copy, its home and its tmp; gone after removal.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    pub fn kind(&self) -> CopyKind {
        if self.git_toplevel.is_some() { CopyKind::GitWorktree } else { CopyKind::PlainCopy }
    }

    pub fn cache_reuse(&self) -> &CacheReuse {
        &self.cache_reuse
    }

    pub(crate) fn home_dir(&self) -> PathBuf {
        self.root.join("home")
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn link_reused_caches(&self) -> Result<(), SandboxError> {
        for (name, target) in self.cache_reuse.links() {
            let link = self.workspace.join(name);
            if link.symlink_metadata().is_err() {
                std::os::unix::fs::symlink(target, &link)
                    .map_err(|error| SandboxError::io("link the reused cache", &link, error))?;
            }
        }
        Ok(())
    }

    /// Removes the copy (and its worktree registration). Also done by `Drop`, but this way the
    /// caller learns about a failure and no thread blocks on it.
    pub async fn remove(mut self) -> Result<(), SandboxError> {
        self.removed = true;
        // Not while another copy's worktree is being added (see `make_worktree`).
        let _one_at_a_time = match self.git_toplevel {
            Some(_) => Some(WORKTREE_ADDS.lock().await),
            None => None,
        };
        if let Some(toplevel) = &self.git_toplevel {
            let remove = [OsStr::new("worktree"), "remove".as_ref(), "--force".as_ref(), self.checkout.as_os_str()];
            if let Err(error) = git(toplevel, &remove).await {
                tracing::debug!(%error, "git worktree remove failed; deleting the folder instead");
            }
        }
        let removed = match tokio::fs::remove_dir_all(&self.root).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(SandboxError::io("remove the workspace copy", &self.root, error))
            }
            _ => Ok(()),
        };
        if let Some(toplevel) = &self.git_toplevel {
            git(toplevel, &["worktree".as_ref(), "prune".as_ref()]).await?;
        }
        tracing::debug!(copy = %self.root.display(), "workspace copy removed");
        removed
    }
}

impl Drop for WorkspaceCopy {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (toplevel, checkout, root) = (self.git_toplevel.take(), self.checkout.clone(), self.root.clone());
        let cleanup = move || remove_blocking(toplevel.as_deref(), &checkout, &root);
        // Dropped on a worker of a multi-threaded runtime (the language server: an investigation
        // cancelled, a panic): git and the file system are left to a blocking thread, so the
        // editor's requests go on. Elsewhere it is done here and now.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                drop(runtime.spawn_blocking(cleanup));
            }
            _ => cleanup(),
        }
    }
}

/// What [`WorkspaceCopy::remove`] does, without a runtime.
fn remove_blocking(toplevel: Option<&Path>, checkout: &Path, root: &Path) {
    if let Some(toplevel) = toplevel {
        let _ = git_command_blocking(toplevel).args(["worktree", "remove", "--force"]).arg(checkout).output();
    }
    if let Err(error) = std::fs::remove_dir_all(root)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(copy = %root.display(), %error, "could not remove the workspace copy");
    }
    if let Some(toplevel) = toplevel {
        let _ = git_command_blocking(toplevel).args(["worktree", "prune"]).output();
    }
}

/// The repository's top level and the workspace's path inside it, when the workspace is in a git
/// repository with at least one commit (and not in an ignored folder of it) and git is installed.
async fn git_repository_of(workspace: &Path) -> Option<(PathBuf, PathBuf)> {
    git(workspace, &["rev-parse", "--verify", "--quiet", "HEAD"].map(OsStr::new)).await.ok()?;
    let output = git(workspace, &["rev-parse", "--show-toplevel", "--show-prefix"].map(OsStr::new)).await.ok()?;
    let output = String::from_utf8(output).ok()?;
    let mut lines = output.lines();
    let toplevel = PathBuf::from(lines.next()?);
    let prefix = PathBuf::from(lines.next().unwrap_or(""));
    // A workspace inside an ignored folder of some repository is not part of that repository.
    let ignored = ["check-ignore", "--quiet", "."].map(OsStr::new);
    if !prefix.as_os_str().is_empty() && git(workspace, &ignored).await.is_ok() {
        return None;
    }
    Some((toplevel, prefix))
}

/// Held while a worktree is added or removed (see [`make_worktree`]).
static WORKTREE_ADDS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Adds a detached worktree of `HEAD` at `checkout` and brings over the working tree's state.
async fn make_worktree(toplevel: &Path, checkout: &Path) -> Result<(), SandboxError> {
    // Hooks are the user's, but a post-checkout hook has no business running in a sandbox copy.
    let add = ["-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "--quiet"].map(OsStr::new);
    let add: Vec<&OsStr> = add.into_iter().chain([checkout.as_os_str(), OsStr::new("HEAD")]).collect();
    {
        // Worktrees of one repository are added one at a time: git's bookkeeping under
        // `.git/worktrees/` is not safe against adds running at once (five investigations
        // started together lost one to "exit status 128"). Another process may still race: one
        // retry after a pause.
        let _one_at_a_time = WORKTREE_ADDS.lock().await;
        if let Err(first) = git(toplevel, &add).await {
            tracing::debug!(%first, "adding the worktree failed; trying once more");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let _ = tokio::fs::remove_dir_all(checkout).await;
            git(toplevel, &["worktree".as_ref(), "prune".as_ref()]).await?;
            git(toplevel, &add).await?;
        }
    }

    let diff = [
        "diff",
        "HEAD",
        "--binary",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--ignore-submodules=all",
        "--src-prefix=a/",
        "--dst-prefix=b/",
    ]
    .map(OsStr::new);
    let patch = git(toplevel, &diff).await?;
    if !patch.is_empty() {
        git_with_input(checkout, &["apply", "--whitespace=nowarn", "-"], &patch).await?;
    }

    let untracked = git(toplevel, &["ls-files", "--others", "--exclude-standard", "-z"].map(OsStr::new)).await?;
    let relative_paths: Vec<PathBuf> = untracked
        .split(|byte| *byte == 0)
        .filter_map(|path| std::str::from_utf8(path).ok())
        .filter(|path| !path.is_empty() && !path.ends_with('/'))
        .map(PathBuf::from)
        .filter(|path| !is_skipped(path))
        .collect();
    let (from, to) = (toplevel.to_path_buf(), checkout.to_path_buf());
    tokio::task::spawn_blocking(move || {
        relative_paths.iter().try_for_each(|path| copy_entry(&from.join(path), &to.join(path)))
    })
    .await
    .map_err(|join| SandboxError::io("copy untracked files to", checkout, std::io::Error::other(join)))?
}

fn is_skipped(relative: &Path) -> bool {
    relative.components().any(|component| SKIPPED_DIRS.iter().any(|skipped| component.as_os_str() == *skipped))
}

/// Copies a whole folder except [`SKIPPED_DIRS`], keeping symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) -> Result<(), SandboxError> {
    std::fs::create_dir_all(to).map_err(|error| SandboxError::io("create the folder", to, error))?;
    let entries = std::fs::read_dir(from).map_err(|error| SandboxError::io("read the folder", from, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| SandboxError::io("read the folder", from, error))?;
        let name = entry.file_name();
        let source = entry.path();
        let file_type = entry.file_type().map_err(|error| SandboxError::io("inspect", &source, error))?;
        if file_type.is_dir() {
            if !SKIPPED_DIRS.iter().any(|skipped| name == *skipped) {
                copy_tree(&source, &to.join(&name))?;
            }
        } else {
            copy_entry(&source, &to.join(&name))?;
        }
    }
    Ok(())
}

/// Copies one file, or recreates one symlink, creating the destination's folders.
fn copy_entry(source: &Path, destination: &Path) -> Result<(), SandboxError> {
    if let Some(parent) = destination.parent() {
        std::fs::create_dir_all(parent).map_err(|error| SandboxError::io("create the folder", parent, error))?;
    }
    let metadata = source.symlink_metadata().map_err(|error| SandboxError::io("inspect", source, error))?;
    if metadata.file_type().is_symlink() {
        let target = std::fs::read_link(source).map_err(|error| SandboxError::io("read the link", source, error))?;
        std::os::unix::fs::symlink(target, destination)
            .map_err(|error| SandboxError::io("create the link", destination, error))
    } else if metadata.is_file() {
        std::fs::copy(source, destination).map(drop).map_err(|error| SandboxError::io("copy", source, error))
    } else {
        // Sockets, FIFOs and devices have no place in a copy.
        Ok(())
    }
}

/// Environment variables that would point git at another repository or trigger downloads.
const GIT_ENVIRONMENT_TO_CLEAR: &[&str] =
    &["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"];

fn git_command(dir: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    command.arg("-C").arg(dir).env("GIT_LFS_SKIP_SMUDGE", "1").env("GIT_TERMINAL_PROMPT", "0");
    for name in GIT_ENVIRONMENT_TO_CLEAR {
        command.env_remove(name);
    }
    command.stdin(Stdio::null()).kill_on_drop(true);
    command
}

fn git_command_blocking(dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new("git");
    command.arg("-C").arg(dir).stdin(Stdio::null());
    for name in GIT_ENVIRONMENT_TO_CLEAR {
        command.env_remove(name);
    }
    command
}

fn git_failure(dir: &Path, args: &[impl AsRef<OsStr>], stderr: String) -> SandboxError {
    let command = args.iter().map(|arg| arg.as_ref().to_string_lossy()).collect::<Vec<_>>().join(" ");
    SandboxError::Git { command, dir: dir.to_path_buf(), stderr }
}

/// Runs git in `dir` and returns its stdout, or its stderr as the error.
async fn git(dir: &Path, args: &[&OsStr]) -> Result<Vec<u8>, SandboxError> {
    let started = std::time::Instant::now();
    tracing::trace!(?args, dir = %dir.display(), "git started");
    let output = git_command(dir)
        .args(args)
        .output()
        .await
        .map_err(|error| git_failure(dir, args, format!("git could not be started ({error})")))?;
    tracing::trace!(?args, status = ?output.status, elapsed_ms = started.elapsed().as_millis() as u64, "git finished");
    if output.status.success() {
        Ok(output.stdout)
    } else {
        tracing::trace!(stderr = %String::from_utf8_lossy(&output.stderr).trim(), "git failed");
        Err(git_failure(dir, args, String::from_utf8_lossy(&output.stderr).trim().to_string()))
    }
}

/// Runs git in `dir` with `input` on its stdin.
async fn git_with_input(dir: &Path, args: &[&str], input: &[u8]) -> Result<(), SandboxError> {
    let mut child = git_command(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| git_failure(dir, args, format!("git could not be started ({error})")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .await
            .map_err(|error| git_failure(dir, args, format!("could not write to git ({error})")))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|error| git_failure(dir, args, format!("git did not finish ({error})")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(git_failure(dir, args, String::from_utf8_lossy(&output.stderr).trim().to_string()))
    }
}
