//! Investigations never stop the editor: several long ones at once (their reproduction sleeps in
//! the sandbox) while hovers and code lenses are answered, a repeated request joins the running
//! investigation, and cancel stops each one's sandboxed command.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{LspClient, WAIT, commit_all, example_workspace, processes_running};
use serde_json::{Value, json};

const LOOKUPS: &str = r#""""Customer lookups for the newsletter, the invoices, the loyalty card and the support desk."""


def newsletter_name(customers, key):
    customer = customers.get(key)
    return customer["name"]


def invoice_name(customers, key):
    customer = customers.get(key)
    return customer["name"]


def loyalty_name(customers, key):
    customer = customers.get(key)
    return customer["name"]


def support_name(customers, key):
    customer = customers.get(key)
    return customer["name"]
"#;

/// The shop with four more crashes of its own kind, captured by running Python.
fn shop_with_lookup_crashes() -> tempfile::TempDir {
    let workspace = example_workspace("shop-python");
    std::fs::write(workspace.path().join("shop/lookup.py"), LOOKUPS).unwrap();
    for use_of in ["newsletter", "invoice", "loyalty", "support"] {
        let run = Command::new("python3")
            .args(["-c", &format!("from shop.lookup import {use_of}_name; {use_of}_name({{}}, 'guest')")])
            .current_dir(workspace.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        assert!(!run.status.success());
        std::fs::write(workspace.path().join(format!(".crashloom/crashes/{use_of}.txt")), run.stderr).unwrap();
    }
    commit_all(workspace.path());
    workspace
}

fn investigate(client: &mut LspClient, group: &Value) -> Value {
    client.request("workspace/executeCommand", json!({"command": "crashloom.investigate", "arguments": [group]}))
}

fn wait_for_process_count(client: &mut LspClient, command: &[&str], count: usize) -> Vec<u32> {
    wait_for_process_count_within(client, command, count, WAIT)
}

fn wait_for_process_count_within(client: &mut LspClient, command: &[&str], count: usize, wait: Duration) -> Vec<u32> {
    let deadline = Instant::now() + wait;
    loop {
        let found = processes_running(command);
        if found.len() == count {
            return found;
        }
        assert!(Instant::now() < deadline, "{} of {count} {command:?} running", found.len());
        client.pump(Duration::from_millis(50));
    }
}

#[test]
fn five_long_investigations_at_once_leave_hovers_answered_and_each_cancel_stops_its_sandbox() {
    let workspace = shop_with_lookup_crashes();
    let reproduce = ["sleep", "913"];
    let settings = json!({"validate": {"reproduce": reproduce.join(" "), "test": "python3 -m unittest -q"}});
    let mut client = LspClient::start(workspace.path(), settings);
    let lookup = client.open("shop/lookup.py");
    let orders = client.open("shop/orders.py");
    let lookups = client.wait_for_diagnostics("shop/lookup.py", |d| d.len() == 4);
    let receipt =
        client.wait_for_diagnostics("shop/orders.py", |d| d.iter().any(|d| d["range"]["start"]["line"] == 25));
    let mut groups: Vec<Value> = lookups.iter().map(|d| d["data"]["group"].clone()).collect();
    groups.push(receipt.iter().find(|d| d["range"]["start"]["line"] == 25).unwrap()["data"]["group"].clone());

    // Every command answers at once, each with its own progress.
    let mut tokens = Vec::new();
    for group in &groups {
        let started = investigate(&mut client, group);
        assert_eq!(started["started"], true, "{started}");
        tokens.push(started["token"].as_str().unwrap().to_owned());
    }
    tokens.iter().for_each(|t| assert_eq!(tokens.iter().filter(|u| *u == t).count(), 1, "{tokens:?}"));
    // Asking again for a crash under investigation joins it.
    let again = investigate(&mut client, &groups[1]);
    assert_eq!(again, json!({"started": false, "token": tokens[1]}));

    // Five investigations share two cores on the way to their sandboxes: given more time.
    let sleeping = wait_for_process_count_within(&mut client, &reproduce, groups.len(), 3 * WAIT);
    for token in &tokens {
        client.wait_for_progress_message(token, "Sandbox Validator");
    }
    // Meanwhile the editor is served: hovers and code lenses on every crash.
    for diagnostic in &lookups {
        let hover = client.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": lookup}, "position": diagnostic["range"]["start"]}),
        );
        let text = hover["contents"]["value"].as_str().unwrap();
        assert!(text.contains("TypeError"), "{text}");
    }
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": orders}}));
    assert!(!lenses.as_array().unwrap().is_empty());
    assert_eq!(processes_running(&reproduce).len(), groups.len(), "all still running while hovers were answered");
    assert!(tokens.iter().all(|t| !client.progress[t].iter().any(|v| v["kind"] == "end")));

    // Cancel each: its sandboxed command goes, the others keep running.
    for (cancelled, token) in tokens.iter().enumerate() {
        client.cancel_progress(token);
        let end = client.wait_for_progress_end(token);
        assert!(end.ends_with("the investigation was cancelled"), "{end}");
        wait_for_process_count(&mut client, &reproduce, groups.len() - cancelled - 1);
    }
    let deadline = Instant::now() + WAIT;
    while sleeping.iter().any(|pid| common::is_running(*pid)) {
        assert!(Instant::now() < deadline, "a cancelled sandbox's command still runs: {sleeping:?}");
        client.pump(Duration::from_millis(50));
    }
    assert!(!client.server_requests.iter().any(|r| r["method"] == "window/showDocument"));

    // A cancelled investigation is gone: asking again starts a new one.
    let restarted = investigate(&mut client, &groups[1]);
    assert_eq!(restarted["started"], true, "{restarted}");
    assert_ne!(restarted["token"], json!(tokens[1]));
    let token = restarted["token"].as_str().unwrap().to_owned();
    wait_for_process_count(&mut client, &reproduce, 1);
    client.cancel_progress(&token);
    client.wait_for_progress_end(&token);
    wait_for_process_count(&mut client, &reproduce, 0);
    client.shutdown();
}
