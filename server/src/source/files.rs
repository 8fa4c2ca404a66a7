//! The files source: crash files and logs under `.crashloom/crashes/` and any configured paths.
//! Files are re-read only when their size or modification time changed, so a reload after one
//! new crash file costs one parse.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::crash::batch::EventBatch;
use crate::crash::file::parse_crash_file;

/// What one load produced.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The events, one batch per file (and one per other source added later). A file not read
    /// again this time gives the same batch as before.
    pub batches: Vec<EventBatch>,
    /// Problems found in files read this time (files unchanged since the last load are not
    /// reported again). One sentence each, naming the file.
    pub problems: Vec<String>,
    pub files: usize,
    pub files_parsed: usize,
}

#[derive(Debug, Default)]
pub struct FilesSource {
    cache: HashMap<PathBuf, CachedFile>,
    /// Problems of listing (a dangling link, a loop) already reported: said once, not per load.
    listing_problems_said: std::collections::HashSet<String>,
    /// The collector's inbox, read again only when the store changed.
    pub inbox: super::inbox::InboxCache,
}

#[derive(Debug)]
struct CachedFile {
    modified: Option<SystemTime>,
    len: u64,
    events: EventBatch,
}

impl LoadReport {
    /// How many events all batches hold.
    pub fn event_count(&self) -> usize {
        self.batches.iter().map(EventBatch::len).sum()
    }

    /// Every event of every batch.
    pub fn events(&self) -> impl Iterator<Item = &crate::crash::CrashEvent> {
        self.batches.iter().flat_map(EventBatch::events)
    }
}

impl FilesSource {
    /// Reads every crash file below `paths` (files or folders). `root` makes locations relative;
    /// logs over `max_bytes` are read from their end, where the newest crashes are.
    pub fn load(&mut self, root: &Path, paths: &[PathBuf], max_bytes: u64) -> LoadReport {
        let mut report = LoadReport::default();
        let mut seen = Vec::new();
        let mut listing_problems = Vec::new();
        for path in paths {
            for file in crash_files_below(path, &mut listing_problems) {
                seen.push(file);
            }
        }
        for problem in listing_problems {
            if self.listing_problems_said.insert(problem.clone()) {
                report.problems.push(problem);
            }
        }
        seen.sort();
        seen.dedup();
        self.cache.retain(|path, _| seen.contains(path));
        for file in seen {
            report.files += 1;
            let location = file.strip_prefix(root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
            let meta = match std::fs::metadata(&file) {
                Ok(meta) => meta,
                Err(e) => {
                    // Deleted between listing and reading: nothing to show, nothing to complain about.
                    if e.kind() != std::io::ErrorKind::NotFound {
                        report.problems.push(format!("{location}: cannot read it: {e}"));
                    }
                    self.cache.remove(&file);
                    continue;
                }
            };
            let modified = meta.modified().ok();
            if let Some(cached) = self.cache.get(&file)
                && cached.modified == modified
                && cached.len == meta.len()
            {
                report.batches.push(cached.events.clone());
                continue;
            }
            report.files_parsed += 1;
            let bytes = match read_tail(&file, meta.len(), max_bytes) {
                Ok((bytes, skipped)) => {
                    if skipped > 0 {
                        report.problems.push(format!(
                            "{location} is {} MiB; reading only its last {} MiB, where the newest crashes are (setting: diagnostics.max_log_mib)",
                            meta.len() / (1 << 20),
                            max_bytes / (1 << 20)
                        ));
                    }
                    bytes
                }
                Err(e) => {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        report.problems.push(format!("{location}: cannot read it: {e}"));
                    }
                    self.cache.remove(&file);
                    continue;
                }
            };
            let parsed = parse_crash_file(&bytes, &location);
            report.problems.extend(parsed.problems);
            let events = EventBatch::new(parsed.events);
            report.batches.push(events.clone());
            self.cache.insert(file, CachedFile { modified, len: meta.len(), events });
        }
        report
    }
}

/// Every crash file below `paths` with its size and modification time, sorted: what a load would
/// read. Two equal lists mean the same crash files (as far as the file system can tell).
pub fn crash_file_stats(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut problems = Vec::new();
    let mut files: Vec<PathBuf> = paths.iter().flat_map(|path| crash_files_below(path, &mut problems)).collect();
    files.sort();
    files.dedup();
    files
        .into_iter()
        .filter_map(|file| {
            let meta = std::fs::metadata(&file).ok()?;
            Some((file, meta.len(), meta.modified().ok()))
        })
        .collect()
}

/// Folders below a crash path that are still searched (links can make a tree deep).
const MAX_DEPTH: usize = 16;

