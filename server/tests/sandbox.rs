//! The sandbox against real git repositories and real bubblewrap (Debian package `bubblewrap`).
//!
//! Workspaces are made under Cargo's target tmp dir rather than /tmp, so that inside the sandbox
//! (which gets a fresh /tmp) they are the real, read-only originals.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crashloom::sandbox::{
    ChangePolicy, CopyKind, FileChange, Isolation, IsolationSettings, RefusalReason, RunLimits, RunOutcome, RunStatus,
    SandboxError, WorkspaceCopy,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn workspace_dir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("workspace-").tempdir_in(env!("CARGO_TARGET_TMPDIR"))
}

fn git(dir: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let output = Command::new("git").arg("-C").arg(dir).args(args).output()?;
    if !output.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

fn write(path: &Path, content: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content)
}

/// A git repository with one commit: an app, a readme, and a .gitignore for logs and build output.
fn git_workspace() -> Result<tempfile::TempDir, Box<dyn std::error::Error>> {
    let workspace = workspace_dir()?;
    let root = workspace.path();
    git(root, &["init", "--quiet", "--initial-branch=main"])?;
    git(root, &["config", "user.email", "dev@example.com"])?;
    git(root, &["config", "user.name", "Dev"])?;
    write(&root.join("app.py"), "def total(items):\n    return sum(items) / len(items)\n")?;
    write(&root.join("README.md"), "# shop\n")?;
    write(&root.join(".gitignore"), "*.log\nbuild-output/\n")?;
    git(root, &["add", "."])?;
    git(root, &["commit", "--quiet", "-m", "first"])?;
    Ok(workspace)
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| word.to_string()).collect()
}

fn limits(seconds: u64) -> RunLimits {
    RunLimits { timeout: Duration::from_secs(seconds), ..RunLimits::default() }
}

async fn run_isolated(copy: &WorkspaceCopy, command: &[&str]) -> Result<RunOutcome, SandboxError> {
    copy.run(&argv(command), &limits(60), &IsolationSettings::default()).await
}

fn worktree_count(repository: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    Ok(git(repository, &["worktree", "list", "--porcelain"])?
        .lines()
        .filter(|line| line.starts_with("worktree "))
        .count())
}

/// Whether a process is alive (a zombie waiting to be reaped counts as gone).
fn is_running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

/// Pids of live processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(marker))
        })
        .filter(|pid| is_running(pid))
        .collect()
}

