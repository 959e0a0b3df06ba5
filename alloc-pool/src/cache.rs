//! The engine behind [`Pool`](super::Pool), [`TtlPool`](super::TtlPool) and each class of
//! [`BufferPool`](super::BufferPool): a per-thread private slot in front of a shared store,
//! like `sync.Pool`'s per-P `private` slot and shared chain, plus victim-cache aging.
//!
//! Paths (the fast path is the slot; everything else is `_slow`):
//! 1. `take`: this thread's slot (no lock, no atomic RMW: a thread-local lookup, one `Option`
//!    move and one relaxed load of the trim epoch) → the shared store (one uncontended mutex)
//!    → `None` (the caller constructs).
//! 2. `put`: the slot if empty → the shared store if under `max_idle` → dropped (`dropped_cap`).
//!
//! Aging: every idle object carries the trim epoch at which it went idle; `trim` bumps the
//! epoch and drops shared objects idle for two epochs (`epoch - stamp >= 2`: survived one trim
//! as a "victim", dropped at the second, as Go does at GCs). Another thread's slot cannot be
//! touched without an atomic on the fast path, so a slot object is aged lazily: dropped when
//! its thread next takes it, by that thread's own `trim`, or with the pool. With a TTL the
//! epoch rule is off: an object expires when idle longer than the TTL, and only then.
//!
//! Invariant: idle objects `<= max_idle` (shared store) `+ 1` per thread that used the pool.
//!
//! Byte budget (BufferPool): `budget.used == Σ weight(shared objects) + Σ slot reservations`,
//! and a slot's reservation `>=` the weight of the object in it; every reservation succeeds
//! only if it keeps `used <= max`, so the bytes retained never exceed the cap. A slot keeps its
//! reservation while its object is out (at most one object's worth per thread and class); the
//! owning thread's `trim` or the pool's drop gives it back.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::mem;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use thread_local::ThreadLocal;

use super::clock::{Clock, SystemClock};
use super::stats::PoolStats;

/// How many bytes of a byte budget an object takes.
pub(crate) type Weigh<I> = fn(&I) -> usize;

/// Options of a [`Cache`], fixed at construction.
pub(crate) struct CacheConfig<I> {
    /// Most objects in the shared store; 0 disables retention entirely (no slots either).
    pub max_idle: usize,
    /// Idle objects older than this are dropped on access or trim.
    pub ttl: Option<Duration>,
    /// `trim` runs by itself (from a slow path) at most this often.
    pub auto_trim: Option<Duration>,
    /// Time source of `ttl` and `auto_trim`.
    pub clock: Option<Arc<dyn Clock>>,
    /// Shared byte budget of retained objects, and how many bytes an object weighs.
    pub budget: Option<(Arc<ByteBudget>, Weigh<I>)>,
}

impl<I> Default for CacheConfig<I> {
    fn default() -> Self {
        CacheConfig {
            max_idle: 256,
            ttl: None,
            auto_trim: None,
            clock: None,
            budget: None,
        }
    }
}

/// A cap on the bytes retained by several caches together (a [`BufferPool`](super::BufferPool)).
#[derive(Debug)]
pub(crate) struct ByteBudget {
    pub max: AtomicUsize,
    pub used: AtomicUsize,
}

impl ByteBudget {
    pub(crate) fn new(max: usize) -> Self {
        ByteBudget {
            max: AtomicUsize::new(max),
            used: AtomicUsize::new(0),
        }
    }
    /// Takes `n` bytes if they fit under the cap.
    pub(crate) fn reserve(&self, n: usize) -> bool {
        let max = self.max.load(Relaxed);
        self.used
            .fetch_update(Relaxed, Relaxed, |u| u.checked_add(n).filter(|&t| t <= max))
            .is_ok()
    }
    pub(crate) fn release(&self, n: usize) {
        self.used.fetch_sub(n, Relaxed);
    }
}

/// An idle object and when it went idle.
struct Entry<I> {
    item: I,
    /// Trim epoch at put.
    epoch: u64,
    /// Clock time at put, ns (zero when the cache has no TTL).
    at: u64,
}

