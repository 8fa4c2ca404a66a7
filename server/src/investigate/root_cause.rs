//! Agent 3, offline: ranked explanations of a crash, each with evidence a developer can check (the
//! definition line, the captured values, the message, the commit that last touched the line).
//!
//! The rules read what the Error Analyzer and Code Search found; they never guess beyond it. When no
//! rule matches, the one hypothesis restates the crash and says so.

use super::{CodeContext, CodeRef, CrashFacts, CrashInput, FailingOperation, Hypothesis, RootCauseAnalyst, SiteFacts};
use crate::crash::Language;

/// The offline root-cause analyst: fixed rules, no model, no network.
pub struct OfflineRootCause;

const BY: &str = "offline rules";

impl RootCauseAnalyst for OfflineRootCause {
    fn hypotheses(&self, _input: &CrashInput<'_>, facts: &CrashFacts, code: &CodeContext) -> Vec<Hypothesis> {
        let mut hypotheses = Vec::new();
        if let Some(chained) = chained_root_cause(facts, code) {
            hypotheses.push(chained);
        }
        let mut ranked: Vec<Hypothesis> =
            facts.failing_operation.as_ref().map(|operation| explain(facts, code, operation)).unwrap_or_default();
        ranked.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        hypotheses.extend(ranked);
        if hypotheses.is_empty() {
            hypotheses.push(restatement(facts, code));
        }
        hypotheses
    }
}

/// "`path:line`: code" for a site.
fn at(site: &SiteFacts) -> String {
    match &site.code {
        Some(code) => format!("{}:{}: {}", site.path, site.line, code.trim()),
        None => format!("{}:{}", site.path, site.line),
    }
}

fn message_evidence(facts: &CrashFacts) -> String {
    if facts.message.is_empty() {
        format!("the crash: {}", facts.exception)
    } else {
        format!("the crash: {}: {}", facts.exception, facts.message)
    }
}

/// "line last changed in <commit> by <author> <date>: <summary>" for the commit that last touched the
/// crash line (else the newest commit of the crash lines).
fn history_evidence(facts: &CrashFacts, code: &CodeContext) -> Option<String> {
    let crash_line = facts.crash_site.as_ref().map(|s| format!("{}:{}", s.path, s.line));
    let commit = code
        .history
        .iter()
        .find(|c| crash_line.as_ref().is_some_and(|line| c.lines.contains(line)))
        .or_else(|| code.history.first())?;
    let short: String = commit.commit.chars().take(12).collect();
    Some(format!("line last changed in {short} by {} {}: {}", commit.author, commit.date, commit.summary))
}

fn with_common_evidence(mut evidence: Vec<String>, facts: &CrashFacts, code: &CodeContext) -> Vec<String> {
    evidence.push(message_evidence(facts));
    if let Some(history) = history_evidence(facts, code) {
        evidence.push(history);
    }
    evidence
}

fn chained_root_cause(facts: &CrashFacts, code: &CodeContext) -> Option<Hypothesis> {
    let (exception, message, site) = facts.root_cause.as_ref()?;
    let place = site.as_ref().map(|s| format!(" at {}:{}", s.path, s.line)).unwrap_or_default();
    let mut evidence = Vec::new();
    if let Some(site) = site {
        evidence.push(at(site));
    }
    evidence.push(format!("root cause: {exception}: {message}"));
    let summary =
        format!("The crash ({}) is a consequence of `{exception}: {message}`{place}; start there", facts.exception);
    Some(Hypothesis { summary, confidence: 0.8, evidence: with_common_evidence(evidence, facts, code), by: BY.into() })
}

fn missing_word(language: Option<Language>) -> &'static str {
    match language {
        Some(Language::Python) | Some(Language::Rust) => "None",
        Some(Language::JavaScript) => "undefined or null",
        Some(Language::Go) => "nil",
        Some(Language::Ruby) => "nil",
        _ => "null",
    }
}

