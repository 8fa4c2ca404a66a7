//! The local crash inbox: a SQLite file that the collector writes and the language server reads.
//!
//! Events are grouped by [`crate::crash::group::signature`], so the same bug seen 10,000 times is
//! one row in `groups` with a count, first and last seen, releases and environments. Only the
//! latest [`EVENTS_KEPT_PER_GROUP`] events of a group are kept in full; every event id ever stored
//! is remembered, so an SDK resending an event (after a timeout, say) does not count it twice.
//!
//! Durability: the file runs in WAL mode with `synchronous=NORMAL`. A commit is then a `write()`
//! of the WAL frames into the operating system's page cache, without an `fsync`. That survives
//! the process being killed at any moment (`kill -9` right after the collector answered 200),
//! which is the promise the collector makes to SDKs; it does not survive a power loss or a kernel
//! crash, where the last transactions may roll back (the file itself stays consistent).
//! `synchronous=FULL` would add an `fsync` per transaction for that, and is not worth it for a
//! local crash inbox.
//!
//! Concurrency: every process (or task) opens its own [`CrashStore`]. WAL lets readers run while
//! the collector writes; writers wait for each other up to [`BUSY_TIMEOUT`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::crash::group;
use crate::crash::{CrashEvent, IssueSummary};

/// The version of the schema this build writes, kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i32 = 2;

/// The workspace's store, shared by the collector's inbox, the Sentry cache, the investigation
/// history and the pull requests.
pub const STORE_FILE: &str = ".crashloom/crashloom.db";

/// Where the store of the workspace at `root` lives.
pub fn store_path(root: &Path) -> PathBuf {
    root.join(STORE_FILE)
}

/// How long an event id is remembered after its event arrived. SDKs resend within minutes (a
/// timeout, a retry after a restart); a month covers any of them, and the table stops growing.
pub const SEEN_EVENT_IDS_KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// How often a writer forgets the event ids older than [`SEEN_EVENT_IDS_KEPT_FOR`].
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How many events of a group are kept in full (the newest ones).
pub const EVENTS_KEPT_PER_GROUP: usize = 5;

/// How long a connection waits for another one's write lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA_V1: &str = "
CREATE TABLE groups (
    signature      TEXT PRIMARY KEY,
    short_id       TEXT NOT NULL,
    title          TEXT NOT NULL,
    exception_type TEXT NOT NULL,
    message        TEXT NOT NULL,
    count          INTEGER NOT NULL,
    first_seen     INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    last_seen      INTEGER NOT NULL,
    status         TEXT NOT NULL DEFAULT 'unresolved'
);
CREATE INDEX groups_by_last_seen ON groups (last_seen DESC);

CREATE TABLE group_releases (
    signature TEXT NOT NULL,
    release   TEXT NOT NULL,
    UNIQUE (signature, release)
);

CREATE TABLE group_environments (
    signature   TEXT NOT NULL,
    environment TEXT NOT NULL,
    UNIQUE (signature, environment)
);

-- The latest events of each group, in full: a CrashEvent as JSON.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    signature   TEXT NOT NULL,
    event_id    TEXT,
    received_at INTEGER NOT NULL,
    event       TEXT NOT NULL
);
CREATE INDEX events_by_group ON events (signature, id);

-- Every event id stored (for SEEN_EVENT_IDS_KEPT_FOR), so that resends are recognised after their
-- event was pruned; `seen_at` (schema 2) is when it arrived.
CREATE TABLE seen_event_ids (
    event_id  TEXT PRIMARY KEY,
    signature TEXT NOT NULL
) WITHOUT ROWID;

-- Bumped by every transaction that changes what readers see; see CrashStore::change_marker.
CREATE TABLE changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL
);
INSERT INTO changes (id, counter) VALUES (1, 0);
";

/// Schema 2: event ids remember when they arrived, so old ones can be forgotten. Ids already kept
/// count as arriving at the migration (bound as `?1`).
const MIGRATE_V1_TO_V2: [&str; 3] = [
    "ALTER TABLE seen_event_ids ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0",
    "UPDATE seen_event_ids SET seen_at = ?1",
    "CREATE INDEX seen_event_ids_by_time ON seen_event_ids (seen_at)",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("crash store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("crash store: a stored event is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "the crash store {path} was written by a newer Crashloom (schema {found}, this build reads up to {SCHEMA_VERSION}); upgrade Crashloom or point it at another store"
    )]
    NewerSchema { path: PathBuf, found: i32 },
    #[error("no crash group with signature {0} in the store")]
    UnknownGroup(String),
}

