//! alloc-stats under `PoolAlloc`: exact per-thread counts of known workloads, exited threads
//! folded into the totals, cross-thread frees, per-class rows (hits, misses, refills, flushes),
//! large blocks, heap figures, and the same mallocs/frees as `Counting<System>` for the same
//! workload. Thread regions are exact whatever the test harness's other threads do.
#![cfg(feature = "stats")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;

use alloc_core::PoolAlloc;
use alloc_stats::{Counting, Region, Snapshot, LARGE, PUBLISH_THRESHOLD};

#[global_allocator]
static GLOBAL: PoolAlloc = PoolAlloc::new();

/// The row PoolAlloc serves a request of `size` (align <= 8) from: the smallest class that fits.
fn class_for(s: &Snapshot, size: usize) -> usize {
    (0..s.class_count)
        .find(|&i| s.classes[i].size as usize >= size)
        .unwrap_or(LARGE)
}

/// A fixed sequence of raw calls: allocs of assorted sizes (small and large), reallocs that
/// stay and that move, frees; leaves `keep` blocks of 256 B live and returns them.
fn workload<A: GlobalAlloc>(a: &A, keep: usize) -> Vec<(usize, Layout)> {
    let mut live = Vec::with_capacity(keep);
    let sizes = [8usize, 24, 100, 256, 1000, 4096, 20_000, 70_000, 300_000];
    // SAFETY: non-zero layouts; every block is freed once with its current layout, or
    // returned to the caller, who frees it.
    unsafe {
        for round in 0..50 {
            for &s in &sizes {
                let l = Layout::from_size_align(s + round, 8).unwrap();
                let p = a.alloc(l);
                assert!(!p.is_null());
                p.write(round as u8);
                let (p, l) = if round % 5 == 0 {
                    let n = (s + round) * 3; // moves to another class (or stays large)
                    let q = a.realloc(p, l, n);
                    assert!(!q.is_null());
                    (q, Layout::from_size_align(n, 8).unwrap())
                } else {
                    (p, l)
                };
                a.dealloc(p, l);
            }
        }
        let l = Layout::from_size_align(256, 8).unwrap();
        for _ in 0..keep {
            live.push((a.alloc(l) as usize, l));
        }
    }
    live
}

fn free_all<A: GlobalAlloc>(a: &A, v: Vec<(usize, Layout)>) {
    for (p, l) in v {
        // SAFETY: allocated from `a` with `l` by `workload`, freed once.
        unsafe { a.dealloc(p as *mut u8, l) };
    }
}

#[test]
fn known_blocks_counted_to_the_unit_on_each_thread_and_after_exit() {
    const THREADS: usize = 4;
    const N: usize = 3000;
    let sizes = [16usize, 100, 1000, 30_000];
    let total = Region::of(PoolAlloc::registry());
    let results: Vec<(Snapshot, usize)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let size = sizes[t];
                    let l = Layout::from_size_align(size, 8).unwrap();
                    let mut ptrs: Vec<*mut u8> = Vec::with_capacity(N);
                    let r = Region::thread();
                    for _ in 0..N {
                        // SAFETY: non-zero layout; freed below with the same layout.
                        ptrs.push(unsafe { GLOBAL.alloc(l) });
                    }
                    let mid = r.change();
                    for &p in &ptrs[..N / 2] {
                        // SAFETY: allocated above with `l`, freed once.
                        unsafe { GLOBAL.dealloc(p, l) };
                    }
                    let end = r.change();
                    for &p in &ptrs[N / 2..] {
                        // SAFETY: as above.
                        unsafe { GLOBAL.dealloc(p, l) };
                    }
                    assert_eq!((mid.mallocs, mid.frees), (N as u64, 0));
                    (end, size)
                })
            })
            .collect();
        // join() returns after the thread's exit hook ran (its counters were retired).
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (d, size) in &results {
        let c = class_for(d, *size);
        let block = d.classes[c].size;
        assert_eq!(
            (d.mallocs, d.frees),
            (N as u64, (N / 2) as u64),
            "size {size}"
        );
        assert_eq!(d.bytes_requested, (N * size) as u64);
        assert_eq!(d.bytes_allocated, N as u64 * block);
        assert_eq!(d.bytes_freed, (N / 2) as u64 * block);
        assert_eq!(d.live_bytes, (N - N / 2) as u64 * block);
        assert_eq!(d.live_blocks, (N - N / 2) as u64);
        let row = d.classes[c];
        assert_eq!(
            (row.allocs, row.frees, row.live_blocks),
            (N as u64, (N / 2) as u64, (N / 2) as u64)
        );
        assert!(row.misses >= 1 && row.refills >= 1, "{row:?}");
        assert_eq!(row.hits, row.allocs - row.misses);
        assert!(row.refill_blocks >= row.refills);
        assert!(
            row.flushes >= 1,
            "freeing {} blocks must flush: {row:?}",
            N / 2
        );
        assert_eq!(d.used_classes().count(), 1, "only one class was touched");
    }
    // The exited threads' counts are in the registry's totals (other tests may add more).
    let t = total.change();
    let sum_m: u64 = results.iter().map(|(d, _)| d.mallocs).sum();
    assert!(t.mallocs >= sum_m);
    assert!(t.frees >= (THREADS * N) as u64);
    assert!(t.threads_exited >= THREADS as u64);
    for (d, size) in &results {
        let c = class_for(d, *size);
        assert!(t.classes[c].allocs >= N as u64);
        assert!(t.classes[c].frees >= N as u64);
    }
}

