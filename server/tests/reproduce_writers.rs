//! Reproductions Crashloom writes, proven on real crashes of small programs in five languages
//! (tests/fixtures/reproduce, captured by running them with generate.sh there): the crash file is
//! dropped into a copy of the program's workspace and loaded the way the product loads it, the
//! candidates are written into the copy and run for real. Before the fix each must crash with the
//! same exception in the same function; after the known right fix it must succeed. Where the crash
//! does not carry enough to rebuild the call, there must be no candidate.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crashloom::config::Config;
use crashloom::crash::detect::find_traces;
use crashloom::engine::load_workspace;
use crashloom::investigate::analyzer::OfflineErrorAnalyzer;
use crashloom::investigate::code_search::OfflineCodeSearch;
use crashloom::investigate::reproduce::{
    REPRODUCTION_TEST_MARKER, ReproductionCandidate, ReproductionInputs, ReproductionOrigin, candidates,
};
use crashloom::investigate::{CodeContext, CodeSearch, CrashFacts, CrashInput, ErrorAnalyzer};
use crashloom::sandbox::FileEdit;
use crashloom::workspace::sites::CrashGroup;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/reproduce").canonicalize().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "crashes" || name == "target" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// A crashed program: its workspace (a copy of the fixture) with one crash file in it, loaded.
struct Crashed {
    _dir: tempfile::TempDir,
    root: PathBuf,
    group: CrashGroup,
    facts: CrashFacts,
    code: CodeContext,
}

fn crashed(fixture: &str, crash_file: &str) -> Crashed {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap().join(fixture);
    copy_dir(&fixtures().join(fixture), &root);
    let crashes = root.join(".crashloom/crashes");
    std::fs::create_dir_all(&crashes).unwrap();
    std::fs::copy(fixtures().join(fixture).join("crashes").join(crash_file), crashes.join(crash_file)).unwrap();
    let loaded = load_workspace(&root, &Config::default()).unwrap();
    let group = loaded
        .picture
        .groups
        .into_iter()
        .find(|g| g.crash_site().is_some())
        .map(std::sync::Arc::unwrap_or_clone)
        .unwrap_or_else(|| panic!("{fixture}/{crash_file} has no crash site; problems: {:?}", loaded.problems));
    let input = CrashInput { root: root.clone(), group: &group };
    let facts = OfflineErrorAnalyzer.analyze(&input);
    let code = OfflineCodeSearch.search(&input, &facts);
    Crashed { _dir: dir, root, group, facts, code }
}

impl Crashed {
    fn candidates(&self, test_command: Option<&[String]>) -> Vec<ReproductionCandidate> {
        candidates(&ReproductionInputs {
            root: &self.root,
            group: &self.group,
            facts: &self.facts,
            code: &self.code,
            test_command,
        })
    }

    fn first(&self, origin: &ReproductionOrigin, test_command: Option<&[String]>) -> ReproductionCandidate {
        let all = self.candidates(test_command);
        all.iter()
            .find(|c| &c.origin == origin)
            .cloned()
            .unwrap_or_else(|| panic!("no {origin:?} candidate among {all:#?}"))
    }

    /// Writes the candidate's files into the copy, as the validator does in the sandbox.
    fn write(&self, candidate: &ReproductionCandidate) {
        for change in &candidate.files {
            assert!(!change.path.starts_with('/') && !change.path.contains(".."), "{}", change.path);
            let path = self.root.join(&change.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            match &change.edit {
                FileEdit::Write { content } => std::fs::write(&path, content).unwrap(),
                FileEdit::Replace { old, new } => {
                    let text = std::fs::read_to_string(&path).unwrap();
                    assert_eq!(text.matches(old.as_str()).count(), 1, "{} holds the snippet once", change.path);
                    std::fs::write(&path, text.replacen(old.as_str(), new, 1)).unwrap();
                }
                FileEdit::Delete => std::fs::remove_file(&path).unwrap(),
            }
        }
    }

    /// Runs a command in the copy, offline; its exit status and everything it printed.
    fn run(&self, command: &[String]) -> (bool, String) {
        let output = Command::new(&command[0])
            .args(&command[1..])
            .current_dir(&self.root)
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("CARGO_NET_OFFLINE", "true")
            .env("CARGO_TARGET_DIR", self.root.join("target"))
            .output()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text)
    }