/// What happened to one event handed to [`CrashStore::insert_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertOutcome {
    /// The group the event belongs to.
    pub signature: String,
    /// The event opened a group the store had never seen.
    pub new_group: bool,
    /// The store already had an event with this event id; nothing was changed.
    pub duplicate: bool,
}

/// Triage state of a group, as Sentry names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStatus {
    Unresolved,
    Resolved,
    Ignored,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unresolved => "unresolved",
            Self::Resolved => "resolved",
            Self::Ignored => "ignored",
        }
    }
}

/// A crash group as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroup {
    /// The group's facts; `issue.id` is the group signature.
    pub issue: IssueSummary,
    pub title: String,
    pub exception_type: String,
    /// The outermost exception's message of the latest event.
    pub message: String,
    /// The newest event of the group, with `issue` filled in.
    pub latest_event: Option<CrashEvent>,
}

impl StoredGroup {
    pub fn signature(&self) -> &str {
        &self.issue.id
    }
}

/// One connection to the crash inbox. Open one per process or thread.
pub struct CrashStore {
    conn: Connection,
    path: PathBuf,
    /// When this connection last forgot old event ids (writers only).
    pruned_at: Option<std::time::Instant>,
}

impl std::fmt::Debug for CrashStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrashStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl CrashStore {
    /// Opens the store at `path`, creating the file and its schema when missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
        // See the module docs: survives a killed process, not a power loss.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&mut conn, &path)?;
        Ok(Self { conn, path, pruned_at: None })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        Ok(self.conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    /// Stores one event received at `received_at`.
    pub fn insert_event(
        &mut self,
        event: &CrashEvent,
        received_at: DateTime<Utc>,
    ) -> Result<InsertOutcome, StoreError> {
        let mut outcomes = self.insert_events([(event, received_at)])?;
        Ok(outcomes.remove(0))
    }

    /// Stores a batch of events in one transaction: either all of them are committed or none.
    /// Outcomes come back in the order of the input.
    pub fn insert_events<'a>(
        &mut self,
        events: impl IntoIterator<Item = (&'a CrashEvent, DateTime<Utc>)>,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes: Vec<InsertOutcome> = Vec::new();
        for (event, received_at) in events {
            outcomes.push(insert_in_transaction(&tx, event, received_at)?);
        }
        let mut grown: Vec<&str> = outcomes.iter().filter(|o| !o.duplicate).map(|o| o.signature.as_str()).collect();
        grown.sort_unstable();
        grown.dedup();
        for signature in &grown {
            tx.prepare_cached(
                "DELETE FROM events WHERE signature = ?1 AND id NOT IN
                     (SELECT id FROM events WHERE signature = ?1 ORDER BY id DESC LIMIT ?2)",
            )?
            .execute(params![signature, to_sql_limit(EVENTS_KEPT_PER_GROUP)])?;
        }
        if !grown.is_empty() {
            bump_change_counter(&tx)?;
        }
        tx.commit()?;
        if self.pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            self.pruned_at = Some(std::time::Instant::now());
            if let Err(e) = self.forget_old_event_ids() {
                tracing::warn!("{e}");
            }
        }
        Ok(outcomes)
    }

