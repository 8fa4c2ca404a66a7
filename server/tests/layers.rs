//! The crate's layers only point down: no module imports, directly or through others, a module
//! that imports it back. Checked on the source as it is, for the top-level modules (`crash`,
//! `workspace`, `investigate`, `lsp`, ...) and for the files inside each of them.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/` by its path (`lsp/state`, `crash`), with its source up to its tests.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    let mut folders = vec![src.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap().with_extension("");
            let mut name = relative.to_string_lossy().replace('\\', "/");
            if let Some(parent) = name.strip_suffix("/mod") {
                name = parent.to_owned();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_owned();
            found.insert(name, code);
        }
    }
    found
}

/// The modules a path names (`crate::a::b::c`, `super::b`), longest first, resolved from `module`.
fn target(modules: &BTreeMap<String, String>, module: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = Vec::new();
    match parts.first() {
        Some(&"crate") => {
            parts.remove(0);
        }
        Some(&"super") => {
            // A folder's module (`mod.rs`) is the parent of its files.
            base = module.split('/').collect();
            base.pop();
            parts.remove(0);
            while parts.first() == Some(&"super") {
                base.pop();
                parts.remove(0);
            }
        }
        _ => return None,
    }
    let mut best = None;
    let mut candidate = base;
    for part in parts {
        candidate.push(part);
        let name = candidate.join("/");
        if modules.contains_key(&name) {
            best = Some(name);
        } else {
            break;
        }
    }
    best
}

/// Which modules each module imports, at the level `level` gives (its top-level module, or its
/// file inside `folder`).
fn edges(level: impl Fn(&str) -> Option<String>) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let path = regex::Regex::new(r"\b(?:crate|super)(?:::\w+)+").unwrap();
    // `use super::{a::X, b}`: each member of a group is a path of its own.
    let group = regex::Regex::new(r"\b((?:crate|super)(?:::\w+)*)::\{([^{}]*)\}").unwrap();
    for (module, code) in &modules {
        let Some(from) = level(module) else { continue };
        let mut paths: Vec<String> = path.find_iter(code).map(|m| m.as_str().to_owned()).collect();
        for found in group.captures_iter(code) {
            for member in found[2].split(',').map(str::trim).filter(|m| !m.is_empty()) {
                paths.push(format!("{}::{member}", &found[1]));
            }
        }
        for found in &paths {
            let Some(to) = target(&modules, module, found).and_then(|t| level(&t)) else { continue };
            if to != from && !from.starts_with(&format!("{to}/")) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// The cycles: groups of modules that reach each other.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(next) = todo.pop() {
            for to in edges.get(&next).into_iter().flatten() {
                if seen.insert(to.clone()) {
                    todo.push(to.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> = edges.keys().map(|m| (m, reach(m))).collect();
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for (module, from_it) in &reached {
        if !from_it.contains(*module) {
            continue;
        }
        let group: BTreeSet<String> =
            from_it.iter().filter(|other| reached.get(other).is_some_and(|r| r.contains(*module))).cloned().collect();
        if !found.contains(&group) {
            found.push(group);
        }
    }
    found
}

#[test]
fn top_level_modules_import_only_modules_below_them() {
    let edges = edges(|module| Some(module.split('/').next().unwrap().to_owned()));
    assert!(edges["lsp"].contains("workspace"), "the check reads imports: {edges:#?}");
    assert_eq!(cycles(&edges), Vec::<BTreeSet<String>>::new(), "{edges:#?}");
}

#[test]
fn the_files_of_each_module_import_only_files_below_them() {
    for folder in ["crash", "workspace", "source", "investigate", "sandbox", "model", "publish", "lsp", "mcp"] {
        let prefix = format!("{folder}/");
        let edges = edges(|module| {
            let inside = module.strip_prefix(&prefix)?;
            Some(format!("{prefix}{}", inside.split('/').next().unwrap()))
        });
        if folder == "lsp" {
            assert!(edges["lsp/state"].contains("lsp/watch"), "the check resolves `super::`: {edges:#?}");
            assert!(edges["lsp/server"].contains("lsp/notifications"), "and groups: {edges:#?}");
        }
        assert_eq!(cycles(&edges), Vec::<BTreeSet<String>>::new(), "in {folder}/: {edges:#?}");
    }
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    edges.entry("c".into()).or_default().insert("a".into());
    edges.entry("c".into()).or_default().insert("d".into());
    let found = cycles(&edges);
    assert_eq!(found, vec![BTreeSet::from(["a".to_owned(), "b".to_owned(), "c".to_owned()])]);
}
