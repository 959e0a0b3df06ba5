//! [`Registry`]: every live thread's [`ThreadStats`] of one allocator (an intrusive list under a
//! spin lock), the totals of exited threads, the orphan counters, the published live-byte
//! counter with its peak, and the allocator-wide [`HeapCounters`]. Everything here is a slow
//! path: register, retire, snapshot, publish.
//!
//! Process-wide state also lives here: the default registry that `Region::new()` uses, and the
//! `GLOBAL` lock that orders it against `Counting`'s drop and thread-exit hooks.

use core::ptr;
use core::sync::atomic::{AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};

use crate::lock::SpinLock;
use crate::snapshot::Snapshot;
use crate::thread_stats::ThreadStats;
use crate::{LARGE, MAX_CLASSES};

/// Allocator-wide figures, updated on the allocator's slow paths (atomics).
pub struct HeapCounters {
    /// Virtual bytes reserved from the OS (cumulative).
    pub os_reserved: AtomicU64,
    /// Bytes committed/mapped from the OS (cumulative).
    pub os_mapped: AtomicU64,
    /// Bytes given back to the OS: munmap or madvise (cumulative).
    pub os_released: AtomicU64,
    /// Spans in use now.
    pub spans_in_use: AtomicU64,
    /// Bytes of the allocator's own metadata now (arena headers, thread-cache records): part
    /// of `os_mapped − os_released`.
    pub metadata: AtomicU64,
}

impl HeapCounters {
    /// All zero.
    pub const fn new() -> Self {
        HeapCounters {
            os_reserved: AtomicU64::new(0),
            os_mapped: AtomicU64::new(0),
            os_released: AtomicU64::new(0),
            spans_in_use: AtomicU64::new(0),
            metadata: AtomicU64::new(0),
        }
    }
    /// `c += n` (relaxed; compiled out without the `counting` feature).
    #[inline]
    pub fn add(c: &AtomicU64, n: usize) {
        if crate::COUNTING {
            c.fetch_add(n as u64, Relaxed);
        }
    }
    /// `c -= n` (relaxed; compiled out without the `counting` feature).
    #[inline]
    pub fn sub(c: &AtomicU64, n: usize) {
        if crate::COUNTING {
            c.fetch_sub(n as u64, Relaxed);
        }
    }
}

impl Default for HeapCounters {
    fn default() -> Self {
        Self::new()
    }
}

/// Orders default-registry changes, exit-report slots, `Counting`'s drop and its thread-exit
/// hook. Lock order: `GLOBAL` before any registry lock.
pub(crate) static GLOBAL: SpinLock = SpinLock::new();
/// The registry `Region::new()` uses: the first one ever registered (null until then, and again
/// after a dropped `Counting` that was it).
pub(crate) static DEFAULT: AtomicPtr<Registry> = AtomicPtr::new(ptr::null_mut());
/// Bumped (under `GLOBAL`) whenever `DEFAULT` stops pointing at a live registry.
pub(crate) static DEFAULT_EPOCH: AtomicU64 = AtomicU64::new(0);

/// An address unique to the calling thread while it lives (its copy of a TLS byte).
pub(crate) fn thread_id() -> usize {
    thread_local! { static ID: u8 = const { 0 } }
    ID.try_with(|b| b as *const u8 as usize)
        .unwrap_or(usize::MAX)
}

/// Reads, for a class (the `usize`, one of the registry's size classes), the length of its
/// list in the thread cache that owns a registered [`ThreadStats`] as the owner counts it, and
/// how many of those blocks another thread has drained since (they are flushed, but only the
/// owner records that, on its next slow path): see [`Registry::with_thread_caches`].
///
/// # Safety
/// Called only with a pointer that was passed to [`Registry::register`] of the registry that
/// holds this function and is still linked there (or is being retired), and only under that
/// registry's lock or by the block's owner.
pub type CachedBlocks = unsafe fn(*const ThreadStats, usize) -> (u64, u64);

