//! Sentry in the editor: a background task per configured Sentry that shows what the store already
//! holds, refreshes on its interval without ever blocking the editor, and carries out "Resolve in
//! Sentry" and "Ignore in Sentry". "Open in Sentry" opens the issue's permalink.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use super::command::ServerCommand;
use super::messages::{ReloadReason, StatusRequest};
use super::state::{State, client_reply, lock, read};
use crate::config::SentrySourceConfig;
use crate::crash::CrashEvent;
use crate::source::sentry_api::{SentryClient, SentryError, SentrySource};
use crate::source::store::GroupStatus;
use crate::source::store::store_path;

/// The token: `SENTRY_AUTH_TOKEN`, else the editor's `sentryToken` setting. Never from a file.
fn token(state: &State) -> Option<String> {
    std::env::var("SENTRY_AUTH_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| read(&state.sentry_token).clone())
}

/// Starts one task per Sentry source of the configuration, stopping those of an earlier one (the
/// settings changed), so a source added or changed in the editor starts without a restart.
pub fn start(state: &Arc<State>, sources: Vec<SentrySourceConfig>) {
    let Some(root) = state.root() else { return };
    for task in lock(&state.sentry_tasks).drain(..) {
        task.abort();
    }
    lock(&state.sentry_events).clear();
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for (index, config) in sources.into_iter().enumerate() {
        let (sender, requests) = mpsc::unbounded_channel();
        senders.push(sender);
        let (state, store) = (state.clone(), store_path(&root));
        let task = tokio::spawn(async move {
            // The cached refresh is in SQLite: read off the async threads.
            let cached = {
                let config = config.clone();
                tokio::task::spawn_blocking(move || SentrySource::load_cached(&store, &config)).await
            };
            match cached {
                Ok(cached) => run(state, index, config, cached, requests).await,
                Err(e) => tracing::error!("reading the cached Sentry issues failed: {e}"),
            }
        });
        tasks.push(task.abort_handle());
    }
    *lock(&state.sentry_requests) = senders;
    *lock(&state.sentry_tasks) = tasks;
}

/// The Sentry sources of a configuration.
pub fn sources_of(config: &crate::config::Config) -> Vec<SentrySourceConfig> {
    config
        .sources
        .iter()
        .filter_map(|s| match s {
            crate::config::SourceConfig::Sentry(sentry) => Some(sentry.clone()),
            _ => None,
        })
        .collect()
}

async fn run(
    state: Arc<State>,
    index: usize,
    config: SentrySourceConfig,
    cached: std::result::Result<SentrySource, SentryError>,
    mut requests: mpsc::UnboundedReceiver<StatusRequest>,
) {
    let mut source = match cached {
        Ok(source) => source,
        Err(e) => {
            state.client.show_message(MessageType::ERROR, format!("Crashloom: {e}")).await;
            return;
        }
    };
    publish_events(&state, index, source.events());
    let mut last_problem: Option<String> = None;
    let mut client: Option<SentryClient> = None;
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                wait = Duration::from_secs(config.refresh_secs.max(10));
                if client.is_none() {
                    client = token(&state).ok_or(SentryError::MissingToken).and_then(|t| SentryClient::new(&config, t)).map_err(|e| {
                        report_once(&state, &mut last_problem, e.to_string());
                    }).ok();
                }
                let Some(client) = &client else { continue };
                match source.refresh(client).await {
                    Ok(events) => {
                        last_problem = None;
                        publish_events(&state, index, events);
                    }
                    Err(SentryError::RateLimited { retry_after }) => wait = retry_after.max(Duration::from_secs(1)),
                    Err(e) => {
                        report_once(&state, &mut last_problem, e.to_string());
                        publish_events(&state, index, source.events());
                    }
                }
            }
            Some(request) = requests.recv() => {
                if source.issue(&request.issue_id).is_none() {
                    let _ = request.reply.send(None);
                    continue;
                }
                let result = match &client {
                    Some(client) => source.set_status(client, &request.issue_id, request.status).await,
                    None => Err(SentryError::MissingToken),
                };
                if result.is_ok() {
                    publish_events(&state, index, source.events());
                }
                let _ = request.reply.send(Some(result));
            }
        }
    }
}

