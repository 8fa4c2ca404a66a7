//! The crash picture: crash events grouped, every frame mapped to the workspace, every in-app frame
//! placed on the line that holds its code today. It is built off the editor's path and shared as an
//! immutable snapshot (`Arc<CrashPicture>`) that request handlers read without locks.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::index::WorkspaceIndex;
use super::mapping::{FrameMapping, MappingConfig, map_frame_to_workspace};
use super::relocate::{GitLineMap, PlacedBy, commit_for_release, place_line_with_history};
use crate::crash::batch::EventBatch;
use crate::crash::{CrashEvent, Frame, group};

/// What the picture is built from, besides the events.
pub struct PictureInputs<'a> {
    pub index: &'a WorkspaceIndex,
    pub mapping: &'a MappingConfig,
    /// Mark calling frames too, not only crash sites and root causes.
    pub include_frames: bool,
    /// Today's text of a workspace file (the open document's when it is open), by relative path.
    pub text_of: &'a (dyn Fn(&str) -> Option<Arc<str>> + Sync),
}

/// Every crash group of the workspace and where its frames sit today.
#[derive(Debug, Default)]
pub struct CrashPicture {
    /// Most recently seen first. Shared with the next picture when their events did not change.
    pub groups: Vec<Arc<CrashGroup>>,
    /// The sites of each file, by line; shared with the next picture where no group changed.
    by_file: FxHashMap<Arc<str>, Arc<[SiteRef]>>,
    /// Which events each group was built from (parallel to `groups`), to tell whether the next
    /// picture can take it over.
    inputs: Vec<u64>,
}

/// A site of one group: the group, and the index of the site in it.
#[derive(Debug, Clone)]
pub struct SiteRef {
    pub group: Arc<CrashGroup>,
    pub site: usize,
}

/// The same site of the same group object.
impl PartialEq for SiteRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.group, &other.group) && self.site == other.site
    }
}

impl Eq for SiteRef {}

/// One bug: one exception type at one in-app place, however many times it happened.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CrashGroup {
    /// Stable id: the source's issue id when it grouped events itself, else Crashloom's signature.
    pub id: String,
    pub short_id: String,
    pub title: String,
    pub exception: String,
    pub message: String,
    pub count: u64,
    pub user_count: Option<u64>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub releases: Vec<String>,
    pub environments: Vec<String>,
    pub permalink: Option<String>,
    pub status: Option<String>,
    /// Where its events were read from (a few, for the hover and the command line).
    pub origins: Vec<String>,
    /// The most recent event, whose frames the sites come from.
    #[serde(skip)]
    pub event: CrashEvent,
    pub sites: Vec<Site>,
    pub unmapped: Vec<UnmappedFrame>,
}

/// An in-app frame placed in a workspace file.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub role: SiteRole,
    /// Index of the exception in the event's chain, and of the frame in that exception.
    pub exception: usize,
    pub frame: usize,
    /// Workspace-relative, `/`-separated.
    pub path: String,
    /// 1-based line where the frame's code is today.
    pub line: u32,
    /// 1-based column as the crash reported it, when it did.
    pub column: Option<u32>,
    pub function: Option<String>,
    pub placement: Placement,
    /// The code on that line as the crash saw it (captured source), else today's text when loaded.
    pub code: Option<String>,
    /// Today's text of the line when the picture was built (for ranges of files not open).
    #[serde(skip)]
    pub line_text: Option<String>,
    /// Position in the exception's in-app stack: 1 is the raising frame.
    pub depth: usize,
    pub stack_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteRole {
    /// Where the outermost exception was raised: the crash site.
    CrashSite,
    /// Where an exception that caused the crash was raised.
    RootCause,
    /// An in-app frame the crash passed through.
    Frame,
}

/// How a site's line was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// The reported line still holds the code the crash captured.
    Confirmed,
    /// The code moved; found it on another line.
    Moved { from: u32, how: String },
    /// The reported line is shown, but nothing confirms the code is still there.
    Unverified { reason: String },
}

/// A frame that could not be placed in the workspace, with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct UnmappedFrame {
    pub exception: usize,
    pub frame: usize,
    pub description: String,
    pub reason: String,
}

/// What a trace cut off before its exception line is called: it still shows where it crashed.
pub const CUT_OFF_TITLE: &str = "A crash whose trace was cut off before its exception";

