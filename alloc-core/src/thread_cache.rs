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
//!
//! Draining another thread's cache (`PoolAlloc::trim`, [`drain_others`]): a thread that is
//! blocked keeps its cache, and its fast path takes no lock, so a drainer cannot simply take
//! the lists. It (1) takes the cache's lock, which the owner holds in every slow path, so the
//! owner is not in one; (2) swaps the owner's thread-local pointer to [`PAUSED`], so that every
//! operation the owner *starts* from then on takes the shared path and leaves the lists alone;
//! (3) runs `membarrier`, so that the owner's next operation sees the swap (a full barrier on
//! every running thread of the process); now at most one operation of the owner is still in
//! flight on the lists, one that read the pointer before the swap, and it touches only a
//! list's head and the head block's link; (4) cuts every list after its second block and takes
//! the rest, which such an operation never reaches; (5) marks the cache for a recount of its
//! lengths (the owner's next slow path, under the lock, recounts) and swaps the pointer back.

use core::cell::Cell;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering::*};

use alloc_stats::ThreadStats;

use crate::central;
use crate::heap_stats::{self, REGISTRY};
use crate::meta::THREAD_CACHES;
use crate::os::{self, ExitKey};
use crate::size_class::{SizeClass, BATCH, LIMIT, NUM_CLASSES};
use crate::span::Block;
use crate::sync::Lock;

/// The thread-exit hook's key: its destructor flushes the cache of an exiting thread. A global
/// because one key serves every thread; created once at start-up (`global::init_once`), before
/// any cache is built.
pub static EXIT_KEY: ExitKey = ExitKey::new();

/// The thread-local pointer value while a cache is being built or after it was torn down:
/// allocations then use the shared (locked) path.
pub const BUSY: *mut ThreadCache = ptr::without_provenance_mut(1);
/// The thread-local pointer value while another thread drains the cache: allocations use
/// the shared path until the drainer puts the cache back.
pub const PAUSED: *mut ThreadCache = ptr::without_provenance_mut(2);

thread_local! {
    /// This thread's cache: null before the first allocation, [`BUSY`] during set-up and
    /// after exit, [`PAUSED`] while drained, else a live cache. An atomic (a drainer swaps
    /// it), read with a relaxed load: a plain TLS load, no destructor, no allocation.
    static CURRENT: AtomicPtr<ThreadCache> = const { AtomicPtr::new(ptr::null_mut()) };
}

/// One size class's free list.
///
/// Invariant: `head` links exactly `len − cut` free blocks of the class (`cut`: the
/// [`ThreadCache`]'s count for the class, zero unless `ThreadCache::recount` is set); `len <=
/// max + 1` between calls (a push that makes it `max + 1` flushes at once), `BATCH <= max <=
/// LIMIT`. Only the owner writes `head`, `len`, `max`; a drainer reads `head` (hence the atomic)
/// and cuts the list after its second block; a snapshot reads `len` (hence the atomic, written
/// with a relaxed load and store: the same instructions as a plain field).
#[repr(C)]
pub struct FreeList {
    head: AtomicPtr<Block>,
    len: AtomicU32,
    max: Cell<u32>,
}

impl FreeList {
    #[inline(always)]
    fn len(&self) -> u32 {
        self.len.load(Relaxed)
    }

    /// Owner only.
    #[inline(always)]
    fn set_len(&self, n: u32) {
        self.len.store(n, Relaxed);
    }
}

