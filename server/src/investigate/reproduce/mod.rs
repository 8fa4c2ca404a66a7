//! Reproductions Crashloom writes itself, for when `[validate] reproduce` is not set.
//!
//! Most crash reports come without a test that triggers them. Each writer here turns what the crash
//! carries into a small program or test that should crash the same way, and the validator keeps a
//! candidate only when it really does, before the change, in the sandbox copy (same exception type,
//! same in-app crash site). Candidates, in the order they are tried:
//! - **captured values**: the crashing function (or the outermost in-app function whose arguments
//!   were captured) called with the values the crash captured (Sentry `vars`), rebuilt as data —
//!   `json`/`ast.literal_eval`, `JSON.parse` — never evaluated as code;
//! - **the project's tests**: the tests Code Search found exercising the crashing function, run
//!   alone to see whether one already reproduces the crash;
//! - **from the code**: a call of the crashing function with the simple values visible in the
//!   trace or the message (the key of a `KeyError`, the index of an out-of-range access, the text of
//!   a failed parse).
//!
//! Every file a candidate writes goes into the sandbox copy only, and each test it defines carries
//! [`REPRODUCTION_TEST_MARKER`] in its name, so the regression rung can leave it out of the
//! project's own tests. Nothing here runs anything: the validator does, in the sandbox.

pub mod go;
pub mod java;
pub mod node;
pub mod project_tests;
pub mod python;
pub mod rust;
mod text;

use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use super::{CodeContext, CrashFacts};
use crate::sandbox::{FileChange, FileEdit};
use crate::workspace::sites::{CrashGroup, Site};
use crate::workspace::syntax::{FunctionSpan, SourceLanguage, enclosing_function, functions};

/// Part of the name of every test a reproduction defines, so the project's test results can
/// tell it apart from the project's own tests.
pub const REPRODUCTION_TEST_MARKER: &str = "crashloom_repro";

/// Where a reproduction came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReproductionOrigin {
    /// `[validate] reproduce` in crashloom.toml.
    Configured,
    /// Written from the values the crash captured.
    CapturedValues,
    /// One of the project's own tests, run alone.
    ProjectTest { name: String },
    /// Written from the code and the simple values in the trace or message.
    FromCode,
}

/// A reproduction to try: files to write into the copy and the command that runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReproductionCandidate {
    pub origin: ReproductionOrigin,
    /// One sentence for the report: what it calls, with what.
    pub description: String,
    /// Written into the sandbox copy before the reproduction runs; never into the workspace,
    /// unless the user chooses to add the reproduction as a regression test.
    pub files: Vec<FileChange>,
    /// Program and arguments, run in the copy's workspace folder.
    pub command: Vec<String>,
}

impl ReproductionCandidate {
    /// The reproduction's own source, for the report: the first file it writes.
    pub fn source(&self) -> Option<(&str, &str)> {
        self.files.iter().find_map(|file| match &file.edit {
            FileEdit::Write { content } => Some((file.path.as_str(), content.as_str())),
            // A test module appended to a file (Rust): the appended text.
            FileEdit::Replace { old, new } => new.strip_prefix(old.as_str()).map(|added| (file.path.as_str(), added)),
            FileEdit::Delete => None,
        })
    }
}

/// What the writers read.
pub struct ReproductionInputs<'a> {
    pub root: &'a Path,
    pub group: &'a CrashGroup,
    pub facts: &'a CrashFacts,
    pub code: &'a CodeContext,
    /// The project's test command (configured or detected), for running its own tests alone.
    pub test_command: Option<&'a [String]>,
}

/// The reproductions worth trying for a crash, most promising first: captured values, then the
/// project's own tests, then calls written from the code.
pub fn candidates(inputs: &ReproductionInputs<'_>) -> Vec<ReproductionCandidate> {
    let mut found = Vec::new();
    found.extend(python::captured_values(inputs.root, inputs.group, inputs.test_command));
    found.extend(node::captured_values(inputs.root, inputs.group));
    found.extend(project_tests::candidates(inputs));
    let language = inputs.group.crash_site().and_then(|site| SourceLanguage::from_path(&site.path));
    found.extend(match language {
        Some(SourceLanguage::Python) => python::from_code(inputs),
        Some(SourceLanguage::JavaScript) => node::from_code(inputs),
        Some(SourceLanguage::Go) => go::from_code(inputs),
        Some(SourceLanguage::Rust) => rust::from_code(inputs),
        Some(SourceLanguage::Java) => java::from_code(inputs),
        _ => None,
    });
    found
}

