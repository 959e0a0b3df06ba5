//! `PoolAlloc` and its `GlobalAlloc` impl: the small/large dispatch and the counting, nothing
//! more (docs/architecture.md, "The path of a request"). The tiers it calls:
//! `thread_cache` → `central` → `page_heap` → `os`, and `large` for big requests.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;
use core::sync::atomic::{AtomicU8, Ordering};

use alloc_stats::{Registry, Snapshot, ThreadStats, LARGE};

use crate::heap_stats::{self, REGISTRY};

use crate::central::{self, central, CENTRAL};
use crate::decay;
use crate::large::{self, LARGE_CACHE, LIVE};
use crate::meta::THREAD_CACHES;
use crate::os::{self, PAGE};
use crate::page_heap::PAGE_HEAP;
use crate::scavenger;
use crate::size_class::{self, class_of, is_small, round_request, SizeClass, NUM_CLASSES};
use crate::span::{self, Block};
use crate::thread_cache::{self, is_ready, Drained, ThreadCache, CACHES, EXIT_KEY, TRIM_EPOCH};

/// The pooling global allocator. All instances share one process-wide heap, so the type is a
/// handle and [`PoolAlloc::new`] is a `const fn`:
///
/// ```
/// #[global_allocator]
/// static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();
///
/// let v = vec![1u8; 100];
/// assert!(GLOBAL.stats().mallocs >= 1);
/// # drop(v);
/// ```
///
/// It may also be called directly, as a value, without being the global allocator (the
/// benchmarks do): it is the same heap either way.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolAlloc {
    _handle: (),
}

/// 0: not initialised; 1: being initialised; 2: done. Guards [`init_once`].
static INIT: AtomicU8 = AtomicU8::new(0);

/// Builds the calling thread's cache, after the process-wide set-up (see
/// `thread_cache::init_current`).
#[cold]
#[inline(never)]
fn init_thread() -> *mut ThreadCache {
    thread_cache::init_current(init_once)
}

/// Process-wide set-up, run by the first thread that builds a cache: checks the page size,
/// creates the exit key, registers the fork handlers and the `ALLOC_STATS` exit report. None
/// of these calls Rust's global allocator (glibc may use its own malloc).
#[cold]
fn init_once() {
    match INIT.compare_exchange(0, 1, Ordering::Acquire, Ordering::Acquire) {
        Ok(_) => {
            // First: no block is linked before the hardened secrets are drawn.
            crate::span::init_keys();
            // SAFETY: every block REGISTRY links is a cache record's `stats`, registered by
            // `init_current` after this set-up; none is linked yet.
            unsafe { REGISTRY.set_cached_blocks(thread_cache::cached_blocks) };
            if os::page_size() != PAGE {
                os::fatal("the kernel's page size is not 4 KiB");
            }
            decay::init_from_env();
            central::init_shards(os::cpu_count(), os::env_u32(c"POOLALLOC_SHARDS"));
            scavenger::init_from_env();
            if !EXIT_KEY.create(thread_exit) {
                os::fatal("pthread_key_create failed");
            }
            if !os::at_fork(fork_prepare, fork_parent, fork_child) {
                os::fatal("pthread_atfork failed");
            }
            alloc_stats::install_exit_report(&REGISTRY);
            INIT.store(2, Ordering::Release);
        }
        Err(2) => {}
        Err(_) => {
            // Another thread is initialising; it never waits on us, so this ends.
            while INIT.load(Ordering::Acquire) != 2 {
                os::yield_now();
            }
        }
    }
}

/// The thread-exit hook: flushes the thread's cache (`thread_cache::thread_exit`), then lets
/// the scavenger know that memory came back.
///
/// # Safety
/// Called by glibc with the value the exiting thread stored: its live cache.
unsafe extern "C" fn thread_exit(arg: *mut libc::c_void) {
    // SAFETY: forwarded from glibc.
    unsafe { thread_cache::thread_exit(arg) };
    scavenger::kick();
}

