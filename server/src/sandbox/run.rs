//! Running a command in the workspace copy: under bubblewrap, with a scrubbed environment, a time
//! limit that kills the whole process tree, and captured, capped output.
//!
//! Under bubblewrap the command sees the whole file system read-only, with a fresh `/tmp`, an empty
//! `/run` (no daemon sockets such as Docker's), its own `/dev` and `/proc`, and writable only: the
//! copy (with its home and tmp) and the reused build caches. It has no network (its own network
//! namespace has only a loopback of its own), its own PID, IPC and UTS namespaces, no capabilities,
//! a new session (no terminal to inject into), and it dies with Crashloom.
//!
//! Without bubblewrap a run is refused with an error telling the user to install it, unless
//! `allow_unisolated` is set: then the same command runs directly in the copy, still with the
//! scrubbed environment, the time limit and the process-group kill, and the outcome says it was
//! [`Isolation::Unisolated`].
//!
//! The environment is an allow-list: `PATH`, `HOME` (a fresh folder of the copy), `LANG` and a few
//! locale and toolchain variables, plus what the reused caches need. Nothing else of Crashloom's
//! environment reaches the command, so tokens such as `SENTRY_AUTH_TOKEN` or `GITHUB_TOKEN` never
//! do; the user can pass more by name with `pass_env`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::{SandboxError, WorkspaceCopy};

/// How commands are isolated. Maps to the `[sandbox]` settings `bwrap` and `allow_unisolated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsolationSettings {
    /// The bubblewrap program (a name looked up on `PATH`, or a path).
    pub bwrap_program: PathBuf,
    /// Run commands without isolation when bubblewrap is missing or unusable.
    pub allow_unisolated: bool,
    /// Names of further environment variables passed to commands (the user's choice, trusted).
    pub pass_env: Vec<String>,
    /// Further folders commands may read, beyond the system and the toolchains found on `PATH`.
    pub read_only_paths: Vec<PathBuf>,
}

impl Default for IsolationSettings {
    fn default() -> Self {
        IsolationSettings {
            bwrap_program: PathBuf::from("bwrap"),
            allow_unisolated: false,
            pass_env: Vec::new(),
            read_only_paths: Vec::new(),
        }
    }
}

/// Limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Wall-clock time after which the command and everything it started is killed.
    pub timeout: Duration,
    /// Output kept, half from the start and half from the end; the middle is cut with a note.
    pub max_output_bytes: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits { timeout: Duration::from_secs(600), max_output_bytes: 1024 * 1024 }
    }
}

/// How a run was isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    Bubblewrap,
    /// Run directly, because bubblewrap was unavailable and `allow_unisolated` was set.
    Unisolated,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Exited {
        code: i32,
    },
    Signalled {
        signal: i32,
    },
    /// The time limit passed and the process tree was killed.
    TimedOut,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub command: Vec<String>,
    pub status: RunStatus,
    pub duration: Duration,
    /// Standard output and standard error, interleaved as written.
    pub output: String,
    /// How many bytes of output were cut from the middle to respect the limit (0: none).
    pub output_cut_bytes: u64,
    pub isolation: Isolation,
}

impl RunOutcome {
    pub fn succeeded(&self) -> bool {
        self.status == RunStatus::Exited { code: 0 }
    }
}

/// How long output may keep arriving after the command ended, from processes that escaped the kill.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Namespaces every bubblewrap sandbox gets; also used to probe whether bubblewrap works.
const NAMESPACE_ARGS: &[&str] = &[
    "--unshare-net",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
];

