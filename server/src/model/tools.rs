//! The tools the model explores the workspace with. All are read-only and confined to the
//! workspace: a path must be relative, without `..`, and must resolve (symlinks followed) inside
//! the workspace; `.git` and files that may hold secrets are never read. Git runs with an argument
//! vector, never through a shell. Every answer is bounded.

use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};

use super::wire::{ToolCall, ToolResult, ToolSpec};
use crate::sandbox::{ChangePolicy, RefusalReason, check_change_path};
use crate::workspace::syntax::{ParsedSource, SourceLanguage};

/// Lines one `read_file` returns.
const MAX_READ_LINES: usize = 300;
/// Characters of any tool answer.
const MAX_ANSWER_CHARS: usize = 16_000;
/// Hits of a search, definitions or callers.
const MAX_HITS: usize = 40;
/// Entries of a listing.
const MAX_ENTRIES: usize = 200;
/// Files larger than this are neither read nor searched.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The workspace as the model sees it.
pub struct WorkspaceTools {
    root: PathBuf,
}

fn string_param(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn integer_param(description: &str) -> Value {
    json!({"type": "integer", "description": description})
}

impl WorkspaceTools {
    pub fn new(root: &Path) -> Self {
        Self { root: root.canonicalize().unwrap_or_else(|_| root.to_path_buf()) }
    }

    pub fn specs() -> Vec<ToolSpec> {
        vec![
            ToolSpec {
                name: "read_file",
                description: "Read a workspace file, or a range of its lines, with line numbers.",
                parameters: json!({"type": "object", "properties": {
                    "path": string_param("Path relative to the workspace root"),
                    "start_line": integer_param("First line, 1-based (optional)"),
                    "end_line": integer_param("Last line, inclusive (optional)")},
                    "required": ["path"]}),
            },
            ToolSpec {
                name: "search",
                description: "Search the workspace's files for a text (or a regular expression); answers path:line: text.",
                parameters: json!({"type": "object", "properties": {
                    "pattern": string_param("The text to find"),
                    "regex": {"type": "boolean", "description": "Treat pattern as a regular expression"},
                    "path": string_param("Only under this folder (optional)")},
                    "required": ["pattern"]}),
            },
            ToolSpec {
                name: "list_dir",
                description: "List a workspace folder (folders end with /).",
                parameters: json!({"type": "object", "properties": {"path": string_param("Folder relative to the workspace root; empty for the root")}}),
            },
            ToolSpec {
                name: "find_definition",
                description: "Find where a function or method is defined (parsed with tree-sitter).",
                parameters: json!({"type": "object", "properties": {"name": string_param("The function's name")}, "required": ["name"]}),
            },
            ToolSpec {
                name: "find_callers",
                description: "Find the calls to a function or method by name (parsed with tree-sitter).",
                parameters: json!({"type": "object", "properties": {"name": string_param("The function's name")}, "required": ["name"]}),
            },
            ToolSpec {
                name: "git_blame",
                description: "Who last changed lines of a file, and in which commit.",
                parameters: json!({"type": "object", "properties": {
                    "path": string_param("Path relative to the workspace root"),
                    "start_line": integer_param("First line, 1-based"),
                    "end_line": integer_param("Last line, inclusive")},
                    "required": ["path", "start_line", "end_line"]}),
            },
            ToolSpec {
                name: "git_log",
                description: "The recent commits of a file, or of a range of its lines.",
                parameters: json!({"type": "object", "properties": {
                    "path": string_param("Path relative to the workspace root"),
                    "start_line": integer_param("First line, 1-based (optional)"),
                    "end_line": integer_param("Last line (optional)")},
                    "required": ["path"]}),
            },
        ]
    }

    /// Runs one tool call; a refused or failing call is an error result the model reads.
    pub fn call(&self, call: &ToolCall) -> ToolResult {
        let outcome = call.arguments().and_then(|arguments| self.run(&call.name, &arguments));
        let (content, is_error) = match outcome {
            Ok(text) => (text, false),
            Err(problem) => (format!("error: {problem}"), true),
        };
        ToolResult { id: call.id.clone(), name: call.name.clone(), content: bound(content), is_error }
    }

    fn run(&self, name: &str, arguments: &Map<String, Value>) -> Result<String, String> {
        let text = |key: &str| arguments.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| arguments.get(key).and_then(Value::as_u64).map(|n| n as usize);
        let required = |key: &str| text(key).ok_or_else(|| format!("`{key}` is required"));
        match name {
            "read_file" => self.read_file(&required("path")?, number("start_line"), number("end_line")),
            "search" => self.search(
                &required("pattern")?,
                arguments.get("regex").and_then(Value::as_bool).unwrap_or(false),
                text("path").as_deref(),
            ),
            "list_dir" => self.list_dir(text("path").as_deref().unwrap_or("")),
            "find_definition" => self.definitions(&required("name")?),
            "find_callers" => self.callers(&required("name")?),
            "git_blame" => {
                let path = required("path")?;
                let (start, end) = (number("start_line").unwrap_or(1), number("end_line"));
                self.git_blame(&path, start, end.unwrap_or(start))
            }
            "git_log" => self.git_log(&required("path")?, number("start_line"), number("end_line")),
            other => Err(format!(
                "there is no tool `{other}`; the tools are read_file, search, list_dir, find_definition, find_callers, git_blame, git_log"
            )),
        }
    }

    /// The absolute path of a workspace-relative path, when it stays inside the workspace and may
    /// be read.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, String> {
        let relative = relative.trim();
        let path = Path::new(relative);
        if relative.contains('\0') || path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!("{relative} is not a path inside the workspace (relative, without `..`)"));
        }
        if !relative.is_empty() && relative != "." {
            match check_change_path(relative, &ChangePolicy::default()) {
                Ok(()) | Err(RefusalReason::CiConfiguration | RefusalReason::Lockfile) => {}
                Err(RefusalReason::SecretsFile) => return Err(format!("{relative} may hold secrets and is not read")),
                Err(reason) => return Err(format!("{relative}: {reason}")),
            }
        }
        let full = self.root.join(path).canonicalize().map_err(|_| format!("{relative} does not exist"))?;
        if !full.starts_with(&self.root) {
            return Err(format!("{relative} leads outside the workspace"));
        }
        Ok(full)
    }

    fn relative(&self, full: &Path) -> String {
        full.strip_prefix(&self.root).unwrap_or(full).to_string_lossy().replace('\\', "/")
    }

    fn read_text(&self, full: &Path) -> Result<String, String> {
        let metadata = std::fs::metadata(full).map_err(|e| e.to_string())?;
        if metadata.len() > MAX_FILE_BYTES {
            return Err(format!("the file is larger than {} KiB", MAX_FILE_BYTES / 1024));
        }
        let bytes = std::fs::read(full).map_err(|e| e.to_string())?;
        if bytes.contains(&0) {
            return Err("the file is binary".into());
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn read_file(&self, path: &str, start: Option<usize>, end: Option<usize>) -> Result<String, String> {
        let full = self.resolve(path)?;
        if full.is_dir() {
            return Err(format!("{path} is a folder; use list_dir"));
        }
        let text = self.read_text(&full)?;
        let lines: Vec<&str> = text.lines().collect();
        let start = start.unwrap_or(1).max(1);
        if start > lines.len().max(1) {
            return Err(format!("{path} has {} lines", lines.len()));
        }
        let end = end.unwrap_or(start + MAX_READ_LINES - 1).min(lines.len()).min(start + MAX_READ_LINES - 1);
        let mut out = String::new();
        for (i, line) in lines.iter().enumerate().take(end).skip(start - 1) {
            out.push_str(&format!("{:>5}| {line}\n", i + 1));
        }
        if end < lines.len() {
            out.push_str(&format!("[{} more lines; ask for start_line {}]\n", lines.len() - end, end + 1));
        }
        Ok(out)
    }

    /// Workspace files under `folder`, honouring `.gitignore`, without secrets files or large ones.
    fn files(&self, folder: Option<&str>) -> Result<Vec<PathBuf>, String> {
        let start = match folder.filter(|f| !f.is_empty()) {
            Some(folder) => self.resolve(folder)?,
            None => self.root.clone(),
        };
        let mut files = Vec::new();
        for entry in crate::workspace::index::walker(&start).build().flatten() {
            let path = entry.path();
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let relative = self.relative(path);
            if relative.split('/').any(|part| part == ".git")
                || matches!(check_change_path(&relative, &ChangePolicy::default()), Err(RefusalReason::SecretsFile))
                || entry.metadata().map_or(true, |m| m.len() > MAX_FILE_BYTES)
            {
                continue;
            }
            files.push(path.to_path_buf());
        }
        files.sort();
        Ok(files)
    }

    fn search(&self, pattern: &str, regex: bool, folder: Option<&str>) -> Result<String, String> {
        if pattern.is_empty() {
            return Err("the pattern is empty".into());
        }
        let source = if regex { pattern.to_owned() } else { regex::escape(pattern) };
        let matcher = regex::RegexBuilder::new(&source)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("the regular expression is not valid: {e}"))?;
        let mut hits = Vec::new();
        'files: for file in self.files(folder)? {
            let Ok(text) = self.read_text(&file) else { continue };
            for (i, line) in text.lines().enumerate() {
                if matcher.is_match(line) {
                    hits.push(format!("{}:{}: {}", self.relative(&file), i + 1, line.trim()));
                    if hits.len() >= MAX_HITS {
                        hits.push(format!("[stopped at {MAX_HITS} hits]"));
                        break 'files;
                    }
                }
            }
        }
        Ok(if hits.is_empty() { format!("no line matches {pattern}") } else { hits.join("\n") })
    }

    fn list_dir(&self, folder: &str) -> Result<String, String> {
        let full = if folder.is_empty() || folder == "." { self.root.clone() } else { self.resolve(folder)? };
        let mut entries: Vec<String> = std::fs::read_dir(&full)
            .map_err(|e| format!("{folder}: {e}"))?
            .flatten()
            .filter(|e| e.file_name() != ".git")
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.file_type().is_ok_and(|t| t.is_dir()) { format!("{name}/") } else { name }
            })
            .collect();
        entries.sort();
        if entries.len() > MAX_ENTRIES {
            let more = entries.len() - MAX_ENTRIES;
            entries.truncate(MAX_ENTRIES);
            entries.push(format!("[{more} more]"));
        }
        Ok(entries.join("\n"))
    }

    /// Source files mentioning `name`, parsed.
    fn parsed_mentioning(
        &self,
        name: &str,
        mut each: impl FnMut(&str, &str, &ParsedSource<'_>) -> bool,
    ) -> Result<(), String> {
        if !crate::workspace::syntax::is_identifier(name) {
            return Err(format!("{name} is not a name"));
        }
        for file in self.files(None)? {
            let relative = self.relative(&file);
            let Some(language) = SourceLanguage::from_path(&relative) else { continue };
            let Ok(text) = self.read_text(&file) else { continue };
            if !text.contains(name) {
                continue;
            }
            let Some(parsed) = ParsedSource::new(language, &text) else { continue };
            if !each(&relative, &text, &parsed) {
                break;
            }
        }
        Ok(())
    }

    fn definitions(&self, name: &str) -> Result<String, String> {
        let mut hits = Vec::new();
        self.parsed_mentioning(name, |path, text, parsed| {
            let lines: Vec<&str> = text.lines().collect();
            for span in parsed.functions().into_iter().filter(|s| s.name == name) {
                let first = lines.get(span.start_line).map_or("", |l| l.trim());
                hits.push(format!("{path}:{}-{}: {first}", span.start_line + 1, span.end_line + 1));
            }
            hits.len() < MAX_HITS
        })?;
        Ok(if hits.is_empty() { format!("no definition of {name} found") } else { hits.join("\n") })
    }

    fn callers(&self, name: &str) -> Result<String, String> {
        let mut hits = Vec::new();
        self.parsed_mentioning(name, |path, text, parsed| {
            let lines: Vec<&str> = text.lines().collect();
            let functions = parsed.functions();
            for line in parsed.calls_to(name) {
                let within = crate::workspace::syntax::enclosing_function(&functions, line)
                    .map_or_else(String::new, |f| format!(" (in {})", f.name));
                hits.push(format!("{path}:{}{within}: {}", line + 1, lines.get(line).map_or("", |l| l.trim())));
            }
            hits.len() < MAX_HITS
        })?;
        Ok(if hits.is_empty() { format!("no call to {name} found") } else { hits.join("\n") })
    }

    fn git(&self, args: &[String]) -> Result<String, String> {
        let output = Command::new("git")
            .current_dir(&self.root)
            .args(["-c", "core.fsmonitor=false", "--no-pager"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !output.status.success() {
            return Err(format!("git: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn git_path(&self, path: &str) -> Result<String, String> {
        let full = self.resolve(path)?;
        let relative = self.relative(&full);
        if relative.is_empty() || relative.starts_with('-') || full.is_dir() {
            return Err(format!("{path} is not a file"));
        }
        Ok(relative)
    }

    fn git_blame(&self, path: &str, start: usize, end: usize) -> Result<String, String> {
        let relative = self.git_path(path)?;
        let (start, end) = (start.max(1), end.max(start.max(1)).min(start.max(1) + 99));
        self.git(&["blame".into(), "--date=short".into(), "-L".into(), format!("{start},{end}"), "--".into(), relative])
    }

    fn git_log(&self, path: &str, start: Option<usize>, end: Option<usize>) -> Result<String, String> {
        let relative = self.git_path(path)?;
        let mut args: Vec<String> =
            vec!["log".into(), "-n".into(), "10".into(), "--date=short".into(), "--format=%h %ad %an: %s".into()];
        match start {
            Some(start) => {
                let start = start.max(1);
                let end = end.unwrap_or(start).max(start);
                args.push(format!("-L{start},{end}:{relative}"));
            }
            None => {
                args.push("--".into());
                args.push(relative);
            }
        }
        let log = self.git(&args)?;
        Ok(if log.trim().is_empty() { format!("no commit changed {path}") } else { log })
    }
}

/// A tool answer cut to [`MAX_ANSWER_CHARS`].
fn bound(text: String) -> String {
    match text.char_indices().nth(MAX_ANSWER_CHARS) {
        Some((cut, _)) => format!("{}\n[cut at {MAX_ANSWER_CHARS} characters]", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(tools: &WorkspaceTools, name: &str, arguments: Value) -> ToolResult {
        tools.call(&ToolCall { id: "1".into(), name: name.into(), raw_arguments: arguments.to_string() })
    }

    #[test]
    fn paths_that_leave_the_workspace_or_hold_secrets_are_refused() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret.txt"), "outside").expect("write");
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("a.py"), "def f():\n    return g()\n").expect("write");
        std::fs::write(root.path().join(".env"), "TOKEN=x").expect("write");
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).expect("symlink");
        let tools = WorkspaceTools::new(root.path());
        assert_eq!(
            call(&tools, "read_file", json!({"path": "a.py", "start_line": 2})).content,
            "    2|     return g()\n"
        );
        for path in ["../a.py", "/etc/passwd", "link/secret.txt", ".env", ".git/config"] {
            let result = call(&tools, "read_file", json!({"path": path}));
            assert!(result.is_error, "{path}: {}", result.content);
        }
        assert!(!call(&tools, "search", json!({"pattern": "outside"})).content.contains("outside\n"));
        assert!(call(&tools, "search", json!({"pattern": "TOKEN"})).content.starts_with("no line"));
        assert!(call(&tools, "read_file", json!({"path": "a.py"})).content.contains("def f"));
        let broken =
            tools.call(&ToolCall { id: "2".into(), name: "read_file".into(), raw_arguments: "{\"path\":".into() });
        assert!(broken.is_error && broken.content.contains("not valid JSON"), "{}", broken.content);
        assert!(call(&tools, "find_callers", json!({"name": "g"})).content.contains("a.py:2 (in f)"));
        assert!(call(&tools, "find_definition", json!({"name": "f"})).content.contains("a.py:1-2"));
        assert!(call(&tools, "list_dir", json!({})).content.contains("a.py"));
        assert!(call(&tools, "search", json!({"pattern": "(", "regex": true})).is_error);
        assert!(call(&tools, "git_blame", json!({"path": "--output=x", "start_line": 1, "end_line": 1})).is_error);
    }
}
