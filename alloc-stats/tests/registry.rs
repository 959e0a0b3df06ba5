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
    ts.record_refill(1, 8);
    ts.record_refill(1, 8);
    ts.record_flush(1, 4);
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