/// `pthread_atfork` prepare: take every lock, in the order the allocator nests them (the list
/// of thread caches, whose holder never waits on another lock; the central lists; the page
/// heap), then the leaves; so the child starts with consistent state.
unsafe extern "C" fn fork_prepare() {
    CACHES.lock_for_fork();
    for c in CENTRAL.iter().flatten() {
        c.list.lock_for_fork();
    }
    PAGE_HEAP.lock_for_fork();
    LARGE_CACHE.lock_for_fork();
    LIVE.lock_for_fork();
    THREAD_CACHES.lock_for_fork();
    REGISTRY.fork_prepare();
}

/// Releases what [`fork_prepare`] took.
///
/// # Safety
/// Runs right after `fork`, in the thread whose `fork_prepare` took the locks (or the child's
/// only thread).
unsafe fn fork_release() {
    // SAFETY: fork_prepare took each of these locks in this thread (or in the parent thread
    // the child is a copy of).
    unsafe {
        THREAD_CACHES.unlock_after_fork();
        LIVE.unlock_after_fork();
        LARGE_CACHE.unlock_after_fork();
        PAGE_HEAP.unlock_after_fork();
        for c in CENTRAL.iter().flatten() {
            c.list.unlock_after_fork();
        }
        CACHES.unlock_after_fork();
    }
}

unsafe extern "C" fn fork_parent() {
    REGISTRY.fork_parent();
    // SAFETY: glibc calls this in the parent thread that ran fork_prepare.
    unsafe { fork_release() };
}

unsafe extern "C" fn fork_child() {
    REGISTRY.fork_child();
    scavenger::forget_after_fork();
    os::membarrier_forget();
    // SAFETY: the child's only thread is a copy of the one that ran fork_prepare. The other
    // threads' caches are gone with their threads; their blocks stay allocated (a bounded
    // leak of at most one cache per thread that existed at fork).
    unsafe { fork_release() };
    // Their records leave the list too, so that no trim drains them: the registry kept what
    // they held as frees when it folded their counters, and a drain would count those blocks
    // again as flushed.
    thread_cache::forget_other_caches();
}

impl PoolAlloc {
    /// A handle to the process-wide heap.
    pub const fn new() -> Self {
        PoolAlloc { _handle: () }
    }

    /// A snapshot of the heap's counters, summed over all threads (see alloc-stats for how
    /// fresh each one is).
    pub fn stats(&self) -> Snapshot {
        REGISTRY.snapshot()
    }

    /// Gives back to the OS what the heap holds but nobody uses, like glibc's `malloc_trim`:
    /// flushes the calling thread's cache, takes the blocks of every other thread's cache but
    /// two per list (running or blocked: see `thread_cache.rs`; a thread inside one of its
    /// slow paths flushes its own on its next one instead), hands every transfer cache back
    /// to its spans, gives back the pages of every empty span and every whole free page
    /// inside partly used spans, and unmaps every cached large range. Never needed for
    /// correctness: decay does most of it over time (docs/architecture.md, "Memory: decay,
    /// trim, gauges").
    pub fn trim(&self) {
        TRIM_EPOCH.fetch_add(1, Ordering::Relaxed);
        let tc = thread_cache::current();
        if is_ready(tc) {
            // SAFETY: the calling thread owns its ready cache.
            unsafe { (*tc).flush_all() };
        }
        let mut drained = Drained {
            lists: [(ptr::null_mut(), 0); NUM_CLASSES],
        };
        thread_cache::drain_others(&mut drained);
        for class in SizeClass::all() {
            let (head, n) = drained.lists[class];
            if n > 0 {
                // SAFETY: `n` dead blocks of `class`, out of every cache now; no lock held.
                // Counted as flushed by their owners (`ThreadCache::cut`).
                unsafe { central::flush(class, head, n) };
            }
        }
        central::each_list(|list, class, shard, foreign| {
            list.trim(class, shard, foreign);
            false
        });
        PAGE_HEAP.lock().release_all();
        large::release_all();
    }

