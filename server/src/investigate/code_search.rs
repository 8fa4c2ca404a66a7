//! Agent 2, Code Search, offline: the code around a crash. The function holding each in-app frame,
//! where the values of the failing operation came from, who calls the crashing function, which
//! tests exercise it, and who last changed the crash lines.
//!
//! One bounded walk of the workspace (honouring `.gitignore`, skipping large files) finds callers,
//! tests and called functions' definitions: a byte search for the names rules out almost every file
//! before tree-sitter parses the few that mention them. History comes from `git blame`, run with an
//! argument vector, never through a shell.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, FixedOffset};
use regex::bytes::Regex as BytesRegex;

use super::analyzer::read_workspace_file;
use super::{CodeContext, CodeRef, CodeSearch, CommitInfo, CrashFacts, CrashInput, FailingOperation, FunctionCode};
use crate::workspace::sites::SiteRole;
use crate::workspace::syntax::{self, ExpressionKind, FunctionSpan, ParsedSource, SourceLanguage};

/// Files larger than this are not searched.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// The walk stops once it found this many callers and tests together.
const MAX_HITS: usize = 50;
/// Crash lines whose history is asked for.
const MAX_BLAMED_LINES: usize = 10;

/// Finds the code around a crash with tree-sitter, a bounded workspace walk and git, without a model.
pub struct OfflineCodeSearch;

impl CodeSearch for OfflineCodeSearch {
    fn search(&self, input: &CrashInput<'_>, facts: &CrashFacts) -> CodeContext {
        let root = input.root.as_path();
        let mut files: HashMap<String, Option<String>> = HashMap::new();
        let mut text_of = |path: &str| -> Option<String> {
            files.entry(path.to_owned()).or_insert_with(|| read_workspace_file(root, path)).clone()
        };

        let mut sites: Vec<(String, u32)> = facts.in_app_path.iter().map(|s| (s.path.clone(), s.line)).collect();
        if let Some(crash) = &facts.crash_site
            && !sites.iter().any(|(p, l)| *p == crash.path && *l == crash.line)
        {
            sites.insert(0, (crash.path.clone(), crash.line));
        }

        let mut functions: Vec<FunctionCode> = Vec::new();
        for (path, line) in &sites {
            let Some(text) = text_of(path) else { continue };
            let Some(function) = enclosing_function_code(path, &text, *line) else { continue };
            if !functions.iter().any(|f| f.path == function.path && f.start_line == function.start_line) {
                functions.push(function);
            }
        }

        let crash_function = facts.crash_site.as_ref().and_then(|crash| {
            functions.iter().find(|f| f.path == crash.path && f.start_line <= crash.line && crash.line <= f.end_line)
        });
        let mut definitions = Vec::new();
        let mut called: Vec<String> = Vec::new();
        if let Some(crash) = &facts.crash_site
            && let Some(language) = SourceLanguage::from_path(&crash.path)
            && let Some(text) = text_of(&crash.path)
        {
            let operation = facts.failing_operation.as_ref();
            let crash_line = crash.line.saturating_sub(1) as usize;
            let scope = crash_function.map(|f| (f.start_line as usize - 1, crash_line));
            for name in operation.map(names_in_operation).unwrap_or_default() {
                for (line, parameter) in where_name_gets_its_value(language, &text, &name, scope) {
                    let note = if parameter { format!("parameter {name}") } else { format!("definition of {name}") };
                    push_ref(&mut definitions, &crash.path, &text, line, note);
                    if !parameter {
                        called.extend(functions_called_on_line(language, &text, line, None));
                    }
                }
            }
            if let Some(expression) = operation.and_then(operation_expression) {
                called.extend(functions_called_on_line(language, &text, crash_line, Some(expression)));
            }
        }
        called.sort();
        called.dedup();

        let crash_name = crash_function.map(|f| f.name.clone()).or_else(|| {
            let function = facts.crash_site.as_ref()?.function.as_deref()?;
            syntax::last_identifier(function).map(str::to_owned)
        });
        let family = facts.crash_site.as_ref().and_then(|c| SourceLanguage::from_path(&c.path)).map(family_of);
        let mut found = WorkspaceHits::default();
        if let Some(family) = family {
            let excluded_definition = crash_function.map(|f| (f.path.clone(), f.start_line));
            scan_workspace(root, family, crash_name.as_deref(), &called, excluded_definition, &mut found);
        }
        definitions.extend(found.definitions);

        let mut blamed: Vec<(String, u32)> = sites;
        let root_cause_site = input.group.sites.iter().find(|s| s.role == SiteRole::RootCause);
        if let Some(site) = root_cause_site
            && !blamed.iter().any(|(p, l)| *p == site.path && *l == site.line)
        {
            blamed.push((site.path.clone(), site.line));
        }
        blamed.truncate(MAX_BLAMED_LINES);

        CodeContext {
            functions,
            definitions,
            callers: found.callers,
            tests: found.tests,
            history: history_of_lines(root, &blamed),
        }
    }
}

