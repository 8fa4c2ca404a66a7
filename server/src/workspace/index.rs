//! The workspace file index: every file of the workspace as a `/`-separated path relative to the
//! root, found by exact path, by file name, or by parent folder and file name, in constant time.
//!
//! The index honours `.gitignore`, `.ignore` and `.git/info/exclude` (also outside a git
//! repository), includes dotfiles (a crash can come from `.github/scripts/deploy.py`), and skips the
//! version-control folders themselves. It is built once with the parallel walker and then kept up to
//! date path by path from the editor's file events.
//!
//! Every path is stored once; the three lookup tables hold 32-bit ids keyed by a hash of the path,
//! the file name, or the last two components. That keeps 100,000 files at a few megabytes and lets
//! the mapper look up a path given as components without joining them into a `String` first.

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ignore::gitignore::Gitignore;
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

/// Folders that belong to a version-control system, never to the workspace's files.
const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn", ".jj"];

/// Every file of the workspace, as `/`-separated paths relative to the root.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceIndex {
    /// The folder the paths are relative to. Build with [`WorkspaceIndex::build`] or
    /// [`WorkspaceIndex::empty`], which also note where symlinks in it lead.
    pub root: PathBuf,
    /// The root with symlinks resolved, when it differs from `root` (`/tmp` on macOS).
    canonical_root: Option<PathBuf>,
    /// Paths by id; `None` marks the slot of a removed file, reused by the next insert.
    paths: Vec<Option<Box<str>>>,
    free: Vec<u32>,
    len: usize,
    by_path: IdTable,
    by_name: IdTable,
    by_parent_and_name: IdTable,
}

