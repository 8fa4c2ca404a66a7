//! One file per request the server answers (code actions and the commands' handlers live in
//! `investigate.rs` and `sentry.rs`). Each handler is a plain function over the state's snapshots; `server.rs`
//! guards it against panics.

pub mod code_lens;
pub mod execute_command;
pub mod hover;
pub mod initialize;