/// The function holding a 1-based line of a file, with its text.
fn enclosing_function_code(path: &str, text: &str, line: u32) -> Option<FunctionCode> {
    let language = SourceLanguage::from_path(path)?;
    let spans = syntax::functions(language, text);
    let span = syntax::enclosing_function(&spans, line.checked_sub(1)? as usize)?;
    let body: Vec<&str> = text.lines().skip(span.start_line).take(span.end_line - span.start_line + 1).collect();
    Some(FunctionCode {
        path: path.to_owned(),
        name: span.name.clone(),
        start_line: span.start_line as u32 + 1,
        end_line: span.end_line as u32 + 1,
        text: body.join("\n"),
    })
}

/// The values a failing operation involves, as names to look up: `customer` for `customer["name"]`,
/// `order.customer` and `order` for `order.customer.name`.
fn names_in_operation(operation: &FailingOperation) -> Vec<String> {
    let expressions: Vec<&str> = match operation {
        FailingOperation::AttributeOfMissing { expression, .. }
        | FailingOperation::SubscriptOfMissing { expression }
        | FailingOperation::UnwrapNone { expression }
        | FailingOperation::UnwrapErr { expression, .. }
        | FailingOperation::NilDereference { expression } => vec![expression],
        FailingOperation::MissingKey { container, .. } | FailingOperation::IndexOutOfRange { container, .. } => {
            vec![container]
        }
        FailingOperation::NilMapWrite { map } => vec![map],
        FailingOperation::DivisionByZero { divisor } => vec![divisor],
        FailingOperation::NumberParse { call, .. } => {
            // The text parsed: the call's identifier arguments, or a method call's receiver.
            let (callee, arguments) = call.split_once('(').unwrap_or((call, ""));
            let mut names: Vec<&str> = arguments
                .trim_end_matches(')')
                .split(',')
                .map(str::trim)
                .filter(|a| syntax::is_identifier(a))
                .collect();
            if let Some((receiver, _)) = callee.rsplit_once('.') {
                names.push(receiver);
            }
            names
        }
        FailingOperation::Other { .. } => Vec::new(),
    };
    let mut names = Vec::new();
    for expression in expressions {
        let expression = expression.trim();
        let is_path = expression.split('.').all(syntax::is_identifier);
        if is_path && !names.iter().any(|n| n == expression) {
            names.push(expression.to_owned());
        }
        let root = expression.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).next().unwrap_or("");
        if syntax::is_identifier(root) && !matches!(root, "self" | "this") && !names.iter().any(|n| n == root) {
            names.push(root.to_owned());
        }
    }
    names
}

/// The expression of a failing operation that may be a call (`find_customer(id)["name"]`).
fn operation_expression(operation: &FailingOperation) -> Option<&str> {
    match operation {
        FailingOperation::AttributeOfMissing { expression, .. }
        | FailingOperation::SubscriptOfMissing { expression }
        | FailingOperation::UnwrapNone { expression }
        | FailingOperation::UnwrapErr { expression, .. }
        | FailingOperation::NilDereference { expression } => Some(expression),
        _ => None,
    }
}

