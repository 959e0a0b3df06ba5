//! loom model checks of the lock-free RingPool and of BoundedPool's bound. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p alloc-pool --release --test pool_loom`
//! (compiled out otherwise).
#![cfg(loom)]

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

mod pool_common;

use std::sync::atomic::Ordering::SeqCst;

use alloc_pool::{BoundedPool, RingPool};
use loom::sync::Arc;
use loom::thread;
use pool_common::Ledger;

/// loom's exhaustive search, with preemptions bounded to 3 per execution (the usual bound:
/// keeps the three-thread models to seconds; bugs needing more preemptions are rare).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// Two threads get and return through a ring of 2 while the main thread does too: no object is
/// handed to two users (Tracked::begin), values cross threads intact, nothing is lost or
/// dropped twice.
#[test]
fn ring_pool_handoff() {
    model(|| {
        let ledger = Ledger::new(16);
        let l = ledger.clone();
        let pool = Arc::new(RingPool::new(2, move || l.make()).prefill(1));
        let workers: Vec<_> = (0..2)
            .map(|i| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let mut t = pool.get();
                    t.begin();
                    assert!(t.data.is_empty());
                    t.data.push(i);
                    t.end();
                })
            })
            .collect();
        {
            let t = pool.get();
            t.begin();
            assert!(t.data.is_empty());
            t.end();
        }
        for w in workers {
            w.join().unwrap();
        }
        let s = pool.stats();
        assert_eq!(s.gets, 3);
        assert_eq!(s.in_use(), 0);
        assert!(ledger.live() <= 2);
        drop(pool);
        ledger.assert_all_dropped_once();
    });
}

/// Concurrent pushes into a full ring and pops from an empty one.
#[test]
fn ring_pool_full_and_empty_races() {
    model(|| {
        let ledger = Ledger::new(16);
        let l = ledger.clone();
        let pool = Arc::new(RingPool::new(2, move || l.make()));
        let p2 = pool.clone();
        let a = thread::spawn(move || {
            let x = p2.get();
            let y = p2.get();
            let z = p2.get();
            drop((x, y, z)); // three into a ring of two: one dropped at the cap
        });
        let b = {
            let p3 = pool.clone();
            thread::spawn(move || drop(p3.get()))
        };
        a.join().unwrap();
        b.join().unwrap();
        let s = pool.stats();
        assert_eq!(s.gets, s.hits + s.misses);
        assert_eq!(s.idle() as usize, ledger.live());
        assert!(ledger.live() <= 2);
        drop(pool);
        ledger.assert_all_dropped_once();
    });
}

/// BoundedPool(1): two threads block for the one object; never two alive.
#[test]
fn bounded_pool_bound() {
    model(|| {
        let ledger = Ledger::new(8);
        let l = ledger.clone();
        let pool = Arc::new(BoundedPool::new(1, move || l.make()));
        let ws: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let t = pool.get();
                    t.begin();
                    assert!(pool.live() <= 1);
                    t.end();
                })
            })
            .collect();
        if let Some(t) = pool.try_get() {
            t.begin();
            t.end();
        }
        for w in ws {
            w.join().unwrap();
        }
        assert_eq!(ledger.built.load(SeqCst), 1);
        assert!(ledger.max_live.load(SeqCst) <= 1);
        drop(pool);
        ledger.assert_all_dropped_once();
    });
}
