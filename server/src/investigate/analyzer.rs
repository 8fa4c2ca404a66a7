//! Agent 1, the Error Analyzer, offline: turns a crash group into facts a person (or the next agent)
//! reads first. Where the crash happened and what the line holds today, the in-app path, the root
//! cause, the captured variables, and which operation of the crash line failed.
//!
//! The failing operation is told from the exception's message, in the words each runtime prints,
//! and the crash line parsed with tree-sitter to name the exact expression (`customer` in
//! `customer["name"]`). Crash text is untrusted: it is matched and quoted, never executed.

use std::path::{Component, Path};
use std::sync::LazyLock;

use regex::Regex;

use super::{CrashFacts, CrashInput, ErrorAnalyzer, FailingOperation, SiteFacts};
use crate::crash::Language;
use crate::text::{truncate, unquote};
use crate::workspace::sites::{Site, SiteRole};
use crate::workspace::syntax::{self, ExpressionKind, LineExpression, SourceLanguage};

/// Workspace files larger than this are not read for code.
const MAX_SOURCE_BYTES: u64 = 8 << 20;
/// Only the start of a message is matched; messages can be arbitrarily long.
const MAX_MESSAGE_CHARS: usize = 4000;

/// Builds the crash facts from the crash group and the workspace, without a model.
pub struct OfflineErrorAnalyzer;

impl ErrorAnalyzer for OfflineErrorAnalyzer {
    fn analyze(&self, input: &CrashInput<'_>) -> CrashFacts {
        let group = input.group;
        let event = &group.event;
        let outermost = event.exceptions.len().checked_sub(1);
        let crash_site = group.crash_site();
        let crash_text = crash_site.and_then(|site| read_workspace_file(&input.root, &site.path));
        let site_facts = |site: &Site| -> SiteFacts {
            let text = match crash_site {
                Some(crash) if crash.path == site.path => crash_text.clone(),
                _ => read_workspace_file(&input.root, &site.path),
            };
            facts_of_site(site, text.as_deref())
        };

        let mut path_sites: Vec<&Site> =
            group.sites.iter().filter(|s| Some(s.exception) == outermost && s.role != SiteRole::RootCause).collect();
        path_sites.sort_by_key(|s| s.depth);
        let in_app_path: Vec<SiteFacts> = path_sites.into_iter().map(site_facts).collect();

        let root_cause = match group.sites.iter().find(|s| s.role == SiteRole::RootCause) {
            Some(site) => {
                event.exceptions.get(site.exception).map(|e| (e.ty.clone(), e.value.clone(), Some(site_facts(site))))
            }
            None => event.root_causes().next().map(|(_, e)| (e.ty.clone(), e.value.clone(), None)),
        };

        let variables = crash_site.and_then(|site| group.frame_of(site)).map(|f| f.vars.clone()).unwrap_or_default();
        let language = event.language.or_else(|| crash_site.and_then(|s| language_of_path(&s.path)));
        let crash_line = match (crash_site, crash_text.as_deref()) {
            (Some(site), Some(text)) => SourceLanguage::from_path(&site.path).map(|language| CrashLine {
                language,
                text,
                line: site.line.saturating_sub(1) as usize,
                column: site.column.map(|c| c.saturating_sub(1) as usize),
                vars: &variables,
            }),
            _ => None,
        };
        let failing_operation = (!group.exception.is_empty() || !group.message.is_empty())
            .then(|| failing_operation(language, &group.exception, &group.message, crash_line.as_ref()));

        CrashFacts {
            language,
            exception: group.exception.clone(),
            message: group.message.clone(),
            crash_site: crash_site.map(site_facts),
            in_app_path,
            root_cause,
            variables,
            failing_operation,
        }
    }
}

/// The crash line with what is known around it, for telling the failing operation.
pub struct CrashLine<'a> {
    pub language: SourceLanguage,
    /// Today's text of the whole file.
    pub text: &'a str,
    /// 0-based.
    pub line: usize,
    /// 0-based, as the crash reported it.
    pub column: Option<usize>,
    /// Captured local variables, rendered.
    pub vars: &'a [(String, String)],
}