/// 0-based lines binding `name` within `scope` (the crash function up to the crash line), or at the
/// top level of the file when the function does not bind it.
fn where_name_gets_its_value(
    language: SourceLanguage,
    text: &str,
    name: &str,
    scope: Option<(usize, usize)>,
) -> Vec<(usize, bool)> {
    if let Some((first, last)) = scope {
        let inside = syntax::bindings_of(language, text, name, first, last);
        if !inside.is_empty() {
            return inside;
        }
    }
    let spans = syntax::functions(language, text);
    let everywhere = syntax::bindings_of(language, text, name, 0, usize::MAX);
    everywhere.into_iter().filter(|(line, _)| syntax::enclosing_function(&spans, *line).is_none()).collect()
}

/// Workspace functions called on a line by plain name (`find_customer(..)`, `self.lookup(..)`),
/// optionally only those inside `within`. Method calls on other values (`customers.get`) are left
/// out: their definitions cannot be told from the name.
fn functions_called_on_line(language: SourceLanguage, text: &str, line: usize, within: Option<&str>) -> Vec<String> {
    syntax::expressions_on_line(language, text, line)
        .into_iter()
        .filter(|e| e.kind == ExpressionKind::Call && e.start.0 == line)
        .filter(|e| within.is_none_or(|w| w.contains(e.text.as_str())))
        .filter_map(|e| {
            let target = e.target.trim();
            let local = target.strip_prefix("self.").or_else(|| target.strip_prefix("this.")).unwrap_or(target);
            syntax::is_identifier(local).then(|| local.to_owned())
        })
        .collect()
}

fn push_ref(list: &mut Vec<CodeRef>, path: &str, text: &str, line: usize, note: String) {
    let code = text.lines().nth(line).unwrap_or("").trim().to_owned();
    let line = line as u32 + 1;
    if !list.iter().any(|r| r.path == path && r.line == line && r.note == note) {
        list.push(CodeRef { path: path.to_owned(), line, code, note });
    }
}

/// Languages that call each other: a JavaScript caller of a TypeScript function counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Python,
    JavaScript,
    Rust,
    Go,
    Java,
}

fn family_of(language: SourceLanguage) -> Family {
    match language {
        SourceLanguage::Python => Family::Python,
        SourceLanguage::JavaScript | SourceLanguage::TypeScript | SourceLanguage::Tsx => Family::JavaScript,
        SourceLanguage::Rust => Family::Rust,
        SourceLanguage::Go => Family::Go,
        SourceLanguage::Java => Family::Java,
    }
}

/// Whether a file holds tests by where it lives or how it is named.
fn is_test_path(path: &str) -> bool {
    let mut parts = path.split('/');
    let file = parts.next_back().unwrap_or("");
    let in_test_dir = parts.any(|dir| matches!(dir, "test" | "tests" | "__tests__" | "spec" | "testing"));
    let stem = file.split('.').next().unwrap_or("");
    in_test_dir
        || file.starts_with("test_")
        || file.ends_with("_test.py")
        || file.ends_with("_test.go")
        || [".test.", ".spec."].iter().any(|m| file.contains(m))
        || (file.ends_with(".java") && (stem.ends_with("Test") || stem.ends_with("Tests") || stem.ends_with("IT")))
}

#[derive(Default)]
struct WorkspaceHits {
    callers: Vec<CodeRef>,
    tests: Vec<CodeRef>,
    definitions: Vec<CodeRef>,
}

