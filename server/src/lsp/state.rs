//! The server's state and the background reload. Handlers finish every state change before their
//! first `.await` and never hold a lock across one; readers take `Arc` snapshots.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{Diagnostic, MessageType, Uri};

use super::convert::{Encoding, file_uri, relative_path};
use super::diagnostics::file_diagnostics;
use super::messages::{ReloadReason, StatusRequest};
use super::warm_start;
use super::watch::CrashWatcher;
use crate::config::Config;
use crate::engine;
use crate::investigate::history::InvestigationHistory;
use crate::investigate::pipeline::Investigation;
use crate::sandbox::FileChange;
use crate::source::files::FilesSource;
use crate::source::inbox::watch_inbox;
use crate::source::store::store_path;
use crate::workspace::documents::Document;
use crate::workspace::index::WorkspaceIndex;
use crate::workspace::sites::{CrashPicture, PictureInputs, Reuse, build_picture_reusing};

/// The client capabilities the server acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientSupport {
    /// `workspace.didChangeWatchedFiles.dynamicRegistration`: only then is it asked to watch.
    pub watched_files_registration: bool,
    /// `workspace.didChangeWatchedFiles.relativePatternSupport`: the watch is limited to the root.
    pub watched_files_relative_pattern: bool,
    /// `window.workDoneProgress`: only then is progress created.
    pub work_done_progress: bool,
    /// `window.showDocument.support`.
    pub show_document: bool,
    /// `textDocument.hover.contentFormat` includes Markdown.
    pub markdown_hover: bool,
    /// `workspace.workspaceEdit.documentChanges`: edits are sent versioned.
    pub document_changes: bool,
}

/// One investigation in flight.
#[derive(Debug, Clone)]
pub struct RunningInvestigation {
    pub token: String,
    pub cancelled: Arc<AtomicBool>,
}

/// What a file's diagnostics say, as a number: equal diagnostics give equal numbers.
fn diagnostics_fingerprint(diagnostics: &[Diagnostic]) -> u64 {
    use std::hash::Hasher as _;
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(&serde_json::to_vec(diagnostics).unwrap_or_default());
    hasher.finish()
}

/// After a reload that dropped this many events, freed memory goes back to the system at once.
const GIVE_BACK_AFTER_DROPPING: usize = 20_000;

/// How long a request to the client (progress, showDocument, applyEdit) is waited for. A client
/// that never answers delays nothing else.
pub const CLIENT_REPLY_WAIT: Duration = Duration::from_secs(10);

/// The client's reply to a request, or `None` when it refused or did not answer in time.
pub async fn client_reply<T>(
    what: &str,
    request: impl std::future::Future<Output = tower_lsp_server::jsonrpc::Result<T>>,
) -> Option<T> {
    match tokio::time::timeout(CLIENT_REPLY_WAIT, request).await {
        Ok(Ok(reply)) => Some(reply),
        Ok(Err(e)) => {
            tracing::debug!("the client refused {what}: {e}");
            None
        }
        Err(_) => {
            tracing::warn!("the client did not answer {what} within {CLIENT_REPLY_WAIT:?}");
            None
        }
    }
}

pub struct State {
    pub client: Client,
    pub root: RwLock<Option<PathBuf>>,
    pub editor_settings: RwLock<serde_json::Value>,
    pub config: RwLock<Arc<Config>>,
    pub encoding: RwLock<Encoding>,
    pub picture: RwLock<Arc<CrashPicture>>,
    /// Open documents by URI.
    pub documents: DashMap<String, Document>,
    /// The latest investigation of each crash group, by group id.
    pub investigations: DashMap<String, Arc<Investigation>>,
    /// Investigations running now, by group id: a second request for the same crash joins it.
    pub running: DashMap<String, RunningInvestigation>,
    /// What the client said it supports in `initialize`.
    pub client_support: RwLock<ClientSupport>,
    progress_ids: AtomicU64,
    /// The editor's `sentryToken` setting, when it gives one (kept out of the configuration).
    pub sentry_token: RwLock<Option<String>>,
    /// The latest events of each Sentry source, by source index.
    pub sentry_events: Mutex<Vec<crate::crash::batch::EventBatch>>,
    /// Where to send "Resolve/Ignore in Sentry", one channel per Sentry source.
    pub sentry_requests: Mutex<Vec<tokio::sync::mpsc::UnboundedSender<StatusRequest>>>,
    /// The running Sentry tasks, stopped when the settings change their sources.
    pub sentry_tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    index: RwLock<Option<Arc<WorkspaceIndex>>>,
    index_stale: AtomicBool,
    files: Arc<Mutex<FilesSource>>,
    /// The files with diagnostics published, each with a fingerprint of what was sent when it is
    /// known (`None`: sent for an open document, or not yet): the same diagnostics are not sent
    /// again (a restart's fresh picture over the last session's, a full reload that changed nothing).
    published: Mutex<HashMap<String, Option<u64>>>,
    reload: UnboundedSender<ReloadReason>,
    watcher: Mutex<Option<CrashWatcher>>,
    /// The revision of each open document (by path) the last picture was placed in.
    placed_revisions: Mutex<HashMap<String, u64>>,
    /// Crash paths outside the workspace the user has been told about.
    outside_said: Mutex<HashSet<PathBuf>>,
    /// Whether the last session's diagnostics were looked at (once, on the first load).
    warm_started: AtomicBool,
    /// How many events the last reload read (to tell when a reload dropped a lot of them).
    events_held: AtomicUsize,
    /// What the current picture was built from (besides the workspace files), for keeping its
    /// diagnostics for the next session.
    picture_inputs: Mutex<Option<u64>>,
}

