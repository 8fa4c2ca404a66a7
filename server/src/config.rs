//! Settings: `crashloom.toml` at the workspace root, overridden by the editor's
//! `initializationOptions` (the same shape, as JSON). A workspace without a file still works: the
//! files source reads `.crashloom/crashes/`.
//!
//! Secrets never come from here: tokens are read from the environment only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::workspace::mapping::MappingConfig;

/// The file Crashloom reads its settings from, at the workspace root.
pub const CONFIG_FILE: &str = "crashloom.toml";
/// Where crash files dropped into the workspace live.
pub const CRASHES_DIR: &str = ".crashloom/crashes";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Extra crash sources, besides `.crashloom/crashes/` (always read).
    #[serde(rename = "source", alias = "sources")]
    pub sources: Vec<SourceConfig>,
    pub mapping: MappingConfig,
    pub diagnostics: DiagnosticsConfig,
    pub validate: ValidateConfig,
    pub sandbox: SandboxConfig,
    pub search: SearchConfig,
    /// Where validated fixes go as pull requests (`crashloom watch`, "Open pull request with this
    /// fix"). No section: no pull requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestConfig>,
    /// Which crash groups `crashloom watch` investigates, in which order, how many at once.
    pub watch: WatchConfig,
}

/// How many candidate changes "Investigate crash" judges, and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Candidates judged at most, over all rounds.
    pub max_candidates: usize,
    /// Time for the whole search, in seconds; what is not judged by then is reported.
    pub time_budget_secs: u64,
    /// Rounds of proposing and judging (a model uses the later ones).
    pub rounds: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self { max_candidates: 24, time_budget_secs: 300, rounds: 3 }
    }
}

/// How a proposed fix is proven. Commands are the user's own (trusted) and split into arguments
/// without a shell; write `sh -c '...'` for shell syntax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidateConfig {
    /// A command that reproduces the crash (fails with it before the fix).
    pub reproduce: Option<String>,
    /// The project's tests; detected when not set (cargo test, npm test, pytest, go test, mvn, gradle).
    pub test: Option<String>,
    /// A build or type-check command; detected from the changed files when not set.
    pub build: Option<String>,
    /// Time limit of each command, in seconds.
    pub timeout_secs: u64,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        Self { reproduce: None, test: None, build: None, timeout_secs: 600 }
    }
}

/// Isolation of validation commands and which files a fix may touch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// The bubblewrap program.
    pub bwrap: String,
    /// Run validation commands without isolation when bubblewrap is missing. Off by default.
    pub allow_unisolated: bool,
    pub allow_ci_config: bool,
    pub allow_lockfiles: bool,
    pub allow_secrets_files: bool,
    /// Further environment variables passed to validation commands.
    pub pass_env: Vec<String>,
    /// Further folders validation commands may read (a toolchain outside the usual places). The
    /// sandbox hides the home directory and `/tmp`; the toolchains on `PATH` and those the commands
    /// name are made readable without this.
    pub read_only_paths: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bwrap: "bwrap".into(),
            allow_unisolated: false,
            allow_ci_config: false,
            allow_lockfiles: false,
            allow_secrets_files: false,
            pass_env: Vec::new(),
            read_only_paths: Vec::new(),
        }
    }
}

/// Who receives a validated fix as a pull request. The token comes from `GITHUB_TOKEN` or
/// `GITLAB_TOKEN`, never from this file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PullRequestConfig {
    pub provider: PullRequestProvider,
    /// The git remote the branch is pushed to.
    pub remote: String,
    /// The branch the pull request targets; the remote's default branch when not set.
    pub base: Option<String>,
    /// `https://api.github.com` (or a GitHub Enterprise `https://HOST/api/v3`), or GitLab's
    /// `https://gitlab.com/api/v4`; the provider's public API when not set.
    pub api_url: Option<String>,
    /// GitHub `owner/name`, or the GitLab project path (`group/subgroup/project`); read from the
    /// remote's URL when not set.
    pub repository: Option<String>,
    pub draft: bool,
    pub labels: Vec<String>,
    /// Also push fixes whose reproduction now ends in another error raised by the changed code
    /// (`converted`). Off: only fixes that validated are pushed. Unvalidated fixes never are.
    pub allow_converted: bool,
    /// The commit's author, `Name <email>`.
    pub author: String,
}

