//! The interface alloc-core drives: a `Registry` with its own class table, `ThreadStats`
//! recorded into directly, retire/re-register, orphan counters, thread snapshots through
//! `current()`, heap figures and the fork handlers.
#![cfg(feature = "counting")]

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::Ordering;

use alloc_stats::{Counting, HeapCounters, Region, Registry, ThreadStats, LARGE};

#[global_allocator]
static GLOBAL: Counting<std::alloc::System> = Counting::new(std::alloc::System);

static SIZES: [u32; 4] = [16, 32, 48, 64];

thread_local! {
    static CURRENT: Cell<*const ThreadStats> = const { Cell::new(ptr::null()) };
}
fn current() -> *const ThreadStats {
    CURRENT.with(|c| c.get())
}

fn raw(ts: &'static ThreadStats) -> *mut ThreadStats {
    ts as *const ThreadStats as *mut ThreadStats
}

static REG: Registry = Registry::new(&SIZES, current);

/// Registers a leaked block for the calling thread (the test's stand-in for alloc-core's TLS).
fn register_me(reg: &'static Registry) -> &'static ThreadStats {
    let ts: &'static ThreadStats = Box::leak(Box::new(ThreadStats::new()));
    // SAFETY: leaked, so valid forever; this thread is its only writer.
    unsafe { reg.register(ts as *const _ as *mut _) };
    CURRENT.with(|c| c.set(ts));
    ts
}

#[test]
fn per_class_rows_hits_misses_batches() {
    static R: Registry = Registry::new(&SIZES, current);
    let ts = register_me(&R);
    for _ in 0..10 {
        ts.record_alloc(1, 30, 32);
    }
    ts.record_miss(1);
    ts.record_miss(1);
    ts.record_refill(1, 8, 0);
    ts.record_refill(1, 8, 0);
    ts.record_flush(1, 4, 0);
    ts.record_free(1, 32);
    ts.record_alloc(LARGE, 1 << 20, 1 << 20);
    HeapCounters::add(&R.heap.os_mapped, 1 << 21);
    HeapCounters::add(&R.heap.spans_in_use, 3);
    HeapCounters::sub(&R.heap.spans_in_use, 1);
    let s = R.snapshot();
    assert_eq!(s.class_count, 4);
    assert_eq!(s.classes[1].size, 32);
    let c = s.classes[1];
    assert_eq!((c.allocs, c.frees, c.live_blocks), (10, 1, 9));
    assert_eq!((c.hits, c.misses), (8, 2));
    assert_eq!(
        (c.refills, c.refill_blocks, c.flushes, c.flush_blocks),
        (2, 16, 1, 4)
    );
    assert_eq!((s.mallocs, s.frees, s.large_allocs), (11, 1, 1));
    assert_eq!(s.bytes_requested, 300 + (1 << 20));
    assert_eq!(s.bytes_allocated, 320 + (1 << 20));
    assert_eq!(s.live_bytes, 288 + (1 << 20));
    // LARGE publishes at once. Class 1 last published at the flush (10 live blocks): the block
    // freed since then sits in the thread cache, so the peak may count it (within one cache).
    assert!(
        (288 + (1 << 20)..=320 + (1 << 20)).contains(&s.peak_live_bytes),
        "LARGE publishes at once: {}",
        s.peak_live_bytes
    );
    assert_eq!((s.os_mapped_bytes, s.spans_in_use), (1 << 21, 2));
    // Thread snapshot through current(): the same counts, no heap figures.
    let t = R.thread_snapshot();
    assert_eq!(
        (t.mallocs, t.live_bytes, t.spans_in_use),
        (11, s.live_bytes, 0)
    );
}

#[test]
fn retire_folds_and_reregistered_block_starts_from_zero() {
    static R: Registry = Registry::new(&SIZES, current);
    let ts: &'static ThreadStats = Box::leak(Box::new(ThreadStats::new()));
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: leaked block, written only by this thread until retire below.
            unsafe { R.register(raw(ts)) };
            ts.record_alloc(0, 10, 16);
            ts.record_alloc(2, 40, 48);
            ts.record_realloc(2, 48, 3, 60, 64, true);
            // SAFETY: registered above; this thread records no more into it.
            unsafe { R.retire(raw(ts)) };
        });
    });
    let s = R.snapshot();
    assert_eq!((s.threads_live, s.threads_exited), (0, 1));
    assert_eq!((s.mallocs, s.reallocs_in_place, s.live_bytes), (2, 1, 80));
    assert_eq!((s.classes[2].live_blocks, s.classes[3].live_blocks), (0, 1));
    assert_eq!(s.bytes_requested, 10 + 40 + 12);
    // Reuse the memory on another thread: it starts from zero, totals are unchanged.
    std::thread::scope(|sc| {
        sc.spawn(|| {
            // SAFETY: retired above, so reusable; this thread is its only writer now.
            unsafe { R.register(raw(ts)) };
            assert_eq!(
                R.thread_snapshot().mallocs,
                0,
                "found by owner: current() is null here"
            );
            ts.record_free(3, 64);
            let s = R.snapshot();
            assert_eq!(
                (s.threads_live, s.mallocs, s.frees, s.live_bytes),
                (1, 2, 1, 16)
            );
            // SAFETY: as above.
            unsafe { R.retire(raw(ts)) };
        });
    });
    assert_eq!(R.snapshot().threads_exited, 2);
}

#[test]
fn orphan_counts_are_exact_and_shared() {
    static R: Registry = Registry::new(&SIZES, current);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1000 {
                    R.with_orphan(|t| t.record_alloc(0, 8, 16));
                    R.with_orphan(|t| t.record_free(0, 16));
                }
            });
        }
    });
    let s = R.snapshot();
    assert_eq!(
        (s.mallocs, s.frees, s.live_bytes, s.threads_live),
        (4000, 4000, 0, 0)
    );
}

