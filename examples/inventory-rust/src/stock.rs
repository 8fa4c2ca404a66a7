//! The stock file: one `SKU,quantity` line per product; blank lines and `#` comments are skipped.

use std::collections::HashMap;

pub type Stock = HashMap<String, u32>;

/// The `SKU,quantity` lines of a stock file or a pick list, in order.
pub fn parse_lines(text: &str) -> Result<Vec<(String, u32)>, String> {
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (sku, quantity) =
            line.split_once(',').ok_or_else(|| format!("line {}: expected SKU,quantity", number + 1))?;
        let quantity =
            quantity.trim().parse().map_err(|_| format!("line {}: bad quantity {quantity:?}", number + 1))?;
        lines.push((sku.trim().to_string(), quantity));
    }
    Ok(lines)
}

pub fn parse_stock(text: &str) -> Result<Stock, String> {
    Ok(parse_lines(text)?.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_skips_comments() {
        let stock = parse_stock("# warehouse A\nMUG, 12\n\nTEA-GREEN,40\n").unwrap();
        assert_eq!(stock.len(), 2);
        assert_eq!(stock["MUG"], 12);
        assert_eq!(stock["TEA-GREEN"], 40);
    }

    #[test]
    fn rejects_a_bad_quantity() {
        assert_eq!(parse_stock("MUG,many").unwrap_err(), "line 1: bad quantity \"many\"");
    }
}
