//! Crashloom: production crashes in the editor, and fixes proven in a sandbox.

pub mod allocator;
pub mod config;
pub mod crash;
pub mod engine;
pub mod investigate;
pub mod lsp;
pub mod markdown;
pub mod mcp;
pub mod model;
pub mod publish;
pub mod report;
pub mod sandbox;
pub mod scrub;
pub mod source;
pub mod text;
pub mod watch;
pub mod workspace;
