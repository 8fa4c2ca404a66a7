//! What a pull request says: its title, the commit message, the description (the crash, the root
//! cause and its evidence, the ladder rung by rung, the reproduction, the alternatives, how to
//! reproduce it locally) and the comment on a later update. Crash text is quoted in code, never
//! left to be read as Markdown.

use std::fmt::Write;

use crate::investigate::pipeline::Investigation;
use crate::investigate::report::render_tests;
use crate::investigate::reproduce::ReproductionOrigin;
use crate::investigate::validator::{CrashOutcome, RungOutcome};
use crate::markdown::{code, fenced, prose};
use crate::workspace::sites::CrashGroup;

/// Descriptions are cut to stay under GitHub's 65,536 characters.
const MAX_BODY_CHARS: usize = 60_000;

/// The hidden line that names the crash group and the fix a description carries.
pub fn marker(group_id: &str, fix: &str) -> String {
    format!("<!-- crashloom group={} fix={fix} -->", group_id.replace("--", "- -"))
}

/// The fix a description's marker names.
pub fn fix_in_marker(body: &str) -> Option<&str> {
    let start = body.find("<!-- crashloom group=")?;
    let rest = &body[start..];
    let fix = rest.split_once(" fix=")?.1;
    fix.split_whitespace().next()
}

fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// `Fix CL-1A2B3C: KeyError in receipt`
pub fn title(inv: &Investigation) -> String {
    let place = inv
        .facts
        .crash_site
        .as_ref()
        .and_then(|site| {
            site.function.clone().map(|f| format!(" in {f}")).or_else(|| Some(format!(" in {}", site.path)))
        })
        .unwrap_or_default();
    let exception =
        if inv.facts.exception.is_empty() { one_line(&inv.title, 60) } else { one_line(&inv.facts.exception, 60) };
    format!("Fix {}: {exception}{place}", inv.short_id)
}

/// The commit message: the crash, then the root cause.
pub fn commit_message(inv: &Investigation) -> String {
    let mut message = title(inv);
    message.push_str("\n\n");
    let _ = writeln!(
        message,
        "Crash {}: {}",
        inv.short_id,
        one_line(&format!("{}: {}", inv.facts.exception, inv.facts.message), 200)
    );
    if let Some(hypothesis) = inv.hypotheses.first() {
        let _ = writeln!(message, "Root cause: {}", one_line(&hypothesis.summary, 300));
    }
    if let Some(fix) = inv.fix() {
        let _ = writeln!(message, "Change: {}", one_line(&fix.summary, 300));
    }
    if let Some(validation) = &inv.validation {
        let _ = writeln!(message, "\nValidated by Crashloom: the change {}.", validation.outcome_words());
    }
    message
}

