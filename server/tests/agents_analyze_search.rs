//! The first two investigation agents on real crashes: a small shop written in Python and a cart in
//! JavaScript, kept in a real git repository with two authors, crashed by actually running them.
//! What is asserted is what a user reads in the investigation: the failing operation, the captured
//! variables, the crash line, the function around it, where the missing value came from, who calls
//! the function, which test exercises it and who last changed the line.
//!
//! Below them, the failing-operation detection for every language, on messages exactly as the
//! runtimes print them (captured traces from tests/fixtures/traces where they exist).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crashloom::config::Config;
use crashloom::crash;
use crashloom::crash::file::parse_crash_file;
use crashloom::crash::{CrashEvent, Exception, Frame, Language, SourceContext};
use crashloom::engine::{load_workspace, text_from_disk};
use crashloom::investigate::analyzer::{CrashLine, OfflineErrorAnalyzer, failing_operation};
use crashloom::investigate::code_search::OfflineCodeSearch;
use crashloom::investigate::{CodeContext, CodeSearch, CrashFacts, CrashInput, ErrorAnalyzer, FailingOperation};
use crashloom::workspace::index::WorkspaceIndex;
use crashloom::workspace::mapping::MappingConfig;
use crashloom::workspace::sites::{CrashGroup, PictureInputs, build_picture};
use crashloom::workspace::syntax::SourceLanguage;

// ---------------------------------------------------------------- the workspace

const ORDERS_BEFORE: &str = r#"CUSTOMERS = {"c1": {"name": "Ada"}}


def receipt(order, customers):
    customer = customers.get(order["customer"])
    return "Receipt for order " + order["id"]


def checkout(order):
    return receipt(order, CUSTOMERS)
"#;

const ORDERS: &str = r#"CUSTOMERS = {"c1": {"name": "Ada"}}


def receipt(order, customers):
    customer = customers.get(order["customer"])
    return "Receipt for " + customer["name"]


def checkout(order):
    return receipt(order, CUSTOMERS)


if __name__ == "__main__":
    import sys
    import traceback

    def print_with_locals(kind, error, trace):
        report = traceback.TracebackException(kind, error, trace, capture_locals=True)
        sys.stderr.write("".join(report.format()))

    sys.excepthook = print_with_locals
    checkout({"customer": "c2"})
"#;

const API: &str = r#"from shop import orders


def handle(request):
    return {"body": orders.receipt(request["order"], orders.CUSTOMERS)}
"#;

const ORDERS_TEST: &str = r#"from shop.orders import receipt


def test_receipt_names_the_customer():
    assert receipt({"customer": "c1"}, {"c1": {"name": "Ada"}}) == "Receipt for Ada"


def test_unrelated():
    assert 1 + 1 == 2
"#;

const CART: &str = r#"function total(order) {
  return order.items.length;
}

function checkout(order) {
  return total(order);
}

module.exports = { total, checkout };

if (require.main === module) {
  checkout(undefined);
}
"#;

const CART_TEST: &str = r#"const test = require("node:test");
const assert = require("node:assert");
const { total } = require("./cart");

test("total counts the items", () => {
  assert.strictEqual(total({ items: [1, 2] }), 2);
});
"#;

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn git(root: &Path, args: &[&str], author: (&str, &str, &str)) {
    let (name, email, date) = author;
    let status = Command::new("git")
        .current_dir(root)
        .args(args)
        .env("GIT_AUTHOR_NAME", name)
        .env("GIT_AUTHOR_EMAIL", email)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_NAME", name)
        .env("GIT_COMMITTER_EMAIL", email)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

const ADA: (&str, &str, &str) = ("Ada Lovelace", "ada@example.com", "2024-03-01T10:00:00+01:00");
const GRACE: (&str, &str, &str) = ("Grace Hopper", "grace@example.com", "2024-05-02T15:30:00-04:00");

/// The shop and the cart, committed by Ada, then the receipt line changed by Grace.
fn shop() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    write(&root, ".gitignore", ".crashloom/\n");
    write(&root, "shop/__init__.py", "");
    write(&root, "shop/orders.py", ORDERS_BEFORE);
    write(&root, "shop/api.py", API);
    write(&root, "tests/test_orders.py", ORDERS_TEST);
    write(&root, "web/cart.js", CART);
    write(&root, "web/cart.test.js", CART_TEST);
    git(&root, &["init", "-q", "-b", "main"], ADA);
    git(&root, &["add", "-A"], ADA);
    git(&root, &["commit", "-q", "-m", "Orders, receipts and the cart"], ADA);
    write(&root, "shop/orders.py", ORDERS);
    git(&root, &["commit", "-q", "-a", "-m", "Show the customer's name on receipts"], GRACE);
    (dir, root)
}

