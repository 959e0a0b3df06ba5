//! Counting another allocator: `Counting<System>` wraps any `GlobalAlloc` with the same
//! counters, snapshots and regions as `PoolAlloc` (here through alloc-core's re-exports).
//!
//! `cargo run -p alloc-core --example counting_system`

use std::alloc::System;

use alloc_core::{Counting, Region};

#[global_allocator]
static GLOBAL: Counting<System> = Counting::new(System);

fn main() {
    let r = Region::thread();
    let v = vec![0u64; 1000];
    let d = r.change();
    println!(
        "vec![0u64; 1000]: {} malloc, {} live bytes",
        d.mallocs, d.live_bytes
    );
    if alloc_core::counting_enabled() {
        assert_eq!((d.mallocs, d.live_bytes), (1, 8000));
    }
    drop(v);
    print!("{}", GLOBAL.stats()); // the aligned table
}
