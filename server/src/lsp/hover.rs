//! Hover on a crash line: what crashed, how often, where, and the frame's local variables.

use std::fmt::Write;
use std::path::Path;

use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use super::convert::{Encoding, code_range, file_uri};
use super::diagnostics::times;
use super::sites::placed_sites;
use crate::workspace::documents::Document;
use crate::workspace::sites::{CrashGroup, CrashPicture, Placement, Site, SiteRole, truncate};

/// The hover for a 0-based line of a workspace file, when crashes touch that line.
pub fn hover(
    picture: &CrashPicture,
    root: &Path,
    path: &str,
    document: Option<&Document>,
    line: usize,
    encoding: Encoding,
) -> Option<Hover> {
    let here: Vec<_> = placed_sites(picture, path, document).into_iter().filter(|p| p.line == line).collect();
    let first = here.first()?;
    let range = code_range(first.line, first.text.as_deref(), encoding);
    let sections: Vec<String> = here.iter().map(|p| crash_markdown(p.group, p.site, root, p.changed)).collect();
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: sections.join("\n\n---\n\n"),
        }),
        range: Some(range),
    })
}

fn crash_markdown(group: &CrashGroup, site: &Site, root: &Path, changed: bool) -> String {
    let mut out = String::new();
    let exception = group.event.exceptions.get(site.exception);
    let (ty, value) =
        exception.map_or((group.exception.as_str(), group.message.as_str()), |e| (e.ty.as_str(), e.value.as_str()));
    let _ = writeln!(out, "**{}**: {}", escape(ty), escape(&truncate(value, 500)));
    if site.role == SiteRole::RootCause {
        let _ = writeln!(out, "\nRoot cause of **{}**", escape(&group.title));
    }
    out.push('\n');
    let mut facts = vec![format!("`{}`", group.short_id), format!("{} ", times(group.count)).trim_end().to_owned()];
    if let Some(users) = group.user_count {
        facts.push(format!("{users} users"));
    }
    if let Some(first) = group.first_seen {
        facts.push(format!("first seen {}", first.format("%Y-%m-%d %H:%M UTC")));
    }
    if let Some(last) = group.last_seen {
        facts.push(format!("last seen {}", last.format("%Y-%m-%d %H:%M UTC")));
    }
    if !group.releases.is_empty() {
        facts.push(format!("release {}", group.releases.iter().map(|r| escape(r)).collect::<Vec<_>>().join(", ")));
    }
    if !group.environments.is_empty() {
        facts.push(format!(
            "environment {}",
            group.environments.iter().map(|r| escape(r)).collect::<Vec<_>>().join(", ")
        ));
    }
    let _ = writeln!(out, "{}", facts.join(" · "));
    if let Some(link) = &group.permalink {
        let _ = writeln!(out, "\n[Open in Sentry]({link})");
    }

    let _ = writeln!(out, "\nIn-app stack, newest call first:\n");
    let mut stack: Vec<&Site> = group.sites.iter().filter(|s| s.exception == site.exception).collect();
    stack.sort_by_key(|s| s.depth);
    for s in stack {
        let function = s.function.as_deref().unwrap_or("<unknown>");
        let target = file_uri(root, &s.path).map(|u| format!("{}#L{}", u.as_str(), s.line)).unwrap_or_default();
        let marker = if std::ptr::eq(s, site) { " ← here" } else { "" };
        let _ = writeln!(out, "{}. [`{}`]({target}) {}:{}{marker}", s.depth, escape(function), escape(&s.path), s.line);
    }

    if let Some(frame) = group.frame_of(site)
        && !frame.vars.is_empty()
    {
        let _ = writeln!(out, "\nLocal variables at this frame:\n");
        for (name, value) in frame.vars.iter().take(30) {
            let _ = writeln!(out, "- `{}` = `{}`", name.replace('`', "'"), truncate(value, 120).replace('`', "'"));
        }
    }
    if changed {
        let _ = writeln!(out, "\n_This line has changed since the crash._");
    } else if let Placement::Moved { from, .. } = &site.placement {
        let _ = writeln!(out, "\n_The crash reported line {from}; the code has moved here since._");
    } else if let Placement::Unverified { reason } = &site.placement {
        let _ = writeln!(out, "\n_Line not verified: {}._", escape(reason));
    }
    if !group.unmapped.is_empty() {
        let _ = writeln!(
            out,
            "\n{} frame(s) outside the workspace, e.g. {}",
            group.unmapped.len(),
            escape(&group.unmapped[0].description)
        );
    }
    out
}

/// Crash text is written by whoever triggered the crash: shown as text, never as markup or links.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '(' | ')' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