/// A thread's cache.
///
/// Invariants: owned by exactly one thread while published in its `CURRENT` (or `PAUSED`
/// there by a drainer holding `lock`); `stats` is registered with [`REGISTRY`] and the cache
/// is on [`CACHES`] for exactly that time. Never reached through `&mut`: a drainer may read
/// list heads while the owner runs its fast path.
#[repr(C)]
pub struct ThreadCache {
    /// Touched on every malloc and free: first, so the lists start the record.
    lists: [FreeList; NUM_CLASSES],
    /// This thread's counters (written only by this thread).
    pub stats: ThreadStats,
    /// The [`TRIM_EPOCH`] this cache last honoured.
    trim_epoch: Cell<u32>,
    /// The central shard this thread refills from: 0 at first; a refill that finds its
    /// shard's lock taken moves the thread to another one (see [`ThreadCache::refill`]).
    shard: Cell<u32>,
    /// Held by the owner in every slow path and by a drainer while it cuts the lists.
    lock: Lock<()>,
    /// Set by a drainer: list lengths are upper bounds until the owner recounts.
    recount: AtomicBool,
    /// Per class, the blocks drainers cut from the list since the owner last recounted: the
    /// list holds `len − cut` blocks. Written by a drainer holding `lock`, zeroed by the owner's
    /// recount (under `lock` too), read by snapshots ([`cached_blocks`]).
    cut: [AtomicU32; NUM_CLASSES],
    /// The owner's `CURRENT`, which a drainer swaps to [`PAUSED`].
    current: *const AtomicPtr<ThreadCache>,
    /// Links on [`CACHES`] (written under its lock).
    next: AtomicPtr<ThreadCache>,
    prev: AtomicPtr<ThreadCache>,
    /// Set by the one drainer (it holds [`CACHES`]) for the caches it paused.
    paused: AtomicBool,
}

/// The live thread caches, for a drainer to find; its lock also orders thread exit against
/// a drain (a cache leaves the list before its record is recycled).
pub static CACHES: Lock<CacheList> = Lock::new(CacheList {
    head: ptr::null_mut(),
});

/// The head of the list of live caches (linked through `ThreadCache::next`/`prev`).
pub struct CacheList {
    head: *mut ThreadCache,
}

// SAFETY: the caches it links live in `meta` records for the whole process; the lock around
// it serialises every access to the links.
unsafe impl Send for CacheList {}

/// Hands out new home shards round robin to threads that met contention, so that they spread
/// over the central shards.
static NEXT_SHARD: AtomicU32 = AtomicU32::new(1);

/// Bumped by `PoolAlloc::trim`: a thread whose cache saw an older value flushes its whole
/// cache on its next refill or flush, so that a trim reaches every thread that still works.
pub static TRIM_EPOCH: AtomicU32 = AtomicU32::new(0);

/// A list walked past its bound (`len <= max + 1 <= LIMIT + 1`): it loops, which only a block
/// freed twice makes happen. Aborts rather than walk forever.
#[cold]
#[inline(never)]
fn too_long(b: *mut Block) -> ! {
    crate::span::wrong_free(
        b,
        "double free (a thread cache's list loops back on itself)",
    )
}

/// The calling thread's cache pointer (null, [`BUSY`], or a live cache).
#[inline(always)]
pub fn current() -> *mut ThreadCache {
    CURRENT.try_with(|c| c.load(Relaxed)).unwrap_or(BUSY)
}

/// True if `tc` is a live cache.
#[inline(always)]
pub fn is_ready(tc: *mut ThreadCache) -> bool {
    tc as usize > PAUSED as usize
}

fn set_current(tc: *mut ThreadCache) {
    let _ = CURRENT.try_with(|c| c.store(tc, SeqCst));
}

impl ThreadCache {
    /// Pops a block of `class`; null if the list is empty. (~4 instructions; `hardened` adds
    /// the head's canary check, the link's decoding and a plausibility check of the next
    /// block's address.)
    ///
    /// # Safety
    /// Called by the owning thread.
    #[inline(always)]
    pub unsafe fn pop(&self, class: SizeClass) -> *mut Block {
        let list = &self.lists[class];
        let b = list.head.load(Relaxed);
        if !b.is_null() {
            #[cfg(feature = "hardened")]
            // SAFETY: `b` heads our list, so it was checked when it got there.
            if unsafe { !Block::is_free(b) } {
                crate::span::corrupted(b, "a free block's canary was overwritten (use after free)");
            }
            // SAFETY: `b` heads our free list; its first word links the next block.
            let next = unsafe { Block::next(b) };
            #[cfg(feature = "hardened")]
            if !crate::span::plausible_link(b, next) {
                crate::span::corrupted(b, "a free-list link was overwritten (use after free)");
            }
            list.head.store(next, Relaxed);
            list.set_len(list.len().wrapping_sub(1));
            // SAFETY: `b` leaves the list for the caller's user.
            unsafe { Block::hand_out(b) };
        }
        b
    }

