//! The heap's counters: alloc-stats' [`Registry`] of every thread's counters, and its
//! allocator-wide [`HeapCounters`] (OS bytes, spans, metadata). A leaf below every tier (Go's
//! `mstats.go`): each tier counts what it maps and releases here, and reaches nothing above
//! it. docs/stats.md tells how fresh each figure is.

use core::cell::Cell;
use core::ptr;

use alloc_stats::{HeapCounters, Registry, ThreadStats};

use crate::size_class::CLASS_SIZE;

/// The counters of every thread of the heap. A global because the heap is global; its own
/// lock protects the list of threads (see alloc-stats). Small-class frees are derived from the
/// thread caches' lengths (the process set-up gives it `thread_cache::cached_blocks`), so the
/// free fast path counts nothing.
pub static REGISTRY: Registry = Registry::with_thread_caches(&CLASS_SIZE, current_stats);

thread_local! {
    /// The calling thread's registered counters (null when it has none): what
    /// `Region::thread` reads. A `const` `Cell` of a raw pointer: no destructor, no allocation.
    static CURRENT_STATS: Cell<*const ThreadStats> = const { Cell::new(ptr::null()) };
}

fn current_stats() -> *const ThreadStats {
    CURRENT_STATS.try_with(Cell::get).unwrap_or(ptr::null())
}

/// Records `stats` (or null) as the calling thread's registered counters.
pub fn set_current_stats(stats: *const ThreadStats) {
    let _ = CURRENT_STATS.try_with(|c| c.set(stats));
}

/// Runs `f` on the calling thread's registered counters, or on the shared orphan ones if it
/// has none (while its cache is being built, or after its exit hook ran). A thread whose cache
/// another thread is draining (`PAUSED`) takes the shared path for its blocks but still has its
/// counters, and only it writes them: so `Region::thread` stays exact during a `trim`.
#[inline]
pub fn with_thread_stats(f: impl FnOnce(&ThreadStats)) {
    let s = current_stats();
    if s.is_null() {
        REGISTRY.with_orphan(f)
    } else {
        // SAFETY: a registered record of this thread, live until its exit hook clears the
        // pointer; only this thread writes it.
        f(unsafe { &*s })
    }
}

/// The allocator-wide figures every tier updates.
#[inline]
pub fn heap() -> &'static HeapCounters {
    &REGISTRY.heap
}
