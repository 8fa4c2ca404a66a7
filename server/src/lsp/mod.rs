//! The only module that knows the Language Server Protocol. Everything else speaks Crashloom's own
//! types; conversions live in [`convert`].

pub mod code_lens;
pub mod convert;
pub mod diagnostics;
pub mod hover;
pub mod investigate;
pub mod sentry;
pub mod server;
pub mod sites;
pub mod state;
pub mod watch;

/// Serves LSP over stdin/stdout until the client exits.
pub async fn serve_stdio() {
    let (service, socket) = tower_lsp_server::LspService::build(server::Backend::new)
        .custom_method("window/workDoneProgress/cancel", server::Backend::cancel_progress)
        .finish();
    tower_lsp_server::Server::new(tokio::io::stdin(), tokio::io::stdout(), socket).serve(service).await;
}
