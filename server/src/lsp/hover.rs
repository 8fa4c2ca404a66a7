//! Hover on a crash line: what crashed, how often, where, and the frame's local variables.

use std::fmt::Write;
use std::path::Path;

use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use super::convert::{Encoding, code_range, file_uri};
use super::diagnostics::times;
use super::sites::placed_sites;
use crate::markdown::{code, escape};
use crate::text::truncate;
use crate::workspace::documents::Document;
use crate::workspace::sites::{CrashGroup, CrashPicture, Placement, Site, SiteRole};

/// How the hover is written: Markdown, or plain text for clients that do not render Markdown
/// (`textDocument.hover.contentFormat` without `markdown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoverFormat {
    Markdown,
    PlainText,
}

impl HoverFormat {
    /// Crash text, shown as text whatever it holds.
    fn text(self, text: &str) -> String {
        match self {
            Self::Markdown => escape(text),
            Self::PlainText => text.to_owned(),
        }
    }

    fn strong(self, text: &str) -> String {
        match self {
            Self::Markdown => format!("**{}**", escape(text)),
            Self::PlainText => text.to_owned(),
        }
    }

    fn emphasis(self, text: &str) -> String {
        match self {
            Self::Markdown => format!("_{}_", escape(text)),
            Self::PlainText => text.to_owned(),
        }
    }

    /// Code as it is: a code span needs no escapes, only a fence longer than its backticks.
    fn code(self, text: &str) -> String {
        match self {
            Self::Markdown => code(text),
            Self::PlainText => text.to_owned(),
        }
    }

    fn link(self, text: &str, target: &str) -> String {
        match self {
            Self::Markdown if !target.is_empty() => format!("[{text}]({target})"),
            Self::Markdown | Self::PlainText => text.to_owned(),
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Self::Markdown => "\n\n---\n\n",
            Self::PlainText => "\n\n",
        }
    }
}

/// The hover for a 0-based line of a workspace file, when crashes touch that line.
pub fn hover(
    picture: &CrashPicture,
    root: &Path,
    path: &str,
    document: Option<&Document>,
    line: usize,
    encoding: Encoding,
    format: HoverFormat,
) -> Option<Hover> {
    let here: Vec<_> = placed_sites(picture, path, document).into_iter().filter(|p| p.line == line).collect();
    let first = here.first()?;
    let range = code_range(first.line, first.text.as_deref(), encoding);
    let sections: Vec<String> = here.iter().map(|p| crash_text(p.group, p.site, root, p.changed, format)).collect();
    let kind = match format {
        HoverFormat::Markdown => MarkupKind::Markdown,
        HoverFormat::PlainText => MarkupKind::PlainText,
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind, value: sections.join(format.rule()) }),
        range: Some(range),
    })
}

fn crash_text(group: &CrashGroup, site: &Site, root: &Path, changed: bool, f: HoverFormat) -> String {
    let mut out = String::new();
    let exception = group.event.exceptions.get(site.exception);
    let (ty, value) =
        exception.map_or((group.exception.as_str(), group.message.as_str()), |e| (e.ty.as_str(), e.value.as_str()));
    let _ = writeln!(out, "{}: {}", f.strong(ty), f.text(&truncate(value, 500)));
    if site.role == SiteRole::RootCause {
        let _ = writeln!(out, "\nRoot cause of {}", f.strong(&group.title));
    }
    out.push('\n');
    let mut facts = vec![f.code(&group.short_id), times(group.count)];
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
        facts.push(format!("release {}", group.releases.iter().map(|r| f.text(r)).collect::<Vec<_>>().join(", ")));
    }
    if !group.environments.is_empty() {
        facts.push(format!(
            "environment {}",
            group.environments.iter().map(|r| f.text(r)).collect::<Vec<_>>().join(", ")
        ));
    }
    let _ = writeln!(out, "{}", facts.join(" · "));
    if let Some(link) = &group.permalink {
        match f {
            HoverFormat::Markdown => {
                let _ = writeln!(out, "\n[Open in Sentry](<{}>)", link.replace(['<', '>', '\n'], ""));
            }
            HoverFormat::PlainText => {
                let _ = writeln!(out, "\nIn Sentry: {link}");
            }
        }
    }

    let _ = writeln!(out, "\nIn-app stack, newest call first:\n");
    let mut stack: Vec<&Site> = group.sites.iter().filter(|s| s.exception == site.exception).collect();
    stack.sort_by_key(|s| s.depth);
    for s in stack {
        let function = s.function.as_deref().unwrap_or("<unknown>");
        let target = file_uri(root, &s.path).map(|u| format!("{}#L{}", u.as_str(), s.line)).unwrap_or_default();
        let marker = if std::ptr::eq(s, site) { " ← here" } else { "" };
        let _ =
            writeln!(out, "{}. {} {}:{}{marker}", s.depth, f.link(&f.code(function), &target), f.text(&s.path), s.line);
    }

    if let Some(frame) = group.frame_of(site)
        && !frame.vars.is_empty()
    {
        let _ = writeln!(out, "\nLocal variables at this frame:\n");
        for (name, value) in frame.vars.iter().take(30) {
            let _ = writeln!(out, "- {} = {}", f.code(name), f.code(&truncate(value, 120)));
        }
    }
    if changed {
        let _ = writeln!(out, "\n{}", f.emphasis("This line has changed since the crash."));
    } else if let Placement::Moved { from, .. } = &site.placement {
        let _ = writeln!(
            out,
            "\n{}",
            f.emphasis(&format!("The crash reported line {from}; the code has moved here since."))
        );
    } else if let Placement::Unverified { reason } = &site.placement {
        let _ = writeln!(out, "\n{}", f.emphasis(&format!("Line not verified: {reason}.")));
    }
    if !group.unmapped.is_empty() {
        let _ = writeln!(
            out,
            "\n{} frame(s) outside the workspace, e.g. {}",
            group.unmapped.len(),
            f.text(&group.unmapped[0].description)
        );
    }
    out
}
