//! Cross-thread frees at many threads: producer→consumer pairs hand blocks over in batches and
//! the consumer frees them (they go back to the producer's central shard); producers exit while
//! their consumers still free their blocks; a ring passes blocks around. Every block carries a
//! pattern derived from its producer and sequence number, checked before it is freed, so a
//! block handed out twice or corrupted by the heap fails the test.

use std::sync::mpsc;

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

struct Msg(Vec<Box<[u64]>>);

fn block(producer: u64, seq: u64, rng: &mut u64) -> Box<[u64]> {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let words = 2 + (*rng % 300) as usize; // 16 B .. 2.4 KiB
    let tag = producer << 40 | seq;
    (0..words as u64).map(|i| tag ^ i).collect()
}

fn check(b: &[u64]) -> u64 {
    let tag = b[0];
    for (i, &w) in b.iter().enumerate() {
        assert_eq!(
            w,
            tag ^ i as u64,
            "a handed-over block was corrupted or shared"
        );
    }
    tag
}

#[test]
fn producer_consumer_pairs_at_many_threads() {
    const PAIRS: u64 = 8;
    const BATCHES: u64 = 300;
    let mut consumers = Vec::new();
    for p in 0..PAIRS {
        let (tx, rx) = mpsc::sync_channel::<Msg>(4);
        std::thread::spawn(move || {
            let mut rng = 0x9e37_79b9 ^ (p + 1);
            for batch in 0..BATCHES {
                let v = (0..64)
                    .map(|i| block(p, batch * 64 + i, &mut rng))
                    .collect();
                tx.send(Msg(v)).unwrap();
            }
            // The producer exits here, its thread cache flushed, while its consumer still
            // frees the blocks it made.
        });
        consumers.push(std::thread::spawn(move || {
            let mut next = 0u64;
            for Msg(v) in rx {
                for b in v {
                    assert_eq!(check(&b), p << 40 | next, "blocks arrive in order");
                    next += 1;
                }
            }
            next
        }));
    }
    for c in consumers {
        assert_eq!(c.join().unwrap(), BATCHES * 64);
    }
}

#[test]
fn ring_hand_off_at_many_threads() {
    const THREADS: usize = 12;
    const ROUNDS: usize = 200;
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel::<Msg>()).unzip();
    let mut handles = Vec::new();
    for (t, rx) in rxs.into_iter().enumerate() {
        let tx = txs[(t + 1) % THREADS].clone();
        handles.push(std::thread::spawn(move || {
            let mut rng = 0x2545_f491 ^ t as u64;
            let mut freed = 0usize;
            let first = (0..32).map(|i| block(t as u64, i, &mut rng)).collect();
            tx.send(Msg(first)).unwrap();
            for round in 1..ROUNDS {
                let Msg(v) = rx.recv().unwrap();
                for b in v {
                    check(&b);
                    freed += 1;
                }
                let fresh = (0..32)
                    .map(|i| block(t as u64, (round * 32 + i) as u64, &mut rng))
                    .collect();
                tx.send(Msg(fresh)).unwrap();
            }
            let Msg(v) = rx.recv().unwrap();
            for b in &v {
                check(b);
            }
            freed + v.len()
        }));
    }
    drop(txs);
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, THREADS * ROUNDS * 32);
    GLOBAL.trim();
}

/// `trim` drains other threads' caches while they run: eight threads churn blocks with
/// patterns (and keep some across trims) while another thread trims in a loop; a block handed
/// out twice or taken from a cache while in use breaks a pattern.
#[test]
fn trims_drain_running_threads_without_breaking_them() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let trimmer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                GLOBAL.trim();
                n += 1;
                std::thread::yield_now();
            }
            n
        })
    };
    let workers: Vec<_> = (0..8u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = 0x5851_f42d ^ (t + 1);
                let mut keep: Vec<Box<[u64]>> = Vec::new();
                for round in 0..3000u64 {
                    let v: Vec<Box<[u64]>> = (0..32)
                        .map(|i| block(t, round * 32 + i, &mut rng))
                        .collect();
                    for b in &v {
                        check(b);
                    }
                    keep.extend(v.into_iter().step_by(5));
                    if keep.len() > 400 {
                        for b in keep.drain(..200) {
                            check(&b);
                        }
                    }
                }
                for b in &keep {
                    check(b);
                }
                keep.len()
            })
        })
        .collect();
    for w in workers {
        assert!(w.join().unwrap() > 0);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(trimmer.join().unwrap() > 0);
}

/// The tests above again, in a child process with eight central shards (a 2-core machine has
/// one by default, so the shard routing would otherwise go untested here).
#[test]
fn the_same_with_eight_shards() {
    if std::env::var_os("POOLALLOC_SHARDS").is_some() {
        return; // this is the child
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .env("POOLALLOC_SHARDS", "8")
        .args([
            "--test-threads",
            "2",
            "--skip",
            "the_same_with_eight_shards",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("3 passed"),
        "the child with eight shards failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
