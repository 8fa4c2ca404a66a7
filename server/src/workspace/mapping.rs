//! Mapping a crash frame to a file of the workspace.
//!
//! A frame names its file the way the crashed process saw it: `/app/shop/orders.py` in a container,
//! `webpack:///./src/cart.js` in a bundle, `C:\build\Orders.cs` on a build agent, or only a module
//! (`shop.orders`, `com.acme.Orders`). [`map_frame_to_workspace`] tries, in order:
//!
//! 1. the configured stack roots (`from` prefix replaced by `to`, relative to the workspace root);
//! 2. an absolute path under the workspace root (a crash on this machine);
//! 3. the path as a workspace-relative path;
//! 4. the longest matching path suffix, compared component by component; the file name must match,
//!    and when several files share the longest suffix the frame is ambiguous, never guessed;
//! 5. the frame's module: a Python module, a JVM class, a Go package.
//!
//! Steps 4 and 5 guess, so they are only taken for frames that may be application code: a frame
//! whose path runs through a dependency folder (`site-packages`, `node_modules`, ...) or that its
//! source marked `in_app: false` is mapped only by steps 1 to 3 (a vendored copy in the workspace),
//! and never onto a same-named file elsewhere. Nothing maps outside the workspace.
//!
//! Mapping is pure and cheap: no I/O, lookups in the [`WorkspaceIndex`] tables, and a couple of
//! small allocations per frame.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::index::{WorkspaceIndex, shared_trailing_components};
use crate::crash::Frame;

/// How frame paths relate to the workspace (`[mapping]` in `crashloom.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MappingConfig {
    /// Prefixes the deployed code lived under, and where that code is in the workspace.
    pub roots: Vec<StackRoot>,
    /// Extra folders (`third_party`, `lib/ext`) whose files are dependencies, not application code.
    pub dependency_folders: Vec<String>,
}

/// A deployed prefix and the workspace folder it corresponds to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackRoot {
    /// The prefix as frames show it: `/app/`, `C:\build\`, `app:///`, `webpack:///`.
    pub from: String,
    /// The folder relative to the workspace root; empty for the root itself.
    #[serde(default)]
    pub to: String,
}

/// Where a frame's code is in the workspace, or why it is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameMapping {
    Mapped {
        /// Workspace-relative, `/`-separated.
        path: String,
        /// Application code (shown as a crash site) rather than a dependency.
        in_app: bool,
        matched_by: MatchKind,
    },
    Unmapped {
        reason: UnmappedReason,
    },
}

/// Which rule found the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchKind {
    /// A configured stack root; `from` is its prefix.
    StackRoot { from: String },
    /// An absolute path under the workspace root.
    AbsoluteInRoot,
    /// The frame's path is a workspace-relative path.
    Exact,
    /// The last `components` path components matched one file.
    PathSuffix { components: usize },
    /// The frame's module (Python module, JVM class, Go package) matched one file.
    Module { module: String },
}

/// Why a frame has no file in the workspace. `Display` gives a sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnmappedReason {
    /// The frame names neither a file nor a module.
    NoFile,
    /// Runtime or generated code: `<frozen importlib._bootstrap>`, `node:internal/...`,
    /// `<anonymous>`, `[native code]`.
    Runtime { path: String },
    /// Dependency code: the path runs through `folder`, or (`folder: None`) the crash source
    /// marked the frame as not application code.
    Dependency { path: String, folder: Option<String> },
    /// No workspace file matches the path or module.
    NotFound { path: Option<String>, module: Option<String> },
    /// Several workspace files match equally well. `candidates` is sorted and holds at most
    /// [`MAX_CANDIDATES`] of the `total`.
    Ambiguous { path: String, candidates: Vec<String>, total: usize },
    /// The path leaves the workspace (`..` above its root, or a stack root pointing outside).
    OutsideWorkspace { path: String },
}

/// How many ambiguous candidates are kept for the message.
pub const MAX_CANDIDATES: usize = 8;

impl FrameMapping {
    /// The workspace-relative path, when mapped.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Mapped { path, .. } => Some(path),
            Self::Unmapped { .. } => None,
        }
    }

    /// Mapped and application code.
    pub fn is_in_app(&self) -> bool {
        matches!(self, Self::Mapped { in_app: true, .. })
    }
}

