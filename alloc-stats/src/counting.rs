//! [`Counting<A>`]: wraps any `GlobalAlloc` (System, mimalloc, jemalloc, …) and counts its
//! calls into its own [`Registry`], with rows bucketed by power-of-two size.
//!
//! Per-thread blocks: a `const`-initialized `thread_local!` of raw pointers (no `Drop`, so no
//! TLS destructor registration, which may itself allocate) points at `ThreadStats` blocks
//! mapped with `mmap` — never memory from the global allocator. A block is registered on a
//! thread's first allocation through a given `Counting`; a `pthread_key_create` destructor
//! retires the thread's blocks at thread exit. Allocations made while a thread is setting up,
//! after its exit hook ran, or through more than `SLOTS` different `Counting`s on one thread go
//! to the registry's orphan counters (locked, but still exact).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering::*};

use crate::os;
use crate::registry::{Registry, DEFAULT, DEFAULT_EPOCH, GLOBAL};
use crate::report;
use crate::snapshot::Snapshot;
use crate::thread_stats::ThreadStats;
use crate::{COUNTING, LARGE};

/// Block sizes of `Counting`'s rows: class `i` holds requests of `(8 << (i-1), 8 << i]` bytes
/// (class 0: up to 8 bytes), up to 1 GiB; larger requests go to the `LARGE` row.
pub static POW2_CLASS_SIZES: [u32; 28] = {
    let mut t = [0u32; 28];
    let mut i = 0;
    while i < 28 {
        t[i] = 8 << i;
        i += 1;
    }
    t
};

/// The power-of-two row for a request of `size` bytes (branch-free: `ceil(log2(size))` by
/// one `lzcnt`/`bsr`, sizes up to 8 clamped to row 0, past the last row to `LARGE`).
#[inline(always)]
pub fn pow2_class(size: usize) -> usize {
    // ceil(log2(max(size, 8))) - 3; `| 7` makes every size <= 8 land on row 0.
    let log = (usize::BITS - (size.saturating_sub(1) | 7).leading_zeros()) as usize;
    let c = log - 3;
    if c < POW2_CLASS_SIZES.len() {
        c
    } else {
        LARGE
    }
}

/// How many different `Counting` values one thread can have blocks for at once.
const SLOTS: usize = 4;

const FRESH: u8 = 0;
const BUSY: u8 = 1;
const DEAD: u8 = 2;

/// This thread's blocks, one per `Counting` it used (slot 0: the most recent).
struct ThreadSlots {
    state: Cell<u8>,
    slots: [Cell<*mut ThreadStats>; SLOTS],
}

thread_local! {
    static TLS: ThreadSlots = const {
        ThreadSlots { state: Cell::new(FRESH), slots: [const { Cell::new(ptr::null_mut()) }; SLOTS] }
    };
}

/// The pthread key whose destructor retires a thread's blocks, plus one (0: not created yet).
static EXIT_KEY: AtomicUsize = AtomicUsize::new(0);

const BLOCK_BYTES: usize = core::mem::size_of::<ThreadStats>();

fn null_current() -> *const ThreadStats {
    ptr::null()
}

/// Counts every call to the wrapped allocator `A`.
///
/// ```
/// use std::alloc::{GlobalAlloc, Layout, System};
/// let c = alloc_stats::Counting::new(System);
/// let l = Layout::from_size_align(64, 8).unwrap();
/// // SAFETY: a non-zero layout; the block is freed with the same layout.
/// unsafe { let p = c.alloc(l); c.dealloc(p, l); }
/// let s = c.stats();
/// let n = u64::from(alloc_stats::counting_enabled()); // 0 with counting compiled out
/// assert_eq!((s.mallocs, s.frees, s.bytes_requested), (n, n, 64 * n));
/// ```
///
/// As a global allocator: `#[global_allocator] static A: Counting<System> = Counting::new(System);`.
/// `bytes_allocated` equals `bytes_requested` (the wrapped allocator's rounding is unknown);
/// there are no thread-cache, span or OS figures.
pub struct Counting<A> {
    inner: A,
    registry: Registry,
}

impl<A> Counting<A> {
    /// Wraps `inner`.
    pub const fn new(inner: A) -> Self {
        Counting {
            inner,
            registry: Registry::new_uncached(&POW2_CLASS_SIZES, null_current),
        }
    }

    /// All counters (all threads, live and exited).
    pub fn stats(&self) -> Snapshot {
        self.registry.snapshot()
    }

    /// The calling thread's counters only.
    pub fn thread_stats(&self) -> Snapshot {
        self.registry.thread_snapshot()
    }

