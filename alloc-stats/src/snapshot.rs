//! [`Snapshot`]: a `Copy`, allocation-free sum of one registry's counters at one moment, and
//! the difference of two snapshots (what a [`crate::Region`] reports).

use core::ops::Sub;

use crate::{LARGE, MAX_CLASSES};

/// One size class's row in a [`Snapshot`] (row [`LARGE`] is for allocations above the largest
/// class). All counts are cumulative since the registry started, except `live_blocks`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct ClassStats {
    /// Block size of the class in bytes; 0 for the `LARGE` row and for unused rows.
    pub size: u64,
    /// Allocations served in this class (reallocs not included).
    pub allocs: u64,
    /// Frees of blocks of this class (reallocs not included).
    pub frees: u64,
    /// Reallocs whose new block is in this class while the old one was in another.
    pub reallocs_in: u64,
    /// Reallocs whose old block was in this class and the new one in another.
    pub reallocs_out: u64,
    /// Blocks of this class live now: `allocs + reallocs_in − frees − reallocs_out`.
    pub live_blocks: u64,
    /// Allocations served from the thread cache: `allocs + reallocs_in − misses` (derived).
    pub hits: u64,
    /// Allocations the thread cache could not serve (the allocator's slow path ran).
    pub misses: u64,
    /// Batch refills, central list -> thread cache.
    pub refills: u64,
    /// Blocks moved by those refills.
    pub refill_blocks: u64,
    /// Batch flushes, thread cache -> central list.
    pub flushes: u64,
    /// Blocks moved by those flushes.
    pub flush_blocks: u64,
}

impl ClassStats {
    /// All zero.
    pub const ZERO: ClassStats = ClassStats {
        size: 0,
        allocs: 0,
        frees: 0,
        reallocs_in: 0,
        reallocs_out: 0,
        live_blocks: 0,
        hits: 0,
        misses: 0,
        refills: 0,
        refill_blocks: 0,
        flushes: 0,
        flush_blocks: 0,
    };

    /// Recomputes the derived fields (`live_blocks`, `hits`) from the counted ones.
    pub(crate) fn derive(&mut self) {
        let into = self.allocs.wrapping_add(self.reallocs_in);
        let out = self.frees.wrapping_add(self.reallocs_out);
        self.live_blocks = into.saturating_sub(out);
        self.hits = into.saturating_sub(self.misses);
    }

    /// Whether any counter in the row is non-zero.
    pub fn is_used(&self) -> bool {
        self.allocs
            | self.frees
            | self.reallocs_in
            | self.reallocs_out
            | self.misses
            | self.refills
            | self.flushes
            != 0
    }

    fn diff(&self, e: &ClassStats) -> ClassStats {
        let mut d = ClassStats {
            size: self.size,
            allocs: self.allocs.saturating_sub(e.allocs),
            frees: self.frees.saturating_sub(e.frees),
            reallocs_in: self.reallocs_in.saturating_sub(e.reallocs_in),
            reallocs_out: self.reallocs_out.saturating_sub(e.reallocs_out),
            live_blocks: 0,
            hits: 0,
            misses: self.misses.saturating_sub(e.misses),
            refills: self.refills.saturating_sub(e.refills),
            refill_blocks: self.refill_blocks.saturating_sub(e.refill_blocks),
            flushes: self.flushes.saturating_sub(e.flushes),
            flush_blocks: self.flush_blocks.saturating_sub(e.flush_blocks),
        };
        d.derive();
        d
    }
}

