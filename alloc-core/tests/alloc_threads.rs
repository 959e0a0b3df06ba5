//! Thread churn: thousands of short-lived threads allocate and exit; their caches go back to
//! the heap, so the memory mapped from the OS stays bounded.

use std::sync::atomic::Ordering;

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

fn mapped_now() -> u64 {
    let h = &alloc_core::PoolAlloc::registry().heap;
    h.os_mapped.load(Ordering::Relaxed) - h.os_released.load(Ordering::Relaxed)
}

fn one_thread(seed: usize) -> usize {
    let mut keep: Vec<Vec<u8>> = Vec::new();
    let mut total = 0;
    for i in 0..300 {
        let size = 1 + (seed * 7919 + i * 104_729) % 8000;
        let v = vec![(i % 255) as u8; size];
        total += v.len();
        if i % 2 == 0 {
            keep.push(v);
        }
    }
    let s: String = keep.iter().map(|v| v.len().to_string()).collect();
    total + s.len()
}

fn churn(threads: usize) {
    for wave in 0..threads / 8 {
        let hs: Vec<_> = (0..8)
            .map(|k| std::thread::spawn(move || one_thread(wave * 8 + k)))
            .collect();
        for h in hs {
            assert!(h.join().unwrap() > 0usize);
        }
    }
}

#[test]
fn thousands_of_short_lived_threads_keep_mapped_memory_bounded() {
    churn(200); // warm up: arenas, thread-cache records, the large cache
    let after_warmup = mapped_now();
    churn(3000);
    let after = mapped_now();
    // 3000 threads each touched ~1.2 MB; if caches leaked at exit that would be gigabytes.
    assert!(
        after <= after_warmup + (32 << 20),
        "mapped memory grew from {after_warmup} to {after} bytes over 3000 threads"
    );
}

#[test]
fn a_thread_that_only_frees_what_another_allocated_works() {
    let blocks: Vec<Box<[u64; 20]>> = (0..10_000u64).map(|i| Box::new([i; 20])).collect();
    let sum = std::thread::spawn(move || {
        let s: u64 = blocks.iter().map(|b| b[19]).sum();
        drop(blocks);
        s
    })
    .join()
    .unwrap();
    assert_eq!(sum, (0..10_000u64).sum::<u64>());
    // the blocks came back through the other thread's cache and are reusable here
    let again: Vec<Box<[u64; 20]>> = (0..10_000u64).map(|i| Box::new([i; 20])).collect();
    assert_eq!(again[9999][0], 9999);
}
