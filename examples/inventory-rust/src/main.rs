//! Reserves a pick list against a stock file and prints what is left.
//!
//!     inventory data/stock.csv data/picks.csv

mod picking;
mod stock;

use std::{env, fs, process};

fn run(stock_path: &str, picks_path: &str) -> Result<(), String> {
    let read = |path: &str| fs::read_to_string(path).map_err(|e| format!("{path}: {e}"));
    let mut stock = stock::parse_stock(&read(stock_path)?)?;
    for (sku, left) in picking::pick(&mut stock, &read(picks_path)?)? {
        match left {
            Ok(left) => println!("{sku}: picked, {left} left"),
            Err(error) => println!("{sku}: not picked: {error}"),
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: inventory STOCK PICKS");
        process::exit(2);
    }
    if let Err(error) = run(&args[1], &args[2]) {
        eprintln!("error: {error}");
        process::exit(1);
    }
}
