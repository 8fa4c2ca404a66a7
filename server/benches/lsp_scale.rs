//! The language server at scale: a workspace of 100,000 files with 10,000 crash groups.
//! Measures startup to first diagnostics, didOpen → publishDiagnostics, hover and codeLens
//! latencies, and peak memory, over the real protocol against the built binary.
//!
//!     cargo bench -p crashloom --bench lsp_scale
//!
//! Sizes can be lowered for a quick run: `CRASHLOOM_BENCH_FILES=10000 CRASHLOOM_BENCH_GROUPS=1000`.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use common::LspClient;
use serde_json::{Value, json};

const LINES_PER_FILE: usize = 24;
const FILES_PER_DIR: usize = 100;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn module_path(file: usize) -> String {
    format!("pkg{:04}/mod{:03}.py", file / FILES_PER_DIR, file % FILES_PER_DIR)
}

fn source_line(file: usize, line: usize) -> String {
    format!("    value_{line} = compute({file}, {line})")
}

/// Writes the workspace: `files` Python files and `groups` distinct crashes in 100 log files.
fn generate(root: &Path, files: usize, groups: usize) {
    for file in 0..files {
        let path = root.join(module_path(file));
        if file % FILES_PER_DIR == 0 {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        }
        let mut text = String::new();
        for line in 1..=LINES_PER_FILE {
            if line % 8 == 1 {
                let _ = writeln!(text, "def handler_{line}(request):");
            } else {
                let _ = writeln!(text, "{}", source_line(file, line));
            }
        }
        std::fs::write(path, text).unwrap();
    }
    let crashes = root.join(".crashloom/crashes");
    std::fs::create_dir_all(&crashes).unwrap();
    let per_log = groups.div_ceil(100);
    let mut log = String::new();
    for group in 0..groups {
        // Three in-app frames per crash, in files spread over the workspace.
        let _ = writeln!(log, "2026-11-20 10:{:02}:{:02},000 ERROR [app] request failed", group / 60 % 60, group % 60);
        let _ = writeln!(log, "Traceback (most recent call last):");
        for depth in 0..3 {
            let file = (group * 7 + depth * 13) % files;
            let line = 2 + (group + depth) % (LINES_PER_FILE - 2);
            let line = if line % 8 == 1 { line + 1 } else { line };
            let _ = writeln!(log, "  File \"/srv/app/{}\", line {line}, in handler_{group}_{depth}", module_path(file));
            let _ = writeln!(log, "    {}", source_line(file, line).trim());
        }
        let _ = writeln!(log, "KeyError: 'key-{group}'");
        if (group + 1) % per_log == 0 || group + 1 == groups {
            std::fs::write(crashes.join(format!("app-{:03}.log", group / per_log)), &log).unwrap();
            log.clear();
        }
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A memory figure of `/proc/<pid>/status` (`VmHWM`: the peak, `VmRSS`: now), in MiB.
fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let files = env_number("CRASHLOOM_BENCH_FILES", 100_000);
    let groups = env_number("CRASHLOOM_BENCH_GROUPS", 10_000);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    generate(dir.path(), files, groups);
    println!("workspace: {files} files, {groups} crash groups (generated in {:.1} s)", started.elapsed().as_secs_f64());

    // Startup: spawn → initialize → first publishDiagnostics.
    let started = Instant::now();
    let mut client = LspClient::start(dir.path(), Value::Null);
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while first.is_none() && Instant::now() < deadline {
        if !client.diagnostics.is_empty() {
            first = Some(started.elapsed());
            break;
        }
        client.pump(Duration::from_millis(1));
    }
    let startup = first.expect("no diagnostics within 120 s");
    // Wait for the whole first publication to settle; the last message came one quiet period
    // before the wait ends.
    let quiet = Duration::from_millis(500);
    client.pump_until_quiet(quiet);
    let all_published = started.elapsed().saturating_sub(quiet);
    let published_files = client.diagnostics.len();
    let total_diagnostics: usize = client.diagnostics.values().map(Vec::len).sum();
    println!("startup to first diagnostics: {}", ms(startup));
    println!(
        "startup to all diagnostics published: {} ({published_files} files, {total_diagnostics} diagnostics)",
        ms(all_published)
    );

    // didOpen → publishDiagnostics, on files that have crash sites.
    let with_sites: Vec<String> =
        client.diagnostics.iter().filter(|(_, d)| !d.is_empty()).map(|(u, _)| u.clone()).take(300).collect();
    let mut open_latency = Vec::new();
    for uri in &with_sites {
        let relative = uri.strip_prefix(&common::file_uri(&client.root)).unwrap().trim_start_matches('/').to_owned();
        client.diagnostics.remove(uri);
        let sent = Instant::now();
        client.open(&relative);
        client.wait_for_diagnostics(&relative, |_| true);
        open_latency.push(sent.elapsed());
    }
    println!(
        "didOpen → publishDiagnostics: p50 {}, p99 {} ({} files)",
        ms(percentile(&mut open_latency, 0.5)),
        ms(percentile(&mut open_latency, 0.99)),
        open_latency.len()
    );

    // Hover and codeLens on open files with crash sites.
    let mut hover_latency = Vec::new();
    let mut lens_latency = Vec::new();
    let mut cold_lens_latency = Vec::new();
    for round in 0..5 {
        for uri in &with_sites {
            let line = client
                .diagnostics
                .get(uri)
                .and_then(|d| d.first())
                .map(|d| d["range"]["start"]["line"].clone())
                .unwrap_or(json!(0));
            let sent = Instant::now();
            let hover = client.request(
                "textDocument/hover",
                json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 6}}),
            );
            hover_latency.push(sent.elapsed());
            if round == 0 {
                assert!(hover.is_object(), "hover on a crash line answers");
            }
            let sent = Instant::now();
            client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
            // The first codeLens of a file parses it; later ones use the kept outline.
            if round == 0 { cold_lens_latency.push(sent.elapsed()) } else { lens_latency.push(sent.elapsed()) }
        }
    }
    println!(
        "hover: p50 {}, p99 {} ({} requests)",
        ms(percentile(&mut hover_latency, 0.5)),
        ms(percentile(&mut hover_latency, 0.99)),
        hover_latency.len()
    );
    println!(
        "codeLens, first of a file: p50 {}, p99 {} ({} requests)",
        ms(percentile(&mut cold_lens_latency, 0.5)),
        ms(percentile(&mut cold_lens_latency, 0.99)),
        cold_lens_latency.len()
    );
    println!(
        "codeLens, outline kept: p50 {}, p99 {} ({} requests)",
        ms(percentile(&mut lens_latency, 0.5)),
        ms(percentile(&mut lens_latency, 0.99)),
        lens_latency.len()
    );

    // One new crash event, with every group loaded: from the crash file written to its
    // diagnostic in the editor.
    client.pump_until_quiet(Duration::from_millis(300));
    let mut new_event_latency = Vec::new();
    for event in 0..10 {
        let file = (event * 37 + 5) % files;
        let relative = module_path(file);
        let marker = format!("KeyError: 'new-event-{event}'");
        let trace = format!(
            "Traceback (most recent call last):\n  File \"/srv/app/{relative}\", line 3, in handler_new_{event}\n    {}\n{marker}\n",
            source_line(file, 3).trim()
        );
        let path = dir.path().join(format!(".crashloom/crashes/new-{event}.log"));
        let written = Instant::now();
        std::fs::write(&path, trace).unwrap();
        client.wait_for_diagnostics(&relative, |d| d.iter().any(|d| d["message"].as_str().unwrap().contains(&marker)));
        new_event_latency.push(written.elapsed());
        client.pump_until_quiet(Duration::from_millis(300));
    }
    println!(
        "one new crash event → its diagnostic in the editor: p50 {}, max {} ({groups} groups loaded, {} events)",
        ms(percentile(&mut new_event_latency, 0.5)),
        ms(percentile(&mut new_event_latency, 1.0)),
        new_event_latency.len()
    );
    println!("peak memory (VmHWM): {:.1} MiB", memory_mib(client.pid(), "VmHWM:"));

    // A big crash file comes and goes: the memory it took is given back.
    let before = memory_mib(client.pid(), "VmRSS:");
    let big = dir.path().join(".crashloom/crashes/big.log");
    let target = env_number("CRASHLOOM_BENCH_BIG_MIB", 48) << 20;
    let mut text = String::with_capacity(target + 4096);
    let mut n = 0;
    while text.len() < target {
        // A hundred crash groups, each seen many times.
        let file = ((n % 100) * 11 + 3) % files;
        let _ = writeln!(
            text,
            "Traceback (most recent call last):\n  File \"/srv/app/{}\", line 4, in big_{}\n    {}\nValueError: big-{n}",
            module_path(file),
            n % 100,
            source_line(file, 4).trim()
        );
        n += 1;
    }
    let marker_file = module_path(3);
    std::fs::write(&big, &text).unwrap();
    drop(text);
    client.wait_for_diagnostics(&marker_file, |d| {
        d.iter().any(|d| d["message"].as_str().unwrap().contains("ValueError: big-"))
    });
    client.pump_until_quiet(Duration::from_millis(1000));
    let with_big = memory_mib(client.pid(), "VmRSS:");
    std::fs::remove_file(&big).unwrap();
    client.wait_for_diagnostics(&marker_file, |d| {
        !d.iter().any(|d| d["message"].as_str().unwrap().contains("ValueError: big-"))
    });
    client.pump_until_quiet(Duration::from_millis(2000));
    let after = memory_mib(client.pid(), "VmRSS:");
    println!(
        "memory (VmRSS): {before:.1} MiB before a {} MiB crash file ({n} traces), {with_big:.1} MiB with it, {after:.1} MiB after it is gone",
        target >> 20
    );
    client.shutdown();

    // The editor opened again on the same workspace: the last session's diagnostics first.
    let started = Instant::now();
    let mut client = LspClient::start(dir.path(), Value::Null);
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.diagnostics.is_empty() && Instant::now() < deadline {
        client.pump(Duration::from_millis(1));
    }
    let warm = started.elapsed();
    client.pump_until_quiet(quiet);
    let settled = started.elapsed().saturating_sub(quiet);
    println!(
        "restart to first diagnostics (the last session's): {}; to all published again: {} ({} files)",
        ms(warm),
        ms(settled),
        client.diagnostics.len()
    );
    client.shutdown();
}