/// A function of the workspace as its file has it today, at a site of the crash.
pub(crate) struct SiteFunction<'a> {
    pub site: &'a Site,
    /// The function's own name, without module, class or receiver.
    pub name: String,
    pub language: SourceLanguage,
    /// The whole file.
    pub text: String,
    pub span: FunctionSpan,
}

impl SiteFunction<'_> {
    /// The 0-based line of the site.
    pub fn line(&self) -> usize {
        self.site.line.saturating_sub(1) as usize
    }

    /// The lines of the function.
    pub fn source_lines(&self) -> Vec<&str> {
        let lines: Vec<&str> = self.text.lines().collect();
        lines.get(self.span.start_line..=self.span.end_line.min(lines.len().saturating_sub(1))).unwrap_or(&[]).to_vec()
    }

    /// The function's first line.
    pub fn definition(&self) -> &str {
        self.text.lines().nth(self.span.start_line).unwrap_or("")
    }
}

/// The function holding a site, when the file today still has a function of the crash's name
/// around the site's line.
pub(crate) fn site_function<'a>(root: &Path, site: &'a Site) -> Option<SiteFunction<'a>> {
    let language = SourceLanguage::from_path(&site.path)?;
    let name = short_name(site.function.as_deref()?)?;
    let text = read_workspace_file(root, &site.path)?;
    let spans = functions(language, &text);
    let span = enclosing_function(&spans, site.line.saturating_sub(1) as usize)?.clone();
    (span.name == name).then_some(SiteFunction { site, name, language, text, span })
}

/// The crash site's function (see [`site_function`]).
pub(crate) fn crashing_function<'a>(root: &Path, group: &'a CrashGroup) -> Option<SiteFunction<'a>> {
    site_function(root, group.crash_site()?)
}

/// The in-app sites of the crashing exception: the crash site first, then its callers outwards.
pub(crate) fn call_path(group: &CrashGroup) -> Vec<&Site> {
    let Some(crash) = group.crash_site() else {
        return Vec::new();
    };
    let mut sites: Vec<&Site> = group.sites.iter().filter(|s| s.exception == crash.exception).collect();
    sites.sort_by_key(|s| std::cmp::Reverse(s.frame));
    sites.dedup_by_key(|s| s.frame);
    sites
}

/// `parse_quantity` for `stock::parse_quantity`, `Record` for `(*Registry).Record`, `total` for
/// `Cart.total`; `None` for anonymous frames (`<module>`, `<lambda>`, `{{closure}}`).
pub(crate) fn short_name(function: &str) -> Option<String> {
    let function = function.trim().trim_end_matches("(...)");
    let last = function.rsplit("::").next()?.rsplit('.').next()?;
    let valid = last.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && last.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    valid.then(|| last.to_owned())
}

/// A workspace file's text; `None` for paths that leave the workspace.
pub(crate) fn read_workspace_file(root: &Path, relative: &str) -> Option<String> {
    let path = Path::new(relative);
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(path).canonicalize().ok()?;
    if !full.starts_with(root.canonicalize().ok()?) {
        return None;
    }
    std::fs::read_to_string(full).ok()
}

/// The crash's short id as a file-name part: lowercase letters, digits and `_`.
pub(crate) fn file_id(group: &CrashGroup) -> String {
    group.short_id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// Whether a value as a crash captured it was cut short (by the SDK, or when it was read).
pub(crate) fn is_cut(value: &str) -> bool {
    value.ends_with("...") || value.ends_with('\u{2026}')
}

/// A parameter as the function declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parameter {
    pub name: String,
    /// The type as written, when the language writes one.
    pub ty: Option<String>,
    pub has_default: bool,
}

/// What a function's declaration says about calling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub parameters: Vec<Parameter>,
    /// Go: the receiver's type name (`Registry` for `(r *Registry)`); Rust: `self`; Python and
    /// JavaScript: the class a method is defined in; Java: the enclosing class.
    pub owner: Option<String>,
    /// Java `static`, Go and Rust: no receiver.
    pub is_static: bool,
}