impl State {
    pub fn new(client: Client) -> (Arc<Self>, UnboundedReceiver<ReloadReason>) {
        let (reload, reloads) = tokio::sync::mpsc::unbounded_channel();
        let state = Self {
            client,
            root: RwLock::new(None),
            editor_settings: RwLock::new(serde_json::Value::Null),
            config: RwLock::new(Arc::new(Config::default())),
            encoding: RwLock::new(Encoding::default()),
            picture: RwLock::new(Arc::new(CrashPicture::default())),
            documents: DashMap::new(),
            investigations: DashMap::new(),
            running: DashMap::new(),
            client_support: RwLock::new(ClientSupport::default()),
            progress_ids: AtomicU64::new(1),
            sentry_token: RwLock::new(None),
            sentry_events: Mutex::new(Vec::new()),
            sentry_requests: Mutex::new(Vec::new()),
            sentry_tasks: Mutex::new(Vec::new()),
            index: RwLock::new(None),
            index_stale: AtomicBool::new(true),
            files: Arc::new(Mutex::new(FilesSource::default())),
            published: Mutex::new(HashMap::new()),
            reload,
            watcher: Mutex::new(None),
            outside_said: Mutex::new(HashSet::new()),
            placed_revisions: Mutex::new(HashMap::new()),
            warm_started: AtomicBool::new(false),
            events_held: AtomicUsize::new(0),
            picture_inputs: Mutex::new(None),
        };
        (Arc::new(state), reloads)
    }

    pub fn root(&self) -> Option<PathBuf> {
        read(&self.root).clone()
    }

    pub fn picture(&self) -> Arc<CrashPicture> {
        read(&self.picture).clone()
    }

    pub fn client_support(&self) -> ClientSupport {
        *read(&self.client_support)
    }

    pub fn encoding(&self) -> Encoding {
        *read(&self.encoding)
    }