/// One thread's part of a cache: its private slot and its counters.
///
/// Only the owning thread touches `slot`, and it is the only writer of the counters (plain
/// load + store, no RMW); other threads only read the counters (`stats`).
struct Local<I> {
    /// The slot's object. Kept apart from its stamps (not an `Entry`) so that the fast paths
    /// move just the object: building an `Entry` on the stack and copying it caused
    /// store-forwarding stalls (measured: ~2x on BufferPool).
    slot: UnsafeCell<Option<I>>,
    /// Trim epoch and clock time (ns) at which the slot's object went idle.
    slot_epoch: UnsafeCell<u64>,
    slot_at: UnsafeCell<u64>,
    /// Bytes of the shared budget held by this slot (budgeted caches only; owner-only). The
    /// slot keeps its reservation while its object is handed out, so that taking and putting
    /// back the same object costs no atomic read-modify-write.
    reserved: AtomicUsize,
    hits: AtomicU64,
    misses: AtomicU64,
    puts: AtomicU64,
    detached: AtomicU64,
}

// SAFETY: `Local` is reached in two ways: `ThreadLocal::get_or` hands the current thread its own
// `Local` (thread IDs are reused only after a thread exits, so never two live threads), and that
// is the only path that touches `slot`, `slot_epoch` and `slot_at`; `ThreadLocal::iter` (from
// `stats`, any thread) reads only the atomic counters. So the slot fields are never accessed from
// two threads at once; the item is moved in
// and out by value, which needs `I: Send`.
unsafe impl<I: Send> Sync for Local<I> {}

impl<I> Local<I> {
    fn new() -> Self {
        Local {
            slot: UnsafeCell::new(None),
            slot_epoch: UnsafeCell::new(0),
            slot_at: UnsafeCell::new(0),
            reserved: AtomicUsize::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            puts: AtomicU64::new(0),
            detached: AtomicU64::new(0),
        }
    }
}

/// Single-writer increment: a plain load and store (no lock prefix).
#[inline(always)]
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
}

/// The slot + shared store engine. See the module docs for paths and invariants.
pub(crate) struct Cache<I: Send> {
    locals: ThreadLocal<Local<I>>,
    /// Trim epoch; bumped by `trim`.
    epoch: AtomicU64,
    /// Oldest idle objects at the front; `take` pops the back (LIFO: warm objects first).
    shared: Mutex<VecDeque<Entry<I>>>,
    cfg: CacheConfig<I>,
    /// Clock time of the last trim, in nanoseconds (auto-trim).
    last_trim: AtomicU64,
    dropped_trim: AtomicU64,
    dropped_cap: AtomicU64,
    dropped_rejected: AtomicU64,
}

