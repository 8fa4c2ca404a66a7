//! The offline Root Cause and Fix Proposal agents on real crashes: a small source file that crashes
//! the way production code does, the facts and code context the Error Analyzer and Code Search would
//! hand over, and the exact change (or refusal) that comes back. Where it is cheap the fix is proven
//! for real: the original program crashes, the fixed one raises the explicit error instead.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::Path;
use std::process::Command;

use crashloom::crash::Language;
use crashloom::investigate::fix::OfflineFixProposer;
use crashloom::investigate::root_cause::OfflineRootCause;
use crashloom::investigate::{
    CodeContext, CodeRef, CommitInfo, CrashFacts, CrashInput, FailingOperation, FixOutcome, FixProposal, FixProposer,
    RootCauseAnalyst, SiteFacts,
};
use crashloom::sandbox::FileEdit;
use crashloom::workspace::sites::CrashGroup;
use tempfile::TempDir;

// ---------------------------------------------------------------- helpers

fn workspace(path: &str, text: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
    dir
}

fn group() -> CrashGroup {
    CrashGroup {
        id: "g1".into(),
        short_id: "G1".into(),
        title: String::new(),
        exception: String::new(),
        message: String::new(),
        count: 1,
        user_count: None,
        first_seen: None,
        last_seen: None,
        releases: Vec::new(),
        environments: Vec::new(),
        permalink: None,
        status: None,
        origins: Vec::new(),
        event: Default::default(),
        sites: Vec::new(),
        unmapped: Vec::new(),
    }
}

/// The facts the Error Analyzer gives for a crash at `path:line` of the workspace.
fn facts(
    language: Language,
    (exception, message): (&str, &str),
    dir: &TempDir,
    (path, line, function): (&str, u32, &str),
    operation: FailingOperation,
) -> CrashFacts {
    let text = std::fs::read_to_string(dir.path().join(path)).unwrap_or_default();
    let code = text.lines().nth(line as usize - 1).map(|l| l.trim().to_owned());
    let site = SiteFacts { path: path.into(), line, function: Some(function.into()), code };
    CrashFacts {
        language: Some(language),
        exception: exception.into(),
        message: message.into(),
        crash_site: Some(site.clone()),
        in_app_path: vec![site],
        root_cause: None,
        variables: Vec::new(),
        failing_operation: Some(operation),
    }
}

fn propose(dir: &TempDir, facts: &CrashFacts) -> FixOutcome {
    let group = group();
    let input = CrashInput { root: dir.path().to_path_buf(), group: &group };
    OfflineFixProposer.propose(&input, facts, &CodeContext::default(), &[])
}

#[track_caller]
fn proposed(outcome: FixOutcome) -> FixProposal {
    match outcome {
        FixOutcome::Proposed { fix } => fix,
        FixOutcome::NoConfidentFix { reason } => panic!("expected a fix, got no confident fix: {reason}"),
    }
}

#[track_caller]
fn refused(outcome: FixOutcome) -> String {
    match outcome {
        FixOutcome::NoConfidentFix { reason } => reason,
        FixOutcome::Proposed { fix } => panic!("expected no confident fix, got {fix:#?}"),
    }
}

/// The one replacement of the fix, checked against today's file, and the file after it.
#[track_caller]
fn apply(dir: &TempDir, fix: &FixProposal) -> (String, String, String) {
    assert_eq!(fix.changes.len(), 1, "{fix:#?}");
    let change = &fix.changes[0];
    let FileEdit::Replace { old, new } = &change.edit else { panic!("expected a replacement: {change:?}") };
    let text = std::fs::read_to_string(dir.path().join(&change.path)).unwrap();
    assert_eq!(text.matches(old.as_str()).count(), 1, "`old` must occur exactly once:\n{old}");
    (old.clone(), new.clone(), text.replacen(old.as_str(), new, 1))
}

fn grammar(path: &str) -> tree_sitter::Language {
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("py") => tree_sitter_python::LANGUAGE.into(),
        Some("js") => tree_sitter_javascript::LANGUAGE.into(),
        Some("ts") => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        Some("rs") => tree_sitter_rust::LANGUAGE.into(),
        Some("go") => tree_sitter_go::LANGUAGE.into(),
        Some("java") => tree_sitter_java::LANGUAGE.into(),
        other => panic!("no grammar for {other:?}"),
    }
}

#[track_caller]
fn assert_parses(path: &str, text: &str) {
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&grammar(path)).unwrap();
    let tree = parser.parse(text, None).unwrap();
    assert!(!tree.root_node().has_error(), "the edited {path} does not parse:\n{text}");
}

/// The 1-based line of the only line containing `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    let lines: Vec<usize> = text.lines().enumerate().filter(|(_, l)| l.contains(needle)).map(|(i, _)| i + 1).collect();
    assert_eq!(lines.len(), 1, "`{needle}` must be on exactly one line");
    lines[0] as u32
}

/// Runs a program in `dir` and returns its exit success and stderr.
fn run(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program).args(args).current_dir(dir).output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The last line of a Python traceback: `Type: message`.
fn python_error(dir: &Path, script: &str, args: &[&str]) -> String {
    let mut all = vec![script];
    all.extend_from_slice(args);
    let (ok, stderr) = run(dir, "python3", &all);
    assert!(!ok, "expected {script} to fail");
    stderr.lines().last().unwrap_or_default().to_owned()
}

// ---------------------------------------------------------------- Python

const ORDERS_PY: &str = r#"class OrderError(Exception):
    pass


CUSTOMERS = {"c1": {"name": "Ada", "email": "ada@example.com"}}


def receipt(order, customers=CUSTOMERS):
    if not order.get("items"):
        raise OrderError("order has no items")
    customer = customers.get(order["customer"])
    total = sum(item["price"] for item in order["items"])
    return f"{customer['name']}: {total}"


if __name__ == "__main__":
    import sys

    print(receipt({"customer": sys.argv[1], "items": [{"price": 3}]}))
"#;

fn subscript_of_none(dir: &TempDir) -> CrashFacts {
    facts(
        Language::Python,
        ("TypeError", "'NoneType' object is not subscriptable"),
        dir,
        ("shop/orders.py", 13, "receipt"),
        FailingOperation::SubscriptOfMissing { expression: "customer".into() },
    )
}

