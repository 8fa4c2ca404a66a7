//! The workspace file index (honours .gitignore). (stub)

use std::path::{Path, PathBuf};

/// Every file of the workspace, as `/`-separated paths relative to the root.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceIndex {
    pub root: PathBuf,
    pub files: Vec<String>,
}

impl WorkspaceIndex {
    pub fn build(root: &Path) -> std::io::Result<Self> {
        Ok(Self { root: root.to_path_buf(), files: Vec::new() })
    }
}