/// All thread counters of one allocator, plus its heap figures.
///
/// Invariants: every `ThreadStats` on the list has `registry == self` and was linked by
/// `register`; `threads_live` == list length; counts of retired blocks are in `retired`.
/// The true live bytes equal `live` + Σ over the list and the orphan of each block's
/// unpublished change (`take_unpublished`).
pub struct Registry {
    /// Allocator-wide figures (the allocator updates them).
    pub heap: HeapCounters,
    class_sizes: &'static [u32],
    /// Small-class byte totals are `allocs × size` and `frees × size`, added at snapshot time
    /// ([`Registry::new`]); false: every record counted its bytes ([`Registry::new_uncached`]).
    derive_bytes: bool,
    /// Set by [`Registry::with_thread_caches`]: small-class frees are derived, not recorded.
    derive_frees: bool,
    /// The allocator's [`CachedBlocks`] as a `usize` (0 until [`Registry::set_cached_blocks`]).
    cached: AtomicUsize,
    current: fn() -> *const ThreadStats,
    lock: SpinLock,
    // All below: written under `lock` (except `live`/`peak`, plain atomics).
    head: AtomicPtr<ThreadStats>,
    threads_live: AtomicU64,
    threads_exited: AtomicU64,
    /// Published live bytes (may be transiently off by the threads' unpublished deltas).
    live: AtomicI64,
    /// Highest value `live` reached when a thread published a growth.
    peak: AtomicU64,
    retired: ThreadStats,
    orphan: ThreadStats,
}

impl Registry {
    /// A registry for an allocator whose class `i` has blocks of exactly `class_sizes[i]` bytes
    /// (at most `MAX_CLASSES` are used), recording with [`ThreadStats::record_alloc`] and
    /// [`ThreadStats::record_free`]: a small-class record counts the block, not its bytes, and
    /// snapshots derive `bytes_allocated`/`bytes_freed` as `allocs × size` and `frees × size`
    /// per class (plus what `LARGE` blocks and reallocs counted). `current()` returns the
    /// calling thread's registered `ThreadStats`, or null (then thread snapshots find it by
    /// owner).
    pub const fn new(class_sizes: &'static [u32], current: fn() -> *const ThreadStats) -> Self {
        Self::with_mode(class_sizes, current, true, false)
    }

    /// As [`Registry::new`], for an allocator whose every small-class free goes into a
    /// per-thread cache or is counted as a one-block flush: such frees are not recorded at all.
    /// A snapshot derives them per thread and class from the cache identity
    /// `frees = allocs + reallocs_in − reallocs_out − refill_blocks + flush_blocks + listed`,
    /// where `(listed, drained) = cached(ts, class)` (the allocator's [`CachedBlocks`], given by
    /// [`Registry::set_cached_blocks`] before it registers its first thread) are the length of
    /// the class's list in the cache of `ts` as its owner counts it and how many of those
    /// another thread drained since; `record_refill`/`record_flush` pass that length for the
    /// publish. The free fast path then makes no counter update at all. `record_free` stays
    /// for `LARGE`.
    ///
    /// The allocator keeps the identity exact: every block that enters a cache by a free is
    /// counted in `listed`, every block that leaves it otherwise than by an allocation is
    /// counted as flushed (by the owner; blocks another thread drained are counted in `drained`
    /// until the owner records their flush and takes them off `listed`), and blocks that skip
    /// the cache are counted as a refill (alloc) or a flush (free) of one block. Snapshots add
    /// `drained` to `flush_blocks`. At retire, whatever the cache still holds (a thread lost at
    /// `fork`) is kept as recorded frees.
    pub const fn with_thread_caches(
        class_sizes: &'static [u32],
        current: fn() -> *const ThreadStats,
    ) -> Self {
        Self::with_mode(class_sizes, current, true, true)
    }

    /// Gives a [`Registry::with_thread_caches`] registry its [`CachedBlocks`] (a later call
    /// replaces it). A function rather than a constructor argument, so that the registry can
    /// sit in a module below the thread caches it reads.
    ///
    /// # Safety
    /// `f` honours the [`CachedBlocks`] contract for every block this registry will link; no
    /// block is linked yet.
    pub unsafe fn set_cached_blocks(&self, f: CachedBlocks) {
        self.cached.store(f as usize, Release);
    }

    /// A registry whose threads record with [`ThreadStats::record_alloc_uncached`] and
    /// [`ThreadStats::record_free_uncached`] (`Counting`): each record counts its own bytes, so
    /// `class_sizes` may be bucket bounds rather than block sizes (row `i` holds requests up to
    /// `class_sizes[i]` bytes).
    pub const fn new_uncached(
        class_sizes: &'static [u32],
        current: fn() -> *const ThreadStats,
    ) -> Self {
        Self::with_mode(class_sizes, current, false, false)
    }