impl WorkspaceIndex {
    /// Walks `root` (in parallel) and indexes every file the ignore rules let through.
    pub fn build(root: &Path) -> io::Result<Self> {
        let metadata = std::fs::metadata(root)?;
        if !metadata.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, format!("{} is not a folder", root.display())));
        }
        let mut collector = Collector { root, found: Arc::new(Mutex::new(Vec::new())) };
        walker(root).threads(0).build_parallel().visit(&mut collector);

        let batches = std::mem::take(&mut *collector.found.lock().unwrap_or_else(PoisonError::into_inner));
        let mut index = Self::empty(root);
        let total = batches.iter().map(Vec::len).sum();
        index.reserve(total);
        for path in batches.into_iter().flatten() {
            index.insert_owned(path);
        }
        Ok(index)
    }

    /// An index of `root` with no files; fill it with [`WorkspaceIndex::insert`].
    pub fn empty(root: &Path) -> Self {
        let canonical_root = std::fs::canonicalize(root).ok().filter(|c| c != root);
        Self { root: root.to_path_buf(), canonical_root, ..Self::default() }
    }

    /// An index of the given relative paths, without touching the disk (besides resolving `root`).
    pub fn from_paths<S: AsRef<str>>(root: &Path, paths: impl IntoIterator<Item = S>) -> Self {
        let mut index = Self::empty(root);
        for path in paths {
            index.insert(path.as_ref());
        }
        index
    }

    /// The root as given and, when it differs, with symlinks resolved.
    pub fn roots(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.root.as_path()).chain(self.canonical_root.as_deref())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every indexed path, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().filter_map(|p| p.as_deref())
    }

    /// Whether `relative` (`/`-separated, relative to the root) is a file of the workspace.
    pub fn contains(&self, relative: &str) -> bool {
        self.find(relative).is_some()
    }

    /// The stored path equal to `relative`.
    pub fn find(&self, relative: &str) -> Option<&str> {
        self.find_components(relative.split('/'))
    }

    /// The stored path whose components are exactly `components`, without joining them first.
    pub fn find_components<'c>(&self, components: impl Iterator<Item = &'c str> + Clone) -> Option<&str> {
        let key = hash_components(components.clone());
        self.by_path.get(key).iter().filter_map(|&id| self.path(id)).find(|path| path.split('/').eq(components.clone()))
    }

    /// Every file whose last component is `name`.
    pub fn files_named<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.by_name
            .get(hash_str(name))
            .iter()
            .filter_map(|&id| self.path(id))
            .filter(move |p| shared_trailing_components(p, &[name]) == 1)
    }

    /// Every file named `name` directly inside a folder named `parent` (anywhere in the workspace).
    pub fn files_in_folder_named<'a, 'n>(
        &'a self,
        parent: &'n str,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        let key = hash_components([parent, name].into_iter());
        self.by_parent_and_name
            .get(key)
            .iter()
            .filter_map(|&id| self.path(id))
            .filter(move |p| shared_trailing_components(p, &[parent, name]) == 2)
    }

    /// Adds a file by its relative path (`/` or `\` separated). Returns false when it was already
    /// indexed or the path is not a plain relative path inside the root.
    pub fn insert(&mut self, relative: &str) -> bool {
        let Some(normalized) = normalize_relative(relative) else {
            tracing::debug!(path = relative, "not indexed: not a relative path inside the workspace");
            return false;
        };
        if self.contains(&normalized) {
            return false;
        }
        self.insert_owned(normalized);
        true
    }

    /// Removes a file by its relative path. Returns whether it was indexed.
    pub fn remove(&mut self, relative: &str) -> bool {
        let Some(normalized) = normalize_relative(relative) else {
            return false;
        };
        let key = hash_str(&normalized);
        let Some(id) = self.by_path.get(key).iter().copied().find(|&id| self.path(id) == Some(normalized.as_str()))
        else {
            return false;
        };
        self.by_path.remove(key, id);
        self.by_name.remove(hash_str(file_name(&normalized)), id);
        if let Some((parent, name)) = last_two(&normalized) {
            self.by_parent_and_name.remove(hash_components([parent, name].into_iter()), id);
        }
        self.paths[id as usize] = None;
        self.free.push(id);
        self.len -= 1;
        true
    }

    /// Removes every file under the folder `relative` (a folder deleted in one event).
    pub fn remove_folder(&mut self, relative: &str) -> usize {
        let Some(folder) = normalize_relative(relative) else {
            return 0;
        };
        let prefix = format!("{folder}/");
        let doomed: Vec<String> = self.iter().filter(|p| p.starts_with(&prefix)).map(str::to_owned).collect();
        doomed.iter().filter(|p| self.remove(p)).count()
    }

    /// The workspace-relative form of an absolute file path, when it lies inside the root.
    pub fn relative_path(&self, absolute: &Path) -> Option<String> {
        let rest = self.roots().find_map(|root| absolute.strip_prefix(root).ok())?;
        let mut out = String::new();
        for component in rest.components() {
            let Component::Normal(part) = component else {
                return None;
            };
            let Some(part) = part.to_str() else {
                tracing::debug!(path = %absolute.display(), "not indexed: the path is not UTF-8");
                return None;
            };
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(part);
        }
        (!out.is_empty()).then_some(out)
    }

    /// Adds a file the editor reported as created, unless the workspace's ignore files exclude it
    /// (the root's and every enclosing folder's `.gitignore` and `.ignore`, `.git/info/exclude`).
    pub fn insert_created(&mut self, absolute: &Path) -> bool {
        let Some(relative) = self.relative_path(absolute) else {
            return false;
        };
        if relative.split('/').any(|c| VCS_DIRS.contains(&c)) || self.is_ignored(&relative) {
            return false;
        }
        self.insert(&relative)
    }

    /// Removes a file (or every file of a folder) the editor reported as deleted.
    pub fn remove_deleted(&mut self, absolute: &Path) -> usize {
        let Some(relative) = self.relative_path(absolute) else {
            return 0;
        };
        if self.remove(&relative) { 1 } else { self.remove_folder(&relative) }
    }

    /// Whether the ignore files of the workspace exclude `relative`; the deepest folder with a rule
    /// for the path decides, as in git.
    fn is_ignored(&self, relative: &str) -> bool {
        let mut folders: Vec<PathBuf> = vec![self.root.clone()];
        let mut parts: Vec<&str> = relative.split('/').collect();
        parts.pop();
        for part in parts {
            let next = folders.last().map(|f| f.join(part)).unwrap_or_default();
            folders.push(next);
        }
        let file = self.root.join(relative);
        for folder in folders.iter().rev() {
            let mut files = vec![folder.join(".ignore"), folder.join(".gitignore")];
            if folder == &self.root {
                files.push(folder.join(".git/info/exclude"));
            }
            for ignore_file in files.iter().filter(|f| f.is_file()) {
                let (matcher, _) = Gitignore::new(ignore_file);
                let matched = matcher.matched_path_or_any_parents(&file, false);
                if matched.is_ignore() {
                    return true;
                }
                if matched.is_whitelist() {
                    return false;
                }
            }
        }
        false
    }

    fn path(&self, id: u32) -> Option<&str> {
        self.paths.get(id as usize).and_then(|p| p.as_deref())
    }

    fn reserve(&mut self, additional: usize) {
        self.paths.reserve(additional);
        self.by_path.0.reserve(additional);
        self.by_name.0.reserve(additional);
        self.by_parent_and_name.0.reserve(additional);
    }

    /// Adds a normalized path that is known not to be indexed yet.
    fn insert_owned(&mut self, path: String) {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.paths.push(None);
                u32::try_from(self.paths.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.by_path.insert(hash_str(&path), id);
        self.by_name.insert(hash_str(file_name(&path)), id);
        if let Some((parent, name)) = last_two(&path) {
            self.by_parent_and_name.insert(hash_components([parent, name].into_iter()), id);
        }
        self.paths[id as usize] = Some(path.into_boxed_str());
        self.len += 1;
    }
}

