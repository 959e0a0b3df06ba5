//! A `Region` made before any counting allocator has registered a thread (what happens on musl,
//! where nothing allocates before `main`) reads the registry that appears later, from zero,
//! instead of reporting zeros forever. Its own process (`harness = false`), under `System`, so
//! that no registry exists before `main` on any libc.

use std::cell::Cell;
use std::ptr;

use alloc_stats::{Region, Registry, ThreadStats};

static SIZES: [u32; 2] = [16, 32];

thread_local! {
    static CURRENT: Cell<*const ThreadStats> = const { Cell::new(ptr::null()) };
}
fn current() -> *const ThreadStats {
    CURRENT.with(|c| c.get())
}

static REG: Registry = Registry::new(&SIZES, current);

fn main() {
    let thread = Region::thread();
    let whole = Region::new();
    if !alloc_stats::counting_enabled() {
        println!("region_first: counting compiled out, nothing to check");
        return;
    }
    assert!(!thread.is_live(), "no registry yet");
    assert_eq!(thread.change().mallocs, 0);

    // The allocator's first registration, after the regions started.
    let ts: &'static ThreadStats = Box::leak(Box::new(ThreadStats::new()));
    // SAFETY: leaked, so valid forever; this thread is its only writer.
    unsafe { REG.register(ts as *const ThreadStats as *mut ThreadStats) };
    CURRENT.with(|c| c.set(ts));
    ts.record_alloc(0, 10, 16);
    ts.record_alloc(1, 20, 32);

    assert!(thread.is_live() && whole.is_live());
    let d = thread.change();
    assert_eq!((d.mallocs, d.bytes_requested, d.live_bytes), (2, 30, 48));
    assert_eq!(whole.change().mallocs, 2);
    // A region made now starts from the current counts as usual.
    let later = Region::thread();
    ts.record_free(0, 16);
    assert_eq!(later.change().frees, 1);
    assert_eq!(later.change().mallocs, 0);
    println!("region_first: ok");
}