    const fn with_mode(
        class_sizes: &'static [u32],
        current: fn() -> *const ThreadStats,
        derive_bytes: bool,
        derive_frees: bool,
    ) -> Self {
        Registry {
            heap: HeapCounters::new(),
            class_sizes,
            derive_bytes,
            derive_frees,
            cached: AtomicUsize::new(0),
            current,
            lock: SpinLock::new(),
            head: AtomicPtr::new(ptr::null_mut()),
            threads_live: AtomicU64::new(0),
            threads_exited: AtomicU64::new(0),
            live: AtomicI64::new(0),
            peak: AtomicU64::new(0),
            retired: ThreadStats::new(),
            orphan: ThreadStats::new(),
        }
    }

    fn as_mut_ptr(&self) -> *mut Registry {
        self as *const Registry as *mut Registry
    }

    /// Links `ts` (reset to zero first, owned by the calling thread) and makes this registry the
    /// process default for [`crate::Region::new`] if none is yet.
    ///
    /// # Safety
    /// `ts` is valid, not linked anywhere, stays valid until `retire(ts)`, and from now on is
    /// recorded into only by the calling thread.
    pub unsafe fn register(&'static self, ts: *mut ThreadStats) {
        // SAFETY: forwarded contract; `self` is 'static so it outlives `ts`'s link.
        unsafe { self.register_raw(ts) };
        let _ = DEFAULT.compare_exchange(ptr::null_mut(), self.as_mut_ptr(), AcqRel, Relaxed);
    }

    /// `register` without touching the default.
    ///
    /// # Safety
    /// As `register`, and `self` outlives the link (it unlinks everything before it dies).
    pub(crate) unsafe fn register_raw(&self, ts: *mut ThreadStats) {
        // SAFETY: the caller guarantees `ts` is valid and owned by this thread.
        let t = unsafe { &*ts };
        if !t.registry.load(Acquire).is_null() {
            // Still linked somewhere (a contract breach): resetting would corrupt that list, and
            // panicking here (inside an allocator) is worse. Ignore the second registration.
            return;
        }
        t.reset();
        t.owner.store(thread_id(), Relaxed);
        self.lock.with(|| {
            let head = self.head.load(Relaxed);
            t.next.store(head, Relaxed);
            if !head.is_null() {
                // SAFETY: list members are valid while linked (register's contract).
                unsafe { &*head }.prev.store(ts, Relaxed);
            }
            self.head.store(ts, Relaxed);
            self.threads_live
                .store(self.threads_live.load(Relaxed) + 1, Relaxed);
            t.registry.store(self.as_mut_ptr(), Release);
        });
    }

    /// Unlinks `ts` under the lock held by the caller.
    fn unlink_locked(&self, t: &ThreadStats) {
        let (p, n) = (t.prev.load(Relaxed), t.next.load(Relaxed));
        if p.is_null() {
            self.head.store(n, Relaxed);
        } else {
            // SAFETY: neighbours on the list are valid while linked.
            unsafe { &*p }.next.store(n, Relaxed);
        }
        if !n.is_null() {
            // SAFETY: as above.
            unsafe { &*n }.prev.store(p, Relaxed);
        }
        self.threads_live
            .store(self.threads_live.load(Relaxed).saturating_sub(1), Relaxed);
    }

    /// The block size that class `class`'s counts stand for in byte totals: 0 unless this
    /// registry derives bytes and `class` is one of its size classes.
    #[inline]
    pub(crate) fn derived_size(&self, class: usize) -> u64 {
        if self.derive_bytes && class < self.class_sizes.len().min(MAX_CLASSES) {
            self.class_sizes[class] as u64
        } else {
            0
        }
    }

    /// True if small-class frees are derived ([`Registry::with_thread_caches`]).
    #[inline]
    pub(crate) fn derives_frees(&self) -> bool {
        self.derive_frees
    }