    /// Pushes a freed block of `class`; true if the list is now over its bound and must be
    /// flushed. (~5 instructions.)
    ///
    /// # Safety
    /// `b` is a dead block of `class`; called by the owning thread.
    #[inline(always)]
    pub unsafe fn push(&self, class: SizeClass, b: *mut Block) -> bool {
        let list = &self.lists[class];
        let head = list.head.load(Relaxed);
        #[cfg(feature = "hardened")]
        crate::span::check_free_hardened(b, class, head);
        // SAFETY: `b` is dead and ours now; its first word becomes the link.
        unsafe { Block::set_next(b, head) };
        list.head.store(b, Relaxed);
        let len = list.len().wrapping_add(1);
        list.set_len(len);
        len > list.max.get()
    }

    /// Refills an empty list with a batch from the central list and returns one block of it;
    /// null when the OS is out of memory. Grows the list's bound by a batch (slow start), up
    /// to the class's limit.
    ///
    /// # Safety
    /// The list of `class` is empty; called by the owning thread.
    #[cold]
    #[inline(never)]
    pub unsafe fn refill(&self, class: SizeClass) -> *mut Block {
        let _owner = self.lock.lock();
        self.honour_trim();
        self.stats.record_miss(class.index());
        let batch = BATCH[class];
        let shard = self.shard.get() as usize;
        let slot = central::slot(class, shard);
        let mut list = match slot.list.try_lock() {
            Some(guard) => guard,
            None => {
                // Taken. By another refill (a thread making blocks from the same shard): this
                // refill waits, the thread's next ones go to another shard, so that producers
                // spread out. By a flush (a thread giving back blocks of this shard's spans,
                // often this thread's own consumer) or the scavenger: just wait.
                if slot.refilling.load(Relaxed) {
                    let next = NEXT_SHARD.fetch_add(1, Relaxed) as usize & (central::shards() - 1);
                    self.shard.set(next as u32);
                }
                slot.list.lock()
            }
        };
        slot.refilling.store(true, Relaxed);
        let (head, n) = list.refill(class, shard, batch as usize);
        slot.refilling.store(false, Relaxed);
        drop(list);
        if n == 0 {
            return ptr::null_mut();
        }
        let list = &self.lists[class];
        // SAFETY: `head` links `n >= 1` blocks that are now ours; `head` goes to the user.
        unsafe {
            list.head.store(Block::next(head), Relaxed);
            Block::hand_out(head);
        }
        list.set_len(n as u32 - 1);
        list.max.set((list.max.get() + batch).min(LIMIT[class]));
        self.stats.record_refill(class.index(), n, n - 1);
        head
    }

    /// Moves one batch of `class` back to the central list.
    ///
    /// # Safety
    /// Called by the owning thread.
    #[cold]
    #[inline(never)]
    pub unsafe fn flush(&self, class: SizeClass) {
        let _owner = self.lock.lock();
        self.honour_trim();
        let n = BATCH[class].min(self.lists[class].len());
        // SAFETY: we own the list of `class`.
        unsafe { self.flush_n(class, n) };
        #[cfg(feature = "debug-invariants")]
        self.check(class);
    }

    /// # Safety
    /// `n <= len`, lengths exact; called by the owning thread holding `lock`.
    unsafe fn flush_n(&self, class: SizeClass, n: u32) {
        if n == 0 {
            return;
        }
        let list = &self.lists[class];
        let head = list.head.load(Relaxed);
        let mut tail = head;
        for _ in 1..n {
            // SAFETY: the list holds at least `n` blocks.
            tail = unsafe { Block::next(tail) };
        }
        // SAFETY: `tail` is the n-th block of the list.
        unsafe {
            list.head.store(Block::next(tail), Relaxed);
            Block::set_next(tail, ptr::null_mut());
        }
        // The length and the flush count move a few instructions apart, so that a snapshot
        // deriving this thread's frees from both sees at most that short window, not the
        // central flush.
        let left = list.len() - n;
        list.set_len(left);
        self.stats
            .record_flush(class.index(), n as usize, left as usize);
        // SAFETY: the cut-off list holds `n` dead blocks of `class`.
        unsafe { central::flush(class, head, n as usize) };
    }

