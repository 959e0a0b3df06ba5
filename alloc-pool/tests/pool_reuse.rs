//! Pool<T>: reuse (same object, reset ran), no state leaks between users, into_inner, discard,
//! the retain check, the idle cap, and the stats equations.

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

mod pool_common;

use std::collections::{HashMap, VecDeque};

use alloc_pool::{Pool, PoolStats, Pooled, Reset, RingPool};
use pool_common::Ledger;

#[test]
fn get_drop_get_returns_the_same_object_reset() {
    let pool: Pool<Vec<u32>> = Pool::new(|| Vec::with_capacity(100));
    let (addr, buf_addr) = {
        let mut v = pool.get();
        v.extend(0..50);
        (&*v as *const Vec<u32>, v.as_ptr())
    };
    let v = pool.get();
    assert_eq!(&*v as *const Vec<u32>, addr, "same object");
    assert_eq!(v.as_ptr(), buf_addr, "same heap buffer");
    assert!(v.is_empty(), "reset ran");
    assert!(v.capacity() >= 100, "capacity kept");
    let s = pool.stats();
    assert_eq!((s.gets, s.hits, s.misses, s.puts), (2, 1, 1, 1));
}

#[test]
fn reset_impls_clear_std_collections() {
    let p1: Pool<String> = Pool::new(String::new);
    p1.get().push_str("old");
    assert_eq!(&*p1.get(), "");

    let p2: Pool<HashMap<String, u32>> = Pool::new(HashMap::new);
    p2.get().insert("k".into(), 1);
    assert!(p2.get().is_empty());

    let p3: Pool<VecDeque<u8>> = Pool::new(VecDeque::new);
    p3.get().push_back(1);
    assert!(p3.get().is_empty());

    let p4: Pool<Box<Vec<u8>>> = Pool::new(|| Box::new(vec![1]));
    assert_eq!(p4.get().len(), 1); // the constructor's own state is the user's business
    p4.get().push(2); // reused object: was reset to empty, now [2]
    assert!(p4.get().is_empty());
}