    /// The cached blocks of `class` in the cache that owns `t`, when this registry derives the
    /// frees of `class` (a size class of a [`Registry::with_thread_caches`] registry): `None`
    /// otherwise. `t` null stands for a block with no cache (the orphan, the exited totals).
    ///
    /// # Safety
    /// `t` is null or a block linked here (or being retired), and the caller holds the lock
    /// or owns `t` (the [`CachedBlocks`] contract).
    unsafe fn cached_of(&self, t: *const ThreadStats, class: usize) -> Option<(u64, u64)> {
        if !self.derive_frees || class >= self.class_sizes.len().min(MAX_CLASSES) {
            return None; // not a size class of ours (`LARGE` frees are always recorded)
        }
        let f = self.cached.load(Acquire);
        if t.is_null() || f == 0 {
            return Some((0, 0));
        }
        // SAFETY: the only non-zero values stored are `CachedBlocks` pointers
        // (`set_cached_blocks`), and a function pointer survives the round trip through `usize`.
        let f = unsafe { core::mem::transmute::<usize, CachedBlocks>(f) };
        // SAFETY: forwarded from the caller.
        Some(unsafe { f(t, class) })
    }

    /// Marks everything `t` counted as published and returns the live-bytes change since its
    /// last publish (all classes: O(classes), for retire and the orphan).
    ///
    /// # Safety
    /// As [`Registry::cached_of`] for `cache` (the pointer of `t`, or null for a block with no
    /// cache).
    unsafe fn take_unpublished(&self, t: &ThreadStats, cache: *const ThreadStats) -> i64 {
        let mut d = t
            .take_unpublished_bytes()
            .wrapping_add(t.pending.swap(0, Relaxed));
        for c in 0..self.class_sizes.len().min(MAX_CLASSES) {
            // SAFETY: forwarded from the caller.
            let listed = unsafe { self.cached_of(cache, c) }.map(|(listed, _)| listed);
            d = d.wrapping_add(t.take_unpublished_class(c, self.derived_size(c), listed));
        }
        d
    }

    /// Folds the block at `p` into the totals, unlinks and zeroes it, under the lock held by
    /// the caller. Blocks its cache still holds (it was lost at `fork`; a thread that exits
    /// flushes its cache first) stay frees of the totals.
    ///
    /// # Safety
    /// `p` is a block linked here.
    unsafe fn retire_locked(&self, p: *const ThreadStats) {
        // SAFETY: linked blocks are valid (caller).
        let t = unsafe { &*p };
        // SAFETY: `p` is linked here and we hold the lock.
        self.publish(unsafe { self.take_unpublished(t, p) });
        self.retired.absorb(t);
        let rows = self.retired.frees.iter().zip(self.retired.classes.iter());
        for (c, (f, r)) in rows.enumerate() {
            // SAFETY: as above.
            if let Some((listed, drained)) = unsafe { self.cached_of(p, c) } {
                let fl = &r.flush_blocks;
                fl.store(fl.load(Relaxed).wrapping_add(drained), Relaxed);
                f.store(
                    f.load(Relaxed).wrapping_add(listed.saturating_sub(drained)),
                    Relaxed,
                );
            }
        }
        self.unlink_locked(t);
        self.threads_exited
            .store(self.threads_exited.load(Relaxed) + 1, Relaxed);
        t.reset();
    }

    /// Folds `ts`'s counts into the registry's totals and unlinks it; the caller may then reuse
    /// the memory (a later `register` starts it from zero).
    ///
    /// # Safety
    /// `ts` was registered here and is still linked, and its owner will not record into it again.
    pub unsafe fn retire(&self, ts: *mut ThreadStats) {
        // SAFETY: the caller guarantees `ts` is a live, linked block of this registry.
        let t = unsafe { &*ts };
        self.lock.with(|| {
            // Retiring a block that is not linked here (twice, or folded by fork_child) is a
            // no-op rather than a corrupted list.
            if t.registry.load(Relaxed) == self.as_mut_ptr() {
                // SAFETY: linked here (just checked), under the lock.
                unsafe { self.retire_locked(ts) };
            }
        });
    }

    /// Runs `f` on the shared counters used when a thread has no `ThreadStats` (during its
    /// set-up or after its exit hook ran). Takes the registry lock, so `f` must not allocate
    /// through an allocator that records into this registry.
    pub fn with_orphan<R>(&self, f: impl FnOnce(&ThreadStats) -> R) -> R {
        self.lock.with(|| {
            self.orphan.registry.store(self.as_mut_ptr(), Relaxed);
            let r = f(&self.orphan);
            // Rare and already locked: publish every time, so the orphan adds no peak error.
            // SAFETY: null: the orphan has no cache.
            self.publish(unsafe { self.take_unpublished(&self.orphan, ptr::null()) });
            r
        })
    }