/// Hands a source's events to the next reload.
fn publish_events(state: &State, index: usize, events: Vec<CrashEvent>) {
    {
        let mut all = lock(&state.sentry_events);
        if all.len() <= index {
            all.resize_with(index + 1, Default::default);
        }
        all[index] = crate::crash::batch::EventBatch::new(events);
    }
    state.request_reload(ReloadReason::SentryChanged);
}

/// Logs every problem; shows it to the user once until it changes.
fn report_once(state: &Arc<State>, last: &mut Option<String>, problem: String) {
    tracing::warn!("{problem}");
    if last.as_deref() != Some(problem.as_str()) {
        *last = Some(problem.clone());
        let client = state.client.clone();
        tokio::spawn(async move { client.show_message(MessageType::WARNING, format!("Crashloom: {problem}")).await });
    }
}

/// The Sentry actions on a crash group that came from Sentry.
pub fn code_actions(state: &State, group_id: &str, diagnostic: &Diagnostic) -> Vec<CodeActionOrCommand> {
    let picture = state.picture();
    let Some(group) = picture.group_by_id(group_id) else { return Vec::new() };
    let Some(permalink) = &group.permalink else { return Vec::new() };
    let action = |title: &str, command: &str, argument: Value| {
        CodeActionOrCommand::CodeAction(CodeAction {
            title: title.to_owned(),
            kind: Some(CodeActionKind::EMPTY),
            diagnostics: Some(vec![diagnostic.clone()]),
            command: Some(Command {
                title: title.to_owned(),
                command: command.to_owned(),
                arguments: Some(vec![argument]),
            }),
            ..CodeAction::default()
        })
    };
    vec![
        action("Open in Sentry", ServerCommand::OpenInSentry.name(), json!(permalink)),
        action("Resolve in Sentry", ServerCommand::ResolveInSentry.name(), json!(group.id)),
        action("Ignore in Sentry", ServerCommand::IgnoreInSentry.name(), json!(group.id)),
    ]
}

pub async fn open(state: &Arc<State>, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let link = params.arguments.first().and_then(Value::as_str).unwrap_or_default();
    let uri: Uri = link.parse().map_err(|_| Error::invalid_params("crashloom.openInSentry needs the issue's link"))?;
    if !(link.starts_with("https://") || link.starts_with("http://")) {
        return Err(Error::invalid_params("only web links are opened"));
    }
    let params = ShowDocumentParams { uri, external: Some(true), take_focus: Some(true), selection: None };
    let shown = client_reply("window/showDocument", state.client.show_document(params)).await;
    Ok(Some(json!({"opened": shown.unwrap_or(false)})))
}

pub async fn set_status(
    state: &Arc<State>,
    params: ExecuteCommandParams,
    status: GroupStatus,
) -> Result<Option<Value>> {
    let issue_id = params
        .arguments
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_params(format!("{} needs the Sentry issue id", params.command)))?
        .to_owned();
    let senders = lock(&state.sentry_requests).clone();
    for sender in senders {
        let (reply, answer) = oneshot::channel();
        if sender.send(StatusRequest { issue_id: issue_id.clone(), status, reply }).is_err() {
            continue;
        }
        match answer.await {
            Ok(Some(Ok(()))) => return Ok(Some(json!({"status": status.as_str()}))),
            Ok(Some(Err(e))) => {
                state.client.show_message(MessageType::ERROR, format!("Crashloom: {e}")).await;
                return Ok(Some(json!({"error": e.to_string()})));
            }
            Ok(None) | Err(_) => continue,
        }
    }
    Err(Error::invalid_params(format!("no configured Sentry knows issue {issue_id}")))
}