    /// Start of every slow path (`lock` held): recounts the lists after a drain, and flushes
    /// the whole cache if a `trim` happened since this cache last looked.
    fn honour_trim(&self) {
        self.recount_if_drained();
        let epoch = TRIM_EPOCH.load(Relaxed);
        if epoch != self.trim_epoch.get() {
            self.trim_epoch.set(epoch);
            // SAFETY: the owning thread is in one of its slow paths, holding `lock`.
            unsafe { self.flush_all_locked() };
        }
    }

    /// Makes the list lengths exact again after a drainer cut the lists (`lock` held), and
    /// records the blocks it took as flushed by this thread: until now a snapshot counted them
    /// as flushed through `cut` ([`cached_blocks`]).
    fn recount_if_drained(&self) {
        if self.recount.swap(false, Acquire) {
            for class in SizeClass::all() {
                let list = &self.lists[class];
                let mut n = 0;
                let mut b = list.head.load(Relaxed);
                while !b.is_null() {
                    n += 1;
                    if n > LIMIT[class] + 1 {
                        too_long(b);
                    }
                    // SAFETY: blocks in our list are ours; the link is their first word.
                    b = unsafe { Block::next(b) };
                }
                list.set_len(n);
                let cut = self.cut[class].swap(0, Relaxed);
                if cut > 0 {
                    self.stats
                        .record_flush(class.index(), cut as usize, n as usize);
                }
            }
        }
    }

    /// Flushes every list (`trim` by the owner); see [`ThreadCache::flush_all_locked`].
    ///
    /// # Safety
    /// Called by the owning thread.
    pub unsafe fn flush_all(&self) {
        let _owner = self.lock.lock();
        self.recount_if_drained();
        // Everything goes now, which honours any trim so far.
        self.trim_epoch.set(TRIM_EPOCH.load(Relaxed));
        // SAFETY: forwarded; we hold the lock.
        unsafe { self.flush_all_locked() };
    }

    /// Flushes every list (thread exit, `trim`): whole batches first, which the central
    /// list's transfer cache takes in O(1) for the next thread to refill from, then the rest.
    ///
    /// # Safety
    /// Called by the owning thread (or after it stopped using the cache) holding `lock`, with
    /// exact lengths.
    unsafe fn flush_all_locked(&self) {
        for class in SizeClass::all() {
            let batch = BATCH[class];
            while self.lists[class].len() >= batch {
                // SAFETY: we own all lists; batch <= len.
                unsafe { self.flush_n(class, batch) };
            }
            let n = self.lists[class].len();
            // SAFETY: we own all lists; n == len.
            unsafe { self.flush_n(class, n) };
        }
    }

    /// Checks the list invariant of `class`; aborts if it is broken.
    #[cfg(feature = "debug-invariants")]
    pub fn check(&self, class: SizeClass) {
        let list = &self.lists[class];
        let mut n = 0;
        let mut b = list.head.load(Relaxed);
        while !b.is_null() {
            n += 1;
            // SAFETY: blocks in our list are ours; the link is their first word.
            b = unsafe { Block::next(b) };
        }
        if n != list.len() || list.len() > list.max.get() + 1 {
            crate::os::fatal("thread cache check: list length does not match");
        }
    }
}