/// One walk over the workspace's files of the crash's language family: callers of and tests for
/// `crash_name`, definitions of the `called` functions. Stops after `MAX_HITS` callers and tests.
fn scan_workspace(
    root: &Path,
    family: Family,
    crash_name: Option<&str>,
    called: &[String],
    excluded_definition: Option<(String, u32)>,
    found: &mut WorkspaceHits,
) {
    let crash_name = crash_name.filter(|n| syntax::is_identifier(n));
    let mut names: Vec<&str> = crash_name.into_iter().chain(called.iter().map(String::as_str)).collect();
    names.retain(|n| syntax::is_identifier(n));
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return;
    }
    let alternatives: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
    // Plain literals: the fastest search the regex engine has; word boundaries are checked on the
    // few files that pass.
    let Ok(mentions_any) = BytesRegex::new(&alternatives.join("|")) else {
        return;
    };
    let mentions_crash_name = crash_name.and_then(|n| regex::Regex::new(&format!(r"\b{}\b", regex::escape(n))).ok());
    let mut defined: HashSet<String> = HashSet::new();

    let walker = crate::workspace::index::walker(root).max_filesize(Some(MAX_FILE_BYTES)).build();
    for entry in walker.flatten() {
        if found.callers.len() + found.tests.len() >= MAX_HITS {
            break;
        }
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(relative) = entry.path().strip_prefix(root).ok().and_then(|p| p.to_str()) else { continue };
        let relative = relative.replace('\\', "/");
        let Some(language) = SourceLanguage::from_path(&relative) else { continue };
        if family_of(language) != family {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path()) else { continue };
        if !mentions_any.is_match(&bytes) {
            continue;
        }
        let Ok(text) = std::str::from_utf8(&bytes) else { continue };

        let mentions_crash = crash_name.zip(mentions_crash_name.as_ref()).filter(|(_, m)| m.is_match(text));
        let defines_called = called.iter().any(|c| text.contains(c.as_str()));
        if mentions_crash.is_none() && !defines_called {
            continue;
        }
        let Some(parsed) = ParsedSource::new(language, text) else { continue };
        let functions = parsed.functions();
        if let Some((name, mentions)) = mentions_crash {
            let test_file = is_test_path(&relative);
            let cases = if test_file || (language == SourceLanguage::Rust && text.contains("test")) {
                parsed.test_cases()
            } else {
                Vec::new()
            };
            find_tests(&relative, text, &cases, mentions, &mut found.tests);
            if !test_file {
                let calls = parsed.calls_to(name);
                let from = CallSites { path: &relative, text, calls: &calls, functions: &functions, cases: &cases };
                find_callers(&from, name, &excluded_definition, &mut found.callers);
            }
        }
        if defines_called {
            for span in functions.iter().filter(|s| called.contains(&s.name)) {
                if defined.insert(format!("{relative}:{}", span.start_line)) {
                    let note = format!("definition of {}", span.name);
                    push_ref(&mut found.definitions, &relative, text, span.start_line, note);
                }
            }
        }
    }
    found.callers.truncate(MAX_HITS);
    found.tests.truncate(MAX_HITS);
}

/// Test cases of a file that mention the crashing function, reported at the test's first line.
fn find_tests(path: &str, text: &str, cases: &[FunctionSpan], mentions: &regex::Regex, tests: &mut Vec<CodeRef>) {
    if cases.is_empty() {
        return;
    }
    let lines: Vec<&str> = text.lines().collect();
    for case in cases {
        let body = lines.get(case.start_line..=case.end_line.min(lines.len().saturating_sub(1)));
        if body.is_some_and(|body| body.iter().any(|l| mentions.is_match(l))) {
            push_ref(tests, path, text, case.start_line, case.name.clone());
        }
    }
}

/// The calls to the crashing function found in one file, with what places them.
struct CallSites<'a> {
    path: &'a str,
    text: &'a str,
    /// 0-based lines.
    calls: &'a [usize],
    functions: &'a [FunctionSpan],
    cases: &'a [FunctionSpan],
}

/// Calls to the crashing function outside test cases, each noted with the function it is made from.
fn find_callers(
    file: &CallSites<'_>,
    name: &str,
    excluded_definition: &Option<(String, u32)>,
    callers: &mut Vec<CodeRef>,
) {
    for &line in file.calls {
        if file.cases.iter().any(|c| c.start_line <= line && line <= c.end_line) {
            continue;
        }
        let from = syntax::enclosing_function(file.functions, line);
        // A recursive call is not a caller.
        let recursive = from.is_some_and(|f| {
            excluded_definition.as_ref().is_some_and(|(p, start)| p == file.path && *start as usize == f.start_line + 1)
        });
        if recursive {
            continue;
        }
        let note = match from {
            Some(function) => format!("{} calls {name}", function.name),
            None => format!("calls {name}"),
        };
        push_ref(callers, file.path, file.text, line, note);
    }
}