    /// Sets the decay delay: memory freed and not reused for `ms` milliseconds goes back to
    /// the OS (default [`crate::config::DEFAULT_DECAY_MS`]; also `POOLALLOC_DECAY_MS` at
    /// start-up). 0 gives empty spans and large ranges back as soon as they are freed.
    pub fn set_decay_ms(&self, ms: u32) {
        decay::set_delay_ms(ms);
        scavenger::wake();
    }

    /// Allows or forbids the background scavenger thread (default: allowed; also
    /// `POOLALLOC_BACKGROUND=0` at start-up). Without it, decay reaches empty spans and large
    /// ranges on the heap's own slow paths, and free pages inside spans only through
    /// [`PoolAlloc::trim`].
    pub fn set_background_scavenger(&self, on: bool) {
        scavenger::set_enabled(on);
    }

    /// Whether the background scavenger thread is running now (it starts with the first
    /// free that leaves memory to age, and stops when forbidden).
    pub fn scavenger_running(&self) -> bool {
        scavenger::running()
    }

    /// Bytes usable in the block at `p`: its class's block size, or its large range's length;
    /// None if `p` is null or not the start of a block of this heap (C's `malloc_usable_size`).
    /// Reads the arena map and a span header for a small block, the live map (a lock) for a
    /// large one.
    pub fn usable_size(&self, p: *const u8) -> Option<usize> {
        if p.is_null() {
            return None;
        }
        find(p).ok().map(|(_, bytes)| bytes)
    }

    /// Frees the block at `p` without its layout (C's `free`): null is a no-op; a pointer that
    /// is not a block of this heap aborts with `alloc-core: fatal: ...`. Counted like
    /// `dealloc`.
    ///
    /// # Safety
    /// `p` is null or a live block of this heap, not used after this call.
    pub unsafe fn free_unsized(&self, p: *mut u8) {
        if p.is_null() {
            return;
        }
        let (class, _) = lookup(p, "free of a pointer this allocator did not hand out");
        match SizeClass::new(class) {
            // SAFETY: `p` starts a block of `class` (looked up) that the caller no longer uses.
            Some(c) => unsafe { dealloc_small(p, c) },
            // SAFETY: `p` is a live large block (looked up).
            None => unsafe { free_large::<true>(p, None) },
        }
    }

    /// Resizes the block at `p` to `new_size` bytes aligned to 16 (C's `realloc` for a
    /// non-null `p` and a non-zero size): in place when the new size has the same class, or
    /// when a large block can grow or shrink where it is; else moves it. Null when out of
    /// memory (then `p` is untouched). Counted as one realloc, like `GlobalAlloc::realloc`.
    ///
    /// # Safety
    /// `p` is a live block of this heap.
    pub unsafe fn realloc_unsized(&self, p: *mut u8, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size.max(1), C_ALIGN) else {
            return ptr::null_mut();
        };
        let (old_class, old_bytes) =
            lookup(p, "realloc of a pointer this allocator did not hand out");
        let (new_class, new_bytes) = footprint(new_layout.size(), C_ALIGN);
        let record = |same: bool| {
            with_stats(thread_cache::current(), |s| {
                s.record_realloc(old_class, old_bytes, new_class, new_size, new_bytes, same)
            })
        };
        if old_class == new_class && old_class != LARGE {
            record(true);
            return p;
        }
        if old_class == LARGE && new_class == LARGE {
            // SAFETY: `p` is a live large block of `old_bytes` (looked up).
            if let Some(q) = unsafe { large::realloc(p, old_bytes, C_ALIGN, new_layout.size()) } {
                if q == p && new_bytes < old_bytes {
                    scavenger::kick();
                }
                record(q == p);
                return q;
            }
        }
        // SAFETY: a valid non-zero layout.
        let q = unsafe { alloc_impl::<false>(new_layout) };
        if q.is_null() {
            return q;
        }
        // SAFETY: both blocks hold at least the smaller size; distinct live blocks never
        // overlap; `p` is dead after the copy.
        unsafe {
            ptr::copy_nonoverlapping(p, q, old_bytes.min(new_size));
            match SizeClass::new(old_class) {
                Some(c) => dealloc_small(p, c),
                None => free_large::<false>(p, None),
            }
        }
        record(false);
        q
    }

    /// The heap's counter registry, for `alloc_stats::Region::of`.
    pub fn registry() -> &'static Registry {
        &REGISTRY
    }
}