/// Where `name` was assigned, as Code Search found it.
fn definition_of<'c>(code: &'c CodeContext, name: &str) -> Option<&'c CodeRef> {
    let assigns = |line: &str| {
        let line = line.trim_start();
        let line = ["let mut ", "let ", "const ", "var ", "val ", "final "]
            .iter()
            .find_map(|keyword| line.strip_prefix(keyword))
            .unwrap_or(line);
        let Some((left, right)) = line.split_once('=') else { return false };
        if right.starts_with('=') {
            return false;
        }
        let left = left.trim_end().trim_end_matches(':').trim_end();
        let left = left.split_once(':').map_or(left, |(name, _type)| name.trim_end());
        left == name || left.rsplit(' ').next() == Some(name)
    };
    code.definitions.iter().rev().find(|d| assigns(&d.code))
}

/// Calls whose result is absent when what they look for is not there.
const OPTIONAL_RETURNING: &[&str] = &[
    ".get(",
    ".find(",
    ".find_by",
    ".first(",
    ".last(",
    "re.match(",
    "re.search(",
    ".match(",
    ".search(",
    ".querySelector(",
    ".getElementById(",
    "getattr(",
    ".pop(",
    ".firstOrNull(",
    ".orElse(null)",
    ".Load(",
];

fn explain(facts: &CrashFacts, code: &CodeContext, operation: &FailingOperation) -> Vec<Hypothesis> {
    let none = missing_word(facts.language);
    let site = facts.crash_site.as_ref();
    let crash_evidence = site.map(at);
    let variable =
        |name: &str| facts.variables.iter().find(|(n, _)| n == name).map(|(n, v)| format!("`{n} = {v}` at the crash"));
    let hypothesis = |summary: String, confidence: f32, mut evidence: Vec<String>| {
        if let Some(crash) = &crash_evidence {
            evidence.insert(0, crash.clone());
        }
        Hypothesis { summary, confidence, evidence: with_common_evidence(evidence, facts, code), by: BY.into() }
    };
    match operation {
        FailingOperation::SubscriptOfMissing { expression }
        | FailingOperation::AttributeOfMissing { expression, .. } => {
            let mut evidence: Vec<String> = variable(expression).into_iter().collect();
            match definition_of(code, expression) {
                Some(definition) => {
                    let value = definition.code.split_once('=').map_or("", |(_, v)| v).trim().trim_end_matches(';');
                    evidence.insert(0, format!("{}:{}: {}", definition.path, definition.line, definition.code));
                    let lookup = OPTIONAL_RETURNING.iter().find_map(|call| value.find(call).map(|at| (at, *call)));
                    match lookup {
                        Some((at, call)) => {
                            // The whole callee: `customers.get`, not just `.get`.
                            let end = at + call.trim_end_matches('(').len();
                            let start = value[..end]
                                .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
                                .map_or(0, |i| i + 1);
                            let call = &value[start..end];
                            let absent = key_of(value).map_or_else(
                                || "what it looks for is absent".to_owned(),
                                |key| format!("`{key}` is not a known {expression}"),
                            );
                            vec![hypothesis(
                                format!(
                                    "`{expression}` is {none} when {absent}: `{call}(...)` returns {none} for \
                                     unknown keys ({}:{})",
                                    definition.path, definition.line
                                ),
                                0.85,
                                evidence,
                            )]
                        }
                        None => vec![hypothesis(
                            format!(
                                "`{expression}` is {none}: it is assigned from `{value}` ({}:{}), which returned {none}",
                                definition.path, definition.line
                            ),
                            0.55,
                            evidence,
                        )],
                    }
                }
                None => {
                    let is_parameter = code.functions.first().is_some_and(|f| {
                        f.text.lines().next().is_some_and(|signature| contains_word(signature, expression))
                    });
                    if is_parameter {
                        evidence
                            .extend(code.callers.iter().take(3).map(|c| format!("{}:{}: {}", c.path, c.line, c.code)));
                        let function = site.and_then(|s| s.function.clone()).unwrap_or_else(|| "the function".into());
                        vec![hypothesis(
                            format!("`{expression}` arrives as {none} from a caller of `{function}`"),
                            0.5,
                            evidence,
                        )]
                    } else {
                        vec![hypothesis(format!("`{expression}` is {none} on the crash line"), 0.3, evidence)]
                    }
                }
            }
        }
        FailingOperation::MissingKey { container, key } => {
            let mut evidence = Vec::new();
            if let Some(definition) = definition_of(code, container) {
                evidence.push(format!("{}:{}: {}", definition.path, definition.line, definition.code));
            }
            vec![hypothesis(
                format!("`{container}` has no key {key}: the input lacks a field the code requires"),
                0.6,
                evidence,
            )]
        }
        FailingOperation::IndexOutOfRange { container, index, length } => {
            let index = index.as_deref().map_or(String::new(), |i| format!(" {i}"));
            let length = length.as_deref().map_or(String::new(), |l| format!(" (it has {l})"));
            let evidence: Vec<String> = variable(container).into_iter().collect();
            vec![hypothesis(
                format!("`{container}` has fewer items than the index{index} assumes{length}"),
                0.6,
                evidence,
            )]
        }
        FailingOperation::DivisionByZero { divisor } => {
            let evidence: Vec<String> = variable(divisor).into_iter().collect();
            let empty = divisor
                .strip_prefix("len(")
                .and_then(|rest| rest.strip_suffix(')'))
                .map_or(String::new(), |sized| format!(": `{sized}` is empty"));
            vec![hypothesis(format!("`{divisor}` is zero{empty}"), 0.6, evidence)]
        }
        FailingOperation::UnwrapNone { expression } => vec![hypothesis(
            format!("`{expression}` returned None and `unwrap()` turned that into a panic"),
            0.7,
            Vec::new(),
        )],
        FailingOperation::UnwrapErr { expression, error } => vec![hypothesis(
            format!("`{expression}` failed with `{error}` and `unwrap()` turned that into a panic"),
            0.7,
            Vec::new(),
        )],
        FailingOperation::NilMapWrite { map } => vec![hypothesis(
            format!("`{map}` is a nil map: it is declared but never made with `make`"),
            0.75,
            Vec::new(),
        )],
        FailingOperation::NilDereference { expression } => {
            let evidence: Vec<String> = variable(expression).into_iter().collect();
            vec![hypothesis(format!("`{expression}` is nil when it is dereferenced"), 0.5, evidence)]
        }
        FailingOperation::NumberParse { call, input } => {
            let input = input.as_deref().map_or("text".to_owned(), |i| format!("`{i}`"));
            vec![hypothesis(format!("`{call}` was given {input}, which is not a number"), 0.6, Vec::new())]
        }
        FailingOperation::Other { .. } => Vec::new(),
    }
}

/// The key of a lookup call: `order["customer"]` in `customers.get(order["customer"])`.
fn key_of(value: &str) -> Option<&str> {
    let open = value.find('(')?;
    let close = value.rfind(')')?;
    let arguments = value.get(open + 1..close)?.trim();
    let first = arguments.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        boundary(before) && boundary(after)
    })
}

fn restatement(facts: &CrashFacts, code: &CodeContext) -> Hypothesis {
    let place = facts.crash_site.as_ref().map(|s| format!(" at {}:{}", s.path, s.line)).unwrap_or_default();
    let what = if facts.message.is_empty() {
        facts.exception.clone()
    } else {
        format!("{}: {}", facts.exception, facts.message)
    };
    let mut evidence = Vec::new();
    if let Some(site) = &facts.crash_site {
        evidence.push(at(site));
    }
    if let Some(FailingOperation::Other { summary }) = &facts.failing_operation {
        evidence.push(summary.clone());
    }
    Hypothesis {
        summary: format!("Restatement, no rule matched: {what}{place}"),
        confidence: 0.1,
        evidence: with_common_evidence(evidence, facts, code),
        by: "offline restatement".into(),
    }
}
