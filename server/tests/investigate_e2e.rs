//! "Investigate crash" end to end on the example shop: from the crash diagnostic to a fix proven
//! in a bubblewrap sandbox, applied as an ordinary edit; and the same from the command line.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{LspClient, example_workspace};
use serde_json::{Value, json};

/// The example as a git repository of its own, so history and worktrees are the workspace's.
fn shop_repository() -> tempfile::TempDir {
    let workspace = example_workspace("shop-python");
    common::commit_all(workspace.path());
    workspace
}

fn type_error_group(root: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["crashes", "--json", "--workspace"])
        .arg(root)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report["groups"].as_array().unwrap().iter().find(|g| g["exception"] == "TypeError").unwrap()["short_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_command_line_investigation_proves_a_fix_for_the_guest_checkout_crash() {
    let workspace = shop_repository();
    let crash = type_error_group(workspace.path());
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["investigate", "--json", "--crash", &crash, "--workspace"])
        .arg(workspace.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let investigation: Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(
        investigation["facts"]["failing_operation"],
        json!({"kind": "subscript_of_missing", "expression": "customer"})
    );
    let hypothesis = investigation["hypotheses"][0]["summary"].as_str().unwrap();
    assert!(hypothesis.contains("`customers.get(...)` returns None"), "{hypothesis}");
    assert_eq!(investigation["code"]["history"][0]["author"], "Ada Lovelace");
    let fix = &investigation["fix"]["fix"];
    assert_eq!(fix["hides_symptom"], false);
    let diff = investigation["diff"].as_str().unwrap();
    assert!(
        diff.contains(
            "+    if customer is None:\n+        raise OrderError(f\"unknown customer {order['customer']!r}\")\n"
        ),
        "{diff}"
    );

    let rungs = investigation["validation"]["rungs"].as_array().unwrap();
    let outcomes: Vec<(&str, &str)> =
        rungs.iter().map(|r| (r["name"].as_str().unwrap(), r["outcome"].as_str().unwrap())).collect();
    assert_eq!(
        outcomes,
        vec![
            ("The change applies and the project builds", "passed"),
            ("The crash reproduces before the change and not after", "passed"),
            ("The tests that passed before still pass", "passed"),
        ]
    );
    let reproduction = &rungs[1]["commands"];
    assert_eq!(reproduction[0]["when"], "before the change");
    assert!(reproduction[0]["output"].as_str().unwrap().contains("TypeError: 'NoneType' object is not subscriptable"));
    assert!(reproduction[1]["output"].as_str().unwrap().contains("OrderError: unknown customer 'guest'"));
    assert_eq!(investigation["validation"]["validated"], true);
    assert_eq!(investigation["validation"]["isolation"], "bubblewrap");

    // The report is written, and the workspace itself is untouched: the fix was only tried in a copy.
    let report = std::fs::read_to_string(workspace.path().join(format!(".crashloom/reports/{crash}.md"))).unwrap();
    assert!(report.starts_with(&format!("# Crash {crash}: validated fix")), "{report}");
    assert!(report.contains("## Suspect commits") && report.contains("Receipts name the customer"));
    let orders = std::fs::read_to_string(workspace.path().join("shop/orders.py")).unwrap();
    assert!(!orders.contains("if customer is None"));
    let worktrees = Command::new("git").args(["worktree", "list"]).current_dir(workspace.path()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&worktrees.stdout).lines().count(), 1, "the sandbox copy was removed");
}

#[test]
fn a_crash_without_a_confident_rule_gets_no_fix_and_says_why() {
    let workspace = shop_repository();
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["crashes", "--json", "--workspace"])
        .arg(workspace.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let order_error = report["groups"].as_array().unwrap().iter().find(|g| g["exception"] == "OrderError").unwrap();
    let crash = order_error["short_id"].as_str().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["investigate", "--json", "--crash", crash, "--workspace"])
        .arg(workspace.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let investigation: Value = serde_json::from_slice(&output.stdout).unwrap();
    if investigation["fix"]["kind"] == "no_confident_fix" {
        assert!(!investigation["fix"]["reason"].as_str().unwrap().is_empty());
        assert!(investigation["validation"].is_null());
    } else {
        // A fix for the root cause (the unknown SKU) may be proposed; it must then say whether it validated.
        assert!(investigation["validation"]["validated"].is_boolean());
    }
}

