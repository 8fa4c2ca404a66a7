//! The language server end to end, over the real protocol, on the example shop whose crashes were
//! captured by running it: what an editor would show, to the line and the word.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LspClient, example_workspace, summary};
use serde_json::{Value, json};

const ERROR: u64 = 1;
const INFORMATION: u64 = 3;

fn has_line(diagnostics: &[Value], line: u64) -> bool {
    diagnostics.iter().any(|d| d["range"]["start"]["line"] == line)
}

fn at_line(diagnostics: &[Value], line: u64) -> Value {
    diagnostics
        .iter()
        .find(|d| d["range"]["start"]["line"] == line)
        .cloned()
        .unwrap_or_else(|| panic!("no diagnostic on line {line}: {diagnostics:#?}"))
}

#[test]
fn every_crash_site_of_the_shop_is_marked_on_its_line() {
    let workspace = example_workspace("shop-python");
    let mut client = LspClient::start(workspace.path(), Value::Null);

    let orders = client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);
    let mut seen: Vec<_> = orders.iter().map(summary).collect();
    seen.sort();
    assert_eq!(seen.len(), 5, "{seen:#?}");
    let type_error = summary(&at_line(&orders, 25));
    assert_eq!(type_error.1, ERROR);
    assert_eq!(type_error.2, "TypeError: 'NoneType' object is not subscriptable — crashed here 1 time");
    // The chained crash: OrderError raised in price_order, caused by a KeyError in the catalog.
    let order_error = summary(&at_line(&orders, 20));
    assert_eq!(order_error.1, ERROR);
    assert!(
        order_error.2 == "OrderError: order 102 cannot be priced — crashed here 2 times, last 2026-11-23 23:53 UTC",
        "{order_error:?}"
    );
    let through_receipt = summary(&at_line(&orders, 26));
    assert_eq!(through_receipt.1, INFORMATION);
    assert!(
        through_receipt.2.contains("passes through here: frame 2 of 3 in the crash's in-app stack, calls price_order at shop/orders.py:21 (2 times)"),
        "{through_receipt:?}"
    );
    assert_eq!(summary(&at_line(&orders, 12)).1, INFORMATION);
    assert_eq!(summary(&at_line(&orders, 18)).1, INFORMATION);

    // The exact range covers the code, not the indentation.
    let raise = at_line(&orders, 20);
    assert_eq!(raise["range"], json!({"start": {"line": 20, "character": 8}, "end": {"line": 20, "character": 76}}));
    assert_eq!(raise["source"], "crashloom");
    assert!(raise["code"].as_str().unwrap().starts_with("CL-"));
    assert!(raise["data"]["group"].is_string());
    // Related information walks the chain: the other frames of the same crash.
    let related: Vec<String> = raise["relatedInformation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(related.contains(&"root cause in price_of".to_owned()), "{related:?}");
    assert!(related.contains(&"frame 2 of 3 in receipt".to_owned()), "{related:?}");

    // The root cause is marked where it was raised.
    let catalog = client.wait_for_diagnostics("shop/catalog.py", |d| !d.is_empty());
    let root_cause = summary(&at_line(&catalog, 10));
    assert_eq!(root_cause.1, ERROR);
    assert!(root_cause.2.starts_with("KeyError: 'GIFT-CARD' — root cause of "), "{root_cause:?}");

    let app = client.wait_for_diagnostics("shop/app.py", |d| d.len() >= 3);
    let mut lines: Vec<u64> = app.iter().map(|d| summary(d).0).collect();
    lines.sort();
    assert_eq!(lines, vec![26, 29, 41]);
    assert!(app.iter().all(|d| d["severity"] == INFORMATION));
    client.shutdown();
}