#[test]
fn python_none_from_get_raises_the_modules_own_error_right_after_the_lookup() {
    let dir = workspace("shop/orders.py", ORDERS_PY);
    assert_eq!(
        python_error(dir.path(), "shop/orders.py", &["c9"]),
        "TypeError: 'NoneType' object is not subscriptable"
    );

    let fix = proposed(propose(&dir, &subscript_of_none(&dir)));
    let (old, new, edited) = apply(&dir, &fix);
    assert_eq!(old, "    customer = customers.get(order[\"customer\"])\n");
    assert_eq!(
        new,
        "    customer = customers.get(order[\"customer\"])\n    if customer is None:\n        raise OrderError(f\"unknown customer {order['customer']!r}\")\n"
    );
    assert!(!fix.hides_symptom);
    assert_eq!(fix.changes[0].path, "shop/orders.py");
    assert!(fix.rationale.contains("returns None when the key is absent"), "{}", fix.rationale);
    assert_parses("shop/orders.py", &edited);

    std::fs::write(dir.path().join("shop/orders.py"), &edited).unwrap();
    assert_eq!(python_error(dir.path(), "shop/orders.py", &["c9"]), "OrderError: unknown customer 'c9'");
    let (ok, _) = run(dir.path(), "python3", &["shop/orders.py", "c1"]);
    assert!(ok, "a known customer still works");
}

#[test]
fn python_attribute_of_none_from_get_falls_back_to_lookup_error() {
    let source = "USERS = {}\n\n\ndef email_domain(user_id):\n    user = USERS.get(user_id)\n    return user.email.split(\"@\")[1]\n";
    let dir = workspace("users.py", source);
    let facts = facts(
        Language::Python,
        ("AttributeError", "'NoneType' object has no attribute 'email'"),
        &dir,
        ("users.py", 6, "email_domain"),
        FailingOperation::AttributeOfMissing { expression: "user".into(), attribute: "email".into() },
    );
    let fix = proposed(propose(&dir, &facts));
    let (_, new, edited) = apply(&dir, &fix);
    assert_eq!(
        new,
        "    user = USERS.get(user_id)\n    if user is None:\n        raise LookupError(f\"unknown user {user_id!r}\")\n"
    );
    assert_parses("users.py", &edited);
}

#[test]
fn python_none_that_does_not_come_from_a_lookup_gets_no_fix() {
    // A parameter: the None comes from the caller.
    let dir = workspace("a.py", "def name(customer):\n    return customer[\"name\"]\n");
    let facts_param = facts(
        Language::Python,
        ("TypeError", "'NoneType' object is not subscriptable"),
        &dir,
        ("a.py", 2, "name"),
        FailingOperation::SubscriptOfMissing { expression: "customer".into() },
    );
    let reason = refused(propose(&dir, &facts_param));
    assert!(reason.contains("not assigned in `name`"), "{reason}");

    // Assigned from a function that is not a lookup.
    let dir = workspace("b.py", "def name(db, key):\n    customer = db.load(key)\n    return customer[\"name\"]\n");
    let facts_call = facts(
        Language::Python,
        ("TypeError", "'NoneType' object is not subscriptable"),
        &dir,
        ("b.py", 3, "name"),
        FailingOperation::SubscriptOfMissing { expression: "customer".into() },
    );
    let reason = refused(propose(&dir, &facts_call));
    assert!(reason.contains("not from a lookup"), "{reason}");

    // `.get` with a default does not return None.
    let dir = workspace("c.py", "def name(d, key):\n    customer = d.get(key, {})\n    return customer[\"name\"]\n");
    let facts_default = facts(
        Language::Python,
        ("TypeError", "'NoneType' object is not subscriptable"),
        &dir,
        ("c.py", 3, "name"),
        FailingOperation::SubscriptOfMissing { expression: "customer".into() },
    );
    assert!(refused(propose(&dir, &facts_default)).contains("has a default"));
}

#[test]
fn python_fix_is_refused_when_the_file_changed_or_is_gone_or_the_snippet_is_not_unique() {
    let dir = workspace("shop/orders.py", ORDERS_PY);
    let mut changed = subscript_of_none(&dir);
    changed.crash_site.as_mut().unwrap().code = Some("return customer['name']".into());
    assert!(refused(propose(&dir, &changed)).contains("file changed since the crash"));

    let mut elsewhere = subscript_of_none(&dir);
    elsewhere.crash_site.as_mut().unwrap().path = "shop/missing.py".into();
    assert!(refused(propose(&dir, &elsewhere)).contains("not in the workspace"));

    let mut no_operation = subscript_of_none(&dir);
    no_operation.failing_operation = None;
    assert!(refused(propose(&dir, &no_operation)).contains("not known what failed"));

    // The same function twice (two classes): no snippet of it is unique.
    let twice = "class A:\n    def name(self, d, k):\n        c = d.get(k)\n        return c[\"name\"]\n\n\nclass B:\n    def name(self, d, k):\n        c = d.get(k)\n        return c[\"name\"]\n";
    let dir = workspace("twice.py", twice);
    let facts = facts(
        Language::Python,
        ("TypeError", "'NoneType' object is not subscriptable"),
        &dir,
        ("twice.py", 4, "name"),
        FailingOperation::SubscriptOfMissing { expression: "c".into() },
    );
    let reason = refused(propose(&dir, &facts));
    assert!(reason.contains("occurs more than once"), "{reason}");
}

const PAYLOAD_PY: &str = r#"import json
import sys


class PayloadError(ValueError):
    pass


def shipping_address(payload):
    order = json.loads(payload)
    return order["address"]["city"]


if __name__ == "__main__":
    print(shipping_address(sys.argv[1]))
"#;

