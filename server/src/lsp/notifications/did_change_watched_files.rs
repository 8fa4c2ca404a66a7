//! `workspace/didChangeWatchedFiles`: workspace files created or deleted mean a new index; the
//! registration that asks the client for them is sent on the side, never waited for.

use std::sync::Arc;

use tower_lsp_server::ls_types::*;

use crate::lsp::convert::file_uri;
use crate::lsp::messages::ReloadReason;
use crate::lsp::state::{State, client_reply};

pub(crate) fn did_change_watched_files(state: &State, params: &DidChangeWatchedFilesParams) {
    let workspace_files_changed = params.changes.iter().any(|c| {
        matches!(c.typ, FileChangeType::CREATED | FileChangeType::DELETED) && is_workspace_code(state, &c.uri)
    });
    if workspace_files_changed {
        state.request_reload(ReloadReason::WorkspaceFilesChanged);
    }
}

/// Whether a file is code of this server's workspace. Crashloom's own files (reports, the store,
/// the kept diagnostics) are not: a reload that writes them must not trigger the next one. Nor are
/// files of the editor's other folders: editors report a watched glob for all of them, and two
/// servers that each reload on the other's writes would never stop. Crash files are watched on
/// their own.
fn is_workspace_code(state: &State, uri: &Uri) -> bool {
    state.relative(uri).is_some_and(|path| !path.is_empty() && path != ".crashloom" && !path.starts_with(".crashloom/"))
}

pub(crate) async fn register_file_watching(state: Arc<State>) {
    let everything = "**/*".to_owned();
    // Limited to this root where the client can: its other folders are not ours.
    let glob_pattern = match state.root().and_then(|root| file_uri(&root, "")) {
        Some(base) if state.client_support().watched_files_relative_pattern => {
            GlobPattern::Relative(RelativePattern { base_uri: OneOf::Right(base), pattern: everything })
        }
        _ => GlobPattern::String(everything),
    };
    let registration = Registration {
        id: "crashloom-workspace-files".to_owned(),
        method: "workspace/didChangeWatchedFiles".to_owned(),
        register_options: serde_json::to_value(DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher { glob_pattern, kind: Some(WatchKind::Create | WatchKind::Delete) }],
        })
        .ok(),
    };
    if client_reply("client/registerCapability", state.client.register_capability(vec![registration])).await.is_none() {
        tracing::debug!("the client does not watch files for us; new workspace files are seen on the next reload");
    }
}
