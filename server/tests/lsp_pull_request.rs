//! "Open pull request with this fix" in the editor: on a validated investigation of the Go ledger,
//! the branch with the fix is pushed to a real bare remote (`[pull_request] provider = "git"`);
//! on the shop, whose change only converts the crash, the action is not offered at all.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "support/publish_repo.rs"]
mod publish_repo;

use common::LspClient;
use publish_repo::scenario_with;
use serde_json::{Value, json};

const PULL_REQUESTS: &str = "[pull_request]\nprovider = \"git\"\nremote = \"origin\"\nbase = \"main\"\n";

fn titles(client: &mut LspClient, file: &str, crash: &Value) -> (Vec<String>, Value) {
    let uri = client.uri(file);
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": crash["range"], "context": {"diagnostics": [crash]}}),
    );
    let titles = actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap().to_owned()).collect();
    (titles, actions)
}

#[test]
fn a_validated_fix_becomes_a_pushed_branch_from_the_editor() {
    let scenario = scenario_with("ledger-go", PULL_REQUESTS);
    let mut client = LspClient::start(&scenario.work, Value::Null);
    client.open("ledger.go");
    let diagnostics = client.wait_for_diagnostics("ledger.go", |d| d.iter().any(|d| d["range"]["start"]["line"] == 30));
    let crash = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 30).unwrap().clone();
    let short_id = crash["code"].as_str().unwrap().to_owned();
    let started = client.request(
        "workspace/executeCommand",
        json!({"command": "crashloom.investigate", "arguments": [crash["data"]["group"]]}),
    );
    let end = client.wait_for_progress_end(started["token"].as_str().unwrap());
    assert_eq!(end, format!("Crash {short_id}: validated fix ready"));

    let (titles, actions) = titles(&mut client, "ledger.go", &crash);
    let at = titles.iter().position(|t| t == "Open pull request with this fix").unwrap_or_else(|| panic!("{titles:?}"));
    let command = actions[at]["command"].clone();
    let opened = client
        .request("workspace/executeCommand", json!({"command": command["command"], "arguments": command["arguments"]}));
    assert_eq!(opened["opened"], true, "{opened}");
    let branch = format!("crashloom/{short_id}");
    assert!(scenario.branches().contains(&branch), "{:?}", scenario.branches());
    assert_eq!(scenario.commits_on(&branch).len(), 1, "one commit of the fix");
    // The user's working tree is untouched: the branch was made from a clean worktree.
    let ledger = std::fs::read_to_string(scenario.work.join("ledger.go")).unwrap();
    assert!(!ledger.contains("make(map[string]int64)"));
    client.shutdown();
}

#[test]
fn a_fix_that_only_converts_the_crash_is_never_offered_as_a_pull_request() {
    let scenario = scenario_with("shop-python", PULL_REQUESTS);
    let mut client = LspClient::start(&scenario.work, Value::Null);
    client.open("shop/orders.py");
    let diagnostics =
        client.wait_for_diagnostics("shop/orders.py", |d| d.iter().any(|d| d["range"]["start"]["line"] == 25));
    let crash = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 25).unwrap().clone();
    let started = client.request(
        "workspace/executeCommand",
        json!({"command": "crashloom.investigate", "arguments": [crash["data"]["group"]]}),
    );
    let end = client.wait_for_progress_end(started["token"].as_str().unwrap());
    assert!(end.ends_with("fix NOT validated"), "{end}");
    let (titles, _) = titles(&mut client, "shop/orders.py", &crash);
    assert!(!titles.iter().any(|t| t.contains("pull request")), "{titles:?}");
    let refused = client.request(
        "workspace/executeCommand",
        json!({"command": "crashloom.openPullRequest", "arguments": [crash["data"]["group"]]}),
    );
    assert_eq!(refused["opened"], false, "{refused}");
    client.wait_for_shown_message(|kind, m| kind == 2 && m.contains("no pull request"));
    assert_eq!(scenario.branches(), vec!["main".to_owned()], "nothing pushed");
    client.shutdown();
}
