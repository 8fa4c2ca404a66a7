//! "Investigate crash" in the editor: the code actions on a crash diagnostic, the commands they
//! run, progress with cancel, the report opened with `window/showDocument`, and a validated fix
//! applied through `workspace/applyEdit`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tracing::Instrument;

use super::command::ServerCommand;
use super::convert::{Encoding, file_uri};
use super::diagnostics::SOURCE;
use super::state::{RunningInvestigation, State, client_reply, read};
use crate::investigate::apply;
use crate::investigate::history;
use crate::investigate::pipeline::{self, ChannelProgress, STEPS};
use crate::investigate::report::{REPORTS_DIR, write_report};
use crate::sandbox::FileEdit;

/// The actions offered on crash diagnostics in the requested range.
pub fn code_actions(state: &State, params: &CodeActionParams) -> Vec<CodeActionOrCommand> {
    let mut actions = Vec::new();
    let mut seen = Vec::new();
    let picture = state.picture();
    for diagnostic in &params.context.diagnostics {
        if diagnostic.source.as_deref() != Some(SOURCE) {
            continue;
        }
        let Some(group_id) = diagnostic.data.as_ref().and_then(|d| d.get("group")).and_then(Value::as_str) else {
            continue;
        };
        if seen.contains(&group_id) || picture.group_by_id(group_id).is_none() {
            continue;
        }
        seen.push(group_id);
        let short_id =
            diagnostic.data.as_ref().and_then(|d| d.get("shortId")).and_then(Value::as_str).unwrap_or(group_id);
        let action = |title: String, command: &str| {
            CodeActionOrCommand::CodeAction(CodeAction {
                title: title.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic.clone()]),
                command: Some(Command { title, command: command.to_owned(), arguments: Some(vec![json!(group_id)]) }),
                ..CodeAction::default()
            })
        };
        let investigation = state.investigations.get(group_id).map(|i| i.clone());
        if let Some(investigation) = &investigation
            && let Some(fix) = investigation.fix()
        {
            if investigation.is_validated() {
                actions.push(action(format!("Apply validated fix: {}", fix.summary), ServerCommand::ApplyFix.name()));
                actions.push(action(format!("Show fix for {short_id} (validated)"), ServerCommand::ShowFix.name()));
            } else {
                actions.push(action(format!("Show fix for {short_id} (NOT validated)"), ServerCommand::ShowFix.name()));
            }
            // The other validated candidates the search found, each as its own choice.
            for (index, alternative) in investigation.candidates.iter().enumerate().skip(1) {
                if !alternative.report.as_ref().is_some_and(|r| r.validated) {
                    continue;
                }
                let hides = if alternative.candidate.fix.hides_symptom { " (hides the symptom)" } else { "" };
                let title = format!("Apply alternative {}{hides}: {}", index + 1, alternative.candidate.fix.summary);
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: title.clone(),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diagnostic.clone()]),
                    command: Some(Command {
                        title,
                        command: ServerCommand::ApplyFix.name().to_owned(),
                        arguments: Some(vec![json!(group_id), json!(index)]),
                    }),
                    ..CodeAction::default()
                }));
            }
        }
        if let Some(investigation) = &investigation
            && let Some(settings) = read(&state.config).pull_request.as_ref()
            && crate::publish::check_publishable(investigation, settings).is_ok()
        {
            actions.push(action("Open pull request with this fix".to_owned(), ServerCommand::OpenPullRequest.name()));
        }
        if investigation.is_some() {
            actions.push(action(format!("Show crash report {short_id}"), ServerCommand::ShowReport.name()));
        }
        actions.push(action(format!("Investigate crash {short_id}"), ServerCommand::Investigate.name()));
        actions.extend(super::sentry::code_actions(state, group_id, diagnostic));
    }
    actions
}

/// The group id a command was given.
fn group_argument(params: &ExecuteCommandParams) -> Result<String> {
    params
        .arguments
        .first()
        .and_then(|a| {
            a.as_str().map(str::to_owned).or_else(|| a.get("group").and_then(Value::as_str).map(str::to_owned))
        })
        .ok_or_else(|| Error::invalid_params(format!("{} needs the crash group id as its argument", params.command)))
}

