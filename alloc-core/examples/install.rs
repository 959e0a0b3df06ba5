//! The one-line install: `PoolAlloc` as the global allocator, and the heap's counters.
//!
//! `cargo run -p alloc-core --example install` (add `ALLOC_STATS=1` for the report at exit).

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

fn main() {
    let words: Vec<String> = (0..1000).map(|i| format!("word{i}")).collect();
    let total: usize = words.iter().map(String::len).sum();
    let s = GLOBAL.stats();
    println!(
        "{} strings, {total} bytes of text; heap: {} mallocs, {} frees, {} live bytes",
        words.len(),
        s.mallocs,
        s.frees,
        s.live_bytes
    );
    if alloc_core::counting_enabled() {
        assert!(s.mallocs >= 1000, "every string was counted");
    }
}