/// The last component of a `/`-separated path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// How many trailing components the `/`-separated `path` shares with `components`:
/// `shop/orders.py` and `[app, shop, orders.py]` share 2. Compares bytes from the end, without
/// splitting the path.
pub fn shared_trailing_components(path: &str, components: &[&str]) -> usize {
    let mut rest = path;
    let mut shared = 0;
    for component in components.iter().rev() {
        let Some(before) = rest.strip_suffix(component) else {
            break;
        };
        if before.is_empty() {
            return shared + 1;
        }
        let Some(before) = before.strip_suffix('/') else {
            break;
        };
        shared += 1;
        rest = before;
    }
    shared
}

/// The parent folder's name and the file name, when the path has a parent.
fn last_two(path: &str) -> Option<(&str, &str)> {
    let mut parts = path.rsplit('/');
    let name = parts.next()?;
    let parent = parts.next()?;
    Some((parent, name))
}

/// `a\b/./c` → `a/b/c`; `None` for absolute paths, `..`, or nothing at all.
fn normalize_relative(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return None,
            part if part.ends_with(':') => return None,
            part => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(part);
            }
        }
    }
    (!out.is_empty() && !path.starts_with(['/', '\\'])).then_some(out)
}

/// How the workspace's files are walked, by the index and by Code Search alike: what the ignore
/// rules (`.gitignore` and `.ignore`, with or without git) let through, hidden files included,
/// without following symlinks, never into version-control folders or Crashloom's own folder.
pub fn walker(root: &Path) -> WalkBuilder {
    let mut walker = WalkBuilder::new(root);
    walker
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| !is_vcs_dir(entry) && !is_own_dir(entry));
    walker
}

/// `.crashloom/` at the root: crash files, reports and the store, not code.
fn is_own_dir(entry: &DirEntry) -> bool {
    entry.depth() == 1 && entry.file_name() == ".crashloom" && entry.file_type().is_some_and(|t| t.is_dir())
}

