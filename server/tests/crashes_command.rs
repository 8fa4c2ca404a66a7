//! `crashloom crashes`: the same picture as the editor's, for scripts and people at a terminal.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::example_workspace;

#[test]
fn json_lists_each_group_with_its_sites_and_unmapped_frames() {
    let workspace = example_workspace("shop-python");
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["crashes", "--json", "--workspace"])
        .arg(workspace.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let type_error = groups.iter().find(|g| g["exception"] == "TypeError").unwrap();
    assert_eq!(type_error["count"], 1);
    let crash_site = type_error["sites"].as_array().unwrap().iter().find(|s| s["role"] == "crash_site").unwrap();
    assert_eq!((crash_site["path"].as_str().unwrap(), crash_site["line"].as_u64().unwrap()), ("shop/orders.py", 26));
    assert_eq!(crash_site["function"], "receipt");
    assert_eq!(crash_site["placement"]["kind"], "confirmed");
    let unmapped = type_error["unmapped"].as_array().unwrap();
    assert_eq!(unmapped.len(), 2, "the two <frozen runpy> frames: {unmapped:#?}");
    let order_error = groups.iter().find(|g| g["exception"].as_str().unwrap().ends_with("OrderError")).unwrap();
    assert_eq!(order_error["count"], 2);
    let root_cause = order_error["sites"].as_array().unwrap().iter().find(|s| s["role"] == "root_cause").unwrap();
    assert_eq!((root_cause["path"].as_str().unwrap(), root_cause["line"].as_u64().unwrap()), ("shop/catalog.py", 11));
}

#[test]
fn text_reads_like_a_crash_list() {
    let workspace = example_workspace("shop-python");
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["crashes", "--workspace"])
        .arg(workspace.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("2 crash groups in "), "{text}");
    assert!(text.contains("TypeError: 'NoneType' object is not subscriptable  [CL-"), "{text}");
    assert!(text.contains("  crash site  shop/orders.py:26  in receipt"), "{text}");
    assert!(text.contains("  root cause  shop/catalog.py:11  in price_of"), "{text}");
}

#[test]
fn a_missing_workspace_is_one_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_crashloom"))
        .args(["crashes", "--workspace", "/no/such/folder"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot open the workspace /no/such/folder"), "{stderr}");
}