/// Runs `f` on the calling thread's counters, or on the shared ones if it has no cache.
#[inline]
fn with_stats(tc: *mut ThreadCache, f: impl FnOnce(&ThreadStats)) {
    if is_ready(tc) {
        // SAFETY: a ready cache belongs to this thread.
        f(unsafe { &(*tc).stats })
    } else {
        heap_stats::with_thread_stats(f)
    }
}

/// Allocates; counts it when `RECORD` (realloc moves a block uncounted and counts one realloc).
///
/// # Safety
/// As `GlobalAlloc::alloc`.
#[inline(always)]
unsafe fn alloc_impl<const RECORD: bool>(layout: Layout) -> *mut u8 {
    let size = round_request(layout.size(), layout.align());
    if is_small(size) {
        let class = class_of(size);
        let tc = thread_cache::current();
        if is_ready(tc) {
            // SAFETY: a ready cache belongs to this thread.
            let b = unsafe { (*tc).pop(class) };
            if !b.is_null() {
                if RECORD {
                    // SAFETY: as above.
                    unsafe {
                        (*tc).stats.record_alloc(
                            class.index(),
                            layout.size(),
                            size_class::size_of(class),
                        )
                    };
                }
                return b.cast();
            }
        }
        // SAFETY: tc is this thread's pointer.
        return unsafe { alloc_small_slow::<RECORD>(tc, class, layout.size()) };
    }
    alloc_large::<RECORD>(layout, false)
}

/// The small path after a thread-cache miss: build the cache if the thread has none, refill
/// from the central list, or — while the cache is `BUSY` — take one block from the central
/// list directly.
///
/// # Safety
/// `tc` is `thread_cache::current()`.
#[cold]
#[inline(never)]
unsafe fn alloc_small_slow<const RECORD: bool>(
    mut tc: *mut ThreadCache,
    class: SizeClass,
    requested: usize,
) -> *mut u8 {
    if tc.is_null() {
        tc = init_thread();
    }
    let allocated = size_class::size_of(class);
    let b = if is_ready(tc) {
        // SAFETY: our own cache; its list of `class` is empty (pop failed or it is new).
        let b = unsafe { (*tc).refill(class) };
        if RECORD && !b.is_null() {
            // SAFETY: our own cache.
            unsafe {
                (*tc)
                    .stats
                    .record_alloc(class.index(), requested, allocated)
            };
        }
        b
    } else {
        let (b, n) = central(class, 0).lock().refill(class, 0, 1);
        if n == 1 {
            // SAFETY: the one block refilled, going to the caller.
            unsafe { Block::hand_out(b) };
            // A pass-through "cache" of one block: the refill and the alloc are both counted,
            // so that the thread-cache gauge stays exact.
            heap_stats::with_thread_stats(|s| {
                s.record_miss(class.index());
                s.record_refill(class.index(), 1, 0);
                if RECORD {
                    s.record_alloc(class.index(), requested, allocated);
                }
            });
        }
        b
    };
    b.cast()
}

/// A large allocation, zeroed if `zero` (without touching pages fresh from the OS).
#[cold]
#[inline(never)]
fn alloc_large<const RECORD: bool>(layout: Layout, zero: bool) -> *mut u8 {
    let (p, fresh) = large::alloc(layout.size(), layout.align());
    if p.is_null() {
        return p;
    }
    if zero && !fresh {
        // SAFETY: `p` is a block of at least layout.size() bytes that nobody else uses yet.
        unsafe { ptr::write_bytes(p, 0, layout.size()) };
    }
    if RECORD {
        with_stats(cache_for_stats(), |s| {
            s.record_alloc(LARGE, layout.size(), large::range_len(layout.size()))
        });
    }
    p
}

