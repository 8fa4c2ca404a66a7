//! The investigation pipeline:
//! 1. agents 1-4 (analysis, code search with git history, root cause, fix) on a 10,000-file git
//!    repository, without any test run;
//! 2. validation overhead: the Sandbox Validator on each example application against the same
//!    commands (reproduce and tests, before and after) run in place, caches warm;
//! 3. the fix search on each example: candidates proposed and judged, time to the first
//!    validated candidate and to the end of the search.
//!
//!     cargo bench -p crashloom --bench investigate
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crashloom::config::Config;
use crashloom::engine::load_workspace;
use crashloom::investigate::analyzer::OfflineErrorAnalyzer;
use crashloom::investigate::code_search::OfflineCodeSearch;
use crashloom::investigate::fix::OfflineFixProposer;
use crashloom::investigate::root_cause::OfflineRootCause;
use crashloom::investigate::validator::Validator;
use crashloom::investigate::{CodeSearch, CrashInput, ErrorAnalyzer, FixOutcome, FixProposer, RootCauseAnalyst};
use crashloom::sandbox::split_command_line;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if !["target", "node_modules", "__pycache__", "reports"].contains(&entry.file_name().to_str().unwrap()) {
                copy_dir(&entry.path(), &target);
            }
        } else if !entry.file_name().to_string_lossy().starts_with("crashloom.db") {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=Bench", "-c", "user.email=bench@example.com"])
        .args(args)
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(name);
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name), &root);
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "example"]);
    (dir, root)
}

fn agents_on_a_large_repository() {
    let (_dir, root) = example("shop-python");
    // 10,000 more files: modules that call into the shop, and their tests.
    for i in 0..10_000 {
        let path = root.join(format!("services/s{:03}/m{:03}.py", i / 100, i % 100));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body = if i % 200 == 0 {
            "from shop.orders import receipt\n\n\ndef checkout(order, customers):\n    return receipt(order, customers)\n".to_owned()
        } else {
            format!("def handler_{i}(request):\n    value = request.get('v{i}')\n    return value\n")
        };
        std::fs::write(path, body).unwrap();
    }
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "services"]);
    let loaded = load_workspace(&root, &Config::load(&root).unwrap()).unwrap();
    let group = loaded.picture.groups.iter().find(|g| g.exception == "TypeError").unwrap().clone();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let input = CrashInput { root: root.clone(), group: &group };
        let facts = OfflineErrorAnalyzer.analyze(&input);
        let code = OfflineCodeSearch.search(&input, &facts);
        let hypotheses = OfflineRootCause.hypotheses(&input, &facts, &code);
        let fix = OfflineFixProposer.propose(&input, &facts, &code, &hypotheses);
        times.push(started.elapsed());
        assert!(matches!(fix, FixOutcome::Proposed { .. }));
        assert!(code.callers.len() >= 10, "callers found: {}", code.callers.len());
    }
    times.sort();
    println!(
        "agents 1-4 on a {}-file repository: median {:.0} ms, worst {:.0} ms",
        10_000 + 12,
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
}

fn run_in_place(root: &Path, command: &str) -> Duration {
    let argv = split_command_line(command).unwrap();
    let started = Instant::now();
    let _ = Command::new(&argv[0]).args(&argv[1..]).current_dir(root).output().unwrap();
    started.elapsed()
}