/// Runs a program of the workspace and returns what it printed on stderr; it must crash.
fn crash(root: &Path, program: &str, script: &str) -> String {
    let output = Command::new(program).current_dir(root).arg(script).output().unwrap();
    assert!(!output.status.success(), "{script} should crash");
    String::from_utf8(output.stderr).unwrap()
}

/// The crash group of a captured trace, built the way the product builds it: the trace dropped into
/// `.crashloom/crashes/` and the workspace loaded.
fn crash_group(root: &Path, captured: &str, file_name: &str) -> CrashGroup {
    write(root, &format!(".crashloom/crashes/{file_name}"), captured);
    let loaded = load_workspace(root, &Config::default()).unwrap();
    if let Some(group) =
        loaded.picture.groups.into_iter().find(|g| g.crash_site().is_some()).map(std::sync::Arc::unwrap_or_clone)
    {
        return group;
    }
    // Until the Python text parser, the workspace index and the frame mapper land, the loaded
    // picture has no sites. The same picture is then built from the same captured output: the
    // JavaScript parser reads it, the Python frames are taken from it line by line (mirroring the
    // real output above), paths are made workspace-relative and the shared picture builder places
    // them.
    let mut events = parse_trace(captured, file_name);
    if events.is_empty() {
        events = vec![python_event_from_trace(captured)];
    }
    for frame in events.iter_mut().flat_map(|e| e.exceptions.iter_mut()).flat_map(|e| e.frames.iter_mut()) {
        let relative = frame.paths().next().and_then(|p| relative_to(root, p));
        if let Some(relative) = relative {
            frame.abs_path = None;
            frame.filename = Some(relative);
            frame.in_app = Some(true);
        }
    }
    let files = ["shop/orders.py", "shop/api.py", "tests/test_orders.py", "web/cart.js", "web/cart.test.js"];
    let index = WorkspaceIndex::from_paths(root, files.iter().copied());
    let text_of = text_from_disk(root);
    let inputs =
        PictureInputs { index: &index, mapping: &MappingConfig::default(), include_frames: true, text_of: &text_of };
    std::sync::Arc::unwrap_or_clone(
        build_picture(events, &inputs).groups.into_iter().find(|g| g.crash_site().is_some()).unwrap(),
    )
}

/// The events of a captured trace: read as a crash file, or (while the log scanner that finds traces
/// in text is still a placeholder in this tree) by trying each language's parser at each line.
fn parse_trace(text: &str, file_name: &str) -> Vec<CrashEvent> {
    let events = parse_crash_file(text.as_bytes(), file_name).events;
    if !events.is_empty() {
        return events;
    }
    let lines: Vec<&str> = text.lines().collect();
    let parsers = [crash::python::parse, crash::javascript::parse, crash::jvm::parse];
    (0..lines.len())
        .find_map(|start| parsers.iter().find_map(|parse| parse(&lines[start..])))
        .map(|(event, _)| event)
        .into_iter()
        .collect()
}

fn relative_to(root: &Path, path: &str) -> Option<String> {
    let path = path.strip_prefix("file://").unwrap_or(path);
    Some(Path::new(path).strip_prefix(root).ok()?.to_str()?.to_owned())
}

