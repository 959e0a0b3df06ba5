//! Steady state, counted by dhat (testing mode): the pooled variant of every in-process
//! workload makes at least 90 % fewer heap allocations than the unpooled one.
//!
//! dhat's testing mode needs `dhat::Alloc` as the global allocator, so this test binary (alone
//! among the demo's tests) does not install PoolAlloc; `reduction_stats.rs` checks the same
//! under PoolAlloc with alloc-stats regions.

use demo::workloads::{self, Variant};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Heap blocks allocated by `ops` operations of `variant`, after a warm-up.
fn blocks(w: &mut dyn demo::Workload, variant: Variant, ops: u64) -> u64 {
    for i in 0..4 {
        w.op(variant, 1_000 + i);
    }
    let before = dhat::HeapStats::get().total_blocks;
    for i in 0..ops {
        std::hint::black_box(w.op(variant, i));
    }
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn pooled_variants_allocate_at_least_90_percent_less() {
    let _profiler = dhat::Profiler::builder().testing().build();
    for spec in workloads::IN_PROCESS {
        let ops = if spec.name == "gzip" { 8 } else { 64 };
        let mut w = (spec.make)();
        let plain = blocks(&mut *w, Variant::NoPool, ops);
        let pooled = blocks(&mut *w, Variant::Pool, ops);
        eprintln!(
            "{:<12} no-pool {:>6} blocks, pool {:>6} blocks ({ops} ops)",
            spec.name, plain, pooled
        );
        dhat::assert!(
            plain >= ops,
            "{}: the unpooled variant allocates at least once per op",
            spec.name
        );
        dhat::assert!(
            pooled * 10 <= plain,
            "{}: pooled {} blocks vs unpooled {}: less than 90 % fewer",
            spec.name,
            pooled,
            plain
        );
    }
}