/// The event's title, or [`CUT_OFF_TITLE`] when the trace names no exception.
fn group_title(event: &CrashEvent) -> String {
    let title = event.title();
    if title.trim().is_empty() { CUT_OFF_TITLE.to_owned() } else { title }
}

impl CrashGroup {
    /// The trace ends before it says what was raised (a log line cut, a file truncated).
    pub fn is_cut_off(&self) -> bool {
        self.exception == crate::crash::scan::TRUNCATED_TRACE
            || (self.exception.trim().is_empty() && self.message.trim().is_empty())
    }
}

impl CrashPicture {
    pub fn sites_in(&self, path: &str) -> &[SiteRef] {
        self.by_file.get(path).map(|refs| &refs[..]).unwrap_or(&[])
    }

    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.by_file.keys().map(|path| &**path)
    }

    /// Whether any crash site is in `path`.
    pub fn has_sites_in(&self, path: &str) -> bool {
        self.by_file.contains_key(path)
    }

    pub fn site<'a>(&self, at: &'a SiteRef) -> Option<(&'a CrashGroup, &'a Site)> {
        Some((&at.group, at.group.sites.get(at.site)?))
    }

    pub fn group_by_id(&self, id: &str) -> Option<&CrashGroup> {
        self.groups.iter().find(|g| g.id == id || g.short_id.eq_ignore_ascii_case(id)).map(|g| &**g)
    }
}

impl CrashGroup {
    /// The exception's frame a site stands for.
    pub fn frame_of(&self, site: &Site) -> Option<&Frame> {
        self.event.exceptions.get(site.exception)?.frames.get(site.frame)
    }

    pub fn crash_site(&self) -> Option<&Site> {
        self.sites.iter().find(|s| s.role == SiteRole::CrashSite)
    }
}

/// Groups the events, maps their frames and places their lines.
pub fn build_picture(events: Vec<CrashEvent>, inputs: &PictureInputs<'_>) -> CrashPicture {
    build_picture_reusing(&[EventBatch::new(events)], inputs, None, None).0
}

/// Like [`build_picture`], from batches of events as the sources read them.
pub fn build_picture_from(batches: &[EventBatch], inputs: &PictureInputs<'_>) -> CrashPicture {
    build_picture_reusing(batches, inputs, None, None).0
}

/// What an earlier picture lends a new one: its groups, and the files whose text may have changed
/// since it was built (their groups are placed again).
pub struct Reuse<'a> {
    pub previous: &'a CrashPicture,
    pub changed_files: &'a std::collections::HashSet<String>,
}

