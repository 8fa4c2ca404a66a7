//! Investigations kept in the workspace's SQLite store, so reopening the editor shows the last
//! report and fix of each crash without running them again.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::pipeline::Investigation;
use super::report::{REPORTS_DIR, write_report};
use crate::source::store::store_path;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("the investigation store {path} cannot be used: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("cannot create {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("a stored investigation is not readable: {0}")]
    Json(#[from] serde_json::Error),
}

/// Keeps an investigation: the latest of its group in the workspace's store, and its report under
/// `.crashloom/reports`. Returns the report's path. A store that cannot be written is logged, not
/// fatal: the report holds everything. Blocking (SQLite and the file system).
pub fn keep(root: &Path, investigation: &Investigation) -> Result<PathBuf, String> {
    if let Err(e) = InvestigationHistory::open(&store_path(root)).and_then(|h| h.save(investigation)) {
        tracing::warn!("{e}");
    }
    write_report(root, investigation)
        .map_err(|e| format!("cannot write the report under {}: {e}", root.join(REPORTS_DIR).display()))
}

/// How long the investigation of a crash group that is gone is kept.
pub const GONE_INVESTIGATIONS_KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::days(90);

pub struct InvestigationHistory {
    path: PathBuf,
    connection: Connection,
}

impl InvestigationHistory {
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        let sqlite = |source| HistoryError::Sqlite { path: path.to_path_buf(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| HistoryError::Io { path: parent.to_path_buf(), source })?;
        }
        let connection = Connection::open(path).map_err(sqlite)?;
        connection.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE IF NOT EXISTS investigations (
                     group_id TEXT PRIMARY KEY,
                     short_id TEXT NOT NULL,
                     created_at TEXT NOT NULL,
                     validated INTEGER NOT NULL,
                     investigation TEXT NOT NULL
                 );",
            )
            .map_err(sqlite)?;
        Ok(Self { path: path.to_path_buf(), connection })
    }

    /// Keeps the latest investigation of a group (replacing the previous one).
    pub fn save(&self, investigation: &Investigation) -> Result<(), HistoryError> {
        let json = serde_json::to_string(investigation)?;
        self.connection
            .execute(
                "INSERT INTO investigations (group_id, short_id, created_at, validated, investigation)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(group_id) DO UPDATE SET short_id = ?2, created_at = ?3, validated = ?4, investigation = ?5",
                params![
                    investigation.group_id,
                    investigation.short_id,
                    investigation.created_at.to_rfc3339(),
                    investigation.is_validated(),
                    json
                ],
            )
            .map_err(|source| HistoryError::Sqlite { path: self.path.clone(), source })?;
        Ok(())
    }

    pub fn latest(&self, group_id: &str) -> Result<Option<Investigation>, HistoryError> {
        let json: Option<String> = self
            .connection
            .query_row("SELECT investigation FROM investigations WHERE group_id = ?1", [group_id], |row| row.get(0))
            .optional()
            .map_err(|source| HistoryError::Sqlite { path: self.path.clone(), source })?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    /// Forgets the investigations of crash groups that are no longer among `live` and were made
    /// before `before`; returns how many. A group that is only missing for a while (a rotated log,
    /// a Sentry source not refreshed yet) keeps its investigation until then.
    pub fn forget_gone(
        &mut self,
        live: &std::collections::HashSet<String>,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, HistoryError> {
        let sqlite = |source| HistoryError::Sqlite { path: self.path.clone(), source };
        let transaction = self.connection.transaction().map_err(sqlite)?;
        let gone: Vec<String> = {
            let mut statement =
                transaction.prepare("SELECT group_id, created_at FROM investigations").map_err(sqlite)?;
            let rows = statement
                .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
                .map_err(sqlite)?;
            rows.filter_map(Result::ok)
                .filter(|(group, created)| {
                    !live.contains(group)
                        && chrono::DateTime::parse_from_rfc3339(created).is_ok_and(|created| created < before)
                })
                .map(|(group, _)| group)
                .collect()
        };
        for group in &gone {
            transaction.execute("DELETE FROM investigations WHERE group_id = ?1", [group]).map_err(sqlite)?;
        }
        transaction.commit().map_err(sqlite)?;
        Ok(gone.len())
    }

    /// Every kept investigation; unreadable ones (from another version) are skipped.
    pub fn all(&self) -> Result<Vec<Investigation>, HistoryError> {
        let sqlite = |source| HistoryError::Sqlite { path: self.path.clone(), source };
        let mut statement = self.connection.prepare("SELECT investigation FROM investigations").map_err(sqlite)?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0)).map_err(sqlite)?;
        Ok(rows.filter_map(Result::ok).filter_map(|json| serde_json::from_str(&json).ok()).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::{TimeDelta, Utc};

    use super::*;

    #[test]
    fn only_investigations_of_groups_gone_for_long_are_forgotten() {
        let dir = tempfile::tempdir().expect("test setup");
        let mut history = InvestigationHistory::open(&dir.path().join("store.db")).expect("test setup");
        let now = Utc::now();
        let old = now - TimeDelta::days(120);
        for (group, created) in [("live-old", old), ("gone-old", old), ("gone-recent", now - TimeDelta::days(3))] {
            history.save(&Investigation::empty(group, created)).expect("test setup");
        }
        let live: HashSet<String> = ["live-old".to_owned()].into();
        let forgotten = history.forget_gone(&live, now - GONE_INVESTIGATIONS_KEPT_FOR).expect("test setup");
        assert_eq!(forgotten, 1);
        let mut kept: Vec<String> = history.all().expect("test setup").into_iter().map(|i| i.group_id).collect();
        kept.sort();
        assert_eq!(kept, ["gone-recent", "live-old"]);
        assert!(history.latest("gone-old").expect("test setup").is_none());
    }
}