/// Starts the investigation of one crash group and answers at once with `{started, token}`: the
/// work runs in its own task, reports through `$/progress` (token `token`) and opens the report
/// with `window/showDocument`. A second request for a crash under investigation joins the running
/// one (`started: false`, same token).
pub async fn investigate(state: &Arc<State>, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let group_id = group_argument(&params)?;
    let Some(root) = state.root() else { return Err(Error::invalid_request()) };
    let Some(group) = state.picture().group_by_id(&group_id).cloned() else {
        return Err(Error::invalid_params(format!("no crash group {group_id} (it may have been resolved)")));
    };
    let running = match state.running.entry(group.id.clone()) {
        dashmap::Entry::Occupied(running) => {
            return Ok(Some(json!({"started": false, "token": running.get().token})));
        }
        dashmap::Entry::Vacant(vacant) => {
            let token = format!("crashloom-investigate-{}-{}", group.short_id, state.next_progress_id());
            vacant.insert(RunningInvestigation { token, cancelled: Arc::new(AtomicBool::new(false)) }).clone()
        }
    };
    let config = read(&state.config).clone();
    let token = running.token.clone();
    let task_state = state.clone();
    tokio::spawn(async move {
        let span = tracing::info_span!("investigation", crash = %group.short_id);
        let finished = tokio::spawn(run_investigation(task_state.clone(), root, group, config, running.clone()))
            .instrument(span)
            .await;
        if let Err(e) = finished {
            tracing::error!("the investigation stopped unexpectedly: {e}");
            task_state
                .client
                .show_message(MessageType::ERROR, format!("Crashloom: the investigation stopped unexpectedly: {e}"))
                .await;
        }
        task_state.running.remove_if(&group_id, |_, entry| entry.token == running.token);
    });
    Ok(Some(json!({"started": true, "token": token})))
}

/// The user pressed cancel on an investigation's progress: it stops, and a new request for the
/// same crash starts afresh.
pub fn cancel(state: &State, token: &str) {
    let group = state.running.iter().find(|entry| entry.token == token).map(|entry| entry.key().clone());
    if let Some((_, running)) = group.and_then(|group| state.running.remove(&group)) {
        running.cancelled.store(true, Ordering::Release);
    }
}

/// The investigation itself: progress, the pipeline, the report, the history.
async fn run_investigation(
    state: Arc<State>,
    root: std::path::PathBuf,
    group: crate::workspace::sites::CrashGroup,
    config: Arc<crate::config::Config>,
    running: RunningInvestigation,
) {
    let token = NumberOrString::String(running.token.clone());
    let support = state.client_support();
    let progress_created = support.work_done_progress
        && client_reply("window/workDoneProgress/create", state.client.create_work_done_progress(token.clone()))
            .await
            .is_some();
    let ongoing = if progress_created {
        Some(
            state
                .client
                .progress(token.clone(), format!("Investigating crash {}", group.short_id))
                .with_message(STEPS[0])
                .with_percentage(0)
                .with_cancel_button()
                .begin()
                .await,
        )
    } else {
        None
    };

    let (steps, mut step_reports) = mpsc::unbounded_channel();
    let reporter = Arc::new(ChannelProgress { steps, cancelled: running.cancelled.clone() });
    let run = tokio::spawn(pipeline::investigate(root.clone(), group.clone(), config, reporter));
    tokio::pin!(run);
    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            Some((index, message)) = step_reports.recv() => {
                tracing::info!(step = STEPS[index], "{message}");
                if let Some(ongoing) = &ongoing {
                    let percentage = (index * 100 / STEPS.len()) as u32;
                    ongoing.report_with_message(format!("{}: {message}", STEPS[index]), percentage, Some(true)).await;
                }
            }
        }
    };
    let investigation = match result {
        Ok(Ok(investigation)) => investigation,
        Ok(Err(e)) => {
            let message = format!("Crash {}: {e}", group.short_id);
            if let Some(ongoing) = ongoing {
                ongoing.finish_with_message(message.clone()).await;
            }
            if !matches!(e, pipeline::InvestigateError::Cancelled) {
                state.client.show_message(MessageType::ERROR, &message).await;
            }
            return;
        }
        Err(e) => {
            let message = format!("Crash {}: the investigation stopped unexpectedly: {e}", group.short_id);
            if let Some(ongoing) = ongoing {
                ongoing.finish_with_message(message.clone()).await;
            }
            state.client.show_message(MessageType::ERROR, &message).await;
            return;
        }
    };
    let investigation = Arc::new(investigation);
    let kept = {
        let (root, investigation) = (root.clone(), investigation.clone());
        tokio::task::spawn_blocking(move || history::keep(&root, &investigation))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    };
    let verdict = match (investigation.fix(), investigation.is_validated()) {
        (Some(_), true) => "validated fix ready",
        (Some(_), false) => "fix NOT validated",
        (None, _) => "no confident fix",
    };
    state.investigations.insert(group.id.clone(), investigation);
    if let Some(ongoing) = ongoing {
        ongoing.finish_with_message(format!("Crash {}: {verdict}", group.short_id)).await;
    }
    match kept {
        Ok(report_path) => open(&state, &report_path).await,
        Err(problem) => state.client.show_message(MessageType::ERROR, format!("Crashloom: {problem}")).await,
    }
}