impl WorkspaceCopy {
    /// Runs `command` (program and arguments) in the copy's workspace folder.
    pub async fn run(
        &self,
        command: &[String],
        limits: &RunLimits,
        settings: &IsolationSettings,
    ) -> Result<RunOutcome, SandboxError> {
        let Some(program) = command.first() else {
            return Err(SandboxError::EmptyCommand);
        };
        let isolation = choose_isolation(settings).await?;
        for dir in self.cache_reuse().writable_dirs() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|error| SandboxError::io("create the build cache folder", dir, error))?;
        }
        if isolation == Isolation::Bubblewrap {
            self.make_room_for_bound_caches()?;
        }
        let environment = self.sandbox_environment(settings);
        let path = environment.iter().find(|(name, _)| name == "PATH").map(|(_, value)| value.clone());
        if !program_exists(program, path.as_deref(), self.workspace_dir()) {
            let path = path.unwrap_or_default().to_string_lossy().into_owned();
            return Err(SandboxError::CommandNotFound { program: program.clone(), path });
        }

        let (reader, writer) =
            std::io::pipe().map_err(|error| SandboxError::Spawn { program: program.clone(), source: error })?;
        let spawned = {
            // The command (and the copies of the pipe's writing end it holds) is dropped at the end
            // of this block, so the reader sees the end of output when the process tree exits.
            let mut process = match isolation {
                Isolation::Bubblewrap => {
                    let mut process = tokio::process::Command::new(&settings.bwrap_program);
                    let readable = readable_toolchains(program, path.as_deref(), &environment, settings);
                    process.args(self.bubblewrap_args(&readable)).arg("--").args(command);
                    process
                }
                Isolation::Unisolated => {
                    let mut process = tokio::process::Command::new(program);
                    process.args(&command[1..]).current_dir(self.workspace_dir());
                    process
                }
            };
            let writer_for_stderr =
                writer.try_clone().map_err(|error| SandboxError::Spawn { program: program.clone(), source: error })?;
            process
                .env_clear()
                .envs(environment)
                .stdin(Stdio::null())
                .stdout(writer)
                .stderr(writer_for_stderr)
                .process_group(0)
                .kill_on_drop(true);
            process.spawn()
        };
        let mut child = spawned.map_err(|error| SandboxError::Spawn { program: program.clone(), source: error })?;
        let started = Instant::now();
        let mut group = ProcessGroupGuard(child.id());
        let output = Arc::new(Mutex::new(CappedOutput::new(limits.max_output_bytes)));
        let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))
            .map_err(|error| SandboxError::Spawn { program: program.clone(), source: error })?;
        let mut reading = tokio::spawn(read_output(reader, Arc::clone(&output)));

        let status = match tokio::time::timeout(limits.timeout, child.wait()).await {
            Ok(Ok(status)) => {
                match isolation {
                    // Background processes the command left behind in its group.
                    Isolation::Unisolated => group.kill_now(),
                    // Bubblewrap's PID namespace ended with the command: nothing is left.
                    Isolation::Bubblewrap => group.disarm(),
                }
                run_status(status)
            }
            Ok(Err(error)) => return Err(SandboxError::Spawn { program: program.clone(), source: error }),
            Err(_elapsed) => {
                // Killed before the leader is reaped, so its process group id cannot be reused.
                group.kill_now();
                let _ = child.start_kill();
                let _ = child.wait().await;
                RunStatus::TimedOut
            }
        };
        let duration = started.elapsed();
        if tokio::time::timeout(OUTPUT_GRACE, &mut reading).await.is_err() {
            reading.abort();
        }
        let (output, output_cut_bytes) =
            std::mem::take(&mut *output.lock().unwrap_or_else(PoisonError::into_inner)).finish();
        tracing::debug!(?command, ?status, ?duration, ?isolation, "sandbox command finished");
        Ok(RunOutcome { command: command.to_vec(), status, duration, output, output_cut_bytes, isolation })
    }

    fn bubblewrap_args(&self, readable: &Readable) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |flag: &str, paths: &[&Path]| {
            args.push(flag.into());
            args.extend(paths.iter().map(|path| path.as_os_str().to_owned()));
        };
        push("--ro-bind", &[Path::new("/"), Path::new("/")]);
        push("--dev", &[Path::new("/dev")]);
        push("--proc", &[Path::new("/proc")]);
        push("--tmpfs", &[Path::new("/tmp")]);
        push("--tmpfs", &[Path::new("/run")]);
        // The users' homes are hidden (keys, cloud credentials, shell history); the toolchains
        // that live there or under /tmp come back read-only, minus their credential files.
        for home in hidden_homes() {
            push("--tmpfs", &[&home]);
        }
        for dir in &readable.dirs {
            push("--ro-bind", &[dir, dir]);
        }
        for file in &readable.masked {
            push("--ro-bind", &[Path::new("/dev/null"), file]);
        }
        push("--bind", &[self.root_dir(), self.root_dir()]);
        // Inside the sandbox the copy takes the workspace's own path (hiding the original), so
        // build caches keyed by path (cargo's fingerprints, Go's build cache) hit as they do in
        // place, and stack traces name the same files.
        push("--bind", &[self.workspace_dir(), self.origin()]);
        // Reused caches are bound after that (and after the tmpfs mounts, in case they live under
        // /tmp): dependency folders of the workspace land in the copy at their usual place.
        let cache = self.cache_reuse();
        let read_only = cache.links().into_iter().map(|(_, target)| target);
        let read_only = read_only.chain(cache.go.as_ref().map(|go| go.module_cache.as_path()));
        for dir in read_only.filter(|dir| dir.exists()) {
            push("--ro-bind", &[dir, dir]);
        }
        for dir in cache.writable_dirs() {
            push("--bind", &[dir, dir]);
        }
        push("--chdir", &[self.origin()]);
        args.extend(NAMESPACE_ARGS.iter().map(OsString::from));
        args
    }

    /// The copy links dependency folders to the workspace's; under bubblewrap, where the copy sits
    /// at the workspace's path, such a link would point at itself, so it becomes an empty folder
    /// that the real one is bound onto.
    fn make_room_for_bound_caches(&self) -> Result<(), SandboxError> {
        for (name, _) in self.cache_reuse().links() {
            let link = self.workspace_dir().join(name);
            if link.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                std::fs::remove_file(&link).map_err(|error| SandboxError::io("replace the link", &link, error))?;
                std::fs::create_dir(&link).map_err(|error| SandboxError::io("create", &link, error))?;
            }
        }
        Ok(())
    }

    /// The allow-listed environment of a command run in this copy.
    fn sandbox_environment(&self, settings: &IsolationSettings) -> Vec<(String, OsString)> {
        let host = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        let host_home = host("HOME").map(PathBuf::from);
        let in_host_home = |relative: &str| {
            host_home.as_ref().map(|home| home.join(relative)).filter(|dir| dir.is_dir()).map(OsString::from)
        };
        let mut env: Vec<(String, OsString)> = Vec::new();

        let mut path = self.cache_reuse().path_prefix();
        let host_path = host("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        path.extend(std::env::split_paths(&host_path));
        if let Ok(path) = std::env::join_paths(path) {
            env.push(("PATH".into(), path));
        }
        env.push(("HOME".into(), self.home_dir().into()));
        env.push(("TMPDIR".into(), self.tmp_dir().into()));
        env.push(("LANG".into(), host("LANG").unwrap_or_else(|| "C.UTF-8".into())));
        for name in ["LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "JAVA_HOME", "GOROOT", "RUSTUP_TOOLCHAIN"] {
            if let Some(value) = host(name) {
                env.push((name.into(), value));
            }
        }
        // HOME moved to the copy, so toolchains found through it are pointed at explicitly.
        let toolchain_homes = [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup"), ("GOPATH", "go")];
        for (name, default) in toolchain_homes {
            if let Some(value) = host(name).or_else(|| in_host_home(default)) {
                env.push((name.into(), value));
            }
        }
        let fixed = [
            ("CI", "true"),
            ("TERM", "dumb"),
            ("NO_COLOR", "1"),
            ("CARGO_TERM_COLOR", "never"),
            ("CARGO_NET_OFFLINE", "true"),
            ("npm_config_offline", "true"),
            ("npm_config_update_notifier", "false"),
            ("npm_config_fund", "false"),
            ("npm_config_audit", "false"),
            ("PIP_NO_INDEX", "1"),
            // Changes judged one after another in one copy can share a size and a second; Python's
            // cached bytecode, keyed by both, would then run the previous change.
            ("PYTHONDONTWRITEBYTECODE", "1"),
        ];
        env.extend(fixed.into_iter().map(|(name, value)| (name.into(), value.into())));
        env.extend(self.cache_reuse().environment());
        for name in &settings.pass_env {
            if let Some(value) = std::env::var_os(name) {
                env.push((name.clone(), value));
            }
        }
        env
    }
}

/// Bubblewrap when it works, otherwise unisolated if allowed, otherwise the error saying what to do.
async fn choose_isolation(settings: &IsolationSettings) -> Result<Isolation, SandboxError> {
    // A bubblewrap that worked once keeps working: probe each program once per process.
    static WORKING: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let program = &settings.bwrap_program;
    if WORKING.lock().unwrap_or_else(PoisonError::into_inner).contains(program) {
        return Ok(Isolation::Bubblewrap);
    }
    let probe = tokio::process::Command::new(program)
        .args(["--ro-bind", "/", "/"])
        .args(NAMESPACE_ARGS)
        .args(["--", "true"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    let problem = match probe {
        Ok(output) if output.status.success() => {
            WORKING.lock().unwrap_or_else(PoisonError::into_inner).push(program.clone());
            return Ok(Isolation::Bubblewrap);
        }
        Ok(output) => SandboxError::BubblewrapUnusable {
            program: program.clone(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            SandboxError::BubblewrapMissing { program: program.clone() }
        }
        Err(error) => SandboxError::BubblewrapUnusable { program: program.clone(), detail: error.to_string() },
    };
    if settings.allow_unisolated {
        tracing::warn!(%problem, "running sandbox commands without isolation, as configured");
        Ok(Isolation::Unisolated)
    } else {
        Err(problem)
    }
}

/// Folders outside the system that a command may read, and credential files inside them that
/// stay hidden.
#[derive(Debug, Default, PartialEq, Eq)]
struct Readable {
    dirs: Vec<PathBuf>,
    masked: Vec<PathBuf>,
}

/// Folders the sandbox hides: the home directory of the user running Crashloom, and the folders
/// of all users' homes.
fn hidden_homes() -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = ["/home", "/root"].iter().map(PathBuf::from).collect();
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from)
        && home.is_absolute()
        && home != Path::new("/")
    {
        homes.push(home.canonicalize().unwrap_or(home));
    }
    homes.retain(|home| home.is_dir());
    homes.sort();
    homes.dedup();
    // A home inside another hidden one is hidden already.
    let all = homes.clone();
    homes.retain(|home| !all.iter().any(|other| other != home && home.starts_with(other)));
    homes
}

/// Whether the sandbox hides `path` (a home, /tmp or /run), so it must be made readable again.
fn is_hidden(path: &Path, homes: &[PathBuf]) -> bool {
    path.starts_with("/tmp") || path.starts_with("/run") || homes.iter().any(|home| path.starts_with(home))
}

/// Credential files inside toolchain folders, hidden even when their folder is readable.
const CREDENTIAL_FILES: &[&str] = &["credentials", "credentials.toml", ".credentials.json", "settings-security.xml"];

/// What a command needs to read in hidden places: the toolchain folders on its `PATH` and of its
/// program (a virtual environment under /tmp, pyenv, nvm, rustup), the toolchain homes the
/// environment names (`CARGO_HOME`, `RUSTUP_HOME`, `GOMODCACHE`...), and what the user listed.
fn readable_toolchains(
    program: &str,
    path: Option<&std::ffi::OsStr>,
    environment: &[(String, OsString)],
    settings: &IsolationSettings,
) -> Readable {
    let homes = hidden_homes();
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut add = |dir: PathBuf| {
        if dir.exists() && is_hidden(&dir, &homes) {
            dirs.push(toolchain_root(&dir, &homes));
        }
    };
    for entry in path.map(std::env::split_paths).into_iter().flatten() {
        add(entry.canonicalize().unwrap_or(entry));
    }
    let program_path = if program.contains('/') {
        Some(PathBuf::from(program))
    } else {
        path.and_then(|path| std::env::split_paths(path).map(|dir| dir.join(program)).find(|p| p.is_file()))
    };
    if let Some(program_path) = program_path.filter(|p| p.is_absolute()) {
        for candidate in [program_path.clone(), program_path.canonicalize().unwrap_or(program_path)] {
            if let Some(dir) = candidate.parent() {
                add(dir.to_path_buf());
                if let Some(base) = venv_base(dir) {
                    add(base);
                }
            }
        }
    }
    for (name, value) in environment {
        if ["CARGO_HOME", "RUSTUP_HOME", "GOMODCACHE", "GOROOT", "JAVA_HOME", "VIRTUAL_ENV"].contains(&name.as_str()) {
            add(PathBuf::from(value));
        }
    }
    // Caches of build tools that read them from the user's real home (Java's `user.home`).
    for home in &homes {
        for cache in [".m2/repository", ".gradle/caches", ".gradle/wrapper"] {
            let dir = home.join(cache);
            if dir.is_dir() {
                dirs.push(dir);
            }
        }
    }
    dirs.extend(settings.read_only_paths.iter().filter(|dir| dir.exists()).cloned());
    dirs.sort();
    dirs.dedup();
    let all = dirs.clone();
    dirs.retain(|dir| !all.iter().any(|other| other != dir && dir.starts_with(other)));
    let masked = dirs
        .iter()
        .flat_map(|dir| CREDENTIAL_FILES.iter().map(move |name| dir.join(name)))
        .filter(|file| file.is_file())
        .collect();
    Readable { dirs, masked }
}

/// The folder that holds a toolchain, from one of its folders: a virtual environment's root, the
/// folder above `bin` or `shims` (`~/.cargo`, `~/.pyenv`, an nvm version), or the folder itself.
fn toolchain_root(dir: &Path, homes: &[PathBuf]) -> PathBuf {
    if let Some(venv) = dir.ancestors().find(|a| a.join("pyvenv.cfg").is_file()) {
        return venv.to_path_buf();
    }
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    match dir.parent() {
        // `~/.local` also holds keyrings and application data: only its programs and libraries.
        Some(parent) if parent.file_name().is_some_and(|n| n == ".local") => dir.to_path_buf(),
        Some(parent) if ["bin", "shims", "sbin"].contains(&name) && !homes.iter().any(|h| h == parent) => {
            parent.to_path_buf()
        }
        _ => dir.to_path_buf(),
    }
}

/// The base interpreter's installation of a virtual environment whose `bin` is `dir`: the `home`
/// of its `pyvenv.cfg`, one folder up.
fn venv_base(dir: &Path) -> Option<PathBuf> {
    let venv = dir.ancestors().find(|a| a.join("pyvenv.cfg").is_file())?;
    let config = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    let home = config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "home").then(|| PathBuf::from(value.trim()))
    })?;
    let home = home.canonicalize().unwrap_or(home);
    Some(home.parent().map(Path::to_path_buf).unwrap_or(home))
}