/// Reads a workspace file by its workspace-relative path; refuses paths that leave the workspace.
pub(crate) fn read_workspace_file(root: &Path, relative: &str) -> Option<String> {
    let path = Path::new(relative);
    if relative.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
        return None;
    }
    let full = root.join(path);
    if std::fs::metadata(&full).ok()?.len() > MAX_SOURCE_BYTES {
        return None;
    }
    let bytes = std::fs::read(full).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The Crashloom language a workspace file is written in.
pub(crate) fn language_of_path(path: &str) -> Option<Language> {
    Some(match SourceLanguage::from_path(path)? {
        SourceLanguage::Python => Language::Python,
        SourceLanguage::JavaScript | SourceLanguage::TypeScript | SourceLanguage::Tsx => Language::JavaScript,
        SourceLanguage::Rust => Language::Rust,
        SourceLanguage::Go => Language::Go,
        SourceLanguage::Java => Language::Java,
    })
}

fn facts_of_site(site: &Site, text: Option<&str>) -> SiteFacts {
    let today = text
        .and_then(|t| t.lines().nth(site.line.saturating_sub(1) as usize))
        .map(|l| l.trim_end().to_owned())
        .or_else(|| site.line_text.clone());
    SiteFacts { path: site.path.clone(), line: site.line, function: site.function.clone(), code: today }
}

/// What failed at the crash line, told from the exception type and message as the runtime printed
/// them and, when the line's code is known, the expression on it. Never fails: what cannot be told
/// precisely is `Other` with the exception's title.
pub fn failing_operation(
    language: Option<Language>,
    exception: &str,
    message: &str,
    line: Option<&CrashLine<'_>>,
) -> FailingOperation {
    let message = truncate(message, MAX_MESSAGE_CHARS);
    let message = message.trim();
    let exception = exception.trim();
    let short_type = exception.rsplit(['.', ':', '$']).find(|s| !s.is_empty()).unwrap_or(exception);
    let expressions = line.map(|l| syntax::expressions_on_line(l.language, l.text, l.line)).unwrap_or_default();
    let on_line = OnLine { expressions: &expressions, line };
    let crash = Crash { exception, short_type, message };
    let detected = match language {
        Some(Language::Python) => python(&crash, &on_line),
        Some(Language::JavaScript) => javascript(&crash, &on_line),
        Some(Language::Rust) => rust(&crash, &on_line),
        Some(Language::Go) => go(&crash, &on_line),
        Some(Language::Java) => java(&crash, &on_line),
        _ => python(&crash, &on_line)
            .or_else(|| javascript(&crash, &on_line))
            .or_else(|| rust(&crash, &on_line))
            .or_else(|| go(&crash, &on_line))
            .or_else(|| java(&crash, &on_line)),
    };
    detected.unwrap_or_else(|| FailingOperation::Other { summary: crash.summary() })
}

struct Crash<'a> {
    exception: &'a str,
    /// The type without its module or package prefix.
    short_type: &'a str,
    message: &'a str,
}

impl Crash<'_> {
    fn summary(&self) -> String {
        let first = self.message.lines().next().unwrap_or("").trim();
        let title = match (self.exception.is_empty(), first.is_empty()) {
            (_, true) => self.exception.to_owned(),
            (true, false) => first.to_owned(),
            (false, false) => format!("{}: {first}", self.exception),
        };
        truncate(&title, 300)
    }

    /// The type and message as one text, for runtimes whose parsers split `panic: runtime error: ...`
    /// in different places.
    fn mentions(&self, needle: &str) -> bool {
        self.message.contains(needle) || self.exception.contains(needle)
    }
}

/// The expressions of the crash line and a way to pick the one that failed.
struct OnLine<'a> {
    expressions: &'a [LineExpression],
    line: Option<&'a CrashLine<'a>>,
}

