//! Idle release: trim drops objects idle across two trims and keeps the rest (victim cache);
//! TTL drops only expired objects (injected clock, never wall time); automatic trimming.

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

mod pool_common;

use std::collections::HashSet;
use std::time::Duration;

use alloc_pool::{ManualClock, Pool, TtlPool};
use pool_common::Ledger;

#[test]
fn trim_drops_objects_idle_for_two_trims_and_keeps_the_rest() {
    let ledger = Ledger::new(100);
    let l = ledger.clone();
    let pool = Pool::new(move || l.make());
    // Five idle objects: one in this thread's slot, four in the shared store.
    let held: Vec<_> = (0..5).map(|_| pool.get()).collect();
    drop(held);
    pool.trim(); // first trim: all five survive, as victims
    assert_eq!(ledger.live(), 5);
    assert_eq!(pool.stats().dropped_trim, 0);
    // Two are used between the trims: young again.
    let a = pool.get();
    let b = pool.get();
    let young: HashSet<usize> = [a.id, b.id].into();
    drop((a, b));
    pool.trim(); // second trim: the three untouched ones go
    assert_eq!(pool.stats().dropped_trim, 3);
    assert_eq!(ledger.live(), 2);
    // The survivors are exactly the two used in between.
    let c = pool.get();
    let d = pool.get();
    assert_eq!(HashSet::from([c.id, d.id]), young);
    drop((c, d));
    assert_eq!(pool.stats().misses, 5, "no construction was needed");
    // Idle through two more trims: everything goes.
    pool.trim();
    pool.trim();
    assert_eq!(ledger.live(), 0);
    assert_eq!(pool.stats().dropped_trim, 5);
    drop(pool);
    ledger.assert_all_dropped_once();
}

#[test]
fn one_trim_drops_nothing() {
    let pool: Pool<Vec<u8>> = Pool::new(Vec::new);
    let held: Vec<_> = (0..4).map(|_| pool.get()).collect();
    drop(held);
    for _ in 0..10 {
        pool.trim();
        // Used between every pair of trims: never dropped.
        let held: Vec<_> = (0..4).map(|_| pool.get()).collect();
        drop(held);
    }
    let s = pool.stats();
    assert_eq!((s.misses, s.dropped_trim), (4, 0));
}

#[test]
fn another_threads_slot_is_aged_lazily() {
    let pool: Pool<Vec<u8>> = Pool::new(Vec::new);
    // Register this thread first: thread IDs are recycled, and a thread that first uses the
    // pool after another exited may inherit (and age) the dead thread's slot.
    pool.trim();
    std::thread::scope(|s| {
        s.spawn(|| drop(pool.get())).join().unwrap(); // leaves one object in that thread's slot
    });
    pool.trim();
    pool.trim();
    // The other thread's slot object can't be dropped from here without an atomic on the
    // fast path; it is counted idle until that thread (or its ID's next owner) takes it, or
    // the pool drops.
    let s = pool.stats();
    assert_eq!((s.misses, s.dropped_trim, s.idle()), (1, 0, 1));
}

#[test]
fn ttl_drops_only_expired_objects() {
    let clock = ManualClock::new();
    let ledger = Ledger::new(100);
    let l = ledger.clone();
    let pool = TtlPool::with_clock(Duration::from_secs(60), clock.clone(), move || l.make());
    // t = 0: three go idle.
    let old: Vec<_> = (0..3).map(|_| pool.get()).collect();
    let old_ids: HashSet<usize> = old.iter().map(|t| t.id).collect();
    drop(old);
    // t = 40: two of them are used again (no construction).
    clock.advance(Duration::from_secs(40));
    let mid: Vec<_> = (0..2).map(|_| pool.get()).collect();
    let mid_ids: HashSet<usize> = mid.iter().map(|t| t.id).collect();
    drop(mid); // these two are idle since t = 40
               // t = 90: the one idle since t = 0 (61 s+) is expired; the two idle since t = 40 are not.
    clock.advance(Duration::from_secs(50));
    pool.trim();
    let s = pool.stats();
    assert_eq!(s.dropped_trim, 1);
    assert_eq!(ledger.live(), 2);
    // Trims without time passing drop nothing more (no two-trims rule with a TTL).
    pool.trim();
    pool.trim();
    assert_eq!(ledger.live(), 2);
    let a = pool.get();
    let b = pool.get();
    assert_eq!(
        HashSet::from([a.id, b.id]),
        mid_ids,
        "the survivors are the ones used at t = 40"
    );
    assert!(mid_ids.is_subset(&old_ids));
    drop((a, b));
    assert_eq!(pool.stats().misses, 3);
    drop(pool);
    ledger.assert_all_dropped_once();
}

#[test]
fn ttl_expires_on_access_too() {
    let clock = ManualClock::new();
    let pool: TtlPool<String> =
        TtlPool::with_clock(Duration::from_millis(500), clock.clone(), String::new);
    let held: Vec<_> = (0..3).map(|_| pool.get()).collect(); // slot + shared store
    drop(held);
    clock.advance(Duration::from_millis(501));
    drop(pool.get()); // all three expired: dropped on this access, one built
    let s = pool.stats();
    assert_eq!((s.hits, s.misses, s.dropped_trim), (0, 4, 3));
    clock.advance(Duration::from_millis(499));
    drop(pool.get()); // not expired: reused
    assert_eq!(pool.stats().hits, 1);
}

#[test]
fn auto_trim_runs_from_slow_paths() {
    let clock = ManualClock::new();
    let pool = Pool::<Vec<u8>>::builder()
        .auto_trim(Duration::from_secs(1))
        .clock(clock.clone())
        .build(Vec::new);
    let held: Vec<_> = (0..6).map(|_| pool.get()).collect();
    drop(held); // 1 in the slot, 5 shared, all idle at epoch 0
    for _ in 0..2 {
        clock.advance(Duration::from_secs(2));
        // Two gets: the slot, then the slow path (which trims first).
        let a = pool.get();
        let b = pool.get();
        drop((a, b));
    }
    // Two automatic trims: the 4 shared objects idle across both were dropped.
    let s = pool.stats();
    assert_eq!(s.dropped_trim, 4, "{s}");
    assert_eq!(s.misses, 6);
}
