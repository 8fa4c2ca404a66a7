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
pub const WARM_START_FILE: &str = ".crashloom/cache/diagnostics.jsonl";

/// The first line of the file: what the diagnostics came from, besides the files themselves.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    inputs: u64,
}

/// One line per file after the header, so the first can be shown before the rest is read.
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

/// Keeps the diagnostics of the files not open in the editor, as JSON lines; returns where, or
/// `None` when what is kept already says the same (editors that watch files see no write).
/// Written to a temporary file first, so a crash while writing leaves the previous one.
pub fn save(root: &Path, inputs: u64, files: Vec<(String, Vec<Diagnostic>)>) -> std::io::Result<Option<PathBuf>> {
    use std::io::Write as _;
    let target = root.join(WARM_START_FILE);
    let mut out = Vec::new();
    serde_json::to_writer(&mut out, &Header { inputs }).map_err(std::io::Error::other)?;
    out.push(b'\n');
    for (path, diagnostics) in files {
        let Some((len, modified)) = stat(root, &path) else { continue };
        serde_json::to_writer(&mut out, &KeptFile { path, len, modified, diagnostics })
            .map_err(std::io::Error::other)?;
        out.push(b'\n');
    }
    if std::fs::read(&target).is_ok_and(|kept| kept == out) {
        return Ok(None);
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = target.with_extension("jsonl.tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&out)?;
    file.sync_data()?;
    std::fs::rename(&temporary, &target)?;
    Ok(Some(target))
}

/// Hands `show` the kept diagnostics of each file unchanged since, one file at a time as they are
/// read, when `inputs` are the same as then; returns how many files, or why none.
pub fn load(root: &Path, inputs: u64, mut show: impl FnMut(String, Vec<Diagnostic>)) -> Result<usize, String> {
    use std::io::BufRead as _;
    let file = std::fs::File::open(root.join(WARM_START_FILE)).map_err(|e| format!("none kept ({e})"))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let header = lines.next().and_then(Result::ok).ok_or("an empty file")?;
    let header: Header = serde_json::from_str(&header).map_err(|e| format!("not readable ({e})"))?;
    if header.inputs != inputs {
        return Err("the settings, the crash files or the inbox changed since".to_owned());
    }
    let mut shown = 0;
    for line in lines.map_while(Result::ok) {
        // A line cut short (the disk full when it was written) ends what can be trusted.
        let Ok(file) = serde_json::from_str::<KeptFile>(&line) else { break };
        if stat(root, &file.path) == Some((file.len, file.modified)) {
            show(file.path, file.diagnostics);
            shown += 1;
        }
    }
    Ok(shown)
}
