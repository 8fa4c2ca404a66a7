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