    /// Forgets the ids of events that arrived more than [`SEEN_EVENT_IDS_KEPT_FOR`] before the
    /// newest one (a resend of one of them is then stored as a new event). Measured from the
    /// newest arrival, not the clock, so a store fed old events keeps what it needs. Returns how
    /// many were forgotten.
    pub fn forget_old_event_ids(&self) -> Result<usize, StoreError> {
        let window = SEEN_EVENT_IDS_KEPT_FOR.num_microseconds().unwrap_or(i64::MAX);
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM seen_event_ids WHERE seen_at < (SELECT max(seen_at) FROM seen_event_ids) - ?1",
            )?
            .execute([window])?)
    }

    /// The groups seen most recently first, at most `limit` of them.
    pub fn groups(&self, limit: usize) -> Result<Vec<StoredGroup>, StoreError> {
        let mut statement =
            self.conn.prepare_cached(&format!("{GROUP_COLUMNS} ORDER BY last_seen DESC, signature LIMIT ?1"))?;
        let rows = statement.query_map([to_sql_limit(limit)], GroupRow::read)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|row| self.complete_group(row)).collect()
    }

    /// One group by its signature.
    pub fn group(&self, signature: &str) -> Result<Option<StoredGroup>, StoreError> {
        let mut statement = self.conn.prepare_cached(&format!("{GROUP_COLUMNS} WHERE signature = ?1"))?;
        let row = statement.query_row([signature], GroupRow::read).optional()?;
        row.map(|row| self.complete_group(row)).transpose()
    }

    /// The newest events of a group (at most `n`, and never more than [`EVENTS_KEPT_PER_GROUP`]
    /// are kept), newest first.
    pub fn latest_events(&self, signature: &str, n: usize) -> Result<Vec<CrashEvent>, StoreError> {
        let mut statement =
            self.conn.prepare_cached("SELECT event FROM events WHERE signature = ?1 ORDER BY id DESC LIMIT ?2")?;
        let texts = statement
            .query_map(params![signature, to_sql_limit(n)], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(texts.iter().map(|text| serde_json::from_str(text)).collect::<Result<Vec<_>, _>>()?)
    }

    /// Marks a group resolved, ignored or unresolved. A new event reopens a resolved group.
    pub fn set_status(&mut self, signature: &str, status: GroupStatus) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let updated =
            tx.execute("UPDATE groups SET status = ?2 WHERE signature = ?1", params![signature, status.as_str()])?;
        if updated == 0 {
            return Err(StoreError::UnknownGroup(signature.to_owned()));
        }
        bump_change_counter(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// A number that grows whenever a transaction changes groups or events, from any connection
    /// or process. Poll it (one tiny read) and re-read the groups only when it moved.
    pub fn change_marker(&self) -> Result<u64, StoreError> {
        let counter: i64 =
            self.conn.prepare_cached("SELECT counter FROM changes WHERE id = 1")?.query_row([], |row| row.get(0))?;
        Ok(u64::try_from(counter).unwrap_or(0))
    }

    /// How many events all groups have counted (duplicates excluded).
    pub fn total_event_count(&self) -> Result<u64, StoreError> {
        let total: i64 = self.conn.query_row("SELECT COALESCE(SUM(count), 0) FROM groups", [], |row| row.get(0))?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    fn complete_group(&self, row: GroupRow) -> Result<StoredGroup, StoreError> {
        let releases = self
            .group_values("SELECT release FROM group_releases WHERE signature = ?1 ORDER BY rowid", &row.signature)?;
        let environments = self.group_values(
            "SELECT environment FROM group_environments WHERE signature = ?1 ORDER BY rowid",
            &row.signature,
        )?;
        let issue = IssueSummary {
            short_id: Some(group::short_id(&row.signature)),
            permalink: None,
            count: Some(row.count),
            user_count: None,
            first_seen: Some(from_micros(row.first_seen)),
            last_seen: Some(from_micros(row.last_seen)),
            status: Some(row.status),
            releases,
            environments,
            id: row.signature,
        };
        let latest_event = self.latest_events(&issue.id, 1)?.into_iter().next().map(|mut event| {
            event.issue = Some(issue.clone());
            event
        });
        Ok(StoredGroup {
            issue,
            title: row.title,
            exception_type: row.exception_type,
            message: row.message,
            latest_event,
        })
    }

    fn group_values(&self, sql: &str, signature: &str) -> Result<Vec<String>, StoreError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let values = statement.query_map([signature], |row| row.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(values)
    }
}

const GROUP_COLUMNS: &str =
    "SELECT signature, title, exception_type, message, count, first_seen, last_seen, status FROM groups";

struct GroupRow {
    signature: String,
    title: String,
    exception_type: String,
    message: String,
    count: u64,
    first_seen: i64,
    last_seen: i64,
    status: String,
}

impl GroupRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            signature: row.get(0)?,
            title: row.get(1)?,
            exception_type: row.get(2)?,
            message: row.get(3)?,
            count: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
            first_seen: row.get(5)?,
            last_seen: row.get(6)?,
            status: row.get(7)?,
        })
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    // IMMEDIATE: two processes opening a fresh file at once must not both create the schema.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema { path: path.to_path_buf(), found });
    }
    if found < 1 {
        tx.execute_batch(SCHEMA_V1)?;
    }
    if found < 2 {
        let now = Utc::now().timestamp_micros();
        tx.execute(MIGRATE_V1_TO_V2[0], [])?;
        tx.execute(MIGRATE_V1_TO_V2[1], [now])?;
        tx.execute(MIGRATE_V1_TO_V2[2], [])?;
    }
    // Later versions: `if found < 3 { … }` and so on.
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

