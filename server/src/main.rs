//! The `crashloom` command: the language server, the MCP server for coding agents, and the
//! command-line jobs.

mod progress;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

/// mimalloc gives freed memory back to the system, so the server shrinks again after a big crash
/// file goes (glibc's allocator kept it), and allocates the crash model's many small strings faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use crashloom::config::Config;
use crashloom::investigate::pipeline::{self, Investigation};
use crashloom::investigate::validator::RungOutcome;
use crashloom::investigate::{FixOutcome, report};
use crashloom::source::collector::{Collector, CollectorConfig, random_hex_id};
use crashloom::source::store::store_path;
use crashloom::{engine, report as crashes_report};
use progress::TerminalProgress;

#[derive(Parser)]
#[command(name = "crashloom", version, about = "Production crashes in the editor, and fixes proven in a sandbox")]
struct Cli {
    /// Show the log (`-v` for info, `-vv` for debug); `CRASHLOOM_LOG` or `RUST_LOG` set the filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Speak the Language Server Protocol over stdin/stdout (what editors start).
    Lsp {
        /// Accepted for editors that pass it; stdio is the only transport.
        #[arg(long, hide = true)]
        stdio: bool,
    },
    /// Speak the Model Context Protocol over stdin/stdout, for coding agents (Claude Code, Cursor):
    /// list crashes, get one with its mapped frames, investigate, get and apply a validated fix.
    Mcp {
        /// The workspace folder.
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
    },
    /// Print the crash groups of a workspace and where their frames are.
    Crashes {
        /// The workspace folder.
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Accept crash reports from any Sentry SDK (point its DSN at the printed address) and keep
    /// them in the workspace's crash inbox, where the editor shows them.
    Collect {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8990")]
        listen: SocketAddr,
        /// The workspace whose inbox (`.crashloom/crashloom.db`) receives the crashes.
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
        /// Another store file instead of the workspace's.
        #[arg(long)]
        store: Option<PathBuf>,
        /// Accepted DSN keys (repeatable). Default: the workspace's `.crashloom/collector.key`,
        /// created on first use.
        #[arg(long = "key")]
        keys: Vec<String>,
        /// The project id in the DSN.
        #[arg(long, default_value_t = 1)]
        project: u64,
        /// Events per second accepted per key before answering 429.
        #[arg(long, default_value_t = 10_000)]
        rate_limit: u32,
    },
    /// Investigate one crash group: explain it, propose a fix, and prove the fix in a sandbox.
    Investigate {
        /// The workspace folder.
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
        /// The crash group: its short id (as `crashloom crashes` prints it) or its id.
        #[arg(long)]
        crash: String,
        /// Print the investigation as JSON instead of a summary.
        #[arg(long)]
        json: bool,
        /// Use the offline engine only, even when crashloom.toml sets `[model]`.
        #[arg(long)]
        offline: bool,
    },
    /// Investigate new, growing and regressed crash groups of every source and open a pull request
    /// for each validated fix (`[pull_request]` in crashloom.toml); runs until SIGTERM.
    Watch {
        /// The workspace folder (a git repository with the remote pull requests go to).
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
        /// One pass over every source, then exit (non-zero when an action failed).
        #[arg(long)]
        once: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Services log what they do; one-shot commands print their result and stay quiet otherwise.
    let quiet = matches!(cli.command, Command::Crashes { .. } | Command::Investigate { .. });
    init_logging(cli.verbose, if quiet { "warn" } else { "info" });
    match cli.command {
        Command::Lsp { .. } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
            };
            let shutdown_requested = runtime.block_on(crashloom::lsp::serve_stdio());
            // The read of stdin may still be blocked in its thread; it must not keep us alive.
            runtime.shutdown_background();
            // The protocol's exit status: 0 after `shutdown`, 1 when the client just went away.
            if shutdown_requested { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Command::Mcp { workspace } => mcp(workspace),
        Command::Crashes { workspace, json } => crashes(workspace, json),
        Command::Investigate { workspace, crash, json, offline } => investigate(workspace, &crash, json, offline),
        Command::Watch { workspace, once } => watch(workspace, once),
        Command::Collect { listen, workspace, store, keys, project, rate_limit } => {
            collect(listen, workspace, store, keys, project, rate_limit)
        }
    }
}

fn mcp(workspace: PathBuf) -> ExitCode {
    // The configuration is read by each tool call, so a broken crashloom.toml is a tool error the
    // agent sees rather than a server that does not start.
    let root = match workspace.canonicalize() {
        Ok(root) if root.is_dir() => root,
        Ok(root) => {
            return fail(&format!("{} is not a folder; pass the workspace folder with --workspace", root.display()));
        }
        Err(e) => return fail(&format!("cannot open the workspace {}: {e}", workspace.display())),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(crashloom::mcp::serve_stdio(root));
    // The read of stdin may still be blocked in its thread; it must not keep us alive.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn collect(
    listen: SocketAddr,
    workspace: PathBuf,
    store: Option<PathBuf>,
    mut keys: Vec<String>,
    project: u64,
    rate_limit: u32,
) -> ExitCode {
    let root = match workspace.canonicalize() {
        Ok(root) => root,
        Err(e) => return fail(&format!("cannot open the workspace {}: {e}", workspace.display())),
    };
    if keys.is_empty() {
        match collector_key(&root) {
            Ok(key) => keys.push(key),
            Err(e) => return fail(&e),
        }
    }
    let store = store.unwrap_or_else(|| store_path(&root));
    let config = CollectorConfig {
        listen,
        keys,
        project_id: project,
        rate_limit_per_key: rate_limit,
        ..CollectorConfig::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(async move {
        let collector = Collector::bind(config, &store).await?;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "Crashloom collector listening on {}", collector.local_addr());
        let _ = writeln!(stdout, "Point your Sentry SDK at this DSN: {}", collector.dsn());
        let _ = writeln!(stdout, "Crashes go to {}", store.display());
        let _ = stdout.flush();
        drop(stdout);
        collector.run(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

/// The workspace's collector key, created once so the DSN stays the same across restarts.
fn collector_key(root: &Path) -> Result<String, String> {
    let path = root.join(".crashloom/collector.key");
    if let Ok(key) = std::fs::read_to_string(&path) {
        let key = key.trim();
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(key.to_owned());
        }
    }
    let key = random_hex_id();
    std::fs::create_dir_all(root.join(".crashloom"))
        .and_then(|_| std::fs::write(&path, format!("{key}\n")))
        .map_err(|e| format!("cannot write the collector key to {}: {e}", path.display()))?;
    Ok(key)
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

fn open_workspace(workspace: &Path) -> Result<(PathBuf, Config), ExitCode> {
    let root = match workspace.canonicalize() {
        Ok(root) if root.is_dir() => root,
        Ok(root) => {
            return Err(fail(&format!(
                "{} is not a folder; pass the workspace folder with --workspace",
                root.display()
            )));
        }
        Err(e) => return Err(fail(&format!("cannot open the workspace {}: {e}", workspace.display()))),
    };
    match Config::load(&root) {
        Ok(config) => Ok((root, config)),
        Err(e) => Err(fail(&e.to_string())),
    }
}

fn watch(workspace: PathBuf, once: bool) -> ExitCode {
    let (root, config) = match open_workspace(&workspace) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    // One line per action on stdout (for the service's journal), and in the log.
    let say: crashloom::watch::Say = Arc::new(|line: &str| {
        tracing::info!("{line}");
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    });
    match runtime.block_on(crashloom::watch::run(root, config, once, say, shutdown_signal())) {
        Ok(summary) if once && summary.failures > 0 => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn investigate(workspace: PathBuf, crash: &str, json: bool, offline: bool) -> ExitCode {
    let (root, config) = match open_workspace(&workspace) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let loaded = match engine::load_workspace(&root, &config) {
        Ok(loaded) => loaded,
        Err(e) => return fail(&e.to_string()),
    };
    let Some(group) = loaded.picture.group_by_id(crash).cloned() else {
        let known: Vec<&str> = loaded.picture.groups.iter().map(|g| g.short_id.as_str()).collect();
        return fail(&format!(
            "no crash group {crash} in {}; known: {} (see `crashloom crashes`)",
            root.display(),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        ));
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let mut config = config;
    if offline {
        config.model = None;
    }
    let progress = Arc::new(TerminalProgress::new(&format!("Investigating {}", group.short_id)));
    let result =
        runtime.block_on(pipeline::investigate(root.clone(), group.clone(), Arc::new(config), progress.clone()));
    let investigation = match result {
        Ok(done) => done,
        Err(e) => {
            progress.finish("Stopped");
            return fail(&e.to_string());
        }
    };
    progress.finish(&format!("Investigated {}", investigation.short_id));
    let report_path = match report::write_report(&root, &investigation) {
        Ok(path) => path,
        Err(e) => {
            return fail(&format!("cannot write the report under {}: {e}", root.join(report::REPORTS_DIR).display()));
        }
    };
    let output = if json {
        serde_json::to_string_pretty(&investigation).unwrap_or_default()
    } else {
        let mut text = summary(&investigation, &report_path);
        if let Some(record) = &investigation.model {
            let cost = record.cost.map(|c| format!(", cost {c:.4}")).unwrap_or_default();
            text.push_str(&format!(
                "Model: {}, {} rounds, {} requests, {} tokens{cost}\n",
                record.model,
                record.rounds,
                record.requests,
                record.tokens()
            ));
        }
        text
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", output.trim_end()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn summary(investigation: &Investigation, report_path: &Path) -> String {
    // The result first, then the story.
    let result = match (investigation.fix(), &investigation.validation) {
        (Some(_), Some(validation)) if validation.validated => "a validated fix".to_owned(),
        (Some(_), Some(validation)) => format!("no validated fix (the best change {})", validation.outcome_words()),
        (Some(_), None) => "no validated fix".to_owned(),
        (None, _) => "no fix".to_owned(),
    };
    let mut out = format!("{}: {result}\n\n", investigation.short_id);
    out.push_str(&format!("Crash {}: {}\n", investigation.short_id, investigation.title));
    if let Some(hypothesis) = investigation.hypotheses.first() {
        out.push_str(&format!("\nRoot cause: {}\n", hypothesis.summary));
    }
    match investigation.fix() {
        Some(fix) => {
            let verdict = match &investigation.validation {
                Some(validation) if validation.validated => "Validated fix".to_owned(),
                Some(validation) => format!("Fix NOT validated (the change {})", validation.outcome_words()),
                None => "Fix (NOT validated)".to_owned(),
            };
            out.push_str(&format!("\n{verdict}: {}\n", fix.summary));
            if fix.hides_symptom {
                out.push_str("This change hides the symptom rather than fixing the cause.\n");
            }
            if let Some(diff) = &investigation.diff {
                out.push_str(&format!("\n{diff}"));
            }
        }
        None => {
            if let FixOutcome::NoConfidentFix { reason } = &investigation.fix {
                out.push_str(&format!("\nNo confident fix: {reason}\n"));
            }
        }
    }
    if let Some(validation) = &investigation.validation {
        out.push('\n');
        for rung in &validation.rungs {
            let mark = match rung.outcome {
                RungOutcome::Passed => "passed ",
                RungOutcome::Failed => "FAILED ",
                RungOutcome::Skipped => "skipped",
                RungOutcome::ToolMissing => "TOOL MISSING",
            };
            out.push_str(&format!("  [{mark}] {}: {}\n", rung.name, rung.detail));
        }
    }
    if investigation.candidates.len() > 1 {
        out.push_str(&format!("\n{} candidate changes tried:\n", investigation.candidates.len()));
        for (i, candidate) in investigation.candidates.iter().enumerate().take(10) {
            out.push_str(&format!(
                "  {}. [{}] {} ({})\n",
                i + 1,
                candidate.outcome_words(),
                candidate.candidate.fix.summary,
                candidate.candidate.family
            ));
        }
    }
    out.push_str(&format!("\nReport: {}\n", report_path.display()));
    out
}

fn crashes(workspace: PathBuf, json: bool) -> ExitCode {
    let root = match workspace.canonicalize() {
        Ok(root) if root.is_dir() => root,
        Ok(root) => {
            return fail(&format!("{} is not a folder; pass the workspace folder with --workspace", root.display()));
        }
        Err(e) => return fail(&format!("cannot open the workspace {}: {e}", workspace.display())),
    };
    let config = match Config::load(&root) {
        Ok(config) => config,
        Err(e) => return fail(&e.to_string()),
    };
    let loaded = match engine::load_workspace(&root, &config) {
        Ok(loaded) => loaded,
        Err(e) => return fail(&e.to_string()),
    };
    let output = if json {
        crashes_report::json(&root, &loaded.picture, &loaded.problems, loaded.files_read)
    } else {
        crashes_report::text(&root, &loaded.picture, &loaded.problems, loaded.files_read)
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", output.trim_end()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Logs go to stderr (stdout is the protocol's wire). `CRASHLOOM_LOG` sets the filter.
fn init_logging(verbose: u8, default: &str) {
    let level = match verbose {
        0 => default,
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CRASHLOOM_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
}

fn fail(message: &str) -> ExitCode {
    tracing::debug!("failing: {message}");
    let _ = writeln!(std::io::stderr().lock(), "crashloom: {message}");
    ExitCode::from(2)
}