/// Like [`build_picture`], but a group whose events are the same as in `reuse.previous` (and
/// whose files did not change) is kept as it was, so one new crash event summarizes and places one
/// group: a group whose events all come from batches read before is shared, untouched; one whose
/// batches were read again but hold the same events keeps its placement. The order and the sites
/// by file are carried over and patched where groups changed. Also returns the files whose sites
/// differ from the previous picture's (`None` without a previous picture: every file). Without a
/// previous picture, `show_first` gets the newest groups first (see [`build_fresh`]).
pub fn build_picture_reusing(
    batches: &[EventBatch],
    inputs: &PictureInputs<'_>,
    reuse: Option<Reuse<'_>>,
    show_first: Option<&mut dyn FnMut(CrashPicture)>,
) -> (CrashPicture, Option<std::collections::HashSet<String>>) {
    let buckets = bucket_events(batches);
    let previous = reuse.as_ref().map(|r| r.previous);
    let before: FxHashMap<&str, usize> =
        previous.map(|p| p.groups.iter().enumerate().map(|(i, g)| (g.id.as_str(), i)).collect()).unwrap_or_default();
    let files_unchanged = |group: &CrashGroup| {
        reuse.as_ref().is_some_and(|r| !group.sites.iter().any(|s| r.changed_files.contains(&s.path)))
    };
    // What became of each group of the previous picture: taken over as it was, or summarized
    // again with its placement kept (same events read again). `None`: changed or gone.
    let mut carried: Vec<Option<(Arc<CrashGroup>, u64)>> = vec![None; previous.map_or(0, |p| p.groups.len())];
    let mut to_place: Vec<(CrashGroup, u64)> = Vec::new();
    for bucket in &buckets.groups {
        let positions = &buckets.positions[bucket.start..bucket.end];
        let fingerprint = inputs_fingerprint(batches, positions);
        let old = previous.and_then(|p| Some((p, *before.get(bucket.key)?)));
        if let Some((previous, i)) = old
            && previous.inputs.get(i) == Some(&fingerprint)
            && files_unchanged(&previous.groups[i])
        {
            carried[i] = Some((previous.groups[i].clone(), fingerprint));
            continue;
        }
        let events: Vec<&CrashEvent> = positions.iter().map(|&(b, e)| &batches[b].events[e].1).collect();
        let group = summarize(bucket.key.to_owned(), events);
        match old {
            // The same summary from batches read again: the group as it was.
            Some((previous, i)) if same_inputs(&previous.groups[i], &group) && files_unchanged(&previous.groups[i]) => {
                carried[i] = Some((previous.groups[i].clone(), fingerprint));
            }
            _ => to_place.push((group, fingerprint)),
        }
    }
    drop(before);
    let Some(previous) = previous else {
        return (build_fresh(to_place, inputs, show_first), None);
    };
    place_all(&mut to_place, inputs);
    let mut placed: Vec<(Arc<CrashGroup>, u64)> =
        to_place.into_iter().map(|(group, fingerprint)| (Arc::new(group), fingerprint)).collect();
    placed.sort_unstable_by(|(a, _), (b, _)| picture_order(a, b));

    // Files whose sites changed: rebuilt in the map and published again. The groups that are
    // gone or changed leave their files' entries; the groups placed now join theirs.
    let mut changed: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut patched: FxHashMap<Arc<str>, Vec<SiteRef>> = FxHashMap::default();
    let mut redone: rustc_hash::FxHashSet<*const CrashGroup> = rustc_hash::FxHashSet::default();
    let left = previous.groups.iter().zip(&carried).filter(|(_, fate)| fate.is_none());
    for group in left.map(|(old, _)| old).chain(placed.iter().map(|(new, _)| new)) {
        redone.insert(Arc::as_ptr(group));
        for site in &group.sites {
            changed.insert(site.path.clone());
            touch(&mut patched, previous, &site.path);
        }
    }
    // The previous order stands for carried groups (their sort keys did not change); the groups
    // placed now are merged in.
    let mut groups: Vec<(Arc<CrashGroup>, u64)> = Vec::with_capacity(carried.len() + placed.len());
    let mut placed = placed.into_iter().peekable();
    for (group, fingerprint) in carried.into_iter().flatten() {
        while let Some(next) = placed.next_if(|(next, _)| picture_order(next, &group).is_lt()) {
            groups.push(next);
        }
        groups.push((group, fingerprint));
    }
    groups.extend(placed);
    let (groups, inputs): (Vec<Arc<CrashGroup>>, Vec<u64>) = groups.into_iter().unzip();

    // Sites by file: the previous map shared; the touched files keep the entries of groups taken
    // over and get those of the groups placed now.
    for refs in patched.values_mut() {
        refs.retain(|r| !redone.contains(&Arc::as_ptr(&r.group)));
    }
    for group in &groups[..] {
        if redone.contains(&Arc::as_ptr(group)) {
            add_sites(&mut patched, group);
        }
    }
    let mut by_file = previous.by_file.clone();
    for (path, refs) in patched {
        if refs.is_empty() {
            by_file.remove(&path);
        } else {
            by_file.insert(path, sorted(refs));
        }
    }
    (CrashPicture { groups, by_file, inputs }, Some(changed))
}

/// How many of the newest groups a fresh picture shows first, when it has many more.
const FIRST_GROUPS: usize = 256;