fn is_vcs_dir(entry: &DirEntry) -> bool {
    entry.depth() > 0
        && entry.file_type().is_some_and(|t| t.is_dir())
        && entry.file_name().to_str().is_some_and(|n| VCS_DIRS.contains(&n))
}

/// FNV-1a over the components joined by `/`, so a path split into components hashes like the
/// joined string. Stable and fast for short keys; collisions are resolved by comparing strings.
fn hash_components<'c>(components: impl Iterator<Item = &'c str>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (i, component) in components.enumerate() {
        if i > 0 {
            feed(b"/");
        }
        feed(component.as_bytes());
    }
    hash
}

fn hash_str(path: &str) -> u64 {
    hash_components(std::iter::once(path))
}

/// Ids by key; most keys have one id, which is then stored inline.
#[derive(Debug, Clone, Default)]
struct IdTable(HashMap<u64, Ids>);

#[derive(Debug, Clone)]
enum Ids {
    One(u32),
    Many(Vec<u32>),
}

impl IdTable {
    fn get(&self, key: u64) -> &[u32] {
        match self.0.get(&key) {
            Some(Ids::One(id)) => std::slice::from_ref(id),
            Some(Ids::Many(ids)) => ids,
            None => &[],
        }
    }

    fn insert(&mut self, key: u64, id: u32) {
        let Some(slot) = self.0.get_mut(&key) else {
            self.0.insert(key, Ids::One(id));
            return;
        };
        match slot {
            Ids::One(first) => {
                let first = *first;
                *slot = Ids::Many(vec![first, id]);
            }
            Ids::Many(ids) => ids.push(id),
        }
    }

    fn remove(&mut self, key: u64, id: u32) {
        let Some(slot) = self.0.get_mut(&key) else {
            return;
        };
        match slot {
            Ids::One(existing) if *existing == id => {
                self.0.remove(&key);
            }
            Ids::One(_) => {}
            Ids::Many(ids) => {
                ids.retain(|&i| i != id);
                if let [only] = ids[..] {
                    *slot = Ids::One(only);
                }
            }
        }
    }
}

/// Gathers the walk's files: every walker thread fills its own batch and hands it over when done.
struct Collector<'r> {
    root: &'r Path,
    found: Arc<Mutex<Vec<Vec<String>>>>,
}

impl<'s> ParallelVisitorBuilder<'s> for Collector<'_> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(CollectorThread { root: self.root.to_path_buf(), batch: Vec::new(), found: Arc::clone(&self.found) })
    }
}

struct CollectorThread {
    root: PathBuf,
    batch: Vec<String>,
    found: Arc<Mutex<Vec<Vec<String>>>>,
}

impl ParallelVisitor for CollectorThread {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                tracing::debug!(%error, "skipped while indexing the workspace");
                return WalkState::Continue;
            }
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            return WalkState::Continue;
        }
        let Ok(relative) = entry.path().strip_prefix(&self.root) else {
            return WalkState::Continue;
        };
        match relative.to_str() {
            Some(relative) if std::path::MAIN_SEPARATOR == '/' => self.batch.push(relative.to_owned()),
            Some(relative) => self.batch.push(relative.replace(std::path::MAIN_SEPARATOR, "/")),
            None => tracing::debug!(path = %entry.path().display(), "not indexed: the path is not UTF-8"),
        }
        WalkState::Continue
    }
}

impl Drop for CollectorThread {
    fn drop(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        self.found.lock().unwrap_or_else(PoisonError::into_inner).push(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("create folders");
        std::fs::write(path, text).expect("write file");
    }

    fn sorted(index: &WorkspaceIndex) -> Vec<&str> {
        let mut paths: Vec<&str> = index.iter().collect();
        paths.sort_unstable();
        paths
    }

    #[test]
    fn indexes_the_files_git_would_track() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, ".gitignore", "target/\n*.log\n!keep.log\n");
        write(root, "shop/orders.py", "");
        write(root, "shop/.ignore", "generated.py\n");
        write(root, "shop/generated.py", "");
        write(root, "target/debug/app", "");
        write(root, "debug.log", "");
        write(root, "keep.log", "");
        write(root, ".github/scripts/deploy.py", "");
        write(root, ".git/HEAD", "ref: refs/heads/main\n");