#[test]
fn cross_thread_frees_balance_in_the_totals() {
    let l = Layout::from_size_align(48, 8).unwrap();
    let (ptrs, theirs) = std::thread::spawn(move || {
        let r = Region::thread();
        // SAFETY: non-zero layout; the main thread frees each block once with `l`.
        let v: Vec<usize> = (0..500)
            .map(|_| unsafe { GLOBAL.alloc(l) } as usize)
            .collect();
        let d = r.change();
        (v, d)
    })
    .join()
    .unwrap();
    let mine = Region::thread();
    for p in ptrs {
        // SAFETY: allocated by the other thread with `l`, freed once here.
        unsafe { GLOBAL.dealloc(p as *mut u8, l) };
    }
    let d = mine.change();
    // The Vec of pointers itself was allocated on the other thread (1 malloc) and freed here.
    assert_eq!(theirs.mallocs, 501);
    assert_eq!(d.frees, 501);
    assert_eq!(d.mallocs, 0);
    let block = d.classes[class_for(&d, 48)].size as i64;
    assert_eq!(d.net_bytes(), theirs.net_bytes().wrapping_neg());
    assert_eq!(theirs.classes[class_for(&theirs, 48)].allocs, 500);
    assert_eq!(d.classes[class_for(&d, 48)].frees, 500);
    assert!(d.net_bytes() <= -500 * block);
}

#[test]
fn large_blocks_and_heap_figures() {
    let r = Region::thread();
    let before = GLOBAL.stats();
    let v = black_box(vec![1u8; 5 << 20]); // above the largest class
    let mid = r.change();
    let now = GLOBAL.stats();
    drop(v);
    let d = r.change();
    assert_eq!((mid.large_allocs, mid.large_frees), (1, 0));
    assert_eq!(mid.bytes_requested, 5 << 20);
    assert!(mid.bytes_allocated >= 5 << 20, "page-rounded at least");
    assert_eq!((d.large_allocs, d.large_frees, d.live_bytes), (1, 1, 0));
    // Global figures: the big block shows in the live bytes and the peak at once
    // (anything above 2 × PUBLISH_THRESHOLD publishes immediately).
    assert!(now.live_bytes >= mid.bytes_allocated);
    assert!(now.peak_live_bytes >= now.live_bytes);
    assert!(now.peak_live_bytes >= before.peak_live_bytes);
    assert!(
        now.os_mapped_bytes > 0 && now.os_reserved_bytes > 0,
        "{now}"
    );
    assert!(now.spans_in_use > 0);
    assert!(now.threads_live >= 1);
    assert!(PUBLISH_THRESHOLD as u64 * 2 < 5 << 20);
}

#[test]
fn reallocs_count_once() {
    let r = Region::thread();
    let mut v: Vec<u8> = Vec::with_capacity(10);
    v.extend_from_slice(&[1; 10]);
    for i in 0..2000u32 {
        v.push(i as u8); // grows through several classes by realloc
    }
    let d = r.change();
    drop(v);
    let e = r.change();
    assert_eq!(d.mallocs, 1);
    assert!(d.reallocs() >= 5, "{}", d.reallocs());
    assert_eq!(d.frees, 0);
    assert_eq!(d.live_blocks, 1);
    assert!(d.live_bytes >= 2010);
    assert_eq!(
        (e.mallocs, e.frees, e.live_bytes, e.live_blocks),
        (1, 1, 0, 0)
    );
    assert!(d.bytes_requested <= d.bytes_allocated);
}

