//! The MCP server: `tools/list` and `tools/call`, one small function per tool. Every tool reads the
//! workspace afresh (the configuration, the crash sources, the picture) with the engine the
//! command line uses, investigates with the same pipeline, keeps investigations in the same
//! history the editor reads, and applies fixes through [`crate::investigate::apply`].
//!
//! An unknown tool is a protocol error (-32602); bad arguments and everything a tool cannot do
//! are tool errors (`isError`) whose text says why, so the agent can correct itself. A panic in a
//! tool becomes a tool error too; the session goes on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use tokio::sync::mpsc;

use super::answers;
use super::tools::{ApplyFixArgs, Call, CallError, CrashArgs, InvestigateArgs, ListCrashesArgs, parse_call, specs};
use crate::config::Config;
use crate::engine;
use crate::investigate::apply::apply_validated_fix;
use crate::investigate::history::{self, InvestigationHistory};
use crate::investigate::pipeline::{self, ChannelProgress, Investigation, STEPS};
use crate::investigate::report::report_path;
use crate::source::files::FilesSource;
use crate::source::store::store_path;
use crate::workspace::index::WorkspaceIndex;
use crate::workspace::sites::{CrashGroup, CrashPicture};

/// What a tool answers: a JSON value, or why it could not.
type Answer = Result<Value, String>;

/// The server of one workspace.
pub struct CrashloomMcp {
    root: PathBuf,
    /// Group ids under investigation, so a second request for the same crash does not start a
    /// second sandbox.
    running: Arc<Mutex<HashSet<String>>>,
}

impl CrashloomMcp {
    pub fn new(root: PathBuf) -> Self {
        CrashloomMcp { root, running: Arc::default() }
    }
}

const INSTRUCTIONS: &str = "Crashloom shows the production crashes of this workspace (list_crashes, get_crash), \
investigates one (investigate: a fix proven in a sandbox, or the reason there is none) and applies a validated \
fix (apply_fix). Only a fix whose proof says `validated` is applied; read get_fix before applying.";

impl ServerHandler for CrashloomMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("crashloom", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let tools = specs().into_iter().map(|spec| Tool::new(spec.name, spec.description, spec.input_schema)).collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let call = match parse_call(&request.name, request.arguments) {
            Ok(call) => call,
            Err(unknown @ CallError::UnknownTool(_)) => {
                return Err(McpError::invalid_params(unknown.to_string(), None));
            }
            Err(bad) => return Ok(tool_error(bad.to_string()).into()),
        };
        let name = request.name.to_string();
        let (root, running) = (self.root.clone(), self.running.clone());
        let token = context.meta.get_progress_token().or_else(|| request.meta.and_then(|m| m.get_progress_token()));
        // Each call in a task of its own: a panic in one is a tool error, and the session goes on.
        let task = tokio::spawn(async move {
            match call {
                Call::ListCrashes(args) => blocking("list_crashes", move || list_crashes(&root, &args)).await,
                Call::GetCrash(args) => blocking("get_crash", move || get_crash(&root, &args)).await,
                Call::GetFix(args) => blocking("get_fix", move || get_fix(&root, &args)).await,
                Call::Investigate(args) => investigate(root, running, args, token, context).await,
                Call::ApplyFix(args) => apply_fix(root, args).await,
            }
        });
        let answer = task.await.unwrap_or_else(|e| {
            tracing::error!("{name} stopped unexpectedly: {e}");
            Err(format!("{name} stopped unexpectedly: {e}"))
        });
        Ok(match answer {
            Ok(value) => CallToolResult::structured(value),
            Err(message) => tool_error(message),
        }
        .into())
    }
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// Runs a tool's blocking work off the async threads; a panic in it becomes a tool error.
async fn blocking(tool: &str, work: impl FnOnce() -> Answer + Send + 'static) -> Answer {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        tracing::error!("{tool} stopped unexpectedly: {e}");
        Err(format!("{tool} stopped unexpectedly: {e}"))
    })
}

/// The workspace as the engine sees it today.
struct Workspace {
    config: Config,
    index: WorkspaceIndex,
    picture: CrashPicture,
    problems: Vec<String>,
}

