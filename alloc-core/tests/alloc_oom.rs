//! Out of memory: under `setrlimit(RLIMIT_AS)`, a request larger than what is left returns
//! null (no panic, no abort inside the allocator) and the process keeps allocating normally.
//! The limit is set in a child process (this test binary re-run with an env var), so it cannot
//! starve other tests.

use std::alloc::{GlobalAlloc, Layout};
use std::process::Command;

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

const CHILD_ENV: &str = "ALLOC_CORE_OOM_CHILD";

fn vm_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm
        .split_whitespace()
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 4096
}

fn child() {
    // warm up every tier so that later small allocations need no new arena
    let warm: Vec<Vec<u8>> = (0..2000).map(|i| vec![1u8; i * 13 % 60_000 + 1]).collect();
    drop(warm);
    let limit = vm_bytes() + (256 << 20);
    let rl = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit with a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) }, 0);

    for &(size, align) in &[
        (1usize << 30, 8usize),
        (512 << 20, 4096),
        (300 << 20, 2 << 20),
    ] {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: a valid non-zero layout.
        let p = unsafe { GLOBAL.alloc(layout) };
        assert!(
            p.is_null(),
            "alloc of {size} B under a 256 MiB limit succeeded"
        );
        // SAFETY: as above.
        let z = unsafe { GLOBAL.alloc_zeroed(layout) };
        assert!(z.is_null());
    }
    // realloc that cannot be satisfied returns null and leaves the block intact
    let small = Layout::from_size_align(100_000, 8).unwrap();
    // SAFETY: valid layouts; the block is freed with the layout it has.
    unsafe {
        let p = GLOBAL.alloc(small);
        assert!(!p.is_null());
        p.write_bytes(0x42, 100_000);
        let q = GLOBAL.realloc(p, small, 1 << 30);
        assert!(q.is_null());
        assert_eq!(*p.add(99_999), 0x42);
        GLOBAL.dealloc(p, small);
    }
    let mut v: Vec<u8> = Vec::new();
    assert!(v.try_reserve(1 << 30).is_err());
    // ... and normal work goes on
    let strings: Vec<String> = (0..100_000).map(|i| format!("still working {i}")).collect();
    assert_eq!(strings[99_999], "still working 99999");
    let big = vec![3u8; 64 << 20];
    assert_eq!(big[(64 << 20) - 1], 3);
    println!("oom-child-ok");
}

#[test]
fn out_of_memory_returns_null_and_the_process_goes_on() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "out_of_memory_returns_null_and_the_process_goes_on",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("oom-child-ok"),
        "child failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
