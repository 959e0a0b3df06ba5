//! Many threads hammer each pool: nobody gets an object someone else holds, no state leaks,
//! the pools' bounds hold (BoundedPool's never broken), and every object constructed is dropped
//! exactly once at the end.

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

mod pool_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::Duration;

use alloc_pool::{
    BoundedGuard, BoundedPool, ManualClock, Pool, Pooled, RingGuard, RingPool, TtlPool,
};
use pool_common::{Ledger, Tracked};

const THREADS: usize = 8;
const ITERS: usize = 2000;

/// One use of an object: it must come clean, and it is marked with the user's stamp.
fn use_once(t: &mut Tracked, stamp: u64) {
    t.begin();
    assert!(
        t.data.is_empty(),
        "state leaked from a previous user: {:?}",
        t.data
    );
    t.data.extend_from_slice(&[stamp, stamp + 1]);
    assert_eq!(t.data, [stamp, stamp + 1]);
    t.end();
}

#[test]
fn pool_many_threads() {
    const MAX_IDLE: usize = 8;
    let ledger = Ledger::new(THREADS * ITERS * 3);
    let l = ledger.clone();
    let pool = Pool::builder().max_idle(MAX_IDLE).build(move || l.make());
    let (tx, rx) = mpsc::channel::<Pooled<'_, Tracked>>();
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let pool = &pool;
            let tx = tx.clone();
            s.spawn(move || {
                let mut rng = th as u64 * 7919 + 1;
                for i in 0..ITERS {
                    rng = rng
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let n = (rng >> 60) as usize % 3 + 1;
                    let mut held: Vec<_> = (0..n).map(|_| pool.get()).collect();
                    for t in held.iter_mut() {
                        use_once(t, (th * ITERS + i) as u64);
                    }
                    match (rng >> 32) % 16 {
                        0 => drop(Pooled::into_inner(held.pop().unwrap())),
                        1 => Pooled::discard(held.pop().unwrap()),
                        2 => pool.trim(),
                        // Returned by another thread.
                        3 => tx.send(held.pop().unwrap()).unwrap(),
                        _ => {}
                    }
                }
            });
        }
        drop(tx);
        // This thread drops the guards others sent: objects return from a foreign thread.
        for mut t in rx {
            assert_eq!(
                t.data.len(),
                2,
                "still the sender's data: the object was never shared"
            );
            t.data.clear();
            use_once(&mut t, 0);
        }
    });
    let s = pool.stats();
    assert_eq!(s.gets, s.hits + s.misses);
    assert_eq!(s.in_use(), 0);
    assert_eq!(s.misses as usize, ledger.built.load(SeqCst));
    assert_eq!(ledger.live() as u64, s.idle(), "{s}");
    // Idle bound: the shared store's cap + one slot per thread that used the pool.
    assert!(
        ledger.live() <= MAX_IDLE + THREADS + 1,
        "{} idle",
        ledger.live()
    );
    assert!(s.hit_rate() > 0.5, "{s}");
    drop(pool);
    ledger.assert_all_dropped_once();
}

#[test]
fn ring_pool_many_threads() {
    let ledger = Ledger::new(THREADS * ITERS * 3);
    let l = ledger.clone();
    let pool = RingPool::new(8, move || l.make());
    let held_now = AtomicUsize::new(0);
    let max_held = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let (pool, held_now, max_held) = (&pool, &held_now, &max_held);
            s.spawn(move || {
                for i in 0..ITERS {
                    let n = i % 3 + 1;
                    // Counted as held from before the gets until after the guards dropped,
                    // so an object is always in the ring or counted here.
                    let h = held_now.fetch_add(n, SeqCst) + n;
                    max_held.fetch_max(h, SeqCst);
                    let mut held: Vec<_> = (0..n).map(|_| pool.get()).collect();
                    for t in held.iter_mut() {
                        use_once(t, (th * ITERS + i) as u64);
                    }
                    if i % 97 == 0 {
                        RingGuard::discard(held.pop().unwrap());
                    }
                    drop(held);
                    held_now.fetch_sub(n, SeqCst);
                }
            });
        }
    });
    let s = pool.stats();
    assert_eq!(s.gets, s.hits + s.misses);
    assert_eq!(s.in_use(), 0);
    assert_eq!(ledger.live() as u64, s.idle(), "{s}");
    assert!(ledger.live() <= pool.capacity());
    // Never more alive than the ring holds plus what users hold at once.
    assert!(ledger.max_live.load(SeqCst) <= pool.capacity() + max_held.load(SeqCst));
    drop(pool);
    ledger.assert_all_dropped_once();
}

