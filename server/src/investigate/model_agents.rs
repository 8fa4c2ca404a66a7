//! The model-backed agents. The offline agents stay the floor: each model agent starts from their
//! result and adds to it, and falls back to it when the model fails, so a model outage never costs
//! an investigation.
//!
//! - [`ModelErrorAnalyzer`]: the parsed crash stays the source of truth; the model adds an
//!   explanation of what failed.
//! - [`ModelCodeSearch`]: the model explores with the workspace tools and names the places that
//!   matter; each is checked to exist before it joins the context.
//! - [`ModelRootCause`]: ranked hypotheses citing `file:line` evidence; every citation is checked
//!   against the file and marked when it cannot be verified.
//! - [`ModelProposer`]: a [`CandidateProposer`] whose edits are applied strictly and pass the
//!   change policy; the validator's verdict comes back to it as the next round's feedback.
//!
//! The pipeline's search runs the [`ModelProposer`] beside the offline proposers, judged by the
//! same validator and ranked with them.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use serde_json::Value;

use super::analyzer::OfflineErrorAnalyzer;
use super::code_search::OfflineCodeSearch;
use super::prompt::{self as context, command_output, system_prompt};
use super::root_cause::OfflineRootCause;
use super::search::{Candidate, CandidateProposer, Judged, ProposalContext};
use super::validator::{CrashOutcome, RungOutcome};
use super::{
    CodeContext, CodeRef, CodeSearch, CrashFacts, CrashInput, ErrorAnalyzer, FixProposal, Hypothesis, RootCauseAnalyst,
};
use crate::config::SandboxConfig;
use crate::model::edits::{apply_strictly, parse_answer};
use crate::model::tools::WorkspaceTools;
use crate::model::wire::Turn;
use crate::model::{ModelError, ModelSession};
use crate::sandbox::{ChangePolicy, FileEdit};
use crate::workspace::syntax::{self, SourceLanguage};

/// Tool calls the model may make in one answer before it must answer.
const MAX_TOOL_ROUNDS: usize = 8;
/// Lines of a failed command's output sent back to the model.
const FEEDBACK_OUTPUT_LINES: usize = 40;

/// Tokens of the first request's context: a share of the budget, so later rounds fit too.
fn context_tokens(session: &ModelSession) -> u64 {
    (session.budget().limits().tokens / 4).clamp(400, 32_000)
}

/// A conversation turn with tools: sends, runs the tools the model asks for, and returns its
/// final text. Older tool results are shortened when the conversation outgrows the budget.
fn converse(
    session: &ModelSession,
    system: &str,
    turns: &mut Vec<Turn>,
    tools: &WorkspaceTools,
) -> Result<String, ModelError> {
    let specs = WorkspaceTools::specs();
    for round in 0..=MAX_TOOL_ROUNDS {
        compact(session, system, turns);
        let answer = session.chat_blocking(system, turns, &specs)?;
        turns.push(Turn::Assistant { text: answer.text.clone(), tool_calls: answer.tool_calls.clone() });
        if answer.tool_calls.is_empty() {
            return Ok(answer.text);
        }
        let results = answer.tool_calls.iter().map(|call| tools.call(call)).collect();
        turns.push(Turn::ToolResults(results));
        if round + 1 == MAX_TOOL_ROUNDS {
            turns.push(Turn::User("That is enough exploring: give your answer now, without tool calls.".into()));
        }
    }
    Err(ModelError::Malformed(format!("the model kept calling tools after {MAX_TOOL_ROUNDS} rounds")))
}

/// Shortens the oldest tool results while the conversation would not fit the tokens left.
fn compact(session: &ModelSession, system: &str, turns: &mut [Turn]) {
    let record = session.record();
    let left = session.budget().limits().tokens.saturating_sub(record.tokens());
    let size = |turns: &[Turn]| -> u64 {
        let text: usize = turns
            .iter()
            .map(|t| match t {
                Turn::User(text) => text.len(),
                Turn::Assistant { text, tool_calls } => {
                    text.len() + tool_calls.iter().map(|c| c.raw_arguments.len()).sum::<usize>()
                }
                Turn::ToolResults(results) => results.iter().map(|r| r.content.len()).sum(),
            })
            .sum();
        ((text + system.len()) as u64).div_ceil(4) + 4096
    };
    let last = turns.len().saturating_sub(2);
    for i in 0..last {
        if size(turns) <= left {
            return;
        }
        if let Turn::ToolResults(results) = &mut turns[i] {
            for result in results.iter_mut() {
                result.content = "[left out to fit the budget]".into();
            }
        }
    }
}

