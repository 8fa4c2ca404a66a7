//! Crashloom's fix search on real crashes of real packages nobody here wrote
//! (`tests/fixtures/real-bugs/`). For each bug: the buggy release's sdist becomes a git workspace
//! with the captured crash, Crashloom investigates it through its library API, and the bench
//! reports whether the crash mapped, where localization put the developer's function, what the
//! search tried, whether it validated a fix, whether that fix is in the developer's function and
//! whether the fixed release's behaviour holds with it. It never fails because no fix was found;
//! only setup errors (download, extraction, git) stop it.
//!
//! `CRASHLOOM_REAL_BUGS=tabulate,sqlparse` runs the bugs whose folder name contains one of the
//! words; `CRASHLOOM_REAL_BUGS_BUDGET` is each search's time budget in seconds (default 60).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use crashloom::config::Config;
use crashloom::engine::load_workspace;
use crashloom::investigate::FixOutcome;
use crashloom::investigate::pipeline::{Investigation, Quiet, investigate};
use crashloom::sandbox::FileEdit;
use serde::Deserialize;

type Setup<T> = Result<T, String>;

#[derive(Debug, Deserialize)]
struct Bug {
    package: String,
    buggy_version: String,
    fixed_version: String,
    issue: String,
    exception: String,
    source_root: String,
    fixed_function: String,
    fixed_on_stack: bool,
    also_changed: Vec<String>,
    tests: String,
    installed_at: String,
    script_dir: String,
}

/// One bug's results.
#[derive(Default)]
struct Outcome {
    name: String,
    /// Frames of the package mapped to the workspace from the trace as captured (site-packages).
    mapped: bool,
    /// They mapped only once the trace named a deployed copy (`/srv/<package>/`).
    relocated: bool,
    on_stack: bool,
    top1: bool,
    top3: bool,
    top_location: String,
    proposed: usize,
    judged: usize,
    first_validated_ms: Option<u64>,
    elapsed_ms: u64,
    validated: bool,
    developer_function: bool,
    crash_gone: bool,
    same_output: bool,
    cause: String,
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf();
    let fixtures = repo.join("tests/fixtures/real-bugs");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo.join("target"));
    let cache = target.join("real-bugs-cache");
    let budget: u64 = std::env::var("CRASHLOOM_REAL_BUGS_BUDGET").ok().and_then(|b| b.parse().ok()).unwrap_or(60);
    let only: Vec<String> = std::env::var("CRASHLOOM_REAL_BUGS")
        .map(|s| s.split(',').map(|w| w.trim().to_owned()).filter(|w| !w.is_empty()).collect())
        .unwrap_or_default();

    if let Err(problem) = run(&fixtures, &cache, budget, &only) {
        eprintln!("real_bugs: setup failed: {problem}");
        std::process::exit(1);
    }
}