/// A picture without a previous one to lend it groups. With `show_first` and many groups, the
/// newest are placed first and handed to it as a picture of their own, so an editor shows them
/// while the rest are placed.
fn build_fresh(
    mut to_place: Vec<(CrashGroup, u64)>,
    inputs: &PictureInputs<'_>,
    show_first: Option<&mut dyn FnMut(CrashPicture)>,
) -> CrashPicture {
    // The order does not depend on the placement: sorted first, the newest can go first.
    to_place.sort_unstable_by(|(a, _), (b, _)| picture_order(a, b));
    let mut first = Vec::new();
    if let Some(show) = show_first
        && to_place.len() > 2 * FIRST_GROUPS
    {
        let rest = to_place.split_off(FIRST_GROUPS);
        place_all(&mut to_place, inputs);
        first = to_place.into_iter().map(|(group, fingerprint)| (Arc::new(group), fingerprint)).collect();
        show(picture_of(first.clone()));
        to_place = rest;
    }
    place_all(&mut to_place, inputs);
    first.extend(to_place.into_iter().map(|(group, fingerprint)| (Arc::new(group), fingerprint)));
    picture_of(first)
}

/// A picture of placed groups, in picture order.
fn picture_of(placed: Vec<(Arc<CrashGroup>, u64)>) -> CrashPicture {
    let (groups, inputs): (Vec<Arc<CrashGroup>>, Vec<u64>) = placed.into_iter().unzip();
    let mut by_file: FxHashMap<Arc<str>, Vec<SiteRef>> = FxHashMap::default();
    for group in &groups {
        add_sites(&mut by_file, group);
    }
    let by_file = by_file.into_iter().map(|(path, refs)| (path, sorted(refs))).collect();
    CrashPicture { groups, by_file, inputs }
}

/// Maps and places groups; placing reads many files, so the groups are spread over the cores.
fn place_all(to_place: &mut [(CrashGroup, u64)], inputs: &PictureInputs<'_>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = if to_place.len() < 256 { to_place.len().max(1) } else { to_place.len().div_ceil(threads) };
    std::thread::scope(|scope| {
        for part in to_place.chunks_mut(chunk) {
            scope.spawn(move || {
                let mut texts = TextCache { text_of: inputs.text_of, cache: HashMap::new() };
                let mut git = GitHistory::new(&inputs.index.root);
                for (group, _) in part {
                    place_group(group, inputs, &mut texts, &mut git);
                }
            });
        }
    });
}

/// The order of groups in a picture: most recently seen first, then the most frequent.
fn picture_order(a: &CrashGroup, b: &CrashGroup) -> std::cmp::Ordering {
    b.last_seen.cmp(&a.last_seen).then(b.count.cmp(&a.count)).then(a.id.cmp(&b.id))
}

/// Starts rebuilding `path`'s entry from the previous picture's.
fn touch(patched: &mut FxHashMap<Arc<str>, Vec<SiteRef>>, previous: &CrashPicture, path: &str) {
    if !patched.contains_key(path) {
        let (key, refs) = match previous.by_file.get_key_value(path) {
            Some((key, refs)) => (key.clone(), refs.to_vec()),
            None => (Arc::from(path), Vec::new()),
        };
        patched.insert(key, refs);
    }
}

/// Adds `group`'s sites to the entries of their files.
fn add_sites(by_file: &mut FxHashMap<Arc<str>, Vec<SiteRef>>, group: &Arc<CrashGroup>) {
    for (s, site) in group.sites.iter().enumerate() {
        let site_ref = SiteRef { group: group.clone(), site: s };
        match by_file.get_mut(site.path.as_str()) {
            Some(refs) => refs.push(site_ref),
            None => {
                by_file.insert(Arc::from(site.path.as_str()), vec![site_ref]);
            }
        }
    }
}

fn sorted(mut refs: Vec<SiteRef>) -> Arc<[SiteRef]> {
    refs.sort_by_key(|r| r.group.sites[r.site].line);
    refs.into()
}

/// Every event's position, grouped by key in the order the keys were first met.
struct Buckets<'a> {
    groups: Vec<Bucket<'a>>,
    positions: Vec<(usize, usize)>,
}

struct Bucket<'a> {
    key: &'a str,
    start: usize,
    end: usize,
}

