//! Startup: the newest crashes first, and the last session's diagnostics shown at once when the
//! server starts again — and never when what they came from changed: a crash file, or the file
//! they are in.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{LspClient, example_workspace};
use serde_json::Value;

const SHOWN: &str = "diagnostics of the last session shown while the crashes are read";

fn crash_lines(diagnostics: &[Value]) -> Vec<u64> {
    let mut lines: Vec<u64> = diagnostics.iter().map(|d| d["range"]["start"]["line"].as_u64().unwrap()).collect();
    lines.sort_unstable();
    lines
}

/// One session: waits for the crash sites of `orders.py`, returns them and the server's log.
fn session(root: &Path) -> (Vec<u64>, Vec<String>) {
    let (lines, log, _) = session_publishing(root);
    (lines, log)
}

/// Like [`session`], with how many times each file's diagnostics were published.
fn session_publishing(root: &Path) -> (Vec<u64>, Vec<String>, BTreeMap<String, usize>) {
    let mut client = LspClient::start(root, Value::Null);
    let diagnostics = client.wait_for_diagnostics("shop/orders.py", |d| !d.is_empty());
    let lines = crash_lines(&diagnostics);
    // The fresh picture is published too before the session ends.
    client.pump_until_quiet(std::time::Duration::from_millis(500));
    let log = client.server_log();
    let mut published = BTreeMap::new();
    for uri in &client.published {
        let file = uri.rsplit_once("/shop/").map_or(uri.as_str(), |(_, f)| f);
        *published.entry(file.to_owned()).or_insert(0) += 1;
    }
    client.shutdown();
    (lines, log, published)
}

#[test]
fn a_restart_shows_the_last_sessions_diagnostics_until_the_picture_is_built_again() {
    let workspace = example_workspace("shop-python");
    let root = workspace.path();
    let (first, log) = session(root);
    assert!(!log.iter().any(|l| l.contains(SHOWN)), "nothing was kept before the first session: {log:#?}");
    assert!(root.join(".crashloom/cache/diagnostics.jsonl").is_file(), "kept at shutdown");

    let (second, log, published) = session_publishing(root);
    assert!(log.iter().any(|l| l.contains(SHOWN)), "{log:#?}");
    assert_eq!(second, first, "the same crash sites as the last session");
    // The fresh picture says the same: nothing is sent twice.
    assert!(published.contains_key("orders.py") && published.contains_key("app.py"), "{published:?}");
    assert!(published.values().all(|&times| times == 1), "{published:?}");
}

#[test]
fn kept_diagnostics_of_an_edited_file_or_after_a_crash_file_changed_are_not_shown() {
    let workspace = example_workspace("shop-python");
    let root = workspace.path();
    let (first, _) = session(root);

    // Two lines inserted at the top of the file: the kept lines are wrong now, and its first
    // diagnostics must already be the new ones.
    let orders = root.join("shop/orders.py");
    let text = std::fs::read_to_string(&orders).unwrap();
    std::fs::write(&orders, format!("# moved\n# down\n{text}")).unwrap();
    let (moved, log, published) = session_publishing(root);
    assert!(log.iter().any(|l| l.contains(SHOWN)), "the other files' diagnostics still hold: {log:#?}");
    assert_eq!(moved, first.iter().map(|l| l + 2).collect::<Vec<_>>(), "never at the old lines");
    assert_eq!(published.get("orders.py"), Some(&1), "sent once, fresh: {published:?}");

    // A crash file changed: nothing of the last session is shown.
    let log_file = root.join(".crashloom/crashes/orders-service.log");
    let mut crashes = std::fs::read_to_string(&log_file).unwrap();
    crashes.push_str("\n2026-11-30 10:00:00,000 INFO shop: all good\n");
    std::fs::write(&log_file, crashes).unwrap();
    let (_, log) = session(root);
    assert!(!log.iter().any(|l| l.contains(SHOWN)), "{log:#?}");
    assert!(log.iter().any(|l| l.contains("the crash files or the inbox changed")), "{log:#?}");
}

#[test]
fn a_first_start_shows_the_newest_crashes_first() {
    // 600 crash groups in 600 files, each group a second newer than the one before.
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path();
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::create_dir_all(root.join(".crashloom/crashes")).unwrap();
    let mut log = String::new();
    for i in 0..600 {
        std::fs::write(root.join(format!("app/m{i}.py")), "def handle(order):\n    return order['sku']\n").unwrap();
        log.push_str(&format!(
            "2026-11-20 10:{:02}:{:02},000 ERROR request failed\nTraceback (most recent call last):\n  \
             File \"/srv/app/m{i}.py\", line 2, in handle\n    return order['sku']\nKeyError: 'sku-{i}'\n",
            i / 60,
            i % 60
        ));
    }
    std::fs::write(root.join(".crashloom/crashes/app.log"), log).unwrap();

    let mut client = LspClient::start(root, Value::Null);
    client.wait_for_diagnostics("app/m0.py", |d| !d.is_empty());
    client.pump_until_quiet(std::time::Duration::from_millis(300));
    let file_number = |uri: &str| -> usize {
        uri.rsplit_once("/m").and_then(|(_, n)| n.strip_suffix(".py")).and_then(|n| n.parse().ok()).unwrap()
    };
    // The first files published are those of the newest groups; then every file is.
    let first: Vec<usize> = client.published.iter().take(100).map(|u| file_number(u)).collect();
    assert!(first.iter().all(|&n| n >= 600 - 256), "{first:?}");
    assert_eq!(client.diagnostics.values().filter(|d| !d.is_empty()).count(), 600);
    assert!(client.server_log().iter().any(|l| l.contains("newest crash groups shown first")));
    client.shutdown();
}
