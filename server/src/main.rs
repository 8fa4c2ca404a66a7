//! The `crashloom` command: the language server and its command-line jobs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crashloom::config::Config;
use crashloom::{engine, report};

#[derive(Parser)]
#[command(name = "crashloom", version, about = "Production crashes in the editor, and fixes proven in a sandbox")]
struct Cli {
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
    /// Print the crash groups of a workspace and where their frames are.
    Crashes {
        /// The workspace folder.
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Lsp { .. } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
            };
            runtime.block_on(crashloom::lsp::serve_stdio());
            ExitCode::SUCCESS
        }
        Command::Crashes { workspace, json } => crashes(workspace, json),
    }
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
        report::json(&root, &loaded.picture, &loaded.problems, loaded.files_read)
    } else {
        report::text(&root, &loaded.picture, &loaded.problems, loaded.files_read)
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", output.trim_end()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Logs go to stderr (stdout is the protocol's wire). `CRASHLOOM_LOG` sets the filter.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CRASHLOOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
}

fn fail(message: &str) -> ExitCode {
    tracing::error!("{message}");
    ExitCode::from(2)
}
