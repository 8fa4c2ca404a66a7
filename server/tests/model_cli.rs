//! `crashloom investigate` with `[model]` pointing at a stand-in model server: the model's first
//! fix is judged by the real validator in a bubblewrap sandbox (it only turns the crash into
//! another error), the verdict goes back to the model, and its second fix validates. `--offline`
//! and a missing key leave the offline engine's result as it always was.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "support/fake_model.rs"]
mod fake_model;

use std::path::Path;
use std::process::{Command, Output};

use fake_model::{FakeModel, KEY, Provider, Reply};
use serde_json::{Value, json};

const CONVERTING_FIX: &str = "Summary: refuse orders of unknown customers\n\nshop/orders.py\n<<<<<<< SEARCH\n    customer = customers.get(order[\"customer\"])\n=======\n    customer = customers.get(order[\"customer\"])\n    if customer is None:\n        raise OrderError(f\"unknown customer {order['customer']!r}\")\n>>>>>>> REPLACE\n";

const GUEST_FIX: &str = "Summary: a guest order gets a receipt made out to \"guest\"\n\n```diff\n--- a/shop/orders.py\n+++ b/shop/orders.py\n@@ -25,2 +25,2 @@\n     customer = customers.get(order[\"customer\"])\n-    name = customer[\"name\"]\n+    name = customer[\"name\"] if customer else \"guest\"\n```\n";

fn shop(model_toml: &str) -> tempfile::TempDir {
    let workspace = common::example_workspace("shop-python");
    let config = workspace.path().join("crashloom.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n{model_toml}")).unwrap();
    for args in [&["init", "-q"][..], &["add", "-A"], &["commit", "-q", "-m", "Receipts name the customer"]] {
        let status = Command::new("git")
            .args(["-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com"])
            .args(args)
            .current_dir(workspace.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
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

fn investigate(root: &Path, extra: &[&str], key: Option<&str>) -> (Output, Value) {
    let crash = type_error_group(root);
    let mut command = Command::new(env!("CARGO_BIN_EXE_crashloom"));
    command.args(["investigate", "--json", "--crash", &crash]).args(extra).arg("--workspace").arg(root);
    command.env_remove("OPENAI_API_KEY").env_remove("ANTHROPIC_API_KEY");
    if let Some(key) = key {
        command.env("OPENAI_API_KEY", key);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let value = serde_json::from_slice(&output.stdout).unwrap();
    (output, value)
}

#[test]
fn the_model_corrects_its_fix_after_the_sandbox_refuses_it_and_the_second_one_validates() {
    let root_causes = json!({"hypotheses": [{"summary": "a guest order's customer is not in CUSTOMERS, so customers.get returns None",
        "confidence": 0.95, "citations": [{"path": "shop/orders.py", "line": 25, "quote": "customers.get(order[\"customer\"])"}]}]});
    let fake = FakeModel::start(
        Provider::OpenAi,
        vec![Reply::Text(root_causes.to_string()), Reply::Text(CONVERTING_FIX.into()), Reply::Text(GUEST_FIX.into())],
    );
    let workspace = shop(&fake.config_toml(true, "max_rounds = 3\n"));
    let (output, investigation) = investigate(workspace.path(), &[], Some(KEY));

    assert_eq!(investigation["validation"]["validated"], true, "{investigation:#}");
    assert_eq!(investigation["validation"]["outcome"], "fixed");
    assert_eq!(investigation["fix"]["fix"]["by"], "openai scripted-1");
    assert!(
        investigation["diff"].as_str().unwrap().contains("+    name = customer[\"name\"] if customer else \"guest\"")
    );
    assert_eq!(investigation["hypotheses"][0]["by"], "openai scripted-1");
    assert_eq!(
        investigation["hypotheses"][0]["evidence"][0],
        "shop/orders.py:25 `customer = customers.get(order[\"customer\"])` (checked)"
    );
    let model = &investigation["model"];
    assert_eq!(
        (model["model"].as_str(), model["rounds"].as_u64(), model["requests"].as_u64()),
        (Some("openai scripted-1"), Some(2), Some(3))
    );
    assert!(model["input_tokens"].as_u64().unwrap() > 1000);

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    let feedback = &requests[2].raw;
    assert!(feedback.contains("it turns the crash into OrderError"), "{feedback}");
    assert!(
        feedback.contains("<command-output>") && feedback.contains("OrderError: unknown customer 'guest'"),
        "{feedback}"
    );
    assert!(requests.iter().all(|r| !r.raw.contains(KEY)));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("round 2: the change turns the crash into another error, asking for another change"),
        "{stderr}"
    );
    assert!(!stderr.contains(KEY));

    let report = std::fs::read_to_string(
        workspace.path().join(format!(".crashloom/reports/{}.md", type_error_group(workspace.path()))),
    )
    .unwrap();
    assert!(report.contains("Validated"), "{report}");
    let orders = std::fs::read_to_string(workspace.path().join("shop/orders.py")).unwrap();
    assert!(!orders.contains("guest"), "the workspace is untouched");
}

#[test]
fn offline_or_without_a_key_the_offline_engine_answers_as_before() {
    let fake = FakeModel::start(Provider::OpenAi, vec![Reply::Text(GUEST_FIX.into())]);
    let workspace = shop(&fake.config_toml(false, ""));
    let (_, investigation) = investigate(workspace.path(), &["--offline"], Some(KEY));
    assert_eq!(investigation["validation"]["outcome"], "converted");
    assert!(investigation.get("model").is_none());
    assert_eq!(fake.requests().len(), 0, "--offline sends nothing");

    let workspace = shop("[model]\nprovider = \"openai\"\nmodel = \"gpt-4.1\"\n");
    let (output, investigation) = investigate(workspace.path(), &[], None);
    assert_eq!(investigation["validation"]["outcome"], "converted");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the model is not used: OPENAI_API_KEY is not set"), "{stderr}");
}
