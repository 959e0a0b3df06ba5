//! Workloads that allocate through the *global* allocator (`Vec`, `String`, `BTreeMap`,
//! `HashMap`, thread spawns), run by the `wp-*` bins, each of which installs a different
//! `#[global_allocator]`. Whole-program effects (TLS access, thread caches, the allocator's
//! own start-up, its memory footprint) show up here and not in the direct benches.
//!
//! Usage: `wp-<allocator> <workload> [reps]`; prints one JSON line:
//! `{"alloc":..,"workload":..,"ns_per_op":[one per rep],"ops":..,"maxrss_kib":..}`.
//! Run one workload per process so that `maxrss_kib` (peak RSS) belongs to it.

use crate::{Rng, SizeDist};
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::Instant;

/// The workloads, by the name the script passes.
pub const WORKLOADS: [&str; 4] = ["strings", "btree", "hashmap", "threads"];

/// 200k `format!` strings, sorted, dropped. Returns the ops (strings).
pub fn strings() -> u64 {
    const N: usize = 200_000;
    let mut rng = Rng::new(42);
    let mut v: Vec<String> = (0..N)
        .map(|i| format!("item-{:08}-{i}", rng.next_u64() % 100_000_000))
        .collect();
    v.sort_unstable();
    black_box(&v);
    drop(v);
    N as u64
}

/// 100k inserts of random keys with small `String` values into a `BTreeMap`, then removal of
/// every key in another random order. Returns the ops (inserts + removes).
pub fn btree() -> u64 {
    const N: usize = 100_000;
    let mut rng = Rng::new(43);
    let keys: Vec<u64> = (0..N).map(|_| rng.next_u64()).collect();
    let mut map = BTreeMap::new();
    for &k in &keys {
        map.insert(k, (k % 1_000_000).to_string());
    }
    let mut order = keys;
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    for k in &order {
        black_box(map.remove(k));
    }
    assert!(map.is_empty());
    2 * N as u64
}

/// Word-count style: 200k inserts into a `HashMap<String, Vec<u32>>` over 50k distinct keys
/// (a `String` key built per insert, a `Vec` pushed to), then dropped. Returns the inserts.
pub fn hashmap() -> u64 {
    const N: u32 = 200_000;
    let mut rng = Rng::new(44);
    let mut map: HashMap<String, Vec<u32>> = HashMap::new();
    for i in 0..N {
        let key = format!("key{}", rng.below(50_000));
        map.entry(key).or_default().push(i);
    }
    black_box(&map);
    drop(map);
    N as u64
}

/// Thread start/exit: 200 threads one after another, each making 300 allocations of 8 B..1 KiB
/// (kept until the thread ends, then freed). Returns the ops (threads).
pub fn threads() -> u64 {
    const THREADS: u64 = 200;
    let sizes = SizeDist::Uniform { lo: 8, hi: 1024 };
    for t in 0..THREADS {
        std::thread::spawn(move || {
            let mut rng = Rng::new(t + 1);
            let blocks: Vec<Vec<u8>> = (0..300)
                .map(|_| vec![1u8; sizes.sample(&mut rng)])
                .collect();
            black_box(&blocks);
        })
        .join()
        .expect("worker thread panicked");
    }
    THREADS
}

/// Runs workload `name` once; returns its op count, or `None` for an unknown name.
pub fn run(name: &str) -> Option<u64> {
    Some(match name {
        "strings" => strings(),
        "btree" => btree(),
        "hashmap" => hashmap(),
        "threads" => threads(),
        _ => return None,
    })
}

/// `main` of every `wp-*` bin: `alloc` is the name of the global allocator it installed.
pub fn main(alloc: &str) {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: {} <{}> [reps]", args[0], WORKLOADS.join("|"));
        std::process::exit(2)
    };
    let Some(workload) = args.get(1) else { usage() };
    let reps: usize = match args.get(2).map(|r| r.parse()) {
        None => 3,
        Some(Ok(r)) if r > 0 => r,
        Some(_) => usage(),
    };
    let mut ns_per_op = Vec::with_capacity(reps);
    let mut ops = 0;
    for _ in 0..reps {
        let t = Instant::now();
        ops = run(workload).unwrap_or_else(|| usage());
        ns_per_op.push(t.elapsed().as_nanos() as f64 / ops as f64);
    }
    let list: Vec<String> = ns_per_op.iter().map(|x| format!("{x:.1}")).collect();
    println!(
        "{{\"alloc\":\"{alloc}\",\"workload\":\"{workload}\",\"ns_per_op\":[{}],\"ops\":{ops},\"maxrss_kib\":{}}}",
        list.join(","),
        crate::peak_rss_kib()
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_workload_runs_and_counts_its_ops() {
        assert_eq!(super::run("btree"), Some(200_000));
        assert_eq!(super::run("threads"), Some(200));
        assert_eq!(super::run("nope"), None);
    }
}