impl Default for PullRequestConfig {
    fn default() -> Self {
        Self {
            provider: PullRequestProvider::Github,
            remote: "origin".into(),
            base: None,
            api_url: None,
            repository: None,
            draft: false,
            labels: vec!["crashloom".into()],
            allow_converted: false,
            author: "Crashloom <crashloom@users.noreply.github.com>".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullRequestProvider {
    Github,
    Gitlab,
    /// Push the branch only; no API.
    Git,
}

/// What `crashloom watch` investigates: groups with at least `min_count` events, whose exception
/// type and crash paths pass the allow and deny lists (`*` matches any text), most events first,
/// then most users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchConfig {
    pub min_count: u64,
    /// Exception types to investigate (all when empty), e.g. `["KeyError", "*Exception"]`.
    pub allow_exceptions: Vec<String>,
    pub deny_exceptions: Vec<String>,
    /// Workspace paths of the crash site to investigate (all when empty), e.g. `["src/*"]`.
    pub allow_paths: Vec<String>,
    pub deny_paths: Vec<String>,
    /// Investigations run at once.
    pub concurrency: usize,
    /// Seconds between reads of the crash files and the collector's store (Sentry sources keep
    /// their own `refresh_secs`).
    pub poll_secs: u64,
    /// Longest wait before a group whose investigation failed is tried again, in seconds; the
    /// wait doubles from `poll_secs` with each failure.
    pub max_backoff_secs: u64,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            min_count: 1,
            allow_exceptions: Vec::new(),
            deny_exceptions: Vec::new(),
            allow_paths: Vec::new(),
            deny_paths: Vec::new(),
            concurrency: 1,
            poll_secs: 30,
            max_backoff_secs: 3600,
        }
    }
}

/// One crash source. `kind` selects it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// Crash files and logs: files or folders, relative to the workspace root or absolute.
    Files { paths: Vec<String> },
    /// A team's Sentry (sentry.io, a regional host or self-hosted). The token comes from
    /// `SENTRY_AUTH_TOKEN` or the editor's settings (`sentryToken`), never from this file.
    Sentry(SentrySourceConfig),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentrySourceConfig {
    #[serde(default = "default_sentry_url")]
    pub url: String,
    pub org: String,
    /// One project slug or several.
    #[serde(alias = "projects", deserialize_with = "one_or_many")]
    pub project: Vec<String>,
    #[serde(default)]
    pub environment: Option<String>,
    /// Sentry search query; unresolved issues by default.
    #[serde(default)]
    pub query: Option<String>,
    /// `statsPeriod`, e.g. `24h` or `14d`.
    #[serde(default)]
    pub period: Option<String>,
    /// Seconds between background refreshes.
    #[serde(default = "default_refresh_secs")]
    pub refresh_secs: u64,
}

fn default_sentry_url() -> String {
    "https://sentry.io".to_owned()
}