/// Whether `program` can be started: a path (relative to `cwd`) to an executable file, or a name
/// found in one of the `path` folders.
fn program_exists(program: &str, path: Option<&std::ffi::OsStr>, cwd: &Path) -> bool {
    let is_executable = |candidate: &Path| {
        candidate.metadata().is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return is_executable(&cwd.join(program));
    }
    path.is_some_and(|path| std::env::split_paths(path).any(|dir| is_executable(&dir.join(program))))
}

fn run_status(status: ExitStatus) -> RunStatus {
    match (status.code(), status.signal()) {
        (Some(code), _) => RunStatus::Exited { code },
        (None, Some(signal)) => RunStatus::Signalled { signal },
        (None, None) => RunStatus::Exited { code: -1 },
    }
}

/// Kills a process group when dropped (an early return, a cancelled run) unless disarmed.
struct ProcessGroupGuard(Option<u32>);

impl ProcessGroupGuard {
    fn kill_now(&mut self) {
        if let Some(group) = self.0.take() {
            kill_process_group(group);
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for ProcessGroupGuard {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// Sends SIGKILL to every process of a group: one system call, nothing to wait for, so it is safe
/// from async code and `Drop`.
fn kill_process_group(group: u32) {
    let Some(pid) = i32::try_from(group).ok().and_then(rustix::process::Pid::from_raw) else { return };
    if let Err(error) = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL)
        && error != rustix::io::Errno::SRCH
    {
        tracing::warn!(%error, group, "could not end the command's process group");
    }
}

async fn read_output(mut reader: tokio::net::unix::pipe::Receiver, output: Arc<Mutex<CappedOutput>>) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => output.lock().unwrap_or_else(PoisonError::into_inner).push(&buffer[..read]),
        }
    }
}