/// The length of the list of `class` in the cache that owns `stats` as its owner counts it, and
/// how many of those blocks drainers took since the owner last recounted: the registry's
/// [`alloc_stats::CachedBlocks`], from which snapshots derive small-class frees (so the free
/// fast path counts nothing). Exact while the owner is quiescent, drains included; a few
/// operations stale while it runs.
///
/// # Safety
/// `stats` points at the `stats` field of a live cache record (every block registered with
/// [`REGISTRY`] is one: `init_current` registers nothing else), with the provenance of that
/// record; `class < NUM_CLASSES`.
pub unsafe fn cached_blocks(stats: *const ThreadStats, class: usize) -> (u64, u64) {
    let Some(class) = SizeClass::new(class) else {
        return (0, 0);
    };
    // SAFETY: `stats` is the `stats` field of a `ThreadCache` record (caller), so stepping back
    // by the field's offset gives the record.
    let tc = unsafe {
        stats
            .byte_sub(core::mem::offset_of!(ThreadCache, stats))
            .cast::<ThreadCache>()
    };
    // SAFETY: a live record (caller). Every field another thread may write is an atomic or a
    // `Cell` (interior mutability), and only `len` and `cut`, atomics, are read here.
    let tc = unsafe { &*tc };
    let (len, cut) = (tc.lists[class].len(), tc.cut[class].load(Relaxed));
    (len as u64, cut.min(len) as u64)
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
                head: AtomicPtr::new(ptr::null_mut()),
                len: AtomicU32::new(0),
                max: Cell::new(batch),
            });
        }
        ptr::addr_of_mut!((*tc).stats).write(ThreadStats::new());
        ptr::addr_of_mut!((*tc).trim_epoch).write(Cell::new(TRIM_EPOCH.load(Relaxed)));
        ptr::addr_of_mut!((*tc).shard).write(Cell::new(0));
        ptr::addr_of_mut!((*tc).lock).write(Lock::new(()));
        ptr::addr_of_mut!((*tc).recount).write(AtomicBool::new(false));
        ptr::addr_of_mut!((*tc).cut).write([const { AtomicU32::new(0) }; NUM_CLASSES]);
        let slot = CURRENT
            .try_with(|c| c as *const AtomicPtr<ThreadCache>)
            .unwrap_or(ptr::null());
        ptr::addr_of_mut!((*tc).current).write(slot);
        ptr::addr_of_mut!((*tc).next).write(AtomicPtr::new(ptr::null_mut()));
        ptr::addr_of_mut!((*tc).prev).write(AtomicPtr::new(ptr::null_mut()));
        ptr::addr_of_mut!((*tc).paused).write(AtomicBool::new(false));
        REGISTRY.register(ptr::addr_of_mut!((*tc).stats));
        heap_stats::set_current_stats(ptr::addr_of!((*tc).stats));
    }
    // If glibc cannot store the key the cache still works; it is then not flushed at exit.
    EXIT_KEY.set(tc.cast());
    set_current(tc);
    CACHES.lock().link(tc);
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
    // Off the list first: once it is, no drainer can reach the cache or our thread-local.
    CACHES.lock().unlink(tc);
    set_current(BUSY);
    // SAFETY: `tc` is this thread's cache; no drainer can reach it now, and with CURRENT BUSY
    // our own later allocations take the shared path.
    unsafe {
        (*tc).flush_all();
        heap_stats::set_current_stats(ptr::null());
        REGISTRY.retire(ptr::addr_of_mut!((*tc).stats));
        THREAD_CACHES.lock().free(tc.cast());
    }
}

/// After `fork`, in the child: leaves only the calling thread's cache on [`CACHES`] (the
/// others' threads do not exist here). Their records stay allocated, unused.
pub fn forget_other_caches() {
    let me = current();
    let mut caches = CACHES.lock();
    caches.head = ptr::null_mut();
    if is_ready(me) {
        caches.link(me);
    }
}

impl CacheList {
    fn link(&mut self, tc: *mut ThreadCache) {
        // SAFETY: `tc` is a live cache not on the list; the links are ours under the lock.
        unsafe {
            (*tc).prev.store(ptr::null_mut(), Relaxed);
            (*tc).next.store(self.head, Relaxed);
            if !self.head.is_null() {
                (*self.head).prev.store(tc, Relaxed);
            }
        }
        self.head = tc;
    }

