//! [`RingPool<T>`]: a lock-free, fixed-capacity pool over a ring buffer (Dmitry Vyukov's
//! bounded MPMC queue), for the lowest latency when a lock or thread-local lookup is too much.
//! Model-checked with loom (`sync.rs`, `tests/pool_loom.rs`).
//!
//! # Algorithm and memory ordering
//!
//! `capacity` (a power of two, at least 2) slots, each with a sequence number `seq` and a value
//! cell. `tail` counts pushes started, `head` pops started (both only grow, wrapping). For a
//! position `pos`, slot `pos & mask`:
//! - it is free for the push at `pos` when `seq == pos`;
//! - it holds the value of the push at `pos`, ready for the pop at `pos`, when `seq == pos + 1`;
//! - after that pop it becomes free for the push at `pos + capacity`: `seq = pos + capacity`.
//!
//! Push: load `tail` (Relaxed), load the slot's `seq` (**Acquire**); if `seq == tail`, claim the
//! position with a CAS on `tail` (Relaxed), write the value, then store `seq = pos + 1`
//! (**Release**). If `seq < tail` the ring is full (the slot still holds a value a lap behind).
//! Pop mirrors it with `head`, expecting `seq == pos + 1`, and stores `seq = pos + capacity`
//! (**Release**) after moving the value out.
//!
//! Why these orderings suffice: the only data handed between threads is a slot's value, and
//! every hand-over goes through that slot's `seq`. The pusher's Release store of `pos + 1`
//! happens after its write of the value; the popper's Acquire load that sees `pos + 1`
//! synchronizes with it, so the popper reads the complete value. Symmetrically, the popper's
//! Release store of `pos + capacity` happens after it moved the value out, and the next
//! pusher's Acquire load that sees it synchronizes with it, so the write of the new value cannot
//! overlap the read of the old one. The CAS on `head`/`tail` only decides *which* thread owns a
//! position; it publishes no data, so Relaxed is enough (a thread that loses the CAS or reads a
//! stale counter just retries with the value it got, and `seq` tells it the truth about the
//! slot). `seq` values compared as wrapping differences (`isize`) stay correct across
//! `usize` overflow because positions in flight are always within `capacity` of each other.
//!
//! Progress: a push or pop completes in a bounded number of steps unless another thread is
//! preempted between its CAS and its `seq` store; then only operations on that one slot wait
//! (they see "full"/"empty" and fall back to the constructor / dropping, so a pool user never
//! blocks).

use std::fmt;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crossbeam_utils::CachePadded;

use super::reset::Reset;
use super::stats::PoolStats;
use super::sync::{AtomicUsize, Ordering, UnsafeCell};

type Ctor<T> = Box<dyn Fn() -> T + Send + Sync>;
type ResetBox<T> = Box<dyn Fn(&mut T) + Send + Sync>;

struct Slot<T> {
    seq: AtomicUsize,
    val: UnsafeCell<MaybeUninit<T>>,
}

/// A lock-free pool of at most `capacity` idle objects.
///
/// `get` pops an idle object (one CAS) or calls the constructor when the ring is empty; dropping
/// the guard resets the object and pushes it (one CAS), or drops it when the ring is full
/// (`dropped_cap`). No thread-local, no lock, no allocation in steady state. Idle objects are
/// not aged (no trim): the ring is the cap.
///
/// Counters: `hits` and kept puts are the ring's own `head`/`tail` positions, so the fast path
/// pays nothing for stats.
///
/// ```
/// use alloc_pool::RingPool;
///
/// let pool: RingPool<Vec<u64>> = RingPool::new(8, Vec::new);
/// pool.get().push(1);
/// assert!(pool.get().is_empty());
/// assert_eq!(pool.stats().hits, 1);
/// assert_eq!(pool.capacity(), 8);
/// ```
pub struct RingPool<T> {
    /// Next pop position.
    head: CachePadded<AtomicUsize>,
    /// Next push position.
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    mask: usize,
    ctor: Ctor<T>,
    reset: ResetBox<T>,
    misses: AtomicU64,
    prefilled: AtomicU64,
    dropped_cap: AtomicU64,
    rejected: AtomicU64,
    detached: AtomicU64,
}

