//! Crashloom: production crashes in the editor, and fixes proven in a sandbox.

pub mod crash;
pub mod source;
pub mod workspace;
