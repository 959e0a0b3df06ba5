//! Every allocator called directly through `GlobalAlloc`, side by side in one binary and one
//! run: within each workload's group the allocators run one after another, so their ratios
//! come from the same minutes of the same (noisy) machine. The global allocator of this binary
//! is System, so harness allocations cost every allocator the same.
//!
//! Groups (one criterion "iteration" in brackets):
//! - `pair_<size>`: malloc + first-byte write + free of one size [one pair];
//! - `churn_8B-1KiB`, `churn_8B-64KiB`: live set of 4096 blocks, free a random one and allocate
//!   a replacement, sizes uniform 8 B..1 KiB or log-uniform 8 B..64 KiB [one free + one malloc];
//! - `realloc_1MiB`: grow one buffer 16 B → 1 MiB by doubling with realloc [16 reallocs];
//! - `cross_thread`: producer allocates 8 B..1 KiB, consumer thread frees [one block];
//! - `larson`: 2 threads replacing blocks of live sets that they swap every round [one op].
//!
//! Quick run: `cargo bench -p benches --bench allocators -- --warm-up-time 1 --measurement-time 2`.

use benches::{Churn, SizeDist, Visit};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use std::alloc::GlobalAlloc;
use std::hint::black_box;
use std::time::Duration;

const PAIR_SIZES: [(usize, &str); 8] = [
    (16, "16B"),
    (64, "64B"),
    (256, "256B"),
    (1 << 10, "1KiB"),
    (4 << 10, "4KiB"),
    (32 << 10, "32KiB"),
    (256 << 10, "256KiB"),
    (1 << 20, "1MiB"),
];
const SMALL: SizeDist = SizeDist::Uniform { lo: 8, hi: 1024 };
const MIXED: SizeDist = SizeDist::LogUniform { lo: 8, hi: 65536 };
/// Live blocks in the churn workloads.
const LIVE: usize = 4096;

struct Pair<'g, 'c> {
    g: &'g mut BenchmarkGroup<'c, criterion::measurement::WallTime>,
    size: usize,
}

impl Visit for Pair<'_, '_> {
    fn visit<A: GlobalAlloc + Sync>(&mut self, name: &'static str, a: &'static A) {
        let layout = benches::layout(self.size);
        self.g
            .bench_function(name, |b| b.iter(|| benches::pair(a, black_box(layout))));
    }
}

struct ChurnBench<'g, 'c> {
    g: &'g mut BenchmarkGroup<'c, criterion::measurement::WallTime>,
    dist: SizeDist,
}

impl Visit for ChurnBench<'_, '_> {
    fn visit<A: GlobalAlloc + Sync>(&mut self, name: &'static str, a: &'static A) {
        let mut churn = Churn::new(a, LIVE, self.dist, 1);
        self.g.bench_function(name, |b| b.iter(|| churn.step()));
    }
}

struct Realloc<'g, 'c> {
    g: &'g mut BenchmarkGroup<'c, criterion::measurement::WallTime>,
}

impl Visit for Realloc<'_, '_> {
    fn visit<A: GlobalAlloc + Sync>(&mut self, name: &'static str, a: &'static A) {
        self.g.bench_function(name, |b| {
            b.iter(|| benches::realloc_growth(a, black_box(1 << 20)))
        });
    }
}

struct CrossThread<'g, 'c> {
    g: &'g mut BenchmarkGroup<'c, criterion::measurement::WallTime>,
}

impl Visit for CrossThread<'_, '_> {
    fn visit<A: GlobalAlloc + Sync>(&mut self, name: &'static str, a: &'static A) {
        self.g.bench_function(name, |b| {
            b.iter_custom(|iters| benches::cross_thread(a, iters, SMALL))
        });
    }
}

struct Larson<'g, 'c> {
    g: &'g mut BenchmarkGroup<'c, criterion::measurement::WallTime>,
}

impl Visit for Larson<'_, '_> {
    fn visit<A: GlobalAlloc + Sync>(&mut self, name: &'static str, a: &'static A) {
        self.g.bench_function(name, |b| {
            b.iter_custom(|iters| benches::larson(a, iters, 1024, 4096, SMALL))
        });
    }
}

fn all(c: &mut Criterion) {
    for (size, label) in PAIR_SIZES {
        let mut g = c.benchmark_group(format!("pair_{label}"));
        benches::for_each_allocator(&mut Pair { g: &mut g, size });
        g.finish();
    }
    for (dist, label) in [(SMALL, "churn_8B-1KiB"), (MIXED, "churn_8B-64KiB")] {
        let mut g = c.benchmark_group(label);
        benches::for_each_allocator(&mut ChurnBench { g: &mut g, dist });
        g.finish();
    }
    let mut g = c.benchmark_group("realloc_1MiB");
    benches::for_each_allocator(&mut Realloc { g: &mut g });
    g.finish();
    let mut g = c.benchmark_group("cross_thread");
    benches::for_each_allocator(&mut CrossThread { g: &mut g });
    g.finish();
    let mut g = c.benchmark_group("larson");
    benches::for_each_allocator(&mut Larson { g: &mut g });
    g.finish();
}

criterion_group! {
    name = allocators;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = all
}
criterion_main!(allocators);