/// Who last changed each of the crash lines (`path`, 1-based line), one entry per commit, newest
/// first. Empty when the workspace is not a git repository; uncommitted lines are left out.
fn history_of_lines(root: &Path, lines: &[(String, u32)]) -> Vec<CommitInfo> {
    let mut by_path: Vec<(&str, Vec<u32>)> = Vec::new();
    for (path, line) in lines {
        if !is_safe_git_path(path) || *line == 0 {
            continue;
        }
        match by_path.iter_mut().find(|(p, _)| p == path) {
            Some((_, list)) => list.push(*line),
            None => by_path.push((path, vec![*line])),
        }
    }
    let mut commits: Vec<(i64, CommitInfo)> = Vec::new();
    for (path, lines) in by_path {
        let mut command = Command::new("git");
        command
            .current_dir(root)
            .args(["-c", "core.fsmonitor=false", "blame", "--porcelain"])
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null());
        for line in &lines {
            command.arg("-L").arg(format!("{line},{line}"));
        }
        command.arg("--").arg(path);
        let Ok(output) = command.output() else { return Vec::new() };
        if !output.status.success() {
            tracing::debug!(path, "git blame found no history: {}", String::from_utf8_lossy(&output.stderr).trim());
            continue;
        }
        for (time, info) in parse_blame_porcelain(&String::from_utf8_lossy(&output.stdout), path) {
            match commits.iter_mut().find(|(_, c)| c.commit == info.commit) {
                Some((_, existing)) => {
                    for line in info.lines {
                        if !existing.lines.contains(&line) {
                            existing.lines.push(line);
                        }
                    }
                }
                None => commits.push((time, info)),
            }
        }
    }
    commits.sort_by_key(|(time, _)| std::cmp::Reverse(*time));
    commits.into_iter().map(|(_, c)| c).collect()
}

/// A workspace-relative path git cannot mistake for an option or resolve outside the workspace.
fn is_safe_git_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('-')
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.split('/').any(|part| part == ".." || part.is_empty())
        && !path.contains(['\0', '\n'])
}

/// Commits of `git blame --porcelain` output with their author time (seconds), each with the lines
/// (`path:line`) it last touched. The all-zero commit (not committed yet) is left out.
fn parse_blame_porcelain(output: &str, path: &str) -> Vec<(i64, CommitInfo)> {
    #[derive(Default)]
    struct Seen {
        author: String,
        time: i64,
        zone: String,
        summary: String,
        lines: Vec<String>,
    }
    let mut order: Vec<String> = Vec::new();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut current: Option<String> = None;
    for line in output.lines() {
        if line.starts_with('\t') {
            continue;
        }
        let mut words = line.split(' ');
        let first = words.next().unwrap_or("");
        if first.len() == 40 && first.bytes().all(|b| b.is_ascii_hexdigit()) {
            let final_line = words.nth(1).unwrap_or("");
            let entry = seen.entry(first.to_owned()).or_insert_with(|| {
                order.push(first.to_owned());
                Seen::default()
            });
            let place = format!("{path}:{final_line}");
            if !entry.lines.contains(&place) {
                entry.lines.push(place);
            }
            current = Some(first.to_owned());
            continue;
        }
        let Some(entry) = current.as_ref().and_then(|c| seen.get_mut(c)) else { continue };
        let value = line.split_once(' ').map_or("", |(_, v)| v);
        match first {
            "author" => entry.author = value.to_owned(),
            "author-time" => entry.time = value.parse().unwrap_or(0),
            "author-tz" => entry.zone = value.to_owned(),
            "summary" => entry.summary = value.to_owned(),
            _ => {}
        }
    }
    order
        .into_iter()
        .filter(|commit| commit.bytes().any(|b| b != b'0'))
        .filter_map(|commit| {
            let entry = seen.remove(&commit)?;
            let date = iso_date(entry.time, &entry.zone);
            let info = CommitInfo { commit, author: entry.author, date, summary: entry.summary, lines: entry.lines };
            Some((entry.time, info))
        })
        .collect()
}

