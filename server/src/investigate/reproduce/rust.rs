//! Rust reproductions written from the code: a `#[cfg(test)] mod crashloom_repro` appended to the
//! crashing file (so private functions are reachable through `use super::*`) whose test calls the
//! crashing function with the value the panic shows: the text a `parse` could not read, when the
//! panic message quotes it, or the index that was out of bounds.

use super::project_tests::rust_crate_of;
use super::text::{Dialect, escaped_quote, string_literal};
use super::{
    REPRODUCTION_TEST_MARKER, ReproductionCandidate, ReproductionInputs, ReproductionOrigin, crashing_function, is_cut,
    signature,
};
use crate::sandbox::FileChange;
use crate::workspace::syntax::{ExpressionKind, SourceLanguage, expressions_on_line};

pub fn from_code(inputs: &ReproductionInputs<'_>) -> Option<ReproductionCandidate> {
    let function = crashing_function(inputs.root, inputs.group)?;
    if function.language != SourceLanguage::Rust {
        return None;
    }
    // Free functions of the file only: a method needs a value the panic does not show.
    let definition = function.definition();
    let free = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn "].iter().any(|p| definition.starts_with(p));
    if !free || definition.contains('<') && definition.find('<') < definition.find('(') {
        return None;
    }
    let signature = signature(&function)?;
    let [parameter] = signature.parameters.as_slice() else {
        return None;
    };
    let ty = parameter.ty.as_deref()?.replace(' ', "");
    let message = inputs.facts.message.trim();
    let (argument, what) = if ["ParseIntError", "ParseFloatError"].iter().any(|e| message.contains(e)) {
        if is_cut(message) {
            return None;
        }
        let input = escaped_quote(message, "")?;
        let literal = string_literal(&input, Dialect::Rust);
        let argument = match ty.as_str() {
            "&str" | "&'staticstr" => literal,
            "String" => format!("{literal}.to_owned()"),
            "&String" => format!("&{literal}.to_owned()"),
            _ => return None,
        };
        (argument, format!("the text the panic quotes, {input:?}"))
    } else if let Some(index) =
        message.split("but the index is ").nth(1).filter(|_| message.starts_with("index out of bounds"))
    {
        let index: u64 = index.trim().parse().ok()?;
        if !matches!(ty.as_str(), "usize" | "u8" | "u16" | "u32" | "u64" | "i32" | "i64" | "isize") {
            return None;
        }
        let expressions = expressions_on_line(SourceLanguage::Rust, &function.text, function.line());
        let uses = |part: &str| {
            let part = part.trim();
            part == parameter.name || part.strip_suffix(" as usize").is_some_and(|p| p.trim() == parameter.name)
        };
        expressions.iter().find(|e| e.kind == ExpressionKind::Index && uses(&e.part))?;
        (index.to_string(), format!("the index the panic names, {index}"))
    } else {
        return None;
    };
    let module = format!(
        "\n#[cfg(test)]\nmod {REPRODUCTION_TEST_MARKER} {{\n    // Reproduces a crash (written by Crashloom into a sandbox copy).\n    #[allow(unused_imports)]\n    use super::*;\n\n    #[test]\n    fn {REPRODUCTION_TEST_MARKER}() {{\n        let _ = {}({argument});\n    }}\n}}\n",
        function.name
    );
    let mut command: Vec<String> = ["env", "RUST_BACKTRACE=1", "CARGO_NET_OFFLINE=true", "cargo", "test", "--offline"]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let (crate_dir, _) = rust_crate_of(inputs.root, &function.site.path)?;
    if !crate_dir.is_empty() {
        command.extend(["--manifest-path".to_owned(), format!("{crate_dir}/Cargo.toml")]);
    }
    command.extend([REPRODUCTION_TEST_MARKER.to_owned(), "--".into(), "--nocapture".into()]);
    let old = unique_tail(&function.text);
    let separator = if old.ends_with('\n') { "" } else { "\n" };
    let new = format!("{old}{separator}{module}");
    Some(ReproductionCandidate {
        origin: ReproductionOrigin::FromCode,
        description: format!("{} called with {what}.", function.name),
        files: vec![FileChange::replace(function.site.path.clone(), old, new)],
        command,
    })
}

/// The shortest end of the file, in whole lines, that occurs only once in it: the snippet the
/// test module is appended after, so that a change elsewhere in the file still applies.
fn unique_tail(text: &str) -> String {
    let starts: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).filter(|i| *i < text.len()).collect();
    for start in starts.iter().rev() {
        let tail = &text[*start..];
        if !tail.trim().is_empty() && text.matches(tail).count() == 1 {
            return tail.to_owned();
        }
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_goes_after_a_unique_end_of_the_file() {
        assert_eq!(unique_tail("fn a() {}\n}\nfn b() {}\n}\n"), "fn b() {}\n}\n");
        assert_eq!(unique_tail("}\n}\n"), "}\n}\n");
        assert_eq!(unique_tail("fn a() {}"), "fn a() {}");
    }
}
