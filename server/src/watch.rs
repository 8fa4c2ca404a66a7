//! `crashloom watch`: the loop from crash to pull request without anyone at the keyboard.
//!
//! Every pass reads every crash source (crash files and logs, the collector's store, each Sentry
//! source on its own `refresh_secs`), picks the crash groups that are new, have new events since
//! their last investigation, regressed, or wait for a retry, keeps those that pass `[watch]`
//! (minimum count, allowed and denied exception types and paths), orders them by events then users,
//! and investigates them `[watch] concurrency` at a time (one by default). A validated fix becomes a
//! pull request ([`crate::publish`]); the Sentry issue gets its link. Failures back off (doubling
//! from `poll_secs` up to `max_backoff_secs`). Each action is one line. Between passes it waits for
//! `poll_secs`, a new collector event, or the stop signal; a stop cancels running investigations
//! (their sandboxes are removed) and returns.
//!
//! What each group was last investigated at lives in the workspace store (`watch_groups`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use globset::{GlobSet, GlobSetBuilder};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Notify;

use crate::config::{Config, SentrySourceConfig, SourceConfig, WatchConfig};
use crate::engine;
use crate::investigate::FixOutcome;
use crate::investigate::history;
use crate::investigate::pipeline::{self, InvestigateError, Investigation, Progress};
use crate::publish::{self, PublishError, PullRequestOutcome};
use crate::source::files::FilesSource;
use crate::source::sentry_api::{SentryClient, SentryError, SentrySource};
use crate::source::store::store_path;
use crate::workspace::sites::CrashGroup;

/// Where the lines go: one per action.
pub type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// What a `--once` pass (or a whole run) did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchSummary {
    pub investigated: usize,
    /// Pull requests opened (or, with `provider = "git"`, branches pushed).
    pub opened: usize,
    /// Open pull requests that got a new commit or a comment.
    pub updated: usize,
    pub failures: usize,
}

/// Why a group is investigated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    New,
    NewEvents { before: u64 },
    Regressed,
    Retry { failures: u32 },
}

impl Reason {
    fn words(&self, count: u64) -> String {
        match self {
            Self::New => format!("new, {count} events"),
            Self::NewEvents { before } => format!("{} new events, {count} in all", count.saturating_sub(*before)),
            Self::Regressed => format!("regressed, {count} events"),
            Self::Retry { failures } => format!("retry after {failures} failures, {count} events"),
        }
    }
}

/// What the watch remembers of one crash group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMemory {
    pub count: u64,
    pub last_seen: Option<DateTime<Utc>>,
    pub status: Option<String>,
    pub failures: u32,
    pub retry_at: Option<DateTime<Utc>>,
}

/// The `watch_groups` table of the workspace store.
struct Memory {
    connection: Connection,
}

impl Memory {
    fn open(path: &Path) -> Result<Self, String> {
        let problem = |e: rusqlite::Error| format!("the workspace store {} cannot be used: {e}", path.display());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let connection = Connection::open(path).map_err(problem)?;
        connection.busy_timeout(Duration::from_secs(5)).map_err(problem)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE IF NOT EXISTS watch_groups (
                     group_id TEXT PRIMARY KEY,
                     short_id TEXT NOT NULL,
                     event_count INTEGER NOT NULL,
                     last_seen TEXT,
                     status TEXT,
                     failures INTEGER NOT NULL,
                     retry_at TEXT,
                     outcome TEXT NOT NULL,
                     updated_at TEXT NOT NULL
                 );",
            )
            .map_err(problem)?;
        Ok(Self { connection })
    }

    fn get(&self, group_id: &str) -> Option<GroupMemory> {
        let parse = |text: Option<String>| {
            text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|d| d.with_timezone(&Utc))
        };
        self.connection
            .query_row(
                "SELECT event_count, last_seen, status, failures, retry_at FROM watch_groups WHERE group_id = ?1",
                [group_id],
                |row| {
                    Ok(GroupMemory {
                        count: row.get::<_, i64>(0)? as u64,
                        last_seen: parse(row.get(1)?),
                        status: row.get(2)?,
                        failures: row.get::<_, i64>(3)? as u32,
                        retry_at: parse(row.get(4)?),
                    })
                },
            )
            .optional()
            .ok()
            .flatten()
    }

    fn remember(&self, group: &CrashGroup, failures: u32, retry_at: Option<DateTime<Utc>>, outcome: &str) {
        let result = self.connection.execute(
            "INSERT INTO watch_groups (group_id, short_id, event_count, last_seen, status, failures, retry_at, outcome, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(group_id) DO UPDATE SET short_id = ?2, event_count = ?3, last_seen = ?4, status = ?5,
                 failures = ?6, retry_at = ?7, outcome = ?8, updated_at = ?9",
            params![
                group.id,
                group.short_id,
                group.count as i64,
                group.last_seen.map(|d| d.to_rfc3339()),
                group.status,
                failures as i64,
                retry_at.map(|d| d.to_rfc3339()),
                outcome,
                Utc::now().to_rfc3339(),
            ],
        );
        if let Err(e) = result {
            tracing::warn!(crash = %group.short_id, "cannot remember the investigation: {e}");
        }
    }
}