/// Waits up to 10 s for `condition`, which the kernel makes true shortly after a SIGKILL.
fn eventually(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

#[tokio::test]
async fn the_copy_holds_uncommitted_edits_and_untracked_files_but_not_ignored_ones() -> TestResult {
    let workspace = git_workspace()?;
    let root = workspace.path();
    write(&root.join("app.py"), "def total(items):\n    return sum(items) / max(len(items), 1)\n")?;
    std::fs::remove_file(root.join("README.md"))?;
    write(&root.join("notes/todo.txt"), "untracked\n")?;
    write(&root.join("debug.log"), "ignored\n")?;
    write(&root.join("build-output/app.bin"), "ignored\n")?;

    let copy = WorkspaceCopy::create(root).await?;
    let copied = copy.workspace_dir().to_path_buf();

    assert_eq!(copy.kind(), CopyKind::GitWorktree);
    assert_ne!(copied, root.canonicalize()?);
    assert_eq!(std::fs::read_to_string(copied.join("app.py"))?, std::fs::read_to_string(root.join("app.py"))?);
    assert_eq!(std::fs::read_to_string(copied.join("notes/todo.txt"))?, "untracked\n");
    assert!(!copied.join("README.md").exists(), "a deletion is part of the current state");
    assert!(!copied.join("debug.log").exists());
    assert!(!copied.join("build-output").exists());
    assert_eq!(worktree_count(root)?, 2);

    let copy_root = copy.root_dir().to_path_buf();
    copy.remove().await?;
    assert!(!copy_root.exists());
    assert_eq!(worktree_count(root)?, 1);
    assert_eq!(git(root, &["status", "--porcelain"])?, " D README.md\n M app.py\n?? notes/\n");
    Ok(())
}

#[tokio::test]
async fn a_workspace_in_a_subfolder_of_its_repository_is_copied_with_the_repository() -> TestResult {
    let repository = git_workspace()?;
    let service = repository.path().join("service");
    write(&service.join("main.go"), "package main\n")?;
    git(repository.path(), &["add", "."])?;
    git(repository.path(), &["commit", "--quiet", "-m", "service"])?;
    write(&service.join("main.go"), "package main\n\nfunc main() {}\n")?;

    let copy = WorkspaceCopy::create(&service).await?;

    assert!(copy.workspace_dir().ends_with("checkout/service"), "{}", copy.workspace_dir().display());
    assert_eq!(std::fs::read_to_string(copy.workspace_dir().join("main.go"))?, "package main\n\nfunc main() {}\n");
    assert!(copy.workspace_dir().join("../app.py").exists());
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn without_git_the_copy_is_plain_and_reuses_dependencies_instead_of_copying_them() -> TestResult {
    let workspace = workspace_dir()?;
    let root = workspace.path();
    write(&root.join("package.json"), r#"{"scripts": {"test": "node test.js"}}"#)?;
    write(&root.join("src/index.js"), "module.exports = 1;\n")?;
    write(&root.join("node_modules/left-pad/index.js"), "module.exports = 2;\n")?;
    write(&root.join("target/debug/huge.bin"), "build output\n")?;

    let copy = WorkspaceCopy::create(root).await?;
    let copied = copy.workspace_dir().to_path_buf();

    assert_eq!(copy.kind(), CopyKind::PlainCopy);
    assert_eq!(std::fs::read_to_string(copied.join("src/index.js"))?, "module.exports = 1;\n");
    assert!(!copied.join("target").exists());
    assert_eq!(std::fs::read_link(copied.join("node_modules"))?, root.canonicalize()?.join("node_modules"));
    let outcome = run_isolated(&copy, &["cat", "node_modules/left-pad/index.js"]).await?;
    assert_eq!(outcome.output, "module.exports = 2;\n");

    let copy_root = copy.root_dir().to_path_buf();
    copy.remove().await?;
    assert!(!copy_root.exists());
    assert!(root.join("node_modules/left-pad/index.js").exists(), "removing the copy leaves the reused folder");
    Ok(())
}

#[tokio::test]
async fn the_copy_is_removed_after_a_timeout_and_when_dropped() -> TestResult {
    let workspace = git_workspace()?;

    let copy = WorkspaceCopy::create(workspace.path()).await?;
    let copy_root = copy.root_dir().to_path_buf();
    let outcome = copy.run(&argv(&["sleep", "100"]), &limits(1), &IsolationSettings::default()).await?;
    assert_eq!(outcome.status, RunStatus::TimedOut);
    copy.remove().await?;
    assert!(!copy_root.exists());

    let dropped_root = {
        let copy = WorkspaceCopy::create(workspace.path()).await?;
        copy.root_dir().to_path_buf()
    };
    assert!(!dropped_root.exists());
    assert_eq!(worktree_count(workspace.path())?, 1);
    Ok(())
}

#[tokio::test]
async fn a_command_runs_in_the_copy_and_reports_its_exit_code_and_output() -> TestResult {
    let workspace = git_workspace()?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;

    let outcome = run_isolated(&copy, &["sh", "-c", "pwd; echo to-stderr >&2; exit 3"]).await?;

    assert_eq!(outcome.status, RunStatus::Exited { code: 3 });
    assert_eq!(outcome.isolation, Isolation::Bubblewrap);
    // Inside bubblewrap the copy sits at the workspace's own path (so path-keyed caches hit).
    assert_eq!(outcome.output, format!("{}\nto-stderr\n", copy.origin().display()));
    assert!(!outcome.succeeded());
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn a_command_cannot_reach_the_network() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let connect =
        format!("import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); print('connected')");
    let outside = Command::new("python3").args(["-c", &connect]).output()?;
    assert!(outside.status.success(), "the listener is reachable from outside the sandbox");

    let workspace = git_workspace()?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;
    let outcome = run_isolated(&copy, &["python3", "-c", &connect]).await?;

    assert_ne!(outcome.status, RunStatus::Exited { code: 0 }, "{}", outcome.output);
    assert!(!outcome.output.contains("connected"), "{}", outcome.output);
    assert!(
        outcome.output.contains("ConnectionRefusedError") || outcome.output.contains("unreachable"),
        "{}",
        outcome.output
    );
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn a_command_cannot_write_outside_the_copy() -> TestResult {
    let workspace = git_workspace()?;
    let original = workspace.path().canonicalize()?.join("app.py");
    let before = std::fs::read_to_string(&original)?;
    // A host folder outside the copy that the sandbox can see (its /tmp is a fresh tmpfs and the
    // home directory is hidden): one beside the workspace, under the build's folder.
    let elsewhere = tempfile::Builder::new().prefix("outside-").tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    let outside = elsewhere.path().join("notes.txt");
    std::fs::write(&outside, "mine\n")?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;

    let overwrite = format!("echo hacked > {}", outside.display());
    let outcome = run_isolated(&copy, &["sh", "-c", &overwrite]).await?;
    assert_ne!(outcome.status, RunStatus::Exited { code: 0 });
    assert!(outcome.output.contains("Read-only file system"), "{}", outcome.output);
    assert_eq!(std::fs::read_to_string(&outside)?, "mine\n");

    // The workspace's own path shows the copy: writing there changes the copy, never the original.
    let through_original_path = format!("echo hacked > {}", original.display());
    let outcome = run_isolated(&copy, &["sh", "-c", &through_original_path]).await?;
    assert!(outcome.succeeded(), "{}", outcome.output);
    assert_eq!(std::fs::read_to_string(&original)?, before);
    assert_eq!(std::fs::read_to_string(copy.workspace_dir().join("app.py"))?, "hacked\n");

    let inside =
        run_isolated(&copy, &["sh", "-c", "echo fixed > app.py && echo scratch > $TMPDIR/x && echo dot > $HOME/.rc"])
            .await?;
    assert!(inside.succeeded(), "{}", inside.output);
    assert_eq!(std::fs::read_to_string(copy.workspace_dir().join("app.py"))?, "fixed\n");
    copy.remove().await?;
    Ok(())
}

/// Names the sandbox may pass on; everything else of Crashloom's environment stays outside.
const ALLOWED_ENVIRONMENT: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "USER",
    "LOGNAME",
    "JAVA_HOME",
    "GOROOT",
    "RUSTUP_TOOLCHAIN",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "GOPATH",
    "CI",
    "TERM",
    "NO_COLOR",
    "CARGO_TERM_COLOR",
    "CARGO_NET_OFFLINE",
    "npm_config_offline",
    "npm_config_update_notifier",
    "npm_config_fund",
    "npm_config_audit",
    "PIP_NO_INDEX",
    "PYTHONDONTWRITEBYTECODE",
    "PWD",
];

/// Also run by `secrets_in_crashlooms_environment_do_not_reach_the_command` with secrets set.
#[tokio::test]
async fn a_command_sees_only_the_allow_listed_environment() -> TestResult {
    let workspace = git_workspace()?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;

    let outcome = run_isolated(&copy, &["env"]).await?;

    assert!(outcome.succeeded(), "{}", outcome.output);
    for line in outcome.output.lines() {
        let name = line.split('=').next().unwrap_or_default();
        assert!(ALLOWED_ENVIRONMENT.contains(&name), "`{name}` reached the command");
    }
    for (name, value) in std::env::vars().filter(|(name, _)| name.ends_with("_TOKEN") || name.ends_with("_KEY")) {
        assert!(!outcome.output.contains(&value), "the value of {name} reached the command");
    }
    assert!(outcome.output.contains(&format!("HOME={}", copy.root_dir().join("home").display())));
    copy.remove().await?;
    Ok(())
}

#[test]
fn secrets_in_crashlooms_environment_do_not_reach_the_command() -> TestResult {
    let rerun = Command::new(std::env::current_exe()?)
        .args(["--exact", "a_command_sees_only_the_allow_listed_environment", "--test-threads=1"])
        .env("SENTRY_AUTH_TOKEN", "sntrys_secret_value_1234")
        .env("GITHUB_TOKEN", "ghp_secret_value_5678")
        .env("OPENAI_API_KEY", "sk-secret-value-9012")
        .env("AWS_SECRET_ACCESS_KEY", "aws-secret-value-3456")
        .output()?;
    let report = String::from_utf8_lossy(&rerun.stdout);
    assert!(rerun.status.success(), "{report}{}", String::from_utf8_lossy(&rerun.stderr));
    assert!(report.contains("1 passed"), "{report}");
    Ok(())
}

#[tokio::test]
async fn a_command_over_its_time_limit_is_killed_with_the_processes_it_started() -> TestResult {
    let workspace = git_workspace()?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;
    let marker = "321.0731";

    let started = Instant::now();
    let command = format!("sleep {marker} & sleep 100");
    let outcome = copy.run(&argv(&["sh", "-c", &command]), &limits(1), &IsolationSettings::default()).await?;

    assert_eq!(outcome.status, RunStatus::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(eventually(|| processes_with(marker).is_empty()), "still running: {:?}", processes_with(marker));
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn without_bubblewrap_runs_are_refused_with_what_to_do() -> TestResult {
    let workspace = git_workspace()?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;
    let missing =
        IsolationSettings { bwrap_program: PathBuf::from("/nonexistent/bwrap"), ..IsolationSettings::default() };

    let refused = copy.run(&argv(&["true"]), &limits(10), &missing).await;

    let Err(error @ SandboxError::BubblewrapMissing { .. }) = refused else {
        return Err(format!("expected a missing-bubblewrap error, got {refused:?}").into());
    };
    let message = error.to_string();
    assert!(
        message.contains("`bubblewrap` package") && message.contains("sandbox.allow_unisolated = true"),
        "{message}"
    );
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn an_allowed_unisolated_run_keeps_the_time_limit_and_kills_the_process_group() -> TestResult {
    let workspace = git_workspace()?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;
    let unisolated = IsolationSettings {
        bwrap_program: PathBuf::from("/nonexistent/bwrap"),
        allow_unisolated: true,
        ..IsolationSettings::default()
    };

    let command = argv(&["sh", "-c", "sleep 322.0731 & echo $! > child.pid; sleep 100"]);
    let outcome = copy.run(&command, &limits(1), &unisolated).await?;

    assert_eq!(outcome.isolation, Isolation::Unisolated);
    assert_eq!(outcome.status, RunStatus::TimedOut);
    let child = std::fs::read_to_string(copy.workspace_dir().join("child.pid"))?;
    assert!(eventually(|| !is_running(child.trim())), "the background child {child} survived");
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_program_is_reported_by_name() -> TestResult {
    let workspace = git_workspace()?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;

    let error = run_isolated(&copy, &["no-such-test-runner", "--all"]).await.err().map(|error| error.to_string());

    assert!(error.as_deref().is_some_and(|error| error.contains("`no-such-test-runner` was not found")), "{error:?}");
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn changes_apply_to_the_copy_only() -> TestResult {
    let workspace = git_workspace()?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;

    let changes = [
        FileChange::replace("app.py", "/ len(items)", "/ max(len(items), 1)"),
        FileChange::write("tests/test_app.py", "from app import total\n"),
        FileChange::delete("README.md"),
    ];
    copy.apply_changes(&changes, &ChangePolicy::default()).await?;

    let copied = copy.workspace_dir();
    assert_eq!(
        std::fs::read_to_string(copied.join("app.py"))?,
        "def total(items):\n    return sum(items) / max(len(items), 1)\n"
    );
    assert_eq!(std::fs::read_to_string(copied.join("tests/test_app.py"))?, "from app import total\n");
    assert!(!copied.join("README.md").exists());
    assert_eq!(git(workspace.path(), &["status", "--porcelain"])?, "", "the real workspace is untouched");
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn changes_to_ci_configuration_and_outside_the_workspace_are_refused() -> TestResult {
    let workspace = git_workspace()?;
    let outside = tempfile::tempdir()?;
    std::os::unix::fs::symlink(outside.path(), workspace.path().join("shared"))?;
    git(workspace.path(), &["add", "shared"])?;
    git(workspace.path(), &["commit", "--quiet", "-m", "link"])?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;
    let policy = ChangePolicy::default();

    let refusal = |result: Result<(), SandboxError>| match result {
        Err(SandboxError::ChangeRefused { path, reason }) => Some((path, reason)),
        _ => None,
    };
    let ci = copy.apply_changes(&[FileChange::write(".github/workflows/ci.yml", "on: push\n")], &policy).await;
    let ci_message = ci.as_ref().err().map(|error| error.to_string()).unwrap_or_default();
    assert_eq!(refusal(ci), Some((".github/workflows/ci.yml".into(), RefusalReason::CiConfiguration)));
    assert!(
        ci_message.contains("`.github/workflows/ci.yml`") && ci_message.contains("sandbox.allow_ci_config"),
        "{ci_message}"
    );

    let parent = copy.apply_changes(&[FileChange::write("../outside.txt", "x")], &policy).await;
    assert_eq!(refusal(parent), Some(("../outside.txt".into(), RefusalReason::OutsideWorkspace)));
    assert!(!copy.workspace_dir().join("../outside.txt").exists());

    let through_link = copy.apply_changes(&[FileChange::write("shared/evil.txt", "x")], &policy).await;
    assert_eq!(refusal(through_link), Some(("shared/evil.txt".into(), RefusalReason::OutsideWorkspace)));
    assert!(!outside.path().join("evil.txt").exists());

    let all_or_nothing = [FileChange::write("app.py", "changed\n"), FileChange::write("Cargo.lock", "")];
    let lockfile = copy.apply_changes(&all_or_nothing, &policy).await;
    assert_eq!(refusal(lockfile), Some(("Cargo.lock".into(), RefusalReason::Lockfile)));
    assert_ne!(std::fs::read_to_string(copy.workspace_dir().join("app.py"))?, "changed\n");

    let allowed = ChangePolicy { allow_ci_config: true, ..ChangePolicy::default() };
    copy.apply_changes(&[FileChange::write(".github/workflows/ci.yml", "on: push\n")], &allowed).await?;
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn a_rust_project_builds_offline_in_the_sandbox_into_the_reused_target_dir() -> TestResult {
    let workspace = workspace_dir()?;
    let root = workspace.path();
    write(
        &root.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )?;
    write(&root.join("src/main.rs"), "fn main() { println!(\"hi\"); }\n")?;
    let copy = WorkspaceCopy::create(root).await?;
    let target = copy.cache_reuse().cargo_target_dir.clone().ok_or("a Cargo project reuses a target dir")?;

    let outcome = copy.run(&argv(&["cargo", "build", "--quiet"]), &limits(300), &IsolationSettings::default()).await?;

    assert!(outcome.succeeded(), "{}", outcome.output);
    assert!(target.ends_with("crashloom-sandbox"));
    assert!(target.join("debug/tiny").is_file());
    assert!(!root.join("Cargo.lock").exists(), "the lockfile was written in the copy only");
    copy.remove().await?;
    Ok(())
}

#[tokio::test]
async fn the_home_directory_is_hidden_but_the_toolchains_in_it_still_run() -> TestResult {
    let home = PathBuf::from(std::env::var("HOME")?);
    let secret = home.join(format!(".crashloom-sandbox-secret-{}", std::process::id()));
    write(&secret, "aws_secret_access_key = do-not-leak\n")?;
    let workspace = git_workspace()?;
    let copy = WorkspaceCopy::create(workspace.path()).await?;
    let read = run_isolated(&copy, &["cat", &secret.to_string_lossy()]).await;
    // Rust's toolchain lives under the home directory here (rustup): it must still work.
    let cargo = run_isolated(&copy, &["cargo", "--version"]).await;
    copy.remove().await?;
    std::fs::remove_file(&secret)?;

    let read = read?;
    assert_ne!(read.status, RunStatus::Exited { code: 0 }, "{}", read.output);
    assert!(!read.output.contains("do-not-leak"), "{}", read.output);
    assert!(read.output.contains("No such file"), "{}", read.output);
    let cargo = cargo?;
    assert_eq!(cargo.status, RunStatus::Exited { code: 0 }, "{}", cargo.output);
    assert!(cargo.output.starts_with("cargo "), "{}", cargo.output);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_made_at_once_of_a_new_repository_all_succeed() -> TestResult {
    // Investigations started together make their copies together. git's own bookkeeping loses
    // worktrees added at once to a repository that has none yet ("failed to read
    // .git/worktrees/checkout2/commondir"), a few times in a dozen tries of five.
    for _ in 0..12 {
        let workspace = git_workspace()?;
        let root = workspace.path().to_path_buf();
        let copies: Vec<_> = (0..8)
            .map(|_| {
                let root = root.clone();
                tokio::spawn(async move { WorkspaceCopy::create(&root).await })
            })
            .collect();
        let mut made = Vec::new();
        for copy in copies {
            made.push(copy.await??);
        }
        assert_eq!(worktree_count(&root)?, 1 + made.len());
        for copy in made {
            assert!(copy.workspace_dir().join("app.py").is_file());
            copy.remove().await?;
        }
        assert_eq!(worktree_count(&root)?, 1, "every copy removed");
    }
    Ok(())
}
