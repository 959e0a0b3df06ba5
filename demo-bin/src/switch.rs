//! The demo's global allocator: a switch, fixed at the first allocation of the process, that
//! forwards to `alloc_core::PoolAlloc` or to `alloc_stats::Counting<System>`, and counts
//! every call per thread (the same counter for both sides, so the table compares like with
//! like; the wrapped allocators keep their own counts for `ALLOC_STATS=1`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

use demo::{Counts, Probe};

/// The environment variable that picks the allocator ("system"; anything else: PoolAlloc).
pub const ENV: &str = "DEMO_ALLOCATOR";

const UNSET: u8 = 0;
const POOL: u8 = 1;
const SYSTEM: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNSET);
static POOL_ALLOC: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();
static SYSTEM_ALLOC: alloc_stats::Counting<System> = alloc_stats::Counting::new(System);

/// Per-thread counters (const-initialised, no destructor: usable at any time, never
/// allocate).
struct Tls {
    allocs: Cell<u64>,
    frees: Cell<u64>,
    bytes: Cell<u64>,
    live: Cell<i64>,
    peak: Cell<i64>,
}

thread_local! {
    static TLS: Tls = const {
        Tls { allocs: Cell::new(0), frees: Cell::new(0), bytes: Cell::new(0), live: Cell::new(0), peak: Cell::new(0) }
    };
}

#[inline(always)]
fn count(allocs: u64, frees: u64, bytes: u64, delta: i64) {
    let _ = TLS.try_with(|t| {
        t.allocs.set(t.allocs.get() + allocs);
        t.frees.set(t.frees.get() + frees);
        t.bytes.set(t.bytes.get() + bytes);
        let live = t.live.get() + delta;
        t.live.set(live);
        if live > t.peak.get() {
            t.peak.set(live);
        }
    });
}

/// Reads `DEMO_ALLOCATOR` once (at the first allocation; it does not allocate).
#[cold]
#[inline(never)]
fn init() -> u8 {
    let want = if demo::os::env_is(c"DEMO_ALLOCATOR", b"system") {
        SYSTEM
    } else {
        POOL
    };
    match MODE.compare_exchange(UNSET, want, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => want,
        Err(already) => already,
    }
}

#[inline(always)]
fn mode() -> u8 {
    match MODE.load(Ordering::Relaxed) {
        UNSET => init(),
        m => m,
    }
}

/// The allocator this process runs under: "system" or "pool-alloc".
pub fn active() -> &'static str {
    if mode() == SYSTEM {
        "system"
    } else {
        "pool-alloc"
    }
}

/// The probe for the harness: this thread's counters.
pub const PROBE: Probe = Probe {
    read: || {
        TLS.with(|t| Counts {
            allocs: t.allocs.get(),
            frees: t.frees.get(),
            bytes: t.bytes.get(),
            live: t.live.get(),
            peak: t.peak.get(),
        })
    },
    reset_peak: || TLS.with(|t| t.peak.set(t.live.get())),
    peak_note: "exact, per thread (summed over threads)",
};

/// Forwards to the allocator chosen at start-up.
pub struct Switch;

// SAFETY: every call is forwarded unchanged to one of two allocators that uphold the
// `GlobalAlloc` contract; the choice is made once, before the first block exists, and never
// changes, so every block is freed by the allocator that made it.
unsafe impl GlobalAlloc for Switch {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe {
            if mode() == SYSTEM {
                SYSTEM_ALLOC.alloc(layout)
            } else {
                POOL_ALLOC.alloc(layout)
            }
        };
        if !p.is_null() {
            count(1, 0, layout.size() as u64, layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe {
            if mode() == SYSTEM {
                SYSTEM_ALLOC.alloc_zeroed(layout)
            } else {
                POOL_ALLOC.alloc_zeroed(layout)
            }
        };
        if !p.is_null() {
            count(1, 0, layout.size() as u64, layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, 1, 0, -(layout.size() as i64));
        // SAFETY: the caller's contract; `ptr` came from the same side (the mode never changes).
        unsafe {
            if mode() == SYSTEM {
                SYSTEM_ALLOC.dealloc(ptr, layout)
            } else {
                POOL_ALLOC.dealloc(ptr, layout)
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract; `ptr` came from the same side.
        let p = unsafe {
            if mode() == SYSTEM {
                SYSTEM_ALLOC.realloc(ptr, layout, new_size)
            } else {
                POOL_ALLOC.realloc(ptr, layout, new_size)
            }
        };
        if !p.is_null() {
            count(
                1,
                1,
                new_size as u64,
                new_size as i64 - layout.size() as i64,
            );
        }
        p
    }
}