impl<'a> OnLine<'a> {
    /// The first expression of `kind` that `keep` accepts, preferring one whose value the captured
    /// variables show as `suspect`, then one under the reported column.
    fn pick(
        &self,
        kind: ExpressionKind,
        keep: impl Fn(&LineExpression) -> bool,
        suspect: impl Fn(&LineExpression) -> bool,
    ) -> Option<&'a LineExpression> {
        let at = self.line.and_then(|l| Some((l.line, l.column?)));
        self.expressions
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == kind && keep(e))
            .min_by_key(|(i, e)| (!suspect(e), !at.is_some_and(|(l, c)| e.covers(l, c)), *i))
            .map(|(_, e)| e)
    }

    fn variable(&self, name: &str) -> Option<&'a str> {
        self.line?.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Whether the captured variables show `name` as None, null, undefined or nil.
    fn is_missing(&self, name: &str) -> bool {
        self.variable(name).is_some_and(|v| matches!(v.trim(), "None" | "null" | "undefined" | "nil" | "<nil>"))
    }

    fn is_zero(&self, name: &str) -> bool {
        self.variable(name).is_some_and(|v| v.trim().parse::<f64>().is_ok_and(|n| n == 0.0))
    }

    /// The member access `x.name` on the line, preferring an `x` captured as missing.
    fn member_named(&self, name: &str) -> Option<&'a LineExpression> {
        self.pick(ExpressionKind::Member, |e| e.part == name, |e| self.is_missing(&e.target))
    }

    fn division(&self) -> Option<FailingOperation> {
        let division = self.pick(ExpressionKind::Division, |_| true, |e| self.is_zero(&e.part))?;
        Some(FailingOperation::DivisionByZero { divisor: division.part.clone() })
    }

    /// A call on the line whose callee ends with one of `names`.
    fn call_named(&self, names: &[&str]) -> Option<&'a LineExpression> {
        self.pick(
            ExpressionKind::Call,
            |e| syntax::last_identifier(&e.target).is_some_and(|n| names.contains(&n)),
            |_| false,
        )
    }

    fn index_out_of_range(&self, index: Option<&str>, length: Option<&str>) -> Option<FailingOperation> {
        let access =
            self.pick(ExpressionKind::Index, |e| !is_string_literal(&e.part), |e| Some(e.part.as_str()) == index)?;
        Some(FailingOperation::IndexOutOfRange {
            container: access.target.clone(),
            index: Some(index.map_or_else(|| access.part.clone(), str::to_owned)),
            length: length.map(str::to_owned),
        })
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

fn is_string_literal(text: &str) -> bool {
    let text = text.trim_start_matches(['b', 'r', 'f', 'u', 'B', 'R', 'F', 'U']);
    text.len() >= 2 && ['"', '\'', '`'].iter().any(|q| text.starts_with(*q) && text.ends_with(*q))
}

fn python(crash: &Crash<'_>, on_line: &OnLine<'_>) -> Option<FailingOperation> {
    static NO_ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| regex(r"^'NoneType' object has no attribute '([^']*)'"));
    static INVALID_LITERAL: LazyLock<Regex> =
        LazyLock::new(|| regex(r"^invalid literal for (\w+)\(\)(?: with base \d+)?: (.*)$"));
    static NOT_FLOAT: LazyLock<Regex> = LazyLock::new(|| regex(r"^could not convert string to float: (.*)$"));
    let message = crash.message;
    match crash.short_type {
        "TypeError"
            if message.starts_with("'NoneType' object is not subscriptable")
                || message.starts_with("'NoneType' object does not support item") =>
        {
            let access = on_line.pick(ExpressionKind::Index, |_| true, |e| on_line.is_missing(&e.target))?;
            Some(FailingOperation::SubscriptOfMissing { expression: access.target.clone() })
        }
        "AttributeError" => {
            let attribute = NO_ATTRIBUTE.captures(message)?.get(1)?.as_str();
            let access = on_line.member_named(attribute)?;
            Some(FailingOperation::AttributeOfMissing {
                expression: access.target.clone(),
                attribute: attribute.to_owned(),
            })
        }
        "KeyError" => {
            let key = unquote(message.lines().next().unwrap_or(""));
            let access = on_line
                .pick(ExpressionKind::Index, |e| unquote(&e.part) == key, |_| false)
                .or_else(|| on_line.pick(ExpressionKind::Index, |e| !is_string_literal(&e.part), |_| false))?;
            Some(FailingOperation::MissingKey { container: access.target.clone(), key: key.to_owned() })
        }
        "IndexError" if message.contains("index out of range") => on_line.index_out_of_range(None, None),
        "ZeroDivisionError" => on_line.division(),
        "ValueError" => {
            let (function, input) = match INVALID_LITERAL.captures(message) {
                Some(found) => (found.get(1)?.as_str(), found.get(2)?.as_str()),
                None => ("float", NOT_FLOAT.captures(message)?.get(1)?.as_str()),
            };
            let call = on_line.call_named(&[function]).map_or_else(|| format!("{function}()"), |c| c.text.clone());
            Some(FailingOperation::NumberParse { call, input: Some(unquote(input).to_owned()) })
        }
        _ => None,
    }
}