    /// Whether the output shows this crash: the same exception type, raised in the same in-app
    /// function of the same file.
    fn shows_the_crash(&self, output: &str) -> bool {
        let site = self.group.crash_site().unwrap();
        let function = site.function.clone().unwrap();
        find_traces(output).iter().any(|trace| {
            let Some(exception) = trace.event.outermost() else {
                return false;
            };
            exception.ty.rsplit('.').next() == self.group.exception.rsplit('.').next()
                && exception.frames.iter().any(|frame| {
                    frame.function.as_deref().is_some_and(|f| f == function || f.ends_with(&format!(".{function}")))
                        && frame.paths().any(|p| p.ends_with(&site.path))
                })
        })
    }

    /// The candidate crashes the same way before the fix and succeeds after it.
    fn proves(&self, candidate: &ReproductionCandidate, fix: &[(&str, &str, &str)]) -> String {
        assert!(
            candidate
                .files
                .iter()
                .all(|f| f.path.contains(REPRODUCTION_TEST_MARKER) || matches!(f.edit, FileEdit::Replace { .. })),
            "{candidate:#?}"
        );
        self.write(candidate);
        let (succeeded, before) = self.run(&candidate.command);
        assert!(!succeeded, "{:?} must fail before the fix:\n{before}", candidate.command);
        assert!(self.shows_the_crash(&before), "{:?} must show the same crash:\n{before}", candidate.command);
        for (path, old, new) in fix {
            let file = self.root.join(path);
            let text = std::fs::read_to_string(&file).unwrap();
            assert_eq!(text.matches(old).count(), 1, "the fix applies to {path}");
            std::fs::write(&file, text.replacen(old, new, 1)).unwrap();
        }
        let (succeeded, after) = self.run(&candidate.command);
        assert!(succeeded, "{:?} must pass after the fix:\n{after}", candidate.command);
        before
    }
}

fn source(candidate: &ReproductionCandidate) -> &str {
    candidate.source().unwrap().1
}

fn no_candidate_of(crash: &Crashed, origin: &ReproductionOrigin) {
    let all = crash.candidates(None);
    assert!(all.iter().all(|c| &c.origin != origin), "{all:#?}");
}

// ---------------------------------------------------------------- Python

const PY_RATE_FIX: (&str, &str, &str) = (
    "tariffs/rates.py",
    r#"RATES = {"standard": 0.2, "reduced": 0.05}"#,
    r#"RATES = {"standard": 0.2, "reduced": 0.05, "luxury": 0.25}"#,
);