fn run(fixtures: &Path, cache: &Path, budget: u64, only: &[String]) -> Setup<()> {
    std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let cache = cache.canonicalize().map_err(|e| e.to_string())?;
    let venv = pytest_venv(&cache)?;
    let mut names: Vec<String> = std::fs::read_dir(fixtures)
        .map_err(|e| format!("{}: {e}", fixtures.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("bug.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| only.is_empty() || only.iter().any(|w| n.contains(w.as_str())))
        .collect();
    names.sort();
    println!("real bugs: {} (search budget {budget} s each)", names.len());
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for name in &names {
        let dir = fixtures.join(name);
        let text = std::fs::read_to_string(dir.join("bug.toml")).map_err(|e| format!("{name}: {e}"))?;
        let bug: Bug = toml::from_str(&text).map_err(|e| format!("{name}/bug.toml: {e}"))?;
        let outcome = investigate_bug(name, &dir, &bug, &cache, &venv, budget)?;
        println!(
            "  {name} (fixed in {}): {} {} -> top {} | {} proposed, {} judged, {} | {}",
            bug.fixed_version,
            bug.issue,
            bug.exception,
            if outcome.top_location.is_empty() { "-" } else { outcome.top_location.as_str() },
            outcome.proposed,
            outcome.judged,
            if outcome.validated { "validated" } else { "no validated fix" },
            outcome.cause
        );
        outcomes.push(outcome);
    }
    print_table(&outcomes);
    println!("total time {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A virtual environment with pytest for the packages' own tests (built once, in the cache; it
/// sees the interpreter's own site-packages, where the packages' dependencies are).
fn pytest_venv(cache: &Path) -> Setup<PathBuf> {
    let venv = cache.join("venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        command("python3", &["-m", "venv", "--system-site-packages", &venv.to_string_lossy()], cache)?;
    }
    // pytest, and what the packages' own tests import besides the package.
    if !run_ok(&python, &["-c", "import pytest, hypothesis, freezegun, pytest_lazy_fixtures"], cache) {
        let install = ["-m", "pip", "install", "-q", "pytest", "hypothesis", "freezegun", "pytest-lazy-fixtures"];
        command(&python.to_string_lossy(), &install, cache)?;
    }
    Ok(python)
}

fn investigate_bug(name: &str, dir: &Path, bug: &Bug, cache: &Path, venv: &Path, budget: u64) -> Setup<Outcome> {
    let mut outcome = Outcome { name: name.to_owned(), on_stack: bug.fixed_on_stack, ..Outcome::default() };
    let sdist = download(cache, &bug.package, &bug.buggy_version)?;
    let workspace = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = workspace.path();
    extract(&sdist, root)?;
    copy(&dir.join("reproduce.py"), &root.join("reproduce.py"))?;
    let crash = std::fs::read_to_string(dir.join("crash.txt")).map_err(|e| format!("{name}/crash.txt: {e}"))?;
    std::fs::create_dir_all(root.join(".crashloom/crashes")).map_err(|e| e.to_string())?;
    std::fs::write(root.join(".crashloom/crashes/crash.txt"), &crash).map_err(|e| e.to_string())?;
    let source_root = if bug.source_root.is_empty() { String::new() } else { format!("{}/", bug.source_root) };
    let test = if !bug.tests.is_empty() && root.join(&bug.tests).exists() {
        // A package under src/ is imported from there, as its own test setup does.
        let path =
            if bug.source_root.is_empty() { String::new() } else { format!(" -o pythonpath={}", bug.source_root) };
        format!("test = \"{} -m pytest -x -q -p no:cacheprovider{path} {}\"\n", venv.display(), bug.tests)
    } else {
        String::new()
    };
    let settings = |installed_at: &str| {
        format!(
            "[validate]\nreproduce = \"python3 reproduce.py\"\n{test}timeout_secs = 120\n\n\
             [search]\ntime_budget_secs = {budget}\n\n\
             [mapping]\nroots = [{{ from = \"{installed_at}\", to = \"{source_root}\" }}, {{ from = \"{}\", to = \"\" }}]\n\n\
             [sandbox]\nread_only_paths = [\"{}\"]\n",
            bug.script_dir,
            cache.display()
        )
    };
    let write = |path: &str, text: &str| std::fs::write(root.join(path), text).map_err(|e| format!("{path}: {e}"));
    write("crashloom.toml", &settings(&bug.installed_at))?;
    git(root, &["init", "-q"])?;
    // Everything the sdist ships is the package, including what the project's .gitignore names
    // (`*.egg-info` that packages reading their own version need, a generated `_version.py`):
    // the validation copy is made from git.
    git(root, &["add", "-A", "-f"])?;
    git(root, &["commit", "-q", "-m", &format!("{} {}", bug.package, bug.buggy_version)])?;

    // The crash as captured: its package frames run through site-packages.
    let in_package =
        |group: &crashloom::workspace::sites::CrashGroup| group.sites.iter().any(|s| s.path != "reproduce.py");
    let load = || -> Setup<Option<crashloom::workspace::sites::CrashGroup>> {
        let config = Config::load(root).map_err(|e| format!("{name}: crashloom.toml: {e}"))?;
        let loaded = load_workspace(root, &config).map_err(|e| format!("{name}: {e}"))?;
        Ok(loaded.picture.groups.first().map(|group| crashloom::workspace::sites::CrashGroup::clone(group)))
    };
    let Some(mut group) = load()? else {
        outcome.cause = "the crash file was not read as a crash".to_owned();
        return Ok(outcome);
    };
    outcome.mapped = in_package(&group);
    if !outcome.mapped {
        // The same trace as a deployed copy of the package would print it (`/srv/<package>/`),
        // mapped by the same kind of root, so that the search has the package's frames to work on.
        let deployed = format!("/srv/{}/", bug.package);
        write(".crashloom/crashes/crash.txt", &crash.replace(&bug.installed_at, &deployed))?;
        write("crashloom.toml", &settings(&deployed))?;
        match load()? {
            Some(relocated) if in_package(&relocated) => {
                outcome.relocated = true;
                group = relocated;
            }
            _ => {
                outcome.cause = "no frame of the package mapped to the workspace".to_owned();
                return Ok(outcome);
            }
        }
    }
    let config = Config::load(root).map_err(|e| format!("{name}: crashloom.toml: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let investigation =
        match runtime.block_on(investigate(root.to_path_buf(), group, Arc::new(config), Arc::new(Quiet))) {
            Ok(investigation) => investigation,
            Err(problem) => {
                outcome.cause = format!("the investigation stopped: {problem}");
                return Ok(outcome);
            }
        };

    // The whole story, for reading why a bug ended as it did.
    let reports = cache.join("reports");
    std::fs::create_dir_all(&reports).map_err(|e| e.to_string())?;
    std::fs::write(reports.join(format!("{name}.txt")), crashloom::investigate::report::render(&investigation))
        .map_err(|e| e.to_string())?;

    let developer: Vec<(String, String)> = std::iter::once(&bug.fixed_function)
        .chain(&bug.also_changed)
        .map(|f| workspace_function(&source_root, f))
        .collect();
    let is_developers = |path: &str, function: Option<&str>| {
        developer.iter().any(|(p, f)| p == path && function.is_some_and(|g| bare(g) == f))
    };
    if let Some(top) = investigation.localization.first() {
        outcome.top_location = top.label();
    }
    if bug.fixed_on_stack {
        outcome.top1 =
            investigation.localization.first().is_some_and(|l| is_developers(&l.path, l.function.as_deref()));
        outcome.top3 = investigation.localization.iter().take(3).any(|l| is_developers(&l.path, l.function.as_deref()));
    }
    if let Some(summary) = &investigation.search {
        outcome.proposed = summary.proposed;
        outcome.judged = summary.judged;
        outcome.first_validated_ms = summary.first_validated_ms;
        outcome.elapsed_ms = summary.elapsed_ms;
    }
    outcome.validated = investigation.is_validated();
    if outcome.validated {
        let best = &investigation.candidates[0].candidate;
        let (path, function) = best.location.rsplit_once(':').unwrap_or((best.location.as_str(), ""));
        outcome.developer_function = is_developers(path, Some(function));
        let expected = std::fs::read_to_string(dir.join("fixed-output.txt")).unwrap_or_default();
        let (gone, output) = apply_and_reproduce(root, &investigation)?;
        outcome.crash_gone = gone;
        outcome.same_output = gone && output == expected;
    }
    outcome.cause = cause(&investigation, &outcome);
    Ok(outcome)
}

/// Why the bug ended as it did, in a few words, from what the search reports.
fn cause(investigation: &Investigation, outcome: &Outcome) -> String {
    if outcome.validated {
        let family = &investigation.candidates[0].candidate.family;
        return format!(
            "validated ({family}) in {}{}",
            investigation.candidates[0].candidate.location,
            if outcome.same_output {
                ", same output as the fixed release"
            } else {
                ", output differs from the fixed release"
            }
        );
    }
    if investigation.candidates.is_empty() {
        let reason = match &investigation.fix {
            FixOutcome::NoConfidentFix { reason } => reason.clone(),
            FixOutcome::Proposed { .. } => String::new(),
        };
        return format!("no candidate: {}", first_sentence(&reason));
    }
    let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut families: BTreeMap<&str, usize> = BTreeMap::new();
    for candidate in &investigation.candidates {
        *verdicts.entry(candidate.outcome_words()).or_default() += 1;
        *families.entry(candidate.candidate.family.as_str()).or_default() += 1;
    }
    let list = |m: &BTreeMap<&str, usize>| m.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ");
    format!("candidates {} -> {}", list(&families), list(&verdicts))
}

fn first_sentence(text: &str) -> &str {
    let end = text.find(". ").map(|i| i + 1).unwrap_or(text.len()).min(160);
    text.get(..end).unwrap_or(text)
}

/// Applies the proposed change to the workspace and runs the reproduction for real: whether it
/// now succeeds, and what it printed.
fn apply_and_reproduce(root: &Path, investigation: &Investigation) -> Setup<(bool, String)> {
    let FixOutcome::Proposed { fix } = &investigation.fix else { return Ok((false, String::new())) };
    for change in &fix.changes {
        let path = root.join(&change.path);
        match &change.edit {
            FileEdit::Replace { old, new } => {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", change.path))?;
                std::fs::write(&path, text.replacen(old.as_str(), new, 1)).map_err(|e| e.to_string())?;
            }
            FileEdit::Write { content } => std::fs::write(&path, content).map_err(|e| e.to_string())?,
            FileEdit::Delete => std::fs::remove_file(&path).map_err(|e| e.to_string())?,
        }
    }
    let output = Command::new("python3")
        .arg("reproduce.py")
        .current_dir(root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    Ok((output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned()))
}

/// `path:Class.function` below the source root, as a workspace path and the bare function name
/// (frames name functions without their class).
fn workspace_function(source_root: &str, function: &str) -> (String, String) {
    let (path, name) = function.rsplit_once(':').unwrap_or((function, ""));
    (format!("{source_root}{path}"), bare(name).to_owned())
}

fn bare(function: &str) -> &str {
    function.rsplit('.').next().unwrap_or(function)
}

/// The buggy release's sdist, downloaded once into the cache.
fn download(cache: &Path, package: &str, version: &str) -> Setup<PathBuf> {
    let dir = cache.join("sdists").join(format!("{package}-{version}"));
    let existing = |dir: &Path| -> Option<PathBuf> {
        std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".tar.gz") || name.ends_with(".zip") || name.ends_with(".tar.bz2")
        })
    };
    if let Some(found) = existing(&dir) {
        return Ok(found);
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let spec = format!("{package}=={version}");
    command(
        "python3",
        &["-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "--no-build-isolation", &spec, "-d", "."],
        &dir,
    )
    .or_else(|_| {
        command(
            "python3",
            &["-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", &spec, "-d", "."],
            &dir,
        )
    })?;
    existing(&dir).ok_or_else(|| format!("pip downloaded no sdist of {spec}"))
}

/// Unpacks the sdist so that its top folder's contents are the workspace.
fn extract(sdist: &Path, root: &Path) -> Setup<()> {
    let unpacked = root.join(".unpacked");
    std::fs::create_dir_all(&unpacked).map_err(|e| e.to_string())?;
    let archive = sdist.to_string_lossy().into_owned();
    if archive.ends_with(".zip") {
        command("unzip", &["-q", &archive, "-d", &unpacked.to_string_lossy()], root)?;
    } else {
        command("tar", &["xf", &archive, "-C", &unpacked.to_string_lossy()], root)?;
    }
    let top: Vec<PathBuf> =
        std::fs::read_dir(&unpacked).map_err(|e| e.to_string())?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    let [top] = top.as_slice() else { return Err(format!("{archive}: not one top folder")) };
    for entry in std::fs::read_dir(top).map_err(|e| e.to_string())?.filter_map(|e| e.ok()) {
        std::fs::rename(entry.path(), root.join(entry.file_name())).map_err(|e| e.to_string())?;
    }
    std::fs::remove_dir_all(&unpacked).map_err(|e| e.to_string())
}

fn copy(from: &Path, to: &Path) -> Setup<()> {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| format!("{}: {e}", from.display()))
}

fn git(root: &Path, args: &[&str]) -> Setup<()> {
    let mut all =
        vec!["-c", "user.name=Real Bugs", "-c", "user.email=real-bugs@example.com", "-c", "commit.gpgsign=false"];
    all.extend_from_slice(args);
    command("git", &all, root)
}

fn command(program: &str, args: &[&str], dir: &Path) -> Setup<()> {
    let output = Command::new(program).args(args).current_dir(dir).output().map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

fn run_ok(program: &Path, args: &[&str], dir: &Path) -> bool {
    Command::new(program).args(args).current_dir(dir).output().is_ok_and(|o| o.status.success())
}

fn print_table(outcomes: &[Outcome]) {
    let yes = |b: bool| if b { "yes" } else { "no" };
    let ms = |m: Option<u64>| m.map(|m| format!("{:.1}", m as f64 / 1000.0)).unwrap_or_else(|| "-".to_owned());
    println!();
    println!(
        "{:<36} {:>6} {:>5} {:>5} {:>5} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7} {:>9}",
        "bug",
        "mapped",
        "stack",
        "top1",
        "top3",
        "proposed",
        "judged",
        "first s",
        "end s",
        "validated",
        "dev fn",
        "same out"
    );
    for o in outcomes {
        println!(
            "{:<36} {:>6} {:>5} {:>5} {:>5} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7} {:>9}",
            o.name,
            if o.mapped {
                "yes"
            } else if o.relocated {
                "/srv"
            } else {
                "no"
            },
            yes(o.on_stack),
            if o.on_stack { yes(o.top1) } else { "-" },
            if o.on_stack { yes(o.top3) } else { "-" },
            o.proposed,
            o.judged,
            ms(o.first_validated_ms),
            format!("{:.1}", o.elapsed_ms as f64 / 1000.0),
            yes(o.validated),
            if o.validated { yes(o.developer_function) } else { "-" },
            if o.validated { yes(o.same_output) } else { "-" },
        );
    }
    let n = outcomes.len().max(1) as f64;
    let stack: Vec<&Outcome> = outcomes.iter().filter(|o| o.on_stack).collect();
    let s = stack.len().max(1) as f64;
    let pct = |count: usize, of: f64| format!("{:.0}%", 100.0 * count as f64 / of);
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    println!();
    println!(
        "bugs: {}; package frames mapped from the trace as captured (site-packages): {}; only once relocated to /srv/<package>/: {}",
        outcomes.len(),
        count(&|o| o.mapped),
        count(&|o| o.relocated)
    );
    println!(
        "localization (developer's function on the stack, {} bugs): top-1 {}, top-3 {}",
        stack.len(),
        pct(stack.iter().filter(|o| o.top1).count(), s),
        pct(stack.iter().filter(|o| o.top3).count(), s)
    );
    println!(
        "validated: {} ({}); validated and in the developer's function: {} ({}); validated with the fixed release's output: {} ({})",
        count(&|o| o.validated),
        pct(count(&|o| o.validated), n),
        count(&|o| o.validated && o.developer_function),
        pct(count(&|o| o.validated && o.developer_function), n),
        count(&|o| o.validated && o.same_output),
        pct(count(&|o| o.validated && o.same_output), n),
    );
    println!(
        "candidates: {} proposed, {} judged",
        outcomes.iter().map(|o| o.proposed).sum::<usize>(),
        outcomes.iter().map(|o| o.judged).sum::<usize>()
    );
}
