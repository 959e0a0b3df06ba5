//! Counting overhead: `Counting<System>` against bare `System`, both called directly through
//! `GlobalAlloc` in the same run, on a 64 B malloc+free pair and on a mixed-size churn.
//! Run with `--no-default-features` to see `Counting<System>` with counting compiled out.
//! (PoolAlloc with and without its `stats` feature is measured from alloc-core's side.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;

use alloc_stats::Counting;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

static COUNTING: Counting<System> = Counting::new(System);

fn pair<A: GlobalAlloc>(a: &A, l: Layout) {
    // SAFETY: non-zero layout; the block is freed at once with the same layout.
    unsafe {
        let p = a.alloc(l);
        black_box(p);
        a.dealloc(p, l);
    }
}

/// 256 live blocks of sizes 16..=4096 (xorshift); each step frees one and allocates another.
struct Churn {
    slots: Vec<(*mut u8, Layout)>,
    rng: u64,
    i: usize,
}

impl Churn {
    fn new<A: GlobalAlloc>(a: &A) -> Self {
        let mut c = Churn {
            slots: Vec::with_capacity(256),
            rng: 0x9E37_79B9_7F4A_7C15,
            i: 0,
        };
        for _ in 0..256 {
            let l = c.next_layout();
            // SAFETY: non-zero layout, freed in `finish`.
            c.slots.push((unsafe { a.alloc(l) }, l));
        }
        c
    }
    fn next_layout(&mut self) -> Layout {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let size = 16 << (self.rng % 9); // 16 B .. 4 KiB, power-of-two spread
        let size = size - (self.rng >> 32) as usize % (size / 2);
        Layout::from_size_align(size, 8).unwrap()
    }
    fn step<A: GlobalAlloc>(&mut self, a: &A) {
        let l = self.next_layout();
        let slot = &mut self.slots[self.i & 255];
        self.i += 1;
        // SAFETY: the slot's block came from `a` with its layout; replaced by a new one.
        unsafe {
            a.dealloc(slot.0, slot.1);
            *slot = (a.alloc(l), l);
        }
    }
    fn finish<A: GlobalAlloc>(self, a: &A) {
        for (p, l) in self.slots {
            // SAFETY: as in `step`.
            unsafe { a.dealloc(p, l) };
        }
    }
}

fn bench(c: &mut Criterion) {
    let mode = if alloc_stats::counting_enabled() {
        "counting"
    } else {
        "compiled-out"
    };
    let l64 = Layout::from_size_align(64, 8).unwrap();
    let mut g = c.benchmark_group("pair64");
    g.bench_function(BenchmarkId::new("System", ""), |b| {
        b.iter(|| pair(&System, l64))
    });
    g.bench_function(BenchmarkId::new("Counting<System>", mode), |b| {
        b.iter(|| pair(&COUNTING, l64))
    });
    g.finish();

    let mut g = c.benchmark_group("churn");
    g.bench_function(BenchmarkId::new("System", ""), |b| {
        let mut ch = Churn::new(&System);
        b.iter(|| ch.step(&System));
        ch.finish(&System);
    });
    g.bench_function(BenchmarkId::new("Counting<System>", mode), |b| {
        let mut ch = Churn::new(&COUNTING);
        b.iter(|| ch.step(&COUNTING));
        ch.finish(&COUNTING);
    });
    g.finish();
    // The counters are live: make sure the optimizer kept them.
    let s = COUNTING.stats();
    assert_eq!(s.mallocs > 0, alloc_stats::counting_enabled());
}

criterion_group!(benches, bench);
criterion_main!(benches);
