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
    /// The model behind the agents; `None` keeps the offline engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelConfig>,
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

/// Which model the agents ask, and how much one investigation may spend. The key is never here: it
/// comes from `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` or the editor's secret storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `openai` (any OpenAI-compatible Chat Completions server), `anthropic` or `ollama`.
    pub provider: ModelProvider,
    pub model: String,
    /// The provider's default when not set (`https://api.openai.com/v1`, `https://api.anthropic.com`,
    /// `http://localhost:11434`).
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Time limit of one request, in seconds.
    #[serde(default = "default_model_timeout")]
    pub timeout_secs: u64,
    /// Time limit of connecting to the server, in seconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Rounds of propose-validate-feedback per investigation.
    #[serde(default = "default_max_rounds")]
    pub max_rounds: usize,
    /// Ask for streamed answers (SSE for OpenAI and Anthropic, NDJSON for Ollama).
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub budget: ModelBudget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelProvider {
    #[serde(alias = "openai-compatible")]
    OpenAi,
    Anthropic,
    Ollama,
}

/// What one investigation may spend on the model; the first limit reached ends the model's part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelBudget {
    /// Input plus output tokens.
    pub tokens: u64,
    pub requests: u32,
    /// Wall time spent waiting on the model.
    pub seconds: u64,
    /// A cap in the currency of `prices`; needs a price for the model.
    pub cost: Option<f64>,
    /// Per-model prices, per million tokens.
    pub prices: std::collections::BTreeMap<String, ModelPrice>,
}

impl Default for ModelBudget {
    fn default() -> Self {
        Self { tokens: 200_000, requests: 40, seconds: 600, cost: None, prices: Default::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Price of a million input tokens.
    pub input: f64,
    /// Price of a million output tokens.
    pub output: f64,
}

fn default_model_timeout() -> u64 {
    120
}

fn default_connect_timeout() -> u64 {
    10
}

fn default_max_rounds() -> usize {
    3
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
    fn a_model_section_reads_and_a_key_in_the_file_is_refused() {
        let config = Config::from_toml(
            "[model]\nprovider = \"anthropic\"\nmodel = \"claude-sonnet-4-5\"\n\n[model.budget]\ntokens = 5000\ncost = 0.5\n\n[model.budget.prices.claude-sonnet-4-5]\ninput = 3.0\noutput = 15.0\n",
        )
        .expect("valid");
        let model = config.model.expect("a model");
        assert_eq!(model.provider, ModelProvider::Anthropic);
        assert_eq!((model.budget.tokens, model.budget.requests, model.max_rounds), (5000, 40, 3));
        assert_eq!(model.budget.prices["claude-sonnet-4-5"], ModelPrice { input: 3.0, output: 15.0 });
        assert!(Config::from_toml("").expect("valid").model.is_none());
        let error = Config::from_toml("[model]\nprovider = \"openai\"\nmodel = \"m\"\napi_key = \"sk-x\"\n")
            .expect_err("no key in the file");
        assert!(error.contains("api_key"), "{error}");
        assert!(Config::from_toml("[model]\nprovider = \"gemini\"\nmodel = \"m\"\n").is_err());
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
