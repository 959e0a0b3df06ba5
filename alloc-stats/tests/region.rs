//! Regions under `Counting<System>` as the global allocator: nesting, thread regions exact
//! while another thread makes noise, and whole-registry regions that see other threads.
#![cfg(feature = "counting")]

use std::alloc::System;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use alloc_stats::{Counting, Region};

#[global_allocator]
static GLOBAL: Counting<System> = Counting::new(System);

#[test]
fn thread_regions_nest_and_ignore_other_threads() {
    let stop = Arc::new(AtomicBool::new(false));
    let noise = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                black_box(vec![0u8; 100]);
                black_box(String::from("noise"));
            }
        })
    };
    // Let the noise thread get going.
    while GLOBAL.stats().mallocs < 1000 {
        std::thread::yield_now();
    }
    let outer = Region::thread();
    let a: Vec<Box<[u8; 48]>> = (0..10).map(|_| Box::new([0u8; 48])).collect(); // 10 + 1 (Vec)
    let inner = Region::thread();
    let b = black_box(vec![0u32; 250]); // 1000 bytes
    let di = inner.change();
    drop(b);
    let dafter = inner.change();
    drop(a);
    let douter = outer.change();
    stop.store(true, Ordering::Relaxed);
    noise.join().unwrap();

    assert_eq!((di.mallocs, di.frees, di.live_bytes), (1, 0, 1000));
    assert_eq!(di.bytes_requested, 1000);
    assert_eq!((dafter.mallocs, dafter.frees, dafter.live_bytes), (1, 1, 0));
    assert_eq!(douter.mallocs, 12);
    assert_eq!(douter.frees, 12);
    assert_eq!(douter.bytes_allocated, 10 * 48 + 10 * 8 + 1000);
    assert_eq!(douter.net_bytes(), 0);
}

#[test]
fn whole_registry_region_counts_other_threads() {
    let r = Region::new();
    assert!(r.is_live(), "the global Counting is the default registry");
    std::thread::spawn(|| {
        let v: Vec<Vec<u8>> = (0..100).map(|i| vec![1u8; i + 1]).collect();
        black_box(&v);
    })
    .join()
    .unwrap();
    let d = r.change();
    // The other thread's 101 allocations are in (other tests may add more: >=).
    assert!(d.mallocs >= 101, "{}", d.mallocs);
    assert!(d.bytes_requested >= (1..=100u64).sum::<u64>() + 100 * 24);
    assert!(d.threads_exited >= 1);
}

#[test]
fn region_of_a_static_and_signed_net() {
    let keep = black_box(vec![7u8; 4096]);
    let r = Region::thread_of(GLOBAL.registry());
    drop(keep);
    let d = r.change();
    assert_eq!((d.mallocs, d.frees), (0, 1));
    assert_eq!(d.live_bytes, 0, "saturates");
    assert_eq!(d.net_bytes(), -4096);
    assert_eq!(d.net_blocks(), -1);
}
