//! Where to change the code: the in-app frames of a crash, ranked by how likely the fix belongs
//! there, each with the evidence for its rank.
//!
//! The crash site is where the program died, not always where the bug is. A frame ranks up when
//! the bad value came from it (the crashing function got the value as a parameter, so its caller
//! passed it), when its lines changed recently (git history of the crash lines), and down when the
//! project's tests pin its behaviour (a test expects exactly this error from it: that is its
//! contract, and the change belongs in the caller).

use serde::{Deserialize, Serialize};

use super::{CodeContext, CrashFacts, FailingOperation, SiteFacts};
use crate::workspace::syntax::{SourceLanguage, enclosing_function, functions};

/// One place the fix may belong, with why it ranks where it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    /// 1-based line of the frame.
    pub line: u32,
    pub function: Option<String>,
    /// Higher is more likely.
    pub score: f32,
    pub evidence: Vec<String>,
}

impl Location {
    /// `path:function` for reports and candidates.
    pub fn label(&self) -> String {
        match &self.function {
            Some(function) => format!("{}:{function}", self.path),
            None => format!("{}:{}", self.path, self.line),
        }
    }
}

/// The in-app frames of the crash, most likely place of the fix first.
pub fn rank_locations(root: &std::path::Path, facts: &CrashFacts, code: &CodeContext) -> Vec<Location> {
    let mut frames: Vec<&SiteFacts> = Vec::new();
    if let Some(site) = &facts.crash_site {
        frames.push(site);
    }
    for site in &facts.in_app_path {
        if !frames.iter().any(|f| f.path == site.path && f.line == site.line) {
            frames.push(site);
        }
    }
    let mut locations: Vec<Location> = frames
        .iter()
        .enumerate()
        .map(|(depth, site)| Location {
            path: site.path.clone(),
            line: site.line,
            function: site.function.clone(),
            score: 0.6f32.powi(depth as i32),
            evidence: vec![if depth == 0 {
                "the crash site: the program died here".to_owned()
            } else {
                format!("{depth} call(s) up from the crash site")
            }],
        })
        .collect();
    if locations.is_empty() {
        return locations;
    }

    // Value flow: the bad value is a parameter of the crashing function, so a caller passed it.
    if let Some(value) = facts.failing_operation.as_ref().and_then(bad_value)
        && let Some(site) = &facts.crash_site
        && let Some(parameters) = parameters_of(root, site)
        && parameters.iter().any(|p| p == &value)
        && locations.len() > 1
    {
        let function = site.function.clone().unwrap_or_else(|| "the crashing function".to_owned());
        locations[0].score -= 0.3;
        locations[0]
            .evidence
            .push(format!("`{value}` is a parameter of `{function}`: the bad value arrives from its caller"));
        let caller = &mut locations[1];
        caller.score += 0.5;
        caller.evidence.push(format!("passes the bad value `{value}` to `{function}`"));
    }

    // History: lines changed by a commit that is not the first one rank up.
    for location in &mut locations {
        let place = format!("{}:{}", location.path, location.line);
        if let Some(commit) = code.history.iter().find(|c| c.lines.contains(&place)) {
            let short = commit.commit.get(..10).unwrap_or(&commit.commit);
            location.score += 0.15;
            location.evidence.push(format!("its line was last changed by {short} ({})", commit.summary));
        }
    }

    // Tests that pin the crash's error as the function's contract.
    let exception = facts.exception.rsplit(['.', ':']).next().unwrap_or(&facts.exception).to_owned();
    for location in &mut locations {
        let Some(function) = location.function.as_deref().map(|f| f.rsplit(['.', ':']).next().unwrap_or(f)) else {
            continue;
        };
        if let Some(test) = code.tests.iter().find(|t| pins_error(root, &t.path, function, &exception)) {
            location.score -= 0.4;
            location.evidence.push(format!(
                "`{}` pins `{exception}` from `{function}` as its contract: change its caller instead",
                test.path
            ));
        }
    }
    locations.sort_by(|a, b| b.score.total_cmp(&a.score));
    locations
}

/// The variable holding the bad value of a failing operation, when it is a plain name.
fn bad_value(operation: &FailingOperation) -> Option<String> {
    let name = match operation {
        FailingOperation::AttributeOfMissing { expression, .. }
        | FailingOperation::SubscriptOfMissing { expression }
        | FailingOperation::NilDereference { expression }
        | FailingOperation::UnwrapNone { expression } => expression.clone(),
        FailingOperation::IndexOutOfRange { index: Some(index), .. } => index.clone(),
        FailingOperation::MissingKey { key, .. } => key.clone(),
        FailingOperation::DivisionByZero { divisor } => divisor.clone(),
        _ => return None,
    };
    crate::workspace::syntax::is_identifier(&name).then_some(name)
}

/// The parameter names of the function holding a site.
fn parameters_of(root: &std::path::Path, site: &SiteFacts) -> Option<Vec<String>> {
    let language = SourceLanguage::from_path(&site.path)?;
    let text = std::fs::read_to_string(root.join(&site.path)).ok()?;
    let spans = functions(language, &text);
    let span = enclosing_function(&spans, site.line.saturating_sub(1) as usize)?;
    let header: String = text.lines().skip(span.start_line).take(10).collect::<Vec<_>>().join(" ");
    let open = header.find('(')?;
    let close = header[open..].find(')')? + open;
    Some(
        header[open + 1..close]
            .split(',')
            .filter_map(|parameter| {
                let parameter = parameter.trim().trim_start_matches(['*', '&']).trim_start_matches("mut ");
                let name = parameter.split([':', '=', ' ']).next()?.trim();
                crate::workspace::syntax::is_identifier(name).then(|| name.to_owned())
            })
            .collect(),
    )
}

/// Whether a test file expects `exception` from `function` (`assertRaises`, `pytest.raises`,
/// `toThrow`, `assert.throws`, `should_panic`).
fn pins_error(root: &std::path::Path, test_path: &str, function: &str, exception: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join(test_path)) else { return false };
    text.lines().enumerate().any(|(row, line)| {
        let expects = ["assertRaises(", "pytest.raises(", "toThrow(", "assert.throws(", "should_panic"]
            .iter()
            .any(|marker| line.contains(marker));
        // The expectation names the exception, and the function is called within a few lines.
        expects
            && (line.contains(exception) || exception == "panic")
            && text.lines().skip(row).take(4).any(|near| near.contains(&format!("{function}(")))
    })
}
