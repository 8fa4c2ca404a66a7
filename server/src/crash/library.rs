//! Which paths are library code: the runtime's own code (no file anywhere), a dependency folder
//! (`site-packages`, `node_modules`, `.cargo/registry`, ...), or a toolchain's standard library.
//!
//! The rule lives here, with the crash model, so that crash grouping (which only has the event)
//! and the workspace mapper (which also has the configuration) agree on it.

/// Folders that hold dependencies or a toolchain's own library: the name shown to the user, and
/// the components it stands for.
const DEPENDENCY_FOLDERS: &[(&str, &[&str])] = &[
    ("site-packages", &["site-packages"]),
    ("dist-packages", &["dist-packages"]),
    ("__pypackages__", &["__pypackages__"]),
    ("node_modules", &["node_modules"]),
    ("bower_components", &["bower_components"]),
    ("target", &["target"]),
    ("vendor", &["vendor"]),
    (".venv", &[".venv"]),
    ("venv", &["venv"]),
    (".cargo/registry", &[".cargo", "registry"]),
    (".cargo/git", &[".cargo", "git"]),
    (".rustup/toolchains", &[".rustup", "toolchains"]),
    ("pkg/mod", &["pkg", "mod"]),
];

/// Whether `path` is library code by the built-in rule and the configured dependency folders
/// (`/`-separated folder names such as `third_party` or `libs/external`).
pub fn is_library_path(path: &str, configured_folders: &[String]) -> bool {
    if is_runtime_path(path) {
        return true;
    }
    // Asked for every frame of every crash: the components of an ordinary path are collected on
    // the stack, not into a `Vec`.
    const ON_STACK: usize = 32;
    let mut buffer = [""; ON_STACK];
    let mut count = 0;
    for part in path.split(['/', '\\']).filter(|part| !part.is_empty()) {
        match buffer.get_mut(count) {
            Some(slot) => *slot = part,
            None => return dependency_folder(&components(path), configured_folders).is_some(),
        }
        count += 1;
    }
    dependency_folder(buffer.get(..count).unwrap_or_default(), configured_folders).is_some()
}

/// Code of the runtime itself, which has no file anywhere: `<frozen runpy>`, `node:internal/...`,
/// `[native code]`, `<anonymous>`.
pub fn is_runtime_path(path: &str) -> bool {
    let path = path.trim();
    path.starts_with('<')
        || path.starts_with("node:")
        || path.starts_with("[native code]")
        || path.contains("<anonymous>")
        || path == "native"
        || (path.starts_with("internal/") && [".js", ".mjs", ".cjs"].iter().any(|ext| path.ends_with(ext)))
}

/// The path's components, split at `/` and `\`, without empty ones.
pub fn components(path: &str) -> Vec<&str> {
    path.split(['/', '\\']).filter(|part| !part.is_empty()).collect()
}

/// The dependency folder a path runs through, if any: a built-in one, a configured one,
/// `rustc/<commit>/` (Rust's standard library), Go's `go/src/` under `/usr/local` or `/usr/lib`,
/// or `lib/pythonX.Y/` (Python's).
pub fn dependency_folder<'c>(components: &[&str], configured_folders: &'c [String]) -> Option<&'c str> {
    let mut python_library = false;
    for (i, part) in components.iter().enumerate() {
        let rest = &components[i..];
        let next = rest.get(1);
        if let Some((name, _)) = DEPENDENCY_FOLDERS.iter().find(|(_, folder)| rest.starts_with(folder)) {
            return Some(name);
        }
        if let Some(folder) = configured_folders.iter().find(|f| starts_with_folder(rest, f)) {
            return Some(folder);
        }
        if *part == "rustc" && next.is_some_and(|hash| hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Some("rustc");
        }
        // Go's standard library: `/usr/local/go/src/...`, Debian's `/usr/lib/go-1.19/src/...`
        // (not a GOPATH's `~/go/src/...`, which holds the user's own code).
        let previous = i.checked_sub(1).map(|p| components[p]);
        if (*part == "go" || part.starts_with("go-1"))
            && next == Some(&"src")
            && matches!(previous, Some("local" | "lib"))
        {
            return Some("Go's standard library");
        }
        let python_version =
            |p: &&str| p.strip_prefix("python").is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()));
        python_library |= *part == "lib" && next.is_some_and(python_version);
    }
    // Checked last: `lib/python3.12/site-packages` is better told as `site-packages`.
    python_library.then_some("lib/python")
}

/// Whether `components` starts with the folder `folder` (`/`-separated, one or more components).
fn starts_with_folder(components: &[&str], folder: &str) -> bool {
    let mut parts = folder.split(['/', '\\']).filter(|p| !p.is_empty());
    let mut count = 0;
    let all_match = parts.by_ref().zip(components).all(|(part, component)| {
        count += 1;
        part == *component
    });
    all_match && count > 0 && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_folders_and_runtimes() {
        for path in [
            "/usr/lib/python3.11/json/decoder.py",
            "/app/.venv/lib/python3.11/site-packages/flask/app.py",
            "/srv/node_modules/express/index.js",
            "node:internal/timers",
            "<frozen runpy>",
            "/usr/lib/go-1.19/src/testing/testing.go",
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/option.rs",
            "/home/ada/.cargo/registry/src/index.crates.io-6f17d22bba15001f/serde-1.0.0/src/de.rs",
        ] {
            assert!(is_library_path(path, &[]), "{path}");
        }
        for path in ["/srv/shop/cart.py", "src/lib.rs", "/home/ada/go/src/example.com/ledger/main.go", "lib/orders.rb"]
        {
            assert!(!is_library_path(path, &[]), "{path}");
        }
        // Deeper than the components kept on the stack: the same rule.
        let deep = format!("/srv/{}node_modules/x/index.js", "a/".repeat(40));
        assert!(is_library_path(&deep, &[]));
        assert!(!is_library_path(&format!("/srv/{}index.js", "a/".repeat(40)), &[]));
    }

    #[test]
    fn configured_folders_count_only_as_whole_components() {
        let configured = vec!["third_party".to_owned(), "libs/external".to_owned()];
        assert!(is_library_path("/srv/app/third_party/json/reader.py", &configured));
        assert!(is_library_path("libs/external/zlib.go", &configured));
        assert!(!is_library_path("/srv/app/third_party_notes/x.py", &configured));
        assert!(!is_library_path("libs/internal/x.go", &configured));
        assert!(!is_library_path("/srv/app/third_party/json/reader.py", &[]));
    }
}
