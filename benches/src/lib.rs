//! Shared pieces of the benchmark suite: the allocators under test, a deterministic rng,
//! size tables and the workloads, written once and used by the criterion benches
//! (`benches/allocators.rs`), the callgrind driver (`src/bin/icount.rs`) and the whole-program
//! bins (`src/bin/wp_*.rs`). See `docs/benchmarks.md` for what each workload means and how to
//! run the suite (`scripts/bench-all.sh`).
//!
//! Every workload is generic over `A: BenchAlloc` (implemented for every `GlobalAlloc`), so each
//! allocator's `alloc`/`dealloc` is called directly (and can be inlined) rather than through a
//! `dyn` vtable.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

pub mod buffer_pool;
pub mod scenarios;
pub mod whole_program;

/// `PoolAlloc` used as a plain value (not the global allocator) by the direct benches.
pub static POOL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();
/// mimalloc, called directly.
pub static MIMALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
/// jemalloc (tikv-jemallocator, prefixed symbols, so it never replaces `malloc`).
pub static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
/// snmalloc (snmalloc-rs; feature `snmalloc`, which needs cmake and a C++ compiler).
#[cfg(feature = "snmalloc")]
pub static SNMALLOC: snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc::new();
/// The system allocator (glibc malloc on Linux).
pub static SYSTEM: std::alloc::System = std::alloc::System;

/// Names of the allocators in the order every table lists them (snmalloc's rows are n/a when
/// the suite is built without the `snmalloc` feature).
pub const ALLOCATOR_NAMES: [&str; 5] = ["System", "PoolAlloc", "mimalloc", "jemalloc", "snmalloc"];

/// Something run once per allocator, monomorphized for each (see [`for_each_allocator`]).
pub trait Visit {
    /// Called with the allocator's display name and a `'static` handle to it.
    fn visit<A: GlobalAlloc + Sync>(&mut self, name: &'static str, alloc: &'static A);
}

/// Calls `v.visit` for every allocator built in, in [`ALLOCATOR_NAMES`] order.
pub fn for_each_allocator(v: &mut impl Visit) {
    v.visit("System", &SYSTEM);
    v.visit("PoolAlloc", &POOL);
    v.visit("mimalloc", &MIMALLOC);
    v.visit("jemalloc", &JEMALLOC);
    #[cfg(feature = "snmalloc")]
    v.visit("snmalloc", &SNMALLOC);
}

/// Calls `v.visit` for the allocator named `name` only; false if there is none by that name
/// (or it is not built in).
pub fn with_allocator(name: &str, v: &mut impl Visit) -> bool {
    match name {
        "System" => v.visit("System", &SYSTEM),
        "PoolAlloc" => v.visit("PoolAlloc", &POOL),
        "mimalloc" => v.visit("mimalloc", &MIMALLOC),
        "jemalloc" => v.visit("jemalloc", &JEMALLOC),
        #[cfg(feature = "snmalloc")]
        "snmalloc" => v.visit("snmalloc", &SNMALLOC),
        _ => return false,
    }
    true
}

/// xorshift64* (Vigna): a few instructions per number, deterministic for a given seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is mapped to a fixed non-zero state).
    pub const fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }
    /// The next 64 random bits.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n` (multiply-shift reduction; `n` > 0).
    #[inline(always)]
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
    /// A float in `[0, 1)`.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How block sizes are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeDist {
    /// Every size in `lo..=hi` equally likely.
    Uniform {
        /// Smallest size in bytes.
        lo: usize,
        /// Largest size in bytes.
        hi: usize,
    },
    /// `ln(size)` uniform over `[ln lo, ln hi]`: as many 8..64 B blocks as 8..64 KiB ones.
    LogUniform {
        /// Smallest size in bytes.
        lo: usize,
        /// Largest size in bytes.
        hi: usize,
    },
}

impl SizeDist {
    /// One size drawn from this distribution.
    pub fn sample(self, rng: &mut Rng) -> usize {
        match self {
            SizeDist::Uniform { lo, hi } => lo + rng.below(hi - lo + 1),
            SizeDist::LogUniform { lo, hi } => {
                let (l, h) = ((lo as f64).ln(), (hi as f64 + 1.0).ln());
                ((l + (h - l) * rng.unit_f64()).exp() as usize).clamp(lo, hi)
            }
        }
    }
}