/// The calling thread's cache, built if the thread has none yet: a thread that makes only
/// large allocations still gets its own counters instead of the shared, locked ones.
#[inline]
fn cache_for_stats() -> *mut ThreadCache {
    let tc = thread_cache::current();
    if tc.is_null() {
        init_thread()
    } else {
        tc
    }
}

/// Frees; counts it when `RECORD`.
///
/// # Safety
/// As `GlobalAlloc::dealloc`.
#[inline(always)]
unsafe fn dealloc_impl<const RECORD: bool>(p: *mut u8, layout: Layout) {
    let size = round_request(layout.size(), layout.align());
    if is_small(size) {
        // SAFETY: `p` is a dead block of this class (caller: the layout matches).
        return unsafe { dealloc_small(p, class_of(size)) };
    }
    // SAFETY: `p` is a large block of this layout (caller).
    unsafe { free_large::<RECORD>(p, Some(layout.size())) }
}

/// Frees a small block of `class`. Counts nothing: the registry derives small-class frees from
/// the thread caches' lengths and flushes (`Registry::with_thread_caches`), and a block that
/// skips the cache is counted as a flush of one block.
///
/// # Safety
/// `p` is a dead block of `class` (the `hardened` feature checks it).
#[inline(always)]
unsafe fn dealloc_small(p: *mut u8, class: SizeClass) {
    let tc = thread_cache::current();
    if is_ready(tc) {
        // SAFETY: a ready cache belongs to this thread; `p` is a dead block of `class`
        // (caller).
        if unsafe { (*tc).push(class, p.cast()) } {
            // SAFETY: as above.
            unsafe { flush_slow(tc, class) };
        }
        return;
    }
    // SAFETY: as above.
    unsafe { free_small_slow(tc, class, p.cast()) }
}

/// A thread cache's list went over its bound: hand a batch back, then let the scavenger know.
///
/// # Safety
/// `tc` is the calling thread's ready cache.
#[cold]
#[inline(never)]
unsafe fn flush_slow(tc: *mut ThreadCache, class: SizeClass) {
    // SAFETY: forwarded from the caller.
    unsafe { (*tc).flush(class) };
    scavenger::kick();
}

/// The small free path of a thread without a ready cache: build one (a thread that only frees
/// what others allocated still deserves a cache), else give the block to the central list.
///
/// # Safety
/// `b` is a dead block of `class`; `tc` is `thread_cache::current()`, not ready.
#[cold]
#[inline(never)]
unsafe fn free_small_slow(mut tc: *mut ThreadCache, class: SizeClass, b: *mut Block) {
    if tc.is_null() {
        tc = init_thread();
    }
    if is_ready(tc) {
        // SAFETY: our own, new cache.
        unsafe {
            if (*tc).push(class, b) {
                flush_slow(tc, class);
            }
        }
    } else {
        #[cfg(feature = "hardened")]
        crate::span::check_free_hardened(b, class, ptr::null_mut());
        // SAFETY: `b` is one dead block of `class`, terminated below.
        unsafe {
            Block::set_next(b, ptr::null_mut());
            central::flush(class, b, 1);
        }
        heap_stats::with_thread_stats(|s| s.record_flush(class.index(), 1, 0));
        scavenger::kick();
    }
}

/// Frees a large block of `size` bytes (`None`: whatever its length is, C's `free`).
///
/// # Safety
/// `p` is a large block of `size` bytes.
#[cold]
#[inline(never)]
unsafe fn free_large<const RECORD: bool>(p: *mut u8, size: Option<usize>) {
    // SAFETY: forwarded from the caller.
    let len = unsafe { large::free(p, size) };
    if RECORD {
        with_stats(thread_cache::current(), |s| s.record_free(LARGE, len));
    }
    scavenger::kick();
}