    /// Adds a thread's live-bytes delta to `live` and raises `peak` (publish slow path).
    pub(crate) fn publish(&self, delta: i64) {
        if delta == 0 {
            return;
        }
        let now = self.live.fetch_add(delta, Relaxed).wrapping_add(delta);
        // Read first: once the peak is reached, most growths stay below it, and a plain load
        // of the shared line costs far less than a locked compare-exchange loop on it.
        if delta > 0 && now > 0 && now as u64 > self.peak.load(Relaxed) {
            self.peak.fetch_max(now as u64, Relaxed);
        }
    }

    /// Adds the block at `p` to `out`; `cache` is `p` for a block linked here, null for the
    /// exited totals and the orphan.
    ///
    /// # Safety
    /// `p` is valid; `cache` as in [`Registry::cached_of`].
    unsafe fn add_counts(
        &self,
        out: &mut Snapshot,
        p: *const ThreadStats,
        cache: *const ThreadStats,
    ) {
        // SAFETY: valid (caller).
        let t = unsafe { &*p };
        out.bytes_requested += t.bytes_requested.load(Relaxed);
        out.bytes_allocated += t.bytes_allocated.load(Relaxed);
        out.bytes_freed += t.bytes_freed.load(Relaxed);
        out.reallocs_in_place += t.reallocs_in_place.load(Relaxed);
        out.reallocs_moved += t.reallocs_moved.load(Relaxed);
        for (i, (o, r)) in out.classes.iter_mut().zip(t.classes.iter()).enumerate() {
            // SAFETY: forwarded from the caller.
            let cached = unsafe { self.cached_of(cache, i) };
            o.allocs += t.allocs[i].load(Relaxed);
            o.frees += t.frees_of(i, cached.map(|(listed, _)| listed));
            o.flush_blocks += cached.map_or(0, |(_, drained)| drained);
            o.reallocs_in += r.reallocs_in.load(Relaxed);
            o.reallocs_out += r.reallocs_out.load(Relaxed);
            o.misses += r.misses.load(Relaxed);
            o.refills += r.refills.load(Relaxed);
            o.refill_blocks += r.refill_blocks.load(Relaxed);
            o.flushes += r.flushes.load(Relaxed);
            o.flush_blocks += r.flush_blocks.load(Relaxed);
        }
    }

    /// Adds the derived small-class bytes (`allocs × size`, `frees × size`) to the summed
    /// counters, when this registry derives them.
    fn add_derived_bytes(&self, s: &mut Snapshot) {
        if !self.derive_bytes {
            return;
        }
        for c in &s.classes[..s.class_count] {
            s.bytes_allocated = s
                .bytes_allocated
                .wrapping_add(c.allocs.wrapping_mul(c.size));
            s.bytes_freed = s.bytes_freed.wrapping_add(c.frees.wrapping_mul(c.size));
        }
    }

    fn empty_snapshot(&self) -> Snapshot {
        let mut s = Snapshot::ZERO;
        s.class_count = self.class_sizes.len().min(MAX_CLASSES);
        for (row, &size) in s
            .classes
            .iter_mut()
            .zip(self.class_sizes.iter().take(MAX_CLASSES))
        {
            row.size = size as u64;
        }
        s.classes[LARGE].size = 0;
        s
    }

