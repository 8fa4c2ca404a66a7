//! The language server: one line per protocol method, each delegating to a small plain function.
//! A panic in a handler becomes an error response (or a log line for a notification); it never
//! takes the server down.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use super::code_lens::code_lenses;
use super::command::{self, ServerCommand};
use super::convert::{Encoding, char_position};
use super::hover::{HoverFormat, hover};
use super::investigate;
use super::sentry;
use super::state::{ClientSupport, ReloadReason, State, client_reply, read, write};
use crate::config::{Config, ConfigError};
use crate::workspace::documents::Document;
use crate::workspace::syntax::{SourceLanguage, functions};

pub struct Backend {
    state: Arc<State>,
}

impl Backend {
    pub fn new(client: Client) -> Self {
        let (state, reloads) = State::new(client);
        tokio::spawn(state.clone().run_reloads(reloads));
        Self { state }
    }
}

/// Runs a handler, turning a panic into an internal error that names the method.
fn guard<T>(method: &str, handler: impl FnOnce() -> T) -> Result<T> {
    let _span = tracing::debug_span!("request", method).entered();
    catch_unwind(AssertUnwindSafe(handler)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!("{method} failed: {what}");
        Error {
            code: tower_lsp_server::jsonrpc::ErrorCode::InternalError,
            message: format!("crashloom: {method} failed: {what}").into(),
            data: None,
        }
    })
}

impl Backend {
    /// `window/workDoneProgress/cancel`: the user pressed cancel on an investigation.
    pub async fn cancel_progress(&self, params: WorkDoneProgressCancelParams) {
        investigate::cancel(&self.state, &investigate::token_key(&params.token));
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        guard("initialize", || initialize(&self.state, params))
    }

    async fn initialized(&self, _: InitializedParams) {
        let problem = guard("initialized", || load_settings(&self.state)).ok().flatten();
        if let Some(problem) = problem {
            self.state.client.show_message(MessageType::ERROR, problem).await;
        }
        self.state.load_investigations().await;
        sentry::start(&self.state, sentry::sources_of(&read(&self.state.config)));
        // The first load never waits on the client: asking it to watch files is sent on the side,
        // and only to a client that offered to.
        self.state.request_reload(ReloadReason::Startup);
        if self.state.client_support().watched_files_registration {
            tokio::spawn(register_file_watching(self.state.clone()));
        }
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        if guard("didOpen", || did_open(&self.state, &params)).is_ok() {
            self.state.publish(params.text_document.uri).await;
        }
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        if guard("didChange", || did_change(&self.state, &params)).is_ok() {
            self.state.publish(params.text_document.uri).await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.state.documents.remove(params.text_document.uri.as_str());
        self.state.publish(params.text_document.uri).await;
    }

    async fn did_save(&self, _: DidSaveTextDocumentParams) {}

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let _ = guard("didChangeWatchedFiles", || did_change_watched_files(&self.state, &params));
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        if let Some(settings) =
            params.settings.get("crashloom").cloned().or_else(|| Some(params.settings).filter(|s| s.is_object()))
        {
            *write(&self.state.editor_settings) = settings;
            let sentry_before = sentry::sources_of(&read(&self.state.config));
            if let Some(problem) = guard("didChangeConfiguration", || load_settings(&self.state)).ok().flatten() {
                self.state.client.show_message(MessageType::ERROR, problem).await;
            }
            let sentry_now = sentry::sources_of(&read(&self.state.config));
            if sentry_now != sentry_before {
                sentry::start(&self.state, sentry_now);
            }
            self.state.request_reload(ReloadReason::SettingsChanged);
        }
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        guard("hover", || on_hover(&self.state, &params))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        guard("codeLens", || on_code_lens(&self.state, &params))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        guard("codeAction", || Some(investigate::code_actions(&self.state, &params)))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        command::execute(&self.state, params).await
    }
}

