//! `BufferPool` get + drop against the plain allocation it replaces, `Vec::<u8>::with_capacity(n)`
//! and drop, under the global allocator of the bin that calls [`main`]: `bufpool_pool`
//! (`PoolAlloc`) or `bufpool_system` (System, glibc malloc on Linux). Both numbers of
//! `alloc-pool/docs/pools.md` ("BufferPool against the allocator alone") come from here:
//!
//! ```text
//! bufpool_pool time [rounds]                     # alternating timed rounds, ratios per size
//! valgrind --tool=callgrind --toggle-collect='*icount_measured*' bufpool_pool icount <case> <n>
//! ```
//!
//! `<case>` is `plain<bytes>` / `pool<bytes>` (one size) or `plainmix` / `poolmix` (700 B,
//! 3000 B, 12 000 B, 50 000 B in turn, one per default class). `icount` runs `n` ops untimed to
//! warm the caches and free lists, then `n` ops inside `icount_measured`, the only function
//! callgrind collects: instructions / `n` is the steady-state cost of one get + drop.
//!
//! `time` runs, per size, `rounds` rounds (default 15) of 200 000 ops of each case back to back,
//! alternating which goes first, and prints the best ns/op of each and their ratio together with
//! the median of the per-round ratios (the two cores of the development VM are shared and noisy:
//! absolute ns move between runs, ratios from one run are the figures to trust).

use std::hint::black_box;
use std::time::Instant;

use alloc_pool::BufferPool;

/// The mixed sizes: one request per default class (1, 4, 16, 64 KiB).
pub const MIX: [usize; 4] = [700, 3000, 12_000, 50_000];

/// The single sizes of the `time` table (and the `<bytes>` of `plain<bytes>` / `pool<bytes>`).
pub const SIZES: [usize; 3] = [700, 4096, 50_000];

/// One measured case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// `Vec::<u8>::with_capacity(n)` + drop.
    Plain(usize),
    /// `BufferPool::get(n)` + drop.
    Pool(usize),
    /// `Vec::with_capacity` of the [`MIX`] sizes in turn.
    PlainMix,
    /// `BufferPool::get` of the [`MIX`] sizes in turn.
    PoolMix,
}

impl Case {
    /// `plain<bytes>`, `pool<bytes>`, `plainmix`, `poolmix`.
    pub fn parse(s: &str) -> Option<Case> {
        match s {
            "plainmix" => Some(Case::PlainMix),
            "poolmix" => Some(Case::PoolMix),
            _ => {
                if let Some(n) = s.strip_prefix("plain") {
                    n.parse().ok().map(Case::Plain)
                } else {
                    s.strip_prefix("pool")?.parse().ok().map(Case::Pool)
                }
            }
        }
    }
}

/// `n` ops of `case` (inlined into each caller, so the warm-up and the measured loop are the
/// same code).
#[inline(always)]
fn run(pool: &BufferPool, case: Case, n: u64) {
    match case {
        Case::Plain(size) => {
            for _ in 0..n {
                black_box(Vec::<u8>::with_capacity(black_box(size)));
            }
        }
        Case::Pool(size) => {
            for _ in 0..n {
                black_box(&*pool.get(black_box(size)));
            }
        }
        Case::PlainMix => {
            for i in 0..n as usize {
                black_box(Vec::<u8>::with_capacity(black_box(MIX[i % 4])));
            }
        }
        Case::PoolMix => {
            for i in 0..n as usize {
                black_box(&*pool.get(black_box(MIX[i % 4])));
            }
        }
    }
}

/// The only function callgrind collects.
#[inline(never)]
fn icount_measured(pool: &BufferPool, case: Case, n: u64) {
    run(pool, case, n)
}

/// ns per op of `n` ops of `case`.
#[inline(never)]
fn timed(pool: &BufferPool, case: Case, n: u64) -> f64 {
    let t = Instant::now();
    run(pool, case, n);
    t.elapsed().as_nanos() as f64 / n as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The side-by-side table: per size, best ns/op of plain and pool, best-over-best ratio and the
/// median of the per-round ratios.
fn time_table(alloc: &str, rounds: usize) {
    const N: u64 = 200_000;
    let pool = BufferPool::new();
    println!("BufferPool get + drop vs Vec::with_capacity + drop, global allocator {alloc}");
    println!(
        "{:<10} {:>10} {:>10} {:>12} {:>14}",
        "size", "plain ns", "pool ns", "best ratio", "median ratio"
    );
    let pairs: Vec<(String, Case, Case)> = SIZES
        .iter()
        .map(|&s| (format!("{s} B"), Case::Plain(s), Case::Pool(s)))
        .chain([("mixed".to_string(), Case::PlainMix, Case::PoolMix)])
        .collect();
    for (name, plain, pooled) in pairs {
        run(&pool, plain, N);
        run(&pool, pooled, N);
        let (mut bp, mut bq) = (f64::INFINITY, f64::INFINITY);
        let mut ratios = Vec::with_capacity(rounds);
        for r in 0..rounds {
            let (p, q) = if r % 2 == 0 {
                let p = timed(&pool, plain, N);
                (p, timed(&pool, pooled, N))
            } else {
                let q = timed(&pool, pooled, N);
                (timed(&pool, plain, N), q)
            };
            bp = bp.min(p);
            bq = bq.min(q);
            ratios.push(q / p);
        }
        println!(
            "{name:<10} {bp:>10.2} {bq:>10.2} {:>12.2} {:>14.2}",
            bq / bp,
            median(&mut ratios)
        );
    }
    println!("(ratio = pool / plain: below 1 the pool is faster; {rounds} rounds of {N} ops each)");
    println!("pool stats: {}", pool.stats());
}

/// Entry point of the `bufpool_*` bins; `alloc` names their global allocator.
pub fn main(alloc: &str) {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!(
            "usage: {0} time [rounds]\n       {0} icount <plain<bytes>|pool<bytes>|plainmix|poolmix> <n>",
            args[0]
        );
        std::process::exit(2)
    };
    match args.get(1).map(String::as_str) {
        Some("time") => {
            let rounds = match args.get(2) {
                Some(r) => r.parse().unwrap_or_else(|_| usage()),
                None => 15,
            };
            time_table(alloc, rounds)
        }
        Some("icount") if args.len() == 4 => {
            let case = Case::parse(&args[2]).unwrap_or_else(|| usage());
            let n: u64 = args[3].parse().unwrap_or_else(|_| usage());
            let pool = BufferPool::new();
            run(&pool, case, n);
            icount_measured(&pool, case, n);
        }
        _ => usage(),
    }
}
