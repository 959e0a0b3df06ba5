//! Exact counts of `Counting<System>` across threads. The counted allocators here are statics
//! called directly (not the global allocator), so nothing but the test's own calls reaches
//! them: every figure is asserted to the unit.
#![cfg(feature = "counting")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::{Arc, Barrier};

use alloc_stats::{pow2_class, Counting, LARGE, PUBLISH_THRESHOLD};

#[global_allocator]
static GLOBAL: Counting<System> = Counting::new(System);

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

/// Sends raw pointers across threads in tests.
struct Ptrs(Vec<(usize, usize)>);

fn alloc_n(c: &Counting<System>, n: usize, size: usize) -> Ptrs {
    Ptrs(
        (0..n)
            .map(|_| {
                // SAFETY: non-zero layout; the caller frees with the same layout.
                let p = unsafe { c.alloc(layout(size)) };
                assert!(!p.is_null());
                (p as usize, size)
            })
            .collect(),
    )
}

fn free_all(c: &Counting<System>, ps: Ptrs) {
    for (p, size) in ps.0 {
        // SAFETY: allocated by `alloc_n` from `c` with this layout, freed once.
        unsafe { c.dealloc(p as *mut u8, layout(size)) };
    }
}

#[test]
fn exact_counts_across_threads_including_exited() {
    static C: Counting<System> = Counting::new(System);
    const SIZES: [usize; 4] = [24, 64, 300, 5000];
    const N: usize = 1000;
    let kept: Vec<Ptrs> = std::thread::scope(|s| {
        let hs: Vec<_> = SIZES
            .iter()
            .map(|&size| {
                s.spawn(move || {
                    let keep = alloc_n(&C, N, size);
                    let tmp = alloc_n(&C, N / 2, size);
                    free_all(&C, tmp);
                    keep
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Scoped threads have finished their closures; pthread_join in scope() waited for their
    // exit, so their blocks were retired and folded into the totals.
    let s = C.stats();
    let total_bytes: u64 = SIZES.iter().map(|&z| (z * N + z * N / 2) as u64).sum();
    let live_bytes: u64 = SIZES.iter().map(|&z| (z * N) as u64).sum();
    assert_eq!(s.mallocs, (SIZES.len() * (N + N / 2)) as u64);
    assert_eq!(s.frees, (SIZES.len() * (N / 2)) as u64);
    assert_eq!(s.bytes_requested, total_bytes);
    assert_eq!(s.bytes_allocated, total_bytes);
    assert_eq!(s.bytes_freed, total_bytes - live_bytes);
    assert_eq!(s.live_bytes, live_bytes);
    assert_eq!(s.live_blocks, (SIZES.len() * N) as u64);
    assert_eq!(s.threads_exited, SIZES.len() as u64);
    assert_eq!(s.threads_live, 0);
    for &size in &SIZES {
        let row = &s.classes[pow2_class(size)];
        assert_eq!(row.allocs, (N + N / 2) as u64, "class of {size}");
        assert_eq!(row.frees, (N / 2) as u64);
        assert_eq!(row.live_blocks, N as u64);
        assert!(row.size as usize >= size && (row.size as usize) < 2 * size.max(8));
    }
    // Free on another thread (main) than the allocating ones: the totals stay exact.
    for p in kept {
        free_all(&C, p);
    }
    let s = C.stats();
    assert_eq!(s.frees, s.mallocs);
    assert_eq!(s.live_bytes, 0);
    assert_eq!(s.bytes_freed, total_bytes);
    assert_eq!(s.threads_live, 1, "main now has a block");
    // Each thread held keep + tmp at once, so the true peak lies in [live, total].
    let bound = SIZES.len() as u64 * PUBLISH_THRESHOLD as u64;
    assert!(s.peak_live_bytes >= live_bytes);
    assert!(s.peak_live_bytes <= total_bytes + bound);
}

#[test]
fn reallocs_count_once_and_move_class_rows() {
    static C: Counting<System> = Counting::new(System);
    let l = layout(100);
    // SAFETY: valid layouts; each realloc result replaces the pointer, freed once at the end.
    unsafe {
        let p = C.alloc(l);
        let p = C.realloc(p, l, 120); // same class (128)
        let p = C.realloc(p, layout(120), 4000); // class 128 -> 4096
        let p = C.realloc(p, layout(4000), 10); // shrink to class 16
        C.dealloc(p, layout(10));
    }
    let s = C.stats();
    assert_eq!((s.mallocs, s.frees, s.reallocs()), (1, 1, 3));
    assert_eq!(s.bytes_allocated, 100 + 20 + 3880);
    assert_eq!(s.bytes_freed, 3990 + 10);
    assert_eq!(s.bytes_requested, 100 + 20 + 3880);
    assert_eq!(s.live_bytes, 0);
    assert_eq!(s.live_blocks, 0);
    let (c128, c4096, c16) = (pow2_class(100), pow2_class(4000), pow2_class(10));
    assert_eq!(
        (s.classes[c128].allocs, s.classes[c128].reallocs_out),
        (1, 1)
    );
    assert_eq!(
        (s.classes[c4096].reallocs_in, s.classes[c4096].reallocs_out),
        (1, 1)
    );
    assert_eq!((s.classes[c16].reallocs_in, s.classes[c16].frees), (1, 1));
    for (_, row) in s.used_classes() {
        assert_eq!(row.live_blocks, 0);
    }
}

#[test]
fn large_rows_and_zeroed() {
    static C: Counting<System> = Counting::new(System);
    let big = Layout::from_size_align(2 << 30, 8).unwrap(); // 2 GiB: above the last class
    assert_eq!(pow2_class(big.size()), LARGE);
    // SAFETY: valid layouts; blocks freed with the same layouts. 2 GiB of untouched virtual
    // memory is cheap (System maps it lazily).
    unsafe {
        let p = C.alloc(big); // untouched: malloc maps it lazily
        if p.is_null() {
            return; // no address space for it here; nothing to assert
        }
        let q = C.alloc_zeroed(layout(16));
        assert_eq!(*q, 0);
        C.dealloc(q, layout(16));
        let s = C.stats();
        assert_eq!((s.large_allocs, s.large_frees), (1, 0));
        assert_eq!(s.live_bytes, big.size() as u64);
        // The 2 GiB block published at once; the 16 B one stayed in the thread's delta.
        assert!(
            s.peak_live_bytes >= big.size() as u64,
            "large allocs publish at once"
        );
        assert!(s.peak_live_bytes <= big.size() as u64 + 16);
        C.dealloc(p, big);
    }
    let s = C.stats();
    assert_eq!((s.large_allocs, s.large_frees, s.live_bytes), (1, 1, 0));
}

#[test]
fn peak_within_one_batch_per_thread() {
    static C: Counting<System> = Counting::new(System);
    const THREADS: usize = 4;
    const N: usize = 4000; // 4000 × 48 B = 192000 B per thread
    let barrier = Arc::new(Barrier::new(THREADS));
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let b = barrier.clone();
            s.spawn(move || {
                let ps = alloc_n(&C, N, 48);
                b.wait(); // every thread holds its blocks at once here
                b.wait();
                free_all(&C, ps);
            });
        }
    });
    let s = C.stats();
    let true_peak = (THREADS * N * 48) as u64;
    let bound = THREADS as u64 * PUBLISH_THRESHOLD as u64;
    assert_eq!(s.live_bytes, 0);
    assert!(
        s.peak_live_bytes + bound >= true_peak,
        "{} vs {true_peak}",
        s.peak_live_bytes
    );
    assert!(
        s.peak_live_bytes <= true_peak + bound,
        "{} vs {true_peak}",
        s.peak_live_bytes
    );
}

#[test]
fn more_countings_than_slots_fall_back_to_orphan_exactly() {
    static CS: [Counting<System>; 6] = [const { Counting::new(System) }; 6];
    std::thread::spawn(|| {
        for (i, c) in CS.iter().enumerate() {
            let ps = alloc_n(c, i + 1, 32);
            free_all(c, alloc_n(c, 1, 32));
            free_all(c, ps);
        }
    })
    .join()
    .unwrap();
    for (i, c) in CS.iter().enumerate() {
        let s = c.stats();
        assert_eq!(
            (s.mallocs, s.frees),
            (i as u64 + 2, i as u64 + 2),
            "counting {i}"
        );
        assert_eq!(s.bytes_allocated, 32 * (i as u64 + 2));
        assert_eq!(s.live_bytes, 0);
    }
    // The thread has 4 slots; the global Counting took one (alloc_n's Vec comes first), so
    // CS[0..3] got per-thread blocks (retired at exit) and CS[3..] counted as orphan.
    let exited: Vec<u64> = CS.iter().map(|c| c.stats().threads_exited).collect();
    assert_eq!(exited, [1, 1, 1, 0, 0, 0]);
}

#[test]
fn dropped_local_counting_detaches_and_memory_is_reused() {
    for round in 0..3u64 {
        let c = Counting::new(System);
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|_| s.spawn(|| free_all(&c, alloc_n(&c, 10, 64))))
                .collect();
            // join() waits for the thread's exit (its blocks retired); scope's end alone does not.
            hs.into_iter().for_each(|h| h.join().unwrap());
        });
        free_all(&c, alloc_n(&c, 5 + round as usize, 64));
        let st = c.stats();
        assert_eq!(st.mallocs, 35 + round);
        assert_eq!(st.frees, 35 + round);
        assert_eq!(st.threads_live, 1, "main's block");
        drop(c);
    }
    // Main's slot was detached by each drop and reused by the next Counting: no leak of slots.
    let c = Counting::new(System);
    free_all(&c, alloc_n(&c, 1, 8));
    assert_eq!(c.thread_stats().mallocs, 1);
}