/// Applies the kept fix of a group as an ordinary edit, after re-validating it if the files it
/// touches changed since it was validated. An unvalidated fix is never applied from here.
pub async fn apply_fix(state: &Arc<State>, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let group_id = group_argument(&params)?;
    let Some(root) = state.root() else { return Err(Error::invalid_request()) };
    let Some(investigation) = state.investigations.get(&group_id).map(|i| i.clone()) else {
        return Err(Error::invalid_params(format!("crash {group_id} has not been investigated yet")));
    };
    // A second argument picks another candidate of the search (its index in the ranking, the
    // fix itself being 0); the investigation numbers them from 1.
    let alternative = params.arguments.get(1).and_then(Value::as_u64).map(|n| n as usize).filter(|n| *n > 0);
    let choice = match apply::choose(&investigation, alternative.map(|index| index + 1)) {
        Ok(choice) => choice,
        Err(refusal) => return Err(Error::invalid_params(refusal.to_string())),
    };
    if !choice.is_validated() {
        state
            .client
            .show_message(
                MessageType::WARNING,
                format!("The fix for {} is not validated; it is not applied.", investigation.short_id),
            )
            .await;
        return Ok(Some(json!({"applied": false, "reason": "not validated"})));
    }
    let fix = choice.fix;
    let stale = state.documents_differ_from_disk(&fix.changes).await;
    let group = state.picture().group_by_id(&group_id).cloned();
    let config = read(&state.config).clone();
    if let Err(refusal) =
        apply::revalidate_if_needed(&root, &config, group.as_ref(), &investigation, &choice, stale).await
    {
        tracing::info!("{refusal}");
        let message = format!(
            "The files the fix for {} touches changed since it was validated, and it does not validate any more; investigate again.",
            investigation.short_id
        );
        state.client.show_message(MessageType::WARNING, &message).await;
        return Ok(Some(json!({"applied": false, "reason": "no longer validates"})));
    }
    let on_disk = {
        let paths: Vec<std::path::PathBuf> = fix.changes.iter().map(|c| root.join(&c.path)).collect();
        tokio::task::spawn_blocking(move || {
            paths.iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect::<Vec<String>>()
        })
        .await
        .unwrap_or_default()
    };
    let edit = match workspace_edit(state, &root, fix, &on_disk) {
        Ok(edit) => edit,
        Err(problem) => {
            state.client.show_message(MessageType::ERROR, format!("Cannot apply the fix: {problem}")).await;
            return Ok(Some(json!({"applied": false, "reason": problem})));
        }
    };
    let Some(response) = client_reply("workspace/applyEdit", state.client.apply_edit(edit)).await else {
        return Ok(Some(json!({"applied": false, "reason": "the editor did not apply the edit"})));
    };
    Ok(Some(json!({"applied": response.applied, "reason": response.failure_reason})))
}