fn validation_overhead(runtime: &tokio::runtime::Runtime, name: &str) {
    let (_dir, root) = example(name);
    let config = Arc::new(Config::load(&root).unwrap());
    let loaded = load_workspace(&root, &config).unwrap();
    // The first crash group the offline engine has a fix for.
    let proposed = loaded.picture.groups.iter().find_map(|group| {
        let input = CrashInput { root: root.clone(), group };
        let facts = OfflineErrorAnalyzer.analyze(&input);
        let code = OfflineCodeSearch.search(&input, &facts);
        let hypotheses = OfflineRootCause.hypotheses(&input, &facts, &code);
        match OfflineFixProposer.propose(&input, &facts, &code, &hypotheses) {
            FixOutcome::Proposed { fix } => Some((group.clone(), fix)),
            FixOutcome::NoConfidentFix { .. } => None,
        }
    });
    let Some((group, fix)) = proposed else {
        println!("{name}: no fix proposed");
        return;
    };
    let validator = Validator { root: &root, validate: &config.validate, sandbox: &config.sandbox };
    let reproduce = config.validate.reproduce.clone().unwrap();
    let test = config.validate.test.clone().unwrap();
    // Warm every cache once: in place and in the sandbox.
    run_in_place(&root, &reproduce);
    run_in_place(&root, &test);
    let warm = runtime.block_on(validator.validate(&group, &fix)).unwrap();
    assert!(warm.reproduction.is_some(), "{name}: the reproduction must crash before the change: {warm:#?}");
    let mut in_place = Vec::new();
    let mut sandboxed = Vec::new();
    for _ in 0..3 {
        // What validation runs: reproduce and tests before, build (cheap) and both again after.
        let mut total = Duration::ZERO;
        for command in [&reproduce, &test, &reproduce, &test] {
            total += run_in_place(&root, command);
        }
        in_place.push(total);
        let started = Instant::now();
        let report = runtime.block_on(validator.validate(&group, &fix)).unwrap();
        sandboxed.push(started.elapsed());
        assert_eq!(report.outcome, warm.outcome);
    }
    in_place.sort();
    sandboxed.sort();
    let (base, total) = (in_place[1].as_secs_f64(), sandboxed[1].as_secs_f64());
    println!(
        "{name}: commands in place {:.0} ms, validation {:.0} ms, overhead {:.0} ms ({:+.0}%), outcome {}",
        base * 1000.0,
        total * 1000.0,
        (total - base) * 1000.0,
        (total - base) / base * 100.0,
        warm.outcome_words()
    );
}

/// Time to write and confirm a reproduction when none is configured.
fn reproduction_writing(runtime: &tokio::runtime::Runtime, name: &str) {
    let (_dir, root) = example(name);
    let toml = std::fs::read_to_string(root.join("crashloom.toml")).unwrap();
    let without: String = toml.lines().filter(|l| !l.starts_with("reproduce")).map(|l| format!("{l}\n")).collect();
    std::fs::write(root.join("crashloom.toml"), without).unwrap();
    let config = Config::load(&root).unwrap();
    let loaded = load_workspace(&root, &config).unwrap();
    let validator = Validator { root: &root, validate: &config.validate, sandbox: &config.sandbox };
    for group in &loaded.picture.groups {
        let input = CrashInput { root: root.clone(), group };
        let facts = OfflineErrorAnalyzer.analyze(&input);
        let code = OfflineCodeSearch.search(&input, &facts);
        let inputs = crashloom::investigate::validator::ValidationInputs {
            facts: Some(&facts),
            code: Some(&code),
            reproduction: None,
        };
        let started = Instant::now();
        let session = runtime.block_on(validator.session(group, inputs)).unwrap();
        let elapsed = started.elapsed();
        let found = session.reproduction().map(|r| format!("{:?}: {}", r.origin, r.description));
        runtime.block_on(session.finish());
        println!(
            "{name} {}: reproduction {} in {:.0} ms (with the tests before any change)",
            group.short_id,
            found.unwrap_or_else(|| "not found".to_owned()),
            elapsed.as_secs_f64() * 1000.0
        );
    }
}

fn fix_search(runtime: &tokio::runtime::Runtime, name: &str) {
    let (_dir, root) = example(name);
    let config = Arc::new(Config::load(&root).unwrap());
    let loaded = load_workspace(&root, &config).unwrap();
    for group in &loaded.picture.groups {
        let started = Instant::now();
        let investigation = runtime
            .block_on(crashloom::investigate::pipeline::investigate(
                root.clone(),
                crashloom::workspace::sites::CrashGroup::clone(group),
                config.clone(),
                Arc::new(crashloom::investigate::pipeline::Quiet),
            ))
            .unwrap();
        let search = investigation.search.clone().unwrap_or_default();
        println!(
            "{name} {}: {} candidates proposed, {} judged, first validated {}, search {} ms, investigation {:.0} ms, proposed: [{}] {}",
            group.short_id,
            search.proposed,
            search.judged,
            search.first_validated_ms.map_or("never".to_owned(), |ms| format!("after {ms} ms")),
            search.elapsed_ms,
            started.elapsed().as_secs_f64() * 1000.0,
            investigation.candidates.first().map_or("none", |c| c.outcome_words()),
            investigation.fix().map(|f| f.summary.as_str()).unwrap_or("no fix")
        );
    }
}

fn main() {
    agents_on_a_large_repository();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for name in ["shop-python", "cart-node", "inventory-rust", "ledger-go"] {
        validation_overhead(&runtime, name);
    }
    for name in ["shop-python", "cart-node", "inventory-rust", "ledger-go"] {
        fix_search(&runtime, name);
    }
    for name in ["shop-python", "cart-node", "inventory-rust", "ledger-go"] {
        reproduction_writing(&runtime, name);
    }
}