fn bucket_events(batches: &[EventBatch]) -> Buckets<'_> {
    let total: usize = batches.iter().map(EventBatch::len).sum();
    let mut keys: FxHashMap<&str, usize> = FxHashMap::with_capacity_and_hasher(total, Default::default());
    let mut order: Vec<&str> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    let mut of_event: Vec<(usize, usize, usize)> = Vec::with_capacity(total);
    for (b, batch) in batches.iter().enumerate() {
        for (e, (key, event)) in batch.events.iter().enumerate() {
            if event.exceptions.is_empty() {
                continue;
            }
            let bucket = *keys.entry(key.as_str()).or_insert_with(|| {
                order.push(key.as_str());
                counts.push(0);
                order.len() - 1
            });
            counts[bucket] += 1;
            of_event.push((bucket, b, e));
        }
    }
    let mut groups = Vec::with_capacity(order.len());
    let mut start = 0;
    for (key, count) in order.into_iter().zip(&counts) {
        groups.push(Bucket { key, start, end: start });
        start += count;
    }
    let mut positions = vec![(0, 0); of_event.len()];
    for (bucket, b, e) in of_event {
        let group = &mut groups[bucket];
        positions[group.end] = (b, e);
        group.end += 1;
    }
    Buckets { groups, positions }
}

/// Which events a group was built from: their batches' generations and positions. Equal
/// fingerprints mean the very same events (a batch keeps its generation only while unchanged).
fn inputs_fingerprint(batches: &[EventBatch], positions: &[(usize, usize)]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = rustc_hash::FxHasher::default();
    for &(b, e) in positions {
        (batches[b].generation, e).hash(&mut hasher);
    }
    hasher.finish()
}

/// Whether two summaries of a group come from the same events (so its placement still holds).
fn same_inputs(old: &CrashGroup, new: &CrashGroup) -> bool {
    old.count == new.count
        && old.short_id == new.short_id
        && old.permalink == new.permalink
        && old.first_seen == new.first_seen
        && old.last_seen == new.last_seen
        && old.title == new.title
        && old.status == new.status
        && old.releases == new.releases
        && old.environments == new.environments
        && old.origins == new.origins
        && old.user_count == new.user_count
        && old.event == new.event
}

struct TextCache<'a> {
    text_of: &'a (dyn Fn(&str) -> Option<Arc<str>> + Sync),
    cache: HashMap<String, Option<Arc<str>>>,
}

impl TextCache<'_> {
    fn get(&mut self, path: &str) -> Option<Arc<str>> {
        if let Some(text) = self.cache.get(path) {
            return text.clone();
        }
        let text = (self.text_of)(path);
        self.cache.insert(path.to_owned(), text.clone());
        text
    }
}

/// Aggregates the events of one group; the newest event represents it.
fn summarize(key: String, mut events: Vec<&CrashEvent>) -> CrashGroup {
    // Stable: among equal timestamps the event read last wins.
    events.sort_by_key(|e| e.timestamp);
    let issue = events.iter().rev().find_map(|e| e.issue.clone());
    let mut first_seen = events.iter().filter_map(|e| e.timestamp).min();
    let mut last_seen = events.iter().filter_map(|e| e.timestamp).max();
    let mut releases: Vec<String> = Vec::new();
    let mut environments: Vec<String> = Vec::new();
    let mut origins: Vec<String> = Vec::new();
    for event in &events {
        push_unique(&mut releases, event.release.as_deref());
        push_unique(&mut environments, event.environment.as_deref());
        if origins.len() < 5 {
            let origin = event.origin.as_ref().map(|o| match o.line {
                Some(line) => format!("{}:{line}", o.location),
                None => o.location.clone(),
            });
            push_unique(&mut origins, origin.as_deref());
        }
    }
    let mut count = events.len() as u64;
    let (mut short_id, mut permalink, mut status, mut user_count) = (None, None, None, None);
    if let Some(issue) = &issue {
        count = issue.count.unwrap_or(count).max(1);
        first_seen = issue.first_seen.or(first_seen);
        last_seen = issue.last_seen.or(last_seen);
        for release in &issue.releases {
            push_unique(&mut releases, Some(release));
        }
        for environment in &issue.environments {
            push_unique(&mut environments, Some(environment));
        }
        short_id = issue.short_id.clone();
        permalink = issue.permalink.clone();
        status = issue.status.clone();
        user_count = issue.user_count;
    }
    // Only the newest event is kept (copied); the others were only counted.
    let event = events.pop().cloned().unwrap_or_default();
    let id = issue.map(|i| i.id).unwrap_or(key);
    let outermost = event.outermost().cloned().unwrap_or_default();
    CrashGroup {
        short_id: short_id.unwrap_or_else(|| group::short_id(&id)),
        id,
        title: group_title(&event),
        exception: outermost.ty,
        message: outermost.value,
        count,
        user_count,
        first_seen,
        last_seen,
        releases,
        environments,
        permalink,
        status,
        origins,
        event,
        sites: Vec::new(),
        unmapped: Vec::new(),
    }
}

