//! One file per request the server answers (code actions and commands live in `investigate.rs`
//! and `command.rs`). Each handler is a plain function over the state's snapshots; `server.rs`
//! guards it against panics.

pub mod code_lens;
pub mod hover;
pub mod initialize;
