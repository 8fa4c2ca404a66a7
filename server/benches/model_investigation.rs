//! The model's share of an investigation, with a scripted model (the stand-in server of the
//! tests) on each example application: requests and tokens per investigation (two tool calls and
//! a fix, then one feedback round), the size of the first context against the budget, and the
//! wall time spent outside the model (offline agents and context building, tools, parsing and
//! strictly applying the edits, and one sandbox validation of the model's candidate).
//!
//!     cargo bench -p crashloom --bench model_investigation
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/support/fake_model.rs"]
mod fake_model;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crashloom::config::Config;
use crashloom::engine::load_workspace;
use crashloom::investigate::analyzer::OfflineErrorAnalyzer;
use crashloom::investigate::code_search::OfflineCodeSearch;
use crashloom::investigate::model_agents::ModelProposer;
use crashloom::investigate::prompt as context;
use crashloom::investigate::root_cause::OfflineRootCause;
use crashloom::investigate::search::{CandidateProposer, Judged, ProposalContext};
use crashloom::investigate::validator::{ValidationInputs, Validator};
use crashloom::investigate::{CodeSearch, CrashInput, ErrorAnalyzer, RootCauseAnalyst};
use crashloom::model::ModelSession;
use fake_model::{FakeModel, KEY, Provider, Reply, tool};
use serde_json::json;

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

fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(name);
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name), &root);
    for args in [&["init", "-q"][..], &["add", "-A"], &["commit", "-q", "-m", "example"]] {
        let status = Command::new("git")
            .args(["-c", "user.name=Bench", "-c", "user.email=bench@example.com"])
            .args(args)
            .current_dir(&root)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    (dir, root)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let budget_tokens = crashloom::config::ModelBudget::default().tokens;
    println!("model investigation, scripted model (openai wire format, streamed), budget {budget_tokens} tokens");
    println!(
        "{:<16} {:>8} {:>8} {:>9} {:>9} {:>11} {:>12} {:>12} {:>11}",
        "example", "requests", "rounds", "in tok", "out tok", "context tok", "offline ms", "outside ms", "validate ms"
    );
    for name in ["shop-python", "cart-node", "inventory-rust", "ledger-go"] {
        let (_dir, root) = example(name);
        let config = Config::load(&root).unwrap();
        let group = load_workspace(&root, &config).unwrap().picture.groups.into_iter().next().unwrap();

        let started = Instant::now();
        let input = CrashInput { root: root.clone(), group: &group };
        let facts = OfflineErrorAnalyzer.analyze(&input);
        let code = OfflineCodeSearch.search(&input, &facts);
        let hypotheses = OfflineRootCause.hypotheses(&input, &facts, &code);
        let built = context::build(&group, &facts, &code, &hypotheses, (budget_tokens / 4).min(32_000));
        let offline = started.elapsed();

        // The scripted model reads the crash file, asks for the callers, then edits the crash line.
        let site = facts.crash_site.clone().unwrap();
        let function = site.function.clone().unwrap_or_default();
        let function = function.rsplit(['.', ':']).next().unwrap_or_default().to_owned();
        let line = std::fs::read_to_string(root.join(&site.path))
            .unwrap()
            .lines()
            .nth(site.line as usize - 1)
            .unwrap()
            .to_owned();
        let fix = format!(
            "Summary: guard the crash line\n\n{}\n<<<<<<< SEARCH\n{line}\n=======\n{line} \n>>>>>>> REPLACE\n",
            site.path
        );
        let fake = FakeModel::start(
            Provider::OpenAi,
            vec![
                Reply::Tools(vec![tool("read_file", json!({"path": site.path}))]),
                Reply::Tools(vec![tool("find_callers", json!({"name": function}))]),
                Reply::Text(fix.clone()),
                Reply::Text(fix),
            ],
        );
        let session = ModelSession::from_config_with_key(
            &Config::from_toml(&fake.config_toml(true, "")).unwrap(),
            Some(KEY.into()),
        )
        .unwrap()
        .unwrap();
        let proposer = ModelProposer::new(session.clone(), &config.sandbox);
        let started = Instant::now();
        let context = ProposalContext {
            input: &input,
            facts: &facts,
            code: &code,
            hypotheses: &hypotheses,
            judged: &[],
            round: 1,
        };
        let candidates = proposer.propose(&context);
        assert_eq!(candidates.len(), 1, "{name}");
        let proposing = started.elapsed();

        // One validation of the model's candidate, in the sandbox, as the search loop does.
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let started = Instant::now();
        let validator = Validator { root: &root, validate: &config.validate, sandbox: &config.sandbox };
        let report = runtime
            .block_on(validator.validate_with(
                &group,
                &candidates[0].fix,
                ValidationInputs { facts: Some(&facts), code: Some(&code), reproduction: None },
            ))
            .unwrap();
        let validating = started.elapsed();

        // A feedback round.
        let judged = vec![Judged { candidate: candidates[0].clone(), report }];
        let started = Instant::now();
        let context = ProposalContext {
            input: &input,
            facts: &facts,
            code: &code,
            hypotheses: &hypotheses,
            judged: &judged,
            round: 2,
        };
        assert_eq!(proposer.propose(&context).len(), 1, "{name}");
        let feedback = started.elapsed();

        let record = session.record();
        let outside = (proposing + feedback).saturating_sub(Duration::from_millis(record.model_ms));
        println!(
            "{name:<16} {:>8} {:>8} {:>9} {:>9} {:>11} {:>12.1} {:>12.1} {:>11.0}",
            record.requests,
            record.rounds,
            record.input_tokens,
            record.output_tokens,
            built.tokens,
            ms(offline),
            ms(outside),
            ms(validating)
        );
        let bytes: Vec<usize> = fake.requests().iter().map(|r| r.raw.len()).collect();
        println!("{:<16} request sizes (bytes): {bytes:?}; trimmed: {:?}", "", built.trimmed);
    }
}
