//! Without the `counting` feature every hook is empty: the same workload leaves all counters 0,
//! and the per-thread block shrinks to a few words.
#![cfg(not(feature = "counting"))]

use std::alloc::{GlobalAlloc, Layout, System};

use alloc_stats::{Counting, Region, ThreadStats};

#[global_allocator]
static GLOBAL: Counting<System> = Counting::new(System);

#[test]
fn nothing_is_counted() {
    assert!(!alloc_stats::counting_enabled());
    assert!(std::mem::size_of::<ThreadStats>() <= 128);
    let r = Region::thread();
    let v: Vec<Vec<u8>> = (0..100).map(|i| vec![0; i]).collect();
    static C: Counting<System> = Counting::new(System);
    let l = Layout::from_size_align(64, 8).unwrap();
    // SAFETY: valid layout, freed once.
    unsafe { C.dealloc(C.alloc(l), l) };
    drop(v);
    assert_eq!(r.change(), r.change().diff(&r.change()));
    let s = GLOBAL.stats();
    assert_eq!(
        (s.mallocs, s.frees, s.bytes_allocated, s.peak_live_bytes),
        (0, 0, 0, 0)
    );
    assert_eq!(C.stats().mallocs, 0);
}
