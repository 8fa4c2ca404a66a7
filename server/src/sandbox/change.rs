//! Applying a proposed change to the workspace copy, and the policy on which files it may touch.
//!
//! A change is a list of [`FileChange`]s with paths relative to the workspace. Every path is checked
//! before anything is written, so a refused or non-applying change leaves the copy untouched:
//! - paths that leave the workspace (absolute, `..`, or through a symlink) and paths inside `.git`
//!   are always refused;
//! - CI configuration, lockfiles and secrets files are refused unless [`ChangePolicy`] allows them.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::{SandboxError, WorkspaceCopy};

/// One file edit, with a `/`-separated path relative to the workspace root.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileChange {
    pub path: String,
    pub edit: FileEdit,
}

/// What happens to the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileEdit {
    /// The file gets exactly this content (created, with its folders, when missing).
    Write { content: String },
    /// The exact text `old`, which must occur exactly once in the file, becomes `new`.
    Replace { old: String, new: String },
    /// The file is deleted.
    Delete,
}

impl FileChange {
    pub fn write(path: impl Into<String>, content: impl Into<String>) -> Self {
        FileChange { path: path.into(), edit: FileEdit::Write { content: content.into() } }
    }

    pub fn replace(path: impl Into<String>, old: impl Into<String>, new: impl Into<String>) -> Self {
        FileChange { path: path.into(), edit: FileEdit::Replace { old: old.into(), new: new.into() } }
    }

    pub fn delete(path: impl Into<String>) -> Self {
        FileChange { path: path.into(), edit: FileEdit::Delete }
    }
}

impl ChangePolicy {
    /// Every kind allowed: for Crashloom's own restoring of files it changed in a copy.
    pub fn everything() -> Self {
        ChangePolicy { allow_ci_config: true, allow_lockfiles: true, allow_secrets_files: true }
    }
}

/// Which sensitive kinds of file a change may touch. Everything is refused by default; each flag is
/// the `[sandbox]` setting of the same name in crashloom.toml.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangePolicy {
    pub allow_ci_config: bool,
    pub allow_lockfiles: bool,
    pub allow_secrets_files: bool,
}

/// Why a path was refused. The message names the setting that would allow it, where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// Empty, absolute, `..`, or a symlink that leads out of the workspace. Never allowed.
    OutsideWorkspace,
    /// Inside `.git`. Never allowed.
    GitMetadata,
    CiConfiguration,
    Lockfile,
    SecretsFile,
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefusalReason::OutsideWorkspace => {
                "the path leads outside the workspace; changes must stay inside it (no setting allows this)"
            }
            RefusalReason::GitMetadata => {
                "the path is inside `.git`; changes may not touch git metadata (no setting allows this)"
            }
            RefusalReason::CiConfiguration => {
                "it is CI configuration; set `sandbox.allow_ci_config = true` in crashloom.toml to allow it"
            }
            RefusalReason::Lockfile => {
                "it is a lockfile; set `sandbox.allow_lockfiles = true` in crashloom.toml to allow it"
            }
            RefusalReason::SecretsFile => {
                "it may hold secrets; set `sandbox.allow_secrets_files = true` in crashloom.toml to allow it"
            }
        })
    }
}

/// Folders anywhere in the path that hold CI configuration.
const CI_FOLDERS: &[&str] =
    &[".github", ".gitlab", ".ci", ".circleci", ".buildkite", ".woodpecker", ".azure-pipelines"];

/// File names of CI configuration.
const CI_FILES: &[&str] = &[
    ".gitlab-ci.yml",
    ".gitlab-ci.yaml",
    ".travis.yml",
    "azure-pipelines.yml",
    "azure-pipelines.yaml",
    "jenkinsfile",
    "bitbucket-pipelines.yml",
    ".drone.yml",
    ".woodpecker.yml",
    "appveyor.yml",
    ".appveyor.yml",
    "cloudbuild.yaml",
    "cloudbuild.yml",
];

