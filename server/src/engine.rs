//! The job without an editor: index the workspace, read every crash source, build the crash
//! picture. The language server runs the same steps in the background; `crashloom crashes` runs
//! them once. Crashes come from crash files and logs, and from the inbox the collector fills.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::source::files::{FilesSource, LoadReport};
use crate::source::store::store_path;
use crate::workspace::index::WorkspaceIndex;
use crate::workspace::sites::{CrashPicture, PictureInputs, build_picture_from};

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

/// Reads every crash source (crash files and logs, the collector's inbox).
pub fn read_crashes(root: &Path, config: &Config, files: &mut FilesSource) -> LoadReport {
    let max_bytes = config.diagnostics.max_log_mib.max(1) * (1 << 20);
    let started = std::time::Instant::now();
    let mut report = files.load(root, &config.crash_paths(root), max_bytes);
    match files.inbox.read(&store_path(root)) {
        Ok(batch) => report.batches.push(batch),
        Err(e) => report.problems.push(format!("the crash inbox cannot be read: {e}")),
    }
    tracing::info!(events = report.event_count(), elapsed_ms = started.elapsed().as_millis() as u64, "crashes read");
    report
}

/// Groups the events, maps and places their frames.
pub fn build(
    config: &Config,
    index: &WorkspaceIndex,
    report: LoadReport,
    text_of: &(dyn Fn(&str) -> Option<Arc<str>> + Sync),
) -> Loaded {
    let started = std::time::Instant::now();
    let inputs = PictureInputs { index, mapping: &config.mapping, include_frames: config.diagnostics.frames, text_of };
    let picture = build_picture_from(&report.batches, &inputs);
    tracing::info!(
        groups = picture.groups.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "crash picture built"
    );
    Loaded { picture, problems: report.problems, files_read: report.files }
}

/// Indexes the workspace while the crash sources are read (both take a while on a big workspace).
pub fn index_and_read(
    root: &Path,
    config: &Config,
    files: &mut FilesSource,
) -> (std::io::Result<WorkspaceIndex>, LoadReport) {
    std::thread::scope(|scope| {
        let indexing = scope.spawn(|| {
            let started = std::time::Instant::now();
            let index = WorkspaceIndex::build(root);
            tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "workspace indexed");
            index
        });
        let report = read_crashes(root, config, files);
        let index = indexing.join().unwrap_or_else(|_| Err(std::io::Error::other("indexing the workspace failed")));
        (index, report)
    })
}

/// Everything at once, for the command line.
pub fn load_workspace(root: &Path, config: &Config) -> anyhow::Result<Loaded> {
    let mut files = FilesSource::default();
    let (index, report) = index_and_read(root, config, &mut files);
    let index = index.map_err(|e| anyhow::anyhow!("cannot index {}: {e}", root.display()))?;
    let text_of = text_from_disk(root);
    Ok(build(config, &index, report, &text_of))
}
