//! Hostile and broken crash input: the job finishes, keeps what it could read, says what it could
//! not, and never maps a frame outside the workspace.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;

use crashloom::config::Config;
use crashloom::engine::load_workspace;

fn workspace_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const APP: &str = "def handle(request):\n    return request['user']\n";

fn python_trace(path: &str, line: u32) -> String {
    format!(
        "Traceback (most recent call last):\n  File \"{path}\", line {line}, in handle\n    return request['user']\nKeyError: 'user'\n"
    )
}

#[test]
fn a_one_gibibyte_log_is_read_from_its_end() {
    let dir = workspace_with(&[("app/views.py", APP)]);
    let log_path = dir.path().join("var/app.log");
    std::fs::create_dir_all(log_path.parent().unwrap()).unwrap();
    let mut log = std::fs::File::create(&log_path).unwrap();
    // A sparse gibibyte of old log, then the newest lines with a crash at the very end.
    log.set_len((1 << 30) - (2 << 20)).unwrap();
    log.flush().unwrap();
    drop(log);
    let mut log = std::fs::OpenOptions::new().append(true).open(&log_path).unwrap();
    for i in 0..40_000 {
        writeln!(log, "2026-11-20 10:00:00,{:03} INFO [app] request {i} served", i % 1000).unwrap();
    }
    write!(log, "{}", python_trace("/srv/app/app/views.py", 2)).unwrap();
    drop(log);
    assert!(std::fs::metadata(&log_path).unwrap().len() >= 1 << 30);

    let config =
        Config::from_toml("[[source]]\nkind = \"files\"\npaths = [\"var/app.log\"]\n[diagnostics]\nmax_log_mib = 1\n")
            .unwrap();
    let loaded = load_workspace(dir.path(), &config).unwrap();
    assert_eq!(loaded.picture.groups.len(), 1, "{:?}", loaded.problems);
    let site = loaded.picture.groups[0].crash_site().unwrap();
    assert_eq!((site.path.as_str(), site.line), ("app/views.py", 2));
    assert!(
        loaded.problems.iter().any(|p| p.contains("var/app.log") && p.contains("reading only its last 1 MiB")),
        "{:?}",
        loaded.problems
    );
}

#[test]
fn a_trace_of_a_hundred_thousand_frames_is_read_whole() {
    let mut trace = String::from("Traceback (most recent call last):\n");
    for _ in 0..100_000 {
        trace.push_str("  File \"/srv/app/app/views.py\", line 2, in handle\n    return request['user']\n");
    }
    trace.push_str("RecursionError: maximum recursion depth exceeded\n");
    let dir = workspace_with(&[("app/views.py", APP), (".crashloom/crashes/deep.txt", &trace)]);
    let loaded = load_workspace(dir.path(), &Config::default()).unwrap();
    assert_eq!(loaded.picture.groups.len(), 1);
    let group = &loaded.picture.groups[0];
    assert_eq!(group.event.exceptions[0].frames.len(), 100_000);
    // One mark per line: a hundred thousand frames on one line are one site.
    assert_eq!(group.sites.len(), 1);
    assert_eq!(group.crash_site().unwrap().line, 2);
}

#[test]
fn frames_never_map_outside_the_workspace() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.py"), APP).unwrap();
    let escaping = [
        python_trace("../secret.py", 2),
        python_trace("app/../../secret.py", 2),
        python_trace(&outside.path().join("secret.py").display().to_string(), 2),
        python_trace("/etc/passwd", 1),
    ]
    .concat();
    let dir = workspace_with(&[("app/views.py", APP), (".crashloom/crashes/escape.txt", &escaping)]);
    let loaded = load_workspace(dir.path(), &Config::default()).unwrap();
    assert!(!loaded.picture.groups.is_empty());
    for group in &loaded.picture.groups {
        assert!(group.sites.is_empty(), "mapped outside: {:?}", group.sites);
        assert!(!group.unmapped.is_empty());
        for frame in &group.unmapped {
            assert!(!frame.reason.is_empty());
        }
    }
}

#[test]
fn crash_files_deleted_while_being_read_cost_nothing() {
    let dir = workspace_with(&[("app/views.py", APP)]);
    let crashes = dir.path().join(".crashloom/crashes");
    std::fs::create_dir_all(&crashes).unwrap();
    std::fs::write(crashes.join("stays.txt"), python_trace("app/views.py", 2)).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let crashes = crashes.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let path = crashes.join(format!("churn-{}.txt", i % 8));
                let _ = std::fs::write(&path, python_trace("app/views.py", 2));
                let _ = std::fs::remove_file(&path);
                i += 1;
            }
        })
    };
    for _ in 0..200 {
        let loaded = load_workspace(dir.path(), &Config::default()).unwrap();
        assert!(!loaded.picture.groups.is_empty());
        assert!(loaded.problems.iter().all(|p| !p.contains("No such file")), "{:?}", loaded.problems);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.join().unwrap();
}

#[test]
fn a_broken_config_file_is_one_sentence_naming_it() {
    let dir = workspace_with(&[("crashloom.toml", "[[source]]\nkind = \"ftp\"\n")]);
    let error = Config::load(dir.path()).unwrap_err().to_string();
    assert!(error.contains("crashloom.toml is not valid"), "{error}");
    assert!(Path::new(&dir.path().join("crashloom.toml")).exists());
}
