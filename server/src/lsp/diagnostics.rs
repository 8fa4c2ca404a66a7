//! Crash sites as diagnostics: an Error at each crash site and root cause, an Information at each
//! calling in-app frame, all of one crash linked through `relatedInformation`.

use std::path::Path;

use serde_json::json;
use tower_lsp_server::ls_types::{
    CodeDescription, Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Uri,
};

use super::convert::{Encoding, code_range, file_uri, lsp_line};
use super::sites::{PlacedSite, placed_sites};
use crate::workspace::documents::Document;
use crate::workspace::sites::{CrashGroup, CrashPicture, Placement, Site, SiteRole};

pub const SOURCE: &str = "crashloom";

/// Every crash diagnostic of one workspace file.
pub fn file_diagnostics(
    picture: &CrashPicture,
    root: &Path,
    path: &str,
    document: Option<&Document>,
    encoding: Encoding,
) -> Vec<Diagnostic> {
    placed_sites(picture, path, document).iter().map(|placed| diagnostic(placed, root, encoding)).collect()
}

fn diagnostic(placed: &PlacedSite<'_>, root: &Path, encoding: Encoding) -> Diagnostic {
    let PlacedSite { group, site, .. } = placed;
    let severity = match site.role {
        // A cut-off trace says where, not what: a warning, not an error.
        SiteRole::CrashSite | SiteRole::RootCause if group.is_cut_off() => DiagnosticSeverity::WARNING,
        SiteRole::CrashSite | SiteRole::RootCause => DiagnosticSeverity::ERROR,
        SiteRole::Frame => DiagnosticSeverity::INFORMATION,
    };
    let mut message = site_message(group, site);
    if placed.changed {
        message.push_str("\nThis line has changed since the crash.");
    } else {
        match &site.placement {
            Placement::Confirmed => {}
            Placement::Moved { from, .. } => {
                message.push_str(&format!("\nThe crash reported line {from}; the code has moved here since."))
            }
            Placement::Unverified { reason } => message.push_str(&format!("\nLine not verified: {reason}.")),
        }
    }
    let code_description =
        group.permalink.as_deref().and_then(|link| link.parse::<Uri>().ok()).map(|href| CodeDescription { href });
    Diagnostic {
        range: code_range(placed.line, placed.text.as_deref(), encoding),
        severity: Some(severity),
        code: Some(NumberOrString::String(group.short_id.clone())),
        code_description,
        source: Some(SOURCE.to_owned()),
        message,
        related_information: Some(related(group, site, root, encoding)),
        tags: None,
        data: Some(json!({
            "group": group.id,
            "shortId": group.short_id,
            "exception": site.exception,
            "frame": site.frame,
            "role": site.role,
            "eventId": group.event.event_id,
            // For lists and filters in the editor (the Crashes view): the group's facts.
            "title": group.title,
            "count": group.count,
            "lastSeen": group.last_seen.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            "releases": group.releases,
            "environments": group.environments,
        })),
    }
}

/// The first line of the diagnostic: what crashed and how this line takes part.
pub fn site_message(group: &CrashGroup, site: &Site) -> String {
    let times = times(group.count);
    let last = group.last_seen.map(|t| format!(", last {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
    match site.role {
        SiteRole::CrashSite => format!("{} — crashed here {times}{last}", group.title),
        SiteRole::RootCause => {
            let cause = group.event.exceptions.get(site.exception).map(|e| e.title()).unwrap_or_default();
            format!("{cause} — root cause of {} ({times}{last})", group.title)
        }
        SiteRole::Frame => {
            let callee = group.sites.iter().find(|s| s.exception == site.exception && s.depth + 1 == site.depth);
            let calls = callee
                .and_then(|s| s.function.as_deref().map(|f| format!(", calls {f} at {}:{}", s.path, s.line)))
                .unwrap_or_default();
            format!(
                "{} passes through here: frame {} of {} in the crash's in-app stack{calls} ({times})",
                group.title, site.depth, site.stack_len
            )
        }
    }
}

pub fn times(count: u64) -> String {
    if count == 1 { "1 time".to_owned() } else { format!("{count} times") }
}

/// Links to the other sites of the same crash, newest frame first.
/// How many other sites of its crash a diagnostic lists: enough for any real stack, bounded for a
/// trace of thousands of chained exceptions.
const MAX_RELATED: usize = 64;

fn related(group: &CrashGroup, this: &Site, root: &Path, encoding: Encoding) -> Vec<DiagnosticRelatedInformation> {
    let mut others: Vec<&Site> = group.sites.iter().filter(|s| !(s.path == this.path && s.line == this.line)).collect();
    others.sort_by_key(|s| (s.exception != this.exception, std::cmp::Reverse(s.exception), s.depth));
    others
        .into_iter()
        .take(MAX_RELATED)
        .filter_map(|site| {
            let uri = file_uri(root, &site.path)?;
            let role = match site.role {
                SiteRole::CrashSite => "crash site".to_owned(),
                SiteRole::RootCause => "root cause".to_owned(),
                SiteRole::Frame => format!("frame {} of {}", site.depth, site.stack_len),
            };
            let function = site.function.as_deref().map(|f| format!(" in {f}")).unwrap_or_default();
            Some(DiagnosticRelatedInformation {
                location: Location { uri, range: code_range(lsp_line(site.line), site.line_text.as_deref(), encoding) },
                message: format!("{role}{function}"),
            })
        })
        .collect()
}