fn initialize(state: &State, params: InitializeParams) -> InitializeResult {
    let root = params
        .workspace_folders
        .as_ref()
        .and_then(|folders| folders.first())
        .and_then(|folder| folder.uri.to_file_path().map(|p| p.into_owned()))
        .or_else(|| {
            #[allow(deprecated)]
            params.root_uri.as_ref().and_then(|uri| uri.to_file_path().map(|p| p.into_owned()))
        });
    tracing::info!(root = ?root, "initialize");
    *write(&state.root) = root.map(|r| r.canonicalize().unwrap_or(r));
    *write(&state.editor_settings) = params.initialization_options.unwrap_or(serde_json::Value::Null);
    let offered = params.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_deref());
    let encoding = Encoding::negotiate(offered);
    *write(&state.encoding) = encoding;
    *write(&state.client_support) = client_support(&params.capabilities);
    InitializeResult {
        capabilities: ServerCapabilities {
            position_encoding: Some(encoding.kind()),
            text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            })),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            code_lens_provider: Some(CodeLensOptions { resolve_provider: Some(false) }),
            code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                ..CodeActionOptions::default()
            })),
            execute_command_provider: Some(ExecuteCommandOptions {
                commands: ServerCommand::capability_list(),
                ..ExecuteCommandOptions::default()
            }),
            ..ServerCapabilities::default()
        },
        server_info: Some(ServerInfo {
            name: "crashloom".to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        }),
        offset_encoding: None,
    }
}

fn client_support(capabilities: &ClientCapabilities) -> ClientSupport {
    let workspace = capabilities.workspace.as_ref();
    let window = capabilities.window.as_ref();
    ClientSupport {
        watched_files_registration: workspace
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false),
        work_done_progress: window.and_then(|w| w.work_done_progress).unwrap_or(false),
        show_document: window.and_then(|w| w.show_document.as_ref()).is_some_and(|s| s.support),
        markdown_hover: capabilities
            .text_document
            .as_ref()
            .and_then(|t| t.hover.as_ref())
            .and_then(|h| h.content_format.as_ref())
            // A client that names no format keeps getting Markdown, as before.
            .is_none_or(|formats| formats.contains(&MarkupKind::Markdown)),
        document_changes: workspace
            .and_then(|w| w.workspace_edit.as_ref())
            .and_then(|e| e.document_changes)
            .unwrap_or(false),
    }
}

/// Reads `crashloom.toml` and the editor's settings; returns a message for the user when they are
/// not valid (the last good settings stay in force).
fn load_settings(state: &State) -> Option<String> {
    let root = state.root()?;
    let mut settings = read(&state.editor_settings).clone();
    // The token is a secret: kept in memory, never part of the configuration.
    if let Some(token) = settings.as_object_mut().and_then(|s| s.remove("sentryToken")) {
        *write(&state.sentry_token) = token.as_str().map(str::to_owned);
    }
    match Config::load(&root).and_then(|file| with_settings_merged(file, &settings)) {
        Ok(config) => {
            *write(&state.config) = Arc::new(config);
            None
        }
        Err(e) => {
            tracing::error!("{e}");
            Some(format!("Crashloom: {e}. Using the previous settings."))
        }
    }
}

/// The editor's settings over `crashloom.toml`'s, key by key: `{diagnostics: {frames: false}}`
/// changes that one key and keeps the file's other diagnostics settings. A list (`sources`)
/// replaces the file's list; `null` leaves the file's value.
fn with_settings_merged(file: Config, settings: &serde_json::Value) -> std::result::Result<Config, ConfigError> {
    if !settings.is_object() {
        return Ok(file);
    }
    let mut merged = serde_json::to_value(&file).map_err(|e| ConfigError::InvalidEditorSettings(e.to_string()))?;
    let mut settings = settings.clone();
    // The file's `[[source]]` may be spelled `sources` in the editor: one key, not two.
    if let Some(sources) = settings.as_object_mut().and_then(|s| s.remove("sources")) {
        settings["source"] = sources;
    }
    merge_key_by_key(&mut merged, &settings);
    file.with_editor_settings(&merged)
}

