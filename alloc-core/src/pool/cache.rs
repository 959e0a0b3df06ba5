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

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::mem;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use thread_local::ThreadLocal;

use super::clock::{Clock, SystemClock};
use super::stats::PoolStats;

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
    pub budget: Option<(Arc<ByteBudget>, fn(&I) -> usize)>,
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
    fn reserve(&self, n: usize) -> bool {
        let max = self.max.load(Relaxed);
        self.used
            .fetch_update(Relaxed, Relaxed, |u| {
                u.checked_add(n).filter(|&t| t <= max)
            })
            .is_ok()
    }
    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Relaxed);
    }
}

/// An idle object and when it went idle.
struct Entry<I> {
    item: I,
    /// Trim epoch at put.
    epoch: u64,
    /// Clock time at put (zero when the cache has no TTL).
    at: Duration,
}

/// One thread's part of a cache: its private slot and its counters.
///
/// Only the owning thread touches `slot`, and it is the only writer of the counters (plain
/// load + store, no RMW); other threads only read the counters (`stats`).
struct Local<I> {
    slot: UnsafeCell<Option<Entry<I>>>,
    hits: AtomicU64,
    misses: AtomicU64,
    puts: AtomicU64,
    detached: AtomicU64,
}

// SAFETY: `Local` is reached in two ways: `ThreadLocal::get_or` hands the current thread its own
// `Local` (thread IDs are reused only after a thread exits, so never two live threads), and that
// is the only path that touches `slot`; `ThreadLocal::iter` (from `stats`, any thread) reads only
// the atomic counters. So `slot` is never accessed from two threads at once; the item is moved in
// and out by value, which needs `I: Send`.
unsafe impl<I: Send> Sync for Local<I> {}

impl<I> Local<I> {
    fn new() -> Self {
        Local {
            slot: UnsafeCell::new(None),
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

    #[inline]
    fn now(&self) -> Duration {
        match &self.cfg.clock {
            Some(c) => c.now(),
            None => Duration::ZERO,
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
    fn expired(&self, e: &Entry<I>, epoch: u64, now: Duration) -> bool {
        match self.cfg.ttl {
            Some(ttl) => now.saturating_sub(e.at) > ttl,
            None => epoch.wrapping_sub(e.epoch) >= 2,
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
        let e = unsafe { (*local.slot.get()).take() };
        if let Some(e) = e {
            let now = if self.cfg.ttl.is_some() {
                self.now()
            } else {
                Duration::ZERO
            };
            if !self.expired(&e, self.epoch.load(Relaxed), now) {
                bump(&local.hits);
                self.leave(&e.item);
                return Some(e.item);
            }
            self.drop_idle(e, &self.dropped_trim);
        }
        self.take_slow(local)
    }

    #[cold]
    #[inline(never)]
    fn take_slow(&self, local: &Local<I>) -> Option<I> {
        self.maybe_auto_trim();
        let now = self.now();
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
        if let Some((b, _)) = &self.cfg.budget {
            if !b.reserve(self.weight(&item)) {
                return self.drop_returned(item);
            }
        }
        let entry = Entry {
            item,
            epoch: self.epoch.load(Relaxed),
            at: if self.cfg.ttl.is_some() {
                self.now()
            } else {
                Duration::ZERO
            },
        };
        // SAFETY: this thread's own slot, no other reference alive (see `take`).
        let slot = unsafe { &mut *local.slot.get() };
        if slot.is_none() {
            *slot = Some(entry);
            return;
        }
        self.put_slow(entry)
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
        let now = self.now().as_nanos() as u64;
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
        let now = self.now();
        self.last_trim.store(now.as_nanos() as u64, Relaxed);
        // This thread's slot.
        let local = self.local();
        // SAFETY: this thread's own slot, no other reference alive (see `take`).
        let mine = unsafe { &mut *local.slot.get() };
        if mine.as_ref().is_some_and(|e| self.expired(e, epoch, now)) {
            let e = mine.take().unwrap();
            self.drop_idle(e, &self.dropped_trim);
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