#[test]
fn hover_and_code_lens_tell_what_crashed_here() {
    let workspace = example_workspace("shop-python");
    let mut client = LspClient::start(workspace.path(), Value::Null);
    let uri = client.open("shop/orders.py");
    client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);

    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 25, "character": 10}}),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.starts_with("**TypeError**: 'NoneType' object is not subscriptable"), "{text}");
    assert!(text.contains("1 time"), "{text}");
    assert!(text.contains("In-app stack, newest call first"), "{text}");
    assert!(text.contains("1. [`receipt`]("), "{text}");
    assert!(text.contains("shop/orders.py:26 ← here"), "{text}");
    // Code spans hold code as it is: no escaping backslashes inside them.
    assert!(text.contains("3. [`<module>`]("), "{text}");
    assert!(text.lines().filter(|l| l.contains('`')).all(|l| !l.contains('\\')), "{text}");
    assert_eq!(hover["contents"]["kind"], "markdown");
    let nothing = client
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 2, "character": 0}}));
    assert_eq!(nothing, Value::Null);

    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
    let mut lenses: Vec<(u64, String)> = lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["range"]["start"]["line"].as_u64().unwrap(), l["command"]["title"].as_str().unwrap().to_owned()))
        .collect();
    lenses.sort();
    assert_eq!(
        lenses,
        vec![
            (9, "1 crash · 2 events".to_owned()),
            (16, "1 crash · 2 events".to_owned()),
            (23, "2 crashes · 3 events".to_owned()),
        ]
    );
    client.shutdown();
}

#[test]
fn diagnostics_follow_edits_and_flag_an_edited_crash_line() {
    let workspace = example_workspace("shop-python");
    let mut client = LspClient::start(workspace.path(), Value::Null);
    let uri = client.open("shop/orders.py");
    client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);

    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "# pricing\n# receipts\n"}
        ]}),
    );
    let moved = client.wait_for_diagnostics("shop/orders.py", |d| {
        d.iter().any(|x| x["range"]["start"]["line"] == 22 && x["severity"] == ERROR)
    });
    assert!(summary(&at_line(&moved, 22)).2.ends_with("crashed here 2 times, last 2026-11-23 23:53 UTC"));
    assert!(!at_line(&moved, 22)["message"].as_str().unwrap().contains("changed since the crash"));
    assert_eq!(
        summary(&at_line(&moved, 27)).2,
        "TypeError: 'NoneType' object is not subscriptable — crashed here 1 time"
    );

    // Editing the crashing line itself: the mark stays, and says the line changed.
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
            {"range": {"start": {"line": 27, "character": 11}, "end": {"line": 27, "character": 26}}, "text": "(customer or {}).get(\"name\")"}
        ]}),
    );
    let edited = client.wait_for_diagnostics("shop/orders.py", |d| {
        d.iter().any(|x| {
            x["range"]["start"]["line"] == 27
                && x["message"].as_str().unwrap().contains("This line has changed since the crash.")
        })
    });
    assert_eq!(summary(&at_line(&edited, 27)).1, ERROR);
    client.shutdown();
}

#[test]
fn code_that_moved_since_the_crash_is_found_by_its_source() {
    let workspace = example_workspace("shop-python");
    let path = workspace.path().join("shop/orders.py");
    let original = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("import logging\n\nlog = logging.getLogger(__name__)\n{original}")).unwrap();

    let mut client = LspClient::start(workspace.path(), Value::Null);
    let orders = client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);
    let moved = at_line(&orders, 28);
    let message = moved["message"].as_str().unwrap();
    assert!(message.starts_with("TypeError: 'NoneType' object is not subscriptable"), "{message}");
    assert!(message.contains("The crash reported line 26; the code has moved here since."), "{message}");
    client.shutdown();
}

#[test]
fn new_changed_and_deleted_crash_files_show_up_without_a_restart() {
    let workspace = example_workspace("shop-python");
    let mut client = LspClient::start(workspace.path(), Value::Null);
    client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);

    // The same crash once more, in a new file: the count goes up.
    let crashes = workspace.path().join(".crashloom/crashes");
    let service_log = std::fs::read_to_string(crashes.join("orders-service.log")).unwrap();
    let one_crash: String =
        service_log.lines().skip(1).take_while(|l| !l.starts_with("20")).map(|l| format!("{l}\n")).collect();
    std::fs::write(crashes.join("again.txt"), &one_crash).unwrap();
    client.wait_for_diagnostics("shop/orders.py", |d| {
        d.iter().any(|x| {
            x["range"]["start"]["line"] == 20 && x["message"].as_str().unwrap().contains("crashed here 3 times")
        })
    });

    // Deleting crash files removes their marks.
    std::fs::remove_file(crashes.join("again.txt")).unwrap();
    std::fs::remove_file(crashes.join("guest-checkout.txt")).unwrap();
    let after = client.wait_for_diagnostics("shop/orders.py", |d| {
        !has_line(d, 25) && d.iter().any(|x| x["message"].as_str().unwrap().contains("crashed here 2 times"))
    });
    assert_eq!(after.len(), 4);
    std::fs::remove_dir_all(&crashes).unwrap();
    client.wait_for_diagnostics("shop/orders.py", |d| d.is_empty());
    client.wait_for_diagnostics("shop/catalog.py", |d| d.is_empty());
    client.shutdown();
}

