//! The inbox: crash groups the local collector stored in the workspace's SQLite store
//! (`.crashloom/crashloom.db`), read by the language server and noticed within a second of a new
//! event through the store's change marker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::store::{CrashStore, StoreError};
use crate::crash::batch::EventBatch;

/// How many groups are read from the inbox at most (the most recent first).
const MAX_GROUPS: usize = 10_000;
/// How often the store's change marker is looked at.
const POLL: Duration = Duration::from_millis(400);

/// The inbox as last read, kept while the store says nothing changed: a reload for a crash file
/// reads one number from the store, not every group, and the inbox's groups keep their batch (so
/// the picture shares them as they were).
#[derive(Debug, Default)]
pub struct InboxCache {
    /// The store file and its change marker when `batch` was read.
    read_at: Option<(StoreIdentity, u64)>,
    batch: EventBatch,
}

/// Which file a store is (device, inode and creation time where the system has them): a store
/// deleted and created again starts its marker anew, and may get the same inode.
type StoreIdentity = (u64, u64, u128);

fn identity(store_path: &Path) -> Option<StoreIdentity> {
    let meta = std::fs::metadata(store_path).ok()?;
    let created = meta.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    let created = created.map_or(0, |t| t.as_nanos());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Some((meta.dev(), meta.ino(), created))
    }
    #[cfg(not(unix))]
    {
        Some((0, 0, created))
    }
}

impl InboxCache {
    /// The inbox's events: the batch read before when the store did not change since, else read
    /// now. The marker is taken before the groups, so a change while they are read is read again.
    pub fn read(&mut self, store_path: &Path) -> Result<EventBatch, StoreError> {
        let Some(file) = identity(store_path) else {
            *self = Self::default();
            return Ok(EventBatch::default());
        };
        let store = CrashStore::open(store_path)?;
        let marker = store.change_marker()?;
        if self.read_at == Some((file, marker)) {
            return Ok(self.batch.clone());
        }
        let events = store.groups(MAX_GROUPS)?.into_iter().filter_map(|group| group.latest_event).collect();
        self.batch = EventBatch::new(events);
        self.read_at = Some((file, marker));
        Ok(self.batch.clone())
    }
}

/// Calls `changed` whenever the store changes (a new event, a status change), from a thread of its
/// own, until `changed` returns `false`. The baseline is read before this returns, so a change made
/// after the caller's next read of the inbox is never missed; a store created later counts as a
/// change.
pub fn watch_inbox(store_path: PathBuf, mut changed: impl FnMut() -> bool + Send + 'static) -> std::io::Result<()> {
    let mut store: Option<CrashStore> = None;
    let mut last = None;
    if store_path.exists() {
        store = CrashStore::open(&store_path).map_err(|e| tracing::warn!("{e}")).ok();
        last = store.as_ref().and_then(|s| s.change_marker().ok());
    }
    std::thread::Builder::new().name("crash-inbox-watch".into()).spawn(move || {
        loop {
            std::thread::sleep(POLL);
            if store.is_none() && store_path.exists() {
                store = CrashStore::open(&store_path).map_err(|e| tracing::warn!("{e}")).ok();
            }
            let Some(open) = &store else { continue };
            match open.change_marker() {
                Ok(marker) if last != Some(marker) => {
                    last = Some(marker);
                    if !changed() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("reading the crash inbox failed: {e}");
                    store = None;
                }
            }
        }
    })?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crash::CrashEvent;
    use crate::crash::file::parse_crash_file;

    fn crash(message: &str) -> CrashEvent {
        let trace = format!(
            "Traceback (most recent call last):\n  File \"app/a.py\", line 2, in f\n    boom()\nValueError: {message}\n"
        );
        parse_crash_file(trace.as_bytes(), "crash.txt").events.remove(0)
    }

    #[test]
    fn the_inbox_is_read_again_only_when_the_store_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crashloom.db");
        let mut cache = InboxCache::default();
        assert!(cache.read(&path).unwrap().is_empty(), "no store yet: no events, and no store created");
        assert!(!path.exists());

        let mut store = CrashStore::open(&path).unwrap();
        store.insert_events([(&crash("first"), chrono::Utc::now())]).unwrap();
        let first = cache.read(&path).unwrap();
        assert_eq!(first.len(), 1);
        let again = cache.read(&path).unwrap();
        assert_eq!(again.generation, first.generation, "unchanged: the same batch");

        let mut other = crash("second");
        other.exceptions[0].ty = "KeyError".to_owned();
        store.insert_events([(&other, chrono::Utc::now())]).unwrap();
        let changed = cache.read(&path).unwrap();
        assert_ne!(changed.generation, first.generation);
        assert_eq!(changed.len(), 2);

        // A store deleted and made again is read again, whatever its marker says.
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("crashloom.db{suffix}")));
        }
        let mut store = CrashStore::open(&path).unwrap();
        store.insert_events([(&crash("third"), chrono::Utc::now())]).unwrap();
        store.insert_events([(&other, chrono::Utc::now())]).unwrap();
        let remade = cache.read(&path).unwrap();
        assert_ne!(remade.generation, changed.generation);
        assert_eq!(remade.len(), 2);
    }
}