fn merge_key_by_key(base: &mut serde_json::Value, overrides: &serde_json::Value) {
    match (base, overrides) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overrides)) => {
            for (key, value) in overrides {
                match base.get_mut(key) {
                    Some(existing) => merge_key_by_key(existing, value),
                    None if !value.is_null() => {
                        base.insert(key.clone(), value.clone());
                    }
                    None => {}
                }
            }
        }
        (_, serde_json::Value::Null) => {}
        (base, overrides) => *base = overrides.clone(),
    }
}

async fn register_file_watching(state: Arc<State>) {
    let registration = Registration {
        id: "crashloom-workspace-files".to_owned(),
        method: "workspace/didChangeWatchedFiles".to_owned(),
        register_options: serde_json::to_value(DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher {
                glob_pattern: GlobPattern::String("**/*".to_owned()),
                kind: Some(WatchKind::Create | WatchKind::Delete),
            }],
        })
        .ok(),
    };
    if client_reply("client/registerCapability", state.client.register_capability(vec![registration])).await.is_none() {
        tracing::debug!("the client does not watch files for us; new workspace files are seen on the next reload");
    }
}

fn did_open(state: &State, params: &DidOpenTextDocumentParams) {
    let document = &params.text_document;
    let mut opened = Document::new(&document.text, document.version, state.relative(&document.uri));
    opened.track(state.picture(), 0);
    state.documents.insert(document.uri.as_str().to_owned(), opened);
}

fn did_change(state: &State, params: &DidChangeTextDocumentParams) {
    let encoding = state.encoding();
    let Some(mut document) = state.documents.get_mut(params.text_document.uri.as_str()) else {
        tracing::debug!("didChange for a document that is not open: {}", params.text_document.uri.as_str());
        return;
    };
    for change in &params.content_changes {
        match change.range {
            Some(range) => {
                let start =
                    char_position(range.start, document.line_text(range.start.line as usize).as_deref(), encoding);
                let end = char_position(range.end, document.line_text(range.end.line as usize).as_deref(), encoding);
                document.apply_change(start, end, &change.text);
            }
            None => document.replace_all(&change.text),
        }
    }
    document.version = params.text_document.version;
}

fn did_change_watched_files(state: &State, params: &DidChangeWatchedFilesParams) {
    let workspace_files_changed =
        params.changes.iter().any(|c| matches!(c.typ, FileChangeType::CREATED | FileChangeType::DELETED));
    if workspace_files_changed {
        state.request_reload(ReloadReason::WorkspaceFilesChanged);
    }
}

fn on_hover(state: &State, params: &HoverParams) -> Option<Hover> {
    let position = &params.text_document_position_params;
    let root = state.root()?;
    let path = state.relative(&position.text_document.uri)?;
    let document = state.documents.get(position.text_document.uri.as_str());
    let format = if state.client_support().markdown_hover { HoverFormat::Markdown } else { HoverFormat::PlainText };
    let line = position.position.line as usize;
    hover(&state.picture(), &root, &path, document.as_deref(), line, state.encoding(), format)
}

fn on_code_lens(state: &State, params: &CodeLensParams) -> Option<Vec<CodeLens>> {
    let uri = &params.text_document.uri;
    let path = state.relative(uri)?;
    let (outline, text, revision) = {
        let document = state.documents.get(uri.as_str())?;
        if document.tracked.is_empty() {
            return Some(Vec::new());
        }
        let text = document.outline.is_none().then(|| document.text.to_string());
        (document.outline.clone(), text, document.revision)
    };
    // Parsing runs without holding the document map's lock.
    let spans = match (outline, text) {
        (Some(spans), _) => spans,
        (None, text) => {
            let text = text.unwrap_or_default();
            let spans = Arc::new(SourceLanguage::from_path(&path).map(|l| functions(l, &text)).unwrap_or_default());
            if let Some(mut document) = state.documents.get_mut(uri.as_str())
                && document.revision == revision
            {
                document.outline = Some(spans.clone());
            }
            spans
        }
    };
    let document = state.documents.get(uri.as_str())?;
    if document.revision != revision {
        // Changed while parsing: the next request gets lenses for the new text.
        return Some(Vec::new());
    }
    Some(code_lenses(&document.picture, &path, &document, &spans, uri.as_str()))
}
