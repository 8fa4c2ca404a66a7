//! `initialize`: the workspace root, the position encoding, what the client supports, and the
//! server's capabilities (the command list comes from the typed commands).

use tower_lsp_server::ls_types::*;

use crate::lsp::command::ServerCommand;
use crate::lsp::convert::Encoding;
use crate::lsp::state::{ClientSupport, State, write};

pub(crate) fn initialize(state: &State, params: InitializeParams) -> InitializeResult {
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

pub(crate) fn client_support(capabilities: &ClientCapabilities) -> ClientSupport {
    let workspace = capabilities.workspace.as_ref();
    let window = capabilities.window.as_ref();
    ClientSupport {
        watched_files_registration: workspace
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false),
        watched_files_relative_pattern: workspace
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.relative_pattern_support)
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
