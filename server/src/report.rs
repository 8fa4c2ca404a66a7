//! `crashloom crashes`: the crash picture as text for people and JSON for scripts.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::workspace::sites::{CrashGroup, CrashPicture, Placement, SiteRole};

#[derive(Serialize)]
pub struct CrashesReport<'a> {
    pub workspace: String,
    pub files_read: usize,
    pub groups: &'a [std::sync::Arc<CrashGroup>],
    pub problems: &'a [String],
}

pub fn json(root: &Path, picture: &CrashPicture, problems: &[String], files_read: usize) -> String {
    let report = CrashesReport { workspace: root.display().to_string(), files_read, groups: &picture.groups, problems };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub fn text(root: &Path, picture: &CrashPicture, problems: &[String], files_read: usize) -> String {
    let mut out = String::new();
    let groups = picture.groups.len();
    let _ = writeln!(
        out,
        "{} in {} ({} crash file{} read)",
        plural(groups, "crash group"),
        root.display(),
        files_read,
        if files_read == 1 { "" } else { "s" }
    );
    for group in &picture.groups {
        let _ = writeln!(out);
        let mut facts = vec![format!("[{}]", group.short_id), plural(group.count as usize, "event")];
        if let Some(first) = group.first_seen {
            facts.push(format!("first {}", first.format("%Y-%m-%d %H:%M UTC")));
        }
        if let Some(last) = group.last_seen {
            facts.push(format!("last {}", last.format("%Y-%m-%d %H:%M UTC")));
        }
        if !group.releases.is_empty() {
            facts.push(format!("release {}", group.releases.join(", ")));
        }
        if !group.environments.is_empty() {
            facts.push(group.environments.join(", "));
        }
        let _ = writeln!(out, "{}  {}", one_line(&group.title), facts.join(" · "));
        let mut sites: Vec<_> = group.sites.iter().collect();
        sites.sort_by_key(|s| (s.role, std::cmp::Reverse(s.exception), s.depth));
        for site in sites {
            let role = match site.role {
                SiteRole::CrashSite => "crash site",
                SiteRole::RootCause => "root cause",
                SiteRole::Frame => "frame",
            };
            let place = match site.column {
                Some(column) => format!("{}:{}:{column}", site.path, site.line),
                None => format!("{}:{}", site.path, site.line),
            };
            let function = site.function.as_deref().map(|f| format!("  in {f}")).unwrap_or_default();
            let note = match &site.placement {
                Placement::Confirmed => String::new(),
                Placement::Moved { from, .. } => format!("  (moved from line {from})"),
                Placement::Unverified { reason } => format!("  (unverified: {reason})"),
            };
            let _ = writeln!(out, "  {role:<11} {place}{function}{note}");
        }
        for frame in &group.unmapped {
            let _ = writeln!(out, "  {:<11} {}  ({})", "not mapped", frame.description, frame.reason);
        }
    }
    if !problems.is_empty() {
        let _ = writeln!(out, "\nProblems:");
        for problem in problems {
            let _ = writeln!(out, "  {problem}");
        }
    }
    out
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_owned()
}
