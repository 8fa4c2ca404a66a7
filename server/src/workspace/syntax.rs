//! Code structure with tree-sitter: the functions of a file and which one holds a line. Used by
//! the code lens (crash counts above a function) and by code search.

use std::path::Path;

use tree_sitter::{Node, Parser, Tree};

/// Languages whose structure Crashloom understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceLanguage {
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Rust,
    Go,
    Java,
}

impl SourceLanguage {
    pub fn from_path(path: &str) -> Option<Self> {
        let extension = Path::new(path).extension()?.to_str()?;
        Some(match extension {
            "py" | "pyw" => Self::Python,
            "js" | "mjs" | "cjs" | "jsx" => Self::JavaScript,
            "ts" | "mts" | "cts" => Self::TypeScript,
            "tsx" => Self::Tsx,
            "rs" => Self::Rust,
            "go" => Self::Go,
            "java" => Self::Java,
            _ => return None,
        })
    }

    pub fn grammar(self) -> tree_sitter::Language {
        match self {
            Self::Python => tree_sitter_python::LANGUAGE.into(),
            Self::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Self::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Self::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Self::Rust => tree_sitter_rust::LANGUAGE.into(),
            Self::Go => tree_sitter_go::LANGUAGE.into(),
            Self::Java => tree_sitter_java::LANGUAGE.into(),
        }
    }

    /// Whether a node of this kind is a function, method or closure.
    pub fn is_function(self, kind: &str) -> bool {
        match self {
            Self::Python => kind == "function_definition",
            Self::JavaScript | Self::TypeScript | Self::Tsx => matches!(
                kind,
                "function_declaration"
                    | "generator_function_declaration"
                    | "method_definition"
                    | "arrow_function"
                    | "function_expression"
                    | "function"
            ),
            Self::Rust => matches!(kind, "function_item" | "closure_expression"),
            Self::Go => matches!(kind, "function_declaration" | "method_declaration" | "func_literal"),
            Self::Java => matches!(kind, "method_declaration" | "constructor_declaration" | "lambda_expression"),
        }
    }
}

/// A function-like definition: its name and its lines (0-based, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpan {
    pub name: String,
    pub start_line: usize,
    pub end_line: usize,
}

/// Every function, method and named closure of a file, outermost first.
pub fn functions(language: SourceLanguage, text: &str) -> Vec<FunctionSpan> {
    ParsedSource::new(language, text).map(|p| p.functions()).unwrap_or_default()
}

/// A file parsed once, for asking several questions of it.
pub struct ParsedSource<'a> {
    pub language: SourceLanguage,
    pub text: &'a str,
    tree: Tree,
}

impl<'a> ParsedSource<'a> {
    pub fn new(language: SourceLanguage, text: &'a str) -> Option<Self> {
        Some(Self { language, text, tree: parse(language, text)? })
    }

    /// Every function, method and named closure, outermost first.
    pub fn functions(&self) -> Vec<FunctionSpan> {
        let (language, text, tree) = (self.language, self.text, &self.tree);
        let mut spans = Vec::new();
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            if language.is_function(node.kind())
                && let Some(name) = function_name(node, text)
            {
                spans.push(FunctionSpan {
                    name,
                    start_line: node.start_position().row,
                    end_line: node.end_position().row,
                });
            }
            let mut cursor = node.walk();
            let children: Vec<Node> = node.children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
        spans.sort_by_key(|s| (s.start_line, std::cmp::Reverse(s.end_line)));
        spans
    }

    /// The 0-based lines of calls to a function or method named `name` (any receiver or path).
    pub fn calls_to(&self, name: &str) -> Vec<usize> {
        let (text, tree) = (self.text, &self.tree);
        let source = text.as_bytes();
        let mut lines = Vec::new();
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            let callee = match node.kind() {
                "call" | "call_expression" => node.child_by_field_name("function"),
                "new_expression" => node.child_by_field_name("constructor"),
                "method_invocation" => node.child_by_field_name("name"),
                _ => None,
            };
            if let Some(callee) = callee.and_then(|c| c.utf8_text(source).ok())
                && last_identifier(callee) == Some(name)
            {
                lines.push(node.start_position().row);
            }
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor));
        }
        lines.sort_unstable();
        lines.dedup();
        lines
    }

    /// The test cases of the file (see [`test_cases`]).
    pub fn test_cases(&self) -> Vec<FunctionSpan> {
        let (language, text, tree) = (self.language, self.text, &self.tree);
        let source = text.as_bytes();
        let mut cases = Vec::new();
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            if let Some(name) = test_case_name(language, node, source) {
                cases.push(FunctionSpan {
                    name,
                    start_line: node.start_position().row,
                    end_line: node.end_position().row,
                });
            }
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor));
        }
        cases.sort_by_key(|s| (s.start_line, std::cmp::Reverse(s.end_line)));
        cases
    }
}

