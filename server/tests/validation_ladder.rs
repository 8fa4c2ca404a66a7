//! The validation ladder on a small real Python program (not one of the shipped examples): the
//! crash is captured by running it, each candidate change is a real edit, and every command runs
//! for real under bubblewrap. "Validated" must be said only when the reproduction succeeds after
//! the change and no test that passed before fails after it.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use crashloom::config::Config;
use crashloom::engine::load_workspace;
use crashloom::investigate::FixProposal;
use crashloom::investigate::validator::{CrashOutcome, RungOutcome, ValidationReport, Validator};
use crashloom::sandbox::FileChange;
use crashloom::workspace::sites::CrashGroup;

const PAGES: &str = r#""""Pages of a list of items."""


def first_of_page(items, number, size):
    start = number * size
    return items[start]
"#;

const CLI: &str = r#"import sys

from app.pages import first_of_page


def main():
    print("connecting with password=hunter2 to the item store")
    items = list(range(5))
    shown = first_of_page(items, int(sys.argv[1]), 2)
    print("page:", shown)


main()
"#;

const TESTS: &str = r#"import unittest

from app.pages import first_of_page


class PageTest(unittest.TestCase):
    def test_the_first_page_starts_with_the_first_item(self):
        self.assertEqual(first_of_page([1, 2, 3], 0, 2), 1)

    def test_a_page_past_the_end_has_no_first_item(self):
        self.assertIsNone(first_of_page([1, 2, 3], 5, 2))

    def test_an_unrelated_known_bug(self):
        self.assertEqual(round(2.675, 2), 2.68)


if __name__ == "__main__":
    unittest.main()
"#;

/// A page past the end has no first item: the developer's fix.
const RIGHT_FIX: &str = "    return items[start] if start < len(items) else None\n";

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The program as a git repository, with the crash of `python3 -m app.cli 3` captured by running it.
fn project(validate: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/__init__.py", "");
    write(root, "app/pages.py", PAGES);
    write(root, "app/cli.py", CLI);
    write(root, "tests/__init__.py", "");
    write(root, "tests/test_pages.py", TESTS);
    let run = Command::new("python3").args(["-m", "app.cli", "3"]).current_dir(root).output().unwrap();
    assert!(!run.status.success());
    let trace = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(trace.contains("IndexError: list index out of range"), "{trace}");
    write(root, ".crashloom/crashes/pages.log", &trace);
    let timeout = if validate.contains("timeout_secs") { "" } else { "timeout_secs = 20\n" };
    write(root, "crashloom.toml", &format!("[validate]\n{timeout}{validate}\n"));
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=Grace Hopper", "-c", "user.email=grace@example.com"])
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "Pages"]);
    dir
}

const UNITTEST: &str = "test = \"python3 -m unittest -q\"";
const REPRODUCE: &str = "reproduce = \"python3 -m app.cli 3\"";

fn crash_group(root: &Path, config: &Config) -> CrashGroup {
    let loaded = load_workspace(root, config).unwrap();
    let group = CrashGroup::clone(loaded.picture.groups.iter().find(|g| g.exception == "IndexError").unwrap());
    assert_eq!(group.crash_site().unwrap().path, "app/pages.py");
    group
}

fn change(path: &str, old: &str, new: &str) -> FixProposal {
    FixProposal {
        summary: "a change".into(),
        rationale: String::new(),
        changes: vec![FileChange::replace(path, old, new)],
        hides_symptom: false,
        by: "test".into(),
    }
}

fn validate(root: &Path, fix: &FixProposal) -> ValidationReport {
    let config = Config::load(root).unwrap();
    let group = crash_group(root, &config);
    let validator = Validator { root, validate: &config.validate, sandbox: &config.sandbox };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(validator.validate(&group, fix)).unwrap()
}

fn rung<'a>(report: &'a ValidationReport, name_start: &str) -> &'a crashloom::investigate::validator::Rung {
    report.rungs.iter().find(|r| r.name.starts_with(name_start)).unwrap()
}

#[test]
fn the_right_fix_is_validated_and_an_already_failing_test_does_not_block_it() {
    let workspace = project(&format!("{REPRODUCE}\n{UNITTEST}"));
    let report = validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", RIGHT_FIX));

    assert!(report.validated, "{report:#?}");
    assert_eq!(report.outcome, Some(CrashOutcome::Fixed));
    assert_eq!(report.outcome_words(), "fixes the crash");
    let tests = report.tests.as_ref().unwrap();
    assert_eq!(tests.per_test.as_deref(), Some("unittest"));
    assert_eq!(tests.broken, Vec::<String>::new());
    assert_eq!(tests.still_failing, vec!["tests.test_pages.PageTest.test_an_unrelated_known_bug".to_owned()]);
    assert_eq!(tests.fixed, vec!["tests.test_pages.PageTest.test_a_page_past_the_end_has_no_first_item".to_owned()]);
    let detail = &rung(&report, "No test").detail;
    assert!(
        detail.contains(
            "the change makes 1 test (`tests.test_pages.PageTest.test_a_page_past_the_end_has_no_first_item`) pass"
        ),
        "{detail}"
    );
    assert!(detail.contains("already failed before the change and still fail (not counted against it)"), "{detail}");
    assert!(rung(&report, "The crash reproduces").detail.contains("the reproduction succeeds"));
}

