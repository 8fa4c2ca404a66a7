//! Real git repositories for the pull request tests: a shipped example committed on `main` in a
//! repository of its own, a bare repository as its `origin` (real pushes), and the example's
//! investigation, run once per test binary with the real `crashloom investigate`.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crashloom::config::{Config, PullRequestConfig, PullRequestProvider};
use crashloom::investigate::pipeline::Investigation;
use crashloom::workspace::sites::CrashGroup;

pub const AUTHOR: &str = "Crash Bot <crash-bot@example.com>";

/// A workspace repository and its bare remote, in one temporary folder.
pub struct Scenario {
    _dir: tempfile::TempDir,
    pub work: PathBuf,
    pub bare: PathBuf,
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?} in {}: {}", dir.display(), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" || name == "target" || name == "node_modules" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `examples/{name}` committed on `main`, pushed to a bare `origin`. `extra_config` is appended to
/// the example's crashloom.toml before the commit.
pub fn scenario_with(name: &str, extra_config: &str) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let work = root.join("work");
    let bare = root.join("remote.git");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name), &work);
    if !extra_config.is_empty() {
        let path = work.join("crashloom.toml");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push('\n');
        text.push_str(extra_config);
        std::fs::write(&path, text).unwrap();
    }
    std::fs::write(work.join(".gitignore"), ".crashloom/crashloom.db*\n.crashloom/reports/\n").unwrap();
    git(&root, &["init", "-q", "--bare", "remote.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "The example as shipped"]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    git(&work, &["push", "-q", "origin", "main"]);
    git(&bare, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    Scenario { _dir: dir, work, bare }
}

pub fn scenario(name: &str) -> Scenario {
    scenario_with(name, "")
}

impl Scenario {
    /// Commits `content` to `path` on the remote's `main`, as another developer would.
    pub fn advance_main(&self, path: &str, edit: impl Fn(&str) -> String) {
        let other = self.work.parent().unwrap().join("other");
        if !other.exists() {
            git(self.work.parent().unwrap(), &["clone", "-q", self.bare.to_str().unwrap(), "other"]);
        }
        git(&other, &["pull", "-q", "origin", "main"]);
        let file = other.join(path);
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        std::fs::write(&file, edit(&text)).unwrap();
        git(&other, &["add", "-A"]);
        git(&other, &["commit", "-q", "-m", "Another change on main"]);
        git(&other, &["push", "-q", "origin", "main"]);
    }

    /// The commits of `branch` on the remote that are not on `main`.
    pub fn commits_on(&self, branch: &str) -> Vec<String> {
        let out = git(&self.bare, &["log", "--format=%H", &format!("main..{branch}")]);
        out.lines().map(str::to_owned).collect()
    }

    pub fn branches(&self) -> Vec<String> {
        git(&self.bare, &["for-each-ref", "--format=%(refname:short)", "refs/heads"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn group(&self, short_id: &str) -> CrashGroup {
        let config = Config::load(&self.work).unwrap();
        let loaded = crashloom::engine::load_workspace(&self.work, &config).unwrap();
        loaded.picture.group_by_id(short_id).cloned().unwrap()
    }

    pub fn config(&self, provider: PullRequestProvider, api_url: &str, repository: &str) -> Config {
        let mut config = Config::load(&self.work).unwrap();
        config.pull_request = Some(PullRequestConfig {
            provider,
            api_url: Some(api_url.to_owned()),
            repository: Some(repository.to_owned()),
            author: AUTHOR.to_owned(),
            ..PullRequestConfig::default()
        });
        config
    }

    /// `git status --porcelain` of the user's working tree, and its `HEAD`.
    pub fn user_tree(&self) -> (String, String) {
        (git(&self.work, &["status", "--porcelain"]), git(&self.work, &["rev-parse", "HEAD"]))
    }
}

/// The only crash group of a shipped example, investigated with the real command on a pristine
/// copy (once per test binary): (short id, investigation).
pub fn investigated(name: &str) -> (String, Investigation) {
    static CACHE: OnceLock<Mutex<Vec<(String, String, Investigation)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let mut cache = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, id, investigation)) = cache.iter().find(|(n, _, _)| n == name) {
        return (id.clone(), investigation.clone());
    }
    let pristine = scenario(name);
    let crashes = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["crashes", "--json", "--workspace"])
        .arg(&pristine.work)
        .output()
        .unwrap();
    let crashes: serde_json::Value = serde_json::from_slice(&crashes.stdout).unwrap();
    let id = crashes["groups"][0]["short_id"].as_str().unwrap().to_owned();
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["investigate", "--json", "--crash", &id, "--workspace"])
        .arg(&pristine.work)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let investigation: Investigation = serde_json::from_slice(&output.stdout).unwrap();
    cache.push((name.to_owned(), id.clone(), investigation.clone()));
    (id, investigation)
}