/// A Python traceback with captured locals as `traceback.TracebackException(capture_locals=True)`
/// prints it: frames, their source line, their locals, then `Type: message`.
fn python_event_from_trace(trace: &str) -> CrashEvent {
    let frame_line = regex::Regex::new(r#"^  File "(.+)", line (\d+), in (.+)$"#).unwrap();
    let local = regex::Regex::new(r"^    (\w+) = (.*)$").unwrap();
    let mut frames: Vec<Frame> = Vec::new();
    let mut last = "";
    for line in trace.lines() {
        if let Some(found) = frame_line.captures(line) {
            frames.push(Frame {
                function: Some(found[3].to_owned()),
                abs_path: Some(found[1].to_owned()),
                line: found[2].parse().ok(),
                ..Frame::default()
            });
        } else if let Some(frame) = frames.last_mut() {
            if frame.context.is_none() && line.starts_with("    ") {
                frame.context = Some(SourceContext { line: line.trim().to_owned(), ..SourceContext::default() });
            } else if let Some(found) = local.captures(line) {
                frame.vars.push((found[1].to_owned(), found[2].to_owned()));
            }
        }
        if !line.trim().is_empty() {
            last = line;
        }
    }
    let (ty, value) = last.split_once(": ").unwrap_or((last, ""));
    let exception = Exception { ty: ty.to_owned(), value: value.to_owned(), frames, ..Exception::default() };
    CrashEvent { language: Some(Language::Python), exceptions: vec![exception], ..CrashEvent::default() }
}

fn investigate(root: &Path, group: &CrashGroup) -> (CrashFacts, CodeContext) {
    let input = CrashInput { root: root.to_path_buf(), group };
    let facts = OfflineErrorAnalyzer.analyze(&input);
    let code = OfflineCodeSearch.search(&input, &facts);
    (facts, code)
}

// ---------------------------------------------------------------- the stories

#[test]
fn a_receipt_for_an_unknown_customer_is_explained_with_its_code_and_history() {
    let (_dir, root) = shop();
    let captured = crash(&root, "python3", "shop/orders.py");
    assert!(captured.ends_with("TypeError: 'NoneType' object is not subscriptable\n"), "{captured}");
    let group = crash_group(&root, &captured, "orders.log");
    let (facts, code) = investigate(&root, &group);

    assert_eq!(facts.language, Some(Language::Python));
    assert_eq!(facts.exception, "TypeError");
    assert_eq!(facts.failing_operation, Some(FailingOperation::SubscriptOfMissing { expression: "customer".into() }));
    let crash_site = facts.crash_site.as_ref().unwrap();
    assert_eq!((crash_site.path.as_str(), crash_site.line), ("shop/orders.py", 6));
    assert_eq!(crash_site.code.as_deref(), Some("    return \"Receipt for \" + customer[\"name\"]"));
    assert!(facts.variables.contains(&("customer".into(), "None".into())), "{:?}", facts.variables);
    assert!(facts.variables.contains(&("order".into(), "{'customer': 'c2'}".into())), "{:?}", facts.variables);
    let path: Vec<(&str, u32)> = facts.in_app_path.iter().map(|s| (s.path.as_str(), s.line)).collect();
    assert_eq!(path[..2], [("shop/orders.py", 6), ("shop/orders.py", 10)]);

    let receipt = &code.functions[0];
    assert_eq!((receipt.name.as_str(), receipt.start_line, receipt.end_line), ("receipt", 4, 6));
    assert_eq!(
        receipt.text,
        "def receipt(order, customers):\n    customer = customers.get(order[\"customer\"])\n    return \"Receipt for \" + customer[\"name\"]"
    );
    assert_eq!(code.functions[1].name, "checkout");

    let definition = code.definitions.iter().find(|d| d.note == "definition of customer").unwrap();
    assert_eq!((definition.path.as_str(), definition.line), ("shop/orders.py", 5));
    assert_eq!(definition.code, "customer = customers.get(order[\"customer\"])");

    let callers: Vec<(&str, u32, &str)> =
        code.callers.iter().map(|c| (c.path.as_str(), c.line, c.note.as_str())).collect();
    assert!(callers.contains(&("shop/orders.py", 10, "checkout calls receipt")), "{callers:?}");
    assert!(callers.contains(&("shop/api.py", 5, "handle calls receipt")), "{callers:?}");
    assert!(!callers.iter().any(|(path, _, _)| path.starts_with("tests/")), "tests are not callers: {callers:?}");

    let tests: Vec<(&str, u32, &str)> = code.tests.iter().map(|t| (t.path.as_str(), t.line, t.note.as_str())).collect();
    assert_eq!(tests, [("tests/test_orders.py", 4, "test_receipt_names_the_customer")]);

    let last_change = &code.history[0];
    assert_eq!(last_change.author, "Grace Hopper");
    assert_eq!(last_change.summary, "Show the customer's name on receipts");
    assert_eq!(last_change.date, "2024-05-02T15:30:00-04:00");
    assert!(last_change.lines.contains(&"shop/orders.py:6".to_owned()), "{:?}", last_change.lines);
    let older: Vec<&str> = code.history[1..].iter().map(|c| c.author.as_str()).collect();
    assert_eq!(older, ["Ada Lovelace"], "checkout's line is Ada's: {:?}", code.history);
}

#[test]
fn a_cart_without_an_order_names_the_undefined_value_and_its_test() {
    let (_dir, root) = shop();
    let captured = crash(&root, "node", "web/cart.js");
    assert!(captured.contains("TypeError: Cannot read properties of undefined (reading 'items')"), "{captured}");
    let group = crash_group(&root, &captured, "cart.log");
    let (facts, code) = investigate(&root, &group);

    assert_eq!(
        facts.failing_operation,
        Some(FailingOperation::AttributeOfMissing { expression: "order".into(), attribute: "items".into() })
    );
    let crash_site = facts.crash_site.as_ref().unwrap();
    assert_eq!((crash_site.path.as_str(), crash_site.line), ("web/cart.js", 2));
    assert_eq!(crash_site.code.as_deref(), Some("  return order.items.length;"));

    assert_eq!(code.functions[0].name, "total");
    let parameter = code.definitions.iter().find(|d| d.note == "parameter order").unwrap();
    assert_eq!((parameter.line, parameter.code.as_str()), (1, "function total(order) {"));
    let callers: Vec<(&str, u32, &str)> =
        code.callers.iter().map(|c| (c.path.as_str(), c.line, c.note.as_str())).collect();
    assert_eq!(callers, [("web/cart.js", 6, "checkout calls total")]);
    let tests: Vec<(&str, u32, &str)> = code.tests.iter().map(|t| (t.path.as_str(), t.line, t.note.as_str())).collect();
    assert_eq!(tests, [("web/cart.test.js", 5, "total counts the items")]);
    // The cart has not changed since Ada's first commit.
    assert_eq!(code.history.len(), 1);
    assert_eq!(code.history[0].author, "Ada Lovelace");
    assert_eq!(code.history[0].summary, "Orders, receipts and the cart");
}

#[test]
fn outside_git_and_for_uncommitted_lines_there_is_no_history() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    write(&root, "web/cart.js", CART);
    let captured = crash(&root, "node", "web/cart.js");
    let group = crash_group(&root, &captured, "cart.log");
    let (facts, code) = investigate(&root, &group);
    assert!(matches!(facts.failing_operation, Some(FailingOperation::AttributeOfMissing { .. })));
    assert_eq!(code.functions[0].name, "total");
    assert!(code.history.is_empty(), "{:?}", code.history);

    git(&root, &["init", "-q", "-b", "main"], ADA);
    let (_, code) = investigate(&root, &group);
    assert!(code.history.is_empty(), "not committed yet: {:?}", code.history);
}