    pub fn next_progress_id(&self) -> u64 {
        self.progress_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether any file a change touches is open with unsaved edits (the disk is read off the
    /// async threads).
    pub async fn documents_differ_from_disk(&self, changes: &[FileChange]) -> bool {
        let Some(root) = self.root() else { return false };
        let open: Vec<(PathBuf, String)> = changes
            .iter()
            .filter_map(|change| {
                let uri = file_uri(&root, &change.path)?;
                let document = self.documents.get(uri.as_str())?;
                Some((root.join(&change.path), document.text.to_string()))
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            open.iter().any(|(path, text)| std::fs::read_to_string(path).map_or(true, |disk| *text != disk))
        })
        .await
        .unwrap_or(true)
    }

    /// Loads the kept investigations of the workspace (once, at startup), off the async threads.
    pub async fn load_investigations(&self) {
        let Some(root) = self.root() else { return };
        let loaded = tokio::task::spawn_blocking(move || {
            let path = store_path(&root);
            if !path.exists() {
                return Ok(Vec::new());
            }
            InvestigationHistory::open(&path).and_then(|h| h.all())
        })
        .await;
        match loaded {
            Ok(Ok(all)) => {
                for investigation in all {
                    self.investigations.insert(investigation.group_id.clone(), Arc::new(investigation));
                }
            }
            Ok(Err(e)) => tracing::warn!("{e}"),
            Err(e) => tracing::warn!("reading the kept investigations failed: {e}"),
        }
    }

    pub fn request_reload(&self, reason: ReloadReason) {
        if reason == ReloadReason::WorkspaceFilesChanged {
            self.index_stale.store(true, Ordering::Release);
        }
        let _ = self.reload.send(reason);
    }

    /// The workspace-relative path of a document URI.
    pub fn relative(&self, uri: &Uri) -> Option<String> {
        relative_path(&self.root()?, uri)
    }

    /// The diagnostics of one file now, from the open document when there is one.
    pub fn diagnostics_for(&self, uri: &Uri) -> Option<(Vec<Diagnostic>, Option<i32>)> {
        let root = self.root()?;
        let path = relative_path(&root, uri)?;
        let picture = self.picture();
        let document = self.documents.get(uri.as_str());
        let version = document.as_ref().map(|d| d.version);
        Some((file_diagnostics(&picture, &root, &path, document.as_deref(), self.encoding()), version))
    }

    pub async fn publish(&self, uri: Uri) {
        if let Some((diagnostics, version)) = self.diagnostics_for(&uri) {
            // What the client has for this file is no longer what a publication recorded.
            if let Some(path) = self.relative(&uri)
                && let Some(sent) = lock(&self.published).get_mut(&path)
            {
                *sent = None;
            }
            self.client.publish_diagnostics(uri, diagnostics, version).await;
        }
    }

    /// Publishes every file with crash sites, and clears files that no longer have any. Each file
    /// is sent as soon as its diagnostics are ready, so the first arrive without waiting for all.
    /// `changed`: the files whose sites changed since the last publication (`None`: all).
    async fn publish_all(&self, changed: Option<HashSet<String>>) {
        let Some(root) = self.root() else { return };
        let picture = self.picture();
        let paths: Vec<String> = {
            let mut published = lock(&self.published);
            let mut gone: Vec<String> = Vec::new();
            published.retain(|path, _| {
                let stays = picture.has_sites_in(path);
                if !stays {
                    gone.push(path.clone());
                }
                stays
            });
            let mut paths: Vec<String> = match changed {
                Some(changed) => changed.into_iter().filter(|p| picture.has_sites_in(p)).collect(),
                None => picture.files().map(str::to_owned).collect(),
            };
            paths.extend(gone);
            paths
        };
        self.publish_paths(&picture, &root, paths).await;
    }

    /// Publishes these files' diagnostics in `picture`, each as soon as it is ready, and records
    /// what was sent; a file not open whose diagnostics are the ones last sent is not sent again.
    async fn publish_paths(&self, picture: &CrashPicture, root: &Path, paths: Vec<String>) {
        for path in paths {
            let Some(uri) = file_uri(root, &path) else { continue };
            let (diagnostics, version) = {
                let document = self.documents.get(uri.as_str());
                let version = document.as_ref().map(|d| d.version);
                (file_diagnostics(picture, root, &path, document.as_deref(), self.encoding()), version)
            };
            let sent = version.is_none().then(|| diagnostics_fingerprint(&diagnostics));
            {
                let mut published = lock(&self.published);
                if diagnostics.is_empty() {
                    // Cleared (its sites are gone): nothing more to remember.
                    published.remove(&path);
                } else if sent.is_some() && published.get(&path) == Some(&sent) {
                    continue;
                } else {
                    published.insert(path.clone(), sent);
                }
            }
            self.client.publish_diagnostics(uri, diagnostics, version).await;
        }
    }

    /// Shows the newest groups of a fresh picture while the rest are placed: they become the
    /// picture and their files are published (nothing is cleared; the whole picture does that).
    async fn show_first(&self, first: CrashPicture, revisions: &HashMap<String, u64>) {
        let Some(root) = self.root() else { return };
        let first = Arc::new(first);
        let replaced = std::mem::replace(&mut *write(&self.picture), first.clone());
        for mut document in self.documents.iter_mut() {
            let placed_in = revisions.get(document.key()).copied().unwrap_or(0);
            document.track(first.clone(), placed_in);
        }
        drop(tokio::task::spawn_blocking(move || drop(replaced)));
        let paths: Vec<String> = first.files().map(str::to_owned).collect();
        tracing::info!(groups = first.groups.len(), files = paths.len(), "newest crash groups shown first");
        self.publish_paths(&first, &root, paths).await;
    }

    /// One reload: (re)index when needed, read the sources, build the picture off the async
    /// threads, swap it in, re-point open documents, publish.
    /// `full`: build every group again (startup, settings, workspace files); otherwise only
    /// groups whose events changed are placed again and only their files are published.
    async fn reload_now(self: &Arc<Self>, full: bool) {
        let Some(root) = self.root() else { return };
        let previous = (!full).then(|| self.picture());
        let config = read(&self.config).clone();
        // The open documents' texts, and the revision each was at, so sites placed in them can
        // be carried through the edits made while the picture was built.
        let mut revisions: HashMap<String, u64> = HashMap::new();
        let mut open_revisions: HashMap<String, u64> = HashMap::new();
        let open: HashMap<String, Arc<str>> = self
            .documents
            .iter()
            .filter_map(|d| {
                revisions.insert(d.key().clone(), d.revision);
                let path = d.path.clone()?;
                open_revisions.insert(path.clone(), d.revision);
                Some((path, Arc::from(d.text.to_string().as_str())))
            })
            .collect();
        // Open documents edited (or opened) since the last picture: their groups are placed again.
        let edited: HashSet<String> = {
            let placed_in = lock(&self.placed_revisions);
            open_revisions
                .iter()
                .filter(|(path, revision)| placed_in.get(*path) != Some(*revision))
                .map(|(path, _)| path.clone())
                .collect()
        };
        let index = read(&self.index).clone();
        let sentry_events: Vec<crate::crash::batch::EventBatch> = lock(&self.sentry_events).clone();
        let stale = self.index_stale.swap(false, Ordering::AcqRel);
        let files = self.files.clone();
        let crash_paths = config.crash_paths(&root);
        self.say_paths_outside(&root, &crash_paths).await;
        let started = std::time::Instant::now();
        let encoding_name = self.encoding().kind().as_str().to_owned();
        let warm_start = full && !self.warm_started.swap(true, Ordering::AcqRel);
        let warm = warm_start.then(|| {
            let (root, config, encoding_name) = (root.clone(), config.clone(), encoding_name.clone());
            let (shown, files) = tokio::sync::mpsc::unbounded_channel();
            let reading = tokio::task::spawn_blocking(move || {
                let inputs = warm_start::inputs_fingerprint(&root, &config, &encoding_name);
                warm_start::load(&root, inputs, |path, diagnostics| drop(shown.send((path, diagnostics))))
            });
            (reading, files)
        });
        // A fresh picture hands over its newest groups first (see `build_fresh`).
        let (first_placed, first_shown) = tokio::sync::oneshot::channel::<CrashPicture>();
        let job = tokio::task::spawn_blocking(move || {
            // Taken before the sources are read: a change made while they are read makes the
            // kept diagnostics look older, never newer, than they are.
            let sources = warm_start::inputs_fingerprint(&root, &config, &encoding_name);
            let mut files = files.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let (index, report) = match index {
                Some(index) if !stale => (Ok(index), engine::read_crashes(&root, &config, &mut files)),
                _ => {
                    let (index, report) = engine::index_and_read(&root, &config, &mut files);
                    (index.map(Arc::new), report)
                }
            };
            let mut report = report;
            report.batches.extend(sentry_events);
            let held = report.event_count();
            let index = index.unwrap_or_else(|e| {
                tracing::error!("cannot index {}: {e}", root.display());
                Arc::new(WorkspaceIndex::empty(&root))
            });
            let disk = engine::text_from_disk(&root);
            let text_of = |path: &str| open.get(path).cloned().or_else(|| disk(path));
            let started = std::time::Instant::now();
            let inputs = PictureInputs {
                index: &index,
                mapping: &config.mapping,
                include_frames: config.diagnostics.frames,
                text_of: &text_of,
            };
            let reuse = previous.as_deref().map(|previous| Reuse { previous, changed_files: &edited });
            let mut first_placed = Some(first_placed);
            let mut show_first = |first: CrashPicture| {
                if let Some(sender) = first_placed.take() {
                    drop(sender.send(first));
                }
            };
            let (picture, changed) = build_picture_reusing(&report.batches, &inputs, reuse, Some(&mut show_first));
            tracing::info!(
                groups = picture.groups.len(),
                placed_again = changed.as_ref().map(HashSet::len),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "crash picture built"
            );
            let loaded = engine::Loaded { picture, problems: report.problems, files_read: report.files };
            (index, loaded, changed, sources, held)
        });
        if let Some((reading, files)) = warm {
            self.show_last_session(reading, files).await;
        }
        // Ends with the job at the latest (the sender is dropped with it).
        if let Ok(first) = first_shown.await {
            self.show_first(first, &revisions).await;
        }
        let (index, loaded, changed, sources, held) = match job.await {
            Ok(result) => result,
            Err(e) => {
                tracing::error!("reloading crashes failed: {e}");
                self.client.log_message(MessageType::ERROR, format!("Crashloom could not reload crashes: {e}")).await;
                return;
            }
        };
        tracing::info!(
            groups = loaded.picture.groups.len(),
            files = loaded.files_read,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "crashes reloaded"
        );
        for problem in &loaded.problems {
            tracing::warn!("{problem}");
        }
        *lock(&self.placed_revisions) = open_revisions;
        *lock(&self.picture_inputs) = Some(sources);
        let picture = Arc::new(loaded.picture);
        // Investigations of crashes that are gone are dropped (the history keeps them).
        if full || !self.investigations.is_empty() {
            let groups: HashSet<&str> = picture.groups.iter().map(|g| g.id.as_str()).collect();
            self.investigations.retain(|id, _| groups.contains(id.as_str()));
            if full && let Some(root) = self.root() {
                let live: HashSet<String> = groups.iter().map(|id| (*id).to_owned()).collect();
                tokio::task::spawn_blocking(move || forget_gone_investigations(&root, &live));
            }
        }
        *write(&self.index) = Some(index);
        let replaced = std::mem::replace(&mut *write(&self.picture), picture.clone());
        for mut document in self.documents.iter_mut() {
            let unchanged = match (&changed, &document.path) {
                (Some(changed), Some(path)) => !changed.contains(path),
                _ => false,
            };
            if unchanged {
                // Its sites are the same group objects in the new picture: only the snapshot moves.
                document.picture = picture.clone();
                continue;
            }
            // A document opened during the build was read from disk: placed in its text as opened.
            let placed_in = revisions.get(document.key()).copied().unwrap_or(0);
            document.track(picture.clone(), placed_in);
        }
        {
            let mut watcher = lock(&self.watcher);
            match watcher.as_mut() {
                Some(watcher) => watcher.rearm(&crash_paths),
                None => match CrashWatcher::new(crash_paths, self.reload.clone()) {
                    Ok(created) => *watcher = Some(created),
                    Err(e) => tracing::warn!("cannot watch crash files; changes need a restart: {e}"),
                },
            }
        }
        // The old picture is freed off the async threads (tens of thousands of sites); when the
        // sources dropped many events (a big crash file gone), the memory goes back to the system.
        let dropped = self.events_held.swap(held, Ordering::AcqRel).saturating_sub(held);
        drop(tokio::task::spawn_blocking(move || {
            drop(replaced);
            if dropped >= GIVE_BACK_AFTER_DROPPING {
                crate::allocator::give_back();
                tracing::debug!(dropped, "memory of the dropped events given back");
            }
        }));
        // Problems first, so a client that sees the diagnostics has heard why some are missing.
        for problem in loaded.problems {
            self.client.log_message(MessageType::WARNING, problem).await;
        }
        self.publish_all(changed).await;
        if full {
            self.keep_for_next_session().await;
        }
    }

    /// Publishes the last session's diagnostics that still hold (see [`warm_start`]), each file
    /// as soon as it is read; the files count as published, so the fresh picture clears those it
    /// no longer has.
    async fn show_last_session(
        &self,
        reading: tokio::task::JoinHandle<Result<usize, String>>,
        mut files: tokio::sync::mpsc::UnboundedReceiver<(String, Vec<Diagnostic>)>,
    ) {
        let Some(root) = self.root() else { return };
        while let Some((path, diagnostics)) = files.recv().await {
            let Some(uri) = file_uri(&root, &path) else { continue };
            if self.documents.contains_key(uri.as_str()) {
                continue;
            }
            lock(&self.published).insert(path, Some(diagnostics_fingerprint(&diagnostics)));
            self.client.publish_diagnostics(uri, diagnostics, None).await;
        }
        match reading.await {
            Ok(Ok(files)) => {
                tracing::info!(files, "diagnostics of the last session shown while the crashes are read");
            }
            Ok(Err(why)) => tracing::debug!("no diagnostics of the last session shown: {why}"),
            Err(e) => tracing::warn!("reading the last session's diagnostics failed: {e}"),
        }
    }

    /// Keeps the current picture's diagnostics of the files not open, for the next session's first
    /// moments (off the async threads).
    pub async fn keep_for_next_session(&self) {
        let (Some(root), Some(inputs)) = (self.root(), *lock(&self.picture_inputs)) else { return };
        let picture = self.picture();
        let encoding = self.encoding();
        let open: HashSet<String> = self.documents.iter().filter_map(|d| d.path.clone()).collect();
        let saved = tokio::task::spawn_blocking(move || {
            let files: Vec<(String, Vec<Diagnostic>)> = picture
                .files()
                .filter(|path| !open.contains(*path))
                .map(|path| (path.to_owned(), file_diagnostics(&picture, &root, path, None, encoding)))
                .collect();
            warm_start::save(&root, inputs, files)
        })
        .await;
        match saved {
            Ok(Ok(Some(path))) => tracing::debug!("diagnostics kept for the next session in {}", path.display()),
            Ok(Ok(None)) => tracing::debug!("the diagnostics kept for the next session are still the same"),
            Ok(Err(e)) => tracing::warn!("cannot keep the diagnostics for the next session: {e}"),
            Err(e) => tracing::warn!("keeping the diagnostics for the next session failed: {e}"),
        }
    }

    /// Crash paths outside the workspace are read (a service's log folder), and the user is told
    /// so once per path.
    async fn say_paths_outside(&self, root: &Path, paths: &[PathBuf]) {
        let outside: Vec<PathBuf> = paths
            .iter()
            .map(|path| path.canonicalize().unwrap_or_else(|_| normalize_lexically(path)))
            .filter(|path| !path.starts_with(root))
            .filter(|path| lock(&self.outside_said).insert(path.clone()))
            .collect();
        for path in outside {
            let message = format!(
                "Crashloom reads crash files from {}, outside the workspace (a [[source]] path in crashloom.toml)",
                path.display()
            );
            tracing::info!("{message}");
            self.client.log_message(MessageType::INFO, message).await;
        }
    }

    /// Runs reloads one at a time, merging bursts of changes. The first reload starts watching the
    /// crash paths.
    pub async fn run_reloads(self: Arc<Self>, mut reloads: UnboundedReceiver<ReloadReason>) {
        let mut watching_inbox = false;
        while let Some(reason) = reloads.recv().await {
            // A burst (a file written in several steps) is one reload; a short wait, not a long
            // one, so one new crash reaches the editor at once.
            if reason != ReloadReason::Startup {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let mut full = needs_full_build(reason);
            while let Ok(more) = reloads.try_recv() {
                full |= needs_full_build(more);
            }
            if !watching_inbox && let Some(root) = self.root() {
                let reload = self.reload.clone();
                let watch = watch_inbox(store_path(&root), move || reload.send(ReloadReason::InboxChanged).is_ok());
                if let Err(e) = watch {
                    tracing::warn!("cannot watch the crash inbox; new events need a restart: {e}");
                }
                watching_inbox = true;
            }
            tracing::debug!(?reason, "reloading crashes");
            self.reload_now(full).await;
        }
    }
}

/// The kept investigations of groups gone for long are forgotten, so the table does not grow.
fn forget_gone_investigations(root: &Path, live: &HashSet<String>) {
    let path = store_path(root);
    if !path.exists() {
        return;
    }
    let before = chrono::Utc::now() - crate::investigate::history::GONE_INVESTIGATIONS_KEPT_FOR;
    match InvestigationHistory::open(&path).and_then(|mut history| history.forget_gone(live, before)) {
        Ok(0) => {}
        Ok(forgotten) => tracing::info!(forgotten, "investigations of crash groups gone for long forgotten"),
        Err(e) => tracing::warn!("{e}"),
    }
}

/// Whether a reload for `reason` must build every group again: only new crash data lets the
/// placement of unchanged groups stand.
fn needs_full_build(reason: ReloadReason) -> bool {
    !matches!(reason, ReloadReason::CrashFilesChanged | ReloadReason::InboxChanged | ReloadReason::SentryChanged)
}

/// `path` with `.` and `..` resolved without the file system (for paths that do not exist yet).
fn normalize_lexically(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal
}

/// Locks that survive a panicked holder: a handler that panicked must not take the server down.
pub fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn lock<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
