//! Per-thread counters. Each [`ThreadStats`] is written only by the thread that owns it, with a
//! relaxed load and a relaxed store per counter (never an atomic read-modify-write), and read
//! by any thread that takes a snapshot. See docs/stats.md for what each counter means.

use core::sync::atomic::{AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::registry::Registry;
use crate::{COUNTING, LARGE, MAX_CLASSES};

/// Rows of per-class counters a `ThreadStats` holds: one per class plus the `LARGE` row, or
/// none at all when the `counting` feature is off (the struct then shrinks to a few words).
pub(crate) const ROWS: usize = if COUNTING { MAX_CLASSES + 1 } else { 0 };

/// An allocator without thread-cache batches (`record_alloc_uncached`, used by `Counting`)
/// publishes a thread's live-bytes delta to the registry-wide live counter each time the
/// thread has allocated or freed this many bytes since its last publish. The registry's
/// peak is therefore exact to within `PUBLISH_THRESHOLD` × (threads that allocate at once).
pub const PUBLISH_THRESHOLD: i64 = 64 * 1024;

/// Owner-only increment: a relaxed load and a relaxed store, no `lock`-prefixed instruction.
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// One size class's slow-path counters within a `ThreadStats` (its fast-path `allocs` and
/// `frees` live in dense arrays of their own).
#[repr(C)]
pub(crate) struct ClassCounters {
    pub(crate) reallocs_in: AtomicU64,
    pub(crate) reallocs_out: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) refills: AtomicU64,
    pub(crate) refill_blocks: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) flush_blocks: AtomicU64,
    /// `allocs − frees` of this class as of its last publish (a registry that derives byte
    /// totals publishes a class's live bytes as this difference × the block size). Not a
    /// count: `fields()` leaves it out, so it is neither summed nor absorbed.
    pub(crate) published_blocks: AtomicU64,
}

impl ClassCounters {
    const fn new() -> Self {
        ClassCounters {
            reallocs_in: AtomicU64::new(0),
            reallocs_out: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            refills: AtomicU64::new(0),
            refill_blocks: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            flush_blocks: AtomicU64::new(0),
            published_blocks: AtomicU64::new(0),
        }
    }

    pub(crate) fn fields(&self) -> [&AtomicU64; 7] {
        [
            &self.reallocs_in,
            &self.reallocs_out,
            &self.misses,
            &self.refills,
            &self.refill_blocks,
            &self.flushes,
            &self.flush_blocks,
        ]
    }
}