/// A precomputed ring of sizes, so that drawing a size in a timed loop costs one load, not
/// a `ln`/`exp` (which would dwarf a fast allocator in the instruction counts).
pub struct SizeTable {
    sizes: Box<[u32]>,
    next: usize,
}

impl SizeTable {
    /// Entries in the ring (a power of two).
    pub const LEN: usize = 1 << 14;

    /// A ring of [`Self::LEN`] sizes drawn from `dist` with `seed`.
    pub fn new(dist: SizeDist, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let sizes = (0..Self::LEN)
            .map(|_| dist.sample(&mut rng) as u32)
            .collect();
        SizeTable { sizes, next: 0 }
    }
    /// The next size of the ring.
    #[inline(always)]
    pub fn next_size(&mut self) -> usize {
        let s = self.sizes[self.next & (Self::LEN - 1)];
        self.next = self.next.wrapping_add(1);
        s as usize
    }
}

/// The layout of a `size`-byte block: alignment 8, like most Rust heap objects.
#[inline(always)]
pub fn layout(size: usize) -> Layout {
    debug_assert!(size > 0);
    // SAFETY: 8 is a power of two and the sizes used here are far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked(size, 8) }
}

/// The three calls a workload makes. Implemented for every [`GlobalAlloc`] (forwarding, inlined)
/// and for [`NullAlloc`], the baseline that lets the icount driver subtract the loop's own cost.
pub trait BenchAlloc {
    /// Allocates a block.
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`]: `layout` has a non-zero size.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8;
    /// Frees a block.
    ///
    /// # Safety
    /// As [`GlobalAlloc::dealloc`]: `ptr` came from this allocator with `layout` and is live.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout);
    /// Resizes a block.
    ///
    /// # Safety
    /// As [`GlobalAlloc::realloc`].
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8;
}

impl<A: GlobalAlloc> BenchAlloc for A {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller keeps GlobalAlloc::alloc's contract.
        unsafe { GlobalAlloc::alloc(self, layout) }
    }
    #[inline(always)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller keeps GlobalAlloc::dealloc's contract.
        unsafe { GlobalAlloc::dealloc(self, ptr, layout) }
    }
    #[inline(always)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller keeps GlobalAlloc::realloc's contract.
        unsafe { GlobalAlloc::realloc(self, ptr, layout, new_size) }
    }
}

/// Allocates a block of `layout`, writes its first byte, aborts on failure.
#[inline(always)]
fn alloc_touch<A: BenchAlloc + ?Sized>(a: &A, layout: Layout) -> *mut u8 {
    // SAFETY: every layout built by `layout()` has a non-zero size.
    let p = unsafe { a.alloc(layout) };
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `p` is a fresh block of at least one byte.
    unsafe { p.write(layout.size() as u8) };
    p
}

/// One malloc + free of `layout` (the "fast-path pair"), with the first byte written.
#[inline(always)]
pub fn pair<A: BenchAlloc + ?Sized>(a: &A, layout: Layout) {
    let p = black_box(alloc_touch(a, layout));
    // SAFETY: `p` was allocated just above by `a` with `layout`.
    unsafe { a.dealloc(p, layout) };
}

/// A live set of blocks; each [`Churn::step`] frees a random one and allocates a
/// replacement of a random size (one free + one malloc per step).
pub struct Churn<'a, A: BenchAlloc> {
    alloc: &'a A,
    /// `(block, size)`; every entry is live and owned by this set.
    slots: Vec<(*mut u8, usize)>,
    rng: Rng,
    sizes: SizeTable,
}

impl<'a, A: BenchAlloc> Churn<'a, A> {
    /// Fills a live set of `live` blocks with sizes from `dist`.
    pub fn new(alloc: &'a A, live: usize, dist: SizeDist, seed: u64) -> Self {
        let mut sizes = SizeTable::new(dist, seed);
        let slots = (0..live)
            .map(|_| {
                let s = sizes.next_size();
                (alloc_touch(alloc, layout(s)), s)
            })
            .collect();
        Churn {
            alloc,
            slots,
            rng: Rng::new(seed ^ 0x5151),
            sizes,
        }
    }
    /// Frees one random block of the set and allocates its replacement.
    #[inline(always)]
    pub fn step(&mut self) {
        let i = self.rng.below(self.slots.len());
        let new_size = self.sizes.next_size();
        let slot = &mut self.slots[i];
        // SAFETY: the slot holds a live block allocated by `self.alloc` with `layout(slot.1)`.
        unsafe { self.alloc.dealloc(slot.0, layout(slot.1)) };
        *slot = (alloc_touch(self.alloc, layout(new_size)), new_size);
    }
}

impl<A: BenchAlloc> Drop for Churn<'_, A> {
    fn drop(&mut self) {
        for &(p, s) in &self.slots {
            // SAFETY: every slot holds a live block allocated by `self.alloc` with `layout(s)`.
            unsafe { self.alloc.dealloc(p, layout(s)) };
        }
    }
}

/// Grows one buffer from 16 B to `max` bytes by doubling with `realloc` (the way `Vec`
/// grows), writing the last byte after each step, then frees it. Returns the reallocs done.
pub fn realloc_growth<A: BenchAlloc>(a: &A, max: usize) -> usize {
    let mut size = 16;
    let mut p = alloc_touch(a, layout(size));
    let mut n = 0;
    while size < max {
        let new_size = size * 2;
        // SAFETY: `p` is live, allocated by `a` with `layout(size)`; `new_size` is non-zero and
        // far below isize::MAX.
        p = unsafe { a.realloc(p, layout(size), new_size) };
        if p.is_null() {
            std::alloc::handle_alloc_error(layout(new_size));
        }
        // SAFETY: the block is now `new_size` bytes long.
        unsafe { p.add(new_size - 1).write(1) };
        size = new_size;
        n += 1;
    }
    // SAFETY: `p` is live, allocated (last resized) by `a` to `layout(size)`.
    unsafe { a.dealloc(black_box(p), layout(size)) };
    n
}

/// Waits a little when a queue is full or empty: spins first, then yields the core (the
/// machine is small and shared, so the other thread may not be running at all).
#[inline]
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Producer/consumer: this thread allocates `n` blocks (sizes from `dist`) and hands each to
/// a second thread through a bounded lock-free queue; that thread frees them. Returns the
/// wall time from the first allocation to the last free (one thread spawn included).
pub fn cross_thread<A: BenchAlloc + Sync>(a: &A, n: u64, dist: SizeDist) -> Duration {
    let queue = crossbeam_queue::ArrayQueue::<(usize, usize)>::new(1024);
    let mut sizes = SizeTable::new(dist, 7);
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut freed = 0;
            let mut spins = 0;
            while freed < n {
                match queue.pop() {
                    Some((p, size)) => {
                        // SAFETY: the producer allocated `p` with `a` and `layout(size)` and gave up
                        // ownership by pushing it.
                        unsafe { a.dealloc(p as *mut u8, layout(size)) };
                        freed += 1;
                        spins = 0;
                    }
                    None => backoff(&mut spins),
                }
            }
        });
        for _ in 0..n {
            let size = sizes.next_size();
            let mut item = (alloc_touch(a, layout(size)) as usize, size);
            let mut spins = 0;
            while let Err(back) = queue.push(item) {
                item = back;
                backoff(&mut spins);
            }
        }
    });
    start.elapsed()
}

/// Larson-style migration: two threads, each replacing random blocks of a live set; after
/// every round of `round` replacements the threads swap live sets, so most frees hit blocks
/// that the other thread allocated. `total_ops` replacements are split between the threads.
/// Returns the wall time of the timed part (thread spawn included, set-up and clean-up not).
pub fn larson<A: BenchAlloc + Sync>(
    a: &A,
    total_ops: u64,
    live_per_thread: usize,
    round: u64,
    dist: SizeDist,
) -> Duration {
    let mut sizes = SizeTable::new(dist, 11);
    let sets: [Mutex<Vec<(usize, usize)>>; 2] = std::array::from_fn(|_| {
        Mutex::new(
            (0..live_per_thread)
                .map(|_| {
                    let s = sizes.next_size();
                    (alloc_touch(a, layout(s)) as usize, s)
                })
                .collect(),
        )
    });
    let per_thread = total_ops.div_ceil(2);
    let rounds = per_thread.div_ceil(round);
    let barrier = Barrier::new(2);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let (sets, barrier) = (&sets, &barrier);
            s.spawn(move || {
                let mut rng = Rng::new(t + 1);
                let mut sizes = SizeTable::new(dist, 100 + t);
                let mut left = per_thread;
                for r in 0..rounds {
                    let this_round = left.min(round);
                    left -= this_round;
                    let mut set = sets[((t + r) % 2) as usize].lock().unwrap();
                    for _ in 0..this_round {
                        let i = rng.below(set.len());
                        let new_size = sizes.next_size();
                        let slot = &mut set[i];
                        // SAFETY: every slot holds a live block allocated by `a` with
                        // `layout(slot.1)`; the mutex makes this thread its only user.
                        unsafe { a.dealloc(slot.0 as *mut u8, layout(slot.1)) };
                        *slot = (alloc_touch(a, layout(new_size)) as usize, new_size);
                    }
                    drop(set);
                    barrier.wait();
                }
            });
        }
    });
    let elapsed = start.elapsed();
    for set in &sets {
        for &(p, s) in set.lock().unwrap().iter() {
            // SAFETY: every slot holds a live block allocated by `a` with `layout(s)`.
            unsafe { a.dealloc(p as *mut u8, layout(s)) };
        }
    }
    elapsed
}

/// A stand-in that hands out one static buffer for every block and frees nothing: the
/// baseline whose instruction count is the benchmark loop itself (rng, slot choice, the byte
/// written, the loop), subtracted in the icount results. It is deliberately *not* a
/// `GlobalAlloc`: its blocks alias each other, which is harmless only because the workloads
/// write single bytes through raw pointers and never read them or make references to them.
/// Single-threaded use only (the icount driver).
pub struct NullAlloc;

/// The buffer [`NullAlloc`] hands out: 1 MiB, the largest size benchmarked.
static mut NULL_BUF: [u64; 1 << 17] = [0; 1 << 17];

impl BenchAlloc for NullAlloc {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        assert!(layout.size() <= 8 << 17, "NullAlloc serves at most 1 MiB");
        std::ptr::addr_of_mut!(NULL_BUF) as *mut u8
    }
    #[inline(always)]
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
    #[inline(always)]
    unsafe fn realloc(&self, ptr: *mut u8, _layout: Layout, new_size: usize) -> *mut u8 {
        assert!(new_size <= 8 << 17, "NullAlloc serves at most 1 MiB");
        ptr
    }
}

/// Peak resident set size of this process so far, in KiB (`getrusage` `ru_maxrss`).
pub fn peak_rss_kib() -> u64 {
    // SAFETY: `rusage` is plain old data, so all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage` for the call to fill.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc == 0 {
        ru.ru_maxrss as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(1);
        let mut seen = [false; 10];
        for _ in 0..10_000 {
            let x = rng.below(10);
            assert!(x < 10);
            seen[x] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn size_dists_stay_in_bounds() {
        let mut rng = Rng::new(3);
        let log = SizeDist::LogUniform { lo: 8, hi: 65536 };
        let uni = SizeDist::Uniform { lo: 8, hi: 1024 };
        let (mut small, mut big) = (0, 0);
        for _ in 0..100_000 {
            let s = log.sample(&mut rng);
            assert!((8..=65536).contains(&s));
            // Log-uniform: about as many sizes below 724 B (the geometric middle) as above.
            if s < 724 {
                small += 1
            } else {
                big += 1
            }
            assert!((8..=1024).contains(&uni.sample(&mut rng)));
        }
        assert!(
            (small as f64 / big as f64 - 1.0).abs() < 0.1,
            "{small} vs {big}"
        );
    }

    #[test]
    fn churn_keeps_its_live_set_and_frees_it() {
        let mut c = Churn::new(&SYSTEM, 64, SizeDist::Uniform { lo: 8, hi: 1024 }, 5);
        for _ in 0..1000 {
            c.step();
        }
        assert_eq!(c.slots.len(), 64);
        assert!(c
            .slots
            .iter()
            .all(|&(p, s)| !p.is_null() && (8..=1024).contains(&s)));
    }

    #[test]
    fn realloc_growth_doubles_to_max() {
        assert_eq!(realloc_growth(&POOL, 1 << 20), 16); // 16 B * 2^16 = 1 MiB
    }

    #[test]
    fn threaded_workloads_finish() {
        let d = SizeDist::Uniform { lo: 8, hi: 1024 };
        assert!(cross_thread(&POOL, 5000, d) > Duration::ZERO);
        assert!(larson(&POOL, 5000, 64, 100, d) > Duration::ZERO);
    }
}
