//! `crashloom mcp`: the Model Context Protocol over stdio, for coding agents (Claude Code, Cursor,
//! Copilot's agent mode). It serves the same workspace the command line and the language server
//! see, as five tools: `list_crashes`, `get_crash`, `investigate` (with progress), `get_fix` and
//! `apply_fix` (validated fixes only).
//!
//! The protocol is spoken by the official Rust SDK (`rmcp`); `transport.rs` owns stdin and stdout
//! and answers lines that are not JSON; `tools.rs` is the list of tools and their typed arguments;
//! `server.rs` runs them on the engine, the pipeline and the history; `answers.rs` turns crash
//! pictures and investigations into the JSON the tools return. Only this module knows MCP types.

pub mod answers;
pub mod server;
pub mod tools;
pub mod transport;

use std::path::PathBuf;

use rmcp::ServiceExt;

pub use server::CrashloomMcp;

/// Serves `root` over stdin/stdout until the client closes stdin.
pub async fn serve_stdio(root: PathBuf) -> Result<(), String> {
    let (pipe, writer) = transport::connect(tokio::io::stdin(), tokio::io::stdout());
    let running = match CrashloomMcp::new(root).serve(pipe).await {
        Ok(running) => running,
        // The client went away before the session began: nothing to serve.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
            return Ok(());
        }
        Err(e) => return Err(format!("the MCP session did not start: {e}")),
    };
    let ended = running.waiting().await.map_err(|e| format!("the MCP session stopped unexpectedly: {e}"));
    // The SDK answered what it had received before stdin ended; those answers still go out.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
    ended.map(|_| ())
}
