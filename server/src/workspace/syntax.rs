//! Code structure with tree-sitter: the functions of a file and which one holds a line. Used by
//! the code lens (crash counts above a function) and by code search.

use std::path::Path;

use tree_sitter::{Node, Parser};

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

    fn is_function(self, kind: &str) -> bool {
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
            Self::Rust => kind == "function_item",
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
    let mut parser = Parser::new();
    if parser.set_language(&language.grammar()).is_err() {
        return Vec::new();
    }
    let Some(tree) = parser.parse(text, None) else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if language.is_function(node.kind())
            && let Some(name) = function_name(node, text)
        {
            spans.push(FunctionSpan { name, start_line: node.start_position().row, end_line: node.end_position().row });
        }
        let mut cursor = node.walk();
        let children: Vec<Node> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    spans.sort_by_key(|s| (s.start_line, std::cmp::Reverse(s.end_line)));
    spans
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