/// Every regular file below `path` (or `path` itself), hidden ones and editor swap files excepted.
/// Symbolic links are followed (a log linked in from where the service writes it), to at most
/// [`MAX_DEPTH`] folders down; a link that loops is reported, not followed round.
fn crash_files_below(path: &Path, problems: &mut Vec<String>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if !path.exists() {
        if path.is_symlink() {
            problems.push(format!("{} is a link to something that does not exist", path.display()));
        }
        return files;
    }
    let walker = ignore::WalkBuilder::new(path)
        .standard_filters(false)
        .hidden(true)
        .follow_links(true)
        .max_depth(Some(MAX_DEPTH))
        .build();
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                let name = entry.file_name().to_string_lossy();
                if !(name.ends_with('~') || name.ends_with(".swp") || name.ends_with(".tmp")) {
                    files.push(entry.into_path());
                }
            }
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {
                if let Some(link) = error_path(&e).filter(|p| p.is_symlink()) {
                    problems.push(format!("{} is a link to something that does not exist", link.display()));
                }
            }
            Err(e) => problems.push(format!("cannot list crash files in {}: {e}", path.display())),
        }
    }
    files
}

fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => error_path(err),
        _ => None,
    }
}

fn is_not_found(error: &ignore::Error) -> bool {
    error.io_error().is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// Reads a file, or only its last `max_bytes` (from the first line break after the cut) when it is
/// larger. Returns the bytes and how many were skipped.
fn read_tail(path: &Path, len: u64, max_bytes: u64) -> std::io::Result<(Vec<u8>, u64)> {
    let mut file = std::fs::File::open(path)?;
    if len <= max_bytes {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)?;
        return Ok((bytes, 0));
    }
    let skip = len - max_bytes;
    file.seek(SeekFrom::Start(skip))?;
    let mut bytes = Vec::with_capacity(max_bytes as usize);
    file.take(max_bytes).read_to_end(&mut bytes)?;
    let start = bytes.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes.drain(..start);
    Ok((bytes, skip + start as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_log_is_read_from_its_last_whole_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        std::fs::write(&path, "old line one\nold line two\nnewest line\n").expect("write");
        let len = std::fs::metadata(&path).expect("meta").len();
        let (bytes, skipped) = read_tail(&path, len, 16).expect("read");
        assert_eq!(String::from_utf8_lossy(&bytes), "newest line\n");
        assert_eq!(skipped, len - 12);
    }

    #[cfg(unix)]
    #[test]
    fn linked_crash_files_and_folders_are_read_and_a_loop_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let crashes = dir.path().join("crashes");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&crashes).expect("mkdir");
        std::fs::create_dir_all(elsewhere.join("logs")).expect("mkdir");
        let trace =
            "Traceback (most recent call last):\n  File \"/srv/app/a.py\", line 3, in f\n    x()\nValueError: bad\n";
        std::fs::write(elsewhere.join("service.log"), trace).expect("write");
        std::fs::write(elsewhere.join("logs/worker.log"), trace.replace("bad", "worse")).expect("write");
        std::os::unix::fs::symlink(elsewhere.join("service.log"), crashes.join("service.log")).expect("link");
        std::os::unix::fs::symlink(elsewhere.join("logs"), crashes.join("logs")).expect("link");
        std::os::unix::fs::symlink(&crashes, crashes.join("loop")).expect("link");
        std::os::unix::fs::symlink(elsewhere.join("gone.log"), crashes.join("gone.log")).expect("link");
        let mut source = FilesSource::default();
        let report = source.load(dir.path(), std::slice::from_ref(&crashes), 1 << 20);
        let mut values: Vec<String> = report.events().map(|e| e.exceptions[0].value.clone()).collect();
        values.sort();
        assert_eq!(values, vec!["bad", "worse"]);
        assert!(report.problems.iter().any(|p| p.contains("loop")), "{:?}", report.problems);
        assert!(
            report.problems.iter().any(|p| p.contains("gone.log is a link to something that does not exist")),
            "{:?}",
            report.problems
        );
        // Said once, not at every reload.
        let again = source.load(dir.path(), std::slice::from_ref(&crashes), 1 << 20);
        assert_eq!(again.event_count(), 2);
        assert!(again.problems.is_empty(), "{:?}", again.problems);
    }

    #[test]
    fn a_log_of_many_crashes_gives_every_one_in_order_at_every_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let crashes = dir.path().join("crashes");
        std::fs::create_dir_all(&crashes).expect("mkdir");
        // A big log, read once and then taken from the cache.
        let count = 8199;
        let log: String = (0..count)
            .map(|i| {
                format!("Traceback (most recent call last):\n  File \"/srv/a.py\", line 3, in f\nValueError: {i}\n\n")
            })
            .collect();
        std::fs::write(crashes.join("app.log"), log).expect("write");
        let mut source = FilesSource::default();
        let expected: Vec<String> = (0..count).map(|i| i.to_string()).collect();
        for _ in 0..2 {
            let report = source.load(dir.path(), std::slice::from_ref(&crashes), 1 << 30);
            let values: Vec<String> = report.events().map(|e| e.exceptions[0].value.clone()).collect();
            assert_eq!(values, expected);
            let lines: Vec<Option<u32>> = report.events().map(|e| e.origin.as_ref().and_then(|o| o.line)).collect();
            assert_eq!(lines.first(), Some(&Some(1)));
            assert_eq!(lines.last(), Some(&u32::try_from(4 * (count - 1) + 1).ok()));
        }
    }

    #[test]
    fn missing_paths_are_quietly_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut source = FilesSource::default();
        let report = source.load(dir.path(), &[dir.path().join(".crashloom/crashes")], 1 << 20);
        assert_eq!(report.files, 0);
        assert!(report.problems.is_empty());
    }
}