#[test]
fn default_registry_is_the_first_registered() {
    // REG is registered by this test only; whichever test registered first is the default,
    // so only check that Region::new() reads some live registry after a registration.
    let ts = register_me(&REG);
    let r = Region::new();
    assert!(r.is_live());
    let rt = Region::thread_of(&REG);
    ts.record_alloc(0, 1, 16);
    assert_eq!(rt.change().mallocs, 1);
}

#[test]
fn fork_child_keeps_only_the_forking_thread() {
    static R: Registry = Registry::new(&SIZES, current);
    let ts = register_me(&R);
    ts.record_alloc(0, 16, 16);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let t = register_me(&R);
        t.record_alloc(1, 32, 32);
        ready_tx.send(()).unwrap();
        done_rx.recv().unwrap();
    });
    ready_rx.recv().unwrap();
    R.fork_prepare();
    // SAFETY: fork in a test; the child only reads counters, uses no locks but R's (made usable
    // by fork_child) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        R.fork_child();
        let s = R.snapshot();
        let ok = s.threads_live == 1 && s.threads_exited == 1 && s.mallocs == 2;
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    R.fork_parent();
    assert!(pid > 0);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status}"
    );
    let s = R.snapshot();
    assert_eq!((s.threads_live, s.mallocs), (2, 2));
    done_tx.send(()).unwrap();
    other.join().unwrap();
    assert_eq!(R.heap.os_reserved.load(Ordering::Relaxed), 0);
}

/// A stand-in for alloc-core's thread cache: the counters and, per class, the list length as
/// the owner counts it and the blocks drained since.
#[repr(C)]
struct FakeCache {
    stats: ThreadStats,
    listed: [std::sync::atomic::AtomicU64; 4],
    drained: [std::sync::atomic::AtomicU64; 4],
}

/// `CachedBlocks` for `FakeCache`: `stats` is its first field.
unsafe fn fake_cached(ts: *const ThreadStats, class: usize) -> (u64, u64) {
    // SAFETY: every block of `DERIVED` is the `stats` of a leaked `FakeCache`, at offset 0.
    let c = unsafe { &*ts.cast::<FakeCache>() };
    (
        c.listed[class].load(Ordering::Relaxed),
        c.drained[class].load(Ordering::Relaxed),
    )
}

#[test]
fn derived_frees_follow_the_cache_through_drain_recount_and_retire() {
    static DERIVED: Registry = Registry::with_thread_caches(&SIZES, current);
    // SAFETY: every block DERIVED links is a FakeCache's `stats` (below).
    unsafe { DERIVED.set_cached_blocks(fake_cached) };
    let cache: *mut FakeCache = Box::into_raw(Box::new(FakeCache {
        stats: ThreadStats::new(),
        listed: Default::default(),
        drained: Default::default(),
    }));
    // SAFETY: leaked, valid forever; this thread is its only writer.
    let (c, ts) = unsafe { (&*cache, ptr::addr_of_mut!((*cache).stats)) };
    // SAFETY: as above.
    unsafe { DERIVED.register(ts) };
    CURRENT.with(|cur| cur.set(ts));
    let set = |listed: u64, drained: u64| {
        c.listed[1].store(listed, Ordering::Relaxed);
        c.drained[1].store(drained, Ordering::Relaxed);
    };
    let check = |what: &str, allocs: u64, frees: u64, flushed: u64, cached: u64| {
        for s in [DERIVED.snapshot(), DERIVED.thread_snapshot()] {
            let row = s.classes[1];
            assert_eq!(
                (row.allocs, row.frees, row.flush_blocks),
                (allocs, frees, flushed),
                "{what}"
            );
            assert_eq!(s.live_bytes, (allocs - frees) * 32, "{what}");
        }
        // The heap gauges are in whole-registry snapshots only.
        assert_eq!(DERIVED.snapshot().thread_cache_bytes, cached * 32, "{what}");
    };
    // A refill of 8 blocks, the first handed out; three more allocations from the list.
    set(7, 0);
    c.stats.record_refill(1, 8, 7);
    c.stats.record_alloc(1, 30, 32);
    set(4, 0);
    for _ in 0..3 {
        c.stats.record_alloc(1, 30, 32);
    }
    check("after 4 allocations", 4, 0, 0, 4);
    // Two frees into the list: nothing is recorded, the list grows.
    set(6, 0);
    check("after 2 frees", 4, 2, 0, 6);
    // Another thread drains 4 of the 6: flushed at once, the frees do not move.
    set(6, 4);
    check("after a drain", 4, 2, 4, 2);
    // The owner recounts and records the drained blocks as its own flush.
    set(2, 0);
    c.stats.record_flush(1, 4, 2);
    check("after the recount", 4, 2, 4, 2);
    // One more free; then the thread is lost (a fork) with 3 blocks in its list: they stay
    // frees of the totals, and the only live block stays live.
    set(3, 0);
    check("after a third free", 4, 3, 4, 3);
    // SAFETY: linked above; its owner records nothing more.
    unsafe { DERIVED.retire(ts) };
    let s = DERIVED.snapshot();
    assert_eq!((s.classes[1].allocs, s.classes[1].frees), (4, 3));
    assert_eq!(s.live_bytes, 32);
    // Large frees are still recorded, not derived.
    let ts2 = register_me(&DERIVED);
    ts2.record_alloc(LARGE, 1 << 20, 1 << 20);
    ts2.record_free(LARGE, 1 << 20);
    let s = DERIVED.snapshot();
    assert_eq!((s.large_allocs, s.classes[LARGE].frees), (1, 1));
}
