//! Pick lists: `SKU,quantity` lines of products to take out of stock for shipping.

use crate::stock::{parse_lines, Stock};

/// Takes `quantity` of `sku` out of `stock`; returns what is left on hand.
pub fn reserve(stock: &mut Stock, sku: &str, quantity: u32) -> Result<u32, String> {
    let on_hand = stock.get_mut(sku).unwrap();
    if *on_hand < quantity {
        return Err(format!("only {on_hand} of {sku} left, {quantity} wanted"));
    }
    *on_hand -= quantity;
    Ok(*on_hand)
}

/// Reserves every line of a pick list, in order. A line that cannot be served takes nothing from
/// stock and comes back with its error; the lines after it are still picked.
pub fn pick(stock: &mut Stock, pick_list: &str) -> Result<Vec<(String, Result<u32, String>)>, String> {
    let mut picked = Vec::new();
    for (sku, quantity) in parse_lines(pick_list)? {
        let left = reserve(stock, &sku, quantity);
        picked.push((sku, left));
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stock::parse_stock;

    fn stock() -> Stock {
        parse_stock("MUG,3\nTEA-BLACK,10").unwrap()
    }

    #[test]
    fn reserving_takes_from_stock() {
        let mut stock = stock();
        assert_eq!(reserve(&mut stock, "MUG", 2), Ok(1));
        assert_eq!(stock["MUG"], 1);
    }

    #[test]
    fn reserving_more_than_on_hand_is_an_error() {
        let mut stock = stock();
        assert_eq!(reserve(&mut stock, "MUG", 5), Err("only 3 of MUG left, 5 wanted".to_string()));
        assert_eq!(stock["MUG"], 3);
    }

    #[test]
    fn a_pick_list_reserves_each_line_it_can() {
        let mut stock = stock();
        let picked = pick(&mut stock, "TEA-BLACK,4\nMUG,5\nMUG,1").unwrap();
        assert_eq!(
            picked,
            vec![
                ("TEA-BLACK".to_string(), Ok(6)),
                ("MUG".to_string(), Err("only 3 of MUG left, 5 wanted".to_string())),
                ("MUG".to_string(), Ok(2)),
            ]
        );
    }
}