    /// The registry (for `Region::of` when `self` is a `static`).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The wrapped allocator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    fn reg_ptr(&self) -> *mut Registry {
        &self.registry as *const Registry as *mut Registry
    }

    /// Runs `f` on this thread's block for `self` (fast: one TLS load, one compare), or on
    /// the slow path that finds, creates or falls back.
    #[inline(always)]
    fn record(&self, f: impl FnOnce(&ThreadStats)) {
        if !COUNTING {
            return;
        }
        let ts = TLS
            .try_with(|t| t.slots[0].get())
            .unwrap_or(ptr::null_mut());
        // SAFETY: a non-null slot points at this thread's mapped block, which only this thread
        // unmaps; its `registry` field is an atomic other threads may null.
        if !ts.is_null() && unsafe { &*ts }.registry.load(Relaxed) == self.reg_ptr() {
            // SAFETY: as above; it is linked into our registry, so we may record into it.
            f(unsafe { &*ts });
        } else {
            self.record_slow(f);
        }
    }

    #[cold]
    #[inline(never)]
    fn record_slow(&self, f: impl FnOnce(&ThreadStats)) {
        match TLS.try_with(|t| self.find_or_create(t)) {
            // SAFETY: find_or_create returns a block of this thread linked into our registry.
            Ok(Some(ts)) => f(unsafe { &*ts }),
            _ => self.registry.with_orphan(f),
        }
    }

    /// This thread's block for `self`, moved to slot 0; creates and registers one if needed.
    fn find_or_create(&self, t: &ThreadSlots) -> Option<*mut ThreadStats> {
        if t.state.get() != FRESH {
            return None; // Setting up (re-entered) or past the exit hook.
        }
        let me = self.reg_ptr();
        let mut free = None;
        for i in 0..SLOTS {
            let ts = t.slots[i].get();
            let owner = if ts.is_null() {
                ptr::null_mut()
            } else {
                // SAFETY: non-null slots point at this thread's mapped blocks.
                unsafe { &*ts }.registry.load(Acquire)
            };
            if !ts.is_null() && owner == me {
                t.slots[i].swap(&t.slots[0]);
                return Some(ts);
            }
            if owner.is_null() && free.is_none() {
                free = Some(i); // empty, or detached by a dropped Counting: reusable
            }
        }
        let i = free?;
        t.state.set(BUSY);
        let ts = self.create_block(t.slots[i].get());
        t.state.set(FRESH);
        let ts = ts?;
        t.slots[i].set(ts);
        t.slots[i].swap(&t.slots[0]);
        Some(ts)
    }

    /// Maps (or reuses `old`), registers and arms the exit hook. Runs in state BUSY, so any
    /// allocation it causes is recorded as orphan.
    fn create_block(&self, old: *mut ThreadStats) -> Option<*mut ThreadStats> {
        let key = exit_key()?;
        if !os::thread_key_arm(key) {
            return None;
        }
        let ts = if old.is_null() {
            let p = os::map_zeroed(BLOCK_BYTES).cast::<ThreadStats>();
            if p.is_null() {
                return None;
            }
            // SAFETY: `p` is a fresh, writable, suitably aligned (page) mapping of
            // BLOCK_BYTES bytes.
            unsafe { p.write(ThreadStats::new()) };
            p
        } else {
            old
        };
        // SAFETY: `ts` is this thread's unlinked block; it stays mapped until the exit hook
        // (or a later reuse) and only this thread records into it. `self` outlives the link:
        // Counting's drop detaches every block under GLOBAL before the registry dies.
        unsafe { self.registry.register_raw(ts) };
        report::install_raw(&self.registry);
        GLOBAL.with(|| {
            let _ = DEFAULT.compare_exchange(ptr::null_mut(), self.reg_ptr(), AcqRel, Relaxed);
        });
        Some(ts)
    }
}

/// The process-wide thread-exit key, created on first use.
fn exit_key() -> Option<libc::pthread_key_t> {
    let k = EXIT_KEY.load(Acquire);
    if k != 0 {
        return Some((k - 1) as libc::pthread_key_t);
    }
    GLOBAL.with(|| {
        let k = EXIT_KEY.load(Acquire);
        if k != 0 {
            return Some((k - 1) as libc::pthread_key_t);
        }
        let key = os::thread_key_create(thread_exit)?;
        EXIT_KEY.store(key as usize + 1, Release);
        Some(key)
    })
}

/// Thread-exit destructor: retires and unmaps every block of the exiting thread. Later
/// allocations on this thread (other destructors) count as orphan.
unsafe extern "C" fn thread_exit(_marker: *mut c_void) {
    let _ = TLS.try_with(|t| {
        t.state.set(DEAD);
        GLOBAL.with(|| {
            for slot in &t.slots {
                let ts = slot.replace(ptr::null_mut());
                if ts.is_null() {
                    continue;
                }
                // SAFETY: this thread's mapped block; GLOBAL keeps its registry (if still
                // linked) alive while we retire into it.
                let reg = unsafe { &*ts }.registry.load(Acquire);
                if !reg.is_null() {
                    // SAFETY: `ts` is linked into `reg` (non-null field) and its owner, this
                    // thread, records no more into it (state DEAD, slot cleared).
                    unsafe { (*reg).retire(ts) };
                }
                // SAFETY: the block came from map_zeroed(BLOCK_BYTES) and nothing refers to it
                // any more (unlinked, slot cleared).
                unsafe { os::unmap(ts.cast(), BLOCK_BYTES) };
            }
        });
    });
}

impl<A> Drop for Counting<A> {
    /// Only a non-`static` `Counting` is ever dropped: detach every thread's block (their
    /// owners reuse or unmap them), and forget this registry as default and for the exit report.
    fn drop(&mut self) {
        let me = self.reg_ptr();
        GLOBAL.with(|| {
            if DEFAULT
                .compare_exchange(me, ptr::null_mut(), AcqRel, Relaxed)
                .is_ok()
            {
                DEFAULT_EPOCH.fetch_add(1, Relaxed);
            }
            report::remove_locked(&self.registry);
            self.registry.detach_all();
        });
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments and contract unchanged;
// counting only reads the layout and the returned pointer, and never allocates.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            let n = layout.size();
            self.record(|t| t.record_alloc_uncached(pow2_class(n), n, n));
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            let n = layout.size();
            self.record(|t| t.record_alloc_uncached(pow2_class(n), n, n));
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { self.inner.dealloc(ptr, layout) };
        let n = layout.size();
        self.record(|t| t.record_free_uncached(pow2_class(n), n));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            let old = layout.size();
            self.record(|t| {
                t.record_realloc(
                    pow2_class(old),
                    old,
                    pow2_class(new_size),
                    new_size,
                    new_size,
                    p == ptr,
                )
            });
        }
        p
    }
}
