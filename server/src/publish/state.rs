//! What Crashloom remembers about its pull requests, in the workspace store (`pull_requests`,
//! created on first use): one row per crash group, so a later run updates the same pull request,
//! and a pull request closed without merging is not opened again for the same fix.

use std::path::{Path, PathBuf};

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};

use super::forge::PullState;

/// One crash group's pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestRecord {
    pub group_id: String,
    pub short_id: String,
    /// `github`, `gitlab` or `git`.
    pub provider: String,
    pub branch: String,
    /// `None` for a pushed branch without a pull request (the `git` provider, or an API failure
    /// after the push).
    pub number: Option<u64>,
    pub url: Option<String>,
    /// `open`, `merged`, `closed`, or `pushed`.
    pub state: String,
    /// The fix it carries (a fingerprint of the change).
    pub fix: String,
    /// The commit pushed last.
    pub commit: String,
    /// The group's event count when it was last pushed or commented.
    pub count: u64,
    /// Whether the Sentry issue got the link.
    pub sentry_noted: bool,
}

pub struct PublishState {
    path: PathBuf,
    connection: Connection,
}

#[derive(Debug, thiserror::Error)]
#[error("the workspace store {path} cannot keep pull requests: {source}; check that the folder is writable")]
pub struct StateError {
    path: PathBuf,
    source: rusqlite::Error,
}

impl PublishState {
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let sqlite = |source| StateError { path: path.to_path_buf(), source };
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let connection = Connection::open(path).map_err(sqlite)?;
        connection.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE IF NOT EXISTS pull_requests (
                     group_id TEXT PRIMARY KEY,
                     short_id TEXT NOT NULL,
                     provider TEXT NOT NULL,
                     branch TEXT NOT NULL,
                     number INTEGER,
                     url TEXT,
                     state TEXT NOT NULL,
                     fix TEXT NOT NULL,
                     head_commit TEXT NOT NULL,
                     event_count INTEGER NOT NULL,
                     sentry_noted INTEGER NOT NULL DEFAULT 0,
                     updated_at TEXT NOT NULL
                 );",
            )
            .map_err(sqlite)?;
        Ok(Self { path: path.to_path_buf(), connection })
    }

    fn error(&self, source: rusqlite::Error) -> StateError {
        StateError { path: self.path.clone(), source }
    }

    pub fn get(&self, group_id: &str) -> Result<Option<PullRequestRecord>, StateError> {
        self.connection
            .query_row(
                "SELECT group_id, short_id, provider, branch, number, url, state, fix, head_commit, event_count, sentry_noted
                 FROM pull_requests WHERE group_id = ?1",
                [group_id],
                |row| {
                    Ok(PullRequestRecord {
                        group_id: row.get(0)?,
                        short_id: row.get(1)?,
                        provider: row.get(2)?,
                        branch: row.get(3)?,
                        number: row.get::<_, Option<i64>>(4)?.map(|n| n as u64),
                        url: row.get(5)?,
                        state: row.get(6)?,
                        fix: row.get(7)?,
                        commit: row.get(8)?,
                        count: row.get::<_, i64>(9)? as u64,
                        sentry_noted: row.get(10)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.error(e))
    }

    pub fn all(&self) -> Result<Vec<PullRequestRecord>, StateError> {
        let ids: Vec<String> = {
            let mut statement = self
                .connection
                .prepare("SELECT group_id FROM pull_requests ORDER BY group_id")
                .map_err(|e| self.error(e))?;
            let rows = statement.query_map([], |row| row.get(0)).map_err(|e| self.error(e))?;
            rows.filter_map(Result::ok).collect()
        };
        Ok(ids.iter().filter_map(|id| self.get(id).ok().flatten()).collect())
    }

    pub fn save(&self, record: &PullRequestRecord) -> Result<(), StateError> {
        self.connection
            .execute(
                "INSERT INTO pull_requests (group_id, short_id, provider, branch, number, url, state, fix, head_commit, event_count, sentry_noted, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(group_id) DO UPDATE SET short_id = ?2, provider = ?3, branch = ?4, number = ?5, url = ?6,
                     state = ?7, fix = ?8, head_commit = ?9, event_count = ?10, sentry_noted = ?11, updated_at = ?12",
                params![
                    record.group_id,
                    record.short_id,
                    record.provider,
                    record.branch,
                    record.number.map(|n| n as i64),
                    record.url,
                    record.state,
                    record.fix,
                    record.commit,
                    record.count as i64,
                    record.sentry_noted,
                    Utc::now().to_rfc3339(),
                ],
            )
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Records what the forge says about the pull request now.
    pub fn set_state(&self, group_id: &str, state: PullState) -> Result<(), StateError> {
        self.connection
            .execute("UPDATE pull_requests SET state = ?2 WHERE group_id = ?1", params![group_id, state.as_str()])
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    pub fn set_sentry_noted(&self, group_id: &str) -> Result<(), StateError> {
        self.connection
            .execute("UPDATE pull_requests SET sentry_noted = 1 WHERE group_id = ?1", [group_id])
            .map_err(|e| self.error(e))?;
        Ok(())
    }
}