fn push_unique(list: &mut Vec<String>, value: Option<&str>) {
    if let Some(value) = value.filter(|v| !v.is_empty())
        && !list.iter().any(|v| v == value)
    {
        list.push(value.to_owned());
    }
}

/// Maps every frame of the group's event and places the in-app ones.
fn place_group(
    group: &mut CrashGroup,
    inputs: &PictureInputs<'_>,
    texts: &mut TextCache<'_>,
    git: &mut GitHistory<'_>,
) {
    let event = &group.event;
    let last = event.exceptions.len().saturating_sub(1);
    let root_causes: Vec<usize> = event.root_causes().map(|(i, _)| i).collect();
    let mut sites: Vec<Site> = Vec::new();
    let mut unmapped = Vec::new();
    for (e, exception) in event.exceptions.iter().enumerate() {
        let mut in_app: Vec<(usize, String)> = Vec::new();
        for (f, frame) in exception.frames.iter().enumerate() {
            match map_frame_to_workspace(frame, inputs.index, inputs.mapping) {
                FrameMapping::Mapped { path, in_app: true, .. } => in_app.push((f, path)),
                FrameMapping::Mapped { .. } => {}
                FrameMapping::Unmapped { reason } => unmapped.push(UnmappedFrame {
                    exception: e,
                    frame: f,
                    description: describe(frame),
                    reason: reason.to_string(),
                }),
            }
        }
        let stack_len = in_app.len();
        for (depth0, (f, path)) in in_app.into_iter().rev().enumerate() {
            let role = match (depth0, e) {
                (0, e) if e == last => SiteRole::CrashSite,
                (0, e) if root_causes.contains(&e) => SiteRole::RootCause,
                _ => SiteRole::Frame,
            };
            if role == SiteRole::Frame && !inputs.include_frames {
                continue;
            }
            let frame = &exception.frames[f];
            let Some(reported) = frame.line.filter(|l| *l > 0) else {
                unmapped.push(UnmappedFrame {
                    exception: e,
                    frame: f,
                    description: describe(frame),
                    reason: "the frame has no line number".into(),
                });
                continue;
            };
            let text = texts.get(&path);
            let history = git.map(event.release.as_deref(), &path);
            let (line, placement, today) = place(frame, reported, text.as_deref(), history.as_deref());
            let code = frame.context.as_ref().map(|c| c.line.clone()).or_else(|| today.clone());
            let site = Site {
                role,
                exception: e,
                frame: f,
                path,
                line,
                column: frame.column,
                function: frame.function.clone(),
                placement,
                code,
                line_text: today,
                depth: depth0 + 1,
                stack_len,
            };
            // One mark per line and group: the most telling role wins.
            match sites.iter_mut().find(|s| s.path == site.path && s.line == site.line) {
                Some(existing) if existing.role > site.role => *existing = site,
                Some(_) => {}
                None => sites.push(site),
            }
        }
    }
    group.sites = sites;
    group.unmapped = unmapped;
}

/// Decides the line today for a frame reported at `reported`; returns it with how it was decided
/// and today's text of that line.
fn place(
    frame: &Frame,
    reported: u32,
    text: Option<&str>,
    history: Option<&GitLineMap>,
) -> (u32, Placement, Option<String>) {
    let Some(text) = text else {
        let reason = "the file could not be read".to_owned();
        return (reported, Placement::Unverified { reason }, None);
    };
    let placed = place_line_with_history(frame, reported, text, history);
    let today = text.lines().nth(placed.line.saturating_sub(1) as usize).map(str::to_owned);
    let placement = match &placed.how {
        PlacedBy::Confirmed => Placement::Confirmed,
        PlacedBy::SourceContext { from, .. } => {
            Placement::Moved { from: *from, how: "found the crashed code by its captured source".to_owned() }
        }
        PlacedBy::Git { from, commit, .. } => {
            Placement::Moved { from: *from, how: format!("followed the line through git from {}", short(commit)) }
        }
        PlacedBy::Unverified(_) => Placement::Unverified { reason: placed.how.to_string() },
    };
    (placed.line, placement, today)
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// Git line maps from a release's commit to today, per (release, file); releases that name no
/// commit of the workspace repository are asked about once.
struct GitHistory<'a> {
    root: &'a std::path::Path,
    enabled: bool,
    releases: HashMap<String, bool>,
    maps: HashMap<(String, String), Option<Arc<GitLineMap>>>,
}

