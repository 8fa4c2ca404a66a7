//! What the tools answer, as JSON: built from the crash picture and the investigations the
//! pipeline returns and the history keeps. Crash text is data here: it goes out as JSON strings.

use std::path::Path;

use serde_json::{Value, json};

use super::tools::ListCrashesArgs;
use crate::investigate::FixOutcome;
use crate::investigate::pipeline::Investigation;
use crate::investigate::report::operation_words;
use crate::investigate::validator::{CrashOutcome, ValidationReport};
use crate::workspace::index::WorkspaceIndex;
use crate::workspace::mapping::MappingConfig;
use crate::workspace::mapping::{FrameMapping, map_frame_to_workspace};
use crate::workspace::sites::{CrashGroup, CrashPicture, Site, describe};

/// Groups listed when the caller sets no limit.
const DEFAULT_LIMIT: usize = 50;

/// The site a group is known by: where it crashed, else its first in-app frame.
pub fn top_site(group: &CrashGroup) -> Option<&Site> {
    group.crash_site().or_else(|| group.sites.iter().min_by_key(|s| (s.role, s.depth)))
}

fn site_json(site: &Site) -> Value {
    json!({
        "path": site.path,
        "line": site.line,
        "column": site.column,
        "function": site.function,
        "role": site.role,
        "placement": site.placement,
    })
}

/// Whether `file` names `path`: the same relative path, or its end on a `/` boundary.
fn names_file(path: &str, file: &str) -> bool {
    let file = file.trim().trim_start_matches("./");
    !file.is_empty() && (path == file || path.ends_with(&format!("/{file}")))
}

/// `list_crashes`: the groups that pass the filters, most events first.
pub fn crash_list(root: &Path, picture: &CrashPicture, problems: &[String], args: &ListCrashesArgs) -> Value {
    let mut groups: Vec<&CrashGroup> = picture
        .groups
        .iter()
        .filter(|g| args.environment.as_ref().is_none_or(|e| g.environments.iter().any(|x| x == e)))
        .filter(|g| args.release.as_ref().is_none_or(|r| g.releases.iter().any(|x| x == r)))
        .filter(|g| args.file.as_ref().is_none_or(|f| g.sites.iter().any(|s| names_file(&s.path, f))))
        .map(|g| &**g)
        .collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)).then(a.short_id.cmp(&b.short_id)));
    let matching = groups.len();
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
    let listed: Vec<Value> = groups
        .into_iter()
        .take(limit)
        .map(|g| {
            json!({
                "short_id": g.short_id,
                "id": g.id,
                "title": g.title,
                "exception": g.exception,
                "message": g.message,
                "count": g.count,
                "first_seen": g.first_seen,
                "last_seen": g.last_seen,
                "releases": g.releases,
                "environments": g.environments,
                "status": g.status,
                "site": top_site(g).map(site_json),
            })
        })
        .collect();
    json!({
        "workspace": root.display().to_string(),
        "total": picture.groups.len(),
        "matching": matching,
        "groups": listed,
        "problems": problems,
    })
}

/// `get_crash`: the exception chain, every frame mapped or with the reason it is not.
pub fn crash_detail(group: &CrashGroup, index: &WorkspaceIndex, mapping: &MappingConfig) -> Value {
    let exceptions: Vec<Value> = group
        .event
        .exceptions
        .iter()
        .enumerate()
        .map(|(e, exception)| {
            let frames: Vec<Value> = exception
                .frames
                .iter()
                .enumerate()
                .map(|(f, frame)| {
                    let site = group.sites.iter().find(|s| s.exception == e && s.frame == f);
                    let unmapped = group.unmapped.iter().find(|u| u.exception == e && u.frame == f);
                    let (workspace, reason) = match (site, unmapped) {
                        (Some(site), _) => (Some(site_json(site)), None),
                        (None, Some(unmapped)) => (None, Some(unmapped.reason.clone())),
                        (None, None) => match map_frame_to_workspace(frame, index, mapping) {
                            FrameMapping::Mapped { path, in_app, .. } => (
                                Some(json!({
                                    "path": path,
                                    "line": frame.line,
                                    "column": frame.column,
                                    "function": frame.function,
                                    "role": if in_app { "frame" } else { "dependency" },
                                })),
                                None,
                            ),
                            FrameMapping::Unmapped { reason } => (None, Some(reason.to_string())),
                        },
                    };
                    json!({
                        "index": f,
                        "frame": describe(frame),
                        "function": frame.function,
                        "module": frame.module,
                        "file": frame.paths().next(),
                        "line": frame.line,
                        "column": frame.column,
                        "in_app": frame.in_app,
                        "workspace": workspace,
                        "unmapped_reason": reason,
                    })
                })
                .collect();
            json!({
                "index": e,
                "type": exception.ty,
                "value": exception.value,
                "module": exception.module,
                "link": exception.link.map(|l| json!({"parent": l.parent, "kind": l.kind})),
                "handled": exception.handled,
                "frames_omitted": exception.frames_omitted,
                "frames": frames,
            })
        })
        .collect();
    let mut sites: Vec<&Site> = group.sites.iter().collect();
    sites.sort_by_key(|s| (s.role, std::cmp::Reverse(s.exception), s.depth));
    json!({
        "short_id": group.short_id,
        "id": group.id,
        "title": group.title,
        "exception": group.exception,
        "message": group.message,
        "count": group.count,
        "first_seen": group.first_seen,
        "last_seen": group.last_seen,
        "releases": group.releases,
        "environments": group.environments,
        "permalink": group.permalink,
        "test": group.event.test_name,
        "origins": group.origins,
        "order": "exceptions root cause first, the outermost last; frames oldest first, the crashing frame last",
        "exceptions": exceptions,
        "sites": sites.into_iter().map(site_json).collect::<Vec<_>>(),
    })
}

