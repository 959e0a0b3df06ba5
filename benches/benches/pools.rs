//! Pool versus no pool (placeholder).
fn main() {}
