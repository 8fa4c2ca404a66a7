//! A model behind the agents: OpenAI-compatible Chat Completions, Anthropic Messages or Ollama,
//! configured by `[model]` in crashloom.toml.
//!
//! - Keys come from the environment (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`; Ollama needs none) or
//!   from the editor's secret storage, handed over in memory; never from a file, never logged.
//! - Every request body is built in [`wire`], where each text is scrubbed of secrets.
//! - 429 and 5xx are retried with backoff, honouring `retry-after`; a 401 names the key variable;
//!   every request is admitted by the investigation's [`budget::Budget`] first.
//! - A session owns a small runtime of its own, so the blocking agents can wait on it from any
//!   thread and its connections live as long as it does.

pub mod budget;
pub mod edits;
pub mod tools;
pub mod wire;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use self::budget::{Budget, ModelRecord, estimate_tokens};
use self::wire::{ChatAnswer, ChatRequest, StreamAssembler, ToolSpec, Turn};
use crate::config::{Config, ModelConfig, ModelProvider};
use crate::scrub::scrub;

/// Requests sent again after a 429 or a 5xx before giving up.
const MAX_RETRIES: u32 = 3;
/// The longest `retry-after` waited for.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// Tokens an answer may use.
const MAX_ANSWER_TOKENS: u64 = 4096;
/// Characters of an error body kept in a message.
const ERROR_BODY_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error(
        "{variable} is not set; set it to your {provider} API key (keys are read from the environment or the editor's settings, never from crashloom.toml)"
    )]
    MissingKey { variable: &'static str, provider: &'static str },
    #[error("{provider} refused the API key (HTTP {status}); check {variable}")]
    Unauthorized { status: u16, variable: &'static str, provider: &'static str },
    #[error("cannot reach the model at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the model did not answer within {secs} s (model.timeout_secs)")]
    Timeout { secs: u64 },
    #[error("the model server answered HTTP {status}: {message}")]
    Server { status: u16, message: String },
    #[error("the model's answer could not be read: {0}")]
    Malformed(String),
    #[error("the model's part of the investigation stopped: {0}")]
    Budget(String),
    #[error("the [model] settings are not valid: {0}")]
    Config(String),
}

impl ModelError {
    /// Worth sending the same request again (after a wait).
    fn is_transient(&self) -> bool {
        matches!(self, ModelError::Server { status, .. } if *status == 429 || *status >= 500)
    }
}

struct Inner {
    config: ModelConfig,
    base_url: String,
    key: Option<String>,
    client: reqwest::Client,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    budget: Budget,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime may happen on an async thread: never block there.
        if let Some(runtime) = self.runtime.lock().unwrap_or_else(PoisonError::into_inner).take() {
            runtime.shutdown_background();
        }
    }
}

/// One investigation's connection to the model: its settings, key, client and budget.
#[derive(Clone)]
pub struct ModelSession {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ModelSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSession").field("model", &self.name()).field("base_url", &self.inner.base_url).finish()
    }
}

fn provider_name(provider: ModelProvider) -> &'static str {
    match provider {
        ModelProvider::OpenAi => "openai",
        ModelProvider::Anthropic => "anthropic",
        ModelProvider::Ollama => "ollama",
    }
}

/// The environment variable holding the provider's key.
pub fn key_variable(provider: ModelProvider) -> Option<&'static str> {
    match provider {
        ModelProvider::OpenAi => Some("OPENAI_API_KEY"),
        ModelProvider::Anthropic => Some("ANTHROPIC_API_KEY"),
        ModelProvider::Ollama => None,
    }
}

const OPENAI_URL: &str = "https://api.openai.com/v1";

fn default_base_url(provider: ModelProvider) -> &'static str {
    match provider {
        ModelProvider::OpenAi => OPENAI_URL,
        ModelProvider::Anthropic => "https://api.anthropic.com",
        ModelProvider::Ollama => "http://localhost:11434",
    }
}

impl ModelSession {
    /// The session `[model]` asks for, with the key from the environment; `None` without `[model]`.
    pub fn from_config(config: &Config) -> Result<Option<Self>, ModelError> {
        Self::from_config_with_key(config, None)
    }