/// Output kept within a byte limit: the first half of the limit and the latest second half.
#[derive(Debug, Default)]
struct CappedOutput {
    half: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl CappedOutput {
    fn new(limit: usize) -> Self {
        CappedOutput { half: limit / 2, ..CappedOutput::default() }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.half.saturating_sub(self.head.len()).min(bytes.len());
        self.head.extend_from_slice(&bytes[..room]);
        bytes = &bytes[room..];
        if bytes.len() > self.half {
            bytes = &bytes[bytes.len() - self.half..];
        }
        self.tail.extend(bytes);
        let excess = self.tail.len().saturating_sub(self.half);
        self.tail.drain(..excess);
    }

    /// The text kept and how many bytes were cut.
    fn finish(mut self) -> (String, u64) {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let cut = self.total - kept;
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if cut > 0 {
            text.push_str(&format!("\n[... {cut} bytes of output cut to stay within the limit ...]\n"));
        }
        text.push_str(&String::from_utf8_lossy(self.tail.make_contiguous()));
        (text, cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_within_the_limit_is_kept_whole() {
        let mut output = CappedOutput::new(100);
        output.push(b"hello ");
        output.push(b"world");
        assert_eq!(output.finish(), ("hello world".to_string(), 0));
    }

    #[test]
    fn output_over_the_limit_keeps_its_start_and_end_with_a_note() {
        let mut output = CappedOutput::new(10);
        output.push(b"start");
        for _ in 0..100 {
            output.push(b"middle");
        }
        output.push(b"the-end");
        let (text, cut) = output.finish();
        assert_eq!(cut, 5 + 600 + 7 - 10);
        assert!(text.starts_with("start\n[... 602 bytes of output cut"), "{text}");
        assert!(text.ends_with("bytes of output cut to stay within the limit ...]\ne-end"), "{text}");
    }
}