/// The class (`LARGE` for a large block) and the usable bytes of the block at `p`, found from
/// its address alone: the arena map and a span header, else the live map. `Err(Some(why))` for
/// a pointer into an arena that does not start a block; `Err(None)` for one in no arena and in
/// no live large block.
fn find(p: *const u8) -> Result<(usize, usize), Option<&'static str>> {
    if span::in_arena(p) {
        let s = span::block_span(p).map_err(Some)?;
        // SAFETY: a span header of a registered arena, of a class (checked).
        Ok(unsafe { ((*s).class as usize, (*s).block_size as usize) })
    } else {
        large::live_len(p).map(|len| (LARGE, len)).ok_or(None)
    }
}

/// [`find`], aborting with a message (`what` for a pointer found nowhere) if `p` is not a
/// block of this heap.
fn lookup(p: *const u8, what: &str) -> (usize, usize) {
    find(p).unwrap_or_else(|why| span::wrong_free(p.cast_mut().cast(), why.unwrap_or(what)))
}

/// C's `malloc` alignment on x86-64 Linux (glibc's `MALLOC_ALIGNMENT`): what the layout-free
/// API gives a resized block.
const C_ALIGN: usize = 16;

/// The class (or `LARGE`) and allocated bytes of a request of `size` with `align`.
#[inline]
fn footprint(size: usize, align: usize) -> (usize, usize) {
    let r = round_request(size, align);
    if is_small(r) {
        let c = class_of(r);
        (c.index(), size_class::size_of(c))
    } else {
        (LARGE, large::range_len(size))
    }
}

// SAFETY: every method honours the GlobalAlloc contract: blocks are at least `layout.size()`
// bytes, aligned to `layout.align()` (classes are multiples of the rounded request's
// alignment; large blocks are page- or explicitly aligned), disjoint while live (each block is
// in exactly one place: a thread cache, a span's free list, or a user's hands), and failure is
// a null return. No method unwinds: nothing on these paths can panic.
unsafe impl GlobalAlloc for PoolAlloc {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { alloc_impl::<true>(layout) }
    }

    #[inline(always)]
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { dealloc_impl::<true>(p, layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let size = round_request(layout.size(), layout.align());
        if is_small(size) {
            // SAFETY: forwarded contract.
            let p = unsafe { alloc_impl::<true>(layout) };
            if !p.is_null() {
                // SAFETY: `p` holds at least layout.size() bytes.
                unsafe { ptr::write_bytes(p, 0, layout.size()) };
            }
            return p;
        }
        alloc_large::<true>(layout, true)
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        let (old_class, old_bytes) = footprint(layout.size(), align);
        let (new_class, new_bytes) = footprint(new_size, align);
        if old_class == new_class && old_class != LARGE {
            with_stats(thread_cache::current(), |s| {
                s.record_realloc(old_class, old_bytes, new_class, new_size, new_bytes, true)
            });
            return p;
        }
        if old_class == LARGE && new_class == LARGE {
            // SAFETY: `p` is a large block of `layout` (caller).
            if let Some(q) = unsafe { large::realloc(p, layout.size(), align, new_size) } {
                if new_size < layout.size() {
                    scavenger::kick(); // the tail went to the large cache
                }
                with_stats(thread_cache::current(), |s| {
                    s.record_realloc(LARGE, old_bytes, LARGE, new_size, new_bytes, q == p)
                });
                return q;
            }
        }
        // SAFETY: the caller guarantees new_size rounded up to align does not overflow isize.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
        // SAFETY: a valid non-zero layout (caller).
        let q = unsafe { alloc_impl::<false>(new_layout) };
        if q.is_null() {
            return q; // the old block is untouched, as the contract asks
        }
        // SAFETY: both blocks hold at least the smaller size; distinct live blocks never overlap.
        unsafe {
            ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
            dealloc_impl::<false>(p, layout);
        }
        with_stats(thread_cache::current(), |s| {
            s.record_realloc(old_class, old_bytes, new_class, new_size, new_bytes, false)
        });
        q
    }
}