impl<'a> GitHistory<'a> {
    fn new(root: &'a std::path::Path) -> Self {
        Self { root, enabled: root.join(".git").exists(), releases: HashMap::new(), maps: HashMap::new() }
    }

    fn map(&mut self, release: Option<&str>, file: &str) -> Option<Arc<GitLineMap>> {
        let release = release.filter(|r| self.enabled && !r.is_empty())?;
        let root = self.root;
        let known = *self
            .releases
            .entry(release.to_owned())
            .or_insert_with(|| matches!(commit_for_release(root, release), Ok(Some(_))));
        if !known {
            return None;
        }
        self.maps
            .entry((release.to_owned(), file.to_owned()))
            .or_insert_with(|| GitLineMap::load(root, release, file).ok().flatten().map(Arc::new))
            .clone()
    }
}

/// `function at path:line` for messages.
pub fn describe(frame: &Frame) -> String {
    let path = frame.paths().next().unwrap_or("<unknown file>");
    let mut out = String::new();
    if let Some(function) = &frame.function {
        out.push_str(function);
        out.push_str(" at ");
    }
    out.push_str(path);
    if let Some(line) = frame.line {
        out.push_str(&format!(":{line}"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::crash::file::parse_crash_file;

    fn trace(file: &str, function: &str, message: &str) -> String {
        format!(
            "Traceback (most recent call last):\n  File \"{file}\", line 2, in {function}\n    boom()\nValueError: {message}\n"
        )
    }

    fn events(traces: &[String]) -> Vec<EventBatch> {
        vec![EventBatch::new(traces.iter().flat_map(|t| parse_crash_file(t.as_bytes(), "crash.txt").events).collect())]
    }

    #[test]
    fn a_fresh_picture_of_many_groups_hands_over_its_first_groups_before_the_rest() {
        let files: Vec<String> = (0..600).map(|i| format!("app/m{i}.py")).collect();
        let root = std::path::Path::new("/workspace");
        let index = WorkspaceIndex::from_paths(root, files.iter());
        let text_of = |_: &str| Some(Arc::from("def f():\n    boom()\n"));
        let mapping = MappingConfig::default();
        let inputs = PictureInputs { index: &index, mapping: &mapping, include_frames: true, text_of: &text_of };
        let traces: Vec<String> = files.iter().enumerate().map(|(i, f)| trace(f, "f", &i.to_string())).collect();
        let batches = events(&traces);

        let mut shown = Vec::new();
        let mut show = |first: CrashPicture| shown.push(first);
        let (all, _) = build_picture_reusing(&batches, &inputs, None, Some(&mut show));
        let (without, _) = build_picture_reusing(&batches, &inputs, None, None);
        assert_eq!(shown.len(), 1);
        let first = &shown[0];
        assert_eq!(first.groups.len(), FIRST_GROUPS);
        let ids = |p: &CrashPicture, n: usize| p.groups.iter().take(n).map(|g| g.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(first, FIRST_GROUPS), ids(&all, FIRST_GROUPS), "the first groups of the picture, in its order");
        assert_eq!(first.files().count(), FIRST_GROUPS, "with their sites");
        assert_eq!(ids(&all, 600), ids(&without, 600), "the whole picture is the same either way");
        assert_eq!(all.files().count(), 600);

        // A few groups are placed at once: nothing is handed over.
        let mut shown = 0;
        let mut show = |_: CrashPicture| shown += 1;
        build_picture_reusing(&events(&traces[..2 * FIRST_GROUPS]), &inputs, None, Some(&mut show));
        assert_eq!(shown, 0);
    }

    #[test]
    fn a_new_event_places_only_its_group_and_names_only_its_files() {
        let files = ["app/a.py", "app/b.py", "app/c.py"];
        let root = std::path::Path::new("/workspace");
        let index = WorkspaceIndex::from_paths(root, files.iter().copied());
        let text_of = |_: &str| Some(Arc::from("def f():\n    boom()\n"));
        let mapping = MappingConfig::default();
        let inputs = PictureInputs { index: &index, mapping: &mapping, include_frames: true, text_of: &text_of };
        let (a, b, c) = (trace("app/a.py", "fa", "a"), trace("app/b.py", "fb", "b"), trace("app/c.py", "fc", "c"));
        let (first, all) = build_picture_reusing(&events(&[a.clone(), b.clone()]), &inputs, None, None);
        assert_eq!(all, None, "without a previous picture every file counts as changed");
        assert_eq!(first.groups.len(), 2);

        let nothing_open = HashSet::new();
        let reuse = Reuse { previous: &first, changed_files: &nothing_open };
        let (second, changed) =
            build_picture_reusing(&events(&[a.clone(), b.clone(), c.clone()]), &inputs, Some(reuse), None);
        assert_eq!(changed, Some(HashSet::from(["app/c.py".to_owned()])));
        assert_eq!(second.groups.len(), 3);
        assert_eq!(second.sites_in("app/a.py").len(), 1, "a kept group keeps its sites");

        // A group seen again changes its count: its file is published again; a group gone too.
        let reuse = Reuse { previous: &second, changed_files: &nothing_open };
        let (_, changed) =
            build_picture_reusing(&events(&[a.clone(), a.clone(), b.clone()]), &inputs, Some(reuse), None);
        assert_eq!(changed, Some(HashSet::from(["app/a.py".to_owned(), "app/c.py".to_owned()])));

        // An open document's groups are placed again.
        let open = HashSet::from(["app/b.py".to_owned()]);
        let reuse = Reuse { previous: &second, changed_files: &open };
        let (_, changed) = build_picture_reusing(&events(&[a, b, c]), &inputs, Some(reuse), None);
        assert_eq!(changed, Some(HashSet::from(["app/b.py".to_owned()])));
    }

    #[test]
    fn groups_whose_batches_were_not_read_again_are_shared_as_they_were() {
        let files = ["app/a.py", "app/b.py"];
        let root = std::path::Path::new("/workspace");
        let index = WorkspaceIndex::from_paths(root, files.iter().copied());
        let text_of = |_: &str| Some(Arc::from("def f():\n    boom()\n"));
        let mapping = MappingConfig::default();
        let inputs = PictureInputs { index: &index, mapping: &mapping, include_frames: true, text_of: &text_of };
        let kept_file = events(&[trace("app/a.py", "fa", "a")]).remove(0);
        let other_file = events(&[trace("app/b.py", "fb", "b")]).remove(0);
        let (first, _) = build_picture_reusing(&[kept_file.clone(), other_file.clone()], &inputs, None, None);
        let id_of = |picture: &CrashPicture, path: &str| picture.site(&picture.sites_in(path)[0]).unwrap().0.id.clone();
        let (a, b) = (id_of(&first, "app/a.py"), id_of(&first, "app/b.py"));
        let group = |picture: &CrashPicture, id: &str| picture.groups.iter().find(|g| g.id == id).unwrap().clone();

        // The second file is read again and now holds one more event of its group.
        let reread = events(&[trace("app/b.py", "fb", "b"), trace("app/b.py", "fb", "b")]).remove(0);
        let nothing_open = HashSet::new();
        let reuse = Reuse { previous: &first, changed_files: &nothing_open };
        let (second, changed) = build_picture_reusing(&[kept_file.clone(), reread], &inputs, Some(reuse), None);
        assert!(Arc::ptr_eq(&group(&first, &a), &group(&second, &a)), "the unchanged group is shared");
        assert!(!Arc::ptr_eq(&group(&first, &b), &group(&second, &b)), "the grown group is new");
        assert_eq!(group(&second, &b).count, 2);
        assert_eq!(changed, Some(HashSet::from(["app/b.py".to_owned()])));

        // Its file open and edited: even an unchanged batch's group is placed again.
        let open = HashSet::from(["app/a.py".to_owned()]);
        let reuse = Reuse { previous: &second, changed_files: &open };
        let (third, changed) = build_picture_reusing(&[kept_file, other_file], &inputs, Some(reuse), None);
        assert!(!Arc::ptr_eq(&group(&second, &a), &group(&third, &a)));
        assert!(changed.unwrap().contains("app/a.py"));
    }
}