#[test]
fn python_missing_key_in_input_raises_a_named_error_not_a_default() {
    let dir = workspace("api/payload.py", PAYLOAD_PY);
    assert_eq!(python_error(dir.path(), "api/payload.py", &["{}"]), "KeyError: 'address'");
    let facts = facts(
        Language::Python,
        ("KeyError", "'address'"),
        &dir,
        ("api/payload.py", 11, "shipping_address"),
        FailingOperation::MissingKey { container: "order".into(), key: "'address'".into() },
    );
    let fix = proposed(propose(&dir, &facts));
    let (old, new, edited) = apply(&dir, &fix);
    assert_eq!(old, "    return order[\"address\"][\"city\"]\n");
    assert_eq!(
        new,
        "    if \"address\" not in order:\n        raise PayloadError(\"order has no 'address'\")\n    return order[\"address\"][\"city\"]\n"
    );
    assert!(!fix.hides_symptom);
    assert_parses("api/payload.py", &edited);
    std::fs::write(dir.path().join("api/payload.py"), &edited).unwrap();
    assert_eq!(python_error(dir.path(), "api/payload.py", &["{}"]), "PayloadError: order has no 'address'");
    let (ok, _) = run(dir.path(), "python3", &["api/payload.py", r#"{"address": {"city": "Oslo"}}"#]);
    assert!(ok);
}

#[test]
fn python_missing_key_on_a_write_or_in_a_comprehension_gets_no_fix() {
    let dir = workspace("count.py", "def count(counts, word):\n    counts[word] += 1\n");
    let facts_write = facts(
        Language::Python,
        ("KeyError", "'the'"),
        &dir,
        ("count.py", 2, "count"),
        FailingOperation::MissingKey { container: "counts".into(), key: "word".into() },
    );
    assert!(refused(propose(&dir, &facts_write)).contains("decision for a person"));

    let dir = workspace("prices.py", "def prices(items):\n    return [item[\"price\"] for item in items]\n");
    let facts_comprehension = facts(
        Language::Python,
        ("KeyError", "'price'"),
        &dir,
        ("prices.py", 2, "prices"),
        FailingOperation::MissingKey { container: "item".into(), key: "'price'".into() },
    );
    assert!(refused(propose(&dir, &facts_comprehension)).contains("comprehension"));
}

const STATS_PY: &str = "import sys\n\n\ndef average(values):\n    total = sum(values)\n    return total / len(values)\n\n\nif __name__ == \"__main__\":\n    print(average([int(v) for v in sys.argv[1:]]))\n";

#[test]
fn python_zero_division_checks_the_divisor_first() {
    let dir = workspace("stats.py", STATS_PY);
    assert_eq!(python_error(dir.path(), "stats.py", &[]), "ZeroDivisionError: division by zero");
    let facts = facts(
        Language::Python,
        ("ZeroDivisionError", "division by zero"),
        &dir,
        ("stats.py", 6, "average"),
        FailingOperation::DivisionByZero { divisor: "len(values)".into() },
    );
    let fix = proposed(propose(&dir, &facts));
    let (_, new, edited) = apply(&dir, &fix);
    assert_eq!(
        new,
        "    if not values:\n        raise ValueError(\"values is empty\")\n    return total / len(values)\n"
    );
    assert!(!fix.hides_symptom);
    assert_parses("stats.py", &edited);
    std::fs::write(dir.path().join("stats.py"), &edited).unwrap();
    assert_eq!(python_error(dir.path(), "stats.py", &[]), "ValueError: values is empty");
    assert!(run(dir.path(), "python3", &["stats.py", "2", "4"]).0);
}

#[test]
fn python_zero_division_by_a_call_or_a_constant_gets_no_fix() {
    let dir = workspace("rate.py", "def rate(done, clock):\n    return done / clock.elapsed()\n");
    let facts_call = facts(
        Language::Python,
        ("ZeroDivisionError", "division by zero"),
        &dir,
        ("rate.py", 2, "rate"),
        FailingOperation::DivisionByZero { divisor: "clock.elapsed()".into() },
    );
    assert!(refused(propose(&dir, &facts_call)).contains("call it twice"));
    let dir = workspace("zero.py", "def boom(x):\n    return x / 0\n");
    let facts_constant = facts(
        Language::Python,
        ("ZeroDivisionError", "division by zero"),
        &dir,
        ("zero.py", 2, "boom"),
        FailingOperation::DivisionByZero { divisor: "0".into() },
    );
    assert!(refused(propose(&dir, &facts_constant)).contains("constant"));
}

const QUEUE_PY: &str = "import sys\n\n\ndef next_job(jobs, position):\n    job = jobs[position]\n    return job.upper()\n\n\nif __name__ == \"__main__\":\n    print(next_job([\"a\", \"b\"], int(sys.argv[1])))\n";

#[test]
fn python_index_error_checks_the_bounds_first() {
    let dir = workspace("queue.py", QUEUE_PY);
    assert_eq!(python_error(dir.path(), "queue.py", &["5"]), "IndexError: list index out of range");
    let facts = facts(
        Language::Python,
        ("IndexError", "list index out of range"),
        &dir,
        ("queue.py", 5, "next_job"),
        FailingOperation::IndexOutOfRange { container: "jobs".into(), index: Some("position".into()), length: None },
    );
    let fix = proposed(propose(&dir, &facts));
    let (_, new, edited) = apply(&dir, &fix);
    assert_eq!(
        new,
        "    if not -len(jobs) <= position < len(jobs):\n        raise ValueError(f\"index {position} is out of range for jobs of length {len(jobs)}\")\n    job = jobs[position]\n"
    );
    assert_parses("queue.py", &edited);
    std::fs::write(dir.path().join("queue.py"), &edited).unwrap();
    assert_eq!(
        python_error(dir.path(), "queue.py", &["5"]),
        "ValueError: index 5 is out of range for jobs of length 2"
    );
    assert!(run(dir.path(), "python3", &["queue.py", "1"]).0);
}

#[test]
fn python_index_error_with_two_reads_of_the_container_gets_no_fix() {
    let dir = workspace("pair.py", "def pair(xs, i, j):\n    return xs[i] + xs[j]\n");
    let facts = facts(
        Language::Python,
        ("IndexError", "list index out of range"),
        &dir,
        ("pair.py", 2, "pair"),
        FailingOperation::IndexOutOfRange { container: "xs".into(), index: None, length: None },
    );
    assert!(refused(propose(&dir, &facts)).contains("more than once"));
}

const QTY_PY: &str = "import sys\n\n\ndef quantity(form):\n    count = int(form[\"qty\"])\n    return count\n\n\nif __name__ == \"__main__\":\n    print(quantity({\"qty\": sys.argv[1]}))\n";

#[test]
fn python_int_parse_reraises_naming_the_bad_text() {
    let dir = workspace("form.py", QTY_PY);
    assert_eq!(
        python_error(dir.path(), "form.py", &["abc"]),
        "ValueError: invalid literal for int() with base 10: 'abc'"
    );
    let facts = facts(
        Language::Python,
        ("ValueError", "invalid literal for int() with base 10: 'abc'"),
        &dir,
        ("form.py", 5, "quantity"),
        FailingOperation::NumberParse { call: "int".into(), input: Some("'abc'".into()) },
    );
    let fix = proposed(propose(&dir, &facts));
    let (old, new, edited) = apply(&dir, &fix);
    assert_eq!(old, "    count = int(form[\"qty\"])\n");
    assert_eq!(
        new,
        "    try:\n        count = int(form[\"qty\"])\n    except ValueError as error:\n        raise ValueError(f\"form[\\\"qty\\\"] is not a whole number: {form['qty']!r}\") from error\n"
    );
    assert_parses("form.py", &edited);
    std::fs::write(dir.path().join("form.py"), &edited).unwrap();
    assert_eq!(python_error(dir.path(), "form.py", &["abc"]), "ValueError: form[\"qty\"] is not a whole number: 'abc'");
    assert!(run(dir.path(), "python3", &["form.py", "3"]).0);
}

#[test]
fn python_int_parse_already_inside_try_gets_no_fix() {
    let dir = workspace(
        "p.py",
        "def parse(text):\n    try:\n        return int(text)\n    finally:\n        print(\"parsed\")\n",
    );
    let facts = facts(
        Language::Python,
        ("ValueError", "invalid literal for int() with base 10: 'x'"),
        &dir,
        ("p.py", 3, "parse"),
        FailingOperation::NumberParse { call: "int".into(), input: Some("'x'".into()) },
    );
    assert!(refused(propose(&dir, &facts)).contains("already inside a `try`"));
}

// ---------------------------------------------------------------- JavaScript / TypeScript

/// tests/fixtures/traces/javascript/programs/type_error.js, as Node ran it.
const TYPE_ERROR_JS: &str = "// Reading a property of undefined: Node prints the source line and a caret before the error.\nfunction total(order) {\n  return order.items.length;\n}\n\nfunction checkout(cart) {\n  return total(cart.order);\n}\n\ncheckout({});\n";

#[test]
fn javascript_property_of_undefined_parameter_is_checked_at_the_top_of_the_function() {
    let dir = workspace("type_error.js", TYPE_ERROR_JS);
    let (ok, stderr) = run(dir.path(), "node", &["type_error.js"]);
    assert!(!ok && stderr.contains("TypeError: Cannot read properties of undefined (reading 'items')"), "{stderr}");
    let facts = facts(
        Language::JavaScript,
        ("TypeError", "Cannot read properties of undefined (reading 'items')"),
        &dir,
        ("type_error.js", 3, "total"),
        FailingOperation::AttributeOfMissing { expression: "order".into(), attribute: "items".into() },
    );
    let fix = proposed(propose(&dir, &facts));
    let (old, new, edited) = apply(&dir, &fix);
    assert_eq!(old, "  return order.items.length;\n");
    assert_eq!(
        new,
        "  if (order == null) {\n    throw new Error(\"total: order is missing\");\n  }\n  return order.items.length;\n"
    );
    assert!(!fix.hides_symptom);
    assert_parses("type_error.js", &edited);
    std::fs::write(dir.path().join("type_error.js"), &edited).unwrap();
    let (ok, stderr) = run(dir.path(), "node", &["type_error.js"]);
    assert!(!ok && stderr.contains("Error: total: order is missing"), "{stderr}");
}

const USERS_TS: &str = "class NotFoundError extends Error {}\n\ninterface User {\n  id: number;\n  name: string;\n}\n\nconst users: User[] = [{ id: 1, name: 'Ada' }];\n\nexport function requireUsers(): User[] {\n  if (users.length === 0) {\n    throw new NotFoundError('no users');\n  }\n  return users;\n}\n\nexport function userName(id: number): string {\n  const user = users.find((u) => u.id === id);\n  return user.name;\n}\n";

#[test]
fn typescript_property_of_a_find_result_is_checked_right_after_the_lookup_with_the_files_error() {
    let dir = workspace("src/users.ts", USERS_TS);
    let facts = facts(
        Language::JavaScript,
        ("TypeError", "Cannot read properties of undefined (reading 'name')"),
        &dir,
        ("src/users.ts", line_of(USERS_TS, "return user.name;"), "userName"),
        FailingOperation::AttributeOfMissing { expression: "user".into(), attribute: "name".into() },
    );
    let fix = proposed(propose(&dir, &facts));
    let (old, new, edited) = apply(&dir, &fix);
    assert_eq!(old, "  const user = users.find((u) => u.id === id);\n");
    assert_eq!(
        new,
        "  const user = users.find((u) => u.id === id);\n  if (user == null) {\n    throw new NotFoundError('userName: user is missing');\n  }\n"
    );
    assert_parses("src/users.ts", &edited);
}

#[test]
fn javascript_property_of_missing_in_an_expression_callback_or_a_call_gets_no_fix() {
    let source = "function counts(orders) {\n  return orders.map((o) => o.items.length);\n}\n";
    let dir = workspace("counts.js", source);
    let callback = facts(
        Language::JavaScript,
        ("TypeError", "Cannot read properties of undefined (reading 'items')"),
        &dir,
        ("counts.js", 2, "counts"),
        FailingOperation::AttributeOfMissing { expression: "o".into(), attribute: "items".into() },
    );
    assert!(refused(propose(&dir, &callback)).contains("callback written as one expression"));

    let dir = workspace("cart.js", "function size() {\n  return getCart().items.length;\n}\n");
    let call = facts(
        Language::JavaScript,
        ("TypeError", "Cannot read properties of undefined (reading 'items')"),
        &dir,
        ("cart.js", 2, "size"),
        FailingOperation::AttributeOfMissing { expression: "getCart()".into(), attribute: "items".into() },
    );
    assert!(refused(propose(&dir, &call)).contains("not a plain variable"));
}

// ---------------------------------------------------------------- Rust

const PRICES_RS: &str = r#"use std::collections::HashMap;
use std::error::Error;

fn price_of(prices: &HashMap<String, u32>, sku: &str) -> Option<u32> {
    let price = prices.get(sku).unwrap();
    Some(*price * 2)
}

fn port(text: &str) -> Result<u16, String> {
    let port: u16 = text.trim().parse().unwrap();
    Ok(port)
}

fn third(items: &[u32]) -> Result<u32, Box<dyn Error>> {
    let item = items[2];
    Ok(item)
}

fn per_item(total: u32, count: u32) -> Option<u32> {
    Some(total / count)
}

fn main() {
    match std::env::args().nth(1).unwrap_or_default().as_str() {
        "price" => println!("{:?}", price_of(&HashMap::new(), "x")),
        "port" => println!("{:?}", port("80a")),
        "third" => println!("{:?}", third(&[1]).map_err(|e| e.to_string())),
        _ => println!("{:?}", per_item(10, 0)),
    }
}
"#;

fn rust_crash(dir: &TempDir, needle: &str, function: &str, message: &str, operation: FailingOperation) -> CrashFacts {
    facts(Language::Rust, ("panic", message), dir, ("src/main.rs", line_of(PRICES_RS, needle), function), operation)
}

#[test]
fn rust_panics_propagate_through_the_functions_return_type_and_the_result_compiles() {
    let dir = workspace("src/main.rs", PRICES_RS);
    let binary = dir.path().join("prices");
    let compile = |dir: &TempDir| {
        let (ok, stderr) =
            run(dir.path(), "rustc", &["--edition", "2021", "-o", binary.to_str().unwrap(), "src/main.rs"]);
        assert!(ok, "{stderr}");
    };
    compile(&dir);
    for (arg, panic) in [
        ("price", "called `Option::unwrap()` on a `None` value"),
        ("port", "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }"),
        ("third", "index out of bounds: the len is 1 but the index is 2"),
        ("div", "attempt to divide by zero"),
    ] {
        let (ok, stderr) = run(dir.path(), binary.to_str().unwrap(), &[arg]);
        assert!(!ok && stderr.contains(panic), "{arg}: {stderr}");
    }

    let cases = [
        (
            rust_crash(
                &dir,
                "prices.get(sku).unwrap()",
                "price_of",
                "called `Option::unwrap()` on a `None` value",
                FailingOperation::UnwrapNone { expression: "prices.get(sku)".into() },
            ),
            "    let price = prices.get(sku)?;\n",
            false,
        ),
        (
            rust_crash(
                &dir,
                "parse().unwrap()",
                "port",
                "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }",
                FailingOperation::UnwrapErr {
                    expression: "text.trim().parse()".into(),
                    error: "ParseIntError { kind: InvalidDigit }".into(),
                },
            ),
            "    let port: u16 = text.trim().parse().map_err(|error| format!(\"text.trim().parse() failed: {error}\"))?;\n",
            false,
        ),
        (
            rust_crash(
                &dir,
                "items[2]",
                "third",
                "index out of bounds: the len is 1 but the index is 2",
                FailingOperation::IndexOutOfRange {
                    container: "items".into(),
                    index: Some("2".into()),
                    length: Some("1".into()),
                },
            ),
            "    let item = *items.get(2).ok_or(\"index 2 is out of range for items\")?;\n",
            false,
        ),
        (
            rust_crash(
                &dir,
                "total / count",
                "per_item",
                "attempt to divide by zero",
                FailingOperation::DivisionByZero { divisor: "count".into() },
            ),
            "    Some(total.checked_div(count)?)\n",
            false,
        ),
    ];
    for (facts, expected, hides_symptom) in cases {
        let fix = proposed(propose(&dir, &facts));
        let (_, new, edited) = apply(&dir, &fix);
        assert_eq!(new, expected);
        assert_eq!(fix.hides_symptom, hides_symptom);
        assert_parses("src/main.rs", &edited);
        std::fs::write(dir.path().join("src/main.rs"), &edited).unwrap();
    }
    compile(&dir);
    for (arg, printed) in [
        ("price", "None"),
        ("port", "Err(\"text.trim().parse() failed: invalid digit found in string\")"),
        ("third", "Err(\"index 2 is out of range for items\")"),
        ("div", "None"),
    ] {
        let output = Command::new(&binary).arg(arg).output().unwrap();
        assert!(output.status.success(), "{arg}");
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), printed);
    }
}