/// Why `group` should be investigated now, given what was remembered; `None`: nothing new.
pub fn reason_to_investigate(group: &CrashGroup, memory: Option<&GroupMemory>, now: DateTime<Utc>) -> Option<Reason> {
    let Some(memory) = memory else { return Some(Reason::New) };
    if memory.failures > 0 {
        return match memory.retry_at {
            Some(at) if at > now => None,
            _ => Some(Reason::Retry { failures: memory.failures }),
        };
    }
    let was_closed = memory.status.as_deref().is_some_and(|s| matches!(s, "resolved" | "ignored"));
    let is_open = group.status.as_deref().is_none_or(|s| s == "unresolved" || s == "regressed");
    if (was_closed && is_open)
        || group.status.as_deref() == Some("regressed") && memory.status.as_deref() != Some("regressed")
    {
        return Some(Reason::Regressed);
    }
    if group.count > memory.count || group.last_seen.zip(memory.last_seen).is_some_and(|(now, then)| now > then) {
        return Some(Reason::NewEvents { before: memory.count });
    }
    None
}

/// `[watch]`'s filters, compiled.
pub struct Filters {
    min_count: u64,
    allow_exceptions: Option<GlobSet>,
    deny_exceptions: Option<GlobSet>,
    allow_paths: Option<GlobSet>,
    deny_paths: Option<GlobSet>,
}

fn glob_set(patterns: &[String], key: &str) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(false)
            .build()
            .map_err(|e| format!("[watch] {key} has a pattern that is not valid: {e}"))?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| format!("[watch] {key} is not valid: {e}"))
}

impl Filters {
    pub fn new(config: &WatchConfig) -> Result<Self, String> {
        Ok(Self {
            min_count: config.min_count,
            allow_exceptions: glob_set(&config.allow_exceptions, "allow_exceptions")?,
            deny_exceptions: glob_set(&config.deny_exceptions, "deny_exceptions")?,
            allow_paths: glob_set(&config.allow_paths, "allow_paths")?,
            deny_paths: glob_set(&config.deny_paths, "deny_paths")?,
        })
    }

    /// Why `group` is left alone; `None` when it passes.
    pub fn refusal(&self, group: &CrashGroup) -> Option<String> {
        if group.count < self.min_count {
            return Some(format!("{} events, fewer than [watch] min_count = {}", group.count, self.min_count));
        }
        if let Some(allow) = &self.allow_exceptions
            && !allow.is_match(&group.exception)
        {
            return Some(format!("{} is not in [watch] allow_exceptions", group.exception));
        }
        if let Some(deny) = &self.deny_exceptions
            && deny.is_match(&group.exception)
        {
            return Some(format!("{} is in [watch] deny_exceptions", group.exception));
        }
        let paths: Vec<&str> = group.sites.iter().map(|s| s.path.as_str()).collect();
        if let Some(allow) = &self.allow_paths
            && !paths.iter().any(|p| allow.is_match(p))
        {
            return Some("no frame is in [watch] allow_paths".to_owned());
        }
        if let Some(deny) = &self.deny_paths
            && let Some(path) = paths.iter().find(|p| deny.is_match(p))
        {
            return Some(format!("{path} is in [watch] deny_paths"));
        }
        None
    }
}

/// Most events first, then most users, then by short id (a stable order).
pub fn by_priority(groups: &mut [CrashGroup]) {
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.user_count.unwrap_or(0).cmp(&a.user_count.unwrap_or(0)))
            .then(a.short_id.cmp(&b.short_id))
    });
}

/// One Sentry source, refreshed on its own interval.
struct SentryFeed {
    config: SentrySourceConfig,
    source: SentrySource,
    client: Option<SentryClient>,
    next_refresh: Instant,
    last_problem: Option<String>,
}