impl fmt::Display for MatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StackRoot { from } => write!(f, "stack root `{from}`"),
            Self::AbsoluteInRoot => f.write_str("absolute path inside the workspace"),
            Self::Exact => f.write_str("workspace-relative path"),
            Self::PathSuffix { components: 1 } => f.write_str("file name"),
            Self::PathSuffix { components } => write!(f, "last {components} path components"),
            Self::Module { module } => write!(f, "module `{module}`"),
        }
    }
}

impl fmt::Display for UnmappedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoFile => f.write_str("the frame names no file or module"),
            Self::Runtime { path } => write!(f, "`{path}` is runtime code, not a file of the workspace"),
            Self::Dependency { path, folder: Some(folder) } => {
                write!(f, "`{path}` is dependency code (under `{folder}`), not in the workspace")
            }
            Self::Dependency { path, folder: None } => {
                write!(f, "`{path}` is library code (the crash marks it not in-app), not in the workspace")
            }
            Self::NotFound { path: Some(path), .. } => write!(
                f,
                "no workspace file matches `{path}`; if the code was deployed under another folder, add a \
                 stack root (`[[mapping.roots]]` with `from` and `to`) to crashloom.toml"
            ),
            Self::NotFound { path: None, module: Some(module) } => {
                write!(f, "no workspace file matches the module `{module}`")
            }
            Self::NotFound { path: None, module: None } => f.write_str("no workspace file matches the frame"),
            Self::Ambiguous { path, candidates, total } => {
                write!(f, "`{path}` matches {total} workspace files equally well (")?;
                for (i, candidate) in candidates.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(candidate)?;
                }
                if *total > candidates.len() {
                    write!(f, ", and {} more", total - candidates.len())?;
                }
                f.write_str("); add a stack root to crashloom.toml to choose")
            }
            Self::OutsideWorkspace { path } => write!(f, "`{path}` is outside the workspace"),
        }
    }
}

/// Maps a frame to a workspace file (see the module docs for the order of the rules).
pub fn map_frame_to_workspace(frame: &Frame, index: &WorkspaceIndex, config: &MappingConfig) -> FrameMapping {
    let mut raw_paths = frame.paths();
    let first = raw_paths.next();
    let second = raw_paths.next().filter(|p| Some(*p) != first);
    let module = frame.module.as_deref().map(str::trim).filter(|m| !m.is_empty());
    let Some(first) = first else {
        return match module {
            Some(module) if frame.in_app == Some(false) => {
                FrameMapping::Unmapped { reason: UnmappedReason::Dependency { path: module.to_owned(), folder: None } }
            }
            Some(module) => map_module(frame, module, None, index, config),
            None => FrameMapping::Unmapped { reason: UnmappedReason::NoFile },
        };
    };
    if crate::crash::library::is_runtime_path(first) {
        return FrameMapping::Unmapped { reason: UnmappedReason::Runtime { path: first.to_owned() } };
    }
    let paths: Vec<FramePath<'_>> = [Some(first), second].into_iter().flatten().map(FramePath::parse).collect();

    // Rules that read the path literally, for every frame.
    let mut failure: Option<UnmappedReason> = None;
    let mut dependency: Option<(&str, &str)> = None;
    // Paths that stay inside the workspace as far as the literal rules can tell.
    let mut guessable: Vec<&FramePath<'_>> = Vec::with_capacity(paths.len());
    for path in &paths {
        match map_path_literally(path, index, config) {
            Literal::Mapped(mapped, matched_by) => {
                // A configured root says where the application is deployed: its files are the
                // application's even inside a dependency folder (a library's own crashes, reported
                // from `site-packages`).
                let by_root = matches!(matched_by, MatchKind::StackRoot { .. });
                let in_app = frame.in_app != Some(false)
                    && (by_root || dependency_folder(&path.components, config).is_none())
                    && dependency_folder(&split(&mapped), config).is_none();
                return FrameMapping::Mapped { path: mapped, in_app, matched_by };
            }
            Literal::Outside => {
                keep_most_telling(&mut failure, UnmappedReason::OutsideWorkspace { path: path.raw.to_owned() })
            }
            Literal::NotFound { outside_part } => {
                guessable.push(path);
                if dependency.is_none() {
                    dependency = dependency_folder(&path.components[outside_part..], config).map(|f| (path.raw, f));
                }
            }
        }
    }
    if let Some((path, folder)) = dependency {
        let reason = UnmappedReason::Dependency { path: path.to_owned(), folder: Some(folder.to_owned()) };
        return FrameMapping::Unmapped { reason };
    }
    if frame.in_app == Some(false) {
        return FrameMapping::Unmapped { reason: UnmappedReason::Dependency { path: first.to_owned(), folder: None } };
    }

    // Rules that guess, for frames that may be application code.
    for path in guessable.iter().filter(|p| !p.components.is_empty()) {
        match match_suffix(index, &path.components, 1) {
            Suffix::One { path: mapped, components } => {
                return mapped_in_workspace(frame, mapped, MatchKind::PathSuffix { components }, config);
            }
            Suffix::Ambiguous { candidates, total } => keep_most_telling(
                &mut failure,
                UnmappedReason::Ambiguous { path: path.raw.to_owned(), candidates, total },
            ),
            Suffix::None => {}
        }
    }
    if let Some(module) = module {
        let by_module = map_module(frame, module, paths.first(), index, config);
        match by_module {
            FrameMapping::Mapped { .. } => return by_module,
            FrameMapping::Unmapped { reason } if failure.is_none() => failure = Some(reason),
            FrameMapping::Unmapped { .. } => {}
        }
    }
    let reason = failure.unwrap_or_else(|| UnmappedReason::NotFound { path: Some(first.to_owned()), module: None });
    FrameMapping::Unmapped { reason }
}