/// A request struct: what one user writes must never be seen by the next.
#[derive(Default)]
struct Request {
    user: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Reset for Request {
    fn reset(&mut self) {
        self.user.reset();
        self.headers.reset();
        self.body.reset();
    }
}

#[test]
fn no_state_leaks_between_users() {
    let pool = Pool::new(Request::default);
    for i in 0..200 {
        // Hold a few at once so both the slot and the shared store are exercised.
        let mut held: Vec<Pooled<'_, Request>> = (0..(i % 5 + 1)).map(|_| pool.get()).collect();
        for r in held.iter_mut() {
            assert!(r.user.is_empty() && r.headers.is_empty() && r.body.is_empty());
            r.user = format!("user-{i}");
            r.headers
                .insert("authorization".into(), format!("secret-{i}"));
            r.body.extend_from_slice(b"private payload");
        }
    }
    let s = pool.stats();
    assert!(s.hits > s.misses, "objects were reused: {s}");
    assert_eq!(s.misses, 5, "never more than the 5 held at once were built");
}

#[test]
fn with_reset_closure_runs_before_reuse() {
    struct Conn {
        in_tx: bool,
    }
    let pool = Pool::with_reset(|| Conn { in_tx: false }, |c| c.in_tx = false);
    pool.get().in_tx = true;
    assert!(!pool.get().in_tx);
}

#[test]
fn into_inner_takes_the_object_out_for_good() {
    let ledger = Ledger::new(10);
    let l = ledger.clone();
    let pool = Pool::new(move || l.make());
    let mut t = pool.get();
    t.data.push(9);
    let owned = Pooled::into_inner(t);
    assert_eq!(owned.data, [9]);
    // The pool is empty again: the next get constructs.
    let next = pool.get();
    assert_ne!(next.id, owned.id);
    drop(next);
    drop(owned);
    let s = pool.stats();
    assert_eq!((s.misses, s.detached, s.puts, s.idle()), (2, 1, 1, 1));
    drop(pool);
    ledger.assert_all_dropped_once();
}

#[test]
fn discard_and_retain_if_drop_unfit_objects() {
    let pool = Pool::<Vec<u8>>::builder()
        .retain_if(|v| v.capacity() <= 1024)
        .build(|| Vec::with_capacity(64));
    pool.get().reserve(4096); // grew too big: not kept
    let small = pool.get();
    Pooled::discard(small);
    drop(pool.get()); // nothing idle: a third construction (addresses may repeat, counts don't)
    let s = pool.stats();
    assert_eq!(s.dropped_rejected, 2);
    assert_eq!(s.misses, 3);
    assert_eq!(s.idle(), 1);
}

#[test]
fn max_idle_caps_retained_objects() {
    let ledger = Ledger::new(100);
    let l = ledger.clone();
    let pool = Pool::builder().max_idle(3).build(move || l.make());
    let held: Vec<_> = (0..10).map(|_| pool.get()).collect();
    drop(held);
    // 1 in this thread's slot + 3 in the shared store; 6 dropped at the cap.
    assert_eq!(ledger.live(), 4);
    assert_eq!(pool.shared_idle(), 3);
    let s = pool.stats();
    assert_eq!(s.dropped_cap, 6);
    assert_eq!(s.idle(), 4);
    drop(pool);
    ledger.assert_all_dropped_once();
}

#[test]
fn max_idle_zero_keeps_nothing() {
    let pool = Pool::<Vec<u8>>::builder().max_idle(0).build(Vec::new);
    drop(pool.get());
    drop(pool.get());
    let s = pool.stats();
    assert_eq!((s.hits, s.misses, s.dropped_cap), (0, 2, 2));
}

#[test]
fn stats_equations_hold_after_mixed_use() {
    let ledger = Ledger::new(1000);
    let l = ledger.clone();
    let pool = Pool::builder().max_idle(4).build(move || l.make());
    let mut held = Vec::new();
    for i in 0..300usize {
        match i % 7 {
            0..=2 => held.push(pool.get()),
            3 => {
                if let Some(t) = held.pop() {
                    Pooled::discard(t);
                }
            }
            4 => {
                if let Some(t) = held.pop() {
                    drop(Pooled::into_inner(t));
                }
            }
            5 => held.truncate(held.len() / 2),
            _ => pool.trim(),
        }
    }
    let s: PoolStats = pool.stats();
    assert_eq!(s.gets, s.hits + s.misses);
    assert_eq!(s.in_use(), held.len() as u64);
    assert_eq!(
        s.misses as usize,
        ledger.built.load(std::sync::atomic::Ordering::SeqCst)
    );
    // Objects alive now = held + idle.
    assert_eq!(ledger.live(), held.len() + s.idle() as usize);
    drop(held);
    drop(pool);
    ledger.assert_all_dropped_once();
}

#[test]
fn ring_pool_reuses_and_caps() {
    let ledger = Ledger::new(100);
    let l = ledger.clone();
    let pool = RingPool::new(4, move || l.make());
    let id = {
        let mut t = pool.get();
        t.data.push(1);
        t.id
    };
    let t = pool.get();
    assert_eq!(t.id, id);
    assert!(t.data.is_empty(), "reset ran");
    drop(t);
    let held: Vec<_> = (0..10).map(|_| pool.get()).collect();
    drop(held);
    let s = pool.stats();
    assert_eq!(s.dropped_cap, 6, "ring of 4 keeps 4 of the 10");
    assert_eq!(s.idle(), 4);
    assert_eq!(s.gets, s.hits + s.misses);
    drop(pool);
    ledger.assert_all_dropped_once();
}

#[test]
fn ring_pool_prefill_counts() {
    let pool: RingPool<Vec<u8>> = RingPool::new(3, Vec::new).prefill(10);
    assert_eq!(pool.capacity(), 4);
    let s = pool.stats();
    assert_eq!((s.gets, s.misses, s.puts, s.idle()), (0, 4, 0, 4));
    drop(pool.get());
    let s = pool.stats();
    assert_eq!((s.gets, s.hits, s.puts, s.idle()), (1, 1, 1, 4));
}

#[test]
fn pool_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Pool<Vec<u8>>>();
    send_sync::<alloc_pool::BufferPool>();
    send_sync::<alloc_pool::BoundedPool<Vec<u8>>>();
    send_sync::<alloc_pool::RingPool<Vec<u8>>>();
    send_sync::<alloc_pool::TtlPool<Vec<u8>>>();
    // A guard may move to another thread and return the object there.
    fn send<T: Send>() {}
    send::<Pooled<'static, Vec<u8>>>();
    send_sync::<alloc_pool::PooledBuf<'static>>();
}

/// The rule behind `bounded_pool_bound_never_broken`: a detached object no longer counts
/// against the capacity, so the pool may build its replacement while the caller still holds
/// it (capacity + 1 objects alive, one of them the caller's own).
#[test]
fn bounded_pool_detached_object_frees_its_place_at_once() {
    let ledger = Ledger::new(4);
    let l = ledger.clone();
    let pool = alloc_pool::BoundedPool::new(1, move || l.make());
    let g = pool.get();
    assert!(pool.try_get().is_none(), "capacity 1, one out");
    let mine = alloc_pool::BoundedGuard::into_inner(g);
    assert_eq!(pool.live(), 0);
    let other = pool.try_get().expect("the place was freed by into_inner");
    assert_eq!(ledger.live(), 2, "the detached object and its replacement");
    assert_ne!(mine.id, other.id);
    drop((mine, other));
    assert_eq!((pool.live(), pool.idle(), ledger.live()), (1, 1, 1));
    assert_eq!(pool.stats().detached, 1);
}