/// The innermost function holding a 0-based line.
pub fn enclosing_function(spans: &[FunctionSpan], line: usize) -> Option<&FunctionSpan> {
    spans.iter().filter(|s| s.start_line <= line && line <= s.end_line).min_by_key(|s| s.end_line - s.start_line)
}

fn function_name(node: Node, text: &str) -> Option<String> {
    let named = node.child_by_field_name("name").and_then(|n| n.utf8_text(text.as_bytes()).ok());
    if let Some(name) = named {
        return Some(name.to_owned());
    }
    // An anonymous function takes the name it is bound to: `const total = (o) => ...`, `x: function()`.
    let parent = node.parent()?;
    let binding = match parent.kind() {
        "variable_declarator" | "pair" | "assignment_expression" | "public_field_definition" | "field_definition" => {
            parent
                .child_by_field_name("name")
                .or_else(|| parent.child_by_field_name("key"))
                .or_else(|| parent.child_by_field_name("left"))
        }
        _ => None,
    }?;
    binding.utf8_text(text.as_bytes()).ok().map(str::to_owned)
}

/// Parses a file with its language's grammar.
pub fn parse(language: SourceLanguage, text: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser.set_language(&language.grammar()).ok()?;
    parser.parse(text, None)
}

/// What an expression on a crash line does, in terms every language shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpressionKind {
    /// `x.name`, `x.name()`: `target` is `x`, `part` is `name`.
    Member,
    /// `x[i]`: `target` is `x`, `part` is `i`.
    Index,
    /// `f(a)`: `target` is the callee `f`, `part` is the argument list `(a)`.
    Call,
    /// `a / b`, `a % b`, `a /= b`: `target` is `a`, `part` is the divisor `b`.
    Division,
    /// `m[k] = v` (or `m[k]++`): `target` is `m`, `part` is `k`.
    IndexAssignment,
}

/// An expression that touches a line, as source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineExpression {
    pub kind: ExpressionKind,
    pub text: String,
    pub target: String,
    pub part: String,
    /// 0-based row and byte column where the expression starts and ends.
    pub start: (usize, usize),
    pub end: (usize, usize),
}

impl LineExpression {
    /// Whether a 0-based byte column of `line` falls inside the expression.
    pub fn covers(&self, line: usize, column: usize) -> bool {
        (self.start.0, self.start.1) <= (line, column) && (line, column) < (self.end.0, self.end.1)
    }
}

/// Statements longer than this many lines are not "on" one of their inner lines.
const MAX_EXPRESSION_LINES: usize = 20;

