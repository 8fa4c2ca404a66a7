//! The language server: one line per protocol method, each delegating to a plain function in
//! `requests/` or `notifications/` (code actions: `investigate.rs`; commands:
//! `requests/execute_command.rs`, over the typed list in `command.rs`).
//! A panic in a handler becomes an error response (or a log line for a notification); it never
//! takes the server down.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use super::investigate;
use super::messages::ReloadReason;
use super::notifications::did_change::did_change;
use super::notifications::did_change_configuration::load_settings;
use super::notifications::did_change_watched_files::{did_change_watched_files, register_file_watching};
use super::notifications::did_open::did_open;
use super::requests::code_lens::on_code_lens;
use super::requests::execute_command;
use super::requests::hover::on_hover;
use super::requests::initialize::initialize;
use super::sentry;
use super::state::{State, read, write};

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
        self.state.keep_for_next_session().await;
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
        execute_command::execute(&self.state, params).await
    }
}
