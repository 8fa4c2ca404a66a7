//! Crashloom: production crashes in the editor, and fixes proven in a sandbox.

pub mod crash;
pub mod sandbox;
pub mod workspace;