// SAFETY: values are moved into and out of slots by value, each slot value by exactly one
// thread at a time (the one that won the position's CAS, ordered by `seq`, see the module docs);
// no `&T` is ever shared between threads through the pool. So sending or sharing the pool only
// moves `T`s between threads, which `T: Send` allows. The closures are `Send + Sync`.
unsafe impl<T: Send> Send for RingPool<T> {}
// SAFETY: see `Send` above.
unsafe impl<T: Send> Sync for RingPool<T> {}

impl<T: Send + 'static> RingPool<T> {
    /// A ring of `capacity` idle objects (rounded up to a power of two, at least 2), built with
    /// `ctor` and wiped with [`Reset`].
    pub fn new(capacity: usize, ctor: impl Fn() -> T + Send + Sync + 'static) -> Self
    where
        T: Reset,
    {
        Self::with_reset(capacity, ctor, T::reset)
    }

    /// As [`new`](RingPool::new), wiping objects with `reset`.
    pub fn with_reset(
        capacity: usize,
        ctor: impl Fn() -> T + Send + Sync + 'static,
        reset: impl Fn(&mut T) + Send + Sync + 'static,
    ) -> Self {
        let cap = capacity.max(2).next_power_of_two();
        let slots = (0..cap)
            .map(|i| Slot {
                seq: AtomicUsize::new(i),
                val: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        RingPool {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots,
            mask: cap - 1,
            ctor: Box::new(ctor),
            reset: Box::new(reset),
            misses: AtomicU64::new(0),
            prefilled: AtomicU64::new(0),
            dropped_cap: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            detached: AtomicU64::new(0),
        }
    }

    /// Builds `n` objects now (at most the capacity) so that the first gets hit.
    pub fn prefill(self, n: usize) -> Self {
        for _ in 0..n.min(self.capacity()) {
            let obj = (self.ctor)();
            if self.push(obj).is_err() {
                unreachable!("a pool being built has no other users");
            }
            self.misses.fetch_add(1, Relaxed);
            self.prefilled.fetch_add(1, Relaxed);
        }
        self
    }

    /// The most idle objects kept.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// An idle object, or a new one when the ring is empty.
    #[inline]
    pub fn get(&self) -> RingGuard<'_, T> {
        let obj = match self.pop() {
            Some(obj) => obj,
            None => self.construct_slow(),
        };
        RingGuard {
            pool: self,
            obj: ManuallyDrop::new(obj),
        }
    }

    #[cold]
    #[inline(never)]
    fn construct_slow(&self) -> T {
        self.misses.fetch_add(1, Relaxed);
        (self.ctor)()
    }

    #[inline]
    fn put(&self, mut obj: T) {
        (self.reset)(&mut obj);
        if let Err(obj) = self.push(obj) {
            self.drop_full(obj);
        }
    }

    #[cold]
    #[inline(never)]
    fn drop_full(&self, obj: T) {
        self.dropped_cap.fetch_add(1, Relaxed);
        drop(obj);
    }

    /// Pushes at `tail`; gives the value back if the ring is full.
    #[inline]
    fn push(&self, value: T) -> Result<(), T> {
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            // Acquire: pairs with the Release `seq` store of the pop that emptied this slot, so
            // our write below cannot overlap its read.
            let seq = slot.seq.load(Ordering::Acquire);
            let dif = seq.wrapping_sub(pos) as isize;
            if dif == 0 {
                // Relaxed: the CAS only elects the owner of `pos`; `seq` carries the data.
                match self.tail.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: winning the CAS for `pos` while `seq == pos` makes this thread
                        // the only one that may touch the slot's value until it stores
                        // `seq = pos + 1`; the slot is empty (uninit), so nothing is leaked.
                        slot.val.with_mut(|p| unsafe { (*p).write(value) });
                        // Release: publishes the value to the pop that will Acquire `pos + 1`.
                        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(cur) => pos = cur,
                }
            } else if dif < 0 {
                // The slot still holds the value pushed a lap ago: full.
                return Err(value);
            } else {
                // Another push took `pos`; catch up.
                pos = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Pops at `head`; `None` if the ring is empty.
    #[inline]
    fn pop(&self) -> Option<T> {
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            // Acquire: pairs with the Release `seq` store of the push that filled this slot.
            let seq = slot.seq.load(Ordering::Acquire);
            let dif = seq.wrapping_sub(pos.wrapping_add(1)) as isize;
            if dif == 0 {
                match self.head.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: winning the CAS for `pos` while `seq == pos + 1` makes this
                        // thread the only reader of the value the push at `pos` wrote (and
                        // published with Release, which our Acquire load saw); after the read
                        // the slot is logically uninit again.
                        let value = slot.val.with_mut(|p| unsafe { (*p).assume_init_read() });
                        // Release: hands the now-empty slot to the push at `pos + capacity`.
                        slot.seq
                            .store(pos.wrapping_add(self.mask + 1), Ordering::Release);
                        return Some(value);
                    }
                    Err(cur) => pos = cur,
                }
            } else if dif < 0 {
                // The push at `pos` has not completed: empty (for us).
                return None;
            } else {
                pos = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// The counters: `hits` = pops, kept puts = pushes (the ring positions); `gets = hits +
    /// misses` (less prefilled objects); `puts` = kept + `dropped_cap` + discarded.
    pub fn stats(&self) -> PoolStats {
        let hits = self.head.load(Ordering::Relaxed) as u64;
        let pushes = self.tail.load(Ordering::Relaxed) as u64;
        let misses = self.misses.load(Relaxed);
        let dropped_cap = self.dropped_cap.load(Relaxed);
        // Prefilled objects were built and pushed without a get: misses, but neither gets nor
        // puts.
        let pre = self.prefilled.load(Relaxed);
        PoolStats {
            gets: (hits + misses).saturating_sub(pre),
            hits,
            misses,
            puts: (pushes + dropped_cap + self.rejected.load(Relaxed)).saturating_sub(pre),
            dropped_cap,
            dropped_rejected: self.rejected.load(Relaxed),
            detached: self.detached.load(Relaxed),
            ..PoolStats::default()
        }
    }
}

impl<T> Drop for RingPool<T> {
    fn drop(&mut self) {
        // Exclusive access: drop the values in slots `head..tail` (all pushes completed, since
        // no thread can hold a reference to the pool any more).
        let mut pos = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        while pos != tail {
            let slot = &self.slots[pos & self.mask];
            // SAFETY: with `&mut self`, every position in `head..tail` holds an initialized
            // value (a completed push not yet popped), each dropped once here.
            slot.val.with_mut(|p| unsafe { (*p).assume_init_drop() });
            pos = pos.wrapping_add(1);
        }
    }
}

impl<T> fmt::Debug for RingPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingPool")
            .field("capacity", &(self.mask + 1))
            .finish_non_exhaustive()
    }
}