/// A point-in-time sum of the counters of one registry (all threads, live and exited), or of
/// one thread ([`crate::Registry::thread_snapshot`]), or the difference of two snapshots.
///
/// `Copy` and allocation-free: taking one never perturbs the counts it reads. All byte figures
/// are in bytes. See docs/stats.md for how fresh each field is.
///
/// ```
/// let s = alloc_stats::Snapshot::default();
/// assert_eq!(s.mallocs, 0);
/// assert_eq!(s.live_bytes, s.bytes_allocated - s.bytes_freed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot {
    /// Allocations (alloc and alloc_zeroed), reallocs not included. Σ `classes[..].allocs`.
    pub mallocs: u64,
    /// Deallocations, reallocs not included. Σ `classes[..].frees`.
    pub frees: u64,
    /// Reallocs that kept the address.
    pub reallocs_in_place: u64,
    /// Reallocs that moved the block.
    pub reallocs_moved: u64,
    /// Bytes asked for (layout sizes; a realloc adds its growth beyond the old block).
    pub bytes_requested: u64,
    /// Bytes handed out after size-class rounding (a realloc adds its growth).
    pub bytes_allocated: u64,
    /// Bytes given back (a shrinking realloc adds the difference).
    pub bytes_freed: u64,
    /// `bytes_allocated − bytes_freed` (exact; 0 if a diff frees more than it allocates, see
    /// [`Snapshot::net_bytes`]).
    pub live_bytes: u64,
    /// `mallocs − frees` (exact; saturating like `live_bytes`, see [`Snapshot::net_blocks`]).
    pub live_blocks: u64,
    /// Highest live-byte count seen, within one thread cache (or `PUBLISH_THRESHOLD` for
    /// `Counting`) per thread (docs/stats.md).
    /// A high-water mark: a diff keeps the later value. 0 in thread snapshots.
    pub peak_live_bytes: u64,
    /// Allocations above the largest class (`classes[LARGE].allocs`).
    pub large_allocs: u64,
    /// Frees of such allocations (`classes[LARGE].frees`).
    pub large_frees: u64,
    /// Virtual address space reserved from the OS (cumulative).
    pub os_reserved_bytes: u64,
    /// Bytes mapped/committed from the OS (cumulative).
    pub os_mapped_bytes: u64,
    /// Bytes given back to the OS with munmap or madvise (cumulative).
    pub os_released_bytes: u64,
    /// Spans in use now (a gauge: a diff keeps the later value).
    pub spans_in_use: u64,
    /// What the heap holds now: bytes committed from the OS, `os_mapped − os_released`
    /// (mapped and not given back; metadata included). A gauge, like the three below.
    pub resident_bytes: u64,
    /// Of `resident_bytes`: the allocator's own metadata (arena headers, thread-cache records).
    pub metadata_bytes: u64,
    /// Bytes of free blocks held in thread caches now, derived per class as
    /// `(refill_blocks − flush_blocks − live_blocks) × size`: exact when no thread is mid-way
    /// through an operation.
    pub thread_cache_bytes: u64,
    /// Of `resident_bytes`: committed but holding neither a live block, nor a thread-cache
    /// block, nor metadata: transfer caches, free blocks and pages of spans, empty spans kept
    /// for reuse, cached large ranges (what decay and `trim` give back).
    /// `resident − metadata − live − thread_cache`, saturating.
    pub free_retained_bytes: u64,
    /// Threads with registered counters now (a gauge: a diff keeps the later value).
    pub threads_live: u64,
    /// Threads whose counters were folded into the totals at exit (cumulative).
    pub threads_exited: u64,
    /// Rows `0..class_count` of `classes` are the allocator's size classes.
    pub class_count: usize,
    /// Per size class; row [`LARGE`] is for allocations above the largest class. In JSON only
    /// the used rows appear, each with its index as `"class"`.
    #[cfg_attr(
        feature = "json",
        serde(
            serialize_with = "crate::json::ser_rows",
            deserialize_with = "crate::json::de_rows"
        )
    )]
    pub classes: [ClassStats; MAX_CLASSES + 1],
}

impl Snapshot {
    /// All zero.
    pub const ZERO: Snapshot = Snapshot {
        mallocs: 0,
        frees: 0,
        reallocs_in_place: 0,
        reallocs_moved: 0,
        bytes_requested: 0,
        bytes_allocated: 0,
        bytes_freed: 0,
        live_bytes: 0,
        live_blocks: 0,
        peak_live_bytes: 0,
        large_allocs: 0,
        large_frees: 0,
        os_reserved_bytes: 0,
        os_mapped_bytes: 0,
        os_released_bytes: 0,
        spans_in_use: 0,
        resident_bytes: 0,
        metadata_bytes: 0,
        thread_cache_bytes: 0,
        free_retained_bytes: 0,
        threads_live: 0,
        threads_exited: 0,
        class_count: 0,
        classes: [ClassStats::ZERO; MAX_CLASSES + 1],
    };

    /// All reallocs.
    pub fn reallocs(&self) -> u64 {
        self.reallocs_in_place + self.reallocs_moved
    }

