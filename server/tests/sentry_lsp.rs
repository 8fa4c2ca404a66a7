//! Sentry in the editor, against a local server that speaks Sentry's Web API: issues become crash
//! diagnostics with Sentry's short id and link, and "Resolve in Sentry" takes them away.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "support/fake_sentry.rs"]
mod fake_sentry;

use common::{LspClient, copy_dir};
use fake_sentry::{FakeSentry, ORG, TOKEN, fixture_dir};
use serde_json::{Value, json};

#[test]
fn sentry_issues_show_up_and_resolving_one_takes_it_away() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let sentry = runtime.block_on(FakeSentry::start(&[("11", "backend")]));
    let issues = sentry.add_issues("11", 5);

    // The workspace holds the programs the fixture events crashed in.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture_dir().join("programs"), dir.path());
    std::fs::write(
        dir.path().join("crashloom.toml"),
        format!(
            "[[source]]\nkind = \"sentry\"\nurl = \"{}\"\norg = \"{ORG}\"\nproject = \"backend\"\nrefresh_secs = 10\n",
            sentry.url
        ),
    )
    .unwrap();

    // The token comes from the editor's settings, never from the file.
    let mut client = LspClient::start(dir.path(), json!({"sentryToken": TOKEN}));
    let (uri, diagnostic) = loop {
        let found = client.diagnostics.iter().find_map(|(uri, diagnostics)| {
            diagnostics
                .iter()
                .find(|d| d["code"].as_str().is_some_and(|c| c.starts_with("BACKEND-")))
                .map(|d| (uri.clone(), d.clone()))
        });
        if let Some(found) = found {
            break found;
        }
        client.pump(std::time::Duration::from_millis(200));
        assert!(client.log.iter().all(|(kind, _)| *kind != 1), "{:?}", client.log);
    };
    let short_id = diagnostic["code"].as_str().unwrap().to_owned();
    let issue_id = diagnostic["data"]["group"].as_str().unwrap().to_owned();
    assert!(issues.contains(&issue_id), "{issue_id} is a Sentry issue id");
    let permalink = format!("{}/organizations/{ORG}/issues/{issue_id}/", sentry.url);
    assert_eq!(diagnostic["codeDescription"]["href"], permalink);
    let count = sentry.issue(&issue_id).count;
    assert!(diagnostic["message"].as_str().unwrap().contains(&format!("{count} times")), "{diagnostic}");

    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": diagnostic["range"], "context": {"diagnostics": [diagnostic]}}),
    );
    let titles: Vec<&str> = actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        vec![
            format!("Investigate crash {short_id}").as_str(),
            "Open in Sentry",
            "Resolve in Sentry",
            "Ignore in Sentry"
        ]
    );

    let open = &actions[1]["command"];
    client.request("workspace/executeCommand", json!({"command": open["command"], "arguments": open["arguments"]}));
    let shown = client.server_requests.iter().rev().find(|r| r["method"] == "window/showDocument").unwrap();
    assert_eq!(shown["params"]["uri"], permalink);
    assert_eq!(shown["params"]["external"], true);

    let resolve = &actions[2]["command"];
    let result = client
        .request("workspace/executeCommand", json!({"command": resolve["command"], "arguments": resolve["arguments"]}));
    assert_eq!(result, json!({"status": "resolved"}));
    assert_eq!(sentry.issue(&issue_id).status, "resolved");
    let relative = uri.strip_prefix(&common::file_uri(&client.root)).unwrap().trim_start_matches('/').to_owned();
    client.wait_for_diagnostics(&relative, |d| !d.iter().any(|x| x["code"] == Value::String(short_id.clone())));
    client.shutdown();
}