#[test]
fn a_change_that_turns_the_crash_into_another_error_is_converted_not_validated() {
    let workspace = project(&format!("{REPRODUCE}\n{UNITTEST}"));
    let converting = "    if start >= len(items):\n        raise ValueError(f\"page {number} is past the end\")\n    return items[start]\n";
    let report = validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", converting));

    assert!(!report.validated);
    assert_eq!(report.outcome, Some(CrashOutcome::Converted));
    assert_eq!(report.outcome_words(), "turns the crash into ValueError");
    let reproduce = rung(&report, "The crash reproduces");
    assert_eq!(reproduce.outcome, RungOutcome::Failed);
    assert!(
        reproduce.detail.contains("the crash turns into ValueError, raised by the changed code"),
        "{}",
        reproduce.detail
    );
}

#[test]
fn a_change_that_makes_the_program_hang_is_not_fixed() {
    let workspace =
        project("reproduce = \"python3 -m app.cli 3\"\ntest = \"python3 -m unittest -q\"\ntimeout_secs = 3");
    let hanging = "    while start >= len(items):\n        pass\n    return items[start]\n";
    let report = validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", hanging));

    assert!(!report.validated);
    assert_eq!(report.outcome, Some(CrashOutcome::NotFixed));
    let reproduce = rung(&report, "The crash reproduces");
    assert!(reproduce.detail.contains("the reproduction ran out of time"), "{}", reproduce.detail);
}

#[test]
fn a_change_that_moves_the_crash_elsewhere_is_not_fixed() {
    let workspace = project(&format!("{REPRODUCE}\n{UNITTEST}"));
    // `page` now returns None past the end, and the caller, unchanged, dies on it.
    let fix = change("app/pages.py", "    return items[start]\n", RIGHT_FIX);
    write(
        workspace.path(),
        "app/cli.py",
        &CLI.replace("print(\"page:\", shown)", "print(\"page:\", shown.bit_length())"),
    );
    let report = validate(workspace.path(), &fix);

    assert!(!report.validated);
    assert_eq!(report.outcome, Some(CrashOutcome::NotFixed));
    let reproduce = rung(&report, "The crash reproduces");
    assert!(reproduce.detail.contains("crashes with another error, AttributeError"), "{}", reproduce.detail);
    assert!(reproduce.detail.contains("app/cli.py"), "{}", reproduce.detail);
}

#[test]
fn a_change_that_breaks_a_passing_test_is_not_validated_and_the_test_is_named() {
    let workspace = project(&format!("{REPRODUCE}\n{UNITTEST}"));
    // The reproduction succeeds, but the first page no longer starts with the first item.
    let report = validate(
        workspace.path(),
        &change(
            "app/pages.py",
            "    return items[start]\n",
            "    return items[start - 1] if start < len(items) else None\n",
        ),
    );

    assert_eq!(report.outcome, Some(CrashOutcome::Fixed));
    assert!(!report.validated);
    let tests = report.tests.as_ref().unwrap();
    assert_eq!(
        tests.broken,
        vec!["tests.test_pages.PageTest.test_the_first_page_starts_with_the_first_item".to_owned()]
    );
    let rung = rung(&report, "No test");
    assert_eq!(rung.outcome, RungOutcome::Failed);
    assert!(rung.detail.contains("passed before the change and fail after it"), "{}", rung.detail);
}

#[test]
fn a_missing_test_runner_is_reported_as_missing_not_as_failing_tests() {
    // A virtual environment under /tmp without pytest: the sandbox must see the venv, and say
    // that pytest is what is missing.
    let venv = tempfile::Builder::new().prefix("crashloom-venv-").tempdir_in("/tmp").unwrap();
    let made = Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(venv.path()).status().unwrap();
    assert!(made.success());
    let python = venv.path().join("bin/python");
    let workspace =
        project(&format!("reproduce = \"{0} -m app.cli 3\"\ntest = \"{0} -m pytest -q\"", python.display()));
    let report = validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", RIGHT_FIX));

    assert!(!report.validated);
    // The venv's interpreter ran the reproduction in the sandbox: it crashed before, not after.
    assert_eq!(report.outcome, Some(CrashOutcome::Fixed), "{report:#?}");
    let tests = rung(&report, "No test");
    assert_eq!(tests.outcome, RungOutcome::ToolMissing);
    assert!(tests.detail.contains("the Python module `pytest` is not installed"), "{}", tests.detail);
    assert!(tests.detail.contains("`[validate] test`"), "{}", tests.detail);
    assert!(report.tests.is_none());
}

