//! `crashloom watch` end to end: the real binary on a shipped example in a real git repository with
//! a bare remote, a stand-in GitHub API, one pull request per validated crash and none for the
//! rest, nothing repeated on the next pass, new events noticed, and a clean stop on SIGTERM.
#![allow(clippy::unwrap_used)]

#[path = "support/fake_forge.rs"]
mod fake_forge;
#[path = "support/publish_repo.rs"]
mod publish_repo;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use fake_forge::{FakeForge, GITHUB_TOKEN};
use publish_repo::{Scenario, git, scenario};

const REPOSITORY: &str = "acme/ledger";

/// Turns on pull requests to the stand-in in the example's committed crashloom.toml.
fn configure(scenario: &Scenario, forge: &FakeForge, extra: &str) {
    let path = scenario.work.join("crashloom.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[pull_request]\nprovider = \"github\"\napi_url = \"{}\"\nrepository = \"{REPOSITORY}\"\nlabels = [\"crashloom\", \"crash\"]\nauthor = \"Crash Bot <crash-bot@example.com>\"\n{extra}",
        forge.api_url
    ));
    std::fs::write(&path, text).unwrap();
    git(&scenario.work, &["commit", "-q", "-am", "Open pull requests for validated fixes"]);
    git(&scenario.work, &["push", "-q", "origin", "main"]);
}

fn watch_once(root: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["watch", "--once", "--workspace"])
        .arg(root)
        .env("GITHUB_TOKEN", GITHUB_TOKEN)
        .env_remove("SENTRY_AUTH_TOKEN")
        .output()
        .unwrap()
}

fn lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