#[test]
fn investigate_from_the_editor_then_apply_the_validated_fix() {
    let workspace = shop_repository();
    let mut client = LspClient::start(workspace.path(), Value::Null);
    let uri = client.open("shop/orders.py");
    let diagnostics = client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);
    let crash = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 25).unwrap().clone();

    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": crash["range"], "context": {"diagnostics": [crash]}}),
    );
    let titles: Vec<&str> = actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    let short_id = crash["code"].as_str().unwrap();
    assert_eq!(titles, vec![format!("Investigate crash {short_id}")]);
    let investigate = actions[0]["command"].clone();

    // The command answers at once; the investigation reports through progress.
    let started = client.request(
        "workspace/executeCommand",
        json!({"command": investigate["command"], "arguments": investigate["arguments"]}),
    );
    assert_eq!(started["started"], true, "{started}");
    let token = started["token"].as_str().unwrap().to_owned();
    assert_eq!(client.wait_for_progress_end(&token), format!("Crash {short_id}: validated fix ready"));
    let steps: Vec<String> = client.progress[&token]
        .iter()
        .filter_map(|v| v["message"].as_str())
        .filter_map(|m| m.split(':').next())
        .map(str::to_owned)
        .collect();
    for step in ["Error Analyzer", "Code Search", "Root Cause", "Fix Proposal", "Sandbox Validator"] {
        assert!(steps.iter().any(|s| s == step), "{step} reported: {steps:?}");
    }
    // The report is opened once the investigation is done.
    let shown = client.wait_for_server_request("window/showDocument");
    assert!(shown["params"]["uri"].as_str().unwrap().ends_with(&format!(".crashloom/reports/{short_id}.md")));

    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": crash["range"], "context": {"diagnostics": [crash]}}),
    );
    let titles: Vec<&str> = actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        vec![
            "Apply validated fix: Raise OrderError in `receipt` when `customers.get(order[\"customer\"])` finds nothing".to_owned(),
            format!("Show fix for {short_id} (validated)"),
            format!("Show crash report {short_id}"),
            format!("Investigate crash {short_id}"),
        ]
    );
    let apply = actions[0]["command"].clone();
    let applied = client
        .request("workspace/executeCommand", json!({"command": apply["command"], "arguments": apply["arguments"]}));
    assert_eq!(applied["applied"], true, "{applied}");
    let edit = client.server_requests.iter().rev().find(|r| r["method"] == "workspace/applyEdit").unwrap();
    // Versioned: for the document as the editor holds it.
    let document_edit = &edit["params"]["edit"]["documentChanges"][0];
    assert_eq!(document_edit["textDocument"], json!({"uri": uri, "version": 1}));
    assert_eq!(
        &document_edit["edits"],
        &json!([{
            "range": {"start": {"line": 24, "character": 0}, "end": {"line": 25, "character": 0}},
            "newText": "    customer = customers.get(order[\"customer\"])\n    if customer is None:\n        raise OrderError(f\"unknown customer {order['customer']!r}\")\n"
        }])
    );
    client.shutdown();

    // Reopening the editor shows the last investigation without running it again.
    let mut client = LspClient::start(workspace.path(), Value::Null);
    let diagnostics = client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);
    let crash = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 25).unwrap().clone();
    let uri = client.uri("shop/orders.py");
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": crash["range"], "context": {"diagnostics": [crash]}}),
    );
    assert!(actions[0]["title"].as_str().unwrap().starts_with("Apply validated fix: "), "{actions}");
    client.shutdown();
}

#[test]
fn an_investigation_cancelled_in_the_sandbox_stops_its_command_and_a_stale_fix_is_not_applied() {
    let workspace = shop_repository();
    // A reproduction that would run for a long time: cancelling must stop it.
    let settings = json!({"validate": {"reproduce": "sleep 911", "test": "python3 -m unittest -q"}});
    let mut client = LspClient::start(workspace.path(), settings);
    let diagnostics = client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);
    let group = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 25).unwrap()["data"]["group"].clone();
    let started =
        client.request("workspace/executeCommand", json!({"command": "crashloom.investigate", "arguments": [group]}));
    let token = started["token"].as_str().unwrap().to_owned();
    client.wait_for_progress_message(&token, "Sandbox Validator");
    let sleeping = wait_for_processes(&mut client, &["sleep", "911"], 1);
    client.cancel_progress(&token);
    let end = client.wait_for_progress_end(&token);
    assert!(end.ends_with("the investigation was cancelled"), "{end}");
    wait_until_gone(&mut client, &sleeping);
    assert!(
        !client.server_requests.iter().any(|r| r["method"] == "window/showDocument"),
        "no report for a cancelled run"
    );
    let worktrees = || {
        let listed = Command::new("git").args(["worktree", "list"]).current_dir(workspace.path()).output().unwrap();
        String::from_utf8_lossy(&listed.stdout).lines().count()
    };
    let deadline = std::time::Instant::now() + common::WAIT;
    while worktrees() != 1 {
        assert!(std::time::Instant::now() < deadline, "the sandbox copy was not removed");
        client.pump(std::time::Duration::from_millis(50));
    }
    client.shutdown();

    // A validated fix whose code changed since is re-validated, and not applied when it no longer fits.
    let mut client = LspClient::start(workspace.path(), Value::Null);
    client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);
    let started =
        client.request("workspace/executeCommand", json!({"command": "crashloom.investigate", "arguments": [group]}));
    let end = client.wait_for_progress_end(started["token"].as_str().unwrap());
    assert!(end.ends_with("validated fix ready"), "{end}");
    let orders = workspace.path().join("shop/orders.py");
    let text = std::fs::read_to_string(&orders).unwrap();
    std::fs::write(
        &orders,
        text.replace("customer = customers.get(order[\"customer\"])", "customer = customers[order[\"customer\"]]"),
    )
    .unwrap();
    let applied =
        client.request("workspace/executeCommand", json!({"command": "crashloom.applyFix", "arguments": [group]}));
    assert_eq!(applied["applied"], false, "{applied}");
    assert!(!client.server_requests.iter().any(|r| r["method"] == "workspace/applyEdit"));
    client.wait_for_shown_message(|kind, m| kind == 2 && m.contains("investigate again"));
    client.shutdown();
}

/// Waits until `count` processes run exactly `command`, handling messages meanwhile.
fn wait_for_processes(client: &mut LspClient, command: &[&str], count: usize) -> Vec<u32> {
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let found = common::processes_running(command);
        if found.len() >= count {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "{command:?} is not running: {found:?}");
        client.pump(std::time::Duration::from_millis(50));
    }
}

fn wait_until_gone(client: &mut LspClient, pids: &[u32]) {
    let deadline = std::time::Instant::now() + common::WAIT;
    while pids.iter().any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()) {
        assert!(std::time::Instant::now() < deadline, "the sandboxed command still runs: {pids:?}");
        client.pump(std::time::Duration::from_millis(50));
    }
}