/// A JSON object in a model's answer (bare, or in a ```json fence).
fn json_in(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str(text.get(start..=end)?).ok()
}

// ---------------------------------------------------------------- 1. Error Analyzer

/// The offline analysis, plus the model's explanation of what failed.
pub struct ModelErrorAnalyzer {
    session: ModelSession,
    explanation: Mutex<Option<String>>,
}

impl ModelErrorAnalyzer {
    pub fn new(session: ModelSession) -> Self {
        Self { session, explanation: Mutex::new(None) }
    }

    /// The model's explanation of the crash, in a few sentences.
    pub fn explain(&self, input: &CrashInput<'_>, facts: &CrashFacts) -> Result<String, ModelError> {
        let system = system_prompt(
            "Task: explain in two to four plain sentences what failed and why, for the engineer who will fix it. \
Do not propose a change yet. Answer with the explanation only.",
        );
        let mut turns = vec![Turn::User(format!("{}\n", context::crash_data(input.group, facts)))];
        let text = converse(&self.session, &system, &mut turns, &WorkspaceTools::new(&input.root))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(ModelError::Malformed("the explanation is empty".into()));
        }
        Ok(text.to_owned())
    }

    /// The explanation of the last [`ErrorAnalyzer::analyze`], when the model gave one.
    pub fn explanation(&self) -> Option<String> {
        self.explanation.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl ErrorAnalyzer for ModelErrorAnalyzer {
    fn analyze(&self, input: &CrashInput<'_>) -> CrashFacts {
        let facts = OfflineErrorAnalyzer.analyze(input);
        let explanation =
            self.explain(input, &facts).map_err(|e| self.session.budget().note_error(&e.to_string())).ok();
        *self.explanation.lock().unwrap_or_else(PoisonError::into_inner) = explanation;
        facts
    }
}

// ---------------------------------------------------------------- 2. Code Search

/// The offline code context, plus the places the model found with the workspace tools.
pub struct ModelCodeSearch {
    session: ModelSession,
}

#[derive(Deserialize)]
struct Location {
    path: String,
    line: u32,
    #[serde(default)]
    note: String,
}

impl ModelCodeSearch {
    pub fn new(session: ModelSession) -> Self {
        Self { session }
    }

    /// The places the model names, each checked to exist, as code references.
    pub fn explore(
        &self,
        input: &CrashInput<'_>,
        facts: &CrashFacts,
        code: &CodeContext,
    ) -> Result<Vec<CodeRef>, ModelError> {
        let system = system_prompt(
            "Task: find the code that matters for this crash: where the bad value comes from, the callers, the tests. \
Use the tools. Then answer with JSON only: {\"locations\": [{\"path\": \"relative/path\", \"line\": 12, \"note\": \"why it matters\"}]}.",
        );
        let built = context::build(input.group, facts, code, &[], context_tokens(&self.session));
        let mut turns = vec![Turn::User(built.text)];
        let tools = WorkspaceTools::new(&input.root);
        let text = converse(&self.session, &system, &mut turns, &tools)?;
        let value = json_in(&text).ok_or_else(|| ModelError::Malformed("the locations are not JSON".into()))?;
        let locations: Vec<Location> = serde_json::from_value(value["locations"].clone())
            .map_err(|e| ModelError::Malformed(format!("the locations cannot be read ({e})")))?;
        Ok(locations
            .into_iter()
            .filter_map(|l| {
                let text = std::fs::read_to_string(tools.resolve(&l.path).ok()?).ok()?;
                let line = text.lines().nth((l.line as usize).checked_sub(1)?)?;
                Some(CodeRef {
                    path: l.path,
                    line: l.line,
                    code: line.trim().to_owned(),
                    note: format!("model: {}", l.note),
                })
            })
            .collect())
    }
}

impl CodeSearch for ModelCodeSearch {
    fn search(&self, input: &CrashInput<'_>, facts: &CrashFacts) -> CodeContext {
        let mut code = OfflineCodeSearch.search(input, facts);
        match self.explore(input, facts, &code) {
            Ok(found) => {
                for r in found {
                    if !code.definitions.iter().chain(&code.callers).any(|c| c.path == r.path && c.line == r.line) {
                        code.definitions.push(r);
                    }
                }
            }
            Err(e) => self.session.budget().note_error(&e.to_string()),
        }
        code
    }
}

// ---------------------------------------------------------------- 3. Root Cause

/// The offline hypotheses and the model's, ranked together; the model's citations are checked.
pub struct ModelRootCause {
    session: ModelSession,
}

#[derive(Deserialize)]
struct ModelHypothesis {
    summary: String,
    #[serde(default)]
    confidence: f32,
    #[serde(default)]
    citations: Vec<Citation>,
}

#[derive(Deserialize)]
struct Citation {
    path: String,
    line: u32,
    #[serde(default)]
    quote: String,
}

/// Whether `path:line` exists and its text contains `quote` (whitespace-insensitive).
pub fn check_citation(root: &Path, path: &str, line: u32, quote: &str) -> Result<String, String> {
    let tools = WorkspaceTools::new(root);
    let full = tools.resolve(path)?;
    let text = std::fs::read_to_string(full).map_err(|e| format!("{path} cannot be read ({e})"))?;
    let Some(actual) = (line as usize).checked_sub(1).and_then(|i| text.lines().nth(i)) else {
        return Err(format!("{path} has no line {line}"));
    };
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if !quote.trim().is_empty() && !squash(actual).contains(&squash(quote)) {
        return Err(format!("line {line} of {path} does not say `{}`", quote.trim()));
    }
    Ok(actual.trim().to_owned())
}

impl ModelRootCause {
    pub fn new(session: ModelSession) -> Self {
        Self { session }
    }

    /// The model's hypotheses, citations checked: a checked one reads
    /// `shop/orders.py:26 `name = customer["name"]` (checked)`, an unverifiable one
    /// `shop/orders.py:99 (unverified: shop/orders.py has no line 99)` and lowers its confidence.
    pub fn model_hypotheses(
        &self,
        input: &CrashInput<'_>,
        facts: &CrashFacts,
        code: &CodeContext,
        offline: &[Hypothesis],
    ) -> Result<Vec<Hypothesis>, ModelError> {
        let system = system_prompt(
            "Task: rank the likely root causes of this crash. Cite evidence as file:line with the exact text of that line. \
Answer with JSON only: {\"hypotheses\": [{\"summary\": \"...\", \"confidence\": 0.0-1.0, \
\"citations\": [{\"path\": \"relative/path\", \"line\": 12, \"quote\": \"text on that line\"}]}]}.",
        );
        let built = context::build(input.group, facts, code, offline, context_tokens(&self.session));
        let mut turns = vec![Turn::User(built.text)];
        let text = converse(&self.session, &system, &mut turns, &WorkspaceTools::new(&input.root))?;
        let value = json_in(&text).ok_or_else(|| ModelError::Malformed("the hypotheses are not JSON".into()))?;
        let found: Vec<ModelHypothesis> = serde_json::from_value(value["hypotheses"].clone())
            .map_err(|e| ModelError::Malformed(format!("the hypotheses cannot be read ({e})")))?;
        Ok(found
            .into_iter()
            .filter(|h| !h.summary.trim().is_empty())
            .map(|h| {
                let mut checked = 0;
                let evidence: Vec<String> = h
                    .citations
                    .iter()
                    .map(|c| match check_citation(&input.root, &c.path, c.line, &c.quote) {
                        Ok(line) => {
                            checked += 1;
                            format!("{}:{} `{line}` (checked)", c.path, c.line)
                        }
                        Err(why) => format!("{}:{} (unverified: {why})", c.path, c.line),
                    })
                    .collect();
                let confidence = h.confidence.clamp(0.0, 1.0);
                Hypothesis {
                    summary: h.summary.trim().to_owned(),
                    confidence: if checked > 0 { confidence } else { confidence / 2.0 },
                    evidence,
                    by: self.session.name(),
                }
            })
            .collect())
    }
}

impl RootCauseAnalyst for ModelRootCause {
    fn hypotheses(&self, input: &CrashInput<'_>, facts: &CrashFacts, code: &CodeContext) -> Vec<Hypothesis> {
        let mut all = OfflineRootCause.hypotheses(input, facts, code);
        match self.model_hypotheses(input, facts, code, &all) {
            Ok(found) => all.extend(found),
            Err(e) => self.session.budget().note_error(&e.to_string()),
        }
        all.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        all
    }
}

// ---------------------------------------------------------------- 4. Fix Proposal

const FIX_TASK: &str = "Task: propose the smallest change to the workspace's source that fixes the root cause of the crash. \
Read the code with the tools first. Then answer with a first line `Summary: <one sentence>`, a short rationale, \
and the edits as SEARCH/REPLACE blocks:\n\npath/to/file.ext\n<<<<<<< SEARCH\nexact lines of today's file\n=======\nthe new lines\n>>>>>>> REPLACE\n\n\
or as a unified diff in a ```diff block. The SEARCH part must match today's file exactly, once.";

struct Conversation {
    system: String,
    turns: Vec<Turn>,
    /// Judged candidates already told to the model.
    told: usize,
    done: bool,
}

/// Proposes candidates with the model; the ladder's verdicts come back as feedback.
pub struct ModelProposer {
    session: ModelSession,
    policy: ChangePolicy,
    conversation: Mutex<Option<Conversation>>,
}

impl ModelProposer {
    pub fn new(session: ModelSession, sandbox: &SandboxConfig) -> Self {
        let policy = ChangePolicy {
            allow_ci_config: sandbox.allow_ci_config,
            allow_lockfiles: sandbox.allow_lockfiles,
            allow_secrets_files: sandbox.allow_secrets_files,
        };
        Self { session, policy, conversation: Mutex::new(None) }
    }

    pub fn session(&self) -> &ModelSession {
        &self.session
    }

    fn first_message(context: &ProposalContext<'_>, session: &ModelSession) -> String {
        let built = context::build(
            context.input.group,
            context.facts,
            context.code,
            context.hypotheses,
            context_tokens(session),
        );
        if !built.trimmed.is_empty() {
            tracing::info!("the model's context was trimmed to fit the budget: {}", built.trimmed.join(", "));
        }
        built.text
    }

    /// One candidate from the conversation, or nothing (the offline result stands).
    fn next_candidate(&self, conversation: &mut Conversation, input: &CrashInput<'_>) -> Option<Candidate> {
        let tools = WorkspaceTools::new(&input.root);
        let budget = self.session.budget();
        for attempt in 0..2 {
            let text = match converse(&self.session, &conversation.system, &mut conversation.turns, &tools) {
                Ok(text) => text,
                Err(error @ ModelError::Malformed(_)) if attempt == 0 => {
                    budget.note_error(&error.to_string());
                    // Ask the same again: drop a half-finished answer.
                    while matches!(conversation.turns.last(), Some(Turn::Assistant { .. } | Turn::ToolResults(_))) {
                        conversation.turns.pop();
                    }
                    continue;
                }
                Err(error) => {
                    tracing::warn!("{error}; the offline result stands");
                    budget.note_error(&error.to_string());
                    if !matches!(error, ModelError::Malformed(_)) {
                        conversation.done = true;
                    }
                    return None;
                }
            };
            let parsed = parse_answer(&text);
            let problems = if parsed.edits.is_empty() {
                let mut problems = parsed.problems.clone();
                problems.push("the answer has no edit I could read".into());
                problems
            } else {
                match apply_strictly(&input.root, &parsed.edits, &self.policy) {
                    Ok(changes) => return Some(self.candidate(input, &parsed.prose, changes)),
                    Err(problems) => problems,
                }
            };
            budget.note_error(&format!("the model's edits were not applied: {}", problems.join("; ")));
            conversation.turns.push(Turn::User(format!(
                "Your edits were not applied, nothing changed:\n- {}\n\nAnswer again with SEARCH/REPLACE blocks (or a ```diff block) whose SEARCH text matches today's file exactly once.",
                problems.join("\n- ")
            )));
        }
        None
    }

    fn candidate(&self, input: &CrashInput<'_>, prose: &str, changes: Vec<crate::sandbox::FileChange>) -> Candidate {
        let summary = prose
            .lines()
            .find_map(|l| l.trim().strip_prefix("Summary:").map(str::trim))
            .or_else(|| prose.lines().map(str::trim).find(|l| !l.is_empty()))
            .map(|s| s.chars().take(160).collect::<String>())
            .unwrap_or_else(|| format!("A change proposed by {}", self.session.name()));
        let rationale = prose.lines().filter(|l| !l.trim().starts_with("Summary:")).collect::<Vec<_>>().join("\n");
        let location = changes.first().map(|c| location_of(&input.root, c)).unwrap_or_default();
        Candidate {
            fix: FixProposal {
                summary,
                rationale: rationale.trim().chars().take(2000).collect(),
                changes,
                hides_symptom: false,
                by: self.session.name(),
            },
            family: "model".into(),
            location,
        }
    }
}

/// `path:function` of the first line a change touches.
fn location_of(root: &Path, change: &crate::sandbox::FileChange) -> String {
    let original = std::fs::read_to_string(root.join(&change.path)).unwrap_or_default();
    let row = match &change.edit {
        FileEdit::Replace { old, .. } => original.find(old.as_str()).map(|at| original[..at].lines().count()),
        FileEdit::Write { content } => original.lines().zip(content.lines()).position(|(a, b)| a != b),
        FileEdit::Delete => None,
    };
    let function = SourceLanguage::from_path(&change.path).zip(row).and_then(|(language, row)| {
        let spans = syntax::functions(language, &original);
        syntax::enclosing_function(&spans, row).map(|f| f.name.clone())
    });
    match function {
        Some(function) => format!("{}:{function}", change.path),
        None => change.path.clone(),
    }
}

/// What the ladder said about a candidate, for the model.
pub fn feedback(judged: &Judged) -> String {
    let report = &judged.report;
    let mut text = format!(
        "Crashloom tried your change \"{}\" in a sandbox: it {}.",
        judged.candidate.fix.summary,
        report.outcome_words()
    );
    if let Some(rung) = report
        .rungs
        .iter()
        .find(|r| matches!(r.outcome, RungOutcome::Failed | RungOutcome::ToolMissing | RungOutcome::Skipped))
    {
        text.push_str(&format!("\nThe step that did not pass: {} — {}", rung.name, rung.detail));
        if let Some(command) = rung.commands.iter().rev().find(|c| !c.output.trim().is_empty()) {
            let lines: Vec<&str> = command.output.lines().collect();
            let tail = lines[lines.len().saturating_sub(FEEDBACK_OUTPUT_LINES)..].join("\n");
            text.push_str(&format!(
                "\n`{}` ({}, {}):\n{}",
                command.command,
                command.when,
                command.status,
                command_output(&tail)
            ));
        }
    }
    if let Some(tests) = &report.tests
        && !tests.broken.is_empty()
    {
        text.push_str(&format!("\nTests it broke: {}", tests.broken.join(", ")));
    }
    text.push_str("\nYour change is not applied; the files are as they were. Propose another change.");
    text
}

/// The progress message of a round: `round 2: the reproduction still crashes, asking for another change`.
pub fn round_progress(round: usize, model: &str, judged: &[Judged]) -> String {
    let Some(last) = judged.iter().rev().find(|j| j.candidate.family == "model").filter(|_| round > 1) else {
        return format!("round {round}: asking {model} for a change");
    };
    let why = match (&last.report.outcome, last.report.tests.as_ref().is_some_and(|t| !t.broken.is_empty())) {
        (_, true) => "the change broke tests".to_owned(),
        (Some(CrashOutcome::NotFixed), _) => "the reproduction still crashes".to_owned(),
        (Some(CrashOutcome::Converted), _) => "the change turns the crash into another error".to_owned(),
        (Some(CrashOutcome::Fixed), _) => "the change did not pass every step".to_owned(),
        (None, _) => match last.report.rungs.iter().find(|r| r.outcome == RungOutcome::Failed) {
            Some(rung) => format!("it failed: {}", rung.name.to_lowercase()),
            None => "the change was not shown to fix the crash".to_owned(),
        },
    };
    format!("round {round}: {why}, asking for another change")
}

impl CandidateProposer for ModelProposer {
    fn name(&self) -> String {
        self.session.name()
    }

    fn propose(&self, context: &ProposalContext<'_>) -> Vec<Candidate> {
        if context.round > self.session.config().max_rounds {
            return Vec::new();
        }
        if context.judged.iter().any(|j| j.candidate.family == "model" && j.report.validated) {
            return Vec::new();
        }
        let mut guard = self.conversation.lock().unwrap_or_else(PoisonError::into_inner);
        let conversation = guard.get_or_insert_with(|| Conversation {
            system: system_prompt(FIX_TASK),
            turns: vec![Turn::User(Self::first_message(context, &self.session))],
            told: 0,
            done: false,
        });
        if conversation.done {
            return Vec::new();
        }
        let news: Vec<String> = context.judged[conversation.told.min(context.judged.len())..]
            .iter()
            .filter(|j| j.candidate.family == "model")
            .map(feedback)
            .collect();
        conversation.told = context.judged.len();
        if !news.is_empty() {
            conversation.turns.push(Turn::User(news.join("\n\n")));
        } else if context.round > 1 {
            // Nothing of ours was judged: nothing new to say.
            return Vec::new();
        }
        self.session.budget().set_rounds(context.round);
        self.next_candidate(conversation, context.input).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_are_checked_against_the_file() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("a.py"), "x = 1\nname = customer[\"name\"]\n").expect("write");
        assert_eq!(
            check_citation(root.path(), "a.py", 2, "customer[\"name\"]"),
            Ok("name = customer[\"name\"]".into())
        );
        assert!(check_citation(root.path(), "a.py", 3, "x").expect_err("no line").contains("no line 3"));
        assert!(check_citation(root.path(), "a.py", 1, "customer").expect_err("wrong text").contains("does not say"));
        assert!(check_citation(root.path(), "../a.py", 1, "x").is_err());
    }
}
