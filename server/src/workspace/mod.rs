//! The workspace: its file index, mapping crash frames to its files, placing lines that moved.

pub mod index;
pub mod mapping;
pub mod relocate;
