//! The crash picture: crash events grouped, every frame mapped to the workspace, every in-app frame
//! placed on the line that holds its code today. It is built off the editor's path and shared as an
//! immutable snapshot (`Arc<CrashPicture>`) that request handlers read without locks.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::index::WorkspaceIndex;
use super::mapping::{FrameMapping, MappingConfig, map_frame_to_workspace};
use super::relocate::{GitLineMap, PlacedBy, commit_for_release, place_line_with_history};
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
    pub groups: Vec<CrashGroup>,
    by_file: HashMap<String, Vec<SiteRef>>,
}

/// A site of one group, addressed by indexes into the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteRef {
    pub group: usize,
    pub site: usize,
}

/// One bug: one exception type at one in-app place, however many times it happened.
#[derive(Debug, Clone, Serialize)]
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
        self.by_file.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.by_file.keys().map(String::as_str)
    }

    pub fn site(&self, at: SiteRef) -> Option<(&CrashGroup, &Site)> {
        let group = self.groups.get(at.group)?;
        Some((group, group.sites.get(at.site)?))
    }

    pub fn group_by_id(&self, id: &str) -> Option<&CrashGroup> {
        self.groups.iter().find(|g| g.id == id || g.short_id.eq_ignore_ascii_case(id))
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
    build_picture_reusing(events, inputs, None).0
}

/// What an earlier picture lends a new one: its groups, and the files whose text may have changed
/// since it was built (their groups are placed again).
pub struct Reuse<'a> {
    pub previous: &'a CrashPicture,
    pub changed_files: &'a std::collections::HashSet<String>,
}

/// Like [`build_picture`], but a group whose events are the same as in `reuse.previous` (and
/// whose files did not change) keeps its mapped and placed sites, so one new crash event places
/// one group. Also returns the files whose sites differ from the previous picture's (`None`
/// without a previous picture: every file).
pub fn build_picture_reusing(
    events: Vec<CrashEvent>,
    inputs: &PictureInputs<'_>,
    reuse: Option<Reuse<'_>>,
) -> (CrashPicture, Option<std::collections::HashSet<String>>) {
    let mut keys: HashMap<String, usize> = HashMap::new();
    let mut buckets: Vec<(String, Vec<CrashEvent>)> = Vec::new();
    for event in events {
        if event.exceptions.is_empty() {
            continue;
        }
        let key = match &event.issue {
            // The collector's store uses the signature as the id, so its groups and crash files meet.
            Some(issue) if !issue.id.is_empty() => issue.id.clone(),
            _ => group::signature(&event),
        };
        match keys.get(&key) {
            Some(&i) => buckets[i].1.push(event),
            None => {
                keys.insert(key.clone(), buckets.len());
                buckets.push((key, vec![event]));
            }
        }
    }

    let mut groups: Vec<CrashGroup> = buckets.into_iter().map(|(key, events)| summarize(key, events)).collect();
    let mut changed: Option<std::collections::HashSet<String>> = None;
    let mut kept = std::collections::HashSet::new();
    let mut to_place: Vec<&mut CrashGroup> = Vec::new();
    match &reuse {
        Some(reuse) => {
            let before: HashMap<&str, &CrashGroup> = reuse.previous.groups.iter().map(|g| (g.id.as_str(), g)).collect();
            let mut changed_files = std::collections::HashSet::new();
            for group in &mut groups {
                let same = before.get(group.id.as_str()).filter(|old| {
                    same_inputs(old, group) && !old.sites.iter().any(|s| reuse.changed_files.contains(&s.path))
                });
                match same {
                    Some(old) => {
                        group.sites = old.sites.clone();
                        group.unmapped = old.unmapped.clone();
                        kept.insert(group.id.clone());
                    }
                    None => to_place.push(group),
                }
            }
            for old in reuse.previous.groups.iter().filter(|g| !kept.contains(&g.id)) {
                changed_files.extend(old.sites.iter().map(|s| s.path.clone()));
            }
            changed = Some(changed_files);
        }
        None => to_place.extend(groups.iter_mut()),
    }
    // Mapping and placing read many files: spread the groups over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = if to_place.len() < 256 { to_place.len().max(1) } else { to_place.len().div_ceil(threads) };
    std::thread::scope(|scope| {
        for part in to_place.chunks_mut(chunk) {
            scope.spawn(move || {
                let mut texts = TextCache { text_of: inputs.text_of, cache: HashMap::new() };
                let mut git = GitHistory::new(&inputs.index.root);
                for group in part {
                    place_group(group, inputs, &mut texts, &mut git);
                }
            });
        }
    });
    if let Some(changed) = &mut changed {
        for group in groups.iter().filter(|g| !kept.contains(&g.id)) {
            changed.extend(group.sites.iter().map(|s| s.path.clone()));
        }
    }
    groups.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(b.count.cmp(&a.count)).then(a.id.cmp(&b.id)));

    let mut by_file: HashMap<String, Vec<SiteRef>> = HashMap::new();
    for (g, group) in groups.iter().enumerate() {
        for (s, site) in group.sites.iter().enumerate() {
            by_file.entry(site.path.clone()).or_default().push(SiteRef { group: g, site: s });
        }
    }
    for refs in by_file.values_mut() {
        refs.sort_by_key(|r| groups[r.group].sites[r.site].line);
    }
    (CrashPicture { groups, by_file }, changed)
}

/// Whether two summaries of a group come from the same events (so its placement still holds).
fn same_inputs(old: &CrashGroup, new: &CrashGroup) -> bool {
    old.count == new.count
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
fn summarize(key: String, mut events: Vec<CrashEvent>) -> CrashGroup {
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
    let event = events.pop().unwrap_or_default();
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

pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
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

    fn events(traces: &[String]) -> Vec<CrashEvent> {
        traces.iter().flat_map(|t| parse_crash_file(t.as_bytes(), "crash.txt").events).collect()
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
        let (first, all) = build_picture_reusing(events(&[a.clone(), b.clone()]), &inputs, None);
        assert_eq!(all, None, "without a previous picture every file counts as changed");
        assert_eq!(first.groups.len(), 2);

        let nothing_open = HashSet::new();
        let reuse = Reuse { previous: &first, changed_files: &nothing_open };
        let (second, changed) = build_picture_reusing(events(&[a.clone(), b.clone(), c.clone()]), &inputs, Some(reuse));
        assert_eq!(changed, Some(HashSet::from(["app/c.py".to_owned()])));
        assert_eq!(second.groups.len(), 3);
        assert_eq!(second.sites_in("app/a.py").len(), 1, "a kept group keeps its sites");

        // A group seen again changes its count: its file is published again; a group gone too.
        let reuse = Reuse { previous: &second, changed_files: &nothing_open };
        let (_, changed) = build_picture_reusing(events(&[a.clone(), a.clone(), b.clone()]), &inputs, Some(reuse));
        assert_eq!(changed, Some(HashSet::from(["app/a.py".to_owned(), "app/c.py".to_owned()])));

        // An open document's groups are placed again.
        let open = HashSet::from(["app/b.py".to_owned()]);
        let reuse = Reuse { previous: &second, changed_files: &open };
        let (_, changed) = build_picture_reusing(events(&[a, b, c]), &inputs, Some(reuse));
        assert_eq!(changed, Some(HashSet::from(["app/b.py".to_owned()])));
    }
}
