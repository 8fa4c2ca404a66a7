//! Reserves items of a pick list against the stock and reports to Sentry when it panics: a SKU
//! missing from the stock makes `reserve` unwrap a `None`.

use std::collections::HashMap;
use std::time::Duration;

fn reserve(stock: &mut HashMap<&'static str, u32>, sku: &str, quantity: u32) -> u32 {
    let left = stock.get_mut(sku).unwrap();
    *left = left.saturating_sub(quantity);
    *left
}

fn main() {
    let dsn = std::env::var("SENTRY_DSN").expect("set SENTRY_DSN to the collector's DSN");
    let mut options = sentry::ClientOptions::new();
    options.release = Some("stock-picker@0.1.0".into());
    options.environment = Some("production".into());
    // The guard flushes on drop, also while a panic unwinds `main`.
    options.shutdown_timeout = Duration::from_secs(10);
    let _guard = sentry::init((dsn, options));
    let mut stock = HashMap::from([("APPLE", 10), ("PEAR", 3)]);
    for (sku, quantity) in [("APPLE", 2), ("GIFT-CARD", 1)] {
        let left = reserve(&mut stock, sku, quantity);
        println!("{sku}: {left} left");
    }
}