/// Per-thread counters: written only by the owning thread, read by snapshots.
///
/// Invariants (for one thread's own blocks, once all its frees are recorded here):
/// `Σ allocs + Σ classes.reallocs_in − Σ frees − Σ classes.reallocs_out`
/// = live blocks, and allocated − freed bytes = live bytes, where (a registry made with
/// [`Registry::new`], whose classes have fixed block sizes) allocated bytes =
/// `bytes_allocated + Σ_c allocs[c] × size(c)` and freed bytes = `bytes_freed + Σ_c frees[c] ×
/// size(c)` over the size classes: the small-class byte totals are derived at snapshot time,
/// and `bytes_allocated`/`bytes_freed` hold only what no class count implies (`LARGE` blocks,
/// realloc growth and shrinkage). With [`Registry::new_uncached`] (`Counting`) the two fields
/// hold every byte. A thread that frees blocks another thread allocated has more frees than
/// allocs; only the registry-wide sum is meaningful then.
///
/// `repr(C)` with the fields touched by every `record_*` call first: seven hot words in one
/// cache line (the two marks and `published_net` only on `Counting`'s path and on publish),
/// then the dense per-class `allocs` and `frees` arrays (8 bytes per class, so a workload's few
/// classes share a line or two), then the slow-path fields.
///
/// A small alloc updates `allocs[c]` and `bytes_requested`. A small free updates `frees[c]`
/// with [`Registry::new`], and nothing with [`Registry::with_thread_caches`], whose snapshots
/// derive small-class frees from the thread cache's list lengths: so a malloc/free pair makes
/// two owner-only updates (three with `Registry::new`), and alloc and free never chain a
/// read-modify-write through one memory word. The uncached publish test compares each running
/// total against its own mark rather than keeping one shared live-bytes delta.
///
/// [`Registry::with_thread_caches`]: crate::Registry::with_thread_caches
///
/// [`Registry::new`]: crate::Registry::new
/// [`Registry::new_uncached`]: crate::Registry::new_uncached
#[repr(C)]
pub struct ThreadStats {
    // Hot: every record_alloc / record_free.
    pub(crate) bytes_requested: AtomicU64,
    pub(crate) bytes_allocated: AtomicU64,
    pub(crate) bytes_freed: AtomicU64,
    /// Publish when `bytes_allocated` passes this (`PUBLISH_THRESHOLD` past the last publish).
    pub(crate) alloc_mark: AtomicU64,
    /// Publish when `bytes_freed` passes this.
    pub(crate) free_mark: AtomicU64,
    /// `bytes_allocated − bytes_freed` as of the last publish: the share of `Registry::live`
    /// this block has published from those two fields (each class's derived share is tracked
    /// by its row's `published_blocks`). Invariant (uncached use): |(allocated − freed) −
    /// published_net| ≤ PUBLISH_THRESHOLD, since each side moved less than that since the
    /// publish; with a thread cache, within what the cache can hold (docs/stats.md).
    pub(crate) published_net: AtomicI64,
    /// The registry this block is linked into, null when unlinked (read by `Counting`'s fast
    /// path and by publish, hence in the hot line).
    pub(crate) registry: AtomicPtr<Registry>,
    pub(crate) allocs: [AtomicU64; ROWS],
    pub(crate) frees: [AtomicU64; ROWS],
    // Warm: reallocs.
    pub(crate) reallocs_in_place: AtomicU64,
    pub(crate) reallocs_moved: AtomicU64,
    /// Class changes taken at batch events but not yet added to the registry's live counter:
    /// they go in one `fetch_add` once they reach `PUBLISH_THRESHOLD` either way, with the next
    /// `LARGE` publish, or at retire. Invariant: |pending| < `PUBLISH_THRESHOLD`.
    pub(crate) pending: AtomicI64,
    // Cold: list links and owner (written under the registry lock).
    pub(crate) next: AtomicPtr<ThreadStats>,
    pub(crate) prev: AtomicPtr<ThreadStats>,
    pub(crate) owner: AtomicUsize,
    pub(crate) classes: [ClassCounters; ROWS],
}

// The hot scalars fit one cache line; the whole block stays small.
const _: () = assert!(core::mem::offset_of!(ThreadStats, allocs) <= 64);
const _: () = assert!(PUBLISH_THRESHOLD > 0);
const _: () = assert!(core::mem::size_of::<ThreadStats>() <= 128 + ROWS * (16 + 64));

impl ThreadStats {
    /// All zero, unlinked.
    pub const fn new() -> Self {
        ThreadStats {
            bytes_requested: AtomicU64::new(0),
            bytes_allocated: AtomicU64::new(0),
            bytes_freed: AtomicU64::new(0),
            alloc_mark: AtomicU64::new(PUBLISH_THRESHOLD as u64),
            free_mark: AtomicU64::new(PUBLISH_THRESHOLD as u64),
            published_net: AtomicI64::new(0),
            registry: AtomicPtr::new(core::ptr::null_mut()),
            allocs: [const { AtomicU64::new(0) }; ROWS],
            frees: [const { AtomicU64::new(0) }; ROWS],
            reallocs_in_place: AtomicU64::new(0),
            reallocs_moved: AtomicU64::new(0),
            pending: AtomicI64::new(0),
            next: AtomicPtr::new(core::ptr::null_mut()),
            prev: AtomicPtr::new(core::ptr::null_mut()),
            owner: AtomicUsize::new(0),
            classes: [const { ClassCounters::new() }; ROWS],
        }
    }