/// Opens a pull request with the crash's validated fix (`[pull_request]`), from a clean worktree,
/// and shows its page; every refusal is one sentence in a message.
pub async fn open_pull_request(state: &Arc<State>, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let group_id = group_argument(&params)?;
    let Some(root) = state.root() else { return Err(Error::invalid_request()) };
    let Some(investigation) = state.investigations.get(&group_id).map(|i| i.clone()) else {
        return Err(Error::invalid_params(format!("crash {group_id} has not been investigated yet")));
    };
    let Some(group) = state.picture().group_by_id(&group_id).cloned() else {
        return Err(Error::invalid_params(format!("no crash group {group_id} (it may have been resolved)")));
    };
    let config = read(&state.config).clone();
    match crate::publish::open_pull_request(&root, &config, &group, &investigation).await {
        Ok(outcome) => {
            state.client.show_message(MessageType::INFO, format!("Crashloom: {}", outcome.describe())).await;
            if let Some(url) = outcome.url().and_then(|url| url.parse::<Uri>().ok()) {
                let show = ShowDocumentParams { uri: url, external: Some(true), take_focus: None, selection: None };
                let _ = client_reply("window/showDocument", state.client.show_document(show)).await;
            }
            Ok(Some(json!({"opened": true, "url": outcome.url(), "message": outcome.describe()})))
        }
        Err(error) => {
            let message = format!("Crashloom: no pull request for {}: {error}", investigation.short_id);
            state.client.show_message(MessageType::WARNING, &message).await;
            Ok(Some(json!({"opened": false, "reason": error.to_string()})))
        }
    }
}

/// Writes the fix as a diff next to the report and opens it.
pub async fn show_fix(state: &Arc<State>, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let group_id = group_argument(&params)?;
    let Some(root) = state.root() else { return Err(Error::invalid_request()) };
    let Some(investigation) = state.investigations.get(&group_id).map(|i| i.clone()) else {
        return Err(Error::invalid_params(format!("crash {group_id} has not been investigated yet")));
    };
    let header = if investigation.is_validated() {
        format!("# Validated fix for crash {}\n", investigation.short_id)
    } else {
        format!("# NOT VALIDATED: a suggested fix for crash {}; read it, do not trust it\n", investigation.short_id)
    };
    // The short id may come from Sentry: only its safe characters name the file.
    let path = root.join(REPORTS_DIR).join(format!("{}.diff", file_stem(&investigation.short_id)));
    let body = format!("{header}{}", investigation.diff.as_deref().unwrap_or(""));
    let (folder, written) = (root.join(REPORTS_DIR), path.clone());
    tokio::task::spawn_blocking(move || std::fs::create_dir_all(folder).and_then(|_| std::fs::write(written, body)))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|e| internal(format!("cannot write {}: {e}", path.display())))?;
    open(state, &path).await;
    Ok(None)
}

pub async fn show_report(state: &Arc<State>, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let group_id = group_argument(&params)?;
    let Some(root) = state.root() else { return Err(Error::invalid_request()) };
    let Some(investigation) = state.investigations.get(&group_id).map(|i| i.clone()) else {
        return Err(Error::invalid_params(format!("crash {group_id} has not been investigated yet")));
    };
    let path = tokio::task::spawn_blocking(move || write_report(&root, &investigation))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|e| internal(e.to_string()))?;
    open(state, &path).await;
    Ok(None)
}

/// Asks the client to show a file, when it can; its answer is not waited for long.
async fn open(state: &State, path: &std::path::Path) {
    if !state.client_support().show_document {
        return;
    }
    if let Some(uri) = Uri::from_file_path(path) {
        let params = ShowDocumentParams { uri, external: Some(false), take_focus: Some(true), selection: None };
        client_reply("window/showDocument", state.client.show_document(params)).await;
    }
}