/// The pull request's description.
pub fn body(inv: &Investigation, group: &CrashGroup, fix_key: &str, branch: &str) -> String {
    let mut out = String::new();
    let validated = inv.is_validated();
    let verdict = match &inv.validation {
        Some(v) if validated => {
            format!("The change {} and passed every rung of the validation ladder.", v.outcome_words())
        }
        Some(v) => format!(
            "**Not validated:** the change {}. Opened because `[pull_request] allow_converted = true`.",
            v.outcome_words()
        ),
        None => "**Not validated.**".to_owned(),
    };
    let _ = writeln!(out, "Crashloom investigated crash **{}** and proposes this fix. {verdict}\n", inv.short_id);

    let _ = writeln!(out, "## The crash\n");
    let _ = writeln!(out, "{}", fenced("text", &format!("{}: {}", inv.facts.exception, inv.facts.message)));
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Crash | {} |", code(&inv.short_id));
    let _ = writeln!(out, "| Exception | {} |", code(&one_line(&inv.facts.exception, 200)));
    let _ = writeln!(out, "| Message | {} |", code(&one_line(&inv.facts.message, 300)));
    let users = group.user_count.map(|u| format!(", {u} users")).unwrap_or_default();
    let _ = writeln!(out, "| Events | {}{users} |", group.count);
    if let Some(first) = group.first_seen {
        let _ = writeln!(out, "| First seen | {} |", first.format("%Y-%m-%d %H:%M UTC"));
    }
    if let Some(last) = group.last_seen {
        let _ = writeln!(out, "| Last seen | {} |", last.format("%Y-%m-%d %H:%M UTC"));
    }
    if !group.releases.is_empty() {
        let releases: Vec<String> = group.releases.iter().take(5).map(|r| code(r)).collect();
        let _ = writeln!(out, "| Release | {} |", releases.join(", "));
    }
    if let Some(site) = &inv.facts.crash_site {
        let function = site.function.as_deref().map(|f| format!(" in {}", code(f))).unwrap_or_default();
        let _ = writeln!(out, "| Crashed at | {}{function} |", code(&format!("{}:{}", site.path, site.line)));
    }
    if let Some(link) = group.permalink.as_deref().filter(|l| l.starts_with("https://") || l.starts_with("http://")) {
        let _ = writeln!(out, "| Sentry | <{link}> |");
    }
    out.push('\n');

    let _ = writeln!(out, "## Root cause\n");
    match inv.hypotheses.first() {
        Some(hypothesis) => {
            let _ = writeln!(
                out,
                "**{}** (confidence {:.0}%, {})\n",
                prose(&hypothesis.summary),
                hypothesis.confidence * 100.0,
                prose(&hypothesis.by)
            );
            if !hypothesis.evidence.is_empty() {
                let _ = writeln!(out, "Evidence:\n");
                for evidence in &hypothesis.evidence {
                    let _ = writeln!(out, "- {}", prose(evidence));
                }
                out.push('\n');
            }
        }
        None => {
            let _ = writeln!(out, "No root cause was ranked.\n");
        }
    }

    let _ = writeln!(out, "## The change\n");
    if let Some(fix) = inv.fix() {
        let _ = writeln!(out, "{}\n\n{}\n", prose(&fix.summary), prose(&fix.rationale));
        if fix.hides_symptom {
            let _ = writeln!(out, "> This change stops the crash without addressing why the bad value arrives.\n");
        }
    }
    if let Some(diff) = &inv.diff {
        let _ = writeln!(out, "{}", fenced("diff", diff));
    }

    if let Some(validation) = &inv.validation {
        let _ = writeln!(out, "## The proof: validation ladder\n");
        let outcome = match validation.outcome {
            Some(CrashOutcome::Fixed) => "fixed",
            Some(CrashOutcome::Converted) => "converted",
            Some(CrashOutcome::NotFixed) => "not fixed",
            None => "not reproduced",
        };
        let _ = writeln!(
            out,
            "Run in an isolated copy of the repository ({}, {:.1} s). Outcome: **{outcome}**.\n",
            validation.isolation,
            validation.duration_ms as f64 / 1000.0
        );
        for rung in &validation.rungs {
            let mark = match rung.outcome {
                RungOutcome::Passed => "passed",
                RungOutcome::Failed => "FAILED",
                RungOutcome::Skipped => "skipped",
                RungOutcome::ToolMissing => "TOOL MISSING",
            };
            let _ = writeln!(out, "1. **{}** — {mark}: {}", rung.name, prose(&rung.detail));
            for command in rung.commands.iter().take(6) {
                let _ = writeln!(
                    out,
                    "   - {} {} → {} ({} ms)",
                    code(&command.command),
                    command.when,
                    prose(&command.status),
                    command.duration_ms
                );
            }
        }
        out.push('\n');
        if let Some(tests) = &validation.tests {
            render_tests(&mut out, tests);
        }

        let _ = writeln!(out, "## The reproduction\n");
        match &validation.reproduction {
            Some(reproduction) => {
                let origin = match &reproduction.origin {
                    ReproductionOrigin::Configured => "configured in crashloom.toml".to_owned(),
                    ReproductionOrigin::CapturedValues => {
                        "written by Crashloom from the crash's captured values".to_owned()
                    }
                    ReproductionOrigin::ProjectTest { name } => format!("the project's own test {}", code(name)),
                    ReproductionOrigin::FromCode => "written by Crashloom from the code and the crash".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "{} ({origin}), run as {}.\n",
                    prose(&reproduction.description),
                    code(&reproduction.command)
                );
                if let Some((path, text)) = &reproduction.source {
                    let _ = writeln!(out, "{}:\n\n{}", code(path), fenced("", text));
                }
            }
            None => {
                let _ = writeln!(out, "Nothing reproduced the crash.\n");
            }
        }
    }

    let _ = writeln!(out, "## Alternatives considered\n");
    if inv.hypotheses.len() > 1 {
        for hypothesis in inv.hypotheses.iter().skip(1).take(5) {
            let _ =
                writeln!(out, "- {} (confidence {:.0}%)", prose(&hypothesis.summary), hypothesis.confidence * 100.0);
        }
    } else {
        let _ = writeln!(out, "- No other explanation of the crash was ranked.");
    }
    out.push('\n');

    let _ = writeln!(out, "## Reproduce it locally\n");
    let mut steps =
        format!("git fetch origin {branch}\ngit switch --detach FETCH_HEAD~1   # the code before the fix\n");
    if let Some(reproduction) = inv.validation.as_ref().and_then(|v| v.reproduction.as_ref()) {
        if reproduction.origin == ReproductionOrigin::Configured {
            let _ = writeln!(steps, "{}   # crashes", reproduction.command);
            let _ = writeln!(steps, "git switch --detach FETCH_HEAD\n{}   # succeeds", reproduction.command);
        } else {
            let _ = writeln!(steps, "git switch --detach FETCH_HEAD");
        }
    }
    let _ = writeln!(steps, "crashloom investigate --workspace . --crash {}", inv.short_id);
    let _ = writeln!(out, "{}", fenced("sh", &steps));
    let mut out = if out.chars().count() > MAX_BODY_CHARS {
        let mut cut: String = out.chars().take(MAX_BODY_CHARS).collect();
        cut.push_str("\n\n… (cut; the full report is in `.crashloom/reports/`)\n");
        cut
    } else {
        out
    };
    let _ = writeln!(out, "\n{}", marker(&inv.group_id, fix_key));
    out
}

/// The comment on an existing pull request when a later run updates it.
pub fn update_comment(inv: &Investigation, group: &CrashGroup, commit: &str, pushed: bool) -> String {
    let short = commit.get(..12).unwrap_or(commit);
    let what = if pushed {
        format!("Crashloom pushed an updated fix ({}) to this branch", code(short))
    } else {
        "Crashloom investigated the crash again; the fix on this branch is unchanged".to_owned()
    };
    let verdict = inv.validation.as_ref().map(|v| format!(" The change {}.", v.outcome_words())).unwrap_or_default();
    let last = group.last_seen.map(|l| format!(", last seen {}", l.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
    format!("{what}: crash {} has now been seen {} times{last}.{verdict}\n", inv.short_id, group.count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_the_fix() {
        let text = format!("body\n\n{}\n", marker("abc", "0123456789abcdef"));
        assert_eq!(fix_in_marker(&text), Some("0123456789abcdef"));
        assert_eq!(fix_in_marker("no marker"), None);
    }

    #[test]
    fn crash_text_cannot_become_markdown() {
        assert_eq!(code("a`b"), "``a`b``");
        assert!(fenced("text", "x ```\n# heading").starts_with("````text\n"));
        assert_eq!(prose("ping @team <img>"), "ping @\u{200b}team \\<img\\>");
    }
}