#[test]
fn bounded_pool_bound_never_broken() {
    const CAP: usize = 3;
    let ledger = Ledger::new(THREADS * ITERS);
    let l = ledger.clone();
    let checks = AtomicUsize::new(0);
    let pool = BoundedPool::new(CAP, move || l.make())
        // Every 10th validation fails: the object is dropped and rebuilt.
        .validate(move |_t| checks.fetch_add(1, SeqCst) % 10 != 9)
        .reset(|t| t.data.clear());
    let pool = &pool;
    let held_now = AtomicUsize::new(0);
    let timeouts = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let (held_now, timeouts) = (&held_now, &timeouts);
            s.spawn(move || {
                for i in 0..ITERS / 4 {
                    let g = match i % 3 {
                        0 => Some(pool.get()),
                        1 => pool.try_get(),
                        _ => pool.get_timeout(Duration::from_millis(1)),
                    };
                    let Some(mut g) = g else {
                        timeouts.fetch_add(1, SeqCst);
                        continue;
                    };
                    let h = held_now.fetch_add(1, SeqCst) + 1;
                    assert!(h <= CAP, "{h} objects held at once");
                    assert!(pool.live() <= CAP);
                    use_once(&mut g, (th * ITERS + i) as u64);
                    held_now.fetch_sub(1, SeqCst);
                    match i % 50 {
                        7 => BoundedGuard::discard(g),
                        8 => {
                            // A detached object is the caller's: `into_inner` frees its place
                            // at once, so the pool may build a replacement while this thread
                            // still holds (here: is about to drop) it. Only the objects the
                            // pool answers for are bounded.
                            g.mark_detached();
                            drop(BoundedGuard::into_inner(g))
                        }
                        _ => drop(g),
                    }
                }
            });
        }
    });
    assert!(
        ledger.max_live.load(SeqCst) <= CAP,
        "bound broken: {} objects the pool answers for (detached ones excluded)",
        ledger.max_live.load(SeqCst)
    );
    let s = pool.stats();
    assert_eq!(s.in_use(), 0);
    assert_eq!(pool.live(), ledger.live());
    assert_eq!(pool.live(), pool.idle());
    assert!(s.dropped_rejected > 0);
    assert_eq!(
        s.gets as usize + timeouts.load(SeqCst),
        THREADS * (ITERS / 4)
    );
}

#[test]
fn bounded_pool_drops_everything_once() {
    let ledger = Ledger::new(1000);
    let l = ledger.clone();
    let pool = BoundedPool::new(4, move || l.make());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    let a = pool.get();
                    drop(a);
                }
            });
        }
    });
    assert!(ledger.live() <= 4);
    drop(pool);
    ledger.assert_all_dropped_once();
}

#[test]
fn bounded_get_blocks_until_an_object_returns() {
    let pool = BoundedPool::new(1, || 0u32);
    let released = AtomicBool::new(false);
    let held = pool.get();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let g = pool.get(); // blocks: the only object is held
            assert!(
                released.load(SeqCst),
                "got an object while it was still held"
            );
            *g
        });
        let timed = s.spawn(|| {
            // Generous timeout: succeeds once the object is back (never a timing assertion).
            pool.get_timeout(Duration::from_secs(120)).map(|g| *g)
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(pool.try_get().is_none());
        assert!(pool.get_timeout(Duration::from_millis(1)).is_none());
        released.store(true, SeqCst);
        drop(held);
        assert_eq!(waiter.join().unwrap(), 0);
        assert_eq!(timed.join().unwrap(), Some(0));
    });
    assert_eq!(pool.stats().misses, 1);
}

#[test]
fn ttl_pool_many_threads_with_a_moving_clock() {
    let ledger = Ledger::new(THREADS * ITERS * 3);
    let l = ledger.clone();
    let clock = ManualClock::new();
    let pool = TtlPool::with_clock(Duration::from_millis(5), clock.clone(), move || l.make());
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let (pool, clock) = (&pool, &clock);
            s.spawn(move || {
                for i in 0..ITERS / 2 {
                    let mut held: Vec<_> = (0..(i % 2 + 1)).map(|_| pool.get()).collect();
                    for t in held.iter_mut() {
                        use_once(t, i as u64);
                    }
                    if th == 0 {
                        clock.advance(Duration::from_millis(1));
                        if i % 10 == 0 {
                            pool.trim();
                        }
                    }
                }
            });
        }
    });
    // Whatever expired during the run depends on scheduling; this part does not: three objects
    // go idle here, the clock passes the TTL, and trim drops (at least) those three.
    let before = pool.stats().dropped_trim;
    drop([pool.get(), pool.get(), pool.get()]);
    clock.advance(Duration::from_millis(6));
    pool.trim();
    let s = pool.stats();
    assert!(s.dropped_trim >= before + 3, "{s}");
    assert_eq!(ledger.live() as u64, s.idle(), "{s}");
    drop(pool);
    ledger.assert_all_dropped_once();
}