#[test]
fn thread_stats_see_only_the_calling_thread() {
    static C: Counting<System> = Counting::new(System);
    let ps = alloc_n(&C, 7, 16);
    std::thread::spawn(|| {
        let ps = alloc_n(&C, 100, 16);
        assert_eq!(C.thread_stats().mallocs, 100);
        free_all(&C, ps);
    })
    .join()
    .unwrap();
    let t = C.thread_stats();
    assert_eq!((t.mallocs, t.frees, t.live_bytes), (7, 0, 7 * 16));
    assert_eq!(C.stats().mallocs, 107);
    free_all(&C, ps);
}

#[test]
fn pow2_rows_hold_their_sizes() {
    assert_eq!(pow2_class(0), 0);
    assert_eq!(pow2_class(1), 0);
    assert_eq!(pow2_class(8), 0);
    assert_eq!(pow2_class(9), 1);
    assert_eq!(pow2_class(1 << 30), alloc_stats::POW2_CLASS_SIZES.len() - 1);
    assert_eq!(pow2_class((1 << 30) + 1), LARGE);
    assert_eq!(pow2_class(usize::MAX), LARGE);
    for size in (1..70_000).chain([1 << 20, (1 << 20) + 1, 3 << 28]) {
        let c = pow2_class(size);
        let top = alloc_stats::POW2_CLASS_SIZES[c] as usize;
        assert!(
            size <= top && (c == 0 || size > top / 2),
            "{size} -> row {c} ({top})"
        );
    }
}