    #[inline(always)]
    fn row(&self, class: usize) -> &ClassCounters {
        // `min` instead of a bounds check that could panic on the allocation path; ROWS is
        // LARGE + 1 whenever this is reached (callers return early when counting is off).
        &self.classes[class.min(LARGE)]
    }

    #[inline(always)]
    fn idx(class: usize) -> usize {
        class.min(LARGE)
    }

    /// One allocation of `requested` bytes served as `allocated` bytes in `class` (or `LARGE`),
    /// by an allocator with a thread cache, into a registry made with [`Registry::new`]: for a
    /// size class, `allocated` must be the class's block size, which the registry knows, so
    /// only `LARGE` reads it (snapshots derive small-class bytes as `allocs × size`). Live
    /// bytes are published at the cache's batch events (`record_refill`, `record_flush`), on
    /// every `LARGE` alloc and free, and at retire. Allocators without batches use
    /// [`ThreadStats::record_alloc_uncached`].
    ///
    /// Cost (x86-64), small class: two memory-destination adds (`allocs[class]`,
    /// `bytes_requested`) and the `LARGE` test, which the compiler drops where `class` is known
    /// to be a size class (alloc-core's fast path): 2 instructions, no `lock` prefix, no load
    /// of a value another thread writes.
    ///
    /// [`Registry::new`]: crate::Registry::new
    #[inline(always)]
    pub fn record_alloc(&self, class: usize, requested: usize, allocated: usize) {
        if !COUNTING {
            return;
        }
        bump(&self.allocs[Self::idx(class)], 1);
        bump(&self.bytes_requested, requested as u64);
        if class >= LARGE {
            bump(&self.bytes_allocated, allocated as u64);
            self.publish_slow(LARGE, 0);
        }
    }

    /// One free of a block of `allocated` bytes in `class` (or `LARGE`); as with
    /// `record_alloc`, only `LARGE` reads `allocated`, and it is published the same way. Cost,
    /// small class: one add (`frees[class]`). Into a [`Registry::with_thread_caches`] registry,
    /// only for `LARGE`: its small-class frees are derived, and recording one would count it
    /// twice.
    ///
    /// [`Registry::with_thread_caches`]: crate::Registry::with_thread_caches
    #[inline(always)]
    pub fn record_free(&self, class: usize, allocated: usize) {
        if !COUNTING {
            return;
        }
        bump(&self.frees[Self::idx(class)], 1);
        if class >= LARGE {
            bump(&self.bytes_freed, allocated as u64);
            self.publish_slow(LARGE, 0);
        }
    }

    /// `record_alloc` for an allocator without thread-cache batches (e.g. `Counting`), into a
    /// registry made with [`Registry::new_uncached`]: counts `allocated` in `bytes_allocated`
    /// (class rows are buckets, not block sizes), and publishes once `bytes_allocated` has grown
    /// `PUBLISH_THRESHOLD` past the last publish (so every alloc of at least that size
    /// publishes at once). Cost: three adds plus a load and a compare with this block's own
    /// publish mark.
    ///
    /// [`Registry::new_uncached`]: crate::Registry::new_uncached
    #[inline(always)]
    pub fn record_alloc_uncached(&self, class: usize, requested: usize, allocated: usize) {
        if !COUNTING {
            return;
        }
        bump(&self.allocs[Self::idx(class)], 1);
        bump(&self.bytes_requested, requested as u64);
        let a = self
            .bytes_allocated
            .load(Relaxed)
            .wrapping_add(allocated as u64);
        self.bytes_allocated.store(a, Relaxed);
        if a > self.alloc_mark.load(Relaxed) {
            self.publish_slow(LARGE, 0);
        }
    }