    fn unlink(&mut self, tc: *mut ThreadCache) {
        // SAFETY: `tc` is on the list (linked by init_current); its neighbours are live.
        unsafe {
            let (prev, next) = ((*tc).prev.load(Relaxed), (*tc).next.load(Relaxed));
            if prev.is_null() {
                if self.head == tc {
                    self.head = next;
                }
            } else {
                (*prev).next.store(next, Relaxed);
            }
            if !next.is_null() {
                (*next).prev.store(prev, Relaxed);
            }
        }
    }
}

/// Blocks taken from other threads' caches by [`drain_others`], per class.
pub struct Drained {
    /// Per class: the head of a list of blocks, and its length.
    pub lists: [(*mut Block, usize); NUM_CLASSES],
}

/// Takes the cached blocks of every other live thread's cache, but the first two of each
/// list, without waiting for those threads (see the module doc for why this is safe). A cache
/// whose owner is in a slow path is skipped: that thread is running and honours the trim
/// epoch itself. Returns false (and takes nothing) if the OS offers no `membarrier`.
pub fn drain_others(out: &mut Drained) -> bool {
    if !os::membarrier_ready() {
        return false;
    }
    let me = current();
    let caches = CACHES.lock();
    // Pause every cache we can lock, then one barrier for all of them.
    let mut paused = 0usize;
    let mut tc = caches.head;
    while !tc.is_null() {
        // SAFETY: caches on the list are live records; their owners' thread-locals live
        // until the owner unlinks the cache, which waits for CACHES.
        unsafe {
            if tc != me && (*tc).lock.try_acquire() {
                let slot = &*(*tc).current;
                if slot.compare_exchange(tc, PAUSED, SeqCst, Relaxed).is_ok() {
                    (*tc).paused.store(true, Relaxed);
                    paused += 1;
                } else {
                    (*tc).lock.release();
                }
            }
            tc = (*tc).next.load(Relaxed);
        }
    }
    if paused == 0 {
        return true;
    }
    // Every owner's next operation now sees PAUSED; without the barrier, cut nothing.
    let cut = os::membarrier();
    let mut tc = caches.head;
    while !tc.is_null() {
        // SAFETY: as above; the caches we paused are locked by us.
        unsafe {
            if (*tc).paused.swap(false, Relaxed) {
                if cut {
                    (*tc).cut_lists(out);
                    (*tc).recount.store(true, Release);
                }
                (*(*tc).current).store(tc, SeqCst);
                (*tc).lock.release();
            }
            tc = (*tc).next.load(Relaxed);
        }
    }
    cut
}

impl ThreadCache {
    /// Takes every list's blocks after its second one into `out`.
    ///
    /// # Safety
    /// A drainer holds `lock`, the owner's `CURRENT` is `PAUSED`, and a membarrier ran since:
    /// at most one owner operation is in flight, touching only a list's head and the head
    /// block's link.
    unsafe fn cut_lists(&self, out: &mut Drained) {
        for class in SizeClass::all() {
            let h0 = self.lists[class].head.load(Relaxed);
            if h0.is_null() {
                continue;
            }
            // SAFETY: h0 and h1 are blocks of the list; an in-flight pop reads only the link
            // of the head it loaded (h0, or h1 once it stored h1 as the head), never h1's or
            // h2's link, which we write or read here; an in-flight push links a new block in
            // front of the head.
            unsafe {
                let h1 = Block::next(h0);
                if h1.is_null() {
                    continue;
                }
                let rest = Block::next(h1);
                if rest.is_null() {
                    continue;
                }
                Block::set_next(h1, ptr::null_mut());
                let (head, count) = &mut out.lists[class];
                let mut tail = rest;
                let mut n = 1;
                while !Block::next(tail).is_null() {
                    tail = Block::next(tail);
                    n += 1;
                    if n > LIMIT[class] as usize + 1 {
                        too_long(tail);
                    }
                }
                Block::set_next(tail, *head);
                *head = rest;
                *count += n;
                let cut = &self.cut[class];
                cut.store(cut.load(Relaxed) + n as u32, Relaxed);
            }
        }
    }
}
