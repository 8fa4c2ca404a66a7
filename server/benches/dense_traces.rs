//! Dense traces end to end, side by side with well-known parsers in the same run.
//!
//!     cargo bench -p crashloom --bench dense_traces
//!
//! Writes a workspace whose `.crashloom/crashes/` holds tens of MB of traces back to back (V8,
//! Python, JVM and Go, captured from real programs in `tests/fixtures/traces/`), and runs what
//! `crashloom crashes` runs: index the workspace, read and parse the crash files, group, map and
//! relocate the frames, render the report. Each phase is timed (best of 3).
//!
//! On the same V8 input it runs stacktrace-parser and error-stack-parser (npm, installed into a
//! temporary folder with `npm install` at run time) in Node, and on the same Go input panicparse
//! (Debian's `panicparse` package, or any `panicparse` on PATH). A peer that cannot be run is
//! reported as such.
//!
//! `CRASHLOOM_BENCH_MB` sets the size of each input (default 32). `CRASHLOOM_BENCH_ONLY` names one
//! input (`mixed`, `v8` or `go`) to run alone; `CRASHLOOM_BENCH_PEERS=0` skips the peers (for a
//! profiler).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crashloom::config::Config;
use crashloom::engine;
use crashloom::report;
use crashloom::source::files::FilesSource;
use crashloom::workspace::index::WorkspaceIndex;

/// The allocator the `crashloom` binary runs with (see `main.rs`): the phases are timed in this
/// process, and with the system's allocator they would measure glibc's malloc, not Crashloom.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STACKTRACE_PARSER: &str = "stacktrace-parser@0.1.11";
const ERROR_STACK_PARSER: &str = "error-stack-parser@2.1.4";
const RUNS: usize = 3;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces")
}

fn traces(language: &str) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_root().join(language))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths.into_iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

/// `traces` back to back until `bytes`, each followed by a blank line as a crash log has them.
fn dense(traces: &[&String], bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 64 * 1024);
    let mut n = 0;
    while text.len() < bytes {
        text.push_str(traces[n % traces.len()].trim_end());
        text.push_str("\n\n");
        n += 1;
    }
    text
}

/// A workspace holding the programs the traces came from and one crash log.
fn workspace(name: &str, log: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    for language in ["javascript", "python", "jvm", "go"] {
        let programs = fixtures_root().join(language).join("programs");
        if let Ok(entries) = std::fs::read_dir(&programs) {
            let target = dir.path().join(language);
            std::fs::create_dir_all(&target).unwrap();
            for entry in entries.filter_map(Result::ok).filter(|e| e.path().is_file()) {
                std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
            }
        }
    }
    let crashes = dir.path().join(".crashloom/crashes");
    std::fs::create_dir_all(&crashes).unwrap();
    std::fs::write(crashes.join("dense.log"), log).unwrap();
    std::fs::write(dir.path().join("crashloom.toml"), "[diagnostics]\nmax_log_mib = 4096\n").unwrap();
    dir
}

#[derive(Default, Clone, Copy)]
struct Phases {
    index: f64,
    read: f64,
    build: f64,
    output: f64,
    total: f64,
}

/// `crashloom crashes` in process, phase by phase; the best of `RUNS` for each phase.
fn crashloom_crashes(root: &Path) -> (Phases, usize, usize) {
    let mut best = Phases { index: f64::MAX, read: f64::MAX, build: f64::MAX, output: f64::MAX, total: f64::MAX };
    let (mut events, mut groups) = (0, 0);
    for _ in 0..RUNS {
        let started = Instant::now();
        let config = Config::load(root).unwrap();
        let t = Instant::now();
        let index = WorkspaceIndex::build(root).unwrap();
        let index_time = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut files = FilesSource::default();
        let loaded = engine::read_crashes(root, &config, &mut files);
        let read_time = t.elapsed().as_secs_f64();
        events = loaded.event_count();
        let t = Instant::now();
        let text_of = engine::text_from_disk(root);
        let built = engine::build(&config, &index, loaded, &text_of);
        let build_time = t.elapsed().as_secs_f64();
        groups = built.picture.groups.len();
        let t = Instant::now();
        let out = report::text(root, &built.picture, &built.problems, built.files_read);
        let output_time = t.elapsed().as_secs_f64();
        assert!(out.contains("crash"), "the report names crashes");
        let total = started.elapsed().as_secs_f64();
        best = Phases {
            index: best.index.min(index_time),
            read: best.read.min(read_time),
            build: best.build.min(build_time),
            output: best.output.min(output_time),
            total: best.total.min(total),
        };
    }
    (best, events, groups)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn print_crashloom(label: &str, bytes: usize, (phases, events, groups): (Phases, usize, usize)) -> f64 {
    let rate = mib(bytes) / phases.total;
    println!(
        "crashloom crashes, {label}: {:.1} MiB, {events} crashes in {groups} groups: {:.2} s = {rate:.1} MiB/s \
         (index {:.3} s, read+parse {:.3} s, group+map+relocate {:.3} s, report {:.3} s)",
        mib(bytes),
        phases.total,
        phases.index,
        phases.read,
        phases.build,
        phases.output
    );
    rate
}

/// A JavaScript peer's parse on the V8 input in Node: `call` is the expression that parses `text`
/// with the module bound to `parser` and yields the frames. MiB/s, best of `RUNS`.
fn node_peer(name: &str, package: &str, call: &str, input: &Path) -> Result<f64, String> {
    let dir = tempfile::Builder::new().prefix(name).tempdir().map_err(|e| e.to_string())?;
    let install = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir.path())
        .arg(package)
        .output()
        .map_err(|e| format!("npm cannot be run: {e}"))?;
    if !install.status.success() {
        return Err(format!("npm install {package} failed: {}", String::from_utf8_lossy(&install.stderr)));
    }
    let script = format!(
        r#"const parser = require({module:?});
const text = require("fs").readFileSync({input:?}, "utf8");
let best = Infinity, frames = 0;
for (let i = 0; i < {RUNS}; i++) {{
  const t = process.hrtime.bigint();
  frames = ({call}).length;
  best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
}}
console.log(JSON.stringify({{ seconds: best, frames }}));"#,
        module = dir.path().join("node_modules").join(name).display().to_string(),
        input = input.display().to_string(),
    );
    let run = Command::new("node").arg("-e").arg(script).output().map_err(|e| format!("node cannot be run: {e}"))?;
    if !run.status.success() {
        return Err(format!("node failed: {}", String::from_utf8_lossy(&run.stderr)));
    }
    let result: serde_json::Value = serde_json::from_slice(&run.stdout).map_err(|e| e.to_string())?;
    let seconds = result["seconds"].as_f64().ok_or("no time")?;
    let size = std::fs::metadata(input).map_err(|e| e.to_string())?.len() as usize;
    println!(
        "{name} (Node {}), V8: {:.1} MiB, {} frames: {seconds:.2} s = {:.1} MiB/s (parse only, text already in memory)",
        String::from_utf8_lossy(&Command::new("node").arg("--version").output().map(|o| o.stdout).unwrap_or_default())
            .trim(),
        mib(size),
        result["frames"],
        mib(size) / seconds
    );
    Ok(mib(size) / seconds)
}

