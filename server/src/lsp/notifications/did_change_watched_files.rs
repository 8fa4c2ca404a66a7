//! `workspace/didChangeWatchedFiles`: workspace files created or deleted mean a new index; the
//! registration that asks the client for them is sent on the side, never waited for.

use std::sync::Arc;

use tower_lsp_server::ls_types::*;

use crate::lsp::state::{ReloadReason, State, client_reply};

pub(crate) fn did_change_watched_files(state: &State, params: &DidChangeWatchedFilesParams) {
    // Crashloom's own files (reports, the store, the kept diagnostics) are not workspace code: a
    // reload that writes them must not trigger the next one. Crash files are watched on their own.
    let own =
        |uri: &Uri| state.relative(uri).is_some_and(|path| path == ".crashloom" || path.starts_with(".crashloom/"));
    let workspace_files_changed = params
        .changes
        .iter()
        .any(|c| matches!(c.typ, FileChangeType::CREATED | FileChangeType::DELETED) && !own(&c.uri));
    if workspace_files_changed {
        state.request_reload(ReloadReason::WorkspaceFilesChanged);
    }
}

pub(crate) async fn register_file_watching(state: Arc<State>) {
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
