//! Instruction counts for the overhead figures (docs/stats.md): run under
//! `valgrind --tool=callgrind` as `icount <system|counting> <pair|churn> [n]` and compare the
//! totals against a run with `n = 0` (start-up cost). Both allocators do the same `n` steps:
//! `pair` is a 64 B malloc+free; `churn` frees one of 256 live blocks of 16 B..4 KiB and
//! allocates another.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;

use alloc_stats::Counting;

static COUNTING: Counting<System> = Counting::new(System);

fn pair<A: GlobalAlloc>(a: &A, n: usize) {
    let l = Layout::from_size_align(64, 8).unwrap();
    for _ in 0..n {
        // SAFETY: non-zero layout, freed at once with the same layout.
        unsafe {
            let p = a.alloc(l);
            black_box(p);
            a.dealloc(p, l);
        }
    }
}

fn churn<A: GlobalAlloc>(a: &A, n: usize) {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let size = 16usize << (rng % 9);
        Layout::from_size_align(size - (rng >> 32) as usize % (size / 2), 8).unwrap()
    };
    let mut slots = [(std::ptr::null_mut::<u8>(), Layout::new::<u8>()); 256];
    // SAFETY: non-zero layouts; each block is freed once with its own layout.
    unsafe {
        for s in slots.iter_mut() {
            let l = next();
            *s = (a.alloc(l), l);
        }
        for i in 0..n {
            let l = next();
            let s = &mut slots[i & 255];
            a.dealloc(s.0, s.1);
            *s = (a.alloc(l), l);
        }
        for s in slots {
            a.dealloc(s.0, s.1);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let work = args.get(2).map(String::as_str).unwrap_or("pair");
    match (args.get(1).map(String::as_str), work) {
        (Some("system"), "pair") => pair(&System, n),
        (Some("system"), "churn") => churn(&System, n),
        (Some("counting"), "pair") => pair(&COUNTING, n),
        (Some("counting"), "churn") => churn(&COUNTING, n),
        _ => eprintln!("usage: icount system|counting pair|churn [n]"),
    }
    let s = COUNTING.stats();
    if args.get(1).map(String::as_str) == Some("counting") && alloc_stats::counting_enabled() {
        assert!(s.mallocs >= n as u64);
    }
}