    /// Like [`from_config`](Self::from_config), with the key the editor keeps in its secret
    /// storage (passed in memory); the environment is read when it is `None`.
    pub fn from_config_with_key(config: &Config, key: Option<String>) -> Result<Option<Self>, ModelError> {
        let Some(model) = &config.model else { return Ok(None) };
        let provider = model.provider;
        let key = key
            .filter(|k| !k.trim().is_empty())
            .or_else(|| key_variable(provider).and_then(|v| std::env::var(v).ok()).filter(|k| !k.trim().is_empty()));
        let base_url = model.base_url.clone().unwrap_or_else(|| default_base_url(provider).to_owned());
        let base_url = base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ModelError::Config(format!("base_url {base_url} must start with http:// or https://")));
        }
        if model.model.trim().is_empty() {
            return Err(ModelError::Config("model must name the model".into()));
        }
        // OpenAI-compatible servers on your own machine (vLLM, llama.cpp, LM Studio) need no key.
        let needs_key = match provider {
            ModelProvider::OpenAi => base_url == OPENAI_URL,
            ModelProvider::Anthropic => true,
            ModelProvider::Ollama => false,
        };
        if needs_key && key.is_none() {
            let variable = key_variable(provider).unwrap_or_default();
            return Err(ModelError::MissingKey { variable, provider: provider_name(provider) });
        }
        if model.budget.cost.is_some() && !model.budget.prices.contains_key(&model.model) {
            return Err(ModelError::Config(format!(
                "budget.cost needs a price for {} in [model.budget.prices]",
                model.model
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(model.connect_timeout_secs.max(1)))
            .user_agent(concat!("crashloom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ModelError::Config(format!("cannot build the HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("crashloom-model")
            .enable_all()
            .build()
            .map_err(|e| ModelError::Config(format!("cannot start the model's runtime: {e}")))?;
        let handle = runtime.handle().clone();
        Ok(Some(Self {
            inner: Arc::new(Inner {
                budget: Budget::new(model.budget.clone(), &model.model),
                config: model.clone(),
                base_url,
                key,
                client,
                runtime: Mutex::new(Some(runtime)),
                handle,
            }),
        }))
    }

    /// `openai gpt-4.1`: shown in progress and the report.
    pub fn name(&self) -> String {
        format!("{} {}", provider_name(self.inner.config.provider), self.inner.config.model)
    }

    pub fn config(&self) -> &ModelConfig {
        &self.inner.config
    }

    pub fn budget(&self) -> &Budget {
        &self.inner.budget
    }

    /// What the model cost so far.
    pub fn record(&self) -> ModelRecord {
        let mut record = self.inner.budget.record();
        record.model = self.name();
        record
    }

    fn endpoint(&self) -> String {
        let base = &self.inner.base_url;
        match self.inner.config.provider {
            ModelProvider::OpenAi => format!("{base}/chat/completions"),
            ModelProvider::Anthropic => format!("{base}/v1/messages"),
            ModelProvider::Ollama => format!("{base}/api/chat"),
        }
    }

    /// Sends one turn of a conversation (retrying 429 and 5xx) and returns the model's answer.
    /// Blocking: waits on the session's own runtime, from any thread.
    pub fn chat_blocking(&self, system: &str, turns: &[Turn], tools: &[ToolSpec]) -> Result<ChatAnswer, ModelError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let session = self.clone();
        let (system, turns, tools) = (system.to_owned(), turns.to_vec(), tools.to_vec());
        self.inner.handle.spawn(async move {
            let _ = sender.send(session.chat(&system, &turns, &tools).await);
        });
        receiver.recv().unwrap_or_else(|_| Err(ModelError::Malformed("the model's runtime stopped".into())))
    }

    /// Sends one turn of a conversation (retrying 429 and 5xx) and returns the model's answer.
    pub async fn chat(&self, system: &str, turns: &[Turn], tools: &[ToolSpec]) -> Result<ChatAnswer, ModelError> {
        let config = &self.inner.config;
        let request = ChatRequest {
            model: &config.model,
            system,
            turns,
            tools,
            temperature: config.temperature,
            max_tokens: MAX_ANSWER_TOKENS as u32,
            stream: config.stream,
        };
        let body = wire::request_body(config.provider, &request);
        let estimate = estimate_tokens(&body.to_string());
        let mut attempt = 0;
        loop {
            let room = self.inner.budget.admit(estimate, Duration::ZERO).map_err(ModelError::Budget)?;
            if room < 256 {
                return Err(ModelError::Budget(format!(
                    "the budget of {} tokens leaves no room for an answer",
                    self.inner.budget.limits().tokens
                )));
            }
            let started = Instant::now();
            let result = self.send(&body).await;
            self.inner.budget.spend_time(started.elapsed());
            match result {
                Ok(answer) => {
                    self.inner.budget.spend_tokens(
                        answer.input_tokens.unwrap_or(estimate),
                        answer.output_tokens.unwrap_or_else(|| estimate_tokens(&answer.text)),
                    );
                    return Ok(answer);
                }
                Err((error, retry_after)) if error.is_transient() && attempt < MAX_RETRIES => {
                    let wait =
                        retry_after.unwrap_or(Duration::from_millis(500 * 2u64.pow(attempt))).min(MAX_RETRY_WAIT);
                    if wait >= self.inner.budget.seconds_left() {
                        return Err(error);
                    }
                    tracing::info!("{}; asking again in {:.1} s", error, wait.as_secs_f64());
                    tokio::time::sleep(wait).await;
                    self.inner.budget.spend_time(wait);
                    attempt += 1;
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    /// One HTTP exchange; a failure comes with the server's `retry-after`, when it gave one.
    async fn send(&self, body: &Value) -> Result<ChatAnswer, (ModelError, Option<Duration>)> {
        let config = &self.inner.config;
        let provider = config.provider;
        let url = self.endpoint();
        let mut request = self
            .inner
            .client
            .post(&url)
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .header("content-type", "application/json")
            .json(body);
        match (provider, &self.inner.key) {
            (ModelProvider::OpenAi, Some(key)) => request = request.bearer_auth(key),
            (ModelProvider::Anthropic, Some(key)) => {
                request = request.header("x-api-key", key).header("anthropic-version", "2023-06-01");
            }
            _ => {}
        }
        let timeout = || ModelError::Timeout { secs: config.timeout_secs };
        let response = request.send().await.map_err(|e| {
            let error = if e.is_timeout() {
                timeout()
            } else {
                ModelError::Unreachable { url: url.clone(), message: scrub(&error_chain(&e)).into_owned() }
            };
            (error, None)
        })?;
        let status = response.status();
        if !status.is_success() {
            let retry_after =
                response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
            let text = response.text().await.unwrap_or_default();
            let error = match status.as_u16() {
                401 | 403 if provider != ModelProvider::Ollama => ModelError::Unauthorized {
                    status: status.as_u16(),
                    variable: key_variable(provider).unwrap_or_default(),
                    provider: provider_name(provider),
                },
                code => ModelError::Server { status: code, message: error_message(&text) },
            };
            return Err((error, retry_after));
        }
        if config.stream {
            let mut assembler = StreamAssembler::new(provider);
            let mut response = response;
            loop {
                match response.chunk().await {
                    Ok(Some(bytes)) => assembler.feed(&bytes).map_err(|e| (stream_error(&e), None))?,
                    Ok(None) => break,
                    Err(e) if e.is_timeout() => return Err((timeout(), None)),
                    Err(e) => {
                        return Err((
                            ModelError::Malformed(format!("the stream broke off: {}", error_chain(&e))),
                            None,
                        ));
                    }
                }
            }
            assembler.finish().map_err(|e| (ModelError::Malformed(e), None))
        } else {
            let text = response.text().await.map_err(|e| {
                let error = if e.is_timeout() { timeout() } else { ModelError::Malformed(error_chain(&e)) };
                (error, None)
            })?;
            let value: Value = serde_json::from_str(&text)
                .map_err(|e| (ModelError::Malformed(format!("the answer is not JSON ({e})")), None))?;
            wire::parse_answer(provider, &value).map_err(|e| (ModelError::Malformed(e), None))
        }
    }
}

/// An error event inside a stream: overloads are worth a retry like a 5xx.
fn stream_error(message: &str) -> ModelError {
    let message = scrub(message).into_owned();
    if message.to_lowercase().contains("overloaded") {
        ModelError::Server { status: 529, message }
    } else {
        ModelError::Malformed(message)
    }
}

/// The message of an error body (`{"error": {"message": ...}}` in all three formats), scrubbed
/// and cut short.
fn error_message(body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v["error"]["message"].as_str().map(str::to_owned).or_else(|| v["error"].as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| body.trim().to_owned());
    let message = scrub(&message).into_owned();
    match message.char_indices().nth(ERROR_BODY_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None if message.is_empty() => "no message".to_owned(),
        None => message,
    }
}

/// `retry-after` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (date.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("soon"), None);
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = parse_retry_after(&later).expect("a date");
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
    }

    #[test]
    fn error_bodies_are_scrubbed_and_cut() {
        assert_eq!(
            error_message(r#"{"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijklmnop1234"}}"#),
            "Incorrect API key provided: [scrubbed]"
        );
        assert_eq!(error_message(&"x".repeat(400)).chars().count(), ERROR_BODY_CHARS + 1);
    }

    #[test]
    fn a_missing_key_names_its_variable_and_local_servers_need_none() {
        let mut config = Config::from_toml("[model]\nprovider = \"anthropic\"\nmodel = \"claude\"\n").expect("valid");
        if std::env::var("ANTHROPIC_API_KEY").is_err() {
            let error = ModelSession::from_config(&config).expect_err("no key");
            assert!(error.to_string().contains("ANTHROPIC_API_KEY"), "{error}");
        }
        let session = ModelSession::from_config_with_key(&config, Some("sk-ant-test-0123456789abcdef".into()))
            .expect("valid")
            .expect("configured");
        assert!(!format!("{session:?}").contains("sk-ant"), "the key never shows");
        config.model.as_mut().expect("model").provider = ModelProvider::Ollama;
        assert!(ModelSession::from_config(&config).expect("no key needed").is_some());
        assert!(ModelSession::from_config(&Config::default()).expect("fine").is_none());
    }
}