/// Member accesses, subscripts, calls, divisions and index assignments that touch a 0-based line:
/// those starting on it first, in source order, innermost first among those starting together.
pub fn expressions_on_line(language: SourceLanguage, text: &str, line: usize) -> Vec<LineExpression> {
    let Some(tree) = parse(language, text) else {
        return Vec::new();
    };
    let mut found: Vec<(bool, usize, usize, LineExpression)> = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        let (first, last) = (node.start_position().row, node.end_position().row);
        if first > line || last < line {
            continue;
        }
        if last - first <= MAX_EXPRESSION_LINES {
            for expression in describe_expression(language, node, text) {
                found.push((first != line, node.start_byte(), node.end_byte(), expression));
            }
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    found.sort_by_key(|(later, start, end, _)| (*later, *start, *end));
    found.into_iter().map(|(_, _, _, e)| e).collect()
}

fn describe_expression(language: SourceLanguage, node: Node, text: &str) -> Vec<LineExpression> {
    let source = text.as_bytes();
    let field = |name: &str| node.child_by_field_name(name).and_then(|n| n.utf8_text(source).ok());
    let make = |kind: ExpressionKind, target: Option<&str>, part: Option<&str>| -> Option<LineExpression> {
        Some(LineExpression {
            kind,
            text: node.utf8_text(source).ok()?.to_owned(),
            target: target?.to_owned(),
            part: part?.to_owned(),
            start: (node.start_position().row, node.start_position().column),
            end: (node.end_position().row, node.end_position().column),
        })
    };
    let kind = node.kind();
    let mut out = Vec::new();
    if let (Some(operator), Some(_), Some(_)) = (field("operator"), field("left"), field("right"))
        && matches!(operator, "/" | "//" | "%" | "/=" | "//=" | "%=")
    {
        out.extend(make(ExpressionKind::Division, field("left"), field("right")));
        return out;
    }
    use ExpressionKind::*;
    use SourceLanguage as L;
    let expression = match (language, kind) {
        (L::Python, "attribute") => make(Member, field("object"), field("attribute")),
        (L::Python, "subscript") => make(Index, field("value"), field("subscript")),
        (L::Python, "call") => make(Call, field("function"), field("arguments")),
        (L::JavaScript | L::TypeScript | L::Tsx, "member_expression") => {
            make(Member, field("object"), field("property"))
        }
        (L::JavaScript | L::TypeScript | L::Tsx, "subscript_expression") => {
            make(Index, field("object"), field("index"))
        }
        (L::JavaScript | L::TypeScript | L::Tsx, "call_expression") => {
            make(Call, field("function"), field("arguments"))
        }
        (L::JavaScript | L::TypeScript | L::Tsx, "new_expression") => {
            make(Call, field("constructor"), field("arguments"))
        }
        (L::Rust, "field_expression") => make(Member, field("value"), field("field")),
        (L::Rust, "index_expression") => {
            let child = |i| node.named_child(i).and_then(|n| n.utf8_text(source).ok());
            make(Index, child(0), child(1))
        }
        (L::Rust, "call_expression") | (L::Go, "call_expression") => make(Call, field("function"), field("arguments")),
        (L::Go, "selector_expression") => make(Member, field("operand"), field("field")),
        (L::Go, "index_expression") => make(Index, field("operand"), field("index")),
        (L::Go, "assignment_statement" | "inc_statement" | "dec_statement") => {
            let left = node.child_by_field_name("left").or_else(|| node.named_child(0));
            let index = left.and_then(|l| {
                if l.kind() == "index_expression" {
                    Some(l)
                } else {
                    l.named_child(0).filter(|c| c.kind() == "index_expression")
                }
            });
            index.and_then(|index| {
                let part = |name: &str| index.child_by_field_name(name).and_then(|n| n.utf8_text(source).ok());
                make(IndexAssignment, part("operand"), part("index"))
            })
        }
        (L::Java, "field_access") => make(Member, field("object"), field("field")),
        (L::Java, "array_access") => make(Index, field("array"), field("index")),
        (L::Java, "method_invocation") => {
            out.extend(make(Member, field("object"), field("name")));
            let arguments = node.child_by_field_name("arguments");
            let callee = arguments.and_then(|a| text.get(node.start_byte()..a.start_byte())).map(str::trim_end);
            make(Call, callee, field("arguments"))
        }
        _ => None,
    };
    out.extend(expression);
    out
}

/// Where a name gets its value inside the 0-based lines `first..=last` of a file: assignments,
/// declarations, loop variables and parameters. Returns 0-based lines with `true` for parameters.
pub fn bindings_of(language: SourceLanguage, text: &str, name: &str, first: usize, last: usize) -> Vec<(usize, bool)> {
    let Some(tree) = parse(language, text) else {
        return Vec::new();
    };
    let source = text.as_bytes();
    let mut found = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.start_position().row > last || node.end_position().row < first {
            continue;
        }
        if let Some((binding, parameter)) = binding_target(language, node)
            && binds_name(binding, source, name)
        {
            found.push((node.start_position().row, parameter));
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    found.sort();
    found.dedup();
    found
}

/// The part of a node that receives a value, and whether the node is a parameter.
fn binding_target(language: SourceLanguage, node: Node) -> Option<(Node, bool)> {
    use SourceLanguage as L;
    let field = |name: &str| node.child_by_field_name(name);
    let parent_is_parameters =
        || node.parent().is_some_and(|p| matches!(p.kind(), "parameters" | "formal_parameters" | "lambda_parameters"));
    match (language, node.kind()) {
        (L::Python, "assignment" | "augmented_assignment" | "for_statement") => field("left").map(|n| (n, false)),
        (L::Python, "named_expression") => field("name").map(|n| (n, false)),
        (L::Python, "as_pattern") => field("alias").map(|n| (n, false)),
        (L::Python, "default_parameter" | "typed_default_parameter") => field("name").map(|n| (n, true)),
        (L::Python, "typed_parameter") => node.named_child(0).map(|n| (n, true)),
        (L::Python | L::JavaScript | L::TypeScript | L::Tsx, "identifier") if parent_is_parameters() => {
            Some((node, true))
        }
        (L::JavaScript | L::TypeScript | L::Tsx, "variable_declarator") => field("name").map(|n| (n, false)),
        (L::JavaScript | L::TypeScript | L::Tsx, "assignment_expression" | "augmented_assignment_expression") => {
            field("left").map(|n| (n, false))
        }
        (L::JavaScript | L::TypeScript | L::Tsx, "for_in_statement") => field("left").map(|n| (n, false)),
        (L::JavaScript | L::TypeScript | L::Tsx, "required_parameter" | "optional_parameter") => {
            field("pattern").or_else(|| field("name")).map(|n| (n, true))
        }
        (L::JavaScript | L::TypeScript | L::Tsx, "assignment_pattern") if parent_is_parameters() => {
            field("left").map(|n| (n, true))
        }
        (L::Rust, "let_declaration" | "let_condition" | "for_expression") => field("pattern").map(|n| (n, false)),
        (L::Rust, "assignment_expression" | "compound_assignment_expr") => field("left").map(|n| (n, false)),
        (L::Rust, "parameter") => field("pattern").map(|n| (n, true)),
        (L::Go, "short_var_declaration" | "assignment_statement" | "range_clause") => field("left").map(|n| (n, false)),
        (L::Go, "var_spec") => Some((node, false)),
        (L::Go, "parameter_declaration") => Some((node, true)),
        (L::Java, "variable_declarator" | "enhanced_for_statement") => field("name").map(|n| (n, false)),
        (L::Java, "assignment_expression") => field("left").map(|n| (n, false)),
        (L::Java, "formal_parameter" | "catch_formal_parameter") => field("name").map(|n| (n, true)),
        _ => None,
    }
}

/// Whether a binding target is the name, or a pattern or list holding it as an identifier.
fn binds_name(binding: Node, source: &[u8], name: &str) -> bool {
    if binding.utf8_text(source).is_ok_and(|t| t == name) {
        return true;
    }
    if !is_identifier(name) {
        return false;
    }
    let mut stack = vec![binding];
    while let Some(node) = stack.pop() {
        if node.kind().ends_with("identifier")
            && !node.kind().contains("type")
            && node.utf8_text(source).is_ok_and(|t| t == name)
            && !is_member_name(node)
        {
            return true;
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    false
}

/// `b` in `a.b` or `a.b = ...`: a field, not a variable.
fn is_member_name(node: Node) -> bool {
    node.parent().is_some_and(|p| {
        ["attribute", "property", "field", "name"].iter().any(|f| p.child_by_field_name(f) == Some(node))
            && matches!(
                p.kind(),
                "attribute" | "member_expression" | "field_expression" | "selector_expression" | "field_access"
            )
    }) || node.parent().is_some_and(|p| p.kind() == "type_annotation" || p.kind().ends_with("_type"))
}

/// A plain identifier: letters, digits, `_` and `$`, not starting with a digit.
pub fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// The 0-based lines of calls to a function or method named `name` (any receiver or path).
pub fn calls_to(language: SourceLanguage, text: &str, name: &str) -> Vec<usize> {
    ParsedSource::new(language, text).map(|p| p.calls_to(name)).unwrap_or_default()
}

/// The name a callee ends with: `receipt` for `receipt`, `orders.receipt`, `Orders::receipt::<T>`.
pub fn last_identifier(callee: &str) -> Option<&str> {
    let callee = callee.split("::<").next().unwrap_or(callee).trim_end();
    let start = callee
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let name = &callee[start..];
    is_identifier(name).then_some(name)
}

/// The test cases of a file: Python `test_*` functions, JavaScript `test(...)`/`it(...)` calls (named
/// by their title), Go `Test*` functions, Java `@Test` methods, Rust `#[test]` functions.
pub fn test_cases(language: SourceLanguage, text: &str) -> Vec<FunctionSpan> {
    ParsedSource::new(language, text).map(|p| p.test_cases()).unwrap_or_default()
}

fn test_case_name(language: SourceLanguage, node: Node, source: &[u8]) -> Option<String> {
    use SourceLanguage as L;
    let name = || node.child_by_field_name("name").and_then(|n| n.utf8_text(source).ok()).map(str::to_owned);
    match (language, node.kind()) {
        (L::Python, "function_definition") => name().filter(|n| n.starts_with("test")),
        (L::Go, "function_declaration") => name().filter(|n| n.starts_with("Test") || n.starts_with("Benchmark")),
        (L::Java, "method_declaration") => {
            let mut cursor = node.walk();
            let modifiers = node.children(&mut cursor).find(|c| c.kind() == "modifiers")?;
            let annotated = modifiers.utf8_text(source).ok()?.split_whitespace().any(|m| {
                m == "@Test" || m.starts_with("@Test(") || m.starts_with("@ParameterizedTest") || m == "@org.junit.Test"
            });
            if annotated { name() } else { None }
        }
        (L::Rust, "function_item") => {
            let mut previous = node.prev_named_sibling();
            while let Some(attribute) = previous.filter(|p| p.kind() == "attribute_item") {
                let text = attribute.utf8_text(source).ok()?;
                if text.contains("test]") || text.contains("test(") {
                    return name();
                }
                previous = attribute.prev_named_sibling();
            }
            None
        }
        (L::JavaScript | L::TypeScript | L::Tsx, "call_expression") => {
            let callee = node.child_by_field_name("function")?.utf8_text(source).ok()?;
            if !matches!(callee, "test" | "it" | "test.only" | "it.only" | "test.concurrent" | "Deno.test") {
                return None;
            }
            let arguments = node.child_by_field_name("arguments")?;
            let title = arguments.named_child(0)?;
            let title = title.utf8_text(source).ok()?;
            let unquoted = title.trim_matches(|c| c == '"' || c == '\'' || c == '`');
            Some(unquoted.to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_innermost_function_holding_a_line() {
        let python = "class Cart:\n    def total(self):\n        return sum(\n            x.price for x in self.items)\n\ndef main():\n    Cart().total()\n";
        let spans = functions(SourceLanguage::Python, python);
        assert_eq!(enclosing_function(&spans, 3).map(|s| s.name.as_str()), Some("total"));
        assert_eq!(enclosing_function(&spans, 6).map(|s| (s.name.as_str(), s.start_line)), Some(("main", 5)));
        assert_eq!(enclosing_function(&spans, 0), None);
    }

    #[test]
    fn names_arrow_functions_by_their_binding() {
        let js = "const total = (order) => {\n  return order.items.length;\n};\n";
        let spans = functions(SourceLanguage::JavaScript, js);
        assert_eq!(enclosing_function(&spans, 1).map(|s| s.name.as_str()), Some("total"));
    }

    #[test]
    fn every_supported_language_parses() {
        let cases = [
            ("a.rs", "fn main() {\n    let v: Vec<u8> = vec![];\n    v[3];\n}\n"),
            ("a.go", "package main\nfunc main() {\n\tpanic(\"x\")\n}\n"),
            ("A.java", "class A {\n  void run() {\n    throw new RuntimeException();\n  }\n}\n"),
            ("a.ts", "function f(x: number): number {\n  return x;\n}\n"),
            ("a.tsx", "function F() {\n  return <div/>;\n}\n"),
        ];
        for (path, text) in cases {
            let language = SourceLanguage::from_path(path).expect(path);
            let spans = functions(language, text);
            assert!(enclosing_function(&spans, 2).is_some(), "{path}: {spans:?}");
        }
    }
}