// ---------------------------------------------------------------- failing operations per language

/// The failing operation of `message` raised at the line of `source` marked `// <-` / `# <-`.
fn operation(language: Language, path: &str, source: &str, exception: &str, message: &str) -> FailingOperation {
    operation_with(language, path, source, exception, message, &[])
}

fn operation_with(
    language: Language,
    path: &str,
    source: &str,
    exception: &str,
    message: &str,
    vars: &[(String, String)],
) -> FailingOperation {
    let line = source.lines().position(|l| l.contains("<-")).expect("a marked line");
    let crash_line =
        CrashLine { language: SourceLanguage::from_path(path).unwrap(), text: source, line, column: None, vars };
    failing_operation(Some(language), exception, message, Some(&crash_line))
}

fn other(summary: &str) -> FailingOperation {
    FailingOperation::Other { summary: summary.into() }
}

/// Runs a Python snippet and returns its last stderr line, split into type and message.
fn python_error(program: &str) -> (String, String) {
    let output = Command::new("python3").arg("-c").arg(program).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let last = stderr.lines().last().unwrap();
    let (ty, message) = last.split_once(": ").unwrap();
    (ty.to_owned(), message.to_owned())
}

#[test]
fn python_errors_as_python_prints_them() {
    let cases = [
        (
            "customer = None\ncustomer['name']",
            "def f(customer):\n    return customer['name']  # <-\n",
            FailingOperation::SubscriptOfMissing { expression: "customer".into() },
        ),
        (
            "class O: customer = None\nO.customer.email",
            "def f(order):\n    return order.customer.email  # <-\n",
            FailingOperation::AttributeOfMissing { expression: "order.customer".into(), attribute: "email".into() },
        ),
        (
            "PRICES = {}\nPRICES['sku']",
            "def f(item):\n    return PRICES['sku'] * item['qty']  # <-\n",
            FailingOperation::MissingKey { container: "PRICES".into(), key: "sku".into() },
        ),
        (
            "PRICES = {}\nitem = {'sku': 'widget'}\nPRICES[item['sku']]",
            "def f(item):\n    return PRICES[item['sku']]  # <-\n",
            FailingOperation::MissingKey { container: "PRICES".into(), key: "widget".into() },
        ),
        (
            "lines = []\nlines[2]",
            "def f(lines):\n    return lines[2]  # <-\n",
            FailingOperation::IndexOutOfRange { container: "lines".into(), index: Some("2".into()), length: None },
        ),
        (
            "count = 0\n10 / count",
            "def f(total, count):\n    return total / count  # <-\n",
            FailingOperation::DivisionByZero { divisor: "count".into() },
        ),
        (
            "int('x')",
            "def f(form):\n    quantity = int(form['quantity'])  # <-\n",
            FailingOperation::NumberParse { call: "int(form['quantity'])".into(), input: Some("x".into()) },
        ),
        (
            "float('1,5')",
            "def f(text):\n    return float(text)  # <-\n",
            FailingOperation::NumberParse { call: "float(text)".into(), input: Some("1,5".into()) },
        ),
    ];
    for (program, source, expected) in cases {
        let (ty, message) = python_error(program);
        assert_eq!(operation(Language::Python, "app.py", source, &ty, &message), expected, "{ty}: {message}");
    }
    let (ty, message) = python_error("raise RuntimeError('order 7 is closed')");
    assert_eq!(
        operation(Language::Python, "app.py", "x = 1  # <-\n", &ty, &message),
        other("RuntimeError: order 7 is closed")
    );
}