        let index = WorkspaceIndex::build(root).expect("index");
        assert_eq!(
            sorted(&index),
            [".github/scripts/deploy.py", ".gitignore", "keep.log", "shop/.ignore", "shop/orders.py"]
        );
        assert_eq!(index.len(), 5);
    }

    #[test]
    fn finds_files_by_path_name_and_folder() {
        let index = WorkspaceIndex::from_paths(
            Path::new("/ws"),
            ["shop/orders.py", "billing/orders.py", "shop/models.py", "orders.py"],
        );
        assert!(index.contains("shop/orders.py"));
        assert_eq!(index.find_components(["shop", "orders.py"].into_iter()), Some("shop/orders.py"));
        assert!(!index.contains("orders"));
        let mut named: Vec<&str> = index.files_named("orders.py").collect();
        named.sort_unstable();
        assert_eq!(named, ["billing/orders.py", "orders.py", "shop/orders.py"]);
        assert_eq!(index.files_in_folder_named("shop", "orders.py").collect::<Vec<_>>(), ["shop/orders.py"]);
        assert_eq!(shared_trailing_components("shop/orders.py", &["app", "shop", "orders.py"]), 2);
        assert_eq!(shared_trailing_components("myshop/orders.py", &["shop", "orders.py"]), 1);
        assert_eq!(shared_trailing_components("orders.py", &["orders.py"]), 1);
        assert_eq!(shared_trailing_components("a/shop/orders.py", &["shop", "orders.py"]), 2);
        assert_eq!(shared_trailing_components("shop/orders.py", &["x.py"]), 0);
    }

    #[test]
    fn follows_created_and_deleted_files() {
        let mut index = WorkspaceIndex::from_paths(Path::new("/ws"), ["shop/orders.py", "shop/models.py"]);
        assert!(index.insert("shop\\refunds.py"));
        assert!(!index.insert("shop/refunds.py"), "already indexed");
        assert!(!index.insert("../outside.py"));
        assert!(index.remove("shop/orders.py"));
        assert!(!index.remove("shop/orders.py"));
        assert_eq!(index.files_named("orders.py").count(), 0);
        assert!(index.insert("api/orders.py"), "reuses the freed slot");
        assert_eq!(sorted(&index), ["api/orders.py", "shop/models.py", "shop/refunds.py"]);
        assert_eq!(index.remove_deleted(Path::new("/ws/shop")), 2);
        assert_eq!(sorted(&index), ["api/orders.py"]);
    }

    #[test]
    fn created_files_respect_the_ignore_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, ".gitignore", "node_modules/\n");
        write(root, "web/.gitignore", "dist/\n");
        let mut index = WorkspaceIndex::build(root).expect("index");
        write(root, "web/dist/app.js", "");
        write(root, "node_modules/x/index.js", "");
        write(root, "web/src/app.js", "");
        assert!(!index.insert_created(&root.join("web/dist/app.js")));
        assert!(!index.insert_created(&root.join("node_modules/x/index.js")));
        assert!(!index.insert_created(&root.join(".git/index")));
        assert!(index.insert_created(&root.join("web/src/app.js")));
        assert!(!index.insert_created(Path::new("/elsewhere/app.js")));
        assert!(index.contains("web/src/app.js"));
    }

    #[cfg(unix)]
    #[test]
    fn skips_paths_that_are_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.py");
        std::fs::write(dir.path().join(name), "").expect("write");
        write(dir.path(), "app.py", "");
        let index = WorkspaceIndex::build(dir.path()).expect("index");
        assert_eq!(sorted(&index), ["app.py"]);
    }
}
