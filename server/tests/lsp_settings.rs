//! Settings from the editor: merged key by key into `crashloom.toml`'s, and a crash path or a
//! Sentry source they add is used at once, without a restart. Crash paths outside the workspace
//! are read, and the user is told once.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "support/fake_sentry.rs"]
mod fake_sentry;

use std::time::Duration;

use common::{LspClient, copy_dir, example_workspace};
use fake_sentry::{FakeSentry, ORG, TOKEN, fixture_dir};
use serde_json::{Value, json};

const TYPE_ERROR_LINE: u64 = 25;

fn has_type_error(diagnostics: &[Value]) -> bool {
    diagnostics.iter().any(|d| d["range"]["start"]["line"] == TYPE_ERROR_LINE && d["severity"] == 1)
}

#[test]
fn a_setting_changes_one_key_and_keeps_the_files_other_keys() {
    let workspace = example_workspace("shop-python");
    let root = workspace.path();
    let crashes = root.join(".crashloom/crashes");
    // The guest-checkout crash, then 2 MiB of ordinary log: with `max_log_mib = 1` from the file,
    // only the end of the log is read and that crash is not seen.
    let trace = std::fs::read_to_string(crashes.join("guest-checkout.txt")).unwrap();
    std::fs::remove_file(crashes.join("guest-checkout.txt")).unwrap();
    let filler = "2026-11-23 23:59:59,000 INFO [shop] order served\n".repeat(2 * 1024 * 1024 / 48);
    std::fs::write(crashes.join("big.log"), format!("{trace}{filler}")).unwrap();
    let toml = std::fs::read_to_string(root.join("crashloom.toml")).unwrap();
    std::fs::write(root.join("crashloom.toml"), format!("{toml}\n[diagnostics]\nmax_log_mib = 1\n")).unwrap();

    let mut client = LspClient::start(root, Value::Null);
    client.open("shop/orders.py");
    let diagnostics = client.wait_for_diagnostics("shop/orders.py", |d| d.iter().any(|d| d["severity"] == 3));
    assert!(!has_type_error(&diagnostics), "only the log's last MiB is read");

    // Only `frames` changes: calling frames go, and `max_log_mib` stays the file's.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"crashloom": {"diagnostics": {"frames": false}}}}),
    );
    let diagnostics =
        client.wait_for_diagnostics("shop/orders.py", |d| !d.is_empty() && d.iter().all(|d| d["severity"] != 3));
    assert!(!has_type_error(&diagnostics), "max_log_mib = 1 from crashloom.toml still holds: {diagnostics:#?}");
    client.pump_until_quiet(Duration::from_millis(300));
    assert!(!has_type_error(&client.diagnostics[&client.uri("shop/orders.py")]));
    client.shutdown();
}

#[test]
fn a_crash_path_added_in_the_settings_is_read_and_watched_at_once_even_outside_the_workspace() {
    let workspace = example_workspace("shop-python");
    let root = workspace.path();
    let crashes = root.join(".crashloom/crashes");
    let trace = std::fs::read_to_string(crashes.join("guest-checkout.txt")).unwrap();
    std::fs::remove_file(crashes.join("guest-checkout.txt")).unwrap();
    // The service logs next to the workspace, not in it.
    let logs = tempfile::tempdir().unwrap();
    let logs_path = logs.path().canonicalize().unwrap();

    let mut client = LspClient::start(root, Value::Null);
    client.open("shop/orders.py");
    let diagnostics = client.wait_for_diagnostics("shop/orders.py", |d| !d.is_empty());
    assert!(!has_type_error(&diagnostics));
    let sources = json!([{"kind": "files", "paths": [logs_path.join("service")]}]);
    client.notify("workspace/didChangeConfiguration", json!({"settings": {"crashloom": {"sources": sources}}}));
    client.pump_until_quiet(Duration::from_millis(500));

    // A log that appears there afterwards is seen: the new path is watched and its events kept.
    std::fs::create_dir_all(logs_path.join("service")).unwrap();
    std::fs::write(logs_path.join("service/app.log"), &trace).unwrap();
    client.wait_for_diagnostics("shop/orders.py", has_type_error);

    // The user is told once that crashes come from outside the workspace.
    std::fs::write(logs_path.join("service/app.log"), format!("{trace}{trace}")).unwrap();
    client.wait_for_diagnostics("shop/orders.py", |d| {
        d.iter().any(|d| d["message"].as_str().unwrap().contains("crashed here 2 times"))
    });
    let told: Vec<&String> =
        client.log.iter().filter(|(_, m)| m.contains("outside the workspace")).map(|(_, m)| m).collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains(&logs_path.join("service").display().to_string()), "{told:?}");
    client.shutdown();
}

#[test]
fn a_sentry_source_added_in_the_settings_starts_without_a_restart() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let sentry = runtime.block_on(FakeSentry::start(&[("11", "backend")]));
    sentry.add_issues("11", 3);
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture_dir().join("programs"), dir.path());

    let mut client = LspClient::start(dir.path(), json!({"sentryToken": TOKEN}));
    client.pump_until_quiet(Duration::from_millis(500));
    let from_sentry = |c: &LspClient| {
        c.diagnostics.values().flatten().any(|d| d["code"].as_str().is_some_and(|c| c.starts_with("BACKEND-")))
    };
    assert!(!from_sentry(&client));
    let sources = json!([{"kind": "sentry", "url": sentry.url, "org": ORG, "project": "backend", "refresh_secs": 10}]);
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"crashloom": {"sources": sources, "sentryToken": TOKEN}}}),
    );
    let deadline = std::time::Instant::now() + common::WAIT;
    while !from_sentry(&client) {
        assert!(std::time::Instant::now() < deadline, "no Sentry issue arrived; log: {:?}", client.log);
        client.pump(Duration::from_millis(100));
    }
    client.shutdown();
}
