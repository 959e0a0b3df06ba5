//! Pool versus no pool: the seed's Go benchmarks (`BenchmarkWithoutPool`, `BenchmarkWithPool`,
//! `...Parallel...`) in Rust, for three workloads (a short String buffer, a struct with a Vec and
//! a HashMap, size-classed byte buffers), plus the bare `get` + drop cost of each of our pools
//! against the `object-pool` and `lifeguard` crates. Runs under `alloc_core::PoolAlloc`.
//!
//! ns/op comes from criterion; allocations/op from a counting wrapper around the global
//! allocator, measured in a separate, untimed pass in steady state, and printed as a table (with
//! side-by-side ns/op ratios from one untimed run) after criterion's output:
//!
//! ```sh
//! cargo bench -p benches --bench pools -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! Parallel benches run 2 threads; ns/op = wall time / total ops, as Go's `RunParallel` reports.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use alloc_core::PoolAlloc;
use alloc_pool::{BoundedPool, BufferPool, Pool, Reset, RingPool};
use criterion::{BenchmarkId, Criterion};

// ---------------------------------------------------------------------------------------------
// Counting global allocator (counts only while `COUNTING` is on, so timed runs pay one load).

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static INNER: PoolAlloc = PoolAlloc::new();

#[global_allocator]
static GLOBAL: Counting = Counting;

impl Counting {
    #[inline(always)]
    fn count(&self) {
        if COUNTING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
        }
    }
}

// SAFETY: forwards every call unchanged to PoolAlloc, which upholds the GlobalAlloc contract;
// counting touches only atomics and never allocates.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count();
        // SAFETY: the caller's contract, forwarded.
        unsafe { INNER.alloc(layout) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count();
        // SAFETY: the caller's contract, forwarded.
        unsafe { INNER.alloc_zeroed(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { INNER.dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count();
        // SAFETY: the caller's contract, forwarded.
        unsafe { INNER.realloc(ptr, layout, new_size) }
    }
}

/// Allocations per call of `op`, in steady state (after a warm-up).
fn allocs_per_op(mut op: impl FnMut()) -> f64 {
    const N: u64 = 10_000;
    for _ in 0..1000 {
        op();
    }
    ALLOCS.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    for _ in 0..N {
        op();
    }
    COUNTING.store(false, Relaxed);
    ALLOCS.load(Relaxed) as f64 / N as f64
}

/// Untimed-by-criterion ns/op, for the side-by-side ratio table (best of 5 runs).
fn ns_per_op(mut op: impl FnMut()) -> f64 {
    const N: u32 = 200_000;
    for _ in 0..N / 10 {
        op();
    }
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..N {
                op();
            }
            t.elapsed().as_nanos() as f64 / N as f64
        })
        .fold(f64::INFINITY, f64::min)
}

// ---------------------------------------------------------------------------------------------
// Workloads.

const HELLO: &str = "hello world";

/// The seed's buffer: write "hello world", read it.
#[inline(always)]
fn use_string(s: &mut String) {
    s.push_str(black_box(HELLO));
    black_box(s.as_str());
}

/// A struct with a Vec and a HashMap (a parsed record with an index).
#[derive(Default)]
struct Record {
    fields: Vec<u64>,
    index: HashMap<u64, u32>,
}

impl Reset for Record {
    fn reset(&mut self) {
        self.fields.reset();
        self.index.reset();
    }
}

#[inline(always)]
fn use_record(r: &mut Record) {
    for i in 0..8u64 {
        r.fields.push(black_box(i));
        r.index.insert(i, i as u32);
    }
    black_box(r.index.get(&3));
}

/// Size-classed buffers: cycle through sizes in every class.
const SIZES: [usize; 4] = [700, 3000, 12_000, 50_000];

#[inline(always)]
fn use_buf(b: &mut Vec<u8>) {
    b.extend_from_slice(&[7u8; 64]);
    black_box(b.as_slice());
}

/// Runs `op` on 2 threads, `iters` ops in total; wall time.
fn parallel2(iters: u64, op: impl Fn(u64) + Sync) -> Duration {
    let t = Instant::now();
    std::thread::scope(|s| {
        for th in 0..2u64 {
            let op = &op;
            s.spawn(move || {
                for i in 0..iters / 2 {
                    op(th * iters + i);
                }
            });
        }
    });
    t.elapsed()
}