/// A file name made of `id`'s letters, digits, `-` and `_` (others become `_`), at most 64 long.
pub fn file_stem(id: &str) -> String {
    let stem: String =
        id.chars().take(64).map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if stem.trim_matches('_').is_empty() { "crash".to_owned() } else { stem }
}

fn internal(message: String) -> Error {
    Error { code: tower_lsp_server::jsonrpc::ErrorCode::InternalError, message: message.into(), data: None }
}

pub fn token_key(token: &NumberOrString) -> String {
    match token {
        NumberOrString::Number(n) => n.to_string(),
        NumberOrString::String(s) => s.clone(),
    }
}

/// The fix as text edits on today's text (the open document's when open). Sent versioned
/// (`documentChanges`, with the open document's version) to clients that accept it, so an editor
/// refuses it rather than applying it to text that changed meanwhile.
fn workspace_edit(
    state: &State,
    root: &std::path::Path,
    fix: &crate::investigate::FixProposal,
    on_disk: &[String],
) -> std::result::Result<WorkspaceEdit, String> {
    let encoding = state.encoding();
    let mut by_file: Vec<(Uri, Option<i32>, Vec<TextEdit>)> = Vec::new();
    for (index, change) in fix.changes.iter().enumerate() {
        let uri = file_uri(root, &change.path).ok_or_else(|| format!("{} is not a file path", change.path))?;
        let open = state.documents.get(uri.as_str()).map(|d| (d.text.to_string(), d.version));
        let (text, version) = match open {
            Some((text, version)) => (text, Some(version)),
            None => (on_disk.get(index).cloned().unwrap_or_default(), None),
        };
        let edit = match &change.edit {
            FileEdit::Replace { old, new } => {
                let mut found = text.match_indices(old.as_str());
                let (Some((start, _)), None) = (found.next(), found.next()) else {
                    return Err(format!(
                        "the code the fix replaces in {} is no longer there exactly once",
                        change.path
                    ));
                };
                TextEdit {
                    range: Range::new(
                        position_at(&text, start, encoding),
                        position_at(&text, start + old.len(), encoding),
                    ),
                    new_text: new.clone(),
                }
            }
            FileEdit::Write { content } => TextEdit {
                range: Range::new(Position::new(0, 0), position_at(&text, text.len(), encoding)),
                new_text: content.clone(),
            },
            FileEdit::Delete => return Err(format!("the fix deletes {}; apply it by hand", change.path)),
        };
        match by_file.iter_mut().find(|(u, _, _)| *u == uri) {
            Some((_, _, edits)) => edits.push(edit),
            None => by_file.push((uri, version, vec![edit])),
        }
    }
    if state.client_support().document_changes {
        let edits = by_file
            .into_iter()
            .map(|(uri, version, edits)| TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier { uri, version },
                edits: edits.into_iter().map(OneOf::Left).collect(),
            })
            .collect();
        return Ok(WorkspaceEdit { document_changes: Some(DocumentChanges::Edits(edits)), ..WorkspaceEdit::default() });
    }
    let changes: HashMap<Uri, Vec<TextEdit>> = by_file.into_iter().map(|(uri, _, edits)| (uri, edits)).collect();
    Ok(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() })
}

/// The protocol position of a byte offset in `text`.
fn position_at(text: &str, offset: usize, encoding: Encoding) -> Position {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = encoding.column_of(&before[line_start..], usize::MAX);
    Position::new(line as u32, column)
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn a_short_id_from_sentry_names_a_file_inside_the_reports_folder() {
        assert_eq!(file_stem("SHOP-PY-1A"), "SHOP-PY-1A");
        assert_eq!(file_stem("../../etc/passwd"), "______etc_passwd");
        assert_eq!(file_stem("a/b\\c:d\0e"), "a_b_c_d_e");
        assert_eq!(file_stem(".."), "crash");
        assert_eq!(file_stem(""), "crash");
        assert_eq!(file_stem(&"x".repeat(300)).len(), 64);
    }
}
