//! The scavenger: a background thread that gives memory back to the OS once it has waited the
//! decay delay (`decay.rs`), so that an idle process shrinks without any call (Go's
//! background scavenger; jemalloc's background thread). docs/architecture.md, "Memory: decay,
//! trim, gauges", tells what it releases and when.
//!
//! Started lazily by [`kick`], which the free paths call (never with an allocator lock held)
//! when they leave memory that can age; it runs a pass every tick while something is left to
//! age, and sleeps on a futex, costing nothing, when nothing is. It allocates nothing, blocks
//! every signal, and takes the allocator's locks in their usual order, one class at a time.
//! After `fork` the child has no scavenger; its first `kick` starts one.
//! `POOLALLOC_BACKGROUND=0` (or [`set_enabled`]`(false)`) keeps it off: decay then happens on
//! the page heap's and the large cache's own slow paths, and `trim` does the rest.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};

use crate::central;
use crate::decay;
use crate::large;
use crate::os;
use crate::page_heap::PAGE_HEAP;

/// Not started; the next [`kick`] starts it.
const OFF: u32 = 0;
/// Being started by a `kick`.
const STARTING: u32 = 1;
/// Running a pass every tick.
const ACTIVE: u32 = 2;
/// Nothing left to age: waiting on [`STATE`] until a `kick`.
const IDLE: u32 = 3;
/// Could not be started (the OS refused a thread); never retried.
const FAILED: u32 = 4;

/// The scavenger's state (one of the constants above); its futex word while it is idle.
static STATE: AtomicU32 = AtomicU32::new(OFF);
/// Set by a `kick` while the scavenger is active: something new may age, so do not go idle.
static KICKED: AtomicBool = AtomicBool::new(false);
/// Whether the scavenger may run (`POOLALLOC_BACKGROUND`, [`set_enabled`]).
static ENABLED: AtomicBool = AtomicBool::new(true);
/// A futex word the scavenger sleeps on between passes, so that a setting change wakes it.
static TICK: AtomicU32 = AtomicU32::new(0);

/// Reads `POOLALLOC_BACKGROUND` (0 keeps the scavenger off); run once at start-up.
pub fn init_from_env() {
    if os::env_u32(c"POOLALLOC_BACKGROUND") == Some(0) {
        ENABLED.store(false, Relaxed);
    }
}

/// Allows or forbids the background scavenger. Forbidding it stops a running one at the end
/// of its pass.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, SeqCst);
    wake();
}

/// Whether a scavenger thread exists now (started and not stopped).
pub fn running() -> bool {
    matches!(STATE.load(Relaxed), STARTING | ACTIVE | IDLE)
}

/// Wakes the scavenger from its tick sleep or its idle wait (a setting changed).
pub fn wake() {
    TICK.fetch_add(1, SeqCst);
    os::futex_wake_one(&TICK);
    if STATE
        .compare_exchange(IDLE, ACTIVE, SeqCst, Relaxed)
        .is_ok()
    {
        os::futex_wake_one(&STATE);
    }
}

/// Tells the scavenger that memory was freed that may age: starts it if it is not running,
/// wakes it if it is idle. A load and a compare when it is already active. Must be called with
/// no allocator lock held.
#[inline]
pub fn kick() {
    match STATE.load(Relaxed) {
        ACTIVE => {
            if !KICKED.load(Relaxed) {
                KICKED.store(true, SeqCst);
                // The scavenger may have gone idle between our two loads: wake it.
                if STATE.load(SeqCst) == IDLE {
                    kick_slow();
                }
            }
        }
        STARTING | FAILED => {}
        _ => kick_slow(),
    }
}

#[cold]
#[inline(never)]
fn kick_slow() {
    if !ENABLED.load(Relaxed) {
        return;
    }
    let state = STATE.load(SeqCst);
    if state == IDLE
        && STATE
            .compare_exchange(IDLE, ACTIVE, SeqCst, Relaxed)
            .is_ok()
    {
        os::futex_wake_one(&STATE);
    } else if state == OFF
        && STATE
            .compare_exchange(OFF, STARTING, SeqCst, Relaxed)
            .is_ok()
        && !os::spawn_detached(main)
    {
        STATE.store(FAILED, SeqCst);
    }
}

/// After `fork`, in the child: the scavenger thread did not come along.
pub fn forget_after_fork() {
    if STATE.load(Relaxed) != FAILED {
        STATE.store(OFF, Relaxed);
    }
    KICKED.store(false, Relaxed);
}

/// The time between passes while something is left to age: a tenth of the delay, between
/// 10 and 100 ms (so memory goes back at most that long after it aged; a pass over nothing
/// that aged costs microseconds).
fn tick_ms() -> u32 {
    (decay::delay_ms() / 10).clamp(10, 100)
}

extern "C" fn main(_: *mut libc::c_void) -> *mut libc::c_void {
    os::block_all_signals();
    os::name_thread(c"poolalloc-scav");
    STATE.store(ACTIVE, SeqCst);
    loop {
        if !ENABLED.load(SeqCst) {
            STATE.store(OFF, SeqCst);
            return core::ptr::null_mut();
        }
        KICKED.store(false, SeqCst);
        if pass(decay::now()) {
            let t = TICK.load(SeqCst);
            os::futex_wait_ms(&TICK, t, tick_ms());
            continue;
        }
        // Nothing left to age: go idle unless a kick came in meanwhile.
        STATE.store(IDLE, SeqCst);
        if KICKED.load(SeqCst) || !ENABLED.load(SeqCst) {
            let _ = STATE.compare_exchange(IDLE, ACTIVE, SeqCst, Relaxed);
            continue;
        }
        while STATE.load(SeqCst) == IDLE {
            os::futex_wait(&STATE, IDLE);
        }
    }
}

/// One pass at time `now`: every class's central list, then the page heap, then the large
/// cache, each under its own lock. Returns true if memory is left that may age later.
pub fn pass(now: u32) -> bool {
    let mut pending =
        central::each_list(|list, class, shard, foreign| list.decay(class, shard, now, foreign));
    pending |= PAGE_HEAP.lock().release_aged(now);
    pending |= large::release_aged(now);
    pending
}
