//! Memory that follows the live heap (docs/architecture.md, "Memory: decay, trim, gauges"):
//! `trim` gives back everything not in use, free pages inside partly used spans included,
//! without touching live blocks; an idle process gives memory back by itself after the decay
//! delay; waves of free and reuse inside the delay fault nothing in; the heap gauges agree
//! with the kernel's figure. RSS comes from `/proc/self/status`; every test runs alone (one
//! lock), since they read process-wide figures.

use std::alloc::{alloc, dealloc, Layout};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

static ALONE: Mutex<()> = Mutex::new(());

const MIB: usize = 1 << 20;

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Resident set size of this process, from the kernel.
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

fn minor_faults() -> i64 {
    // SAFETY: `ru` is a valid out-pointer.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_minflt
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

/// A block of the test: address, layout, and the byte it is filled with.
struct Blk(*mut u8, Layout, u8);

/// Allocates blocks of random sizes in `lo..=hi` until `total` bytes, each filled with its own
/// byte (every page is touched, so the pages are resident).
fn burst(rng: &mut Rng, total: usize, lo: usize, hi: usize) -> Vec<Blk> {
    let mut v = Vec::with_capacity(total / ((lo + hi) / 2) + 16);
    let mut sum = 0;
    while sum < total {
        let size = rng.range(lo, hi);
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: a non-zero size.
        let p = unsafe { alloc(layout) };
        assert!(!p.is_null());
        let fill = (v.len() % 251) as u8 + 1;
        // SAFETY: `p` holds `size` bytes.
        unsafe { p.write_bytes(fill, size) };
        v.push(Blk(p, layout, fill));
        sum += size;
    }
    v
}

fn check_and_free(b: Blk) {
    // SAFETY: the block is live and holds `b.1.size()` bytes filled with `b.2`.
    let bytes = unsafe { std::slice::from_raw_parts(b.0, b.1.size()) };
    assert!(
        bytes.iter().all(|&x| x == b.2),
        "block {:p} ({} B) lost its contents",
        b.0,
        b.1.size()
    );
    // SAFETY: allocated above with this layout.
    unsafe { dealloc(b.0, b.1) };
}

#[test]
fn trim_after_freeing_everything_returns_to_the_start() {
    let _g = alone();
    GLOBAL.trim();
    let (before, gauge_before) = (rss(), GLOBAL.stats().resident_bytes);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let blocks = burst(&mut rng, 256 * MIB, 16, 32 * 1024);
    assert!(rss() > before + 200 * MIB, "the burst is resident");
    for b in blocks {
        check_and_free(b);
    }
    GLOBAL.trim();
    let (after, s) = (rss(), GLOBAL.stats());
    eprintln!(
        "all freed + trim: rss {} MiB, {} MiB before",
        after / MIB,
        before / MIB
    );
    assert!(
        after <= before + 8 * MIB,
        "rss {} MiB after trim, {} MiB before the burst",
        after / MIB,
        before / MIB
    );
    if alloc_stats::counting_enabled() {
        assert!(
            s.resident_bytes <= gauge_before + 8 * MIB as u64,
            "resident gauge {} MiB after trim, {} MiB before\n{s}",
            s.resident_bytes / MIB as u64,
            gauge_before / MIB as u64
        );
        assert!(s.free_retained_bytes <= 8 * MIB as u64, "{s}");
    }
}

#[test]
fn trim_with_survivors_keeps_them_intact_and_resident_near_live() {
    let _g = alone();
    GLOBAL.trim();
    let before = rss();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let blocks = burst(&mut rng, 256 * MIB, 16, 32 * 1024);
    let (mut keep, mut live) = (Vec::new(), 0);
    for b in blocks {
        if rng.next().is_multiple_of(10) {
            live += b.1.size();
            keep.push(b);
        } else {
            check_and_free(b);
        }
    }
    GLOBAL.trim();
    let after = rss();
    let held = after.saturating_sub(before);
    eprintln!(
        "survivors + trim: {} MiB resident above the start for {} MiB live",
        held / MIB,
        live / MIB
    );
    assert!(
        held * 10 <= live * 13 + 4 * MIB * 10,
        "{} MiB resident above the start for {} MiB live: over 1.3x",
        held / MIB,
        live / MIB
    );
    if alloc_stats::counting_enabled() {
        let s = GLOBAL.stats();
        // The gauge counts whole committed pages, the kernel what was touched: close.
        assert!(
            s.resident_bytes as usize + 16 * MIB >= after,
            "resident gauge {} MiB, kernel {} MiB",
            s.resident_bytes / MIB as u64,
            after / MIB
        );
        assert!(s.live_bytes as usize >= live, "{s}");
    }
    // The purge gave back free pages around the survivors: they must not have noticed, and
    // the heap must hand the purged pages out again correctly.
    let again = burst(&mut rng, 64 * MIB, 16, 32 * 1024);
    for b in keep.into_iter().chain(again) {
        check_and_free(b);
    }
}

#[test]
fn an_idle_process_gives_a_burst_back_without_any_call() {
    let _g = alone();
    GLOBAL.trim();
    assert_eq!(
        alloc_core::config::decay_ms(),
        alloc_core::config::DEFAULT_DECAY_MS
    );
    let before = rss();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let blocks = burst(&mut rng, 256 * MIB, 16, 32 * 1024);
    let big: Vec<Vec<u8>> = (0..8).map(|i| vec![i as u8 + 1; 3 * MIB]).collect();
    for b in blocks {
        check_and_free(b);
    }
    drop(big);
    assert!(GLOBAL.scavenger_running(), "frees start the scavenger");
    let t = Instant::now();
    loop {
        let now = rss();
        if now <= before + 16 * MIB {
            eprintln!("decay: back to {} MiB after {:?}", now / MIB, t.elapsed());
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(6),
            "{} MiB still resident {:?} after the burst was freed ({} MiB before)",
            now / MIB,
            t.elapsed(),
            before / MIB
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn waves_of_free_and_reuse_inside_the_delay_fault_nothing_in() {
    let _g = alone();
    // A delay that no wave outlasts, even in a debug build on a loaded machine.
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            GLOBAL.set_decay_ms(alloc_core::config::DEFAULT_DECAY_MS);
        }
    }
    let _restore = Restore;
    GLOBAL.set_decay_ms(20_000);
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let first = minor_faults();
    let blocks = burst(&mut rng, 64 * MIB, 4096, 64 * 1024);
    let wave_faults = minor_faults() - first;
    for b in blocks {
        check_and_free(b);
    }
    let start = minor_faults();
    for _ in 0..8 {
        let blocks = burst(&mut rng, 64 * MIB, 4096, 64 * 1024);
        for b in blocks {
            check_and_free(b);
        }
    }
    let later = minor_faults() - start;
    eprintln!("waves: first {wave_faults} faults, 8 later waves {later}");
    // Each wave touches 16384 pages; before decay existed, each later wave faulted ~18 % of
    // them in again (empty spans beyond a count were released at once). Pages a span never
    // had touched before still fault once, so not zero: under 5 % per wave.
    let pages = (8 * 64 * MIB / 4096) as i64;
    assert!(
        later * 20 < pages,
        "8 later waves faulted {later} of their {pages} pages in; the first one {wave_faults}"
    );
}

#[test]
fn gauges_add_up() {
    let _g = alone();
    if !alloc_stats::counting_enabled() {
        return;
    }
    let v: Vec<Vec<u8>> = (0..2000).map(|i| vec![1u8; 16 + i % 2000]).collect();
    let s = GLOBAL.stats();
    assert!(s.resident_bytes > 0 && s.metadata_bytes > 0, "{s}");
    assert!(s.live_bytes > 2000 * 16, "{s}");
    assert!(
        s.metadata_bytes + s.live_bytes + s.thread_cache_bytes + s.free_retained_bytes
            >= s.resident_bytes,
        "the parts cover the whole: {s}"
    );
    drop(v);
    let freed = GLOBAL.stats();
    assert!(
        freed.thread_cache_bytes > 0,
        "freed blocks wait in this thread's cache: {freed}"
    );
    GLOBAL.trim();
    let trimmed = GLOBAL.stats();
    assert!(
        trimmed.thread_cache_bytes < freed.thread_cache_bytes,
        "trim flushed this thread's cache: {trimmed}"
    );
}

#[test]
fn trim_from_main_reclaims_an_idle_workers_cache() {
    let _g = alone();
    GLOBAL.trim();
    let before = rss();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let mut rng = Rng(0x0bad_cafe_1234_5678);
        let blocks = burst(&mut rng, 256 * MIB, 16, 32 * 1024);
        for b in blocks {
            check_and_free(b);
        }
        ready_tx.send(()).unwrap();
        rx.recv().unwrap(); // idle, blocked, its cache still full
    });
    ready_rx.recv().unwrap();
    let cached = GLOBAL.stats().thread_cache_bytes;
    GLOBAL.trim();
    let after = rss();
    let left = GLOBAL.stats().thread_cache_bytes;
    eprintln!("idle worker: {cached} B in thread caches before trim, {left} B after");
    if alloc_stats::counting_enabled() {
        // Two blocks per list stay (see thread_cache.rs), in this thread's and the worker's
        // caches: at most two blocks of every class each.
        let keep: u64 = alloc_core::size_class::CLASS_SIZE
            .iter()
            .map(|&s| 2 * 2 * s as u64)
            .sum();
        assert!(
            cached > 2 * MIB as u64,
            "the worker's cache was full: {cached} B"
        );
        assert!(
            left <= keep,
            "trim left {left} B in thread caches (of {cached} B), more than two blocks a list"
        );
    }
    eprintln!(
        "idle worker + trim: rss {} MiB, {} MiB before",
        after / MIB,
        before / MIB
    );
    // What stays in the worker's cache (two blocks per class) pins only its own pages
    // (everything around it was purged): not its spans.
    assert!(
        after <= before + 6 * MIB,
        "rss {} MiB after trim with an idle worker, {} MiB before",
        after / MIB,
        before / MIB
    );
    tx.send(()).unwrap();
    worker.join().unwrap();
}
