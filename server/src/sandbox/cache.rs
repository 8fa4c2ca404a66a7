//! Build caches of the real workspace that the copy reuses, so a validation does not build the
//! project from scratch and needs no network to fetch dependencies.
//!
//! - Rust: `CARGO_TARGET_DIR` points at a persistent `crashloom-sandbox` folder inside the
//!   workspace's target dir, bound writable. It is separate from the user's own build output so a
//!   sandbox build never clobbers it or waits on its lock, yet survives between validations (and
//!   goes away with `cargo clean`). The registry in `CARGO_HOME` is read-only and cargo is offline.
//! - Node: the workspace's `node_modules` is linked into the copy (read-only under bubblewrap).
//! - Python: the workspace's `.venv` or `venv` is linked into the copy and its `bin` put first on
//!   `PATH` (read-only under bubblewrap).
//! - Go: a build cache of Crashloom's own (`crashloom/go-build` in the user's cache folder), bound
//!   writable, so sandboxed builds are warm after the first yet never write into the user's
//!   `GOCACHE`; `GOMODCACHE` is read only; the proxy is off.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The caches a copy of one workspace reuses; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheReuse {
    /// The persistent Cargo target dir for sandbox builds (created before the first run).
    pub cargo_target_dir: Option<PathBuf>,
    /// The workspace's `node_modules`.
    pub node_modules: Option<PathBuf>,
    /// The workspace's virtual environment (the folder holding `pyvenv.cfg`).
    pub python_venv: Option<PathBuf>,
    pub go: Option<GoCaches>,
}

/// Go's build and module caches of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoCaches {
    /// Crashloom's own `GOCACHE` for sandboxed builds, bound writable.
    pub build_cache: PathBuf,
    /// `GOMODCACHE`, read-only.
    pub module_cache: PathBuf,
}

/// Inspects the workspace (and for Go the user's environment) for caches a copy can reuse.
pub fn detect_cache_reuse(workspace: &Path) -> CacheReuse {
    let cargo_target_dir = workspace.join("Cargo.toml").is_file().then(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|dir| if dir.is_absolute() { dir } else { workspace.join(dir) })
            .unwrap_or_else(|| workspace.join("target"));
        target.join("crashloom-sandbox")
    });
    let node_modules = Some(workspace.join("node_modules")).filter(|dir| dir.is_dir());
    let python_venv =
        [".venv", "venv"].into_iter().map(|name| workspace.join(name)).find(|dir| dir.join("pyvenv.cfg").is_file());
    let go = workspace.join("go.mod").is_file().then(go_caches).flatten();
    CacheReuse { cargo_target_dir, node_modules, python_venv, go }
}

fn go_caches() -> Option<GoCaches> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let from_env = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let build_cache = from_env("XDG_CACHE_HOME")
        .or_else(|| home.as_ref().map(|home| home.join(".cache")))?
        .join("crashloom/go-build");
    let gopath = from_env("GOPATH").or_else(|| home.as_ref().map(|home| home.join("go")))?;
    let module_cache = from_env("GOMODCACHE").unwrap_or_else(|| gopath.join("pkg/mod"));
    Some(GoCaches { build_cache, module_cache })
}

impl CacheReuse {
    /// Folders outside the copy that the sandboxed command may write to (they must exist).
    pub fn writable_dirs(&self) -> Vec<&Path> {
        let mut dirs = Vec::new();
        dirs.extend(self.cargo_target_dir.as_deref());
        dirs.extend(self.go.as_ref().map(|go| go.build_cache.as_path()));
        dirs
    }

    /// Links to create in the copy: (path relative to the workspace, what it points at).
    pub fn links(&self) -> Vec<(&'static str, &Path)> {
        let mut links = Vec::new();
        if let Some(node_modules) = &self.node_modules {
            links.push(("node_modules", node_modules.as_path()));
        }
        if let Some(venv) = &self.python_venv {
            let name = if venv.ends_with("venv") { "venv" } else { ".venv" };
            links.push((name, venv.as_path()));
        }
        links
    }

    /// Folders to put first on `PATH`.
    pub fn path_prefix(&self) -> Vec<PathBuf> {
        self.python_venv.iter().map(|venv| venv.join("bin")).collect()
    }

    /// Environment variables that point tools at the reused caches.
    pub fn environment(&self) -> Vec<(String, OsString)> {
        let mut env: Vec<(String, OsString)> = Vec::new();
        if let Some(target) = &self.cargo_target_dir {
            env.push(("CARGO_TARGET_DIR".into(), target.into()));
        }
        if let Some(venv) = &self.python_venv {
            env.push(("VIRTUAL_ENV".into(), venv.into()));
        }
        if let Some(go) = &self.go {
            env.push(("GOCACHE".into(), go.build_cache.as_os_str().into()));
            env.push(("GOMODCACHE".into(), go.module_cache.as_os_str().into()));
            env.push(("GOPROXY".into(), "off".into()));
            env.push(("GOTOOLCHAIN".into(), "local".into()));
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_and_python_workspace_reuses_node_modules_and_the_venv() -> std::io::Result<()> {
        let workspace = tempfile::tempdir()?;
        std::fs::create_dir_all(workspace.path().join("node_modules/left-pad"))?;
        std::fs::create_dir_all(workspace.path().join(".venv/bin"))?;
        std::fs::write(workspace.path().join(".venv/pyvenv.cfg"), "home = /usr/bin\n")?;

        let reuse = detect_cache_reuse(workspace.path());

        assert_eq!(reuse.node_modules, Some(workspace.path().join("node_modules")));
        assert_eq!(reuse.python_venv, Some(workspace.path().join(".venv")));
        assert_eq!(reuse.cargo_target_dir, None);
        assert_eq!(reuse.path_prefix(), vec![workspace.path().join(".venv/bin")]);
        assert_eq!(
            reuse.links(),
            vec![
                ("node_modules", workspace.path().join("node_modules").as_path()),
                (".venv", workspace.path().join(".venv").as_path())
            ]
        );
        Ok(())
    }

    #[test]
    fn a_folder_named_venv_without_pyvenv_cfg_is_not_a_venv() -> std::io::Result<()> {
        let workspace = tempfile::tempdir()?;
        std::fs::create_dir_all(workspace.path().join("venv"))?;
        assert_eq!(detect_cache_reuse(workspace.path()), CacheReuse::default());
        Ok(())
    }
}