impl<I: Send + 'static> Cache<I> {
    pub(crate) fn new(cfg: CacheConfig<I>) -> Self {
        let mut cfg = cfg;
        if (cfg.ttl.is_some() || cfg.auto_trim.is_some()) && cfg.clock.is_none() {
            cfg.clock = Some(Arc::new(SystemClock::new()));
        }
        Cache {
            locals: ThreadLocal::new(),
            epoch: AtomicU64::new(0),
            shared: Mutex::new(VecDeque::new()),
            cfg,
            last_trim: AtomicU64::new(0),
            dropped_trim: AtomicU64::new(0),
            dropped_cap: AtomicU64::new(0),
            dropped_rejected: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    fn local(&self) -> &Local<I> {
        self.locals.get_or(Local::new)
    }

    /// Clock time in nanoseconds (0 without a clock).
    #[inline]
    fn now_ns(&self) -> u64 {
        match &self.cfg.clock {
            Some(c) => c.now().as_nanos() as u64,
            None => 0,
        }
    }

    #[inline]
    fn weight(&self, item: &I) -> usize {
        match &self.cfg.budget {
            Some((_, w)) => w(item),
            None => 0,
        }
    }

    /// Whether an idle entry has expired: past its TTL when the cache has one, else idle across
    /// two trims.
    #[inline(always)]
    fn expired(&self, e: &Entry<I>, epoch: u64, now: u64) -> bool {
        self.stamp_expired_at(e.epoch, e.at, epoch, now)
    }

    #[inline(always)]
    fn stamp_expired_at(&self, e_epoch: u64, e_at: u64, epoch: u64, now: u64) -> bool {
        match self.cfg.ttl {
            Some(ttl) => now.saturating_sub(e_at) > ttl.as_nanos() as u64,
            None => epoch.wrapping_sub(e_epoch) >= 2,
        }
    }

    /// Expiry of the slot's object, reading the epoch or the clock as needed.
    #[inline(always)]
    fn stamp_expired(&self, e_epoch: u64, e_at: u64) -> bool {
        match self.cfg.ttl {
            Some(_) => self.stamp_expired_at(e_epoch, e_at, 0, self.now_ns()),
            None => self.epoch.load(Relaxed).wrapping_sub(e_epoch) >= 2,
        }
    }

    #[inline(always)]
    fn now_ns_if_ttl(&self) -> u64 {
        if self.cfg.ttl.is_some() {
            self.now_ns()
        } else {
            0
        }
    }

    /// An idle object leaves the pool (handed out or dropped): give back its bytes.
    #[inline]
    fn leave(&self, item: &I) {
        if let Some((b, _)) = &self.cfg.budget {
            b.release(self.weight(item));
        }
    }

    /// A reused object for this thread, or `None` (the caller constructs and calls
    /// [`Cache::record_miss`]). Fast path: this thread's slot.
    #[inline(always)]
    pub(crate) fn take(&self) -> Option<I> {
        let local = self.local();
        // SAFETY: `local` is this thread's own `Local` (see `unsafe impl Sync for Local`), and no
        // other reference into the slot is alive: the entry is moved out before any user code.
        if let Some(item) = unsafe { (*local.slot.get()).take() } {
            // SAFETY: as above (owner-only fields).
            let (epoch, at) = unsafe { (*local.slot_epoch.get(), *local.slot_at.get()) };
            if !self.stamp_expired(epoch, at) {
                bump(&local.hits);
                // The slot's budget reservation stays with the slot (see `Local::reserved`).
                return Some(item);
            }
            self.drop_slot_entry(local, item);
        }
        self.take_slow(local)
    }

    #[cold]
    #[inline(never)]
    fn take_slow(&self, local: &Local<I>) -> Option<I> {
        self.maybe_auto_trim();
        let now = self.now_ns();
        let epoch = self.epoch.load(Relaxed);
        let mut expired = VecDeque::new();
        let got = {
            let mut shared = lock(&self.shared);
            // Expired entries cluster at the front (oldest); drop them on access.
            if self.cfg.ttl.is_some() {
                while shared.front().is_some_and(|e| self.expired(e, epoch, now)) {
                    expired.push_back(shared.pop_front().unwrap());
                }
            }
            loop {
                match shared.pop_back() {
                    Some(e) if self.expired(&e, epoch, now) => expired.push_back(e),
                    other => break other,
                }
            }
        };
        for e in expired {
            self.drop_idle(e, &self.dropped_trim);
        }
        let e = got?;
        bump(&local.hits);
        self.leave(&e.item);
        Some(e.item)
    }

    /// Counts a constructor call by this thread.
    #[inline]
    pub(crate) fn record_miss(&self) {
        bump(&self.local().misses);
    }

    /// Counts an object taken out for good by this thread.
    pub(crate) fn record_detached(&self) {
        bump(&self.local().detached);
    }

    /// Counts an idle object aged out and dropped by the caller (BufferPool's front slots).
    pub(crate) fn record_dropped_trim(&self) {
        self.dropped_trim.fetch_add(1, Relaxed);
    }

    /// Counts a returned object that was rejected (unfit) and dropped by the caller.
    pub(crate) fn record_rejected(&self) {
        bump(&self.local().puts);
        self.dropped_rejected.fetch_add(1, Relaxed);
    }

    /// Gives an object (already reset) back. Fast path: this thread's empty slot.
    #[inline(always)]
    pub(crate) fn put(&self, item: I) {
        let local = self.local();
        bump(&local.puts);
        if self.cfg.max_idle == 0 {
            return self.drop_returned(item);
        }
        // SAFETY: this thread's own slot, no other reference alive (see `take`).
        let slot_empty = unsafe { (*local.slot.get()).is_none() };
        if let Some((b, _)) = &self.cfg.budget {
            let w = self.weight(&item);
            let ok = if slot_empty {
                // Into the slot: only the difference from what the slot already holds.
                let held = local.reserved.load(Relaxed);
                w == held || self.resize_reservation_slow(b, local, held, w)
            } else {
                b.reserve(w)
            };
            if !ok {
                return self.drop_returned(item);
            }
        }
        if slot_empty {
            // SAFETY: this thread's own slot, no other reference alive (see `take`).
            unsafe {
                *local.slot_epoch.get() = self.epoch.load(Relaxed);
                *local.slot_at.get() = self.now_ns_if_ttl();
                *local.slot.get() = Some(item);
            }
            return;
        }
        self.put_slow(Entry {
            item,
            epoch: self.epoch.load(Relaxed),
            at: self.now_ns_if_ttl(),
        })
    }

    /// Changes this thread's slot reservation from `held` to `want` bytes; false (reservation
    /// unchanged) if the budget can't cover the growth.
    #[cold]
    #[inline(never)]
    fn resize_reservation_slow(
        &self,
        b: &ByteBudget,
        local: &Local<I>,
        held: usize,
        want: usize,
    ) -> bool {
        if want > held {
            if !b.reserve(want - held) {
                return false;
            }
        } else {
            b.release(held - want);
        }
        local.reserved.store(want, Relaxed);
        true
    }

    /// Drops this thread's slot object (expired), giving back the slot's reservation.
    #[cold]
    fn drop_slot_entry(&self, local: &Local<I>, e: I) {
        self.release_slot_reservation(local);
        self.dropped_trim.fetch_add(1, Relaxed);
        drop(e);
    }

    fn release_slot_reservation(&self, local: &Local<I>) {
        if let Some((b, _)) = &self.cfg.budget {
            b.release(local.reserved.swap(0, Relaxed));
        }
    }

    #[cold]
    #[inline(never)]
    fn put_slow(&self, entry: Entry<I>) {
        self.maybe_auto_trim();
        let rejected = {
            let mut shared = lock(&self.shared);
            if shared.len() < self.cfg.max_idle {
                shared.push_back(entry);
                None
            } else {
                Some(entry)
            }
        };
        if let Some(e) = rejected {
            self.drop_idle(e, &self.dropped_cap);
        }
    }

    #[cold]
    fn drop_returned(&self, item: I) {
        self.dropped_cap.fetch_add(1, Relaxed);
        drop(item);
    }

    /// Drops an idle entry (no lock held), counting it in `counter`.
    fn drop_idle(&self, e: Entry<I>, counter: &AtomicU64) {
        self.leave(&e.item);
        counter.fetch_add(1, Relaxed);
        drop(e);
    }

    #[cold]
    fn maybe_auto_trim(&self) {
        let Some(every) = self.cfg.auto_trim else {
            return;
        };
        let now = self.now_ns();
        let last = self.last_trim.load(Relaxed);
        if now.saturating_sub(last) >= every.as_nanos() as u64
            && self
                .last_trim
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            self.trim();
        }
    }

    /// Ages idle objects: bumps the epoch, then drops shared objects idle across two trims or
    /// past their TTL, and this thread's slot object if it is.
    pub(crate) fn trim(&self) {
        let epoch = self.epoch.fetch_add(1, Relaxed) + 1;
        let now = self.now_ns();
        self.last_trim.store(now, Relaxed);
        // This thread's slot.
        let local = self.local();
        // SAFETY: this thread's own slot, no other reference alive (see `take`).
        let mine = unsafe { &mut *local.slot.get() };
        // SAFETY: as above (owner-only fields).
        let (e_epoch, e_at) = unsafe { (*local.slot_epoch.get(), *local.slot_at.get()) };
        if mine.is_some() && self.stamp_expired_at(e_epoch, e_at, epoch, now) {
            let e = mine.take().unwrap();
            self.drop_slot_entry(local, e);
        } else if mine.is_none() {
            // The slot's object is out (or gone for good): give its reservation back.
            self.release_slot_reservation(local);
        }
        // The shared store: move it out, sort outside the lock (drops may run user code).
        let old = mem::take(&mut *lock(&self.shared));
        let (dead, live): (VecDeque<_>, VecDeque<_>) =
            old.into_iter().partition(|e| self.expired(e, epoch, now));
        {
            let mut shared = lock(&self.shared);
            // Objects put meanwhile are newer; keep age order (oldest first).
            let newer = mem::replace(&mut *shared, live);
            shared.extend(newer);
        }
        for e in dead {
            self.drop_idle(e, &self.dropped_trim);
        }
    }

    /// The counters, summed over threads.
    pub(crate) fn stats(&self) -> PoolStats {
        let mut s = PoolStats::default();
        for l in self.locals.iter() {
            s.hits += l.hits.load(Relaxed);
            s.misses += l.misses.load(Relaxed);
            s.puts += l.puts.load(Relaxed);
            s.detached += l.detached.load(Relaxed);
        }
        s.gets = s.hits + s.misses;
        s.dropped_trim = self.dropped_trim.load(Relaxed);
        s.dropped_cap = self.dropped_cap.load(Relaxed);
        s.dropped_rejected = self.dropped_rejected.load(Relaxed);
        s
    }

    /// Objects in the shared store now (the slots are not counted).
    pub(crate) fn shared_len(&self) -> usize {
        lock(&self.shared).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
