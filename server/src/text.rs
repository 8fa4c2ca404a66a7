//! Text helpers shared by every layer (a leaf: it imports nothing of the crate).

/// `text` cut to at most `max_chars` characters, with `…` when something was cut.
pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
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
}