#[test]
fn python_key_error_is_reproduced_from_the_key_in_the_message() {
    let crash = crashed("python-tariffs", "key.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert_eq!(candidate.command, vec!["python3".to_owned(), candidate.files[0].path.clone()]);
    assert!(source(&candidate).contains("from tariffs.rates import rate_for"), "{}", source(&candidate));
    crash.proves(&candidate, &[PY_RATE_FIX]);
}

#[test]
fn python_failed_int_is_reproduced_from_the_text_in_the_message() {
    let crash = crashed("python-tariffs", "parse.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(source(&candidate).contains(r#""text": value("'3 boxes'")"#), "{}", source(&candidate));
    crash.proves(&candidate, &[("tariffs/rates.py", "return int(text)", "return int(text.split()[0])")]);
}

#[test]
fn python_captured_values_call_the_crashing_function() {
    let crash = crashed("python-tariffs", "key.json");
    let candidate = crash.candidates(None).into_iter().next().unwrap();
    assert_eq!(candidate.origin, ReproductionOrigin::CapturedValues);
    assert_eq!(candidate.description, "rate_for(category) called with the values the crash captured.");
    crash.proves(&candidate, &[PY_RATE_FIX]);
}

#[test]
fn python_captured_values_call_the_outermost_function_when_the_crash_is_in_a_method() {
    let crash = crashed("python-tariffs", "checkout.json");
    let candidate = crash.candidates(None).into_iter().next().unwrap();
    assert_eq!(candidate.origin, ReproductionOrigin::CapturedValues);
    assert_eq!(candidate.description, "checkout(items) called with the values the crash captured.");
    assert!(
        source(&candidate)
            .contains(r#"value("[{\"qty\":\"2\",\"sku\":\"'A1'\"},{\"qty\":\"'4'\",\"sku\":\"'B2'\"}]")"#)
    );
    crash.proves(
        &candidate,
        &[("tariffs/basket.py", r#"self.count += item["qty"]"#, r#"self.count += int(item["qty"])"#)],
    );
}

#[test]
fn python_project_tests_run_alone_with_unittest_or_pytest() {
    let crash = crashed("python-tariffs", "key.txt");
    let name = ReproductionOrigin::ProjectTest { name: "test_luxury_rate".into() };
    let unittest = crash.first(&name, None);
    assert_eq!(unittest.command, ["python3", "-m", "unittest", "-v", "tests.test_rates.RateTest.test_luxury_rate"]);
    assert!(unittest.files.is_empty());
    // The test using the crash's key comes first.
    assert_eq!(
        crash.candidates(None).iter().find(|c| matches!(c.origin, ReproductionOrigin::ProjectTest { .. })),
        Some(&unittest)
    );
    // The virtual environment tests/setup-tools.sh makes, with pytest (not resolved: a venv's
    // python is a link to the system one, and only its own path makes it the venv's).
    let venv_python = fixtures().join("../../../.venv/bin/python");
    assert!(venv_python.exists(), "{} is missing: run tests/setup-tools.sh", venv_python.display());
    let test_command = vec![venv_python.to_string_lossy().into_owned(), "-m".into(), "pytest".into(), "-q".into()];
    let pytest = crash.first(&name, Some(&test_command));
    assert_eq!(
        pytest.command[1..],
        [
            "-m",
            "pytest",
            "-x",
            "-q",
            "--tb=native",
            "-p",
            "no:cacheprovider",
            "tests/test_rates.py::RateTest::test_luxury_rate"
        ]
    );
    let (succeeded, before) = crash.run(&pytest.command);
    assert!(!succeeded && crash.shows_the_crash(&before), "{before}");
    crash.proves(&unittest, &[PY_RATE_FIX]);
    let (succeeded, after) = crash.run(&pytest.command);
    assert!(succeeded, "{after}");
}

#[test]
fn python_says_no_when_the_crash_does_not_carry_the_call() {
    // The arguments of describe() are not in the message, and nothing was captured.
    let crash = crashed("python-tariffs", "describe.txt");
    assert_eq!(crash.candidates(None), Vec::new());
    // Values cut short cannot rebuild the call.
    no_candidate_of(&crashed("python-tariffs", "long.json"), &ReproductionOrigin::CapturedValues);
    // A method needs `self`, and no function around it had its arguments captured.
    no_candidate_of(&crashed("python-tariffs", "method.json"), &ReproductionOrigin::CapturedValues);
}

#[test]
fn python_crash_data_that_looks_like_code_stays_data() {
    for (file, origin) in
        [("inject.txt", ReproductionOrigin::FromCode), ("inject.json", ReproductionOrigin::CapturedValues)]
    {
        let crash = crashed("python-tariffs", file);
        let candidate = crash.first(&origin, None);
        let source = source(&candidate);
        assert!(source.contains(r#""category": value("\"__import__('os').system('touch pwned')\"")"#), "{source}");
        crash.proves(&candidate, &[(PY_RATE_FIX.0, "RATES[category]", "RATES.get(category, 0.0)")]);
        assert!(!crash.root.join("pwned").exists(), "the captured text was never run");
    }
}

// ---------------------------------------------------------------- Node

const NODE_COUPON_FIX: (&str, &str, &str) =
    ("lib/pricing.js", "const discount = DISCOUNTS[code];", "const discount = DISCOUNTS[code] || { percent: 0 };");

#[test]
fn node_captured_values_call_the_crashing_function() {
    let crash = crashed("node-coupons", "coupon.json");
    let candidate = crash.candidates(None).into_iter().next().unwrap();
    assert_eq!(candidate.origin, ReproductionOrigin::CapturedValues);
    assert_eq!(candidate.description, "applyDiscount(order, code) called with the values the crash captured.");
    assert!(candidate.files[0].path.ends_with(".test.cjs"), "{:?}", candidate.files[0].path);
    assert!(source(&candidate).contains(r#"JSON.parse("[{\"total\":16},\"WINTER\"]")"#), "{}", source(&candidate));
    crash.proves(&candidate, &[NODE_COUPON_FIX]);
}

#[test]
fn node_failed_json_parse_is_reproduced_from_the_text_in_the_message() {
    let crash = crashed("node-coupons", "parse.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(source(&candidate).contains(r#"JSON.parse("[\"tea x2\"]")"#), "{}", source(&candidate));
    crash.proves(
        &candidate,
        &[(
            "lib/pricing.js",
            "  return JSON.parse(text);",
            "  try {\n    return JSON.parse(text);\n  } catch {\n    return null;\n  }",
        )],
    );
}

#[test]
fn node_project_tests_run_alone_with_node_test() {
    let crash = crashed("node-coupons", "coupon.json");
    let candidate =
        crash.first(&ReproductionOrigin::ProjectTest { name: "unknown coupons change nothing".into() }, None);
    assert_eq!(
        candidate.command,
        [
            "node",
            "--test",
            "--test-reporter=spec",
            "--test-name-pattern=^unknown coupons change nothing$",
            "test/pricing.test.js"
        ]
    );
    let (succeeded, before) = crash.run(&candidate.command);
    assert!(!succeeded, "{before}");
    assert!(
        before.contains("pass 0") && before.contains("fail 1") && before.contains("skipped 1"),
        "only that test ran:\n{before}"
    );
    assert!(crash.shows_the_crash(&before), "{before}");
    crash.write(&candidate);
    let file = crash.root.join(NODE_COUPON_FIX.0);
    let text = std::fs::read_to_string(&file).unwrap().replacen(NODE_COUPON_FIX.1, NODE_COUPON_FIX.2, 1);
    std::fs::write(&file, text).unwrap();
    let (succeeded, after) = crash.run(&candidate.command);
    assert!(succeeded && after.contains("pass 1"), "{after}");
}

#[test]
fn node_says_no_when_the_crash_does_not_carry_the_call() {
    // lineLabel(line, width): neither argument is in the message, nothing was captured.
    assert_eq!(crashed("node-coupons", "label.txt").candidates(None), Vec::new());
    // The order was cut short when it was captured.
    no_candidate_of(&crashed("node-coupons", "long.json"), &ReproductionOrigin::CapturedValues);
}

#[test]
fn node_crash_data_that_looks_like_code_stays_data() {
    let crash = crashed("node-coupons", "inject.json");
    let candidate = crash.first(&ReproductionOrigin::CapturedValues, None);
    let source = source(&candidate);
    assert!(
        source.contains(r#"JSON.parse("[{\"total\":80},\"require('child_process').execSync('touch pwned')\"]")"#),
        "{source}"
    );
    assert!(!source.contains("eval(") && !source.contains("Function("), "{source}");
    crash.proves(&candidate, &[NODE_COUPON_FIX]);
    assert!(!crash.root.join("pwned").exists(), "the captured text was never run");
}

// ---------------------------------------------------------------- Go

#[test]
fn go_failed_atoi_is_reproduced_from_the_text_in_the_panic() {
    let crash = crashed("go-meter", "atoi.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert_eq!(candidate.files[0].path, "meter/crashloom_repro_test.go");
    assert!(source(&candidate).contains("package meter\n") && source(&candidate).contains("\tMustReading(\"12kw\")\n"));
    assert_eq!(
        candidate.command,
        ["env", "GOPROXY=off", "go", "test", "-count=1", "-run", "^Test_crashloom_repro$", "./meter/"]
    );
    crash.proves(
        &candidate,
        &[("meter/meter.go", "\tif err != nil {\n\t\tpanic(err)", "\tif err != nil {\n\t\treturn 0")],
    );
}

#[test]
fn go_index_out_of_range_is_reproduced_with_the_index_in_the_panic() {
    let crash = crashed("go-meter", "slot.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(source(&candidate).contains("\tSlot(7)\n"), "{}", source(&candidate));
    crash.proves(&candidate, &[("meter/meter.go", "return slots[quarter]", "return slots[quarter%len(slots)]")]);
}

#[test]
fn go_nil_map_write_is_reproduced_on_a_value_from_the_constructor() {
    let crash = crashed("go-meter", "record.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(source(&candidate).contains("\tNewRegistry().Record(\"\", 0)\n"), "{}", source(&candidate));
    crash.proves(
        &candidate,
        &[("meter/meter.go", "return &Registry{}", "return &Registry{readings: map[string]int{}}")],
    );
}

#[test]
fn go_project_tests_run_alone() {
    let crash = crashed("go-meter", "atoi.txt");
    let candidate = crash.first(&ReproductionOrigin::ProjectTest { name: "TestMustReadingReadsNumbers".into() }, None);
    assert_eq!(
        candidate.command,
        ["env", "GOPROXY=off", "go", "test", "-count=1", "-run", "^TestMustReadingReadsNumbers$", "./meter/"]
    );
    // It passes (42 reads), while the package's other test fails: it ran alone.
    let (succeeded, output) = crash.run(&candidate.command);
    assert!(succeeded, "{output}");
    let (succeeded, output) = crash.run(&["go".into(), "test".into(), "-count=1".into(), "./meter/".into()]);
    assert!(!succeeded && output.contains("index out of range [4] with length 4"), "{output}");
}

#[test]
fn go_says_no_when_the_panic_does_not_carry_the_call() {
    // Describe needs a *Registry the panic does not show.
    assert_eq!(crashed("go-meter", "describe.txt").candidates(None), Vec::new());
}

#[test]
fn go_crash_data_that_looks_like_code_stays_data() {
    let crash = crashed("go-meter", "inject.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(source(&candidate).contains(r#"MustReading("\"+os.Exit(3)+\" `rm -rf /`")"#), "{}", source(&candidate));
    let before = crash.proves(
        &candidate,
        &[("meter/meter.go", "\tif err != nil {\n\t\tpanic(err)", "\tif err != nil {\n\t\treturn 0")],
    );
    assert!(before.contains(r#"parsing "\"+os.Exit(3)+\" `rm -rf /`": invalid syntax"#), "{before}");
}

// ---------------------------------------------------------------- Rust

#[test]
fn rust_parse_error_is_reproduced_from_the_text_the_panic_quotes() {
    let crash = crashed("rust-stock", "parse.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert_eq!(
        candidate.command,
        [
            "env",
            "RUST_BACKTRACE=1",
            "CARGO_NET_OFFLINE=true",
            "cargo",
            "test",
            "--offline",
            "crashloom_repro",
            "--",
            "--nocapture"
        ]
    );
    assert!(
        source(&candidate).contains("mod crashloom_repro {") && source(&candidate).contains("parse_quantity(\"12x\")")
    );
    crash.proves(
        &candidate,
        &[("src/lib.rs", "Err(error) => panic!", "Err(_) => 0, #[allow(unreachable_patterns)] Err(error) => panic!")],
    );
}

#[test]
fn rust_index_out_of_bounds_is_reproduced_with_the_index_in_the_panic() {
    let crash = crashed("rust-stock", "shelf.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(source(&candidate).contains("shelf(7)"), "{}", source(&candidate));
    crash.proves(&candidate, &[("src/lib.rs", "SHELVES[bay]", "SHELVES[bay.min(SHELVES.len() - 1)]")]);
}

#[test]
fn rust_project_tests_run_alone_by_their_full_name() {
    let crash = crashed("rust-stock", "shelf.txt");
    let candidate = crash.first(&ReproductionOrigin::ProjectTest { name: "the_back_bay_is_the_last".into() }, None);
    assert_eq!(
        candidate.command,
        [
            "env",
            "RUST_BACKTRACE=1",
            "CARGO_NET_OFFLINE=true",
            "cargo",
            "test",
            "--offline",
            "tests::the_back_bay_is_the_last",
            "--",
            "--exact"
        ]
    );
    let before = crash.proves(&candidate, &[("src/lib.rs", "SHELVES[bay]", "SHELVES[bay.min(SHELVES.len() - 1)]")]);
    assert!(before.contains("running 1 test"), "{before}");
}

#[test]
fn rust_says_no_when_the_panic_does_not_carry_the_call() {
    // fill(stocked, capacity): a division by zero shows neither argument.
    assert!(crashed("rust-stock", "fill.txt").candidates(None).is_empty());
}

#[test]
fn rust_crash_data_that_looks_like_code_stays_data() {
    let crash = crashed("rust-stock", "inject.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(
        source(&candidate).contains(r#"parse_quantity("\"); std::process::exit(3); (\"")"#),
        "{}",
        source(&candidate)
    );
    crash.proves(
        &candidate,
        &[("src/lib.rs", "Err(error) => panic!", "Err(_) => 0, #[allow(unreachable_patterns)] Err(error) => panic!")],
    );
}

// ---------------------------------------------------------------- Java

/// Maven cannot resolve its plugins offline on a machine without a filled local repository, so
/// the generated JUnit test is compiled with javac and run with the JUnit console launcher
/// (Debian's junit5 package) instead of the candidate's `mvn -o` command.
fn junit(crash: &Crashed) -> (bool, String) {
    let launcher = Path::new("/usr/share/java/junit-platform-console-standalone.jar");
    assert!(launcher.exists(), "{} is missing: install Debian's junit5 (tests/setup-tools.sh)", launcher.display());
    let classes = crash.root.join("target/classes");
    let _ = std::fs::remove_dir_all(&classes);
    let mut sources = Vec::new();
    for dir in ["src/main/java", "src/test/java"] {
        let mut stack = vec![crash.root.join(dir)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    stack.push(entry.path());
                } else if entry.path().extension().is_some_and(|e| e == "java") {
                    sources.push(entry.path().to_string_lossy().into_owned());
                }
            }
        }
    }
    let mut javac = vec!["javac".to_owned(), "-cp".into(), launcher.to_string_lossy().into_owned(), "-d".into()];
    javac.push(classes.to_string_lossy().into_owned());
    javac.extend(sources);
    let (compiled, output) = crash.run(&javac);
    assert!(compiled, "{output}");
    crash.run(&[
        "java".into(),
        "-jar".into(),
        launcher.to_string_lossy().into_owned(),
        "--disable-banner".into(),
        "--class-path".into(),
        classes.to_string_lossy().into_owned(),
        "--select-class".into(),
        "com.example.fares.CrashloomReproTest".into(),
    ])
}

fn java_proves(crash: &Crashed, candidate: &ReproductionCandidate, frame: &str, fix: (&str, &str, &str)) {
    assert_eq!(
        candidate.command,
        [
            "mvn",
            "-q",
            "-o",
            "test",
            "-Dtest=CrashloomReproTest",
            "-DtrimStackTrace=false",
            "-Dsurefire.failIfNoSpecifiedTests=false"
        ]
    );
    assert_eq!(candidate.files[0].path, "src/test/java/com/example/fares/CrashloomReproTest.java");
    crash.write(candidate);
    let (succeeded, before) = junit(crash);
    let exception = &crash.group.exception;
    assert!(!succeeded && before.contains(exception.as_str()) && before.contains(frame), "{before}");
    let file = crash.root.join(fix.0);
    std::fs::write(&file, std::fs::read_to_string(&file).unwrap().replacen(fix.1, fix.2, 1)).unwrap();
    let (succeeded, after) = junit(crash);
    assert!(succeeded && after.contains("1 tests successful"), "{after}");
}

#[test]
fn java_number_format_is_reproduced_from_the_text_the_exception_quotes() {
    let crash = crashed("java-fares", "parse.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(source(&candidate).contains("import org.junit.jupiter.api.Test;"), "{}", source(&candidate));
    assert!(source(&candidate).contains("Fares.parseZone(\"Z3\");"), "{}", source(&candidate));
    java_proves(
        &crash,
        &candidate,
        "com.example.fares.Fares.parseZone(Fares.java:11)",
        (
            "src/main/java/com/example/fares/Fares.java",
            "Integer.parseInt(text.trim())",
            "Integer.parseInt(text.replaceAll(\"\\\\D\", \"\"))",
        ),
    );
}

#[test]
fn java_index_out_of_bounds_is_reproduced_with_the_index_in_the_exception() {
    let crash = crashed("java-fares", "price.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(source(&candidate).contains("Fares.priceFor(5);"), "{}", source(&candidate));
    java_proves(
        &crash,
        &candidate,
        "com.example.fares.Fares.priceFor(Fares.java:16)",
        ("src/main/java/com/example/fares/Fares.java", "PRICES[zone]", "PRICES[Math.min(zone, PRICES.length - 1)]"),
    );
}

#[test]
fn java_says_no_when_the_exception_does_not_carry_the_call() {
    assert!(crashed("java-fares", "stops.txt").candidates(None).is_empty());
}

#[test]
fn java_crash_data_that_looks_like_code_stays_data() {
    let crash = crashed("java-fares", "inject.txt");
    let candidate = crash.first(&ReproductionOrigin::FromCode, None);
    assert!(
        source(&candidate).contains(r#"Fares.parseZone("\"); Runtime.getRuntime().exit(3); (\"");"#),
        "{}",
        source(&candidate)
    );
    java_proves(
        &crash,
        &candidate,
        "com.example.fares.Fares.parseZone(Fares.java:11)",
        ("src/main/java/com/example/fares/Fares.java", "Integer.parseInt(text.trim())", "text.length()"),
    );
}

#[test]
fn node_es_modules_get_an_es_module_test() {
    let crash = crashed("node-coupons", "coupon.json");
    // The same program as an ES module package, line for line.
    let edit = |path: &str, old: &str, new: &str| {
        let file = crash.root.join(path);
        std::fs::write(&file, std::fs::read_to_string(&file).unwrap().replacen(old, new, 1)).unwrap();
    };
    edit("package.json", r#""type": "commonjs""#, r#""type": "module""#);
    edit(
        "lib/pricing.js",
        "module.exports = { applyDiscount, parseOrder, lineLabel };",
        "export { applyDiscount, parseOrder, lineLabel };",
    );
    edit(
        "lib/checkout.js",
        "const { applyDiscount } = require('./pricing');",
        "import { applyDiscount } from './pricing.js';",
    );
    edit("lib/checkout.js", "module.exports = { checkout };", "export { checkout };");
    let candidate = crash.first(&ReproductionOrigin::CapturedValues, None);
    assert!(candidate.files[0].path.ends_with(".test.mjs"), "{:?}", candidate.files[0].path);
    assert!(source(&candidate).contains("await import(pathToFileURL(path.resolve(\"lib/pricing.js\")).href)"));
    crash.proves(&candidate, &[NODE_COUPON_FIX]);
}

#[test]
fn node_functions_the_module_does_not_export_are_not_called() {
    let crash = crashed("node-coupons", "coupon.json");
    let file = crash.root.join("lib/pricing.js");
    let text = std::fs::read_to_string(&file).unwrap();
    let exports = "module.exports = { applyDiscount, parseOrder, lineLabel };";
    std::fs::write(&file, text.replacen(exports, "module.exports = { parseOrder };", 1)).unwrap();
    // The caller is exported, and its argument was captured, but Node's integration keeps only
    // the first level of an object: `cart` lost its lines. The candidate is offered and does not
    // reproduce this crash, which is why the validator keeps only candidates that do.
    let captured: Vec<_> =
        crash.candidates(None).into_iter().filter(|c| c.origin == ReproductionOrigin::CapturedValues).collect();
    assert_eq!(captured.len(), 1);
    assert_eq!(captured[0].description, "checkout(cart) called with the values the crash captured.");
    crash.write(&captured[0]);
    let (succeeded, output) = crash.run(&captured[0].command);
    assert!(!succeeded && output.contains("reading 'reduce'") && !crash.shows_the_crash(&output), "{output}");
}

#[test]
fn java_without_junit_in_the_build_gets_no_candidate() {
    let crash = crashed("java-fares", "parse.txt");
    let pom = crash.root.join("pom.xml");
    let text = std::fs::read_to_string(&pom).unwrap();
    let start = text.find("<dependencies>").unwrap();
    let end = text.find("</dependencies>").unwrap() + "</dependencies>".len();
    std::fs::write(&pom, format!("{}{}", &text[..start], &text[end..])).unwrap();
    no_candidate_of(&crash, &ReproductionOrigin::FromCode);
}

#[test]
fn go_nil_map_write_without_a_plain_constructor_gets_no_candidate() {
    let crash = crashed("go-meter", "record.txt");
    let file = crash.root.join("meter/meter.go");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("func NewRegistry() *Registry {", "func NewRegistry(site string) *Registry {", 1),
    )
    .unwrap();
    no_candidate_of(&crash, &ReproductionOrigin::FromCode);
}
