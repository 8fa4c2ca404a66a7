//! Text helpers shared by every layer (a leaf: it imports nothing of the crate).

/// `text` cut to at most `max_chars` characters, with `…` when something was cut.
pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The content of a string literal (`'sku'`, `"sku"`, `` `sku` ``), else the text itself, trimmed.
pub fn unquote(text: &str) -> &str {
    let text = text.trim();
    for quote in ['\'', '"', '`'] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_characters_not_bytes() {
        assert_eq!(truncate("prix€€€", 5), "prix€…");
        assert_eq!(truncate("short", 5), "short");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn unquotes_literals_only() {
        assert_eq!(unquote(" 'sku' "), "sku");
        assert_eq!(unquote("\"a b\""), "a b");
        assert_eq!(unquote("`id`"), "id");
        assert_eq!(unquote("'"), "'");
        assert_eq!(unquote("order['sku']"), "order['sku']");
    }
}
