//! The per-thread cache (Go's `mcache`): one intrusive free list per size class, reached
//! through a `const`-initialised thread-local pointer (docs/architecture.md, steps 1-2).
//!
//! The fast paths (`pop`, `push`) take no lock, make no atomic read-modify-write and no
//! syscall: a thread-local load, a table index and two or three plain loads and stores.
//!
//! Life cycle. The thread-local pointer starts null. The first allocation of a thread sets it
//! to [`BUSY`], builds the cache (its memory comes from `meta`, never from the global
//! allocator), registers the thread-exit hook (a pthread key; glibc may `calloc` for it, which
//! is glibc's malloc, not ours) and only then publishes the cache. Any allocation made while
//! the pointer is `BUSY` — re-entrant ones during set-up, or ones made by other destructors
//! after this thread's exit hook ran — goes straight to the central lists, so the allocator
//! never recurses into a half-built cache nor waits on itself. At exit the hook flushes every
//! list to the central lists, folds the thread's counters into the totals and recycles the
//! record.

use core::cell::Cell;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use alloc_stats::ThreadStats;

use crate::central::{self, central};
use crate::meta::THREAD_CACHES;
use crate::os::ExitKey;
use crate::stats::{self, REGISTRY};

use crate::size_class::{SizeClass, BATCH, LIMIT, NUM_CLASSES};
use crate::span::Block;

/// The thread-exit hook's key: its destructor flushes the cache of an exiting thread. A global
/// because one key serves every thread; created once at start-up (`global::init_once`), before
/// any cache is built.
pub static EXIT_KEY: ExitKey = ExitKey::new();

/// The thread-local pointer value while a cache is being built or after it was torn down:
/// allocations then use the shared (locked) path.
pub const BUSY: *mut ThreadCache = ptr::without_provenance_mut(1);

thread_local! {
    /// This thread's cache: null before the first allocation, [`BUSY`] during set-up and
    /// after exit, else a live cache. A `Cell` of a raw pointer has no destructor, so std
    /// registers nothing for it and reaching it is a plain TLS load.
    static CURRENT: Cell<*mut ThreadCache> = const { Cell::new(ptr::null_mut()) };
}

/// One size class's free list.
///
/// Invariant: `head` links exactly `len` free blocks of the class; `len <= max + 1` between
/// calls (a push that makes it `max + 1` flushes at once), `BATCH <= max <= LIMIT`.
#[repr(C)]
pub struct FreeList {
    head: *mut Block,
    len: u32,
    max: u32,
}

/// A thread's cache.
///
/// Invariant: owned by exactly one thread while published in its `CURRENT`; `stats` is
/// registered with [`REGISTRY`] for exactly that time.
#[repr(C)]
pub struct ThreadCache {
    /// Touched on every malloc and free: first, so the lists start the record.
    lists: [FreeList; NUM_CLASSES],
    /// This thread's counters (written only by this thread).
    pub stats: ThreadStats,
    /// The [`TRIM_EPOCH`] this cache last honoured.
    trim_epoch: u32,
    /// The central shard this thread refills from (fixed at set-up, round robin).
    shard: u32,
}

/// Hands out home shards round robin, so threads spread over the central shards.
static NEXT_SHARD: AtomicU32 = AtomicU32::new(0);

/// Bumped by `PoolAlloc::trim`: a thread whose cache saw an older value flushes its whole
/// cache on its next refill or flush, so that a trim reaches every thread that still works.
pub static TRIM_EPOCH: AtomicU32 = AtomicU32::new(0);

/// The calling thread's cache pointer (null, [`BUSY`], or a live cache).
#[inline(always)]
pub fn current() -> *mut ThreadCache {
    CURRENT.try_with(|c| c.get()).unwrap_or(BUSY)
}

/// True if `tc` is a live cache.
#[inline(always)]
pub fn is_ready(tc: *mut ThreadCache) -> bool {
    tc as usize > BUSY as usize
}

fn set_current(tc: *mut ThreadCache) {
    let _ = CURRENT.try_with(|c| c.set(tc));
}

impl ThreadCache {
    /// Pops a block of `class`; null if the list is empty. (~4 instructions.)
    ///
    /// # Safety
    /// Called by the owning thread.
    #[inline(always)]
    pub unsafe fn pop(&mut self, class: SizeClass) -> *mut Block {
        let list = &mut self.lists[class];
        let b = list.head;
        if !b.is_null() {
            // SAFETY: `b` heads our free list; its first word links the next block.
            list.head = unsafe { (*b).next };
            list.len -= 1;
        }
        b
    }

    /// Pushes a freed block of `class`; true if the list is now over its bound and must be
    /// flushed. (~5 instructions.)
    ///
    /// # Safety
    /// `b` is a dead block of `class`; called by the owning thread.
    #[inline(always)]
    pub unsafe fn push(&mut self, class: SizeClass, b: *mut Block) -> bool {
        let list = &mut self.lists[class];
        // SAFETY: `b` is dead and ours now; its first word becomes the link.
        unsafe { (*b).next = list.head };
        list.head = b;
        list.len += 1;
        list.len > list.max
    }

    /// Refills an empty list with a batch from the central list and returns one block of it;
    /// null when the OS is out of memory. Grows the list's bound by a batch (slow start), up
    /// to the class's limit.
    ///
    /// # Safety
    /// The list of `class` is empty; called by the owning thread.
    #[cold]
    #[inline(never)]
    pub unsafe fn refill(&mut self, class: SizeClass) -> *mut Block {
        self.honour_trim();
        self.stats.record_miss(class.index());
        let batch = BATCH[class];
        let shard = self.shard as usize;
        let (head, n) = central(class, shard)
            .lock()
            .refill(class, shard, batch as usize);
        if n == 0 {
            return ptr::null_mut();
        }
        self.stats.record_refill(class.index(), n);
        let list = &mut self.lists[class];
        // SAFETY: `head` links `n >= 1` blocks that are now ours.
        list.head = unsafe { (*head).next };
        list.len = n as u32 - 1;
        list.max = (list.max + batch).min(LIMIT[class]);
        head
    }