/// The verdict in the words the report's title uses.
pub fn verdict(investigation: &Investigation) -> String {
    match (&investigation.fix, &investigation.validation) {
        (FixOutcome::Proposed { .. }, Some(validation)) if validation.validated => "validated fix".to_owned(),
        (FixOutcome::Proposed { .. }, Some(validation)) => {
            format!("fix NOT validated (the change {})", validation.outcome_words())
        }
        (FixOutcome::Proposed { .. }, None) => "fix NOT validated".to_owned(),
        (FixOutcome::NoConfidentFix { .. }, _) => "no confident fix".to_owned(),
    }
}

fn outcome_name(outcome: Option<CrashOutcome>) -> Option<&'static str> {
    outcome.map(|o| match o {
        CrashOutcome::Fixed => "fixed",
        CrashOutcome::Converted => "converted",
        CrashOutcome::NotFixed => "not fixed",
    })
}

/// The proof of a change: the ladder's rungs and what the change did to the crash.
pub fn proof(report: &ValidationReport) -> Value {
    json!({
        "validated": report.validated,
        "outcome": outcome_name(report.outcome),
        "outcome_words": report.outcome_words(),
        "rungs": report.rungs.iter().map(|r| json!({"name": r.name, "outcome": r.outcome, "detail": r.detail})).collect::<Vec<_>>(),
        "reproduction": report.reproduction.as_ref().map(|r| json!({
            "description": r.description,
            "command": r.command,
            "converted_into": r.converted_into,
        })),
        "tests": report.tests,
        "isolation": report.isolation,
        "duration_ms": report.duration_ms,
    })
}

/// What went wrong, where, in one paragraph.
fn explanation(investigation: &Investigation) -> String {
    let facts = &investigation.facts;
    let mut text = format!("{}: {}", facts.exception, facts.message);
    if let Some(site) = &facts.crash_site {
        text.push_str(&format!(", at {}:{}", site.path, site.line));
        if let Some(function) = &site.function {
            text.push_str(&format!(" in {function}"));
        }
    }
    if let Some(operation) = &facts.failing_operation {
        text.push_str(&format!("; failing operation: {}", operation_words(operation)));
    }
    if let Some((ty, message, site)) = &facts.root_cause {
        let place = site.as_ref().map(|s| format!(" at {}:{}", s.path, s.line)).unwrap_or_default();
        text.push_str(&format!("; root cause exception{place}: {ty}: {message}"));
    }
    text
}

/// `investigate` and `get_fix`: the verdict, explanation, root cause, the fix as a diff and its
/// proof, the other candidates (numbered from 1, as `apply_fix` takes them).
pub fn investigation(root: &Path, investigation: &Investigation, report: Option<&Path>) -> Value {
    let fix = investigation.fix().map(|fix| {
        json!({
            "summary": fix.summary,
            "rationale": fix.rationale,
            "hides_symptom": fix.hides_symptom,
            "by": fix.by,
            "files": fix.changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
            "diff": investigation.diff,
        })
    });
    let no_fix_reason = match &investigation.fix {
        FixOutcome::NoConfidentFix { reason } => Some(reason.as_str()),
        FixOutcome::Proposed { .. } => None,
    };
    let candidates: Vec<Value> = investigation
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "candidate": i + 1,
                "summary": c.candidate.fix.summary,
                "family": c.candidate.family,
                "verdict": c.outcome_words(),
                "validated": c.report.as_ref().is_some_and(|r| r.validated),
                "hides_symptom": c.candidate.fix.hides_symptom,
                "outcome": outcome_name(c.report.as_ref().and_then(|r| r.outcome)),
                "not_judged": c.not_judged,
                "diff": c.diff,
            })
        })
        .collect();
    json!({
        "short_id": investigation.short_id,
        "group_id": investigation.group_id,
        "title": investigation.title,
        "investigated_at": investigation.created_at,
        "verdict": verdict(investigation),
        "validated": investigation.is_validated(),
        "explanation": explanation(investigation),
        "root_cause": investigation.hypotheses.first().map(|h| h.summary.as_str()),
        "hypotheses": investigation.hypotheses.iter().take(5).map(|h| json!({
            "summary": h.summary,
            "confidence": h.confidence,
            "by": h.by,
            "evidence": h.evidence,
        })).collect::<Vec<_>>(),
        "fix": fix,
        "no_fix_reason": no_fix_reason,
        "proof": investigation.validation.as_ref().map(proof),
        "files_changed_since": investigation.fix().is_some() && !investigation.files_unchanged(root),
        "candidates": candidates,
        "model": investigation.model,
        "report": report.map(|p| p.display().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::names_file;

    #[test]
    fn a_file_filter_matches_the_path_or_its_end() {
        assert!(names_file("shop/orders.py", "shop/orders.py"));
        assert!(names_file("shop/orders.py", "orders.py"));
        assert!(names_file("shop/orders.py", "./shop/orders.py"));
        assert!(!names_file("shop/orders.py", "ders.py"));
        assert!(!names_file("shop/orders.py", "catalog.py"));
        assert!(!names_file("shop/orders.py", " "));
    }
}