fn short_ids(root: &Path) -> Vec<(String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["crashes", "--json", "--workspace"])
        .arg(root)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["short_id"].as_str().unwrap().to_owned(), g["exception"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_once_opens_one_pull_request_and_the_next_pass_none() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    configure(&scenario, &forge, "");
    let id = short_ids(&scenario.work)[0].0.clone();
    let first = tokio::task::spawn_blocking({
        let work = scenario.work.clone();
        move || watch_once(&work)
    })
    .await
    .unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let said = lines(&first);
    assert_eq!(said.len(), 4, "{said:#?}");
    assert!(said[0].starts_with("watching ") && said[0].ends_with(" (one pass)"), "{}", said[0]);
    assert_eq!(said[1], format!("{id}: investigating (new, 1 events)"));
    assert_eq!(said[2], format!("{id}: fix validated; pull request opened: https://github.com/acme/ledger/pull/1"));
    assert_eq!(said[3], "stopped: 1 investigated, 1 pull requests opened, 0 updated, 0 failures");
    assert_eq!(scenario.commits_on(&format!("crashloom/{id}")).len(), 1);
    let pulls = forge.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].labels, ["crashloom", "crash"]);
    assert!(scenario.work.join(format!(".crashloom/reports/{id}.md")).exists());

    // Nothing new: nothing investigated, nothing asked.
    let requests = forge.requests().len();
    let second = tokio::task::spawn_blocking({
        let work = scenario.work.clone();
        move || watch_once(&work)
    })
    .await
    .unwrap();
    assert!(second.status.success());
    assert_eq!(lines(&second)[1..], ["stopped: 0 investigated, 0 pull requests opened, 0 updated, 0 failures"]);
    assert_eq!(forge.requests().len(), requests);

    // The crash again: investigated again, the same pull request gets a comment.
    let crash = std::fs::read_to_string(scenario.work.join(".crashloom/crashes/posting-panic.txt")).unwrap();
    std::fs::write(scenario.work.join(".crashloom/crashes/posting-panic-again.txt"), crash).unwrap();
    let third = tokio::task::spawn_blocking({
        let work = scenario.work.clone();
        move || watch_once(&work)
    })
    .await
    .unwrap();
    let said = lines(&third);
    assert!(third.status.success(), "{said:#?}");
    assert_eq!(said[1], format!("{id}: investigating (1 new events, 2 in all)"));
    assert_eq!(said[2], format!("{id}: fix validated; pull request commented: https://github.com/acme/ledger/pull/1"));
    let pulls = forge.pulls();
    assert_eq!(pulls.len(), 1, "no second pull request");
    assert_eq!(pulls[0].comments.len(), 1);
    assert!(pulls[0].comments[0].contains("has now been seen 2 times"), "{}", pulls[0].comments[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converted_fix_gets_no_pull_request_unless_allowed() {
    let scenario = scenario("shop-python");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    configure(&scenario, &forge, "");
    let groups = short_ids(&scenario.work);
    let (type_error, _) = groups.iter().find(|(_, exception)| exception == "TypeError").unwrap().clone();
    let output = tokio::task::spawn_blocking({
        let work = scenario.work.clone();
        move || watch_once(&work)
    })
    .await
    .unwrap();
    let said = lines(&output);
    assert!(output.status.success(), "{said:#?}\n{}", String::from_utf8_lossy(&output.stderr));
    let verdict = said.iter().find(|l| l.starts_with(&format!("{type_error}: fix"))).unwrap();
    assert!(
        verdict.starts_with(&format!(
            "{type_error}: fix NOT validated (the change turns the crash into OrderError); no pull request: the fix for {type_error} is not validated: the change turns the crash into OrderError; set [pull_request] allow_converted = true"
        )),
        "{verdict}"
    );
    assert_eq!(
        said.last().unwrap(),
        &format!("stopped: {} investigated, 0 pull requests opened, 0 updated, 0 failures", groups.len())
    );
    assert!(forge.requests().is_empty(), "not one request to GitHub");
    assert_eq!(scenario.branches(), ["main"], "nothing pushed");

    // Allowed: the pull request says plainly that the fix is not validated.
    let allowed = publish_repo::scenario("shop-python");
    let forge = FakeForge::github(REPOSITORY, allowed.bare.clone()).await;
    configure(&allowed, &forge, "allow_converted = true\n");
    let output = tokio::task::spawn_blocking({
        let work = allowed.work.clone();
        move || watch_once(&work)
    })
    .await
    .unwrap();
    let said = lines(&output);
    assert!(
        said.iter().any(|l| l.starts_with(&format!(
            "{type_error}: fix NOT validated (the change turns the crash into OrderError); pull request opened: "
        ))),
        "{said:#?}"
    );
    let pulls = forge.pulls();
    assert_eq!(pulls.len(), 1, "only the converted fix, never one that did not validate at all");
    assert!(
        pulls[0].body.contains("**Not validated:** the change turns the crash into OrderError"),
        "{}",
        pulls[0].body
    );
}

fn read_lines(child: &mut std::process::Child) -> Receiver<String> {
    let (sender, receiver) = channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

fn wait_for(lines: &Receiver<String>, seen: &mut Vec<String>, wanted: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            let found = wanted(&line);
            seen.push(line);
            if found {
                return;
            }
        }
    }
    panic!("never said what was expected; said: {seen:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_a_service_it_notices_new_crashes_and_stops_cleanly_on_sigterm() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    configure(&scenario, &forge, "\n[watch]\npoll_secs = 1\n");
    let id = short_ids(&scenario.work)[0].0.clone();
    // A crash with too few events for `min_count` would be left alone; this one has one event
    // and the default minimum is one.
    let mut child = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["watch", "--workspace"])
        .arg(&scenario.work)
        .env("GITHUB_TOKEN", GITHUB_TOKEN)
        .env_remove("SENTRY_AUTH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = read_lines(&mut child);
    let mut seen = Vec::new();
    let opened = format!("{id}: fix validated; pull request opened: https://github.com/acme/ledger/pull/1");
    wait_for(&lines, &mut seen, |l| l == opened);

    // A new event of the same crash, dropped while it runs: noticed on the next poll.
    let crash = std::fs::read_to_string(scenario.work.join(".crashloom/crashes/posting-panic.txt")).unwrap();
    std::fs::write(scenario.work.join(".crashloom/crashes/posting-panic-again.txt"), crash).unwrap();
    let commented = format!("{id}: fix validated; pull request commented: https://github.com/acme/ledger/pull/1");
    wait_for(&lines, &mut seen, |l| l == commented);

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    wait_for(&lines, &mut seen, |l| l.starts_with("stopped: "));
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(seen.last().unwrap(), "stopped: 2 investigated, 1 pull requests opened, 1 updated, 0 failures");
    assert_eq!(forge.pulls().len(), 1);
    assert_eq!(git(&scenario.work, &["worktree", "list"]).lines().count(), 1, "no worktree left behind");
}

#[path = "support/fake_sentry_issue.rs"]
mod fake_sentry_issue;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_from_sentry_gets_its_pull_request_linked_on_the_sentry_issue() {
    let sentry = fake_sentry_issue::FakeSentryIssue::start().await;
    let scenario = scenario("ledger-go");
    // The crash comes from Sentry only.
    git(&scenario.work, &["rm", "-q", ".crashloom/crashes/posting-panic.txt"]);
    git(&scenario.work, &["commit", "-q", "-m", "Crashes come from Sentry"]);
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    let path = scenario.work.join("crashloom.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[[source]]\nkind = \"sentry\"\nurl = \"{}\"\norg = \"acme\"\nproject = \"ledger\"\n",
        sentry.url
    ));
    std::fs::write(&path, text).unwrap();
    configure(&scenario, &forge, "");
    let output = tokio::task::spawn_blocking({
        let work = scenario.work.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_crashloom"))
                .args(["watch", "--once", "--workspace"])
                .arg(&work)
                .env("GITHUB_TOKEN", GITHUB_TOKEN)
                .env("SENTRY_AUTH_TOKEN", fake_sentry_issue::SENTRY_TOKEN)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let said = lines(&output);
    assert!(output.status.success(), "{said:#?}\n{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(said[1], "LEDGER-1: investigating (new, 42 events)");
    assert_eq!(said[2], "LEDGER-1: fix validated; pull request opened: https://github.com/acme/ledger/pull/1");
    assert_eq!(said[3], "LEDGER-1: Sentry issue 4711 links the pull request");
    let comments = sentry.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].0, "/api/0/organizations/acme/issues/4711/comments/");
    assert_eq!(
        comments[0].1,
        serde_json::json!({"text": "Crashloom opened a pull request with a validated fix for this issue: https://github.com/acme/ledger/pull/1"})
    );
    let body = &forge.pulls()[0].body;
    for expected in [
        "| Events | 42, 17 users |",
        "| First seen | 2026-11-30 08:00 UTC |",
        "| Release | `ledger@1.4.2` |",
        &format!("| Sentry | <{}/organizations/acme/issues/4711/> |", sentry.url),
    ] {
        assert!(body.contains(expected), "{expected}\n{body}");
    }
    assert_eq!(scenario.branches(), ["crashloom/LEDGER-1", "main"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_one_line_and_the_group_backs_off() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    configure(&scenario, &forge, "\n[watch]\npoll_secs = 600\n");
    let id = short_ids(&scenario.work)[0].0.clone();
    let without_token = |work: std::path::PathBuf| {
        move || {
            Command::new(env!("CARGO_BIN_EXE_crashloom"))
                .args(["watch", "--once", "--workspace"])
                .arg(&work)
                .env_remove("GITHUB_TOKEN")
                .env_remove("SENTRY_AUTH_TOKEN")
                .output()
                .unwrap()
        }
    };
    let output = tokio::task::spawn_blocking(without_token(scenario.work.clone())).await.unwrap();
    assert_eq!(output.status.code(), Some(1), "a failed action fails the pass");
    let said = lines(&output);
    assert_eq!(
        said[1..],
        [
            format!("{id}: investigating (new, 1 events)"),
            format!(
                "{id}: fix validated; no pull request: no GitHub token: set GITHUB_TOKEN to a token that may push to and open pull requests in acme/ledger"
            ),
            format!("{id}: trying again in 600 s at the earliest"),
            "stopped: 0 investigated, 0 pull requests opened, 0 updated, 1 failures".to_owned(),
        ]
    );
    // Right after: the group waits out its backoff, nothing is investigated or asked.
    let output = tokio::task::spawn_blocking(without_token(scenario.work.clone())).await.unwrap();
    assert!(output.status.success());
    assert_eq!(lines(&output)[1..], ["stopped: 0 investigated, 0 pull requests opened, 0 updated, 0 failures"]);
    assert!(forge.requests().is_empty());
    assert_eq!(scenario.branches(), ["main"]);
}