/// The outcome of the literal rules (stack roots, absolute under the root, relative path).
enum Literal {
    Mapped(String, MatchKind),
    /// The path leaves the workspace.
    Outside,
    /// No literal rule found the file; components from `outside_part` on are the part of the path
    /// outside the workspace root or the stack root prefix (where a dependency folder would show).
    NotFound {
        outside_part: usize,
    },
}

fn map_path_literally(path: &FramePath<'_>, index: &WorkspaceIndex, config: &MappingConfig) -> Literal {
    let mut outside_part = 0;
    for root in &config.roots {
        let Some(rest) = path.strip_stack_root(&root.from) else {
            continue;
        };
        outside_part = path.components.len() - rest.len();
        let Some(relative) = join_relative(split(&root.to).into_iter().chain(rest.iter().copied())) else {
            return Literal::Outside;
        };
        if let Some(found) = index.find_components(relative.iter().copied()) {
            return Literal::Mapped(found.to_owned(), MatchKind::StackRoot { from: root.from.clone() });
        }
    }
    if path.absolute {
        for root in index.roots() {
            let Some(root) = root.to_str() else {
                continue;
            };
            match path.strip_workspace_root(root) {
                UnderRoot::Yes(rest) => {
                    if let Some(found) = index.find_components(rest.iter().copied()) {
                        return Literal::Mapped(found.to_owned(), MatchKind::AbsoluteInRoot);
                    }
                    return Literal::NotFound { outside_part: path.components.len() - rest.len() };
                }
                UnderRoot::LeftByDotDot => return Literal::Outside,
                UnderRoot::No => {}
            }
        }
        return Literal::NotFound { outside_part };
    }
    if path.escapes {
        return Literal::Outside;
    }
    match index.find_components(path.components.iter().copied()) {
        Some(found) => Literal::Mapped(found.to_owned(), MatchKind::Exact),
        None => Literal::NotFound { outside_part },
    }
}

fn mapped_in_workspace(frame: &Frame, path: &str, matched_by: MatchKind, config: &MappingConfig) -> FrameMapping {
    let in_app = frame.in_app != Some(false) && dependency_folder(&split(path), config).is_none();
    FrameMapping::Mapped { path: path.to_owned(), in_app, matched_by }
}

/// Keeps the reason that tells the user most: ambiguity over a path outside the workspace over the
/// rest; the first one among equals.
fn keep_most_telling(kept: &mut Option<UnmappedReason>, reason: UnmappedReason) {
    let rank = |r: &UnmappedReason| match r {
        UnmappedReason::Ambiguous { .. } => 3,
        UnmappedReason::OutsideWorkspace { .. } => 2,
        _ => 1,
    };
    if kept.as_ref().is_none_or(|k| rank(&reason) > rank(k)) {
        *kept = Some(reason);
    }
}