/// An object borrowed from a [`RingPool`]; derefs to `T`; reset and returned on drop.
pub struct RingGuard<'a, T: Send + 'static> {
    pool: &'a RingPool<T>,
    obj: ManuallyDrop<T>,
}

impl<T: Send + 'static> RingGuard<'_, T> {
    /// Takes the object out for good (counted in `detached`).
    pub fn into_inner(this: Self) -> T {
        let mut this = ManuallyDrop::new(this);
        this.pool.detached.fetch_add(1, Relaxed);
        // SAFETY: `this` is never used again and its `Drop` is suppressed: taken once.
        unsafe { ManuallyDrop::take(&mut this.obj) }
    }

    /// Drops the object instead of returning it (counted in `dropped_rejected`).
    pub fn discard(this: Self) {
        let mut this = ManuallyDrop::new(this);
        this.pool.rejected.fetch_add(1, Relaxed);
        // SAFETY: as in `into_inner`.
        drop(unsafe { ManuallyDrop::take(&mut this.obj) });
    }
}

impl<T: Send + 'static> Deref for RingGuard<'_, T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.obj
    }
}

impl<T: Send + 'static> DerefMut for RingGuard<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.obj
    }
}

impl<T: Send + 'static> Drop for RingGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `obj` is not used afterwards.
        let obj = unsafe { ManuallyDrop::take(&mut self.obj) };
        self.pool.put(obj);
    }
}

impl<T: Send + fmt::Debug + 'static> fmt::Debug for RingGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
