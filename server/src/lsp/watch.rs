//! Watches the crash paths on disk, so new, changed or deleted crash files reach open editors
//! without a restart. Paths that do not exist yet are watched through their nearest existing
//! parent and re-armed once they appear.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use super::messages::ReloadReason;

pub struct CrashWatcher {
    watcher: RecommendedWatcher,
    armed: Vec<(PathBuf, RecursiveMode)>,
    /// The crash paths events are checked against; replaced on every rearm, so a path added by a
    /// settings change counts at once.
    watched: Arc<RwLock<Vec<PathBuf>>>,
}

impl CrashWatcher {
    pub fn new(paths: Vec<PathBuf>, reload: UnboundedSender<ReloadReason>) -> notify::Result<Self> {
        let watched = Arc::new(RwLock::new(paths.clone()));
        let checked = watched.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                let watched = checked.read().unwrap_or_else(|poisoned| poisoned.into_inner());
                let relevant = event
                    .paths
                    .iter()
                    .any(|changed| watched.iter().any(|p| changed.starts_with(p) || p.starts_with(changed)));
                if relevant && !matches!(event.kind, notify::EventKind::Access(_)) {
                    let _ = reload.send(ReloadReason::CrashFilesChanged);
                }
            }
            Err(e) => tracing::warn!("watching crash files failed: {e}"),
        })?;
        let mut this = Self { watcher, armed: Vec::new(), watched };
        this.rearm(&paths);
        Ok(this)
    }

    /// Watches what exists now of each path; called again after every reload.
    pub fn rearm(&mut self, paths: &[PathBuf]) {
        *self.watched.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = paths.to_vec();
        let wanted: Vec<(PathBuf, RecursiveMode)> = paths.iter().filter_map(|p| watch_target(p)).collect();
        for (path, _) in &self.armed {
            if !wanted.iter().any(|(w, _)| w == path) {
                let _ = self.watcher.unwatch(path);
            }
        }
        for (path, mode) in &wanted {
            if !self.armed.iter().any(|(a, m)| a == path && m == mode)
                && let Err(e) = self.watcher.watch(path, *mode)
            {
                tracing::warn!("cannot watch {}: {e}", path.display());
            }
        }
        self.armed = wanted;
    }
}

fn watch_target(path: &Path) -> Option<(PathBuf, RecursiveMode)> {
    if path.is_dir() {
        return Some((path.to_path_buf(), RecursiveMode::Recursive));
    }
    // A file (editors often replace it by renaming) or a path not created yet: its parent.
    let mut parent = path.parent()?;
    while !parent.is_dir() {
        parent = parent.parent()?;
    }
    Some((parent.to_path_buf(), RecursiveMode::NonRecursive))
}