/// File names of dependency lockfiles.
const LOCKFILES: &[&str] = &[
    "cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
    "poetry.lock",
    "pipfile.lock",
    "pdm.lock",
    "uv.lock",
    "go.sum",
    "go.work.sum",
    "gemfile.lock",
    "composer.lock",
    "gradle.lockfile",
    "packages.lock.json",
    "mix.lock",
    "pubspec.lock",
    "package.resolved",
    "flake.lock",
];

/// Whether a file name (lower-cased) looks like it holds secrets.
fn is_secrets_file_name(name: &str) -> bool {
    const PREFIXES: &[&str] = &[".env", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "credentials"];
    const SUFFIXES: &[&str] = &[".pem", ".key", ".p12", ".pfx", ".keystore", ".jks"];
    const NAMES: &[&str] = &[".netrc", ".npmrc", ".pypirc", ".htpasswd"];
    PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        || SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
        || NAMES.contains(&name)
}

/// Checks a change's path against the rules that need no file system: it must be a relative path
/// inside the workspace, outside `.git`, and of a kind the policy allows.
pub fn check_change_path(path: &str, policy: &ChangePolicy) -> Result<(), RefusalReason> {
    let mut names = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) => names.push(name.to_string_lossy().to_lowercase()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(RefusalReason::OutsideWorkspace);
            }
        }
    }
    let Some(file_name) = names.last() else {
        return Err(RefusalReason::OutsideWorkspace);
    };
    if names.iter().any(|name| name == ".git") {
        return Err(RefusalReason::GitMetadata);
    }
    let in_ci_folder = names.iter().any(|name| CI_FOLDERS.contains(&name.as_str()));
    if !policy.allow_ci_config && (in_ci_folder || CI_FILES.contains(&file_name.as_str())) {
        return Err(RefusalReason::CiConfiguration);
    }
    if !policy.allow_lockfiles && LOCKFILES.contains(&file_name.as_str()) {
        return Err(RefusalReason::Lockfile);
    }
    if !policy.allow_secrets_files && is_secrets_file_name(file_name) {
        return Err(RefusalReason::SecretsFile);
    }
    Ok(())
}

impl WorkspaceCopy {
    /// Applies `changes` to the copy, all or nothing: every path is checked and every edit computed
    /// before the first file is written.
    pub async fn apply_changes(&self, changes: &[FileChange], policy: &ChangePolicy) -> Result<(), SandboxError> {
        let workspace = self.workspace_dir().to_path_buf();
        let changes = changes.to_vec();
        let policy = *policy;
        tokio::task::spawn_blocking(move || apply_changes_in(&workspace, &changes, &policy)).await.map_err(|join| {
            SandboxError::ChangeDoesNotApply {
                path: String::new(),
                problem: format!("applying the change stopped unexpectedly: {join}"),
            }
        })?
    }
}

/// What to do to one file once every change has been checked.
enum PlannedWrite {
    Write(PathBuf, String),
    Delete(PathBuf),
}

/// Applies `changes` to the folder `workspace` (a copy, or the workspace itself for a validated fix
/// the user applies), all or nothing, under `policy`. Blocking.
pub fn apply_changes_in(workspace: &Path, changes: &[FileChange], policy: &ChangePolicy) -> Result<(), SandboxError> {
    let root =
        workspace.canonicalize().map_err(|error| SandboxError::io("open the workspace copy", workspace, error))?;
    let mut plan = Vec::with_capacity(changes.len());
    for change in changes {
        let refuse = |reason| SandboxError::ChangeRefused { path: change.path.clone(), reason };
        check_change_path(&change.path, policy).map_err(refuse)?;
        let target = root.join(&change.path);
        if !stays_inside(&root, &target) {
            return Err(refuse(RefusalReason::OutsideWorkspace));
        }
        plan.push(match &change.edit {
            FileEdit::Write { content } => PlannedWrite::Write(target, content.clone()),
            FileEdit::Delete => PlannedWrite::Delete(target),
            FileEdit::Replace { old, new } => {
                let does_not_apply =
                    |problem: String| SandboxError::ChangeDoesNotApply { path: change.path.clone(), problem };
                let current = std::fs::read_to_string(&target)
                    .map_err(|error| does_not_apply(format!("the file cannot be read ({error})")))?;
                match current.matches(old.as_str()).count() {
                    1 => PlannedWrite::Write(target, current.replacen(old.as_str(), new, 1)),
                    0 => return Err(does_not_apply("the text to replace is not in the file".into())),
                    n => {
                        return Err(does_not_apply(format!(
                            "the text to replace occurs {n} times; it must occur exactly once"
                        )));
                    }
                }
            }
        });
    }
    for planned in plan {
        match planned {
            PlannedWrite::Write(target, content) => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|error| SandboxError::io("create the folder", parent, error))?;
                }
                std::fs::write(&target, content).map_err(|error| SandboxError::io("write", &target, error))?;
            }
            PlannedWrite::Delete(target) => {
                std::fs::remove_file(&target).map_err(|error| SandboxError::io("delete", &target, error))?
            }
        }
    }
    Ok(())
}

