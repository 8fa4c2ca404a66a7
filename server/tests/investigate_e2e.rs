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
    example_repository("shop-python")
}

fn example_repository(name: &str) -> tempfile::TempDir {
    let workspace = example_workspace(name);
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
fn a_fix_that_turns_the_guest_checkout_crash_into_another_error_is_not_called_validated() {
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
    let diff = investigation["diff"].as_str().unwrap();
    assert!(
        diff.contains(
            "+    if customer is None:\n+        raise OrderError(f\"unknown customer {order['customer']!r}\")\n"
        ),
        "{diff}"
    );

    // The guest order still kills the program, only with another exception: converted, not fixed.
    let validation = &investigation["validation"];
    assert_eq!(validation["validated"], false);
    assert_eq!(validation["outcome"], "converted");
    assert_eq!(validation["reproduction"]["converted_into"], "OrderError");
    let rungs = validation["rungs"].as_array().unwrap();
    let outcomes: Vec<(&str, &str)> =
        rungs.iter().map(|r| (r["name"].as_str().unwrap(), r["outcome"].as_str().unwrap())).collect();
    assert_eq!(
        outcomes,
        vec![
            ("The change applies and the project builds", "passed"),
            ("The crash reproduces before the change, and the reproduction succeeds after it", "failed"),
            ("No test that passed before fails after", "passed"),
        ]
    );
    let reproduction = &rungs[1]["commands"];
    assert_eq!(reproduction[0]["when"], "before the change");
    assert!(reproduction[0]["output"].as_str().unwrap().contains("TypeError: 'NoneType' object is not subscriptable"));
    assert!(reproduction[1]["output"].as_str().unwrap().contains("OrderError: unknown customer 'guest'"));
    assert!(
        rungs[1]["detail"].as_str().unwrap().contains("the crash turns into OrderError, raised by the changed code")
    );
    assert_eq!(validation["tests"]["per_test"], "unittest");
    assert_eq!(validation["isolation"], "bubblewrap");

    // The report says what the change does, never "validated"; the workspace is untouched.
    let report = std::fs::read_to_string(workspace.path().join(format!(".crashloom/reports/{crash}.md"))).unwrap();
    assert!(
        report.starts_with(&format!("# Crash {crash}: fix NOT validated (the change turns the crash into OrderError)")),
        "{report}"
    );
    assert!(report.contains("Outcome: **converted**"), "{report}");
    assert!(!report.contains("**Validated.**"), "{report}");
    assert!(report.contains("## Suspect commits") && report.contains("Receipts name the customer"));
    let orders = std::fs::read_to_string(workspace.path().join("shop/orders.py")).unwrap();
    assert!(!orders.contains("if customer is None"));
    let worktrees = Command::new("git").args(["worktree", "list"]).current_dir(workspace.path()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&worktrees.stdout).lines().count(), 1, "the sandbox copy was removed");
}

/// `crashloom investigate --json` on the only crash group of a shipped example.
fn investigate_example(name: &str) -> (tempfile::TempDir, Value) {
    let workspace = example_repository(name);
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["crashes", "--json", "--workspace"])
        .arg(workspace.path())
        .output()
        .unwrap();
    let crashes: Value = serde_json::from_slice(&output.stdout).unwrap();
    let crash = crashes["groups"][0]["short_id"].as_str().unwrap().to_owned();
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["investigate", "--json", "--crash", &crash, "--workspace"])
        .arg(workspace.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (workspace, serde_json::from_slice(&output.stdout).unwrap())
}

#[test]
fn the_go_ledger_crash_gets_a_validated_fix_judged_per_test() {
    let (_workspace, investigation) = investigate_example("ledger-go");
    let validation = &investigation["validation"];
    assert_eq!(validation["validated"], true, "{validation:#}");
    assert_eq!(validation["outcome"], "fixed");
    assert_eq!(validation["tests"]["per_test"], "go test -json");
    assert_eq!(validation["tests"]["passed_before"], 3);
    assert_eq!(validation["tests"]["broken"], json!([]));
    assert!(investigation["diff"].as_str().unwrap().contains("balances: make(map[string]int64)"));
}

