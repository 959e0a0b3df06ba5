//! alloc-stats — STUB: the interface contract between alloc-core and alloc-stats.
//! The alloc-stats helper replaces the bodies; the signatures below are what alloc-core calls.
#![deny(unsafe_op_in_unsafe_fn)]

use core::sync::atomic::{AtomicU64, Ordering};

/// Most size classes any registry may use; index `LARGE` (== MAX_CLASSES) is the row for
/// allocations above the largest class.
pub const MAX_CLASSES: usize = 96;
/// The per-class row index used for large allocations.
pub const LARGE: usize = MAX_CLASSES;

/// Per-thread counters: written only by the owning thread.
#[repr(C)]
pub struct ThreadStats {
    _private: [AtomicU64; 1],
}

impl ThreadStats {
    /// All zero.
    pub const fn new() -> Self {
        ThreadStats { _private: [AtomicU64::new(0)] }
    }
    /// One allocation of `requested` bytes served as `allocated` bytes in `class` (or `LARGE`).
    #[inline(always)]
    pub fn record_alloc(&self, class: usize, requested: usize, allocated: usize) {
        let _ = (class, requested, allocated);
    }
    /// One free of a block of `allocated` bytes in `class` (or `LARGE`).
    #[inline(always)]
    pub fn record_free(&self, class: usize, allocated: usize) {
        let _ = (class, allocated);
    }
    /// A realloc: the block moved from (`old_class`, `old_allocated`) to (`new_class`,
    /// `new_requested`, `new_allocated`); `in_place` when the address did not change.
    #[inline]
    pub fn record_realloc(
        &self,
        old_class: usize,
        old_allocated: usize,
        new_class: usize,
        new_requested: usize,
        new_allocated: usize,
        in_place: bool,
    ) {
        let _ = (old_class, old_allocated, new_class, new_requested, new_allocated, in_place);
    }
    /// The thread cache missed in `class`.
    #[inline]
    pub fn record_miss(&self, class: usize) {
        let _ = class;
    }
    /// A batch of `blocks` moved central -> thread cache.
    #[inline]
    pub fn record_refill(&self, class: usize, blocks: usize) {
        let _ = (class, blocks);
    }
    /// A batch of `blocks` moved thread cache -> central.
    #[inline]
    pub fn record_flush(&self, class: usize, blocks: usize) {
        let _ = (class, blocks);
    }
}

impl Default for ThreadStats {
    fn default() -> Self {
        Self::new()
    }
}

/// Allocator-wide figures (slow paths only; atomics).
pub struct HeapCounters {
    pub os_reserved: AtomicU64,
    pub os_mapped: AtomicU64,
    pub os_released: AtomicU64,
    pub spans_in_use: AtomicU64,
}

impl HeapCounters {
    pub const fn new() -> Self {
        HeapCounters {
            os_reserved: AtomicU64::new(0),
            os_mapped: AtomicU64::new(0),
            os_released: AtomicU64::new(0),
            spans_in_use: AtomicU64::new(0),
        }
    }
    pub fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub fn sub(c: &AtomicU64, n: usize) {
        c.fetch_sub(n as u64, Ordering::Relaxed);
    }
}

impl Default for HeapCounters {
    fn default() -> Self {
        Self::new()
    }
}

/// A point-in-time sum of all counters of one registry.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    pub mallocs: u64,
    pub frees: u64,
    pub live_bytes: u64,
    pub peak_live_bytes: u64,
}

/// All thread counters of one allocator, plus its heap figures.
pub struct Registry {
    pub heap: HeapCounters,
    _class_sizes: &'static [u32],
    _current: fn() -> *const ThreadStats,
}

impl Registry {
    pub const fn new(class_sizes: &'static [u32], current: fn() -> *const ThreadStats) -> Self {
        Registry { heap: HeapCounters::new(), _class_sizes: class_sizes, _current: current }
    }
    /// # Safety
    /// `ts` stays valid and is written only by the calling thread until `retire(ts)`.
    pub unsafe fn register(&'static self, ts: *mut ThreadStats) {
        let _ = ts;
    }
    /// # Safety
    /// `ts` was registered here and its owner will not record into it again.
    pub unsafe fn retire(&self, ts: *mut ThreadStats) {
        let _ = ts;
    }
    /// Runs `f` on the shared counters used when a thread has no ThreadStats (during its
    /// set-up or after its exit hook ran). Takes a lock.
    pub fn with_orphan<R>(&self, f: impl FnOnce(&ThreadStats) -> R) -> R {
        f(&ThreadStats::new())
    }
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::default()
    }
    /// `pthread_atfork` hooks: the allocator calls these from its own.
    pub fn fork_prepare(&self) {}
    pub fn fork_parent(&self) {}
    pub fn fork_child(&self) {}
}