    /// `record_free` for an allocator without thread-cache batches: publishes once
    /// `bytes_freed` has grown `PUBLISH_THRESHOLD` past the last publish.
    #[inline(always)]
    pub fn record_free_uncached(&self, class: usize, allocated: usize) {
        if !COUNTING {
            return;
        }
        bump(&self.frees[Self::idx(class)], 1);
        let f = self
            .bytes_freed
            .load(Relaxed)
            .wrapping_add(allocated as u64);
        self.bytes_freed.store(f, Relaxed);
        if f > self.free_mark.load(Relaxed) {
            self.publish_slow(LARGE, 0);
        }
    }

    /// A realloc: the block moved from (`old_class`, `old_allocated`) to (`new_class`,
    /// `new_requested`, `new_allocated`); `in_place` when the address did not change.
    ///
    /// Counts as one realloc, not as a malloc plus a free (so neither class's `allocs` nor
    /// `frees` moves, and derived byte totals do not see it). Bytes adjust by the difference:
    /// growth adds to `bytes_allocated`, shrinking to `bytes_freed`, and `bytes_requested`
    /// grows by `new_requested − old_allocated` when positive (so requested ≤ allocated
    /// stays true). When the class changes, the block moves from `old_class`'s row
    /// (`reallocs_out`) to `new_class`'s (`reallocs_in`).
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
        if !COUNTING {
            return;
        }
        bump(
            if in_place {
                &self.reallocs_in_place
            } else {
                &self.reallocs_moved
            },
            1,
        );
        if old_class != new_class {
            bump(&self.row(old_class).reallocs_out, 1);
            bump(&self.row(new_class).reallocs_in, 1);
        }
        bump(
            &self.bytes_requested,
            new_requested.saturating_sub(old_allocated) as u64,
        );
        if new_allocated >= old_allocated {
            bump(
                &self.bytes_allocated,
                (new_allocated - old_allocated) as u64,
            );
        } else {
            bump(&self.bytes_freed, (old_allocated - new_allocated) as u64);
        }
        if self.bytes_allocated.load(Relaxed) > self.alloc_mark.load(Relaxed)
            || self.bytes_freed.load(Relaxed) > self.free_mark.load(Relaxed)
        {
            self.publish_slow(LARGE, 0);
        }
    }

    /// The thread cache missed in `class` (called once per allocation not served from it).
    #[inline]
    pub fn record_miss(&self, class: usize) {
        if COUNTING {
            bump(&self.row(class).misses, 1);
        }
    }

    /// A batch of `blocks` moved central -> thread cache, which now holds `cached` free blocks
    /// of `class` (0 for an allocator path without a cache). Also publishes this block's live
    /// bytes of `class` and of `LARGE` blocks and reallocs (a batch event: see `record_alloc`);
    /// `cached` is what a registry that derives frees ([`Registry::with_thread_caches`]) needs
    /// for that, and is ignored otherwise.
    ///
    /// [`Registry::with_thread_caches`]: crate::Registry::with_thread_caches
    #[inline]
    pub fn record_refill(&self, class: usize, blocks: usize, cached: usize) {
        if COUNTING {
            let r = self.row(class);
            bump(&r.refills, 1);
            bump(&r.refill_blocks, blocks as u64);
            self.publish_slow(class, cached as u64);
        }
    }

    /// A batch of `blocks` moved thread cache -> central, leaving `cached` free blocks of
    /// `class` in the cache. Also publishes, like `record_refill`.
    #[inline]
    pub fn record_flush(&self, class: usize, blocks: usize, cached: usize) {
        if COUNTING {
            let r = self.row(class);
            bump(&r.flushes, 1);
            bump(&r.flush_blocks, blocks as u64);
            self.publish_slow(class, cached as u64);
        }
    }

    /// Marks the change of `bytes_allocated − bytes_freed` as published and moves both marks
    /// `PUBLISH_THRESHOLD` ahead. Returns that change (to add to the registry's live counter).
    pub(crate) fn take_unpublished_bytes(&self) -> i64 {
        let (a, f) = (
            self.bytes_allocated.load(Relaxed),
            self.bytes_freed.load(Relaxed),
        );
        let net = a.wrapping_sub(f) as i64;
        let d = net.wrapping_sub(self.published_net.load(Relaxed));
        self.published_net.store(net, Relaxed);
        self.alloc_mark
            .store(a.saturating_add(PUBLISH_THRESHOLD as u64), Relaxed);
        self.free_mark
            .store(f.saturating_add(PUBLISH_THRESHOLD as u64), Relaxed);
        d
    }

    /// Class `class`'s row: its `allocs` and `frees` words and its slow-path counters; `None`
    /// when counting is compiled out (`ROWS == 0`) or `class` is past the rows. `get`, not
    /// indexing: this runs on the allocator's paths (thread exit), where a panic must never
    /// happen.
    #[inline(always)]
    fn parts(&self, class: usize) -> Option<(&AtomicU64, &AtomicU64, &ClassCounters)> {
        Some((
            self.allocs.get(class)?,
            self.frees.get(class)?,
            self.classes.get(class)?,
        ))
    }

    /// Blocks of the class this thread took from central lists and did not give back or keep
    /// in its cache's list (`listed`): `refill_blocks + reallocs_out − flush_blocks −
    /// reallocs_in − listed`, which equals `allocs − derived frees` (see
    /// [`ThreadStats::frees_of`]).
    #[inline(always)]
    fn kept(r: &ClassCounters, listed: u64) -> u64 {
        r.refill_blocks
            .load(Relaxed)
            .wrapping_add(r.reallocs_out.load(Relaxed))
            .wrapping_sub(r.flush_blocks.load(Relaxed))
            .wrapping_sub(r.reallocs_in.load(Relaxed))
            .wrapping_sub(listed)
    }

    /// The frees of `class` this block stands for: the recorded ones, plus, when `cached` is
    /// `Some` (a registry that derives frees), those implied by the thread-cache identity
    /// `cached = refill_blocks − flush_blocks − (allocs + reallocs_in − frees − reallocs_out)`,
    /// i.e. `allocs + reallocs_in − reallocs_out − refill_blocks + flush_blocks + cached`.
    /// Read while the owner runs, the terms may be a few operations apart: a difference that
    /// comes out negative counts as 0. `class < MAX_CLASSES`; 0 when counting is compiled out.
    pub(crate) fn frees_of(&self, class: usize, cached: Option<u64>) -> u64 {
        let Some((a, f, r)) = self.parts(class) else {
            return 0;
        };
        let f = f.load(Relaxed);
        let Some(cached) = cached else {
            return f;
        };
        let implied = a.load(Relaxed).wrapping_sub(Self::kept(r, cached));
        f.wrapping_add((implied as i64).max(0) as u64)
    }

    /// Marks class `class`'s live blocks (`allocs − frees`, with frees as
    /// [`ThreadStats::frees_of`] counts them) as published and returns their change since its
    /// last publish times `size` (the class's block size; 0 where bytes are not derived).
    /// `class < MAX_CLASSES`.
    pub(crate) fn take_unpublished_class(
        &self,
        class: usize,
        size: u64,
        cached: Option<u64>,
    ) -> i64 {
        let Some((a, f, c)) = self.parts(class) else {
            return 0;
        };
        if size == 0 {
            return 0;
        }
        let live = match cached {
            // `allocs − frees_of(class, cached)` with the allocs cancelled out: fewer loads on
            // every batch event. (No clamp: the owner and retire see a consistent block.)
            Some(listed) => Self::kept(c, listed).wrapping_sub(f.load(Relaxed)),
            None => a.load(Relaxed).wrapping_sub(f.load(Relaxed)),
        };
        let r = &c.published_blocks;
        let d = live.wrapping_sub(r.load(Relaxed));
        r.store(live, Relaxed);
        (d as i64).wrapping_mul(size as i64)
    }

    /// Adds an unpublished live-bytes change to the registry's live counter and raises its
    /// peak, in O(1) whatever the number of classes. For a size class (a batch event): that
    /// class's derived change since its own last publish, which is its thread-cache length's
    /// change since then, so what stays untaken is bounded by one cache (docs/stats.md); it
    /// joins `pending`, which goes to the registry once it reaches `PUBLISH_THRESHOLD` either
    /// way. For `LARGE` (a large alloc or free, a realloc past its marks): the change of
    /// `bytes_allocated − bytes_freed`, which otherwise stays below `PUBLISH_THRESHOLD` each
    /// way, with `pending`. `cached`: the owner's cache holds that many blocks of `class` now
    /// (used where the registry derives frees). The only atomic read-modify-writes of the
    /// counting path live here.
    #[cold]
    #[inline(never)]
    pub(crate) fn publish_slow(&self, class: usize, cached: u64) {
        let reg = self.registry.load(Relaxed);
        // SAFETY: `registry` is non-null only while this block is linked into that registry,
        // and a registry outlives every block linked into it (Counting's Drop unlinks them
        // all before the registry goes away, and sets this field to null under its lock).
        let reg = unsafe { reg.as_ref() };
        let d = match reg {
            Some(r) if class < LARGE => {
                let cached = r.derives_frees().then_some(cached);
                let d = self.take_unpublished_class(class, r.derived_size(class), cached);
                let p = self.pending.load(Relaxed).wrapping_add(d);
                if p.unsigned_abs() < PUBLISH_THRESHOLD as u64 {
                    // Small: keep it, rather than a locked add on a line every thread shares
                    // at every batch event.
                    self.pending.store(p, Relaxed);
                    return;
                }
                p
            }
            // Moves the marks even when not linked (register() resets the block anyway).
            _ => self
                .take_unpublished_bytes()
                .wrapping_add(self.pending.load(Relaxed)),
        };
        self.pending.store(0, Relaxed);
        if let Some(r) = reg {
            r.publish(d);
        }
    }

    /// Zeroes every counter and unlinks (used on register and retire).
    pub(crate) fn reset(&self) {
        for c in [
            &self.bytes_requested,
            &self.bytes_allocated,
            &self.bytes_freed,
            &self.reallocs_in_place,
            &self.reallocs_moved,
        ] {
            c.store(0, Relaxed);
        }
        self.alloc_mark.store(PUBLISH_THRESHOLD as u64, Relaxed);
        self.free_mark.store(PUBLISH_THRESHOLD as u64, Relaxed);
        self.published_net.store(0, Relaxed);
        self.pending.store(0, Relaxed);
        self.registry.store(core::ptr::null_mut(), Relaxed);
        self.next.store(core::ptr::null_mut(), Relaxed);
        self.prev.store(core::ptr::null_mut(), Relaxed);
        self.owner.store(0, Relaxed);
        for c in self.allocs.iter().chain(self.frees.iter()) {
            c.store(0, Relaxed);
        }
        for row in &self.classes {
            for c in row.fields() {
                c.store(0, Relaxed);
            }
            row.published_blocks.store(0, Relaxed);
        }
    }

    /// Adds `other`'s counters to `self` (registry totals; the caller holds the registry lock,
    /// so `self` has a single writer).
    pub(crate) fn absorb(&self, other: &ThreadStats) {
        for (a, b) in [
            (&self.bytes_requested, &other.bytes_requested),
            (&self.bytes_allocated, &other.bytes_allocated),
            (&self.bytes_freed, &other.bytes_freed),
            (&self.reallocs_in_place, &other.reallocs_in_place),
            (&self.reallocs_moved, &other.reallocs_moved),
        ] {
            bump(a, b.load(Relaxed));
        }
        for (a, b) in self.allocs.iter().zip(other.allocs.iter()) {
            bump(a, b.load(Relaxed));
        }
        for (a, b) in self.frees.iter().zip(other.frees.iter()) {
            bump(a, b.load(Relaxed));
        }
        for (ra, rb) in self.classes.iter().zip(other.classes.iter()) {
            for (a, b) in ra.fields().into_iter().zip(rb.fields()) {
                bump(a, b.load(Relaxed));
            }
        }
    }
}

impl Default for ThreadStats {
    fn default() -> Self {
        Self::new()
    }
}
