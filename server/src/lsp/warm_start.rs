//! The diagnostics of the last session, shown at once when the server starts again, while the
//! crash picture is built anew (which takes a while on a big workspace). They are shown only when
//! nothing they came from changed: the same Crashloom, settings, position encoding, crash files
//! (size and time), crash inbox, and for each file the same size and time as when they were
//! written. Files open in the editor are not kept (their text was not the disk's). The fresh
//! picture then replaces them, file by file, as any reload does.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tower_lsp_server::ls_types::Diagnostic;

use crate::config::Config;
use crate::source::files::crash_file_stats;
use crate::source::store::{CrashStore, store_path};

/// Where the diagnostics are kept, in the workspace's (git-ignored) `.crashloom` folder.
pub const WARM_START_FILE: &str = ".crashloom/cache/diagnostics.json";

#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    /// What the diagnostics came from, besides the files themselves.
    inputs: u64,
    files: Vec<KeptFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeptFile {
    path: String,
    len: u64,
    modified: u128,
    diagnostics: Vec<Diagnostic>,
}

/// The fingerprint of what a picture is built from, other than the workspace files.
pub fn inputs_fingerprint(root: &Path, config: &Config, encoding: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    encoding.hash(&mut hasher);
    serde_json::to_string(config).unwrap_or_default().hash(&mut hasher);
    for (path, len, modified) in crash_file_stats(&config.crash_paths(root)) {
        (path, len, modified.map(nanos)).hash(&mut hasher);
    }
    let store = store_path(root);
    let marker = store.exists().then(|| CrashStore::open(&store).and_then(|s| s.change_marker()).ok()).flatten();
    marker.hash(&mut hasher);
    hasher.finish()
}

fn nanos(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

fn stat(root: &Path, path: &str) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(root.join(path)).ok()?;
    Some((meta.len(), nanos(meta.modified().ok()?)))
}

/// Keeps the diagnostics of the files not open in the editor. Written to a temporary file first,
/// so a crash while writing leaves the previous one.
pub fn save(root: &Path, inputs: u64, files: Vec<(String, Vec<Diagnostic>)>) -> std::io::Result<PathBuf> {
    let files: Vec<KeptFile> = files
        .into_iter()
        .filter_map(|(path, diagnostics)| {
            let (len, modified) = stat(root, &path)?;
            Some(KeptFile { path, len, modified, diagnostics })
        })
        .collect();
    let target = root.join(WARM_START_FILE);
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = target.with_extension("json.tmp");
    let json = serde_json::to_vec(&Kept { inputs, files }).map_err(std::io::Error::other)?;
    std::fs::write(&temporary, json)?;
    std::fs::rename(&temporary, &target)?;
    Ok(target)
}

/// The kept diagnostics that still hold, by file, or why none do.
pub type Loaded = Result<Vec<(String, Vec<Diagnostic>)>, String>;

/// Reads the kept diagnostics of the files unchanged since, when `inputs` are the same as then.
pub fn load(root: &Path, inputs: u64) -> Loaded {
    let bytes = std::fs::read(root.join(WARM_START_FILE)).map_err(|e| format!("none kept ({e})"))?;
    let kept: Kept = serde_json::from_slice(&bytes).map_err(|e| format!("not readable ({e})"))?;
    if kept.inputs != inputs {
        return Err("the settings, the crash files or the inbox changed since".to_owned());
    }
    Ok(kept
        .files
        .into_iter()
        .filter(|file| stat(root, &file.path) == Some((file.len, file.modified)))
        .map(|file| (file.path, file.diagnostics))
        .collect())
}