/// Seconds since the epoch and a `+hhmm` zone as ISO-8601 in that zone.
fn iso_date(seconds: i64, zone: &str) -> String {
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits = zone.trim_start_matches(['+', '-']);
    let hours: i32 = digits.get(..2).and_then(|h| h.parse().ok()).unwrap_or(0);
    let minutes: i32 = digits.get(2..4).and_then(|m| m.parse().ok()).unwrap_or(0);
    let Some(time) = DateTime::from_timestamp(seconds, 0) else { return String::new() };
    match FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)) {
        Some(offset) => time.with_timezone(&offset).to_rfc3339(),
        None => time.to_rfc3339(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_files_are_told_by_place_and_name() {
        for path in [
            "tests/test_orders.py",
            "shop/test_orders.py",
            "pkg/orders_test.go",
            "web/cart.test.ts",
            "src/test/java/OrdersTest.java",
            "app/__tests__/cart.js",
        ] {
            assert!(is_test_path(path), "{path}");
        }
        for path in ["shop/orders.py", "web/contest.js", "src/Testimonial.java", "latest/main.go"] {
            assert!(!is_test_path(path), "{path}");
        }
    }

    #[test]
    fn git_never_sees_a_path_that_looks_like_an_option() {
        assert!(is_safe_git_path("shop/orders.py"));
        for path in ["-L1,1", "--output=x", "/etc/passwd", "../x.py", "a//b.py", "a\\b.py", ""] {
            assert!(!is_safe_git_path(path), "{path}");
        }
    }

    #[test]
    fn blame_porcelain_gives_one_entry_per_commit_and_skips_uncommitted_lines() {
        let output = "\
1f0c6e2a9f0c6e2a9f0c6e2a9f0c6e2a9f0c6e2a 3 3 1
author Ada Lovelace
author-mail <ada@example.com>
author-time 1700000000
author-tz +0100
summary Show the customer's name on receipts
filename shop/orders.py
\tname = customer[\"name\"]
1f0c6e2a9f0c6e2a9f0c6e2a9f0c6e2a9f0c6e2a 9 9 1
\treceipt(order)
0000000000000000000000000000000000000000 12 12 1
author Not Committed Yet
author-time 1800000000
author-tz +0000
summary Version of shop/orders.py from shop/orders.py
\tprint(x)
";
        let commits = parse_blame_porcelain(output, "shop/orders.py");
        assert_eq!(commits.len(), 1);
        let (_, info) = &commits[0];
        assert_eq!(info.author, "Ada Lovelace");
        assert_eq!(info.date, "2023-11-14T23:13:20+01:00");
        assert_eq!(info.summary, "Show the customer's name on receipts");
        assert_eq!(info.lines, vec!["shop/orders.py:3".to_owned(), "shop/orders.py:9".to_owned()]);
    }

    #[test]
    fn names_of_an_operation_are_the_expression_and_its_root() {
        let operation =
            FailingOperation::AttributeOfMissing { expression: "order.customer".into(), attribute: "name".into() };
        assert_eq!(names_in_operation(&operation), vec!["order.customer".to_owned(), "order".to_owned()]);
        let operation =
            FailingOperation::AttributeOfMissing { expression: "self.customer".into(), attribute: "name".into() };
        assert_eq!(names_in_operation(&operation), vec!["self.customer".to_owned()]);
        let operation = FailingOperation::NumberParse { call: "int(quantity)".into(), input: Some("x".into()) };
        assert_eq!(names_in_operation(&operation), vec!["quantity".to_owned()]);
    }
}
