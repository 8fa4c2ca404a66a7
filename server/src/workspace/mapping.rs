//! Mapping a crash frame to a file of the workspace. (placeholder until the full mapper lands)

use serde::{Deserialize, Serialize};

use super::index::WorkspaceIndex;
use crate::crash::Frame;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MappingConfig {
    pub roots: Vec<StackRoot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackRoot {
    pub from: String,
    pub to: String,
}

pub enum FrameMapping {
    Mapped { path: String, in_app: bool },
    Unmapped { reason: String },
}

pub fn map_frame_to_workspace(frame: &Frame, index: &WorkspaceIndex, _config: &MappingConfig) -> FrameMapping {
    for path in frame.paths() {
        if index.files.iter().any(|f| f == path) {
            return FrameMapping::Mapped { path: path.to_owned(), in_app: crate::crash::group::looks_in_app(frame) };
        }
    }
    FrameMapping::Unmapped { reason: "not found in the workspace".into() }
}