#[test]
fn a_missing_program_is_reported_as_missing() {
    let workspace = project(&format!("{REPRODUCE}\ntest = \"no-such-test-runner --all\""));
    let report = validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", RIGHT_FIX));

    assert!(!report.validated);
    let tests = rung(&report, "No test");
    assert_eq!(tests.outcome, RungOutcome::ToolMissing);
    assert!(tests.detail.contains("`no-such-test-runner` was not found on the sandbox PATH"), "{}", tests.detail);
}

#[test]
fn a_reproduction_that_does_not_crash_before_the_change_validates_nothing() {
    let workspace = project(&format!("reproduce = \"python3 -m app.cli 0\"\n{UNITTEST}"));
    let report = validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", RIGHT_FIX));

    assert!(!report.validated);
    assert_eq!(report.outcome, None);
    let reproduce = rung(&report, "The crash reproduces");
    assert_eq!(reproduce.outcome, RungOutcome::Failed);
    assert!(
        reproduce.detail.contains("No reproduction crashes with IndexError in first_of_page"),
        "{}",
        reproduce.detail
    );
}

#[test]
fn secrets_in_command_output_are_scrubbed_from_the_report() {
    let workspace = project(&format!("{REPRODUCE}\n{UNITTEST}"));
    let report = validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", RIGHT_FIX));

    let outputs: Vec<&str> = report.rungs.iter().flat_map(|r| r.commands.iter()).map(|c| c.output.as_str()).collect();
    let all = outputs.join("\n");
    assert!(all.contains("connecting with password=[scrubbed] to the item store"), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
}

#[test]
fn changes_judged_one_after_another_in_one_copy_do_not_see_each_other() {
    let workspace = project(&format!("{REPRODUCE}\n{UNITTEST}"));
    let root = workspace.path();
    let config = Config::load(root).unwrap();
    let group = crash_group(root, &config);
    let validator = Validator { root, validate: &config.validate, sandbox: &config.sandbox };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let converting =
        "    if start >= len(items):\n        raise ValueError(\"past the end\")\n    return items[start]\n";
    let reports = runtime.block_on(async {
        let mut session = validator.session(&group, Default::default()).await.unwrap();
        assert!(session.reproduced());
        let mut reports = Vec::new();
        for fix in [
            change("app/pages.py", "    return items[start]\n", converting),
            change("app/pages.py", "    return items[start]\n", RIGHT_FIX),
            // The first change is gone again: its text is not there to replace.
            change("app/pages.py", "raise ValueError(\"past the end\")", "pass"),
        ] {
            reports.push(session.judge(&fix).await.unwrap());
        }
        session.finish().await;
        reports
    });
    assert_eq!(reports[0].outcome, Some(CrashOutcome::Converted));
    assert!(reports[1].validated, "{:#?}", reports[1]);
    assert!(!reports[2].validated);
    assert!(reports[2].rungs[0].detail.contains("does not apply"), "{}", reports[2].rungs[0].detail);
    let worktrees = Command::new("git").args(["worktree", "list"]).current_dir(root).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&worktrees.stdout).lines().count(), 1, "the sandbox copy was removed");
}

#[test]
fn a_pytest_run_with_its_default_output_reproduces_the_crash() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(python.exists(), "the test setup installs pytest into .venv (tests/setup-tools.sh)");
    let workspace = project(&format!(
        "reproduce = \"{} -m pytest -p no:cacheprovider tests/test_pages.py -k past_the_end\"\n{UNITTEST}",
        python.display()
    ));
    let report = validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", RIGHT_FIX));

    assert!(report.validated, "{report:#?}");
    let reproduce = rung(&report, "The crash reproduces");
    assert!(reproduce.commands[0].output.contains("IndexError"), "{}", reproduce.commands[0].output);
    assert!(
        reproduce.detail.contains("Before the change it crashed with IndexError in first_of_page"),
        "{}",
        reproduce.detail
    );
}

#[test]
fn a_test_command_that_finds_no_test_says_so_and_does_not_block_the_fix() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let workspace = project(&format!("{REPRODUCE}\ntest = \"{} -m pytest -q -k no_such_test\"", python.display()));
    let report = validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", RIGHT_FIX));

    let tests = rung(&report, "No test");
    assert_eq!(tests.outcome, RungOutcome::Passed, "{tests:#?}");
    assert!(tests.detail.contains("No test ran before the change"), "{}", tests.detail);
    assert!(report.validated);
}

#[test]
fn a_change_that_does_not_build_stops_the_ladder() {
    let workspace = project(&format!("{REPRODUCE}\n{UNITTEST}"));
    let report =
        validate(workspace.path(), &change("app/pages.py", "    return items[start]\n", "    return items[start\n"));

    assert!(!report.validated);
    assert_eq!(report.rungs[0].outcome, RungOutcome::Failed);
    assert_eq!(report.outcome, None);
    for rung in &report.rungs[1..] {
        assert_eq!(rung.outcome, RungOutcome::Skipped);
        assert_eq!(rung.detail, "Not reached: the change does not build.");
        assert!(
            rung.commands.iter().all(|c| c.when == "before the change"),
            "nothing ran after a change that does not build"
        );
    }
}