#[test]
fn the_rust_inventory_crash_gets_a_validated_fix() {
    let (_workspace, investigation) = investigate_example("inventory-rust");
    let validation = &investigation["validation"];
    assert_eq!(validation["validated"], true, "{validation:#}");
    assert_eq!(validation["outcome"], "fixed");
    assert_eq!(validation["tests"]["per_test"], "libtest");
    // Three tests of `picking` and two of `stock`, named only by count in cargo's terse output.
    assert_eq!(validation["tests"]["passed_before"], 5);
}

#[test]
fn the_node_cart_fix_that_throws_instead_is_converted_not_validated() {
    let (workspace, investigation) = investigate_example("cart-node");
    let validation = &investigation["validation"];
    assert_eq!(validation["validated"], false, "{validation:#}");
    assert_eq!(validation["outcome"], "converted");
    assert_eq!(validation["tests"]["per_test"], "TAP");
    let short_id = investigation["short_id"].as_str().unwrap();
    let report = std::fs::read_to_string(workspace.path().join(format!(".crashloom/reports/{short_id}.md"))).unwrap();
    assert!(report.contains("fix NOT validated (the change turns the crash into Error)"), "{report}");
}

#[test]
fn a_change_for_a_crash_no_reproduction_reaches_is_never_called_validated() {
    // The shop's OrderError (an unknown SKU) is raised where no configured or written
    // reproduction reaches it: the only change on offer skips the order in the caller's loop.
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
    assert_eq!(investigation["fix"]["kind"], "proposed", "{:#}", investigation["fix"]);
    assert_eq!(investigation["fix"]["fix"]["hides_symptom"], true, "skipping the order hides the symptom");
    let validation = &investigation["validation"];
    assert_eq!(validation["validated"], false, "{validation:#}");
    let reproduction = validation["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"].as_str().unwrap().contains("reproduces"))
        .unwrap();
    assert_eq!(reproduction["outcome"], "failed");
    assert!(
        reproduction["detail"].as_str().unwrap().contains("No reproduction crashes with OrderError"),
        "{reproduction:#}"
    );
    let short_id = investigation["short_id"].as_str().unwrap();
    let report = std::fs::read_to_string(workspace.path().join(format!(".crashloom/reports/{short_id}.md"))).unwrap();
    assert!(report.contains("fix NOT validated"), "{report}");
    assert!(report.contains("This change hides the symptom"), "{report}");
}

/// The new text of every edit a `workspace/applyEdit` request makes to `uri`.
fn edited_texts(edit: &Value, uri: &str) -> Vec<String> {
    let mut texts: Vec<String> = edit["params"]["edit"]["changes"][uri]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["newText"].as_str().unwrap().to_owned())
        .collect();
    for change in edit["params"]["edit"]["documentChanges"].as_array().into_iter().flatten() {
        if change["textDocument"]["uri"] == uri {
            texts.extend(change["edits"].as_array().unwrap().iter().map(|e| e["newText"].as_str().unwrap().to_owned()));
        }
    }
    texts
}

fn code_action_titles(client: &mut LspClient, uri: &str, crash: &Value) -> (Vec<String>, Value) {
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": crash["range"], "context": {"diagnostics": [crash]}}),
    );
    let titles = actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap().to_owned()).collect();
    (titles, actions)
}

#[test]
fn investigate_from_the_editor_then_apply_the_validated_fix() {
    let workspace = example_repository("ledger-go");
    let mut client = LspClient::start(workspace.path(), Value::Null);
    let uri = client.open("ledger.go");
    // `l.balances[t.From] -= t.Amount` on line 31 panics: the nil map.
    let diagnostics = client.wait_for_diagnostics("ledger.go", |d| d.iter().any(|d| d["range"]["start"]["line"] == 30));
    let crash = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 30).unwrap().clone();
    let short_id = crash["code"].as_str().unwrap().to_owned();

    let (titles, actions) = code_action_titles(&mut client, &uri, &crash);
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

    let (titles, actions) = code_action_titles(&mut client, &uri, &crash);
    assert_eq!(
        titles,
        vec![
            "Apply validated fix: Initialise `balances` where `Ledger` is built (`NewLedger`)".to_owned(),
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
        edited_texts(edit, &uri),
        vec!["\treturn &Ledger{Currency: currency, balances: make(map[string]int64)}\n".to_owned()]
    );
    client.shutdown();

    // Reopening the editor shows the last investigation without running it again.
    let mut client = LspClient::start(workspace.path(), Value::Null);
    let diagnostics = client.wait_for_diagnostics("ledger.go", |d| d.iter().any(|d| d["range"]["start"]["line"] == 30));
    let crash = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 30).unwrap().clone();
    let uri = client.uri("ledger.go");
    let (titles, _) = code_action_titles(&mut client, &uri, &crash);
    assert!(titles[0].starts_with("Apply validated fix: "), "{titles:?}");
    client.shutdown();
}