// ---------------------------------------------------------------------------------------------
// Frame paths

/// A frame path taken apart: URL scheme and host dropped, `\` read as `/`, empty and `.` components
/// dropped, `..` applied.
#[derive(Debug)]
struct FramePath<'a> {
    raw: &'a str,
    /// `file`, `webpack`, `app`, `https`, ... for URLs.
    scheme: Option<&'a str>,
    /// Starts at a filesystem root (`/`, `C:`, `\\server`); URL paths never do.
    absolute: bool,
    components: Vec<&'a str>,
    /// A `..` climbed above the first component.
    escapes: bool,
}

impl<'a> FramePath<'a> {
    fn parse(raw: &'a str) -> Self {
        let raw_trimmed = raw.trim();
        let (scheme, path) = split_url(raw_trimmed);
        let absolute = match scheme {
            Some(scheme) if scheme.eq_ignore_ascii_case("file") => true,
            Some(_) => false,
            None => path.starts_with(['/', '\\']) || is_drive(path.split(['/', '\\']).next().unwrap_or("")),
        };
        let mut components: Vec<&'a str> = Vec::with_capacity(8);
        let mut escapes = false;
        for part in path.split(['/', '\\']) {
            match part {
                "" | "." => {}
                ".." => match components.last() {
                    // A drive (`C:`) is the filesystem root, not a folder to climb out of.
                    Some(last) if !(absolute && components.len() == 1 && is_drive(last)) => {
                        components.pop();
                    }
                    _ => escapes = true,
                },
                part => components.push(part),
            }
        }
        Self { raw, scheme, absolute, components, escapes }
    }

    /// The components after a stack root's `from` prefix, when the path starts with it.
    fn strip_stack_root(&self, from: &str) -> Option<&[&'a str]> {
        let from_path = FramePath::parse(from);
        let same_kind = match (self.scheme, from_path.scheme) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => self.absolute == from_path.absolute,
            _ => false,
        };
        if !same_kind || from_path.escapes {
            return None;
        }
        strip_components(&self.components, from_path.components.iter().copied())
    }

    /// Where the path stands relative to the workspace root `root` (an absolute path).
    fn strip_workspace_root(&self, root: &str) -> UnderRoot<'_, 'a> {
        let root_components = root.split(['/', '\\']).filter(|c| !c.is_empty() && *c != ".");
        if let Some(rest) = strip_components(&self.components, root_components.clone()) {
            return UnderRoot::Yes(rest);
        }
        // `/ws/../etc/passwd` is written under the root but leaves it.
        let (_, path) = split_url(self.raw.trim());
        let mut written = path.split(['/', '\\']).filter(|c| !c.is_empty() && *c != ".");
        let written_under_root = root_components.into_iter().all(|r| written.next() == Some(r));
        if self.escapes || (written_under_root && written.any(|c| c == "..")) {
            UnderRoot::LeftByDotDot
        } else {
            UnderRoot::No
        }
    }
}

enum UnderRoot<'p, 'a> {
    Yes(&'p [&'a str]),
    LeftByDotDot,
    No,
}

/// `webpack://app/./src/x.js?v=3` → (`webpack`, `/./src/x.js`); a plain path is returned whole.
fn split_url(raw: &str) -> (Option<&str>, &str) {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return (None, raw);
    };
    let is_scheme = !scheme.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic());
    if !is_scheme {
        return (None, raw);
    }
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    if scheme.eq_ignore_ascii_case("file") {
        // file:///srv/app.py, file://localhost/srv/app.py, file:///C:/build/app.py
        let rest = rest.strip_prefix("localhost").unwrap_or(rest);
        let rest = match rest.strip_prefix('/') {
            Some(after) if is_drive(after.split('/').next().unwrap_or("")) => after,
            _ => rest,
        };
        return (Some(scheme), rest);
    }
    // Everything up to the next `/` is the host (`webpack://my-app/`, `https://cdn.example.com/`).
    let path = rest.find('/').map_or("", |slash| &rest[slash..]);
    (Some(scheme), path)
}

