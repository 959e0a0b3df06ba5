//! Giving memory back: after a burst of allocations is freed, `trim` returns what the heap
//! caches to the OS (like glibc's `malloc_trim`), and the counters show it.
//!
//! `cargo run -p alloc-core --example trim`

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn main() {
    // A burst: 64 MiB in small blocks and a few large ones, then all freed.
    let small: Vec<Vec<u8>> = (0..256 * 1024).map(|i| vec![i as u8; 256]).collect();
    let large: Vec<Vec<u8>> = (0..16).map(|i| vec![i as u8; 1 << 20]).collect();
    drop(small);
    drop(large);
    let before = GLOBAL.stats();
    GLOBAL.trim();
    let after = GLOBAL.stats();
    println!(
        "live {:.1} MiB; released to the OS: {:.1} MiB before trim, {:.1} MiB after",
        mib(after.live_bytes),
        mib(before.os_released_bytes),
        mib(after.os_released_bytes)
    );
    if alloc_core::counting_enabled() {
        assert!(
            after.os_released_bytes > before.os_released_bytes,
            "trim released memory"
        );
    }
}
