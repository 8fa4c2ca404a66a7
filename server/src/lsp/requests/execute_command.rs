//! `workspace/executeCommand`: the typed command (`command.rs`) dispatched to its handler.

use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::ExecuteCommandParams;
use tracing::Instrument;

use crate::lsp::command::ServerCommand;
use crate::lsp::state::State;
use crate::lsp::{investigate, sentry};
use crate::source::store::GroupStatus;

/// Runs a command in a task of its own, in a span naming it: a panic in it becomes an
/// internal-error response that names the command, and the server goes on.
pub async fn execute(state: &Arc<State>, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let Some(command) = ServerCommand::from_name(&params.command) else {
        return Err(Error::invalid_params(format!("unknown command {}", params.command)));
    };
    let state = state.clone();
    let span = tracing::info_span!("executeCommand", command = command.name());
    let run = async move {
        match command {
            ServerCommand::ShowCrashes => Ok(None),
            ServerCommand::Investigate => investigate::investigate(&state, params).await,
            ServerCommand::ApplyFix => investigate::apply_fix(&state, params).await,
            ServerCommand::ShowFix => investigate::show_fix(&state, params).await,
            ServerCommand::ShowReport => investigate::show_report(&state, params).await,
            ServerCommand::OpenInSentry => sentry::open(&state, params).await,
            ServerCommand::ResolveInSentry => sentry::set_status(&state, params, GroupStatus::Resolved).await,
            ServerCommand::IgnoreInSentry => sentry::set_status(&state, params, GroupStatus::Ignored).await,
            ServerCommand::OpenPullRequest => investigate::open_pull_request(&state, params).await,
        }
    };
    match tokio::spawn(run.instrument(span)).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::error!("{} failed: {e}", command.name());
            Err(Error {
                code: ErrorCode::InternalError,
                message: format!("crashloom: {} failed: {e}", command.name()).into(),
                data: None,
            })
        }
    }
}
