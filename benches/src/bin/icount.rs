//! Instruction-count driver, run under callgrind by `scripts/bench-icount.sh`:
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*icount_measured*' icount <alloc> <workload> <n>
//! ```
//!
//! `<alloc>` is one of `benches::ALLOCATOR_NAMES` or `Null` (the empty-loop baseline,
//! [`benches::NullAlloc`]); `<workload>` is `pair<bytes>` (e.g. `pair64`: malloc + free of one
//! size) or `churn1k` / `churn64k` (a live set of 4096 blocks, 8 B..1 KiB uniform or
//! 8 B..64 KiB log-uniform) or `realloc1m` (one 16 B → 1 MiB doubling growth per op). The driver runs `n` ops untimed to warm every cache and free list,
//! then `n` ops inside `icount_measured`, the only function callgrind collects; so the count
//! divided by `n` is the steady-state cost of one op (start-up and set-up excluded).

use benches::{BenchAlloc, Churn, SizeDist, Visit};
use std::alloc::GlobalAlloc;
use std::hint::black_box;

/// Live blocks in the churn workloads.
const LIVE: usize = 4096;

#[derive(Clone, Copy)]
enum Workload {
    Pair(usize),
    Churn(SizeDist),
    /// One growth of a buffer from 16 B to 1 MiB by doubling (16 reallocs) per op.
    Realloc,
    /// `n` blocks of 8 B..1 KiB handed from this thread to a second that frees them. For
    /// profiling by hand (callgrind without `--toggle-collect`: the consumer thread runs outside
    /// `icount_measured`); not in the script's table.
    CrossThread,
}

impl Workload {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "churn1k" => Some(Workload::Churn(SizeDist::Uniform { lo: 8, hi: 1024 })),
            "churn64k" => Some(Workload::Churn(SizeDist::LogUniform { lo: 8, hi: 65536 })),
            "realloc1m" => Some(Workload::Realloc),
            "xthread" => Some(Workload::CrossThread),
            _ => {
                let size: usize = s.strip_prefix("pair")?.parse().ok()?;
                (1..=1 << 20)
                    .contains(&size)
                    .then_some(Workload::Pair(size))
            }
        }
    }
}

/// The only function callgrind collects (the warm-up runs the same loop inlined in `drive`).
#[inline(never)]
fn icount_measured<A: BenchAlloc + Sync>(
    a: &A,
    w: Workload,
    n: u64,
    churn: Option<&mut Churn<'_, A>>,
) {
    run(a, w, n, churn)
}

#[inline(always)]
fn run<A: BenchAlloc + Sync>(a: &A, w: Workload, n: u64, churn: Option<&mut Churn<'_, A>>) {
    match (w, churn) {
        (Workload::Pair(size), _) => {
            let layout = benches::layout(size);
            for _ in 0..n {
                benches::pair(a, black_box(layout));
            }
        }
        (Workload::Churn(_), Some(c)) => {
            for _ in 0..n {
                c.step();
            }
        }
        (Workload::Churn(_), None) => unreachable!("churn without a live set"),
        (Workload::CrossThread, _) => {
            black_box(benches::cross_thread(
                a,
                n,
                SizeDist::Uniform { lo: 8, hi: 1024 },
            ));
        }
        (Workload::Realloc, _) => {
            for _ in 0..n {
                black_box(benches::realloc_growth(a, black_box(1 << 20)));
            }
        }
    }
}

fn drive<A: BenchAlloc + Sync>(a: &A, w: Workload, n: u64) {
    let mut churn = match w {
        Workload::Churn(dist) => Some(Churn::new(a, LIVE, dist, 1)),
        Workload::Pair(_) | Workload::Realloc | Workload::CrossThread => None,
    };
    run(a, w, n, churn.as_mut());
    icount_measured(a, w, n, churn.as_mut());
}

struct Driver {
    workload: Workload,
    n: u64,
}

impl Visit for Driver {
    fn visit<A: GlobalAlloc + Sync>(&mut self, _name: &'static str, alloc: &'static A) {
        drive(alloc, self.workload, self.n);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!(
            "usage: {} <{}|Null> <pair<bytes>|churn1k|churn64k|realloc1m> <n>",
            args[0],
            benches::ALLOCATOR_NAMES.join("|")
        );
        std::process::exit(2)
    };
    if args.len() != 4 {
        usage()
    }
    let workload = Workload::parse(&args[2]).unwrap_or_else(|| usage());
    let n: u64 = args[3].parse().unwrap_or_else(|_| usage());
    if args[1] == "Null" && matches!(workload, Workload::CrossThread) {
        usage() // NullAlloc's aliasing blocks are for one thread only
    } else if args[1] == "Null" {
        drive(&benches::NullAlloc, workload, n);
    } else if !benches::with_allocator(&args[1], &mut Driver { workload, n }) {
        usage()
    }
}