fn load(root: &Path) -> Result<Workspace, String> {
    let config = Config::load(root).map_err(|e| e.to_string())?;
    let mut files = FilesSource::default();
    let (index, report) = engine::index_and_read(root, &config, &mut files);
    let index = index.map_err(|e| format!("cannot index {}: {e}", root.display()))?;
    let loaded = engine::build(&config, &index, report, &engine::text_from_disk(root));
    Ok(Workspace { config, index, picture: loaded.picture, problems: loaded.problems })
}

/// The group a `crash` argument names, or a sentence with the groups there are.
fn find_group<'a>(root: &Path, picture: &'a CrashPicture, crash: &str) -> Result<&'a CrashGroup, String> {
    let crash = crash.trim();
    picture.group_by_id(crash).ok_or_else(|| {
        let known: Vec<&str> = picture.groups.iter().map(|g| g.short_id.as_str()).collect();
        format!(
            "no crash group {crash} in {}; known: {} (list_crashes shows them)",
            root.display(),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        )
    })
}

fn list_crashes(root: &Path, args: &ListCrashesArgs) -> Answer {
    let workspace = load(root)?;
    Ok(answers::crash_list(root, &workspace.picture, &workspace.problems, args))
}

fn get_crash(root: &Path, args: &CrashArgs) -> Answer {
    let workspace = load(root)?;
    let group = find_group(root, &workspace.picture, &args.crash)?;
    Ok(answers::crash_detail(group, &workspace.index, &workspace.config.mapping))
}

/// The last investigation of the crash `crash` names: by the group the workspace shows, else by
/// the short id the history kept (a crash no longer in the sources).
fn last_investigation(root: &Path, picture: &CrashPicture, crash: &str) -> Result<Option<Investigation>, String> {
    let history = InvestigationHistory::open(&store_path(root)).map_err(|e| e.to_string())?;
    if let Some(group) = picture.group_by_id(crash.trim()) {
        return history.latest(&group.id).map_err(|e| e.to_string());
    }
    let all = history.all().map_err(|e| e.to_string())?;
    Ok(all.into_iter().find(|i| i.group_id == crash.trim() || i.short_id.eq_ignore_ascii_case(crash.trim())))
}

fn not_investigated(crash: &str) -> String {
    format!("crash {} has not been investigated yet; call investigate first", crash.trim())
}

fn get_fix(root: &Path, args: &CrashArgs) -> Answer {
    let workspace = load(root)?;
    let Some(investigation) = last_investigation(root, &workspace.picture, &args.crash)? else {
        find_group(root, &workspace.picture, &args.crash)?;
        return Err(not_investigated(&args.crash));
    };
    let report = report_path(root, &investigation.short_id);
    Ok(answers::investigation(root, &investigation, report.is_file().then_some(report.as_path())))
}

async fn apply_fix(root: PathBuf, args: ApplyFixArgs) -> Answer {
    let (config, group, investigation) = {
        let (root, crash) = (root.clone(), args.crash.clone());
        tokio::task::spawn_blocking(move || {
            let workspace = load(&root)?;
            let Some(investigation) = last_investigation(&root, &workspace.picture, &crash)? else {
                find_group(&root, &workspace.picture, &crash)?;
                return Err(not_investigated(&crash));
            };
            let group = workspace.picture.group_by_id(&investigation.group_id).cloned();
            Ok((workspace.config, group, investigation))
        })
        .await
        .map_err(|e| format!("apply_fix stopped unexpectedly: {e}"))??
    };
    let applied = apply_validated_fix(&root, &config, group.as_ref(), &investigation, args.candidate)
        .await
        .map_err(|refusal| refusal.to_string())?;
    Ok(serde_json::json!({
        "applied": true,
        "short_id": investigation.short_id,
        "candidate": applied.candidate,
        "summary": applied.summary,
        "files": applied.files,
        "revalidated": applied.revalidated.as_ref().map(answers::proof),
    }))
}

/// Removes a group from the running set when the investigation ends, however it ends.
struct RunningGuard {
    running: Arc<Mutex<HashSet<String>>>,
    group_id: String,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.group_id);
    }
}

/// Progress values that always increase: the step's number, and within a step that reports
/// several times, halfway to the next each time.
#[derive(Default)]
pub struct ProgressValue {
    last: Option<(usize, f64)>,
}

impl ProgressValue {
    pub fn next(&mut self, step: usize) -> f64 {
        let value = match self.last {
            Some((last_step, last)) if last_step >= step => last + (last.floor() + 1.0 - last) / 2.0,
            _ => step as f64,
        };
        self.last = Some((step.max(self.last.map_or(0, |(s, _)| s)), value));
        value
    }
}