#[test]
fn the_captured_variables_decide_which_value_was_none() {
    let source = "def f(order, customer):\n    return order['id'] + customer['name']  # <-\n";
    let vars = [("order".to_owned(), "{'id': 1}".to_owned()), ("customer".to_owned(), "None".to_owned())];
    let found = operation_with(
        Language::Python,
        "app.py",
        source,
        "TypeError",
        "'NoneType' object is not subscriptable",
        &vars,
    );
    assert_eq!(found, FailingOperation::SubscriptOfMissing { expression: "customer".into() });
}

/// The source line a frame of a fixture trace points at, from the program that produced it.
fn fixture_operation(trace: &str, program: &str, language: Language) -> FailingOperation {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces");
    let trace_text = std::fs::read_to_string(fixtures.join(trace)).unwrap();
    let source = std::fs::read_to_string(fixtures.join(program)).unwrap();
    let event = parse_trace(&trace_text, trace).remove(0);
    let exception = event.outermost().unwrap();
    let program_name = Path::new(program).file_name().unwrap().to_str().unwrap();
    let frame = exception.frames.iter().rev().find(|f| f.paths().any(|p| p.ends_with(program_name))).unwrap();
    let crash_line = CrashLine {
        language: SourceLanguage::from_path(program).unwrap(),
        text: &source,
        line: frame.line.unwrap() as usize - 1,
        column: frame.column.map(|c| c as usize - 1),
        vars: &[],
    };
    failing_operation(Some(language), &exception.ty, &exception.value, Some(&crash_line))
}

