//! Memory and multi-thread scenarios, each run in a fresh process by the `sc_<alloc>` bins,
//! which install that allocator as `#[global_allocator]` (docs/benchmarks.md, "Memory and
//! scaling"). Usage: `sc_<alloc> <scenario> [threads]`; prints one JSON line.
//!
//! Memory scenarios (RSS from `/proc/self/status`, in bytes): `free-all`, `survivors`,
//! `idle-worker`, `waves`, `idle-decay`. Scaling scenarios (ns per op = wall time / total ops,
//! 2 M ops split over `threads` threads): `churn`, `ring`, `pairs`. `SC_SCALE` scales the
//! work. A real program: `json` (serde_json DOM parse
//! and serialize of generated documents shaped like a tweet timeline, an event catalogue and
//! GeoJSON). Every scenario checks the contents of what it allocated (a pattern per block), so
//! an allocator that hands a block out twice cannot produce a number.

use std::alloc::{alloc, dealloc, Layout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;

use crate::Rng;

const MIB: usize = 1 << 20;

/// Resident set size now, in bytes.
pub fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn usage() -> libc::rusage {
    // SAFETY: `ru` is a valid out-pointer.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    }
}

/// A block: address, size, fill byte.
struct Blk(*mut u8, usize, u8);

// SAFETY: a block is plain memory owned by whoever holds the `Blk`.
unsafe impl Send for Blk {}

impl Blk {
    fn new(size: usize, fill: u8) -> Blk {
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: a non-zero size.
        let p = unsafe { alloc(layout) };
        assert!(!p.is_null(), "out of memory");
        // SAFETY: `p` holds `size` bytes.
        unsafe { p.write_bytes(fill, size) };
        Blk(p, size, fill)
    }

    /// Checks the first and last byte and one per page, then frees.
    fn free(self) {
        // SAFETY: the block is live and holds `self.1` bytes.
        unsafe {
            let mut off = 0;
            while off < self.1 {
                assert_eq!(*self.0.add(off), self.2, "a block lost its contents");
                off += 4096;
            }
            assert_eq!(*self.0.add(self.1 - 1), self.2, "a block lost its contents");
            dealloc(self.0, Layout::from_size_align_unchecked(self.1, 8));
        }
    }
}

fn burst(rng: &mut Rng, total: usize, lo: usize, hi: usize) -> Vec<Blk> {
    let mut v = Vec::with_capacity(total / ((lo + hi) / 2) + 64);
    let mut sum = 0;
    while sum < total {
        let size = lo + rng.below(hi - lo + 1);
        v.push(Blk::new(size, (v.len() % 251) as u8 + 1));
        sum += size;
    }
    v
}

/// Runs `scenario` under the allocator `name`, whose trim call is `trim` (None: it has none).
pub fn main(name: &str, trim: Option<fn()>) {
    let args: Vec<String> = std::env::args().collect();
    let scenario = args.get(1).map(String::as_str).unwrap_or("");
    let threads: usize = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(1);
    let scale: f64 = std::env::var("SC_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let do_trim = || {
        if let Some(t) = trim {
            t()
        }
    };
    let json = match scenario {
        "free-all" | "survivors" => {
            let start = rss();
            let mut rng = Rng::new(7);
            let blocks = burst(&mut rng, 1024 * MIB, 16, 32 * 1024);
            let peak = rss();
            let (mut keep, mut live) = (Vec::new(), 0u64);
            for b in blocks {
                if scenario == "survivors" && rng.below(10) == 0 {
                    live += b.1 as u64;
                    keep.push(b);
                } else {
                    b.free();
                }
            }
            let freed = rss();
            do_trim();
            let after = rss();
            for b in keep {
                b.free();
            }
            format!(
                r#""rss_start":{start},"rss_peak":{peak},"rss_freed":{freed},"rss_trim":{after},"live":{live}"#
            )
        }
        "idle-worker" => {
            let start = rss();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let w = std::thread::spawn(move || {
                let mut rng = Rng::new(9);
                for b in burst(&mut rng, 512 * MIB, 16, 32 * 1024) {
                    b.free();
                }
                done_tx.send(()).unwrap();
                go_rx.recv().unwrap(); // idle until main is done measuring
            });
            done_rx.recv().unwrap();
            let freed = rss();
            do_trim();
            let after = rss();
            go_tx.send(()).unwrap();
            w.join().unwrap();
            format!(r#""rss_start":{start},"rss_freed":{freed},"rss_trim":{after}"#)
        }
        "waves" => {
            let mut rng = Rng::new(11);
            let (f0, t0) = (usage().ru_minflt, Instant::now());
            let rounds = (64.0 * scale).max(1.0) as usize;
            for _ in 0..rounds {
                for b in burst(&mut rng, 64 * MIB, 4096, 64 * 1024) {
                    b.free();
                }
            }
            let secs = t0.elapsed().as_secs_f64();
            let faults = usage().ru_minflt - f0;
            format!(r#""rounds":{rounds},"secs":{secs:.4},"minflt":{faults}"#)
        }
        "idle-decay" => {
            let start = rss();
            let mut rng = Rng::new(13);
            let blocks = burst(&mut rng, 1024 * MIB, 16, 32 * 1024);
            let peak = rss();
            for b in blocks {
                b.free();
            }
            let t0 = Instant::now();
            let mut samples = Vec::new();
            for at in [0.0, 0.25, 0.5, 1.0, 2.0, 3.0] {
                let wait = Duration::from_secs_f64(at).saturating_sub(t0.elapsed());
                std::thread::sleep(wait);
                samples.push(format!("[{at},{}]", rss()));
            }
            format!(
                r#""rss_start":{start},"rss_peak":{peak},"samples":[{}]"#,
                samples.join(",")
            )
        }
        "churn" | "ring" | "pairs" => {
            // A fixed total, split over the threads: the table reads as time per op for the
            // same work at every thread count.
            let per_thread = ((2_000_000.0 * scale) as usize / threads.max(1)).max(256);
            let (secs, ops) = match scenario {
                "churn" => churn(threads, per_thread),
                "ring" => ring(threads, per_thread),
                _ => pairs(threads.max(2), per_thread),
            };
            format!(
                r#""threads":{threads},"ops":{ops},"secs":{secs:.5},"ns_per_op":{:.3}"#,
                secs * 1e9 / ops as f64
            )
        }
        "json" => json_docs(((20.0 * scale) as usize).max(2)),
        _ => {
            eprintln!(
                "usage: sc_<alloc> free-all|survivors|idle-worker|waves|idle-decay|churn|ring|pairs|json [threads]"
            );
            std::process::exit(2);
        }
    };
    let maxrss = usage().ru_maxrss;
    println!(r#"{{"alloc":"{name}","scenario":"{scenario}",{json},"maxrss_kib":{maxrss}}}"#);
}

/// Independent churn: each thread keeps 1000 live blocks of 8 B..1 KiB and replaces a random
/// one per op.
fn churn(threads: usize, per_thread: usize) -> (f64, u64) {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::new(100 + t as u64);
                let mut live: Vec<Blk> = (0..1000)
                    .map(|i| Blk::new(8 + rng.below(1017), i as u8))
                    .collect();
                barrier.wait();
                for i in 0..per_thread {
                    let k = rng.below(live.len());
                    let b = Blk::new(8 + rng.below(1017), i as u8);
                    std::mem::replace(&mut live[k], b).free();
                }
                for b in live {
                    b.free();
                }
            })
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    for h in hs {
        h.join().unwrap();
    }
    (t0.elapsed().as_secs_f64(), (threads * per_thread) as u64)
}

/// Up to 64 blocks handed from one thread to another, without allocating in the hand-off.
struct Batch {
    n: usize,
    blocks: [(usize, u32, u8); 64],
}

impl Batch {
    fn make(rng: &mut Rng, n: usize, lo: usize, hi: usize, tag: u8) -> Batch {
        let mut b = Batch {
            n,
            blocks: [(0, 0, 0); 64],
        };
        for slot in &mut b.blocks[..n] {
            let blk = Blk::new(lo + rng.below(hi - lo + 1), tag);
            *slot = (blk.0 as usize, blk.1 as u32, blk.2);
        }
        b
    }

    fn free(self) {
        for &(p, size, fill) in &self.blocks[..self.n] {
            Blk(p as *mut u8, size as usize, fill).free();
        }
    }
}

/// Larson-like ring: each thread frees the batch its neighbour sent and sends a fresh one on.
fn ring(threads: usize, per_thread: usize) -> (f64, u64) {
    let queues: Arc<Vec<ArrayQueue<Batch>>> =
        Arc::new((0..threads).map(|_| ArrayQueue::new(4)).collect());
    let rounds = (per_thread / 64).max(1);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (queues, barrier) = (queues.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut rng = Rng::new(200 + t as u64);
                let next = (t + 1) % threads;
                barrier.wait();
                for r in 0..rounds {
                    // Never wait on a neighbour (it may be done): a batch that does not fit
                    // its queue is freed here, by the thread that made it.
                    let b = Batch::make(&mut rng, 64, 16, 512, r as u8);
                    if let Err(b) = queues[next].push(b) {
                        b.free();
                    }
                    if let Some(got) = queues[t].pop() {
                        got.free();
                    }
                }
            })
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    for h in hs {
        h.join().unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    for q in queues.iter() {
        while let Some(b) = q.pop() {
            b.free();
        }
    }
    (secs, (threads * rounds * 64) as u64)
}

/// Producer→consumer pairs: the producer allocates 256 B blocks and sends them in batches of
/// 64; the consumer checks and frees them.
fn pairs(threads: usize, per_thread: usize) -> (f64, u64) {
    let npairs = threads / 2;
    let rounds = (per_thread / 64).max(1);
    let barrier = Arc::new(Barrier::new(2 * npairs + 1));
    let mut hs = Vec::new();
    for p in 0..npairs {
        let q = Arc::new(ArrayQueue::<Batch>::new(16));
        let done = Arc::new(AtomicBool::new(false));
        let (qp, bp, dp) = (q.clone(), barrier.clone(), done.clone());
        hs.push(std::thread::spawn(move || {
            let mut rng = Rng::new(300 + p as u64);
            bp.wait();
            for r in 0..rounds {
                let mut b = Batch::make(&mut rng, 64, 256, 256, r as u8);
                while let Err(back) = qp.push(b) {
                    b = back;
                    std::thread::yield_now(); // a full queue: let the consumer run
                }
            }
            dp.store(true, Ordering::Release);
        }));
        let bc = barrier.clone();
        hs.push(std::thread::spawn(move || {
            bc.wait();
            loop {
                match q.pop() {
                    Some(b) => b.free(),
                    None if done.load(Ordering::Acquire) && q.is_empty() => break,
                    None => std::thread::yield_now(),
                }
            }
        }));
    }
    barrier.wait();
    let t0 = Instant::now();
    for h in hs {
        h.join().unwrap();
    }
    (t0.elapsed().as_secs_f64(), (npairs * rounds * 64) as u64)
}

/// serde_json DOM parse + serialize of three generated documents, `reps` times each.
fn json_docs(reps: usize) -> String {
    let docs = [
        ("tweets", tweets(3000)),
        ("events", events(2500)),
        ("geojson", geojson(400)),
    ];
    let mut out = Vec::new();
    for (name, doc) in &docs {
        let t0 = Instant::now();
        let mut bytes = 0;
        for _ in 0..reps {
            let v: serde_json::Value = serde_json::from_str(doc).expect("valid JSON");
            let s = serde_json::to_string(&v).unwrap();
            bytes += s.len();
        }
        assert!(
            bytes >= doc.len() / 2 * reps,
            "the round trip lost the document"
        );
        let ns = t0.elapsed().as_secs_f64() * 1e9 / reps as f64;
        out.push(format!(
            r#""{name}_ns":{ns:.0},"{name}_bytes":{}"#,
            doc.len()
        ));
    }
    out.join(",")
}

fn words(rng: &mut Rng, n: usize) -> String {
    const W: [&str; 12] = [
        "rust", "alloc", "memory", "pool", "thread", "cache", "span", "page", "free", "heap",
        "scale", "decay",
    ];
    (0..n)
        .map(|_| W[rng.below(W.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A tweet timeline: objects with a nested user, text, counts and entity arrays.
fn tweets(n: usize) -> String {
    let mut rng = Rng::new(21);
    let items: Vec<String> = (0..n)
        .map(|i| {
            let tags: Vec<String> = (0..rng.below(4))
                .map(|_| format!(r#"{{"text":"{}","indices":[{},{}]}}"#, words(&mut rng, 1), rng.below(100), rng.below(140)))
                .collect();
            format!(
                r#"{{"id":{},"created_at":"Fri Dec 04 12:{:02}:{:02} +0000 2026","text":"{}","user":{{"id":{},"screen_name":"user_{}","name":"{}","followers_count":{},"verified":{}}},"retweet_count":{},"favorite_count":{},"entities":{{"hashtags":[{}],"urls":[]}},"lang":"en"}}"#,
                1_000_000_000_000u64 + i as u64,
                rng.below(60),
                rng.below(60),
                words(&mut rng, 12),
                rng.below(1 << 30),
                rng.below(100_000),
                words(&mut rng, 2),
                rng.below(1_000_000),
                rng.below(2) == 0,
                rng.below(5000),
                rng.below(20000),
                tags.join(",")
            )
        })
        .collect();
    format!(
        r#"{{"statuses":[{}],"search_metadata":{{"count":{n}}}}}"#,
        items.join(",")
    )
}

/// An event catalogue: nested venues, dates as strings, price lists.
fn events(n: usize) -> String {
    let mut rng = Rng::new(22);
    let items: Vec<String> = (0..n)
        .map(|i| {
            let prices: Vec<String> = (0..1 + rng.below(5))
                .map(|k| format!(r#"{{"zone":"Z{k}","amount":{}.{:02},"currency":"EUR"}}"#, 10 + rng.below(200), rng.below(100)))
                .collect();
            format!(
                r#"{{"id":"ev-{i}","name":"{}","start":"2026-{:02}-{:02}T{:02}:00:00Z","venue":{{"name":"{}","city":"City {}","geo":{{"lat":{:.5},"lon":{:.5}}}}},"prices":[{}],"tags":["{}","{}"]}}"#,
                words(&mut rng, 4),
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(24),
                words(&mut rng, 2),
                rng.below(500),
                rng.below(180_000) as f64 / 1000.0 - 90.0,
                rng.below(360_000) as f64 / 1000.0 - 180.0,
                prices.join(","),
                words(&mut rng, 1),
                words(&mut rng, 1)
            )
        })
        .collect();
    format!(r#"{{"events":[{}]}}"#, items.join(","))
}

/// GeoJSON: a FeatureCollection of polygons with float coordinate arrays.
fn geojson(n: usize) -> String {
    let mut rng = Rng::new(23);
    let items: Vec<String> = (0..n)
        .map(|i| {
            let ring: Vec<String> = (0..40 + rng.below(80))
                .map(|_| {
                    format!(
                        "[{:.6},{:.6}]",
                        rng.below(360_000_000) as f64 / 1e6 - 180.0,
                        rng.below(180_000_000) as f64 / 1e6 - 90.0
                    )
                })
                .collect();
            format!(
                r#"{{"type":"Feature","id":{i},"properties":{{"name":"{}","population":{}}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}}"#,
                words(&mut rng, 2),
                rng.below(10_000_000),
                ring.join(",")
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        items.join(",")
    )
}