/// Whether `target` (lexically inside `root`) stays inside `root` once symlinks are followed: the
/// deepest part of it that exists must resolve to a place inside `root`.
fn stays_inside(root: &Path, target: &Path) -> bool {
    let mut existing = target;
    loop {
        if existing.symlink_metadata().is_ok() {
            // A dangling symlink cannot be resolved: refuse rather than guess where it leads.
            return existing.canonicalize().is_ok_and(|resolved| resolved.starts_with(root));
        }
        match existing.parent() {
            Some(parent) => existing = parent,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &str) -> Option<RefusalReason> {
        check_change_path(path, &ChangePolicy::default()).err()
    }

    #[test]
    fn ordinary_source_files_may_change() {
        assert_eq!(refused("src/main.rs"), None);
        assert_eq!(refused("./app/models/user.py"), None);
        assert_eq!(refused("environment.ts"), None);
        assert_eq!(refused("docs/github.md"), None);
    }

    #[test]
    fn paths_leaving_the_workspace_are_always_refused() {
        let everything = ChangePolicy { allow_ci_config: true, allow_lockfiles: true, allow_secrets_files: true };
        for path in ["../outside.txt", "src/../../outside.txt", "/etc/passwd", "", "."] {
            assert_eq!(check_change_path(path, &everything), Err(RefusalReason::OutsideWorkspace), "{path}");
        }
        assert_eq!(check_change_path(".git/hooks/pre-commit", &everything), Err(RefusalReason::GitMetadata));
    }

    #[test]
    fn sensitive_files_are_refused_unless_the_policy_allows_them() {
        assert_eq!(refused(".github/workflows/ci.yml"), Some(RefusalReason::CiConfiguration));
        assert_eq!(refused(".gitlab-ci.yml"), Some(RefusalReason::CiConfiguration));
        assert_eq!(refused("Jenkinsfile"), Some(RefusalReason::CiConfiguration));
        assert_eq!(refused("Cargo.lock"), Some(RefusalReason::Lockfile));
        assert_eq!(refused("web/package-lock.json"), Some(RefusalReason::Lockfile));
        assert_eq!(refused("go.sum"), Some(RefusalReason::Lockfile));
        assert_eq!(refused(".env"), Some(RefusalReason::SecretsFile));
        assert_eq!(refused("config/.env.production"), Some(RefusalReason::SecretsFile));
        assert_eq!(refused("certs/server.pem"), Some(RefusalReason::SecretsFile));
        assert_eq!(refused("id_rsa.pub"), Some(RefusalReason::SecretsFile));
        assert_eq!(refused("credentials.json"), Some(RefusalReason::SecretsFile));

        let allow_lockfiles = ChangePolicy { allow_lockfiles: true, ..ChangePolicy::default() };
        assert_eq!(check_change_path("Cargo.lock", &allow_lockfiles), Ok(()));
        assert_eq!(check_change_path(".env", &allow_lockfiles), Err(RefusalReason::SecretsFile));
    }

    #[test]
    fn the_refusal_names_the_setting() {
        let message = RefusalReason::CiConfiguration.to_string();
        assert!(message.contains("sandbox.allow_ci_config"), "{message}");
    }
}