fn javascript(crash: &Crash<'_>, on_line: &OnLine<'_>) -> Option<FailingOperation> {
    static READ_OF_MISSING: LazyLock<Regex> = LazyLock::new(|| {
        regex(
            r"^Cannot (?:read|set) propert(?:y|ies) of (?:undefined|null)(?: \((?:reading|setting) '(.*)'\))?|^Cannot (?:read|set) property '(.*)' of (?:undefined|null)",
        )
    });
    if crash.short_type != "TypeError" {
        return None;
    }
    let found = READ_OF_MISSING.captures(crash.message)?;
    let attribute = found.get(1).or_else(|| found.get(2))?.as_str();
    let access = on_line.member_named(attribute).or_else(|| {
        on_line.pick(ExpressionKind::Index, |e| unquote(&e.part) == attribute, |e| on_line.is_missing(&e.target))
    })?;
    Some(FailingOperation::AttributeOfMissing { expression: access.target.clone(), attribute: attribute.to_owned() })
}

fn rust(crash: &Crash<'_>, on_line: &OnLine<'_>) -> Option<FailingOperation> {
    static INDEX: LazyLock<Regex> =
        LazyLock::new(|| regex(r"index out of bounds: the len is (\d+) but the index is (\d+)"));
    const UNWRAP_NONE: &str = "called `Option::unwrap()` on a `None` value";
    const UNWRAP_ERR: &str = "called `Result::unwrap()` on an `Err` value: ";
    let message = crash.message;
    let receiver = |method: &str| on_line.member_named(method).map(|m| m.target.clone());
    let err_or_parse = |expression: String, error: &str| {
        if ["ParseIntError", "ParseFloatError"].iter().any(|e| error.contains(e)) {
            let call = on_line.call_named(&["parse"]).map_or(expression, |c| c.text.clone());
            FailingOperation::NumberParse { call, input: None }
        } else {
            FailingOperation::UnwrapErr { expression, error: error.to_owned() }
        }
    };
    if message.contains(UNWRAP_NONE) {
        return Some(FailingOperation::UnwrapNone { expression: receiver("unwrap")? });
    }
    if let Some((_, error)) = message.split_once(UNWRAP_ERR) {
        return Some(err_or_parse(receiver("unwrap")?, error.trim()));
    }
    if let Some(found) = INDEX.captures(message) {
        let (length, index) = (found.get(1).map(|m| m.as_str()), found.get(2).map(|m| m.as_str()));
        return on_line.index_out_of_range(index, length);
    }
    if message.contains("attempt to divide by zero") || message.contains("remainder with a divisor of zero") {
        return on_line.division();
    }
    // `.expect("text")` panics with the text on None, and `text: {err:?}` on Err.
    let expect = on_line.member_named("expect")?;
    let call = on_line.pick(ExpressionKind::Call, |c| c.target == format!("{}.expect", expect.target), |_| false)?;
    let arguments = call.part.trim().trim_start_matches('(').trim_end_matches(')').trim();
    if !is_string_literal(arguments) {
        return None;
    }
    let text = unquote(arguments);
    if message == text {
        return Some(FailingOperation::UnwrapNone { expression: expect.target.clone() });
    }
    let error = message.strip_prefix(text)?.strip_prefix(": ")?;
    Some(err_or_parse(expect.target.clone(), error))
}