/// The sources, kept between passes (crash files are re-read only when they change).
struct Sources {
    files: FilesSource,
    sentry: Vec<SentryFeed>,
}

impl Sources {
    fn new(root: &Path, config: &Config, say: &Say) -> Self {
        let mut sentry = Vec::new();
        for source in &config.sources {
            if let SourceConfig::Sentry(sentry_config) = source {
                match SentrySource::load_cached(&store_path(root), sentry_config) {
                    Ok(source) => sentry.push(SentryFeed {
                        config: sentry_config.clone(),
                        source,
                        client: sentry_client(sentry_config).ok(),
                        next_refresh: Instant::now(),
                        last_problem: None,
                    }),
                    Err(e) => say(&format!("Sentry {}: {e}", sentry_config.org)),
                }
            }
        }
        Self { files: FilesSource::default(), sentry }
    }

    /// Every source read (Sentry when its refresh is due), grouped and mapped.
    async fn load(&mut self, root: &Path, config: &Config, say: &Say) -> Result<Vec<CrashGroup>, String> {
        let mut sentry_events = Vec::new();
        for feed in &mut self.sentry {
            if Instant::now() >= feed.next_refresh {
                feed.next_refresh = Instant::now() + Duration::from_secs(feed.config.refresh_secs.max(10));
                let result = match &feed.client {
                    Some(client) => feed.source.refresh(client).await.map(|_| ()),
                    None => sentry_client(&feed.config).map(|_| ()),
                };
                match result {
                    Ok(()) => feed.last_problem = None,
                    Err(e) => {
                        let problem = e.to_string();
                        if feed.last_problem.as_deref() != Some(problem.as_str()) {
                            say(&format!("Sentry {}: {problem}", feed.config.org));
                            feed.last_problem = Some(problem);
                        }
                    }
                }
            }
            sentry_events.extend(feed.source.events());
        }
        let root_owned = root.to_path_buf();
        let config_owned = config.clone();
        let mut files = std::mem::take(&mut self.files);
        let (loaded, files) = tokio::task::spawn_blocking(move || {
            let (index, mut report) = engine::index_and_read(&root_owned, &config_owned, &mut files);
            report.batches.push(crate::crash::batch::EventBatch::new(sentry_events));
            let loaded = index.map(|index| {
                let text_of = engine::text_from_disk(&root_owned);
                engine::build(&config_owned, &index, report, &text_of)
            });
            (loaded, files)
        })
        .await
        .map_err(|e| format!("reading the crash sources stopped unexpectedly: {e}"))?;
        self.files = files;
        let loaded = loaded.map_err(|e| format!("cannot index {}: {e}", root.display()))?;
        for problem in &loaded.problems {
            tracing::warn!("{problem}");
        }
        Ok(loaded.picture.groups.iter().map(|group| CrashGroup::clone(group)).collect())
    }

    /// The Sentry source that knows `group`'s issue.
    fn sentry_for(&self, group: &CrashGroup) -> Option<&SentryFeed> {
        self.sentry.iter().find(|feed| feed.source.issue(&group.id).is_some())
    }
}

fn sentry_client(config: &SentrySourceConfig) -> Result<SentryClient, SentryError> {
    let token =
        std::env::var("SENTRY_AUTH_TOKEN").ok().filter(|t| !t.trim().is_empty()).ok_or(SentryError::MissingToken)?;
    SentryClient::new(config, token)
}

/// Progress of a watched investigation: logged, cancelled on stop.
struct WatchProgress {
    short_id: String,
    stop: Arc<AtomicBool>,
}

impl Progress for WatchProgress {
    fn step(&self, index: usize, message: &str) {
        tracing::debug!(crash = %self.short_id, "[{}/{}] {message}", index + 1, pipeline::STEPS.len());
    }