// ---------------------------------------------------------------------------------------------
// Criterion groups.

fn bench_string(c: &mut Criterion) {
    let mut g = c.benchmark_group("string");
    g.bench_function("without_pool", |b| {
        b.iter(|| {
            let mut s = String::new();
            use_string(&mut s);
        })
    });
    let pool: Pool<String> = Pool::new(String::new);
    g.bench_function("with_pool", |b| b.iter(|| use_string(&mut pool.get())));
    g.bench_function("parallel_without_pool", |b| {
        b.iter_custom(|n| {
            parallel2(n, |_| {
                let mut s = String::new();
                use_string(&mut s);
            })
        })
    });
    g.bench_function("parallel_with_pool", |b| {
        b.iter_custom(|n| parallel2(n, |_| use_string(&mut pool.get())))
    });
    g.finish();
}

fn bench_record(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");
    g.bench_function("without_pool", |b| {
        b.iter(|| {
            let mut r = Record::default();
            use_record(&mut r);
        })
    });
    let pool = Pool::new(Record::default);
    g.bench_function("with_pool", |b| b.iter(|| use_record(&mut pool.get())));
    g.bench_function("parallel_without_pool", |b| {
        b.iter_custom(|n| {
            parallel2(n, |_| {
                let mut r = Record::default();
                use_record(&mut r);
            })
        })
    });
    g.bench_function("parallel_with_pool", |b| {
        b.iter_custom(|n| parallel2(n, |_| use_record(&mut pool.get())))
    });
    g.finish();
}

fn bench_buffers(c: &mut Criterion) {
    let mut g = c.benchmark_group("size_classes");
    let mut i = 0usize;
    g.bench_function("without_pool", |b| {
        b.iter(|| {
            i += 1;
            let mut v = Vec::with_capacity(SIZES[i % 4]);
            use_buf(&mut v);
        })
    });
    let pool = BufferPool::new();
    g.bench_function("with_pool", |b| {
        b.iter(|| {
            i += 1;
            use_buf(&mut pool.get(SIZES[i % 4]));
        })
    });
    g.bench_function("parallel_without_pool", |b| {
        b.iter_custom(|n| {
            parallel2(n, |i| {
                let mut v = Vec::with_capacity(SIZES[i as usize % 4]);
                use_buf(&mut v);
            })
        })
    });
    g.bench_function("parallel_with_pool", |b| {
        b.iter_custom(|n| parallel2(n, |i| use_buf(&mut pool.get(SIZES[i as usize % 4]))))
    });
    g.finish();
}

/// The bare cost of get + drop of a `Vec<u8>` (the 10 ns target), ours against peers.
fn bench_get_drop(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_drop");
    let ours: Pool<Vec<u8>> = Pool::new(|| Vec::with_capacity(64));
    g.bench_function(BenchmarkId::new("single", "Pool"), |b| {
        b.iter(|| black_box(&*ours.get()).len())
    });
    let ring: RingPool<Vec<u8>> = RingPool::new(64, || Vec::with_capacity(64));
    g.bench_function(BenchmarkId::new("single", "RingPool"), |b| {
        b.iter(|| black_box(&*ring.get()).len())
    });
    let bounded: BoundedPool<Vec<u8>> = BoundedPool::new(64, || Vec::with_capacity(64));
    g.bench_function(BenchmarkId::new("single", "BoundedPool"), |b| {
        b.iter(|| black_box(&*bounded.get()).len())
    });
    let op = object_pool::Pool::new(64, || Vec::<u8>::with_capacity(64));
    g.bench_function(BenchmarkId::new("single", "object-pool"), |b| {
        b.iter(|| {
            let mut v = op.pull(|| Vec::with_capacity(64));
            v.clear(); // object-pool does not reset: the user must
            black_box(&*v).len()
        })
    });
    let lg: lifeguard::Pool<Vec<u8>> = lifeguard::Pool::with_size(64);
    g.bench_function(BenchmarkId::new("single", "lifeguard"), |b| {
        b.iter(|| black_box(&*lg.new()).len())
    });
    g.bench_function(BenchmarkId::new("parallel", "Pool"), |b| {
        b.iter_custom(|n| {
            parallel2(n, |_| {
                black_box(&*ours.get());
            })
        })
    });
    g.bench_function(BenchmarkId::new("parallel", "RingPool"), |b| {
        b.iter_custom(|n| {
            parallel2(n, |_| {
                black_box(&*ring.get());
            })
        })
    });
    g.bench_function(BenchmarkId::new("parallel", "object-pool"), |b| {
        b.iter_custom(|n| {
            parallel2(n, |_| {
                let mut v = op.pull(|| Vec::with_capacity(64));
                v.clear();
                black_box(&*v);
            })
        })
    });
    // lifeguard's Pool is single-threaded (Rc/RefCell): no parallel row.
    g.finish();
}

