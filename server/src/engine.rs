//! The job without an editor: index the workspace, read every crash source, build the crash
//! picture. The language server runs the same steps in the background; `crashloom crashes` runs
//! them once. Crashes come from crash files and logs, and from the inbox the collector fills.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::investigate::history::store_path;
use crate::source::files::FilesSource;
use crate::source::inbox::load_inbox;
use crate::workspace::index::WorkspaceIndex;
use crate::workspace::sites::{CrashPicture, PictureInputs, build_picture};

/// Reads workspace files from disk, for files not open in an editor.
pub fn text_from_disk(root: &Path) -> impl Fn(&str) -> Option<Arc<str>> + '_ {
    move |relative: &str| {
        let bytes = std::fs::read(root.join(relative)).ok()?;
        Some(Arc::from(String::from_utf8_lossy(&bytes).as_ref()))
    }
}

/// The result of one full load.
pub struct Loaded {
    pub picture: CrashPicture,
    /// One sentence per problem met while reading sources.
    pub problems: Vec<String>,
    pub files_read: usize,
}

/// Reads the sources and builds the picture against an existing index.
pub fn load_crashes(
    root: &Path,
    config: &Config,
    index: &WorkspaceIndex,
    files: &mut FilesSource,
    text_of: &dyn Fn(&str) -> Option<Arc<str>>,
) -> Loaded {
    let max_bytes = config.diagnostics.max_log_mib.max(1) * (1 << 20);
    let mut report = files.load(root, &config.crash_paths(root), max_bytes);
    match load_inbox(&store_path(root)) {
        Ok(events) => report.events.extend(events),
        Err(e) => report.problems.push(format!("the crash inbox cannot be read: {e}")),
    }
    let inputs = PictureInputs { index, mapping: &config.mapping, include_frames: config.diagnostics.frames, text_of };
    let picture = build_picture(report.events, &inputs);
    Loaded { picture, problems: report.problems, files_read: report.files }
}

/// Everything at once, for the command line.
pub fn load_workspace(root: &Path, config: &Config) -> anyhow::Result<Loaded> {
    let index = WorkspaceIndex::build(root).map_err(|e| anyhow::anyhow!("cannot index {}: {e}", root.display()))?;
    let mut files = FilesSource::default();
    let text_of = text_from_disk(root);
    Ok(load_crashes(root, config, &index, &mut files, &text_of))
}
