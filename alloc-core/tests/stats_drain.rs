//! Small-class frees are derived from the thread caches' list lengths
//! (`Registry::with_thread_caches`): a `trim` that drains an idle thread's cache must move
//! neither the mallocs nor the frees, only blocks from "cached" to "flushed", in the totals and
//! in the drained thread's own region; and after that thread wakes and exits, every block of the
//! class is accounted for. One test in its own binary, so that no other test allocates.
#![cfg(feature = "stats")]

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Barrier;

use alloc_core::PoolAlloc;
use alloc_stats::{ClassStats, Region, Snapshot};

#[global_allocator]
static GLOBAL: PoolAlloc = PoolAlloc::new();

/// An odd size, so that nothing but this test uses its class.
const SIZE: usize = 2600;

fn row(s: &Snapshot) -> ClassStats {
    let i = (0..s.class_count)
        .find(|&i| s.classes[i].size as usize >= SIZE)
        .unwrap();
    s.classes[i]
}

/// Blocks of the class in thread caches: taken from central lists, neither handed out nor
/// given back.
fn cached(c: &ClassStats) -> u64 {
    c.refill_blocks - c.flush_blocks - c.live_blocks
}

#[test]
fn drained_blocks_count_as_flushed_not_freed() {
    let layout = Layout::from_size_align(SIZE, 8).unwrap();
    let exited = GLOBAL.stats().threads_exited;
    let parked = Barrier::new(2);
    let wake = Barrier::new(2);
    let done = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            // 64 blocks out, 54 back: the rest of the refills and the frees sit in the cache.
            // SAFETY: a valid layout; every block is freed below with it.
            let mut held: Vec<_> = (0..64).map(|_| unsafe { GLOBAL.alloc(layout) }).collect();
            for p in held.drain(10..) {
                // SAFETY: allocated above with `layout`.
                unsafe { GLOBAL.dealloc(p, layout) };
            }
            let mine = Region::thread_of(PoolAlloc::registry());
            parked.wait();
            wake.wait(); // main trims while this thread is blocked here
            let d = mine.change();
            let c = row(&d);
            assert_eq!((c.allocs, c.frees), (0, 0), "the drain moved my counts");
            // SAFETY: as above.
            let p = unsafe { GLOBAL.alloc(layout) };
            // SAFETY: allocated just above.
            unsafe { GLOBAL.dealloc(p, layout) };
            for p in held {
                // SAFETY: allocated above with `layout`.
                unsafe { GLOBAL.dealloc(p, layout) };
            }
            let c = row(&mine.change());
            assert_eq!((c.allocs, c.frees), (1, 11), "after waking");
            assert!(
                c.flush_blocks > 0,
                "the drained blocks are this thread's flush"
            );
            done.wait();
        });
        parked.wait();
        let before = GLOBAL.stats();
        let b = row(&before);
        assert_eq!(b.live_blocks, 10);
        assert!(cached(&b) >= 8, "cache held {} blocks", cached(&b));
        GLOBAL.trim();
        let after = GLOBAL.stats();
        let a = row(&after);
        assert_eq!(
            (a.allocs, a.frees),
            (b.allocs, b.frees),
            "a drain is not a free"
        );
        assert_eq!(a.live_blocks, 10);
        // Two blocks per list stay in the drained cache; this thread's own cache is flushed.
        assert!(cached(&a) <= 2, "cache still holds {} blocks", cached(&a));
        assert_eq!(a.flush_blocks - b.flush_blocks, cached(&b) - cached(&a));
        wake.wait();
        done.wait();
    });
    // The worker exited (its exit hook, which flushes its cache, may still run after the join:
    // wait for it to retire): every block of the class is accounted for.
    let start = std::time::Instant::now();
    while GLOBAL.stats().threads_exited == exited {
        assert!(start.elapsed().as_secs() < 10, "the worker never retired");
        std::thread::yield_now();
    }
    let end = row(&GLOBAL.stats());
    assert_eq!((end.allocs, end.frees, end.live_blocks), (65, 65, 0));
    assert_eq!(cached(&end), 0);
}