#[test]
fn a_fix_that_is_not_validated_is_never_offered_for_applying_in_the_editor() {
    let workspace = shop_repository();
    let mut client = LspClient::start(workspace.path(), Value::Null);
    let uri = client.open("shop/orders.py");
    let diagnostics = client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);
    let crash = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 25).unwrap().clone();
    let short_id = crash["code"].as_str().unwrap().to_owned();
    let started = client.request(
        "workspace/executeCommand",
        json!({"command": "crashloom.investigate", "arguments": [crash["data"]["group"]]}),
    );
    let end = client.wait_for_progress_end(started["token"].as_str().unwrap());
    assert_eq!(end, format!("Crash {short_id}: fix NOT validated"));

    // The proposed change converts the crash; skipping the guest order validates but hides the
    // missing customer: offered as a labelled alternative, never as "the" validated fix.
    let (titles, actions) = code_action_titles(&mut client, &uri, &crash);
    assert_eq!(
        titles,
        vec![
            format!("Show fix for {short_id} (NOT validated)"),
            "Apply alternative 2 (hides the symptom): Skip the element in `main` when the call raises TypeError"
                .to_owned(),
            format!("Show crash report {short_id}"),
            format!("Investigate crash {short_id}"),
        ]
    );
    let applied = client.request(
        "workspace/executeCommand",
        json!({"command": "crashloom.applyFix", "arguments": [crash["data"]["group"]]}),
    );
    assert_eq!(applied["applied"], false, "{applied}");
    assert!(!client.server_requests.iter().any(|r| r["method"] == "workspace/applyEdit"));
    client.expected_errors.push("is not validated".into());

    // The user may still choose the alternative: it is judged again, then applied.
    let alternative = actions[1]["command"].clone();
    let applied = client.request(
        "workspace/executeCommand",
        json!({"command": alternative["command"], "arguments": alternative["arguments"]}),
    );
    assert_eq!(applied["applied"], true, "{applied}");
    let edit = client.server_requests.iter().rev().find(|r| r["method"] == "workspace/applyEdit").unwrap();
    let app = client.uri("shop/app.py");
    assert!(edited_texts(edit, &app).iter().any(|t| t.contains("except TypeError:")), "{edit:#}");
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
    let workspace = example_repository("ledger-go");
    let mut client = LspClient::start(workspace.path(), Value::Null);
    let diagnostics = client.wait_for_diagnostics("ledger.go", |d| d.iter().any(|d| d["range"]["start"]["line"] == 30));
    let group = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 30).unwrap()["data"]["group"].clone();
    let started =
        client.request("workspace/executeCommand", json!({"command": "crashloom.investigate", "arguments": [group]}));
    let end = client.wait_for_progress_end(started["token"].as_str().unwrap());
    assert!(end.ends_with("validated fix ready"), "{end}");
    let ledger = workspace.path().join("ledger.go");
    let text = std::fs::read_to_string(&ledger).unwrap();
    std::fs::write(
        &ledger,
        text.replace("return &Ledger{Currency: currency}", "return &Ledger{Currency: currency + \"\"}"),
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
    while pids.iter().any(|pid| common::is_running(*pid)) {
        assert!(std::time::Instant::now() < deadline, "the sandboxed command still runs: {pids:?}");
        client.pump(std::time::Duration::from_millis(50));
    }
}