/// The declaration of a function: its plain parameters. `None` when any parameter is a pattern,
/// a rest or variadic parameter, or something else a call cannot be written for.
pub(crate) fn signature(function: &SiteFunction<'_>) -> Option<Signature> {
    let tree = crate::workspace::syntax::parse(function.language, &function.text)?;
    let source = function.text.as_bytes();
    let text = |node: tree_sitter::Node| node.utf8_text(source).ok().map(str::to_owned);
    let mut stack = vec![tree.root_node()];
    let mut node = None;
    while let Some(candidate) = stack.pop() {
        if function.language.is_function(candidate.kind())
            && candidate.start_position().row == function.span.start_line
            && candidate.child_by_field_name("name").and_then(text).as_deref() == Some(function.name.as_str())
        {
            node = Some(candidate);
            break;
        }
        let mut cursor = candidate.walk();
        stack.extend(candidate.named_children(&mut cursor));
    }
    let node = node?;
    let list = node.child_by_field_name("parameters")?;
    let mut parameters = Vec::new();
    let mut cursor = list.walk();
    for parameter in list.named_children(&mut cursor) {
        let field = |name: &str| parameter.child_by_field_name(name).and_then(text);
        let plain = |name: Option<String>, ty: Option<String>, has_default: bool| {
            name.filter(|n| crate::workspace::syntax::is_identifier(n)).map(|name| Parameter { name, ty, has_default })
        };
        let found = match (function.language, parameter.kind()) {
            (_, "comment") => continue,
            (SourceLanguage::Python, "positional_separator" | "keyword_separator") => continue,
            (SourceLanguage::Python, "identifier") => plain(text(parameter), None, false),
            (SourceLanguage::Python, "typed_parameter") => {
                plain(parameter.named_child(0).and_then(text), field("type"), false)
            }
            (SourceLanguage::Python, "default_parameter" | "typed_default_parameter") => {
                plain(field("name"), field("type"), true)
            }
            (SourceLanguage::JavaScript, "identifier") => plain(text(parameter), None, false),
            (SourceLanguage::JavaScript, "assignment_pattern") => plain(field("left"), None, true),
            (SourceLanguage::Go, "parameter_declaration") => {
                let ty = field("type");
                let mut names = parameter.walk();
                let names: Vec<String> =
                    parameter.children_by_field_name("name", &mut names).filter_map(text).collect();
                if names.is_empty() {
                    return None;
                }
                for name in names {
                    parameters.push(plain(Some(name), ty.clone(), false)?);
                }
                continue;
            }
            (SourceLanguage::Rust, "self_parameter") => {
                return Some(Signature { parameters: Vec::new(), owner: Some("self".into()), is_static: false });
            }
            (SourceLanguage::Rust, "parameter") => plain(field("pattern"), field("type"), false),
            (SourceLanguage::Java, "formal_parameter") => plain(field("name"), field("type"), false),
            _ => None,
        };
        parameters.push(found?);
    }
    let (owner, is_static) = match function.language {
        SourceLanguage::Go => {
            let receiver = node.child_by_field_name("receiver").and_then(text);
            let owner = receiver.map(|r| {
                r.trim_matches(|c| c == '(' || c == ')')
                    .split_whitespace()
                    .last()
                    .unwrap_or("")
                    .trim_start_matches('*')
                    .to_owned()
            });
            (owner, node.kind() == "function_declaration")
        }
        SourceLanguage::Rust => (None, true),
        SourceLanguage::Java => {
            let mut cursor = node.walk();
            let modifiers = node.children(&mut cursor).find(|c| c.kind() == "modifiers").and_then(text);
            let is_static = modifiers.is_some_and(|m| m.split_whitespace().any(|w| w == "static"));
            (enclosing_class(node, &text), is_static)
        }
        _ => {
            let owner = enclosing_class(node, &text);
            (owner.clone(), owner.is_none())
        }
    };
    Some(Signature { parameters, owner, is_static })
}

/// The name of the class a definition sits in directly (its body's owner), if any.
fn enclosing_class(node: tree_sitter::Node, text: &dyn Fn(tree_sitter::Node) -> Option<String>) -> Option<String> {
    let mut parent = node.parent();
    while let Some(current) = parent {
        match current.kind() {
            "class_definition"
            | "class_declaration"
            | "class"
            | "enum_declaration"
            | "record_declaration"
            | "interface_declaration" => return current.child_by_field_name("name").and_then(text),
            "block" | "class_body" | "declaration_list" | "decorated_definition" | "enum_body" => {}
            _ => return None,
        }
        parent = current.parent();
    }
    None
}