/// Runs the pipeline on one crash group, as `crashloom investigate` does, reporting progress to
/// `token`; keeps the result in the history and writes the report, as the editor does.
async fn investigate(
    root: PathBuf,
    running: Arc<Mutex<HashSet<String>>>,
    args: InvestigateArgs,
    token: Option<ProgressToken>,
    context: RequestContext<RoleServer>,
) -> Answer {
    let (config, group) = {
        let (root, crash) = (root.clone(), args.crash.clone());
        tokio::task::spawn_blocking(move || {
            let workspace = load(&root)?;
            let group = find_group(&root, &workspace.picture, &crash)?.clone();
            Ok::<_, String>((workspace.config, group))
        })
        .await
        .map_err(|e| format!("investigate stopped unexpectedly: {e}"))??
    };
    let guard = {
        let mut under_way = running.lock().unwrap_or_else(PoisonError::into_inner);
        if !under_way.insert(group.id.clone()) {
            return Err(format!(
                "crash {} is already being investigated in this session; call get_fix when it is done",
                group.short_id
            ));
        }
        RunningGuard { running: running.clone(), group_id: group.id.clone() }
    };
    let mut config = config;
    if args.offline {
        config.model = None;
    }

    let cancelled = Arc::new(AtomicBool::new(false));
    let watch_cancel = {
        let (ct, cancelled) = (context.ct.clone(), cancelled.clone());
        tokio::spawn(async move {
            ct.cancelled().await;
            cancelled.store(true, Ordering::Release);
        })
    };
    let (steps, mut step_reports) = mpsc::unbounded_channel();
    let reporter = Arc::new(ChannelProgress { steps, cancelled });
    let run = tokio::spawn(pipeline::investigate(root.clone(), group.clone(), Arc::new(config), reporter));
    tokio::pin!(run);
    let mut value = ProgressValue::default();
    let peer = context.peer.clone();
    let send = |index: usize, message: String, value: f64| {
        let (peer, token) = (peer.clone(), token.clone());
        async move {
            tracing::info!(step = STEPS.get(index).unwrap_or(&"step"), "{message}");
            if let Some(token) = token {
                let text = format!("{}: {message}", STEPS.get(index).unwrap_or(&"step"));
                let note =
                    ProgressNotificationParam::new(token, value).with_total(STEPS.len() as f64).with_message(text);
                if let Err(e) = peer.notify_progress(note).await {
                    tracing::debug!("a progress notification was not sent: {e}");
                }
            }
        }
    };
    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            Some((index, message)) = step_reports.recv() => send(index, message, value.next(index)).await,
        }
    };
    // Steps reported just before the end still go out before the answer.
    while let Ok((index, message)) = step_reports.try_recv() {
        send(index, message, value.next(index)).await;
    }
    watch_cancel.abort();
    let investigation = match result {
        Ok(Ok(investigation)) => investigation,
        Ok(Err(e)) => {
            // The crash may be investigated again from here on.
            drop(guard);
            let message = format!("crash {}: {e}", group.short_id);
            tracing::info!("{message}");
            return Err(message);
        }
        Err(e) => return Err(format!("crash {}: the investigation stopped unexpectedly: {e}", group.short_id)),
    };
    let kept = {
        let (root, investigation) = (root.clone(), investigation.clone());
        tokio::task::spawn_blocking(move || history::keep(&root, &investigation))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    };
    let mut answer = {
        let (root, investigation, report) = (root.clone(), investigation.clone(), kept.clone().ok());
        tokio::task::spawn_blocking(move || answers::investigation(&root, &investigation, report.as_deref()))
            .await
            .map_err(|e| format!("investigate stopped unexpectedly: {e}"))?
    };
    if let (Err(problem), Some(object)) = (kept, answer.as_object_mut()) {
        object.insert("report_problem".to_owned(), Value::String(problem));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::ProgressValue;

    #[test]
    fn progress_always_increases_and_stays_below_the_next_step() {
        let mut value = ProgressValue::default();
        let seen: Vec<f64> = [0, 1, 2, 3, 4, 4, 4, 4, 2].iter().map(|step| value.next(*step)).collect();
        assert_eq!(seen[..5], [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(seen[5..], [4.5, 4.75, 4.875, 4.9375]);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    }
}