fn is_drive(component: &str) -> bool {
    let bytes = component.as_bytes();
    bytes.len() == 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

fn strip_components<'p, 'a, 'c>(
    components: &'p [&'a str],
    prefix: impl Iterator<Item = &'c str>,
) -> Option<&'p [&'a str]> {
    let mut matched = 0;
    for part in prefix {
        if components.get(matched) != Some(&part) {
            return None;
        }
        matched += 1;
    }
    Some(&components[matched..])
}

/// `/`- or `\`-separated components, empty and `.` dropped.
fn split(path: &str) -> Vec<&str> {
    path.split(['/', '\\']).filter(|c| !c.is_empty() && *c != ".").collect()
}

/// Applies `..`; `None` when it climbs above the first component.
fn join_relative<'a>(components: impl Iterator<Item = &'a str>) -> Option<Vec<&'a str>> {
    let mut out = Vec::with_capacity(8);
    for part in components {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            part => out.push(part),
        }
    }
    Some(out)
}

/// Whether a path, as a crash printed it, is runtime code or runs through a dependency or
/// toolchain folder. Crash grouping uses this rule too, so groups and diagnostics agree on what is
/// application code.
pub fn is_library_path(path: &str) -> bool {
    crate::crash::library::is_library_path(path, &MappingConfig::default().dependency_folders)
}

/// The dependency folder a path runs through, by the crash model's rule and the configured folders.
fn dependency_folder<'c>(components: &[&str], config: &'c MappingConfig) -> Option<&'c str> {
    crate::crash::library::dependency_folder(components, &config.dependency_folders)
}

// ---------------------------------------------------------------------------------------------
// Path suffixes and modules

enum Suffix<'i> {
    None,
    One { path: &'i str, components: usize },
    Ambiguous { candidates: Vec<String>, total: usize },
}

/// The workspace file sharing the longest component suffix with `components` (at least
/// `min_components`, and always the file name).
fn match_suffix<'i>(index: &'i WorkspaceIndex, components: &[&str], min_components: usize) -> Suffix<'i> {
    let Some((&name, parents)) = components.split_last() else {
        return Suffix::None;
    };
    // Files in a folder of the same name share at least two components; only when there are none
    // does the file name alone decide, and then every file of that name ties.
    let in_folder = parents
        .last()
        .map(|parent| longest_common_suffix(index.files_in_folder_named(parent, name), components))
        .filter(|(_, tied)| !tied.is_empty());
    let (best, tied) = match in_folder {
        Some(found) => found,
        None if min_components > 1 => return Suffix::None,
        None => (1, index.files_named(name).collect::<Vec<_>>()),
    };
    if best < min_components.max(1) {
        return Suffix::None;
    }
    match tied[..] {
        [] => Suffix::None,
        [only] => Suffix::One { path: only, components: best },
        _ => Suffix::Ambiguous { candidates: first_sorted(&tied, MAX_CANDIDATES), total: tied.len() },
    }
}

/// The `n` smallest paths, sorted, without sorting them all.
fn first_sorted(paths: &[&str], n: usize) -> Vec<String> {
    let mut smallest: Vec<&str> = Vec::with_capacity(n + 1);
    for &path in paths {
        if smallest.len() == n && smallest.last().is_some_and(|last| path >= *last) {
            continue;
        }
        let at = smallest.partition_point(|p| *p < path);
        smallest.insert(at, path);
        smallest.truncate(n);
    }
    smallest.into_iter().map(str::to_owned).collect()
}

/// The paths sharing the most trailing components with `components`, and how many they share.
fn longest_common_suffix<'i>(paths: impl Iterator<Item = &'i str>, components: &[&str]) -> (usize, Vec<&'i str>) {
    let mut best = 0;
    let mut tied = Vec::new();
    for path in paths {
        let shared = shared_trailing_components(path, components);
        if shared > best {
            best = shared;
            tied.clear();
        }
        if shared == best {
            tied.push(path);
        }
    }
    (best, tied)
}

/// How a frame's module names its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModuleKind {
    Python,
    Jvm,
    Go,
}

const JVM_EXTENSIONS: &[&str] = &["java", "kt", "scala", "groovy", "kts"];

