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
//!
//! The summary also prints a thread-scaling table: get + drop of a `Vec<u8>` on 1, 2, 4, ...
//! threads sharing ONE pool (`Pool`, `RingPool`, a pool over `crossbeam_queue::ArrayQueue`,
//! `object-pool`; `lifeguard` is single-threaded, so one pool per thread) against a plain
//! `Vec::with_capacity(64)` + drop. Thread counts go up to the machine's CPUs, or
//! `POOL_BENCH_THREADS=N` (any N >= 1; N itself is always included).
//!
//! `POOL_BENCH_ALLOC=system` runs everything under the System allocator instead of PoolAlloc
//! (decided once, at the first allocation), e.g. to compare BufferPool with plain allocation on
//! both:
//!
//! ```sh
//! cargo bench -p benches --bench pools -- --warm-up-time 1 --measurement-time 2
//! POOL_BENCH_ALLOC=system cargo bench -p benches --bench pools -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! For `BufferPool` against plain allocation with a fixed global allocator (no run-time switch
//! on the plain path) and instruction counts, see the `bufpool_pool` / `bufpool_system` bins
//! (`benches/src/buffer_pool.rs`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
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
/// Which allocator serves: 0 not decided yet, 1 PoolAlloc, 2 System (`POOL_BENCH_ALLOC=system`).
/// Decided at the first call and never changed, so every block is freed by its own allocator.
static WHICH: AtomicU8 = AtomicU8::new(0);

#[inline(always)]
fn use_system() -> bool {
    match WHICH.load(Relaxed) {
        0 => decide_allocator(),
        w => w == 2,
    }
}

#[cold]
fn decide_allocator() -> bool {
    // SAFETY: a NUL-terminated name; getenv allocates nothing, and the returned string (if
    // any) is read at once, before any other call could change the environment.
    let v = unsafe { libc::getenv(c"POOL_BENCH_ALLOC".as_ptr()) };
    // SAFETY: a non-null result of getenv is a NUL-terminated string.
    let system = !v.is_null() && unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes() == b"system";
    // The first call happens before main starts threads: no race on the decision.
    WHICH.store(if system { 2 } else { 1 }, Relaxed);
    system
}

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
        unsafe {
            if use_system() {
                System.alloc(layout)
            } else {
                INNER.alloc(layout)
            }
        }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count();
        // SAFETY: the caller's contract, forwarded.
        unsafe {
            if use_system() {
                System.alloc_zeroed(layout)
            } else {
                INNER.alloc_zeroed(layout)
            }
        }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded (to the allocator that made the block:
        // the choice never changes).
        unsafe {
            if use_system() {
                System.dealloc(ptr, layout)
            } else {
                INNER.dealloc(ptr, layout)
            }
        }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count();
        // SAFETY: the caller's contract, forwarded (as in dealloc).
        unsafe {
            if use_system() {
                System.realloc(ptr, layout, new_size)
            } else {
                INNER.realloc(ptr, layout, new_size)
            }
        }
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

// ---------------------------------------------------------------------------------------------
// A pool over crossbeam's ArrayQueue: what RingPool would be if it used the crate.

/// `RingPool`'s behaviour (pop or build; clear and push back, or drop when full) over
/// `crossbeam_queue::ArrayQueue`, without stats: the comparison for the hand-written ring.
struct QueuePool {
    q: crossbeam_queue::ArrayQueue<Vec<u8>>,
}

struct QueueGuard<'a> {
    pool: &'a QueuePool,
    v: Vec<u8>,
}

impl QueuePool {
    fn new(capacity: usize) -> Self {
        QueuePool {
            q: crossbeam_queue::ArrayQueue::new(capacity),
        }
    }
    #[inline]
    fn get(&self) -> QueueGuard<'_> {
        let v = self.q.pop().unwrap_or_else(|| Vec::with_capacity(64));
        QueueGuard { pool: self, v }
    }
}

impl Drop for QueueGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        let mut v = std::mem::take(&mut self.v);
        v.clear();
        let _ = self.pool.q.push(v);
    }
}

// ---------------------------------------------------------------------------------------------
// Thread scaling: one shared pool, get + drop on 1..N threads.