#[test]
fn rust_unwrap_without_an_error_path_or_with_a_custom_error_gets_no_fix() {
    let source = "fn count(text: &str) -> u32 {\n    text.parse().unwrap()\n}\n\nenum AppError {\n    Config,\n}\n\nfn load(text: &str) -> Result<u32, AppError> {\n    Ok(text.parse().unwrap())\n}\n";
    let dir = workspace("src/lib.rs", source);
    let plain = facts(
        Language::Rust,
        ("panic", "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }"),
        &dir,
        ("src/lib.rs", 2, "count"),
        FailingOperation::UnwrapErr { expression: "text.parse()".into(), error: "ParseIntError".into() },
    );
    let reason = refused(propose(&dir, &plain));
    assert!(reason.contains("returns `u32`, so the failure has no error path"), "{reason}");
    let custom = facts(
        Language::Rust,
        ("panic", "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }"),
        &dir,
        ("src/lib.rs", 10, "load"),
        FailingOperation::UnwrapErr { expression: "text.parse()".into(), error: "ParseIntError".into() },
    );
    assert!(refused(propose(&dir, &custom)).contains("`AppError`"));
}

// ---------------------------------------------------------------- Go

const MAIN_GO: &str = r#"package main

import (
	"fmt"
	"os"
	"strconv"
)

