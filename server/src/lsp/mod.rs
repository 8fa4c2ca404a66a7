//! The only module that knows the Language Server Protocol. Everything else speaks Crashloom's own
//! types; conversions live in [`convert`].

pub mod code_lens;
pub mod command;
pub mod convert;
pub mod diagnostics;
pub mod framing;
pub mod hover;
pub mod investigate;
pub mod messages;
pub mod notifications;
pub mod requests;
pub mod sentry;
pub mod server;
pub mod sites;
pub mod state;
pub mod transport;
pub mod warm_start;
pub mod watch;

/// Serves LSP over stdin/stdout until the client exits or closes stdin. Returns whether the
/// client asked for `shutdown` first.
pub async fn serve_stdio() -> bool {
    transport::serve(tokio::io::stdin(), tokio::io::stdout()).await
}