fn default_refresh_secs() -> u64 {
    60
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiagnosticsConfig {
    /// Mark the calling in-app frames too (Information), not only crash sites.
    pub frames: bool,
    /// Logs larger than this are read from their end (the newest crashes), in MiB.
    pub max_log_mib: u64,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        Self { frames: true, max_log_mib: 64 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("the editor's crashloom settings are not valid: {0}")]
    InvalidEditorSettings(String),
}

impl Config {
    /// Reads `crashloom.toml` from the workspace root; a missing file gives the defaults.
    pub fn load(root: &Path) -> Result<Self, ConfigError> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_toml(&text).map_err(|message| ConfigError::Invalid { path, message }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())
    }

    /// Applies the editor's settings (JSON in the same shape as the file) on top of this config:
    /// every top-level key the editor sets replaces the file's.
    pub fn with_editor_settings(self, settings: &serde_json::Value) -> Result<Self, ConfigError> {
        let serde_json::Value::Object(overrides) = settings else {
            return Ok(self);
        };
        let mut merged = serde_json::to_value(&self).map_err(|e| ConfigError::InvalidEditorSettings(e.to_string()))?;
        if let serde_json::Value::Object(base) = &mut merged {
            for (key, value) in overrides {
                base.insert(key.clone(), value.clone());
            }
        }
        serde_json::from_value(merged).map_err(|e| ConfigError::InvalidEditorSettings(e.to_string()))
    }

    /// Every path the files source reads, absolute: `.crashloom/crashes/` first.
    pub fn crash_paths(&self, root: &Path) -> Vec<PathBuf> {
        let mut paths = vec![root.join(CRASHES_DIR)];
        for source in &self.sources {
            match source {
                SourceConfig::Files { paths: extra } => paths.extend(extra.iter().map(|p| root.join(p))),
                SourceConfig::Sentry(_) => {}
            }
        }
        paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_reads() {
        let config = Config::from_toml(
            r#"
            [[source]]
            kind = "files"
            paths = ["logs/app.log"]

            [mapping]
            roots = [{ from = "/app/", to = "" }]

            [diagnostics]
            frames = false
            "#,
        )
        .expect("valid");
        assert_eq!(config.sources, vec![SourceConfig::Files { paths: vec!["logs/app.log".into()] }]);
        assert_eq!(config.mapping.roots.len(), 1);
        assert!(!config.diagnostics.frames);
    }

    #[test]
    fn a_sentry_source_reads_with_defaults() {
        let config =
            Config::from_toml("[[source]]\nkind = \"sentry\"\norg = \"acme\"\nproject = \"backend\"\n").expect("valid");
        let SourceConfig::Sentry(sentry) = &config.sources[0] else { panic!("not sentry") };
        assert_eq!(
            (sentry.url.as_str(), sentry.project.as_slice()),
            ("https://sentry.io", ["backend".to_owned()].as_slice())
        );
        assert_eq!(sentry.refresh_secs, 60);
        assert!(
            Config::from_toml("[[source]]\nkind = \"sentry\"\norg = \"a\"\nproject = [\"x\", \"y\"]\ntoken = \"t\"\n")
                .is_err(),
            "no token in the file"
        );
    }

    #[test]
    fn a_typo_is_reported_with_its_place() {
        let error = Config::from_toml("[diagnostic]\nframes = true\n").expect_err("unknown key");
        assert!(error.contains("diagnostic"), "{error}");
    }

    #[test]
    fn a_pull_request_section_reads_with_defaults() {
        let config = Config::from_toml(
            "[pull_request]\nprovider = \"gitlab\"\nrepository = \"acme/shop\"\nlabels = []\n\n[watch]\nmin_count = 3\n",
        )
        .expect("valid");
        let pull_request = config.pull_request.expect("section");
        assert_eq!(pull_request.provider, PullRequestProvider::Gitlab);
        assert_eq!((pull_request.remote.as_str(), pull_request.base.as_deref()), ("origin", None));
        assert!(pull_request.labels.is_empty() && !pull_request.allow_converted && !pull_request.draft);
        assert_eq!((config.watch.min_count, config.watch.concurrency), (3, 1));
        assert!(Config::default().pull_request.is_none(), "no section, no pull requests");
        let error = Config::from_toml("[pull_request]\nprovider = \"bitbucket\"\n").expect_err("unknown provider");
        assert!(error.contains("bitbucket") || error.contains("provider"), "{error}");
        assert!(Config::from_toml("[pull_request]\ntoken = \"x\"\n").is_err(), "no token in the file");
    }

    #[test]
    fn editor_settings_override_the_file() {
        let config = Config::default()
            .with_editor_settings(&serde_json::json!({"diagnostics": {"frames": false}}))
            .expect("valid");
        assert!(!config.diagnostics.frames);
        assert!(Config::default().with_editor_settings(&serde_json::json!({"diagnostics": 3})).is_err());
    }
}