#[test]
fn same_mallocs_and_frees_as_counting_system() {
    static COUNTED: Counting<System> = Counting::new(System);
    let direct = PoolAlloc::new();
    let r = Region::thread();
    let kept = workload(&direct, 7);
    let pool = r.change();
    free_all(&direct, kept);
    let pool_end = r.change();

    let kept = workload(&COUNTED, 7);
    let sys = COUNTED.thread_stats();
    free_all(&COUNTED, kept);
    let sys_end = COUNTED.thread_stats();

    // `live` (the Vec in workload) is allocated through the global allocator: one extra
    // malloc/free in PoolAlloc's counts, none in Counting's.
    assert_eq!(pool.mallocs, sys.mallocs + 1);
    assert_eq!(pool.frees, sys.frees);
    assert_eq!(pool.reallocs(), sys.reallocs());
    // A realloc adds its growth beyond the old *allocated* block to bytes_requested; PoolAlloc's
    // blocks are rounded up, Counting's are not, so PoolAlloc's figure can only be smaller.
    assert!(pool.bytes_requested <= sys.bytes_requested + 7 * 16);
    assert!(
        pool.bytes_requested >= 50 * (8 + 24 + 100 + 256 + 1000 + 4096 + 20_000 + 70_000 + 300_000)
    );
    assert_eq!(pool_end.mallocs, sys_end.mallocs + 1);
    assert_eq!(pool_end.frees, sys_end.frees + 1);
    assert_eq!(pool.large_allocs, 50 * 2); // 70 000 and 300 000 B exceed the largest class
    assert!(pool.bytes_allocated >= pool.bytes_requested);
    assert_eq!(sys.bytes_allocated, sys.bytes_requested);
    assert_eq!(pool_end.live_bytes, 0);
    assert_eq!(sys_end.live_bytes, 0);
}

#[test]
fn peak_follows_held_small_blocks_within_a_cache() {
    // 4 MiB held in 64 B blocks, then freed. The whole-heap snapshot after the free sees
    // little live data, so its peak can only come from what was published while holding:
    // every refill of the thread cache publishes, so the peak must reach the held bytes less
    // at most one thread cache (generous slack: 1 MiB).
    const N: usize = (4 << 20) / 64;
    let held: Vec<Box<[u8; 64]>> = (0..N).map(|_| Box::new([0u8; 64])).collect();
    // A thread snapshot: unlike a whole-heap one, it does not feed the registry's peak.
    let during = PoolAlloc::registry().thread_snapshot();
    drop(held);
    let after = GLOBAL.stats();
    assert!(during.live_bytes >= 4 << 20);
    assert!(
        after.peak_live_bytes >= 3 << 20,
        "{}",
        after.peak_live_bytes
    );
    assert!(
        GLOBAL.stats().peak_live_bytes >= after.peak_live_bytes,
        "a high-water mark"
    );
}

/// A thread's own region stays exact while another thread trims in a loop: while its cache is
/// drained (paused), its allocations take the shared path but are still counted as its own.
#[test]
fn thread_region_exact_while_another_thread_trims() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let trims = Arc::new(AtomicU32::new(0));
    let trimmer = {
        let (stop, trims) = (stop.clone(), trims.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                GLOBAL.trim();
                trims.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let layout = Layout::from_size_align(100, 8).unwrap();
    let (mut lost, mut n) = (0, 0u64);
    // Enough rounds to overlap many drains of this thread's cache.
    let filler = Layout::from_size_align(48, 8).unwrap();
    while n < 20_000 || (trims.load(Ordering::Relaxed) < 200 && n < 5_000_000) {
        // Keep blocks in this thread's cache, so that each trim has something to drain and
        // pauses the cache.
        let held: Vec<_> = (0..8)
            // SAFETY: a valid layout; the blocks are freed just below.
            .map(|_| unsafe { GLOBAL.alloc(filler) })
            .collect();
        for p in held {
            // SAFETY: allocated above with `filler`.
            unsafe { GLOBAL.dealloc(p, filler) };
        }
        let r = Region::thread_of(PoolAlloc::registry());
        // SAFETY: a valid layout; the block is freed below.
        let p = unsafe { GLOBAL.alloc(layout) };
        let d = r.change();
        // SAFETY: `p` came from GLOBAL with `layout`.
        unsafe { GLOBAL.dealloc(black_box(p), layout) };
        if d.mallocs != 1 || d.frees != 0 {
            lost += 1;
        }
        n += 1;
    }
    stop.store(true, Ordering::Relaxed);
    trimmer.join().unwrap();
    let trims = trims.load(Ordering::Relaxed);
    assert!(trims >= 200, "only {trims} trims overlapped {n} rounds");
    assert_eq!(
        lost, 0,
        "{lost} of {n} allocations not counted on this thread during {trims} trims"
    );
}