fn go(crash: &Crash<'_>, on_line: &OnLine<'_>) -> Option<FailingOperation> {
    static INDEX: LazyLock<Regex> = LazyLock::new(|| regex(r"index out of range \[(-?\d+)\] with length (\d+)"));
    static STRCONV: LazyLock<Regex> = LazyLock::new(|| regex(r#"strconv\.(\w+): parsing "((?:[^"\\]|\\.)*)""#));
    if crash.mentions("assignment to entry in nil map") {
        let write = on_line.pick(ExpressionKind::IndexAssignment, |_| true, |e| on_line.is_missing(&e.target))?;
        return Some(FailingOperation::NilMapWrite { map: write.target.clone() });
    }
    if crash.mentions("nil pointer dereference") {
        let imported = |name: &str| {
            on_line
                .line
                .is_some_and(|l| l.text.contains(&format!("\"{name}\"")) || l.text.contains(&format!("/{name}\"")))
        };
        let access =
            on_line.pick(ExpressionKind::Member, |e| !imported(&e.target), |e| on_line.is_missing(&e.target))?;
        return Some(FailingOperation::NilDereference { expression: access.target.clone() });
    }
    if let Some(found) = INDEX.captures(crash.message).or_else(|| INDEX.captures(crash.exception)) {
        let (index, length) = (found.get(1).map(|m| m.as_str()), found.get(2).map(|m| m.as_str()));
        return on_line.index_out_of_range(index, length);
    }
    if crash.mentions("integer divide by zero") {
        return on_line.division();
    }
    let found = STRCONV.captures(crash.message)?;
    let function = found.get(1)?.as_str();
    let call = on_line.call_named(&[function]).map_or_else(|| format!("strconv.{function}"), |c| c.text.clone());
    Some(FailingOperation::NumberParse { call, input: Some(found.get(2)?.as_str().to_owned()) })
}

fn java(crash: &Crash<'_>, on_line: &OnLine<'_>) -> Option<FailingOperation> {
    static HELPFUL_NPE: LazyLock<Regex> = LazyLock::new(|| {
        regex(
            r#"^Cannot (invoke "(?:[^"]*\.)?([\w$<>]+)\([^"]*\)"|read field "([\w$]+)"|assign field "([\w$]+)"|read the array length|load from \w+ array|store to \w+ array) because (?:"([^"]+)"|the return value of "(?:[^"]*\.)?([\w$<>]+)\([^"]*\)") is null"#,
        )
    });
    static INDEX: LazyLock<Regex> =
        LazyLock::new(|| regex(r"(?i)index:? (-?\d+),? (?:out of bounds for )?length:? (\d+)"));
    static INPUT: LazyLock<Regex> = LazyLock::new(|| regex(r#"^For input string: "((?:[^"\\]|\\.)*)""#));
    let message = crash.message;
    match crash.short_type {
        "NullPointerException" => {
            let found = HELPFUL_NPE.captures(message)?;
            let action = found.get(1)?.as_str();
            let attribute = found.get(2).or_else(|| found.get(3)).or_else(|| found.get(4)).map(|m| m.as_str());
            let attribute = attribute.unwrap_or(if action.starts_with("read the array") { "length" } else { "" });
            // A named expression is quoted as the source reads; locals without debug info
            // (`<local1>`) and return values are found on the line by the member they reach.
            let expression = match (found.get(5).map(|m| m.as_str()), found.get(6).map(|m| m.as_str())) {
                (Some(named), _) if !named.starts_with('<') => named.to_owned(),
                (_, Some(method)) => on_line.call_named(&[method]).map(|c| c.text.clone())?,
                _ if action.starts_with("load") || action.starts_with("store") => {
                    on_line.pick(ExpressionKind::Index, |_| true, |_| false)?.target.clone()
                }
                _ => on_line.member_named(attribute)?.target.clone(),
            };
            if action.starts_with("load") || action.starts_with("store") {
                return Some(FailingOperation::SubscriptOfMissing { expression });
            }
            Some(FailingOperation::AttributeOfMissing { expression, attribute: attribute.to_owned() })
        }
        "ArrayIndexOutOfBoundsException" | "IndexOutOfBoundsException" | "StringIndexOutOfBoundsException" => {
            let found = INDEX.captures(message);
            let index = found.as_ref().and_then(|f| f.get(1)).map(|m| m.as_str());
            let length = found.as_ref().and_then(|f| f.get(2)).map(|m| m.as_str());
            on_line.index_out_of_range(index, length).or_else(|| {
                let get = on_line.pick(
                    ExpressionKind::Member,
                    |e| matches!(e.part.as_str(), "get" | "charAt" | "substring" | "remove" | "set"),
                    |_| false,
                )?;
                Some(FailingOperation::IndexOutOfRange {
                    container: get.target.clone(),
                    index: index.map(str::to_owned),
                    length: length.map(str::to_owned),
                })
            })
        }
        "ArithmeticException" if message.contains("by zero") => on_line.division(),
        "NumberFormatException" => {
            let input = INPUT.captures(message).and_then(|f| f.get(1)).map(|m| m.as_str().to_owned());
            let parsers = ["parseInt", "parseLong", "parseDouble", "parseFloat", "parseShort", "parseByte", "valueOf"];
            let call = on_line.call_named(&parsers).or_else(|| on_line.call_named(&["BigDecimal", "BigInteger"]))?;
            Some(FailingOperation::NumberParse { call: call.text.clone(), input })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_line(
        language: Language,
        path: &str,
        source: &str,
        line: usize,
        exception: &str,
        message: &str,
    ) -> FailingOperation {
        let language_of_file = SourceLanguage::from_path(path).expect("a known extension");
        let crash_line =
            CrashLine { language: language_of_file, text: source, line: line - 1, column: None, vars: &[] };
        failing_operation(Some(language), exception, message, Some(&crash_line))
    }

    #[test]
    fn python_none_subscript_names_the_subscripted_value() {
        let source = "def receipt(order):\n    customer = CUSTOMERS.get(order[\"customer\"])\n    return customer[\"name\"].upper()\n";
        let found = on_line(
            Language::Python,
            "shop/orders.py",
            source,
            3,
            "TypeError",
            "'NoneType' object is not subscriptable",
        );
        assert_eq!(found, FailingOperation::SubscriptOfMissing { expression: "customer".into() });
    }

    #[test]
    fn unknown_patterns_are_said_in_words() {
        let found = failing_operation(Some(Language::Python), "shop.orders.OrderError", "order 7 is closed", None);
        assert_eq!(found, FailingOperation::Other { summary: "shop.orders.OrderError: order 7 is closed".into() });
    }

    #[test]
    fn module_prefixes_are_ignored_when_comparing_types() {
        let source = "import json\ndef f(d):\n    return d['sku']\n";
        let found = on_line(Language::Python, "a.py", source, 3, "builtins.KeyError", "'sku'");
        assert_eq!(found, FailingOperation::MissingKey { container: "d".into(), key: "sku".into() });
    }

    #[test]
    fn read_workspace_file_refuses_paths_that_leave_the_workspace() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("a.py"), "x = 1\n").expect("write");
        assert!(read_workspace_file(root.path(), "a.py").is_some());
        assert!(read_workspace_file(root.path(), "../a.py").is_none());
        assert!(read_workspace_file(root.path(), "/etc/passwd").is_none());
        assert!(read_workspace_file(root.path(), "").is_none());
    }
}