#[test]
fn javascript_errors_from_captured_node_traces() {
    assert_eq!(
        fixture_operation("javascript/type_error.txt", "javascript/programs/type_error.js", Language::JavaScript),
        FailingOperation::AttributeOfMissing { expression: "order".into(), attribute: "items".into() }
    );
    assert_eq!(
        fixture_operation("javascript/esm_throw.txt", "javascript/programs/esm_throw.mjs", Language::JavaScript),
        FailingOperation::AttributeOfMissing { expression: "this.items[0]".into(), attribute: "name".into() }
    );
    assert_eq!(
        fixture_operation(
            "javascript/class_constructor.txt",
            "javascript/programs/class_constructor.js",
            Language::JavaScript
        ),
        other("RangeError: an invoice needs at least one line")
    );
    let source = "function f(user) {\n  return user.profile.name; // <-\n}\n";
    let null_read =
        operation(Language::JavaScript, "a.ts", source, "TypeError", "Cannot read properties of null (reading 'name')");
    assert_eq!(
        null_read,
        FailingOperation::AttributeOfMissing { expression: "user.profile".into(), attribute: "name".into() }
    );
    let not_a_function =
        operation(Language::JavaScript, "a.js", "cart.totl(); // <-\n", "TypeError", "cart.totl is not a function");
    assert_eq!(not_a_function, other("TypeError: cart.totl is not a function"));
    let destructure = "Cannot destructure property 'id' of 'undefined' as it is undefined.";
    assert_eq!(
        operation(Language::JavaScript, "a.js", "const { id } = order; // <-\n", "TypeError", destructure),
        other(&format!("TypeError: {destructure}"))
    );
}

#[test]
fn java_errors_from_captured_jvm_traces() {
    assert_eq!(
        fixture_operation("jvm/helpful_npe.txt", "jvm/programs/HelpfulNpe.java", Language::Java),
        FailingOperation::AttributeOfMissing { expression: "customer.email".into(), attribute: "length".into() }
    );
    let source = "class A {\n  int f(String name) {\n    return name.length(); // <-\n  }\n}\n";
    let without_debug_names = operation(
        Language::Java,
        "A.java",
        source,
        "java.lang.NullPointerException",
        "Cannot invoke \"String.length()\" because \"<local1>\" is null",
    );
    assert_eq!(
        without_debug_names,
        FailingOperation::AttributeOfMissing { expression: "name".into(), attribute: "length".into() }
    );
    let source = "class A {\n  int f(int[] lines) {\n    return lines[5]; // <-\n  }\n}\n";
    assert_eq!(
        operation(
            Language::Java,
            "A.java",
            source,
            "java.lang.ArrayIndexOutOfBoundsException",
            "Index 5 out of bounds for length 3"
        ),
        FailingOperation::IndexOutOfRange {
            container: "lines".into(),
            index: Some("5".into()),
            length: Some("3".into())
        }
    );
    let source = "class A {\n  int f(int total, int count) {\n    return total / count; // <-\n  }\n}\n";
    assert_eq!(
        operation(Language::Java, "A.java", source, "java.lang.ArithmeticException", "/ by zero"),
        FailingOperation::DivisionByZero { divisor: "count".into() }
    );
    let source = "class A {\n  int f(String text) {\n    return Integer.parseInt(text); // <-\n  }\n}\n";
    assert_eq!(
        operation(Language::Java, "A.java", source, "java.lang.NumberFormatException", "For input string: \"12.50\""),
        FailingOperation::NumberParse { call: "Integer.parseInt(text)".into(), input: Some("12.50".into()) }
    );
}

