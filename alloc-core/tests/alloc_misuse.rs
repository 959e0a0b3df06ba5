//! A caller's mistakes end in a clear abort, never in silent corruption or a panic inside the
//! allocator (docs/hardening.md). Each case runs in a child process (this test binary re-run
//! with `MISUSE_CASE` set) and the parent checks how it ended: killed by `SIGABRT`, with
//! `alloc-core: fatal: <what> (at 0x...)` on stderr, no "panicked" (a debug build must not
//! trip an overflow check inside `GlobalAlloc` first), and never the line the child prints if
//! it survives its mistake.
//!
//! Without the `hardened` feature the checks run on the slow paths: a large free at once, a
//! small block when it is flushed, which `trim` forces here. With it, a small free is checked
//! on the spot, and a free block whose link or canary was overwritten is caught when it is
//! allocated again.

use std::alloc::{GlobalAlloc, Layout};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

const CASE_ENV: &str = "MISUSE_CASE";
const SURVIVED: &str = "child survived its mistake";

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Runs `case` in a child process and checks that it aborted with `expect` in its message.
fn expect_abort(case: &str, expect: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([case, "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE_ENV, case)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("--- stdout\n{stdout}--- stderr\n{stderr}");
    assert!(
        !all.contains(SURVIVED),
        "{case}: the child went on after its mistake\n{all}"
    );
    assert!(
        !all.contains("panicked"),
        "{case}: a panic instead of an abort\n{all}"
    );
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{case}: not aborted ({:?})\n{all}",
        out.status
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("alloc-core: fatal: "))
        .unwrap_or_else(|| panic!("{case}: no `alloc-core: fatal:` line\n{all}"));
    assert!(
        line.contains(expect),
        "{case}: expected {expect:?} in {line:?}"
    );
    assert!(line.contains("(at 0x"), "{case}: no address in {line:?}");
}

/// In the child: runs the mistake if this process is the child for `case`. Returns false in
/// the parent.
fn child(case: &str, mistake: impl FnOnce()) -> bool {
    if std::env::var(CASE_ENV).as_deref() != Ok(case) {
        return false;
    }
    mistake();
    // Make the slow path see what the fast path took: flush this thread's cache.
    GLOBAL.trim();
    // Anything still wrong shows here: two live blocks must differ.
    let l = layout(64, 8);
    // SAFETY: valid layouts; the blocks are freed below.
    unsafe {
        let (a, b) = (GLOBAL.alloc(l), GLOBAL.alloc(l));
        assert_ne!(a, b, "one block handed out twice");
        GLOBAL.dealloc(a, l);
        GLOBAL.dealloc(b, l);
    }
    println!("{SURVIVED}");
    true
}

/// One mistake, one test: `$mistake` runs in a child process (see [`child`]), which must abort
/// with `$expect` in its `alloc-core: fatal:` line ([`expect_abort`]).
macro_rules! misuse_test {
    ($(#[$attr:meta])* $name:ident, $expect:expr, $mistake:expr $(,)?) => {
        $(#[$attr])*
        #[test]
        fn $name() {
            if child(stringify!($name), $mistake) {
                return;
            }
            expect_abort(stringify!($name), $expect);
        }
    };
}

/// Allocates a block of `size` bytes and frees it twice (in the child process).
fn free_twice(size: usize) {
    let l = layout(size, 8);
    // SAFETY: deliberately wrong: the block is freed twice.
    unsafe {
        let p = GLOBAL.alloc(l);
        GLOBAL.dealloc(p, l);
        GLOBAL.dealloc(p, l);
    }
}

misuse_test!(double_free_of_a_small_block_aborts, "double free", || {
    free_twice(64)
});

misuse_test!(
    double_free_of_a_large_block_aborts,
    "not a live large block",
    || free_twice(1 << 20)
);

misuse_test!(
    small_block_freed_with_a_larger_class_aborts,
    "another size class",
    || {
        // SAFETY: deliberately wrong: a 16 B block freed as 4096 B.
        unsafe {
            let p = GLOBAL.alloc(layout(16, 8));
            GLOBAL.dealloc(p, layout(4096, 8));
        }
    }
);

misuse_test!(
    large_block_freed_with_another_size_aborts,
    "another size than it was allocated with",
    || {
        // SAFETY: deliberately wrong: a 100 KiB block freed as 4 MiB.
        unsafe {
            let p = GLOBAL.alloc(layout(100 << 10, 8));
            GLOBAL.dealloc(p, layout(4 << 20, 8));
        }
    }
);

misuse_test!(
    large_block_freed_as_small_aborts,
    "did not hand out",
    || {
        // SAFETY: deliberately wrong: a 1 MiB block freed as 64 B.
        unsafe {
            let p = GLOBAL.alloc(layout(1 << 20, 8));
            GLOBAL.dealloc(p, layout(64, 8));
        }
    }
);

misuse_test!(stack_pointer_freed_aborts, "did not hand out", || {
    let mut local = [0u64; 8];
    // SAFETY: deliberately wrong: a stack address is not a heap block.
    unsafe { GLOBAL.dealloc(local.as_mut_ptr().cast(), layout(64, 8)) };
    std::hint::black_box(&local);
});

misuse_test!(libc_malloc_pointer_freed_aborts, "did not hand out", || {
    // SAFETY: glibc's malloc; then deliberately wrong: freed through PoolAlloc.
    unsafe {
        let p = libc::malloc(256).cast::<u8>();
        assert!(!p.is_null());
        GLOBAL.dealloc(p, layout(256, 256));
    }
});

misuse_test!(
    stack_pointer_freed_as_large_aborts,
    "not a live large block",
    || {
        let mut local = [0u64; 8];
        // SAFETY: deliberately wrong.
        unsafe { GLOBAL.dealloc(local.as_mut_ptr().cast(), layout(1 << 20, 8)) };
        std::hint::black_box(&local);
    }
);

misuse_test!(
    pointer_into_a_block_freed_aborts,
    "into the middle of a block",
    || {
        let l = layout(256, 8);
        // SAFETY: deliberately wrong: a pointer 64 bytes into a live block.
        unsafe {
            let p = GLOBAL.alloc(l);
            GLOBAL.dealloc(p.add(64), l);
        }
    }
);

misuse_test!(
    realloc_of_a_large_block_with_a_wrong_size_aborts,
    "another size than it was allocated with",
    || {
        // SAFETY: deliberately wrong: the old layout is not the one allocated.
        unsafe {
            let p = GLOBAL.alloc(layout(200 << 10, 8));
            let q = GLOBAL.realloc(p, layout(3 << 20, 8), 8 << 20);
            std::hint::black_box(q);
        }
    }
);

misuse_test!(
    free_unsized_of_a_foreign_pointer_aborts,
    "did not hand out",
    || {
        let mut local = [0u64; 8];
        // SAFETY: deliberately wrong.
        unsafe { GLOBAL.free_unsized(local.as_mut_ptr().cast()) };
        std::hint::black_box(&local);
    }
);

misuse_test!(
    /// A double free in a thread that then blocks: `trim` from another thread drains its cache,
    /// whose list now loops back on itself; the drain aborts instead of walking forever.
    double_free_in_a_blocked_thread_aborts_the_trim,
    "double free",
    || {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            let l = layout(64, 8);
            // SAFETY: deliberately wrong: `b` is freed twice, then more blocks go on top.
            unsafe {
                let v: Vec<*mut u8> = (0..6).map(|_| GLOBAL.alloc(l)).collect();
                for &p in &v[..4] {
                    GLOBAL.dealloc(p, l);
                }
                GLOBAL.dealloc(v[1], l); // the list: v1 -> v3 -> v2 -> v1 -> ...
                GLOBAL.dealloc(v[4], l);
                GLOBAL.dealloc(v[5], l);
            }
            done_tx.send(()).unwrap();
            let _ = rx.recv(); // blocked, keeping its cache, while main trims
        });
        done_rx.recv().unwrap();
        GLOBAL.trim();
        drop(tx);
        worker.join().unwrap();
    }
);

misuse_test!(
    /// A use-after-free write over blocks that went back to their span: the refill that takes
    /// them checks each link before following it (default build too).
    overwritten_span_free_list_aborts,
    "free list was overwritten",
    || {
        let l = layout(64, 8);
        // SAFETY: valid layouts; then deliberately wrong: writes into freed blocks.
        unsafe {
            let v: Vec<*mut u8> = (0..4096).map(|_| GLOBAL.alloc(l)).collect();
            // Keep one block per page alive, so that no page is purged and no span empties.
            let mut freed = Vec::new();
            for (i, &p) in v.iter().enumerate() {
                if i % 64 != 0 {
                    GLOBAL.dealloc(p, l);
                    freed.push(p);
                }
            }
            GLOBAL.trim(); // every freed block is now in its span's free list
            let mut local = [0u64; 8];
            for &p in &freed {
                p.cast::<usize>().write(local.as_mut_ptr() as usize);
            }
            let again: Vec<*mut u8> = (0..4096).map(|_| GLOBAL.alloc(l)).collect();
            std::hint::black_box((again, &mut local));
        }
    }
);

misuse_test!(
    /// Hardened only: a use-after-free write over a free block's link is caught when the list
    /// reaches the block, before the forged address is handed out.
    #[cfg(feature = "hardened")]
    overwritten_free_list_link_aborts,
    "free-list link was overwritten",
    || {
        let l = layout(64, 8);
        // SAFETY: deliberately wrong: writes into freed blocks.
        unsafe {
            let a = GLOBAL.alloc(l);
            let b = GLOBAL.alloc(l);
            GLOBAL.dealloc(a, l);
            GLOBAL.dealloc(b, l);
            // b heads the list and links to a: forge the link to point at a stack slot.
            let mut fake = [0u64; 8];
            b.cast::<usize>().write(fake.as_mut_ptr() as usize);
            let x = GLOBAL.alloc(l);
            let y = GLOBAL.alloc(l);
            std::hint::black_box((x, y, &mut fake));
        }
    }
);

misuse_test!(
    /// Hardened only: a use-after-free write over the whole start of a free block.
    #[cfg(feature = "hardened")]
    overwritten_free_block_aborts,
    "canary was overwritten",
    || {
        let l = layout(64, 8);
        // SAFETY: deliberately wrong: writes into a freed block.
        unsafe {
            let a = GLOBAL.alloc(l);
            GLOBAL.dealloc(a, l);
            a.write_bytes(0x41, 64);
            std::hint::black_box(GLOBAL.alloc(l));
        }
    }
);

misuse_test!(
    /// Hardened only: the double free is caught at the second free itself, before `trim`.
    #[cfg(feature = "hardened")]
    double_free_is_caught_at_the_free,
    "already on a free list",
    || {
        let l = layout(48, 16);
        // SAFETY: deliberately wrong.
        unsafe {
            let p = GLOBAL.alloc(l);
            GLOBAL.dealloc(p, l);
            GLOBAL.dealloc(p, l);
        }
        println!("{SURVIVED}"); // before child()'s trim: the free itself must abort
    }
);

/// Guard pages only: a write one byte past a large block's last page faults at once
/// (SIGSEGV), instead of landing in whatever the kernel mapped next.
#[cfg(feature = "guard-pages")]
#[test]
fn overflow_past_a_large_block_faults() {
    let case = "overflow_past_a_large_block_faults";
    if std::env::var(CASE_ENV).as_deref() == Ok(case) {
        let l = layout(100_000, 8);
        // SAFETY: deliberately wrong: writes past the block's pages (100_000 B -> 25 pages).
        unsafe {
            let p = GLOBAL.alloc(l);
            p.write_bytes(1, 100_000); // the block itself is fine
            p.add(25 * 4096).write_volatile(1);
        }
        println!("{SURVIVED}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([case, "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE_ENV, case)
        .output()
        .unwrap();
    let all = format!("{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(SURVIVED),
        "{all}"
    );
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{all}");
}

/// The kernel's overcommit policy, `/proc/sys/vm/overcommit_memory` (0 heuristic, 1 always, 2
/// strict).
fn overcommit_policy() -> u32 {
    std::fs::read_to_string("/proc/sys/vm/overcommit_memory")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// RAM plus swap, from `/proc/meminfo`.
fn ram_and_swap() -> usize {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib = |key: &str| -> usize {
        info.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    (kib("MemTotal:") + kib("SwapTotal:")) * 1024
}

/// Large blocks are mapped without `MAP_NORESERVE`: under the heuristic or strict policy, a
/// request the machine can never back is an error the program can handle (glibc's behaviour),
/// not a success that ends with the OOM killer. Under policy 1 ("always") the kernel refuses
/// nothing, so only the address-space bound is checked.
#[test]
fn impossible_requests_fail_under_the_overcommit_policy() {
    let policy = overcommit_policy();
    let mut v: Vec<u8> = Vec::new();
    // More than any x86-64 user address space can hold: refused under every policy.
    assert!(v.try_reserve(1 << 48).is_err());
    if policy == 1 {
        eprintln!("vm.overcommit_memory=1: the kernel accepts any mapping; only 256 TiB checked");
        return;
    }
    assert!(
        v.try_reserve(64 << 40).is_err(),
        "64 TiB reserved under overcommit policy {policy}"
    );
    let too_much = ram_and_swap() + (1 << 30);
    assert!(
        v.try_reserve(too_much).is_err(),
        "{too_much} B (RAM + swap + 1 GiB) reserved under overcommit policy {policy}"
    );
    for _ in 0..8 {
        let mut w: Vec<u8> = Vec::new();
        assert!(w.try_reserve(too_much).is_err());
    }
    // What the machine can back still works, and is usable.
    v.try_reserve(64 << 20).unwrap();
    v.resize(64 << 20, 7);
    assert!(v.iter().step_by(4096).all(|&b| b == 7));
}

/// Correct use of the layout-free API (C's free/realloc/malloc_usable_size) never trips a
/// check, and keeps contents.
#[test]
fn layout_free_api_round_trips() {
    let mut blocks = Vec::new();
    for &(size, align) in &[
        (1usize, 8usize),
        (16, 16),
        (100, 8),
        (4096, 4096),
        (65536, 8),
        (65537, 8),
        (100 << 10, 64 << 10),
        (3 << 20, 8),
    ] {
        let l = layout(size, align);
        // SAFETY: a valid non-zero layout.
        let p = unsafe { GLOBAL.alloc(l) };
        assert!(!p.is_null());
        let usable = GLOBAL.usable_size(p).unwrap();
        assert!(usable >= size, "{size}: usable {usable}");
        // SAFETY: the block holds `size` bytes.
        unsafe { p.write_bytes(size as u8 | 1, size) };
        blocks.push((p, size));
    }
    let mut local = 0u64;
    assert_eq!(GLOBAL.usable_size(std::ptr::null()), None);
    assert_eq!(GLOBAL.usable_size((&mut local as *mut u64).cast()), None);
    let (p0, _) = blocks[2];
    // SAFETY: a pointer 8 bytes into a live 100 B block: not a block start.
    assert_eq!(GLOBAL.usable_size(unsafe { p0.add(8) }), None);
    for (p, size) in blocks {
        let fill = size as u8 | 1;
        let (mut cur, mut len) = (p, size);
        for new in [size / 2 + 1, size + 1, size * 3, 200_000, 40, 70_000] {
            // SAFETY: `cur` is live; realloc_unsized returns its replacement or null.
            let q = unsafe { GLOBAL.realloc_unsized(cur, new) };
            assert!(!q.is_null());
            assert_eq!(
                q as usize % 16,
                0,
                "realloc_unsized must keep C's 16 alignment"
            );
            assert!(GLOBAL.usable_size(q).unwrap() >= new);
            // SAFETY: `q` holds at least `new` bytes, of which min(len, new) were kept.
            let kept = unsafe { std::slice::from_raw_parts(q, len.min(new)) };
            assert!(kept.iter().all(|&b| b == fill), "{size}: {len} -> {new}");
            // SAFETY: `q` holds `new` bytes.
            unsafe { q.write_bytes(fill, new) };
            (cur, len) = (q, new);
        }
        // SAFETY: `cur` is the live block.
        unsafe { GLOBAL.free_unsized(cur) };
    }
    // SAFETY: null is a no-op.
    unsafe { GLOBAL.free_unsized(std::ptr::null_mut()) };
}