/// Steady-state allocations/op and side-by-side ns/op ratios, printed after criterion.
fn summary() {
    let string_pool: Pool<String> = Pool::new(String::new);
    let record_pool = Pool::new(Record::default);
    let buf_pool = BufferPool::new();
    let ours: Pool<Vec<u8>> = Pool::new(|| Vec::with_capacity(64));
    let ring: RingPool<Vec<u8>> = RingPool::new(64, || Vec::with_capacity(64));
    let bounded: BoundedPool<Vec<u8>> = BoundedPool::new(64, || Vec::with_capacity(64));
    let op = object_pool::Pool::new(64, || Vec::<u8>::with_capacity(64));
    let lg: lifeguard::Pool<Vec<u8>> = lifeguard::Pool::with_size(64);
    let mut i = 0usize;
    let mut j = 0usize;

    type Row<'a> = (&'a str, Box<dyn FnMut() + 'a>);
    let rows: Vec<Row<'_>> = vec![
        (
            "string/without_pool",
            Box::new(|| {
                let mut s = String::new();
                use_string(&mut s)
            }),
        ),
        (
            "string/with_pool",
            Box::new(|| use_string(&mut string_pool.get())),
        ),
        (
            "record/without_pool",
            Box::new(|| {
                let mut r = Record::default();
                use_record(&mut r)
            }),
        ),
        (
            "record/with_pool",
            Box::new(|| use_record(&mut record_pool.get())),
        ),
        (
            "size_classes/without_pool",
            Box::new(move || {
                i += 1;
                let mut v = Vec::with_capacity(SIZES[i % 4]);
                use_buf(&mut v)
            }),
        ),
        (
            "size_classes/with_pool",
            Box::new(|| {
                j += 1;
                use_buf(&mut buf_pool.get(SIZES[j % 4]))
            }),
        ),
        (
            "get_drop/Pool",
            Box::new(|| {
                black_box(&*ours.get());
            }),
        ),
        (
            "get_drop/RingPool",
            Box::new(|| {
                black_box(&*ring.get());
            }),
        ),
        (
            "get_drop/BoundedPool",
            Box::new(|| {
                black_box(&*bounded.get());
            }),
        ),
        (
            "get_drop/object-pool",
            Box::new(|| {
                let mut v = op.pull(|| Vec::with_capacity(64));
                v.clear();
                black_box(&*v);
            }),
        ),
        (
            "get_drop/lifeguard",
            Box::new(|| {
                black_box(&*lg.new());
            }),
        ),
    ];
    println!(
        "\n{:<28} {:>10} {:>10}",
        "case (single thread)", "allocs/op", "ns/op*"
    );
    let mut ns = HashMap::new();
    for (name, mut f) in rows {
        let a = allocs_per_op(&mut f);
        let t = ns_per_op(&mut f);
        ns.insert(name, t);
        println!("{name:<28} {a:>10.3} {t:>10.2}");
    }
    let ratio = |a: &str, b: &str| ns[a] / ns[b];
    println!("* one untimed-by-criterion run, best of 5, same process: use for ratios only");
    println!("ratios (lower is faster):");
    for (a, b) in [
        ("string/with_pool", "string/without_pool"),
        ("record/with_pool", "record/without_pool"),
        ("size_classes/with_pool", "size_classes/without_pool"),
        ("get_drop/Pool", "get_drop/object-pool"),
        ("get_drop/Pool", "get_drop/lifeguard"),
        ("get_drop/RingPool", "get_drop/object-pool"),
    ] {
        println!("  {a} / {b} = {:.2}", ratio(a, b));
    }
    let stats = ours.stats();
    println!("Pool<Vec<u8>> stats after the run: {stats}");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_string(&mut c);
    bench_record(&mut c);
    bench_buffers(&mut c);
    bench_get_drop(&mut c);
    c.final_summary();
    // `cargo test --benches` runs criterion in test mode; skip the (slower) summary there.
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