#[test]
fn rust_panics_as_the_standard_library_words_them() {
    let unwrap = "fn f(m: &HashMap<u32, String>) -> usize {\n    m.get(&7).unwrap().len() // <-\n}\n";
    assert_eq!(
        operation(Language::Rust, "a.rs", unwrap, "panic", "called `Option::unwrap()` on a `None` value"),
        FailingOperation::UnwrapNone { expression: "m.get(&7)".into() }
    );
    let open = "fn f() {\n    let file = File::open(\"orders.csv\").unwrap(); // <-\n}\n";
    let message = "called `Result::unwrap()` on an `Err` value: Os { code: 2, kind: NotFound, message: \"No such file or directory\" }";
    assert_eq!(
        operation(Language::Rust, "a.rs", open, "panic", message),
        FailingOperation::UnwrapErr {
            expression: "File::open(\"orders.csv\")".into(),
            error: "Os { code: 2, kind: NotFound, message: \"No such file or directory\" }".into()
        }
    );
    let parse = "fn f(text: &str) -> u32 {\n    text.trim().parse::<u32>().unwrap() // <-\n}\n";
    let message = "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }";
    assert_eq!(
        operation(Language::Rust, "a.rs", parse, "panic", message),
        FailingOperation::NumberParse { call: "text.trim().parse::<u32>()".into(), input: None }
    );
    let index = "fn f(lines: &[u8]) -> u8 {\n    lines[5] // <-\n}\n";
    assert_eq!(
        operation(Language::Rust, "a.rs", index, "panic", "index out of bounds: the len is 3 but the index is 5"),
        FailingOperation::IndexOutOfRange {
            container: "lines".into(),
            index: Some("5".into()),
            length: Some("3".into())
        }
    );
    let divide = "fn f(total: u32, count: u32) -> u32 {\n    total / count // <-\n}\n";
    assert_eq!(
        operation(Language::Rust, "a.rs", divide, "panic", "attempt to divide by zero"),
        FailingOperation::DivisionByZero { divisor: "count".into() }
    );
    let expect = "fn f(c: &Config) -> u16 {\n    c.port.expect(\"config has a port\") // <-\n}\n";
    assert_eq!(
        operation(Language::Rust, "a.rs", expect, "panic", "config has a port"),
        FailingOperation::UnwrapNone { expression: "c.port".into() }
    );
    let expect_err = "fn f(t: &str) -> u16 {\n    t.parse::<u16>().expect(\"port is a number\") // <-\n}\n";
    assert_eq!(
        operation(
            Language::Rust,
            "a.rs",
            expect_err,
            "panic",
            "port is a number: ParseIntError { kind: InvalidDigit }"
        ),
        FailingOperation::NumberParse { call: "t.parse::<u16>()".into(), input: None }
    );
}

#[test]
fn go_panics_as_the_runtime_words_them() {
    let nil_map = "package main\n\nfunc f(counts map[string]int) {\n\tcounts[\"a\"] = 1 // <-\n}\n";
    assert_eq!(
        operation(Language::Go, "main.go", nil_map, "panic", "assignment to entry in nil map"),
        FailingOperation::NilMapWrite { map: "counts".into() }
    );
    let nil_pointer = "package main\n\nimport \"fmt\"\n\nfunc f(o *Order) {\n\tfmt.Println(o.Customer.Name) // <-\n}\n";
    let message = "runtime error: invalid memory address or nil pointer dereference";
    let vars = [("o".to_owned(), "nil".to_owned())];
    assert_eq!(
        operation_with(Language::Go, "main.go", nil_pointer, "panic", message, &vars),
        FailingOperation::NilDereference { expression: "o".into() }
    );
    let index = "package main\n\nfunc f(lines []string) string {\n\treturn lines[5] // <-\n}\n";
    assert_eq!(
        operation(Language::Go, "main.go", index, "panic", "runtime error: index out of range [5] with length 3"),
        FailingOperation::IndexOutOfRange {
            container: "lines".into(),
            index: Some("5".into()),
            length: Some("3".into())
        }
    );
    let divide = "package main\n\nfunc f(total, count int) int {\n\treturn total / count // <-\n}\n";
    assert_eq!(
        operation(Language::Go, "main.go", divide, "runtime error", "integer divide by zero"),
        FailingOperation::DivisionByZero { divisor: "count".into() }
    );
    let atoi = "package main\n\nfunc f(text string) int {\n\tn, err := strconv.Atoi(text) // <-\n\treturn n\n}\n";
    assert_eq!(
        operation(Language::Go, "main.go", atoi, "panic", "strconv.Atoi: parsing \"abc\": invalid syntax"),
        FailingOperation::NumberParse { call: "strconv.Atoi(text)".into(), input: Some("abc".into()) }
    );
}

#[test]
fn odd_crash_text_never_panics() {
    let weird =
        ["", "\u{0}", "'", "Cannot read properties of undefined (reading '", "index out of range [", "because \""];
    for language in
        [Language::Python, Language::JavaScript, Language::Rust, Language::Go, Language::Java, Language::Ruby]
    {
        for message in weird {
            for source in ["", "x[", "def f(:\n", "\u{feff}é = 1\n"] {
                let crash_line =
                    CrashLine { language: SourceLanguage::Python, text: source, line: 7, column: Some(999), vars: &[] };
                let _ = failing_operation(Some(language), message, message, Some(&crash_line));
                let _ = failing_operation(None, message, message, None);
            }
        }
    }
}
