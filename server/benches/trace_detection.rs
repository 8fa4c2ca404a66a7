//! Trace detection and parsing over a large log: ordinary log lines with real captured traces
//! (every format's fixtures) inside, each line carrying a timestamp prefix.
//!
//!     cargo bench -p crashloom --bench trace_detection
//!
//! `CRASHLOOM_BENCH_MB` sets the log size (default 100).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::time::Instant;

use crashloom::crash::detect::find_traces;

/// The allocator the `crashloom` binary runs with (see `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn fixture_traces() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces");
    let mut traces = Vec::new();
    for language in ["python", "rust", "go", "jvm", "javascript", "dotnet", "ruby"] {
        let Ok(entries) = std::fs::read_dir(root.join(language)) else { continue };
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        paths.sort();
        for path in paths {
            traces.push(std::fs::read_to_string(path).unwrap());
        }
    }
    traces
}

fn main() {
    let megabytes: usize = std::env::var("CRASHLOOM_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let traces = fixture_traces();
    assert!(!traces.is_empty(), "no fixtures found");
    let mut log = String::with_capacity(megabytes << 20);
    let mut n = 0usize;
    let mut embedded = 0usize;
    while log.len() < megabytes << 20 {
        let stamp = format!("2026-11-20T10:{:02}:{:02}.{:03}Z app[{}]: ", n / 60 % 60, n % 60, n % 1000, 4000 + n % 7);
        if n % 2_000 == 1_999 {
            for line in traces[embedded % traces.len()].lines() {
                log.push_str(&stamp);
                log.push_str(line);
                log.push('\n');
            }
            embedded += 1;
        } else {
            log.push_str(&stamp);
            log.push_str("INFO request served path=/api/orders/");
            log.push_str(&(n * 7919 % 100_000).to_string());
            log.push_str(" status=200 user=ada@example.com duration_ms=12\n");
        }
        n += 1;
    }
    let mut best = f64::MAX;
    let mut found = 0;
    for _ in 0..3 {
        let started = Instant::now();
        found = find_traces(&log).len();
        best = best.min(started.elapsed().as_secs_f64());
    }
    let mb = log.len() as f64 / (1 << 20) as f64;
    println!("log: {mb:.0} MiB, {n} lines, {embedded} traces embedded ({} fixtures), {found} found", traces.len());
    println!("detect + parse: {:.2} s, {:.0} MiB/s on one core (best of 3)", best, mb / best);
}