    /// `bytes_allocated − bytes_freed`, signed: negative when a region freed more than it
    /// allocated (e.g. blocks made before it started).
    pub fn net_bytes(&self) -> i64 {
        self.bytes_allocated.wrapping_sub(self.bytes_freed) as i64
    }

    /// `mallocs − frees`, signed.
    pub fn net_blocks(&self) -> i64 {
        self.mallocs.wrapping_sub(self.frees) as i64
    }

    /// Recomputes the heap gauges from the OS counters, the metadata and the class rows
    /// (after `derive` and after the OS figures are filled in).
    pub(crate) fn derive_gauges(&mut self) {
        self.resident_bytes = self.os_mapped_bytes.saturating_sub(self.os_released_bytes);
        let mut cached = 0u64;
        for c in &self.classes[..self.class_count.min(MAX_CLASSES)] {
            let blocks = c
                .refill_blocks
                .saturating_sub(c.flush_blocks)
                .saturating_sub(c.live_blocks);
            cached = cached.saturating_add(blocks.saturating_mul(c.size));
        }
        self.thread_cache_bytes = cached;
        self.free_retained_bytes = self
            .resident_bytes
            .saturating_sub(self.metadata_bytes)
            .saturating_sub(self.live_bytes)
            .saturating_sub(cached);
    }

    /// Recomputes every derived field from the counted ones.
    pub(crate) fn derive(&mut self) {
        let (mut m, mut f) = (0u64, 0u64);
        for c in self.classes.iter_mut() {
            c.derive();
            m = m.wrapping_add(c.allocs);
            f = f.wrapping_add(c.frees);
        }
        self.mallocs = m;
        self.frees = f;
        self.live_blocks = m.saturating_sub(f);
        self.live_bytes = self.bytes_allocated.saturating_sub(self.bytes_freed);
        self.large_allocs = self.classes[LARGE].allocs;
        self.large_frees = self.classes[LARGE].frees;
    }

    /// What happened between `earlier` and `self`: cumulative counters subtract, gauges
    /// (`peak_live_bytes`, `spans_in_use`, `threads_live`, the four heap gauges from
    /// `resident_bytes` on) keep `self`'s value, and the live
    /// figures become the net change (saturating at 0; see [`Snapshot::net_bytes`]).
    pub fn diff(&self, earlier: &Snapshot) -> Snapshot {
        let mut d = Snapshot {
            reallocs_in_place: self
                .reallocs_in_place
                .saturating_sub(earlier.reallocs_in_place),
            reallocs_moved: self.reallocs_moved.saturating_sub(earlier.reallocs_moved),
            bytes_requested: self.bytes_requested.saturating_sub(earlier.bytes_requested),
            bytes_allocated: self.bytes_allocated.saturating_sub(earlier.bytes_allocated),
            bytes_freed: self.bytes_freed.saturating_sub(earlier.bytes_freed),
            peak_live_bytes: self.peak_live_bytes,
            os_reserved_bytes: self
                .os_reserved_bytes
                .saturating_sub(earlier.os_reserved_bytes),
            os_mapped_bytes: self.os_mapped_bytes.saturating_sub(earlier.os_mapped_bytes),
            os_released_bytes: self
                .os_released_bytes
                .saturating_sub(earlier.os_released_bytes),
            spans_in_use: self.spans_in_use,
            resident_bytes: self.resident_bytes,
            metadata_bytes: self.metadata_bytes,
            thread_cache_bytes: self.thread_cache_bytes,
            free_retained_bytes: self.free_retained_bytes,
            threads_live: self.threads_live,
            threads_exited: self.threads_exited.saturating_sub(earlier.threads_exited),
            class_count: self.class_count,
            ..Snapshot::ZERO
        };
        for (i, c) in d.classes.iter_mut().enumerate() {
            *c = self.classes[i].diff(&earlier.classes[i]);
        }
        d.derive();
        d
    }

    /// The used rows (`0..class_count` with any activity, then `LARGE` if used), with indices.
    pub fn used_classes(&self) -> impl Iterator<Item = (usize, &ClassStats)> {
        self.classes
            .iter()
            .enumerate()
            .filter(|&(i, c)| (i < self.class_count || i == LARGE) && c.is_used())
    }
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot::ZERO
    }
}

impl Sub for Snapshot {
    type Output = Snapshot;
    /// `later - earlier` is `later.diff(&earlier)`.
    fn sub(self, earlier: Snapshot) -> Snapshot {
        self.diff(&earlier)
    }
}