/// panicparse on the Go input (reading every goroutine of every dump); MiB/s, best of `RUNS`.
fn panicparse(input: &Path) -> Result<f64, String> {
    let mut best = f64::MAX;
    for _ in 0..RUNS {
        let file = std::fs::File::open(input).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let run = Command::new("panicparse")
            .args(["-parse=false", "-rebase=false", "-no-color"])
            .stdin(file)
            .output()
            .map_err(|e| format!("panicparse is not installed ({e}); Debian's `panicparse` package provides it"))?;
        best = best.min(started.elapsed().as_secs_f64());
        if run.stdout.is_empty() {
            return Err(format!("panicparse printed nothing: {}", String::from_utf8_lossy(&run.stderr)));
        }
    }
    let size = std::fs::metadata(input).map_err(|e| e.to_string())?.len() as usize;
    println!("panicparse, Go: {:.1} MiB: {best:.2} s = {:.1} MiB/s (whole process)", mib(size), mib(size) / best);
    Ok(mib(size) / best)
}

fn main() {
    let megabytes: usize = std::env::var("CRASHLOOM_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let only = std::env::var("CRASHLOOM_BENCH_ONLY").unwrap_or_default();
    let peers = std::env::var("CRASHLOOM_BENCH_PEERS").map_or(true, |v| v != "0");
    let runs = |input: &str| only.is_empty() || only == input;
    let bytes = megabytes << 20;
    let v8 = traces("javascript");
    let python = traces("python");
    let jvm = traces("jvm");
    let go = traces("go");
    let all: Vec<&String> = v8.iter().chain(&python).chain(&jvm).chain(&go).collect();

    if runs("mixed") {
        let mixed_log = dense(&all, bytes);
        let mixed = workspace("dense-mixed", &mixed_log);
        drop(mixed_log);
        print_crashloom("V8+Python+JVM+Go", bytes, crashloom_crashes(mixed.path()));
    }

    if runs("v8") {
        let v8_log = dense(&v8.iter().collect::<Vec<_>>(), bytes);
        let v8_dir = workspace("dense-v8", &v8_log);
        drop(v8_log);
        let v8_rate = print_crashloom("V8 only", bytes, crashloom_crashes(v8_dir.path()));
        let input = v8_dir.path().join(".crashloom/crashes/dense.log");
        let node_peers = [
            ("stacktrace-parser", STACKTRACE_PARSER, "parser.parse(text)"),
            ("error-stack-parser", ERROR_STACK_PARSER, "parser.parse({ stack: text })"),
        ];
        for (name, package, call) in node_peers.into_iter().filter(|_| peers) {
            match node_peer(name, package, call, &input) {
                Ok(peer) => println!("  V8: Crashloom end to end / {name} parse only = {:.2}x", v8_rate / peer),
                Err(why) => println!("{name} could not be run: {why}"),
            }
        }
    }

    if runs("go") {
        let go_log = dense(&go.iter().collect::<Vec<_>>(), bytes);
        let go_dir = workspace("dense-go", &go_log);
        drop(go_log);
        let go_rate = print_crashloom("Go only", bytes, crashloom_crashes(go_dir.path()));
        if peers {
            match panicparse(&go_dir.path().join(".crashloom/crashes/dense.log")) {
                Ok(peer) => println!("  Go: Crashloom end to end / panicparse = {:.2}x", go_rate / peer),
                Err(why) => println!("panicparse could not be run: {why}"),
            }
        }
    }
}