/// Thread counts to measure: powers of two up to the CPUs (or `POOL_BENCH_THREADS`), plus that
/// count itself.
fn thread_counts() -> Vec<usize> {
    let max = std::env::var("POOL_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut v: Vec<usize> = (0..).map(|k| 1 << k).take_while(|&n| n < max).collect();
    v.push(max);
    v
}

/// ns per get + drop per thread (wall time of `per_thread` ops on each of `threads` threads,
/// started together), best of 3.
fn scaled_ns(threads: usize, per_thread: u64, op: &(dyn Fn() + Sync)) -> f64 {
    (0..3)
        .map(|_| {
            let start = std::sync::Barrier::new(threads);
            let t = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads)
                    .map(|_| {
                        let start = &start;
                        s.spawn(move || {
                            for _ in 0..per_thread / 10 {
                                op();
                            }
                            start.wait();
                            let t = Instant::now();
                            for _ in 0..per_thread {
                                op();
                            }
                            t.elapsed()
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).max().unwrap()
            });
            t.as_nanos() as f64 / per_thread as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn thread_scaling() {
    const PER_THREAD: u64 = 200_000;
    let ours: Pool<Vec<u8>> = Pool::new(|| Vec::with_capacity(64));
    let ring: RingPool<Vec<u8>> = RingPool::new(64, || Vec::with_capacity(64));
    let queue = QueuePool::new(64);
    let op = object_pool::Pool::new(64, || Vec::<u8>::with_capacity(64));
    thread_local! {
        static LG: lifeguard::Pool<Vec<u8>> = lifeguard::Pool::with_size(64);
    }
    type Case<'a> = (&'a str, Box<dyn Fn() + Sync + 'a>);
    let cases: Vec<Case<'_>> = vec![
        (
            "plain Vec",
            Box::new(|| {
                black_box(Vec::<u8>::with_capacity(black_box(64)));
            }),
        ),
        (
            "Pool",
            Box::new(|| {
                black_box(&*ours.get());
            }),
        ),
        (
            "RingPool",
            Box::new(|| {
                black_box(&*ring.get());
            }),
        ),
        (
            "ArrayQueue pool",
            Box::new(|| {
                black_box(&queue.get().v);
            }),
        ),
        (
            "object-pool",
            Box::new(|| {
                let mut v = op.pull(|| Vec::with_capacity(64));
                v.clear();
                black_box(&*v);
            }),
        ),
        (
            "lifeguard (per thread)",
            Box::new(|| {
                LG.with(|p| {
                    black_box(&*p.new());
                })
            }),
        ),
    ];
    let counts = thread_counts();
    print!(
        "\nget+drop ns/op per thread, one shared pool\n{:<24}",
        "threads"
    );
    for t in &counts {
        print!(" {t:>8}");
    }
    println!();
    for (name, f) in &cases {
        print!("{name:<24}");
        for &t in &counts {
            print!(" {:>8.2}", scaled_ns(t, PER_THREAD, &**f));
        }
        println!();
    }
    println!(
        "(wall time of the slowest thread / ops per thread, best of 3; more threads than CPUs \
         time-share)"
    );
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
    let queue = QueuePool::new(64);
    let mut i = 0usize;
    let mut j = 0usize;
    let mut k = 0usize;
    let bp = &buf_pool;

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
            "buffer/plain_1KiB",
            Box::new(|| {
                black_box(Vec::<u8>::with_capacity(black_box(700)));
            }),
        ),
        (
            "buffer/BufferPool_1KiB",
            Box::new(|| {
                black_box(&*buf_pool.get(black_box(700)));
            }),
        ),
        (
            "buffer/plain_mixed",
            Box::new(move || {
                k += 1;
                black_box(Vec::<u8>::with_capacity(black_box(SIZES[k % 4])));
            }),
        ),
        (
            "buffer/BufferPool_mixed",
            Box::new(move || {
                k += 1;
                black_box(&*bp.get(black_box(SIZES[k % 4])));
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
        (
            "get_drop/ArrayQueue",
            Box::new(|| {
                black_box(&queue.get().v);
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
        ("buffer/BufferPool_1KiB", "buffer/plain_1KiB"),
        ("buffer/BufferPool_mixed", "buffer/plain_mixed"),
        ("get_drop/RingPool", "get_drop/ArrayQueue"),
        ("get_drop/Pool", "get_drop/object-pool"),
        ("get_drop/Pool", "get_drop/lifeguard"),
        ("get_drop/RingPool", "get_drop/object-pool"),
    ] {
        println!("  {a} / {b} = {:.2}", ratio(a, b));
    }
    let stats = ours.stats();
    println!("Pool<Vec<u8>> stats after the run: {stats}");
    println!(
        "allocator: {}",
        if use_system() { "System" } else { "PoolAlloc" }
    );
    thread_scaling();
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