fn insert_in_transaction(
    tx: &rusqlite::Transaction<'_>,
    event: &CrashEvent,
    received_at: DateTime<Utc>,
) -> Result<InsertOutcome, StoreError> {
    let signature = group::signature(event);
    let event_id = event.event_id.as_deref().and_then(normalize_event_id);

    if let Some(event_id) = &event_id {
        let inserted = tx
            .prepare_cached("INSERT OR IGNORE INTO seen_event_ids (event_id, signature, seen_at) VALUES (?1, ?2, ?3)")?
            .execute(params![event_id, signature, received_at.timestamp_micros()])?;
        if inserted == 0 {
            let stored_signature: String = tx
                .prepare_cached("SELECT signature FROM seen_event_ids WHERE event_id = ?1")?
                .query_row([event_id], |row| row.get(0))?;
            return Ok(InsertOutcome { signature: stored_signature, new_group: false, duplicate: true });
        }
    }

    // An SDK's clock may run ahead; never let an event claim to come from the future.
    let seen_at = event.timestamp.map_or(received_at, |timestamp| timestamp.min(received_at)).timestamp_micros();
    let outermost = event.outermost();
    let count: i64 = tx
        .prepare_cached(
            "INSERT INTO groups (signature, short_id, title, exception_type, message, count, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)
             ON CONFLICT (signature) DO UPDATE SET
                 title = excluded.title,
                 exception_type = excluded.exception_type,
                 message = excluded.message,
                 count = count + 1,
                 first_seen = min(first_seen, excluded.first_seen),
                 last_seen = max(last_seen, excluded.last_seen),
                 status = CASE status WHEN 'resolved' THEN 'unresolved' ELSE status END
             RETURNING count",
        )?
        .query_row(
            params![
                signature,
                group::short_id(&signature),
                event.title(),
                outermost.map_or("", |exception| exception.ty.as_str()),
                outermost.map_or("", |exception| exception.value.as_str()),
                seen_at,
            ],
            |row| row.get(0),
        )?;

    if let Some(release) = event.release.as_deref().filter(|release| !release.is_empty()) {
        tx.prepare_cached("INSERT OR IGNORE INTO group_releases (signature, release) VALUES (?1, ?2)")?
            .execute(params![signature, release])?;
    }
    if let Some(environment) = event.environment.as_deref().filter(|environment| !environment.is_empty()) {
        tx.prepare_cached("INSERT OR IGNORE INTO group_environments (signature, environment) VALUES (?1, ?2)")?
            .execute(params![signature, environment])?;
    }

    tx.prepare_cached("INSERT INTO events (signature, event_id, received_at, event) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![signature, event_id, received_at.timestamp_micros(), serde_json::to_string(event)?])?;
    // Older events of the group are pruned once per transaction, in `insert_events`.
    Ok(InsertOutcome { signature, new_group: count == 1, duplicate: false })
}

fn bump_change_counter(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE changes SET counter = counter + 1 WHERE id = 1")?.execute([])?;
    Ok(())
}

/// Sentry event ids are 32 hex digits; SDKs may send them as UUIDs with dashes or in upper case.
fn normalize_event_id(event_id: &str) -> Option<String> {
    let normalized: String = event_id.chars().filter(|c| *c != '-').map(|c| c.to_ascii_lowercase()).collect();
    let normalized = normalized.trim().to_owned();
    (!normalized.is_empty()).then_some(normalized)
}

fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn to_sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_compare_without_dashes_or_case() {
        assert_eq!(
            normalize_event_id("FC6D8C0C-43FC-4630-AD85-0EE518F1B9D0").as_deref(),
            Some("fc6d8c0c43fc4630ad850ee518f1b9d0")
        );
        assert_eq!(normalize_event_id(" "), None);
    }
}
