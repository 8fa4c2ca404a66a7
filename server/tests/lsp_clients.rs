//! Clients differ: one that never answers the server's requests (Vim with ALE), one that offers
//! nothing beyond the basics. Both get their crashes; nothing waits on a client's reply.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LspClient, example_workspace, full_capabilities};
use serde_json::{Value, json};

#[test]
fn a_client_that_never_answers_the_server_still_gets_every_crash() {
    let workspace = example_workspace("shop-python");
    let mut client =
        LspClient::start_custom(workspace.path(), Value::Null, full_capabilities(json!(["utf-16"])), false);
    let uri = client.open("shop/orders.py");
    let diagnostics =
        client.wait_for_diagnostics("shop/orders.py", |d| d.iter().any(|d| d["range"]["start"]["line"] == 25));
    // It was asked to watch files (it offered to), and that question is still unanswered.
    assert!(client.server_requests.iter().any(|r| r["method"] == "client/registerCapability"));
    let crash = diagnostics.iter().find(|d| d["range"]["start"]["line"] == 25).unwrap();
    let hover = client
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": crash["range"]["start"]}));
    assert!(hover["contents"]["value"].as_str().unwrap().contains("TypeError"));
    client.shutdown();
}

#[test]
fn a_client_without_dynamic_registration_is_not_asked_to_watch_files() {
    let workspace = example_workspace("shop-python");
    let mut client = LspClient::start_custom(workspace.path(), Value::Null, json!({}), true);
    client.wait_for_diagnostics("shop/orders.py", |d| d.iter().any(|d| d["range"]["start"]["line"] == 25));
    client.pump_until_quiet(std::time::Duration::from_millis(300));
    let asked: Vec<&Value> = client.server_requests.iter().map(|r| &r["method"]).collect();
    assert!(asked.is_empty(), "{asked:?}");
    client.shutdown();
}

#[test]
fn a_client_that_does_not_render_markdown_gets_plain_text_hovers() {
    let workspace = example_workspace("shop-python");
    let mut capabilities = full_capabilities(json!(["utf-16"]));
    capabilities["textDocument"]["hover"]["contentFormat"] = json!(["plaintext"]);
    let mut client = LspClient::start_custom(workspace.path(), Value::Null, capabilities, true);
    let uri = client.open("shop/orders.py");
    client.wait_for_diagnostics("shop/orders.py", |d| d.iter().any(|d| d["range"]["start"]["line"] == 25));
    let hover = client
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 25, "character": 0}}));
    assert_eq!(hover["contents"]["kind"], "plaintext");
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.starts_with("TypeError: 'NoneType' object is not subscriptable\n"), "{text}");
    assert!(text.contains("1. receipt shop/orders.py:26 ← here"), "{text}");
    assert!(text.contains("3. <module> shop/app.py:42"), "{text}");
    for markup in ["**", "`", "](", "\\"] {
        assert!(!text.contains(markup), "{markup} in {text}");
    }
    client.shutdown();
}

/// How often the server reloaded because the client reported workspace files created or deleted.
fn reloads_for_new_files(client: &LspClient) -> usize {
    client.server_log().iter().filter(|l| l.contains("reloading crashes reason=WorkspaceFilesChanged")).count()
}

#[test]
fn only_new_files_of_its_own_workspace_make_the_server_look_again() {
    // VS Code reports a watched glob for every folder of a multi-root window, and writes of the
    // server's own files come back as "created": neither may reload (two servers would reload on
    // each other's writes forever). A new file of the workspace does, and maps the crash in it.
    let workspace = example_workspace("shop-python");
    let root = workspace.path().canonicalize().unwrap();
    let other = tempfile::tempdir().unwrap();
    let orders = root.join("shop/orders.py");
    let kept = other.path().join("orders.py");
    std::fs::rename(&orders, &kept).unwrap();

    let mut client = LspClient::start(&root, Value::Null);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !client.server_log().iter().any(|l| l.contains("crashes reloaded")) {
        assert!(std::time::Instant::now() < deadline, "no first load: {:#?}", client.server_log());
        client.pump(std::time::Duration::from_millis(100));
    }
    client.pump_until_quiet(std::time::Duration::from_millis(500));
    let orders_uri = client.uri("shop/orders.py");
    assert!(client.diagnostics.get(&orders_uri).is_none_or(Vec::is_empty), "the crash's file is not there yet");

    // The file is back on disk, but what the client reports is not about it.
    std::fs::copy(&kept, &orders).unwrap();
    let created = |path: &std::path::Path| json!({"uri": common::file_uri(path), "type": 1});
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [
            created(&root.join(".crashloom/cache/diagnostics.jsonl")),
            created(&root.join(".crashloom/reports/CL-1.md")),
            created(&other.path().join(".crashloom/cache/diagnostics.jsonl")),
            created(&other.path().join("shop/orders.py")),
        ]}),
    );
    client.pump_until_quiet(std::time::Duration::from_millis(1000));
    assert_eq!(reloads_for_new_files(&client), 0, "{:#?}", client.server_log());
    assert!(client.diagnostics.get(&orders_uri).is_none_or(Vec::is_empty));

    client.notify("workspace/didChangeWatchedFiles", json!({"changes": [created(&orders)]}));
    client.wait_for_diagnostics("shop/orders.py", |d| d.iter().any(|d| d["range"]["start"]["line"] == 25));
    assert_eq!(reloads_for_new_files(&client), 1);
    client.shutdown();
}
