//! Where each crash site of a file is right now: in the open document (following edits) or, for a
//! file that is not open, where the picture placed it.

use crate::workspace::documents::Document;
use crate::workspace::sites::{CrashGroup, CrashPicture, Site, SiteRef};

pub struct PlacedSite<'a> {
    pub at: SiteRef,
    pub group: &'a CrashGroup,
    pub site: &'a Site,
    /// 0-based line now.
    pub line: usize,
    pub text: Option<String>,
    /// The line was edited since the crash.
    pub changed: bool,
}

/// The sites of `path`: from the open document's own picture when it is open (one snapshot with
/// its tracked lines), else from `picture`.
pub fn placed_sites<'a>(picture: &'a CrashPicture, path: &str, document: Option<&'a Document>) -> Vec<PlacedSite<'a>> {
    match document {
        Some(document) => document
            .tracked
            .iter()
            .filter_map(|tracked| {
                let (group, site) = document.picture.site(&tracked.site)?;
                Some(PlacedSite {
                    at: tracked.site.clone(),
                    group,
                    site,
                    line: tracked.line,
                    text: document.line_text(tracked.line),
                    changed: document.line_changed(tracked),
                })
            })
            .collect(),
        None => picture
            .sites_in(path)
            .iter()
            .filter_map(|at| {
                let (group, site) = picture.site(at)?;
                Some(PlacedSite {
                    at: at.clone(),
                    group,
                    site,
                    line: site.line.saturating_sub(1) as usize,
                    text: site.line_text.clone(),
                    changed: false,
                })
            })
            .collect(),
    }
}