fn module_kind(module: &str, file_name: Option<&str>) -> Option<ModuleKind> {
    if let Some(name) = file_name {
        let extension = name.rsplit_once('.').map(|(_, ext)| ext)?;
        return match extension {
            "py" => Some(ModuleKind::Python),
            "go" => Some(ModuleKind::Go),
            ext if JVM_EXTENSIONS.contains(&ext) => Some(ModuleKind::Jvm),
            _ => None,
        };
    }
    let last = module.rsplit('.').next().unwrap_or(module);
    if module.contains('/') {
        Some(ModuleKind::Go)
    } else if module.contains('$') || last.starts_with(|c: char| c.is_ascii_uppercase()) {
        Some(ModuleKind::Jvm)
    } else {
        Some(ModuleKind::Python)
    }
}

/// Maps a frame by its module: `shop.orders` → `shop/orders.py` or `shop/orders/__init__.py`;
/// `com.acme.Orders$Line` with `Orders.kt` → `com/acme/Orders.kt`; Go package
/// `github.com/acme/shop/orders` with `orders.go` → `orders/orders.go`. The module's path must
/// match whole (Go: its last folder), as a suffix anywhere in the workspace.
fn map_module(
    frame: &Frame,
    module: &str,
    path: Option<&FramePath<'_>>,
    index: &WorkspaceIndex,
    config: &MappingConfig,
) -> FrameMapping {
    let file_name = path.and_then(|p| p.components.last().copied());
    let not_found =
        || UnmappedReason::NotFound { path: path.map(|p| p.raw.to_owned()), module: Some(module.to_owned()) };
    let Some(kind) = module_kind(module, file_name) else {
        return FrameMapping::Unmapped { reason: not_found() };
    };
    let mut attempts: Vec<(Vec<String>, usize)> = Vec::new();
    match kind {
        ModuleKind::Python => {
            let parts: Vec<&str> = module.split('.').collect();
            if module == "__main__" || parts.iter().any(|p| p.is_empty()) {
                return FrameMapping::Unmapped { reason: not_found() };
            }
            let (last, package) = parts.split_last().unwrap_or((&"", &[]));
            let mut as_file: Vec<String> = package.iter().map(|p| (*p).to_owned()).collect();
            as_file.push(format!("{last}.py"));
            let mut as_package: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
            as_package.push("__init__.py".to_owned());
            let (file_len, package_len) = (as_file.len(), as_package.len());
            attempts.push((as_file, file_len));
            attempts.push((as_package, package_len));
        }
        ModuleKind::Jvm => {
            let class = module.split('$').next().unwrap_or(module);
            let parts: Vec<&str> = class.split('.').filter(|p| !p.is_empty()).collect();
            let Some((class_name, package)) = parts.split_last() else {
                return FrameMapping::Unmapped { reason: not_found() };
            };
            let names: Vec<String> = match file_name {
                Some(name) => vec![name.to_owned()],
                None => JVM_EXTENSIONS.iter().map(|ext| format!("{class_name}.{ext}")).collect(),
            };
            for name in names {
                let mut components: Vec<String> = package.iter().map(|p| (*p).to_owned()).collect();
                components.push(name);
                let required = components.len();
                attempts.push((components, required));
            }
        }
        ModuleKind::Go => {
            let Some(name) = file_name else {
                return FrameMapping::Unmapped { reason: not_found() };
            };
            // The package `main` is a program, not a folder.
            let package = module.split('/').filter(|p| !p.is_empty() && module != "main");
            let mut components: Vec<String> = package.map(str::to_owned).collect();
            components.push(name.to_owned());
            let required = components.len().min(2);
            attempts.push((components, required));
        }
    }
    let mut failure = not_found();
    for (components, required) in &attempts {
        let components: Vec<&str> = components.iter().map(String::as_str).collect();
        match match_suffix(index, &components, *required) {
            Suffix::One { path: mapped, .. } => {
                return mapped_in_workspace(frame, mapped, MatchKind::Module { module: module.to_owned() }, config);
            }
            Suffix::Ambiguous { candidates, total } if !matches!(failure, UnmappedReason::Ambiguous { .. }) => {
                failure = UnmappedReason::Ambiguous { path: module.to_owned(), candidates, total };
            }
            _ => {}
        }
    }
    FrameMapping::Unmapped { reason: failure }
}