    /// Moves one batch of `class` back to the central list.
    ///
    /// # Safety
    /// Called by the owning thread.
    #[cold]
    #[inline(never)]
    pub unsafe fn flush(&mut self, class: SizeClass) {
        self.honour_trim();
        let n = BATCH[class].min(self.lists[class].len);
        // SAFETY: we own the list of `class`.
        unsafe { self.flush_n(class, n) };
        #[cfg(feature = "debug-invariants")]
        self.check(class);
    }

    /// # Safety
    /// `n <= len`; called by the owning thread.
    unsafe fn flush_n(&mut self, class: SizeClass, n: u32) {
        if n == 0 {
            return;
        }
        let list = &mut self.lists[class];
        let head = list.head;
        let mut tail = head;
        for _ in 1..n {
            // SAFETY: the list holds at least `n` blocks.
            tail = unsafe { (*tail).next };
        }
        // SAFETY: `tail` is the n-th block of the list.
        unsafe {
            list.head = (*tail).next;
            (*tail).next = ptr::null_mut();
        }
        list.len -= n;
        // SAFETY: the cut-off list holds `n` dead blocks of `class`.
        unsafe { central::flush(class, head, n as usize) };
        self.stats.record_flush(class.index(), n as usize);
    }

    /// Flushes the whole cache if a `trim` happened since this cache last looked.
    fn honour_trim(&mut self) {
        let epoch = TRIM_EPOCH.load(Relaxed);
        if epoch != self.trim_epoch {
            self.trim_epoch = epoch;
            // SAFETY: the owning thread is in one of its slow paths.
            unsafe { self.flush_all() };
        }
    }

    /// Flushes every list (thread exit, `trim`): whole batches first, which the central
    /// list's transfer cache takes in O(1) for the next thread to refill from, then the rest.
    ///
    /// # Safety
    /// Called by the owning thread, or after it stopped using the cache.
    pub unsafe fn flush_all(&mut self) {
        for class in SizeClass::all() {
            let batch = BATCH[class];
            while self.lists[class].len >= batch {
                // SAFETY: we own all lists; batch <= len.
                unsafe { self.flush_n(class, batch) };
            }
            let n = self.lists[class].len;
            // SAFETY: we own all lists; n == len.
            unsafe { self.flush_n(class, n) };
        }
    }

    /// Checks the list invariant of `class`; aborts if it is broken.
    #[cfg(feature = "debug-invariants")]
    pub fn check(&self, class: SizeClass) {
        let list = &self.lists[class];
        let mut n = 0;
        let mut b = list.head;
        while !b.is_null() {
            n += 1;
            // SAFETY: blocks in our list are ours; the link is their first word.
            b = unsafe { (*b).next };
        }
        if n != list.len || list.len > list.max + 1 {
            crate::os::fatal("thread cache check: list length does not match");
        }
    }
}

/// Builds the calling thread's cache (first allocation of a thread), after running
/// `process_setup` (the process-wide set-up, a no-op after its first run). Returns the cache, or
/// [`BUSY`] if it could not be built now (the caller then uses the shared path).
#[cold]
#[inline(never)]
pub fn init_current(process_setup: fn()) -> *mut ThreadCache {
    set_current(BUSY);
    process_setup(); // with BUSY set, anything it allocates takes the shared path
    let tc = THREAD_CACHES.lock().alloc().cast::<ThreadCache>();
    if tc.is_null() {
        set_current(ptr::null_mut()); // out of memory: try again on a later allocation
        return BUSY;
    }
    // SAFETY: `tc` is a fresh record of the right size and alignment, used by nobody else.
    unsafe {
        for (class, &batch) in BATCH.iter().enumerate() {
            ptr::addr_of_mut!((*tc).lists[class]).write(FreeList {
                head: ptr::null_mut(),
                len: 0,
                max: batch,
            });
        }
        ptr::addr_of_mut!((*tc).stats).write(ThreadStats::new());
        ptr::addr_of_mut!((*tc).trim_epoch).write(TRIM_EPOCH.load(Relaxed));
        let shard = NEXT_SHARD.fetch_add(1, Relaxed) as usize & (central::shards() - 1);
        ptr::addr_of_mut!((*tc).shard).write(shard as u32);
        REGISTRY.register(ptr::addr_of_mut!((*tc).stats));
        stats::set_current_stats(ptr::addr_of!((*tc).stats));
    }
    // If glibc cannot store the key the cache still works; it is then not flushed at exit.
    EXIT_KEY.set(tc.cast());
    set_current(tc);
    tc
}

/// The thread-exit hook (pthread key destructor): flushes the cache and recycles it.
///
/// # Safety
/// Called by glibc with the value this thread stored: its live cache.
pub unsafe extern "C" fn thread_exit(arg: *mut libc::c_void) {
    let tc = arg.cast::<ThreadCache>();
    if !is_ready(tc) {
        return;
    }
    set_current(BUSY);
    // SAFETY: `tc` is this thread's cache and nothing else uses it now that CURRENT is BUSY.
    unsafe {
        (*tc).flush_all();
        stats::set_current_stats(ptr::null());
        REGISTRY.retire(ptr::addr_of_mut!((*tc).stats));
        THREAD_CACHES.lock().free(tc.cast());
    }
}
