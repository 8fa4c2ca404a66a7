//! The inbox: crash groups the local collector stored in the workspace's SQLite store
//! (`.crashloom/crashloom.db`), read by the language server and noticed within a second of a new
//! event through the store's change marker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::store::{CrashStore, StoreError};
use crate::crash::CrashEvent;

/// How many groups are read from the inbox at most (the most recent first).
const MAX_GROUPS: usize = 10_000;
/// How often the store's change marker is looked at.
const POLL: Duration = Duration::from_millis(400);

/// The latest event of every stored group (each with its group facts), or nothing when the
/// workspace has no store yet.
pub fn load_inbox(store_path: &Path) -> Result<Vec<CrashEvent>, StoreError> {
    if !store_path.exists() {
        return Ok(Vec::new());
    }
    let store = CrashStore::open(store_path)?;
    Ok(store.groups(MAX_GROUPS)?.into_iter().filter_map(|group| group.latest_event).collect())
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