#[test]
fn bad_crash_files_are_reported_and_the_rest_keeps_working() {
    let workspace = example_workspace("shop-python");
    let crashes = workspace.path().join(".crashloom/crashes");
    std::fs::write(crashes.join("junk.bin"), (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<u8>>())
        .unwrap();
    std::fs::write(crashes.join("broken.json"), "{\"exception\": {\"values\": [").unwrap();
    let mut latin1 = std::fs::read(crashes.join("guest-checkout.txt")).unwrap();
    latin1.extend_from_slice(b"\nextra note: caf\xe9 \xff\xfe\n");
    std::fs::write(crashes.join("guest-checkout.txt"), latin1).unwrap();

    let mut client = LspClient::start(workspace.path(), Value::Null);
    let orders = client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);
    assert_eq!(
        summary(&at_line(&orders, 25)).2,
        "TypeError: 'NoneType' object is not subscriptable — crashed here 1 time"
    );
    let request = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": client.uri("shop/orders.py")}, "position": {"line": 25, "character": 0}}),
    );
    assert!(request["contents"]["value"].as_str().unwrap().contains("TypeError"));
    let warnings: Vec<&String> = client.log.iter().filter(|(kind, _)| *kind == 2).map(|(_, m)| m).collect();
    assert!(warnings.iter().any(|m| m.contains("broken.json")), "{warnings:?}");
    assert!(warnings.iter().any(|m| m.contains("junk.bin")), "{warnings:?}");
    client.shutdown();
}

#[test]
fn unknown_documents_and_wild_positions_get_empty_answers() {
    let workspace = example_workspace("shop-python");
    let mut client = LspClient::start(workspace.path(), Value::Null);
    client.wait_for_diagnostics("shop/orders.py", |d| d.len() >= 5);
    let outside = "file:///nowhere/at/all.py";
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": outside}, "position": {"line": 0, "character": 0}}),
    );
    assert_eq!(hover, Value::Null);
    let uri = client.open("shop/orders.py");
    let far = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 100000, "character": 4000000}}),
    );
    assert_eq!(far, Value::Null);
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 9000, "character": 5}, "end": {"line": 2, "character": 99}}, "text": "x"}
        ]}),
    );
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "file:///not/open.py", "version": 2}, "contentChanges": [{"text": "y"}]}),
    );
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
    assert!(lenses.is_array());
    client.shutdown();
}

#[test]
fn a_trace_cut_off_before_its_exception_is_a_warning_that_says_so() {
    let workspace = example_workspace("shop-python");
    let crash_file = workspace.path().join(".crashloom/crashes/guest-checkout.txt");
    let trace = std::fs::read_to_string(&crash_file).unwrap();
    let cut: String = trace.lines().filter(|l| !l.starts_with("TypeError")).map(|l| format!("{l}\n")).collect();
    assert_ne!(cut, trace);
    std::fs::write(&crash_file, cut).unwrap();

    let mut client = LspClient::start(workspace.path(), Value::Null);
    let orders = client.wait_for_diagnostics("shop/orders.py", |d| has_line(d, 25));
    let (_, severity, message) = summary(&at_line(&orders, 25));
    assert_eq!(severity, 2, "a warning, not an error");
    assert_eq!(message, "A crash whose trace was cut off before its exception — crashed here 1 time");
    assert!(orders.iter().all(|d| !d["message"].as_str().unwrap().starts_with(' ')), "{orders:#?}");
    // The whole trace is still an error.
    std::fs::write(&crash_file, trace).unwrap();
    client.wait_for_diagnostics("shop/orders.py", |d| has_line(d, 25) && summary(&at_line(d, 25)).1 == ERROR);
    client.shutdown();
}
