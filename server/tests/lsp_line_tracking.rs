//! Every crash mark follows its code, in each language of the examples: through lines typed
//! above it, a reload (a crash file changed), an edit that rewrites the crash line with its
//! neighbours, an inserted guard diffed the way Neovim sends it, and an applied validated fix.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LspClient, commit_all, example_workspace};
use serde_json::{Value, json};

/// The crash site of `group` among the diagnostics (any group's when `group` is null).
fn crash_site<'a>(diagnostics: &'a [Value], group: &Value) -> Option<&'a Value> {
    diagnostics.iter().find(|d| {
        d["data"]["role"] == "crash_site" && (group.is_null() || d["data"]["group"] == *group) && d["severity"] == 1
    })
}

fn crash_line(diagnostics: &[Value], group: &Value) -> Option<u64> {
    crash_site(diagnostics, group).map(|d| d["range"]["start"]["line"].as_u64().unwrap())
}

/// Waits for a crash site on `line` (of `group`, or of any group when null) and returns it.
fn wait_for_crash_on(client: &mut LspClient, file: &str, line: usize, group: &Value) -> Value {
    let on_line = |d: &&Value| d["data"]["role"] == "crash_site" && d["range"]["start"]["line"] == line;
    let diagnostics = client.wait_for_diagnostics(file, |d| {
        d.iter().filter(on_line).any(|d| group.is_null() || d["data"]["group"] == *group)
    });
    diagnostics.iter().filter(on_line).find(|d| group.is_null() || d["data"]["group"] == *group).unwrap().clone()
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The story of one example: `file` crashed on 0-based `line`; `comment` starts a comment.
fn the_crash_mark_follows_its_code(example: &str, file: &str, line: usize, comment: &str) {
    let workspace = example_workspace(example);
    let mut client = LspClient::start(workspace.path(), Value::Null);
    client.open(file);
    let group = wait_for_crash_on(&mut client, file, line, &Value::Null)["data"]["group"].clone();
    let crash_code = client.text(file).lines().nth(line).unwrap().to_owned();

    // Lines typed above move the mark with the code.
    client.edit(file, (0, 0), (0, 0), &format!("{comment} one\n{comment} two\n{comment} three\n"));
    let line = line + 3;
    wait_for_crash_on(&mut client, file, line, &group);

    // A reload (the crash happened again) keeps the mark where the edits took it.
    let crashes = workspace.path().join(".crashloom/crashes");
    let crash_file = std::fs::read_dir(&crashes)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "txt"));
    let crash_file = crash_file.unwrap();
    std::fs::copy(&crash_file, crashes.join("again.txt")).unwrap();
    let diagnostics = client.wait_for_diagnostics(file, |d| {
        crash_site(d, &group).is_some_and(|c| c["message"].as_str().unwrap().contains("crashed here 2 times"))
    });
    let site = crash_site(&diagnostics, &group).unwrap();
    assert_eq!(site["range"]["start"]["line"], line, "{example}: after the reload {site:#}");
    assert!(!site["message"].as_str().unwrap().contains("changed since the crash"), "{site:#}");

    // The crash line rewritten with the line above it, a line added between: the mark stays on
    // the crash line.
    let text = client.text(file);
    let above = text.lines().nth(line - 1).unwrap().to_owned();
    let indent = crash_code[..indentation(&crash_code)].to_owned();
    client.edit(file, (line - 1, 0), (line + 1, 0), &format!("{above}\n{indent}{comment} checked\n{crash_code}\n"));
    let line = line + 1;
    let site = wait_for_crash_on(&mut client, file, line, &group);
    assert!(!site["message"].as_str().unwrap().contains("changed since the crash"), "{site:#}");

    // A guard inserted before it as Neovim sends it: after the crash line's indentation.
    let at = indentation(&crash_code);
    client.edit(file, (line, at), (line, at), &format!("{comment} guard\n{indent}"));
    let line = line + 1;
    wait_for_crash_on(&mut client, file, line, &group);
    assert_eq!(client.text(file).lines().nth(line).unwrap(), crash_code);
    client.shutdown();
}

#[test]
fn python_marks_follow_edits_reloads_and_rewritten_lines() {
    the_crash_mark_follows_its_code("shop-python", "shop/orders.py", 25, "#");
}

#[test]
fn javascript_marks_follow_edits_reloads_and_rewritten_lines() {
    the_crash_mark_follows_its_code("cart-node", "src/cart.js", 11, "//");
}

#[test]
fn rust_marks_follow_edits_reloads_and_rewritten_lines() {
    the_crash_mark_follows_its_code("inventory-rust", "src/picking.rs", 6, "//");
}

#[test]
fn go_marks_follow_edits_reloads_and_rewritten_lines() {
    the_crash_mark_follows_its_code("ledger-go", "ledger.go", 30, "//");
}

/// Investigates the crash on `line` of `file`, applies the validated fix in the editor, and checks
/// the mark is on the statement that crashed, not on the guard.
fn after_the_fix_the_mark_is_on_the_crashing_statement(example: &str, file: &str, line: usize) {
    let workspace = example_workspace(example);
    commit_all(workspace.path());
    let mut client = LspClient::start(workspace.path(), Value::Null);
    client.open(file);
    let site = wait_for_crash_on(&mut client, file, line, &Value::Null);
    let crash_code = client.text(file).lines().nth(line).unwrap().to_owned();
    let group = site["data"]["group"].clone();
    let started =
        client.request("workspace/executeCommand", json!({"command": "crashloom.investigate", "arguments": [group]}));
    let verdict = client.wait_for_progress_end(started["token"].as_str().unwrap());
    assert!(verdict.ends_with("validated fix ready"), "{verdict}");
    let applied =
        client.request("workspace/executeCommand", json!({"command": "crashloom.applyFix", "arguments": [group]}));
    assert_eq!(applied["applied"], true, "{applied}");
    let text = client.text(file);
    let now = text.lines().position(|l| l == crash_code).unwrap();
    let diagnostics = client.wait_for_diagnostics(file, |d| crash_line(d, &group) == Some(now as u64));
    assert_eq!(text.lines().nth(crash_line(&diagnostics, &group).unwrap() as usize).unwrap(), crash_code);
    client.shutdown();
}

#[test]
fn python_after_the_validated_fix_the_mark_is_on_the_crashing_statement() {
    after_the_fix_the_mark_is_on_the_crashing_statement("shop-python", "shop/orders.py", 25);
}

#[test]
fn javascript_after_the_validated_fix_the_mark_is_on_the_crashing_statement() {
    after_the_fix_the_mark_is_on_the_crashing_statement("cart-node", "src/cart.js", 11);
}

#[test]
fn go_after_the_validated_fix_the_mark_is_on_the_crashing_statement() {
    after_the_fix_the_mark_is_on_the_crashing_statement("ledger-go", "ledger.go", 30);
}
