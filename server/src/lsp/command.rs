//! The commands the server executes (`workspace/executeCommand`), as one typed list: the
//! capability the server announces and the dispatch both come from it, so they cannot disagree.

use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::ExecuteCommandParams;
use tracing::Instrument;

use super::state::State;
use super::{investigate, sentry};
use crate::source::store::GroupStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCommand {
    /// The code lens's command: the editor shows the crashes itself; nothing to do here.
    ShowCrashes,
    Investigate,
    ApplyFix,
    ShowFix,
    ShowReport,
    OpenInSentry,
    ResolveInSentry,
    IgnoreInSentry,
    OpenPullRequest,
}

impl ServerCommand {
    pub const ALL: [Self; 9] = [
        Self::ShowCrashes,
        Self::Investigate,
        Self::ApplyFix,
        Self::ShowFix,
        Self::ShowReport,
        Self::OpenInSentry,
        Self::ResolveInSentry,
        Self::IgnoreInSentry,
        Self::OpenPullRequest,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::ShowCrashes => "crashloom.showCrashes",
            Self::Investigate => "crashloom.investigate",
            Self::ApplyFix => "crashloom.applyFix",
            Self::ShowFix => "crashloom.showFix",
            Self::ShowReport => "crashloom.showReport",
            Self::OpenInSentry => "crashloom.openInSentry",
            Self::ResolveInSentry => "crashloom.resolveInSentry",
            Self::IgnoreInSentry => "crashloom.ignoreInSentry",
            Self::OpenPullRequest => "crashloom.openPullRequest",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|command| command.name() == name)
    }

    /// What `initialize` announces in `executeCommandProvider.commands`.
    pub fn capability_list() -> Vec<String> {
        Self::ALL.iter().map(|command| command.name().to_owned()).collect()
    }
}

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

#[cfg(test)]
mod tests {
    use super::ServerCommand;

    #[test]
    fn every_command_is_announced_once_and_found_by_its_name() {
        let names = ServerCommand::capability_list();
        assert_eq!(names.len(), ServerCommand::ALL.len());
        for command in ServerCommand::ALL {
            assert_eq!(ServerCommand::from_name(command.name()), Some(command));
            assert_eq!(names.iter().filter(|n| *n == command.name()).count(), 1);
        }
        assert_eq!(ServerCommand::from_name("crashloom.nothing"), None);
    }
}