    fn is_cancelled(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// What happened to one group.
enum Done {
    Investigated { opened: bool, updated: bool },
    Failed,
    Cancelled,
}

/// Investigates one group and opens the pull request of a validated fix.
async fn handle(
    root: PathBuf,
    config: Arc<Config>,
    group: CrashGroup,
    stop: Arc<AtomicBool>,
    say: Say,
) -> (CrashGroup, Done, Option<String>) {
    let id = group.short_id.clone();
    let progress = Arc::new(WatchProgress { short_id: id.clone(), stop: stop.clone() });
    let investigation = match pipeline::investigate(root.clone(), group.clone(), config.clone(), progress).await {
        Ok(investigation) => investigation,
        Err(InvestigateError::Cancelled) => return (group, Done::Cancelled, None),
        Err(e) => {
            say(&format!("{id}: investigation failed: {e}"));
            return (group, Done::Failed, None);
        }
    };
    let saved = {
        let (root, investigation) = (root.clone(), investigation.clone());
        tokio::task::spawn_blocking(move || history::keep(&root, &investigation))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    };
    let report_path = match saved {
        Ok(path) => path,
        Err(e) => {
            say(&format!("{id}: {e}"));
            return (group, Done::Failed, None);
        }
    };
    let relative = report_path.strip_prefix(&root).unwrap_or(&report_path).display().to_string();
    let verdict = verdict(&investigation);
    let Some(settings) = &config.pull_request else {
        say(&format!("{id}: {verdict}; report {relative} (no [pull_request] section, so no pull request)"));
        return (group, Done::Investigated { opened: false, updated: false }, None);
    };
    if let Err(refusal) = publish::check_publishable(&investigation, settings) {
        say(&format!("{id}: {verdict}; no pull request: {refusal}; report {relative}"));
        return (group, Done::Investigated { opened: false, updated: false }, None);
    }
    match publish::open_pull_request(&root, &config, &group, &investigation).await {
        Ok(outcome) => {
            say(&format!("{id}: {verdict}; {}", outcome.describe()));
            let url = match &outcome {
                PullRequestOutcome::Opened { url, .. }
                | PullRequestOutcome::Updated { url, .. }
                | PullRequestOutcome::Unchanged { url, .. } => Some(url.clone()),
                PullRequestOutcome::Pushed { .. } => None,
            };
            let opened =
                matches!(outcome, PullRequestOutcome::Opened { .. } | PullRequestOutcome::Pushed { pushed: true, .. });
            let updated = matches!(outcome, PullRequestOutcome::Updated { .. });
            (group, Done::Investigated { opened, updated }, url)
        }
        Err(e @ PublishError::ClosedUnmerged { .. }) => {
            say(&format!("{id}: {verdict}; {e}"));
            (group, Done::Investigated { opened: false, updated: false }, None)
        }
        Err(e) => {
            say(&format!("{id}: {verdict}; no pull request: {e}"));
            (group, Done::Failed, None)
        }
    }
}

fn verdict(investigation: &Investigation) -> String {
    match (&investigation.fix, &investigation.validation) {
        (FixOutcome::Proposed { .. }, Some(v)) if v.validated => "fix validated".to_owned(),
        (FixOutcome::Proposed { .. }, Some(v)) => format!("fix NOT validated (the change {})", v.outcome_words()),
        (FixOutcome::Proposed { .. }, None) => "fix NOT validated".to_owned(),
        (FixOutcome::NoConfidentFix { reason }, _) => format!("no confident fix ({reason})"),
    }
}

/// The Sentry issue of a group gets the pull request's link, once.
async fn note_in_sentry(root: &Path, sources: &Sources, group: &CrashGroup, url: &str, say: &Say) {
    let Some(feed) = sources.sentry_for(group) else { return };
    let Some(client) = &feed.client else { return };
    let noted = publish::remembered_pull_requests(root)
        .ok()
        .and_then(|all| all.into_iter().find(|r| r.group_id == group.id))
        .is_some_and(|r| r.sentry_noted);
    if noted {
        return;
    }
    let text = format!("Crashloom opened a pull request with a validated fix for this issue: {url}");
    match client.add_comment(&group.id, &text).await {
        Ok(()) => {
            let _ = publish::remember_sentry_noted(root, &group.id);
            say(&format!("{}: Sentry issue {} links the pull request", group.short_id, group.id));
        }
        Err(e) => say(&format!("{}: the Sentry issue did not get the link: {e}", group.short_id)),
    }
}

/// Runs the watch on `root` until `stop` completes (or after one pass with `once`).
pub async fn run(
    root: PathBuf,
    config: Config,
    once: bool,
    say: Say,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<WatchSummary, String> {
    let filters = Filters::new(&config.watch)?;
    let memory_path = store_path(&root);
    Memory::open(&memory_path)?;
    let config = Arc::new(config);
    let stopping = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    {
        let (stopping, wake) = (stopping.clone(), wake.clone());
        tokio::spawn(async move {
            stop.await;
            stopping.store(true, Ordering::SeqCst);
            wake.notify_waiters();
            wake.notify_one();
        });
    }
    if !once {
        let (wake, stopping) = (wake.clone(), stopping.clone());
        let _ = crate::source::inbox::watch_inbox(memory_path.clone(), move || {
            wake.notify_one();
            !stopping.load(Ordering::SeqCst)
        });
    }
    let mut sources = Sources::new(&root, &config, &say);
    let mut summary = WatchSummary::default();
    let poll = Duration::from_secs(config.watch.poll_secs.max(1));
    say(&format!("watching {} ({})", root.display(), if once { "one pass" } else { "until stopped" }));
    loop {
        match sources.load(&root, &config, &say).await {
            Ok(groups) => pass(&root, &config, &filters, &sources, groups, &stopping, &say, &mut summary).await?,
            Err(e) => say(&format!("reading the crash sources failed: {e}")),
        }
        if once || stopping.load(Ordering::SeqCst) {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            () = wake.notified() => {}
        }
        if stopping.load(Ordering::SeqCst) {
            break;
        }
    }
    say(&format!(
        "stopped: {} investigated, {} pull requests opened, {} updated, {} failures",
        summary.investigated, summary.opened, summary.updated, summary.failures
    ));
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
async fn pass(
    root: &Path,
    config: &Arc<Config>,
    filters: &Filters,
    sources: &Sources,
    mut groups: Vec<CrashGroup>,
    stopping: &Arc<AtomicBool>,
    say: &Say,
    summary: &mut WatchSummary,
) -> Result<(), String> {
    let memory = Memory::open(&store_path(root))?;
    by_priority(&mut groups);
    let now = Utc::now();
    let mut queue = std::collections::VecDeque::new();
    for group in groups {
        let remembered = memory.get(&group.id);
        let Some(reason) = reason_to_investigate(&group, remembered.as_ref(), now) else { continue };
        if let Some(refusal) = filters.refusal(&group) {
            tracing::debug!(crash = %group.short_id, "left alone: {refusal}");
            continue;
        }
        queue.push_back((group, reason, remembered));
    }
    let at_once = config.watch.concurrency.max(1);
    let mut running = tokio::task::JoinSet::new();
    let mut failures_before = std::collections::HashMap::new();
    loop {
        while running.len() < at_once && !stopping.load(Ordering::SeqCst) {
            let Some((group, reason, remembered)) = queue.pop_front() else { break };
            say(&format!("{}: investigating ({})", group.short_id, reason.words(group.count)));
            failures_before.insert(group.id.clone(), remembered.map_or(0, |m| m.failures));
            running.spawn(handle(root.to_path_buf(), config.clone(), group, stopping.clone(), say.clone()));
        }
        let Some(finished) = running.join_next().await else { break };
        let Ok((group, done, url)) = finished else {
            summary.failures += 1;
            continue;
        };
        match done {
            Done::Investigated { opened, updated } => {
                summary.investigated += 1;
                summary.opened += usize::from(opened);
                summary.updated += usize::from(updated);
                memory.remember(&group, 0, None, "investigated");
                if let Some(url) = url {
                    note_in_sentry(root, sources, &group, &url, say).await;
                }
            }
            Done::Failed => {
                summary.failures += 1;
                let failures = failures_before.get(&group.id).copied().unwrap_or(0) + 1;
                let wait = backoff(&config.watch, failures);
                memory.remember(
                    &group,
                    failures,
                    Some(Utc::now() + chrono::Duration::seconds(wait.as_secs() as i64)),
                    "failed",
                );
                say(&format!("{}: trying again in {} s at the earliest", group.short_id, wait.as_secs()));
            }
            Done::Cancelled => say(&format!("{}: investigation cancelled", group.short_id)),
        }
    }
    Ok(())
}

/// The wait after the `failures`-th failure in a row: `poll_secs`, doubling, capped.
pub fn backoff(config: &WatchConfig, failures: u32) -> Duration {
    let first = config.poll_secs.max(1);
    let factor = 2u64.saturating_pow(failures.saturating_sub(1).min(32));
    Duration::from_secs(first.saturating_mul(factor).min(config.max_backoff_secs.max(first)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::sites::{Placement, Site, SiteRole};

    fn group(short_id: &str, exception: &str, count: u64, users: Option<u64>, path: &str) -> CrashGroup {
        CrashGroup {
            id: short_id.into(),
            short_id: short_id.into(),
            title: exception.into(),
            exception: exception.into(),
            message: String::new(),
            count,
            user_count: users,
            first_seen: None,
            last_seen: None,
            releases: Vec::new(),
            environments: Vec::new(),
            permalink: None,
            status: None,
            origins: Vec::new(),
            event: Default::default(),
            sites: vec![Site {
                role: SiteRole::CrashSite,
                exception: 0,
                frame: 0,
                path: path.into(),
                line: 1,
                column: None,
                function: None,
                placement: Placement::Confirmed,
                code: None,
                line_text: None,
                depth: 1,
                stack_len: 1,
            }],
            unmapped: Vec::new(),
        }
    }

    fn memory(count: u64, status: Option<&str>, failures: u32, retry_at: Option<DateTime<Utc>>) -> GroupMemory {
        GroupMemory { count, last_seen: None, status: status.map(str::to_owned), failures, retry_at }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let config = WatchConfig { poll_secs: 30, max_backoff_secs: 100, ..WatchConfig::default() };
        let waits: Vec<u64> = (1..=4).map(|n| backoff(&config, n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 100, 100]);
    }

    #[test]
    fn a_group_is_investigated_when_new_with_new_events_regressed_or_due_for_a_retry() {
        let now = Utc::now();
        let crash = group("CL-1", "KeyError", 5, None, "shop/app.py");
        assert_eq!(reason_to_investigate(&crash, None, now), Some(Reason::New));
        assert_eq!(reason_to_investigate(&crash, Some(&memory(5, None, 0, None)), now), None, "nothing new");
        assert_eq!(
            reason_to_investigate(&crash, Some(&memory(3, None, 0, None)), now),
            Some(Reason::NewEvents { before: 3 })
        );
        let mut reopened = crash.clone();
        reopened.status = Some("unresolved".into());
        assert_eq!(
            reason_to_investigate(&reopened, Some(&memory(5, Some("resolved"), 0, None)), now),
            Some(Reason::Regressed)
        );
        let later = now + chrono::Duration::seconds(60);
        assert_eq!(reason_to_investigate(&crash, Some(&memory(5, None, 2, Some(later))), now), None, "backing off");
        assert_eq!(
            reason_to_investigate(&crash, Some(&memory(5, None, 2, Some(now))), later),
            Some(Reason::Retry { failures: 2 })
        );
    }

    #[test]
    fn filters_keep_what_the_config_allows() {
        let config = WatchConfig {
            min_count: 2,
            allow_exceptions: vec!["*Error".into()],
            deny_exceptions: vec!["TimeoutError".into()],
            deny_paths: vec!["vendor/*".into()],
            ..WatchConfig::default()
        };
        let filters = Filters::new(&config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(filters.refusal(&group("CL-1", "KeyError", 2, None, "shop/app.py")), None);
        assert!(
            filters
                .refusal(&group("CL-2", "KeyError", 1, None, "shop/app.py"))
                .is_some_and(|r| r.contains("min_count"))
        );
        assert!(
            filters
                .refusal(&group("CL-3", "panic", 9, None, "src/lib.rs"))
                .is_some_and(|r| r.contains("allow_exceptions"))
        );
        assert!(
            filters
                .refusal(&group("CL-4", "TimeoutError", 9, None, "a.py"))
                .is_some_and(|r| r.contains("deny_exceptions"))
        );
        assert!(
            filters
                .refusal(&group("CL-5", "KeyError", 9, None, "vendor/lib/x.py"))
                .is_some_and(|r| r.contains("deny_paths"))
        );
        let only_src = Filters::new(&WatchConfig { allow_paths: vec!["src/**".into()], ..WatchConfig::default() })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(only_src.refusal(&group("CL-6", "panic", 1, None, "src/a/b.rs")), None);
        assert!(only_src.refusal(&group("CL-7", "panic", 1, None, "tests/b.rs")).is_some());
        assert!(Filters::new(&WatchConfig { allow_paths: vec!["src/[".into()], ..WatchConfig::default() }).is_err());
    }

    #[test]
    fn groups_go_by_events_then_users() {
        let mut groups = vec![
            group("CL-A", "E", 3, Some(1), "a"),
            group("CL-B", "E", 10, None, "a"),
            group("CL-C", "E", 3, Some(7), "a"),
        ];
        by_priority(&mut groups);
        let order: Vec<&str> = groups.iter().map(|g| g.short_id.as_str()).collect();
        assert_eq!(order, ["CL-B", "CL-C", "CL-A"]);
    }
}
