//! What counting costs: the 64 B malloc+free pair and the mixed 8 B..1 KiB churn on
//! `PoolAlloc`, called directly. Run it twice and compare:
//!
//! ```sh
//! cargo bench -p alloc-core --bench counting -- --save-baseline on
//! cargo bench -p alloc-core --bench counting --no-default-features -- --baseline on
//! ```
//!
//! (`--no-default-features` compiles counting out of alloc-core and alloc-stats.)

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;

use alloc_core::PoolAlloc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

static A: PoolAlloc = PoolAlloc::new();

fn pair(c: &mut Criterion) {
    let layout = Layout::from_size_align(64, 8).unwrap();
    let mut g = c.benchmark_group("counting");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pair_64B", |b| {
        b.iter(|| {
            // SAFETY: a valid layout; the block is freed with it.
            unsafe {
                let p = A.alloc(layout);
                black_box(p);
                A.dealloc(p, layout);
            }
        })
    });
    g.bench_function("churn_8B_1KiB", |b| {
        let mut live: Vec<(usize, usize)> = vec![(0, 0); 4096];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        b.iter(|| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % 4096) as usize;
            let size = 8 + (x >> 32) as usize % 1017;
            let (p, s) = live[i];
            // SAFETY: each slot holds a live block of the recorded size, or null.
            unsafe {
                if p != 0 {
                    A.dealloc(p as *mut u8, Layout::from_size_align_unchecked(s, 8));
                }
                live[i] = (
                    A.alloc(Layout::from_size_align_unchecked(size, 8)) as usize,
                    size,
                );
            }
        });
        for (p, s) in live {
            if p != 0 {
                // SAFETY: as above.
                unsafe { A.dealloc(p as *mut u8, Layout::from_size_align_unchecked(s, 8)) };
            }
        }
    });
    g.finish();
}

criterion_group!(benches, pair);
criterion_main!(benches);