    /// Sums every live thread, the exited threads' totals and the orphan counters.
    ///
    /// Counts of threads that are quiescent (joined, or between allocations with a
    /// happens-before edge to the caller) are exact; counts of threads allocating right now are
    /// each at most a few operations stale. Never allocates.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = self.empty_snapshot();
        self.lock.with(|| {
            let mut p = self.head.load(Relaxed);
            while !p.is_null() {
                // SAFETY: list members are valid while linked, and we hold the lock.
                unsafe { self.add_counts(&mut s, p, p) };
                // SAFETY: as above.
                p = unsafe { &*p }.next.load(Relaxed);
            }
            // SAFETY: our own blocks, which have no cache.
            unsafe {
                self.add_counts(&mut s, &self.retired, ptr::null());
                self.add_counts(&mut s, &self.orphan, ptr::null());
            }
            s.threads_live = self.threads_live.load(Relaxed);
            s.threads_exited = self.threads_exited.load(Relaxed);
        });
        self.add_derived_bytes(&mut s);
        s.derive();
        // The exact live bytes seen here are a lower bound of the peak too: keep them.
        s.peak_live_bytes = self.peak.fetch_max(s.live_bytes, Relaxed).max(s.live_bytes);
        self.fill_heap(&mut s);
        s
    }

    fn fill_heap(&self, s: &mut Snapshot) {
        s.os_reserved_bytes = self.heap.os_reserved.load(Relaxed);
        s.os_mapped_bytes = self.heap.os_mapped.load(Relaxed);
        s.os_released_bytes = self.heap.os_released.load(Relaxed);
        s.spans_in_use = self.heap.spans_in_use.load(Relaxed);
        s.metadata_bytes = self.heap.metadata.load(Relaxed);
        s.derive_gauges();
    }

    /// The calling thread's counters only: exact even while other threads allocate. Heap
    /// figures and `peak_live_bytes` are 0 (they are not per-thread); `threads_live` is 1 if the
    /// thread has counters here. Allocations recorded as orphan are not included.
    pub fn thread_snapshot(&self) -> Snapshot {
        let mut s = self.empty_snapshot();
        let me = self.as_mut_ptr();
        let cur = (self.current)();
        // SAFETY: `current()` returns the calling thread's registered block or null; a block
        // we own stays valid while we run.
        if !cur.is_null() && unsafe { &*cur }.registry.load(Relaxed) == me {
            // SAFETY: as above; we own it.
            unsafe { self.add_counts(&mut s, cur, cur) };
            s.threads_live = 1;
        } else {
            let id = thread_id();
            self.lock.with(|| {
                let mut p = self.head.load(Relaxed);
                while !p.is_null() {
                    // SAFETY: list members are valid while linked, and we hold the lock.
                    let t = unsafe { &*p };
                    if t.owner.load(Relaxed) == id {
                        // SAFETY: linked, under the lock.
                        unsafe { self.add_counts(&mut s, p, p) };
                        s.threads_live = 1;
                        break;
                    }
                    p = t.next.load(Relaxed);
                }
            });
        }
        self.add_derived_bytes(&mut s);
        s.derive();
        s
    }

    /// Unlinks every block without folding it (`Counting`'s drop): their owners see
    /// `registry == null` and treat the memory as free. Caller holds `GLOBAL`.
    pub(crate) fn detach_all(&self) {
        self.lock.with(|| {
            let mut p = self.head.load(Relaxed);
            while !p.is_null() {
                // SAFETY: list members are valid while linked, and we hold the lock.
                let t = unsafe { &*p };
                p = t.next.load(Relaxed);
                t.registry.store(ptr::null_mut(), Release);
            }
            self.head.store(ptr::null_mut(), Relaxed);
            self.threads_live.store(0, Relaxed);
        });
    }

    /// `pthread_atfork` prepare: takes the process-wide `GLOBAL` lock (default registry, exit
    /// report list) and this registry's lock, so no other thread holds them at fork.
    pub fn fork_prepare(&self) {
        GLOBAL.lock();
        self.lock.lock();
    }
    /// `pthread_atfork` parent: releases the locks taken in `fork_prepare`.
    pub fn fork_parent(&self) {
        self.lock.unlock();
        GLOBAL.unlock();
    }
    /// `pthread_atfork` child: only the forking thread exists now. Folds the other threads'
    /// counters into the exited totals (their memory is a copy nobody will touch), then makes
    /// the lock usable.
    pub fn fork_child(&self) {
        let id = thread_id();
        let mut p = self.head.load(Relaxed);
        while !p.is_null() {
            let ts = p;
            // SAFETY: list members are valid (copied into the child) and the lock is held since
            // fork_prepare.
            let t = unsafe { &*ts };
            p = t.next.load(Relaxed);
            if t.owner.load(Relaxed) != id {
                // SAFETY: linked here; the lock is ours since fork_prepare.
                unsafe { self.retire_locked(ts) };
            }
        }
        self.lock.force_unlock();
        GLOBAL.force_unlock();
    }
}