type Cache struct {
	name   string
	counts map[string]int
}

func NewCache(name string) *Cache {
	return &Cache{name: name}
}

func (c *Cache) Add(key string) {
	c.counts[key]++
}

type User struct {
	Name string
}

func greeting(u *User) (string, error) {
	return "hello " + u.Name, nil
}

func pick(items []string, position int) (string, error) {
	return items[position], nil
}

func slot(items []string, text string) (string, error) {
	n, _ := strconv.Atoi(text)
	return items[n-1], nil
}

func main() {
	switch os.Args[1] {
	case "map":
		NewCache("a").Add("k")
	case "nil":
		fmt.Println(greeting(nil))
	case "index":
		fmt.Println(pick([]string{"a"}, 3))
	case "atoi":
		fmt.Println(slot([]string{"a", "b"}, "x1"))
	}
}
"#;

/// The facts of a Go panic at the line holding `needle` in today's main.go.
fn go_crash(dir: &TempDir, needle: &str, function: &str, message: &str, operation: FailingOperation) -> CrashFacts {
    let today = std::fs::read_to_string(dir.path().join("main.go")).unwrap();
    facts(Language::Go, ("panic", message), dir, ("main.go", line_of(&today, needle), function), operation)
}

fn go_run(dir: &Path, arg: &str) -> (bool, String) {
    let output = Command::new("go")
        .args(["run", "main.go", arg])
        .current_dir(dir)
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn go_panics_become_initialised_maps_and_returned_errors_and_the_program_runs() {
    let dir = workspace("main.go", MAIN_GO);
    for (arg, panic) in [
        ("map", "panic: assignment to entry in nil map"),
        ("nil", "panic: runtime error: invalid memory address or nil pointer dereference"),
        ("index", "panic: runtime error: index out of range [3] with length 1"),
        ("atoi", "panic: runtime error: index out of range [-1]"),
    ] {
        let (ok, output) = go_run(dir.path(), arg);
        assert!(!ok && output.contains(panic), "{arg}: {output}");
    }
    let cases = [
        (
            (
                "c.counts[key]++",
                "main.(*Cache).Add",
                "assignment to entry in nil map",
                FailingOperation::NilMapWrite { map: "c.counts".into() },
            ),
            "\treturn &Cache{name: name}\n",
            "\treturn &Cache{name: name, counts: make(map[string]int)}\n",
        ),
        (
            (
                "u.Name",
                "main.greeting",
                "runtime error: invalid memory address or nil pointer dereference",
                FailingOperation::NilDereference { expression: "u".into() },
            ),
            "\treturn \"hello \" + u.Name, nil\n",
            "\tif u == nil {\n\t\treturn \"\", fmt.Errorf(\"greeting: u is nil\")\n\t}\n\treturn \"hello \" + u.Name, nil\n",
        ),
        (
            (
                "items[position]",
                "main.pick",
                "runtime error: index out of range [3] with length 1",
                FailingOperation::IndexOutOfRange {
                    container: "items".into(),
                    index: Some("3".into()),
                    length: Some("1".into()),
                },
            ),
            "\treturn items[position], nil\n",
            "\tif position < 0 || position >= len(items) {\n\t\treturn \"\", fmt.Errorf(\"pick: index %d out of range for items of length %d\", position, len(items))\n\t}\n\treturn items[position], nil\n",
        ),
        (
            (
                "items[n-1]",
                "main.slot",
                "runtime error: index out of range [-1]",
                FailingOperation::IndexOutOfRange { container: "items".into(), index: Some("-1".into()), length: None },
            ),
            "\tn, _ := strconv.Atoi(text)\n",
            "\tn, err := strconv.Atoi(text)\n\tif err != nil {\n\t\treturn \"\", fmt.Errorf(\"slot: parsing n: %w\", err)\n\t}\n",
        ),
    ];
    for ((needle, function, message, operation), expected_old, expected_new) in cases {
        let facts = go_crash(&dir, needle, function, message, operation);
        let fix = proposed(propose(&dir, &facts));
        let (old, new, edited) = apply(&dir, &fix);
        assert_eq!((old.as_str(), new.as_str()), (expected_old, expected_new));
        assert!(!fix.hides_symptom);
        assert_parses("main.go", &edited);
        std::fs::write(dir.path().join("main.go"), &edited).unwrap();
    }
    for (arg, printed) in [
        ("map", ""),
        ("nil", " greeting: u is nil"),
        ("index", " pick: index 3 out of range for items of length 1"),
        ("atoi", " slot: parsing n: strconv.Atoi: parsing \"x1\": invalid syntax"),
    ] {
        let (ok, output) = go_run(dir.path(), arg);
        assert!(ok, "{arg}: {output}");
        assert_eq!(output.trim_end_matches('\n'), printed, "{arg}");
    }
}

#[test]
fn go_checks_without_an_error_result_or_with_several_constructors_get_no_fix() {
    let source = "package main\n\nimport \"fmt\"\n\ntype User struct {\n\tName string\n}\n\nfunc show(u *User) string {\n\treturn u.Name\n}\n\ntype Cache struct {\n\tcounts map[string]int\n}\n\nfunc A() *Cache {\n\treturn &Cache{}\n}\n\nfunc B() *Cache {\n\treturn &Cache{}\n}\n\nfunc (c *Cache) Add(k string) {\n\tc.counts[k] = 1\n\tfmt.Println(k)\n}\n";
    let dir = workspace("main.go", source);
    let no_error = facts(
        Language::Go,
        ("panic", "runtime error: invalid memory address or nil pointer dereference"),
        &dir,
        ("main.go", line_of(source, "return u.Name"), "main.show"),
        FailingOperation::NilDereference { expression: "u".into() },
    );
    assert!(refused(propose(&dir, &no_error)).contains("`show` returns no error"));
    let two_constructors = facts(
        Language::Go,
        ("panic", "assignment to entry in nil map"),
        &dir,
        ("main.go", line_of(source, "c.counts[k] = 1"), "main.(*Cache).Add"),
        FailingOperation::NilMapWrite { map: "c.counts".into() },
    );
    assert!(refused(propose(&dir, &two_constructors)).contains("built in 2 places"));
}

// ---------------------------------------------------------------- Java

/// tests/fixtures/traces/jvm/programs/HelpfulNpe.java, as the JVM ran it.
const HELPFUL_NPE_JAVA: &str = "// An uncaught NullPointerException with JDK 14+ \"helpful\" message (compiled with -g so local names show).\npublic class HelpfulNpe {\n    static class Customer {\n        String email;\n    }\n\n    static int emailLength(Customer customer) {\n        return customer.email.length();\n    }\n\n    public static void main(String[] args) {\n        Customer customer = new Customer();\n        System.out.println(emailLength(customer));\n    }\n}\n";

fn java_error(dir: &Path, file: &str, args: &[&str]) -> String {
    let mut all = vec![file];
    all.extend_from_slice(args);
    let (ok, stderr) = run(dir, "java", &all);
    assert!(!ok, "expected {file} to fail");
    stderr.lines().find(|l| l.starts_with("Exception in thread")).unwrap_or_default().to_owned()
}

#[test]
fn java_null_field_is_checked_with_an_explicit_exception() {
    let dir = workspace("HelpfulNpe.java", HELPFUL_NPE_JAVA);
    // The source launcher compiles without -g, so the JVM names the parameter by position; the fixture
    // trace (compiled with -g) names it, and that is what the facts carry.
    assert_eq!(
        java_error(dir.path(), "HelpfulNpe.java", &[]),
        "Exception in thread \"main\" java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"<parameter1>.email\" is null"
    );
    let facts = facts(
        Language::Java,
        ("java.lang.NullPointerException", "Cannot invoke \"String.length()\" because \"customer.email\" is null"),
        &dir,
        ("HelpfulNpe.java", 8, "HelpfulNpe.emailLength"),
        FailingOperation::AttributeOfMissing { expression: "customer.email".into(), attribute: "length".into() },
    );
    let fix = proposed(propose(&dir, &facts));
    let (_, new, edited) = apply(&dir, &fix);
    assert_eq!(
        new,
        "        if (customer.email == null) {\n            throw new IllegalArgumentException(\"emailLength: customer has no email\");\n        }\n        return customer.email.length();\n"
    );
    assert_parses("HelpfulNpe.java", &edited);
    std::fs::write(dir.path().join("HelpfulNpe.java"), &edited).unwrap();
    assert_eq!(
        java_error(dir.path(), "HelpfulNpe.java", &[]),
        "Exception in thread \"main\" java.lang.IllegalArgumentException: emailLength: customer has no email"
    );
}

const PORT_JAVA: &str = "public class Port {\n    static int port(String text) {\n        int port = Integer.parseInt(text);\n        return port;\n    }\n\n    public static void main(String[] args) {\n        System.out.println(port(args[0]));\n    }\n}\n";

#[test]
fn java_number_format_is_rethrown_naming_the_bad_text() {
    let dir = workspace("Port.java", PORT_JAVA);
    assert_eq!(
        java_error(dir.path(), "Port.java", &["80a"]),
        "Exception in thread \"main\" java.lang.NumberFormatException: For input string: \"80a\""
    );
    let facts = facts(
        Language::Java,
        ("java.lang.NumberFormatException", "For input string: \"80a\""),
        &dir,
        ("Port.java", 3, "Port.port"),
        FailingOperation::NumberParse { call: "Integer.parseInt".into(), input: Some("80a".into()) },
    );
    let fix = proposed(propose(&dir, &facts));
    let (old, new, edited) = apply(&dir, &fix);
    assert_eq!(old, "        int port = Integer.parseInt(text);\n");
    assert_eq!(
        new,
        "        int port;\n        try {\n            port = Integer.parseInt(text);\n        } catch (NumberFormatException e) {\n            throw new IllegalArgumentException(\"text is not a number: \\\"\" + text + \"\\\"\", e);\n        }\n"
    );
    assert_parses("Port.java", &edited);
    std::fs::write(dir.path().join("Port.java"), &edited).unwrap();
    assert_eq!(
        java_error(dir.path(), "Port.java", &["80a"]),
        "Exception in thread \"main\" java.lang.IllegalArgumentException: text is not a number: \"80a\""
    );
    let (ok, _) = run(dir.path(), "java", &["Port.java", "8080"]);
    assert!(ok);
}

/// tests/fixtures/traces/jvm/programs/LoggedFailure.java: its caller catches NumberFormatException.
const LOGGED_FAILURE_JAVA: &str = "// An exception logged with java.util.logging (the trace starts with a bare \"java.lang.X: msg\" line).\nimport java.util.logging.Level;\nimport java.util.logging.Logger;\n\npublic class LoggedFailure {\n    private static final Logger LOG = Logger.getLogger(\"billing\");\n\n    static long parseAmount(String cents) {\n        return Long.parseLong(cents);\n    }\n\n    public static void main(String[] args) {\n        try {\n            parseAmount(\"12.50\");\n        } catch (NumberFormatException e) {\n            LOG.log(Level.SEVERE, \"could not charge invoice 42\", e);\n        }\n    }\n}\n";

#[test]
fn java_number_format_that_a_caller_already_catches_gets_no_fix() {
    let dir = workspace("LoggedFailure.java", LOGGED_FAILURE_JAVA);
    let facts = facts(
        Language::Java,
        ("java.lang.NumberFormatException", "For input string: \"12.50\""),
        &dir,
        ("LoggedFailure.java", 9, "LoggedFailure.parseAmount"),
        FailingOperation::NumberParse { call: "Long.parseLong".into(), input: Some("12.50".into()) },
    );
    assert!(refused(propose(&dir, &facts)).contains("already catches NumberFormatException"));
}

const SLOTS_JAVA: &str = "public class Slots {\n    static String slot(String[] slots, int position) {\n        return slots[position];\n    }\n\n    public static void main(String[] args) {\n        System.out.println(slot(new String[] {\"a\", \"b\", \"c\"}, Integer.parseInt(args[0])));\n    }\n}\n";

#[test]
fn java_array_index_is_checked_against_the_length() {
    let dir = workspace("Slots.java", SLOTS_JAVA);
    assert_eq!(
        java_error(dir.path(), "Slots.java", &["5"]),
        "Exception in thread \"main\" java.lang.ArrayIndexOutOfBoundsException: Index 5 out of bounds for length 3"
    );
    let facts = facts(
        Language::Java,
        ("java.lang.ArrayIndexOutOfBoundsException", "Index 5 out of bounds for length 3"),
        &dir,
        ("Slots.java", 3, "Slots.slot"),
        FailingOperation::IndexOutOfRange {
            container: "slots".into(),
            index: Some("position".into()),
            length: Some("3".into()),
        },
    );
    let fix = proposed(propose(&dir, &facts));
    let (_, new, edited) = apply(&dir, &fix);
    assert_eq!(
        new,
        "        if (position < 0 || position >= slots.length) {\n            throw new IllegalArgumentException(\"index \" + position + \" is out of range for slots of length \" + slots.length);\n        }\n        return slots[position];\n"
    );
    assert_parses("Slots.java", &edited);
    std::fs::write(dir.path().join("Slots.java"), &edited).unwrap();
    assert_eq!(
        java_error(dir.path(), "Slots.java", &["5"]),
        "Exception in thread \"main\" java.lang.IllegalArgumentException: index 5 is out of range for slots of length 3"
    );
}

#[test]
fn java_null_from_a_method_call_gets_no_fix() {
    let source =
        "class Names {\n    String name(Repo repo, long id) {\n        return repo.find(id).getName();\n    }\n}\n";
    let dir = workspace("Names.java", source);
    let facts = facts(
        Language::Java,
        (
            "java.lang.NullPointerException",
            "Cannot invoke \"Customer.getName()\" because the return value of \"Repo.find(long)\" is null",
        ),
        &dir,
        ("Names.java", 3, "Names.name"),
        FailingOperation::AttributeOfMissing { expression: "repo.find(id)".into(), attribute: "getName".into() },
    );
    assert!(refused(propose(&dir, &facts)).contains("evaluate it twice"));
}

// ---------------------------------------------------------------- Root cause

fn root_cause(facts: &CrashFacts, code: &CodeContext) -> Vec<crashloom::investigate::Hypothesis> {
    let group = group();
    let input = CrashInput { root: std::env::temp_dir(), group: &group };
    OfflineRootCause.hypotheses(&input, facts, code)
}

fn orders_code() -> CodeContext {
    CodeContext {
        definitions: vec![CodeRef {
            path: "shop/orders.py".into(),
            line: 11,
            code: "customer = customers.get(order[\"customer\"])".into(),
            note: "definition of customer".into(),
        }],
        history: vec![CommitInfo {
            commit: "3f9c2a1d8e7b6a5c4d3e2f1a0b9c8d7e6f5a4b3c".into(),
            author: "Ada Lovelace".into(),
            date: "2026-11-20T14:03:00Z".into(),
            summary: "Look customers up by id".into(),
            lines: vec!["shop/orders.py:13".into()],
        }],
        ..CodeContext::default()
    }
}

#[test]
fn root_cause_of_none_from_a_lookup_names_the_lookup_with_checkable_evidence() {
    let dir = workspace("shop/orders.py", ORDERS_PY);
    let mut facts = subscript_of_none(&dir);
    facts.variables = vec![("customer".into(), "None".into()), ("order".into(), "{'customer': 'c9'}".into())];
    let hypotheses = root_cause(&facts, &orders_code());
    let first = &hypotheses[0];
    assert_eq!(
        first.summary,
        "`customer` is None when `order[\"customer\"]` is not a known customer: `customers.get(...)` returns None \
         for unknown keys (shop/orders.py:11)"
    );
    assert!(first.confidence >= 0.8, "{first:?}");
    assert_eq!(
        first.evidence,
        vec![
            "shop/orders.py:13: return f\"{customer['name']}: {total}\"".to_owned(),
            "shop/orders.py:11: customer = customers.get(order[\"customer\"])".to_owned(),
            "`customer = None` at the crash".to_owned(),
            "the crash: TypeError: 'NoneType' object is not subscriptable".to_owned(),
            "line last changed in 3f9c2a1d8e7b by Ada Lovelace 2026-11-20T14:03:00Z: Look customers up by id"
                .to_owned(),
        ]
    );

    // The same crash where the value comes from an ordinary call: lower confidence, still the definition.
    let mut code = orders_code();
    code.definitions[0].code = "customer = load_customer(order)".into();
    let plain = &root_cause(&facts, &code)[0];
    assert!(plain.confidence < first.confidence);
    assert!(plain.summary.contains("assigned from `load_customer(order)`"), "{}", plain.summary);
}

#[test]
fn root_cause_of_a_chained_crash_starts_with_the_root_exception() {
    let dir = workspace("shop/orders.py", ORDERS_PY);
    let mut facts = subscript_of_none(&dir);
    facts.root_cause = Some((
        "java.lang.NumberFormatException".into(),
        "For input string: \"80a\"".into(),
        Some(SiteFacts {
            path: "CausedByChain.java".into(),
            line: 14,
            function: Some("readPort".into()),
            code: Some("return Integer.parseInt(text);".into()),
        }),
    ));
    let hypotheses = root_cause(&facts, &orders_code());
    assert!(
        hypotheses[0]
            .summary
            .contains("`java.lang.NumberFormatException: For input string: \"80a\"` at CausedByChain.java:14"),
        "{:?}",
        hypotheses[0]
    );
    assert_eq!(hypotheses[0].evidence[0], "CausedByChain.java:14: return Integer.parseInt(text);");
    assert!(hypotheses.len() >= 2);
}

#[test]
fn root_cause_without_a_matching_rule_restates_the_crash_at_low_confidence() {
    let dir = workspace("shop/orders.py", ORDERS_PY);
    let mut facts = subscript_of_none(&dir);
    facts.exception = "RuntimeError".into();
    facts.message = "worker pool exhausted".into();
    facts.failing_operation = Some(FailingOperation::Other { summary: "raised explicitly".into() });
    let hypotheses = root_cause(&facts, &CodeContext::default());
    assert_eq!(hypotheses.len(), 1);
    assert_eq!(
        hypotheses[0].summary,
        "Restatement, no rule matched: RuntimeError: worker pool exhausted at shop/orders.py:13"
    );
    assert!(hypotheses[0].confidence <= 0.2);
    assert_eq!(hypotheses[0].by, "offline restatement");
}
