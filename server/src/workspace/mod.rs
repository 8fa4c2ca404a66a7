//! The workspace: its file index, mapping crash frames to its files, placing lines that moved,
//! the crash sites that result, and the documents open in the editor.

pub mod documents;
pub mod index;
pub mod mapping;
pub mod relocate;
pub mod sites;
pub mod syntax;
