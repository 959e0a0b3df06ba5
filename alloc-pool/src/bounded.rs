//! [`BoundedPool<T>`]: a fixed number of objects (connections, workers): `get` blocks,
//! `try_get` and `get_timeout` don't; objects are validated before reuse. Go's answer is a
//! channel of objects; this is a mutex + condvar (std, or loom under `cfg(loom)`).

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::stats::PoolStats;
use super::sync::{lock, Condvar, Mutex};

type Ctor<T> = Box<dyn Fn() -> T + Send + Sync>;
type Check<T> = Box<dyn Fn(&mut T) -> bool + Send + Sync>;
type ResetBox<T> = Box<dyn Fn(&mut T) + Send + Sync>;

/// Idle objects and the count of live ones.
///
/// Invariant: `idle.len() <= live <= capacity`; `live - idle.len()` objects are handed out or
/// being built.
struct State<T> {
    idle: Vec<T>,
    live: usize,
    /// Threads blocked in `freed.wait*` (so that returns skip the futex wake when none wait).
    waiters: usize,
}

/// A pool of at most `capacity` objects, built lazily.
///
/// - [`get`](BoundedPool::get) blocks until an object is free; [`try_get`](BoundedPool::try_get)
///   and [`get_timeout`](BoundedPool::get_timeout) return `None` instead.
/// - A reused object is checked with the validation closure first; a broken one is dropped
///   (`dropped_rejected`) and a new one built in its place. New objects are not validated.
/// - Never more than `capacity` objects alive at once, counting those handed out, idle, and
///   being built. [`into_inner`](BoundedGuard::into_inner) and
///   [`discard`](BoundedGuard::discard) free a place for a new one: `discard` after the object
///   is dropped, `into_inner` at once, since a detached object is the caller's to keep (the
///   pool may build its replacement while the caller still holds it).
///
/// ```
/// use alloc_pool::BoundedPool;
///
/// struct Conn { id: u32, healthy: bool }
/// let next = std::sync::atomic::AtomicU32::new(0);
/// let pool = BoundedPool::new(2, move || Conn { id: next.fetch_add(1, std::sync::atomic::Ordering::Relaxed), healthy: true })
///     .validate(|c| c.healthy);
/// let a = pool.get();
/// let mut b = pool.get();
/// assert!(pool.try_get().is_none());   // both taken
/// b.healthy = false;                   // this one broke while in use
/// drop((a, b));
/// let ids: Vec<u32> = [pool.get(), pool.get()].iter().map(|c| c.id).collect();
/// assert!(ids.contains(&2));           // the broken one was rebuilt as conn 2
/// assert_eq!(pool.stats().dropped_rejected, 1);
/// ```
pub struct BoundedPool<T> {
    state: Mutex<State<T>>,
    /// Signalled when an object becomes idle or a place frees up.
    freed: Condvar,
    capacity: usize,
    ctor: Ctor<T>,
    validate: Option<Check<T>>,
    reset: Option<ResetBox<T>>,
    gets: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    puts: AtomicU64,
    rejected: AtomicU64,
    detached: AtomicU64,
}

impl<T: Send + 'static> BoundedPool<T> {
    /// At most `capacity` objects, built by `ctor` when needed.
    ///
    /// # Panics
    /// If `capacity` is 0.
    pub fn new(capacity: usize, ctor: impl Fn() -> T + Send + Sync + 'static) -> Self {
        assert!(capacity > 0, "BoundedPool capacity must be at least 1");
        BoundedPool {
            state: Mutex::new(State {
                idle: Vec::with_capacity(capacity),
                live: 0,
                waiters: 0,
            }),
            freed: Condvar::new(),
            capacity,
            ctor: Box::new(ctor),
            validate: None,
            reset: None,
            gets: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            puts: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            detached: AtomicU64::new(0),
        }
    }

    /// Checks an idle object before it is handed out again; `false` drops it and builds a new
    /// one (e.g. a connection that fails a ping).
    pub fn validate(mut self, check: impl Fn(&mut T) -> bool + Send + Sync + 'static) -> Self {
        self.validate = Some(Box::new(check));
        self
    }

    /// Runs `reset` on every returned object (e.g. roll back an open transaction).
    pub fn reset(mut self, reset: impl Fn(&mut T) + Send + Sync + 'static) -> Self {
        self.reset = Some(Box::new(reset));
        self
    }

    /// The most objects alive at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Objects alive now (idle + handed out + being built); never above `capacity`.
    pub fn live(&self) -> usize {
        lock(&self.state).live
    }

    /// Idle objects now.
    pub fn idle(&self) -> usize {
        lock(&self.state).idle.len()
    }

    /// An object, waiting as long as it takes for one to be free.
    pub fn get(&self) -> BoundedGuard<'_, T> {
        self.acquire(None).expect("no deadline")
    }

    /// An object if one is free (or may be built) now.
    pub fn try_get(&self) -> Option<BoundedGuard<'_, T>> {
        self.acquire(Some(None))
    }

    /// An object, waiting at most `timeout` for one.
    pub fn get_timeout(&self, timeout: Duration) -> Option<BoundedGuard<'_, T>> {
        self.acquire(Some(Instant::now().checked_add(timeout)))
    }

    /// `deadline`: `None` waits forever; `Some(None)` does not wait; `Some(Some(t))` waits
    /// until `t`.
    fn acquire(&self, deadline: Option<Option<Instant>>) -> Option<BoundedGuard<'_, T>> {
        let mut st = lock(&self.state);
        let reused = loop {
            if let Some(obj) = st.idle.pop() {
                break Some(obj);
            }
            if st.live < self.capacity {
                st.live += 1;
                break None;
            }
            let left = match deadline {
                None => None,
                Some(None) => return None,
                Some(Some(t)) => {
                    let left = t.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    Some(left)
                }
            };
            st.waiters += 1;
            st = match left {
                None => self.freed.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(left) => {
                    self.freed
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            st.waiters -= 1;
        };
        drop(st);
        // We hold one place (`live` counts it) whatever happens below; `Place` frees it if
        // validation or the constructor panics.
        let place = Place(self);
        let obj = match reused {
            Some(mut obj) => match &self.validate {
                Some(check) if !check(&mut obj) => {
                    self.rejected.fetch_add(1, Relaxed);
                    drop(obj);
                    self.build()
                }
                _ => {
                    self.hits.fetch_add(1, Relaxed);
                    obj
                }
            },
            None => self.build(),
        };
        std::mem::forget(place);
        self.gets.fetch_add(1, Relaxed);
        Some(BoundedGuard {
            pool: self,
            obj: ManuallyDrop::new(obj),
        })
    }

    fn build(&self) -> T {
        self.misses.fetch_add(1, Relaxed);
        (self.ctor)()
    }

    /// An object comes back.
    fn put(&self, mut obj: T) {
        self.puts.fetch_add(1, Relaxed);
        if let Some(reset) = &self.reset {
            reset(&mut obj);
        }
        let mut st = lock(&self.state);
        st.idle.push(obj);
        let wake = st.waiters > 0;
        drop(st);
        // std's condvar makes a futex syscall on every notify, waiter or not: skip it when no
        // thread waits (`waiters` is read under the lock that every waiter holds when it
        // registers, so no wake-up is lost).
        if wake {
            self.freed.notify_one();
        }
    }

    /// A place frees up (object detached, discarded, or its construction failed).
    fn release_place(&self) {
        let mut st = lock(&self.state);
        st.live -= 1;
        let wake = st.waiters > 0;
        drop(st);
        if wake {
            self.freed.notify_one();
        }
    }

    /// The counters. `dropped_rejected` counts failed validations and discards.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            gets: self.gets.load(Relaxed),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            puts: self.puts.load(Relaxed),
            dropped_rejected: self.rejected.load(Relaxed),
            detached: self.detached.load(Relaxed),
            ..PoolStats::default()
        }
    }
}

/// Frees a held place on unwind.
struct Place<'a, T: Send + 'static>(&'a BoundedPool<T>);

impl<T: Send + 'static> Drop for Place<'_, T> {
    fn drop(&mut self) {
        self.0.release_place();
    }
}

impl<T> fmt::Debug for BoundedPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedPool")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// An object borrowed from a [`BoundedPool`]; derefs to `T`; returned on drop.
pub struct BoundedGuard<'a, T: Send + 'static> {
    pool: &'a BoundedPool<T>,
    obj: ManuallyDrop<T>,
}

impl<T: Send + 'static> BoundedGuard<'_, T> {
    /// Takes the object out for good; its place is freed now, so the pool may build another
    /// while the caller still holds this one (a detached object no longer counts against
    /// `capacity`).
    pub fn into_inner(this: Self) -> T {
        let mut this = ManuallyDrop::new(this);
        this.pool.detached.fetch_add(1, Relaxed);
        this.pool.release_place();
        // SAFETY: `this` is never used again and its `Drop` is suppressed: taken once.
        unsafe { ManuallyDrop::take(&mut this.obj) }
    }

    /// Drops the object (it is broken); its place is freed for a new one.
    pub fn discard(this: Self) {
        let mut this = ManuallyDrop::new(this);
        this.pool.rejected.fetch_add(1, Relaxed);
        this.pool.puts.fetch_add(1, Relaxed);
        // SAFETY: as in `into_inner`.
        drop(unsafe { ManuallyDrop::take(&mut this.obj) });
        this.pool.release_place();
    }
}

impl<T: Send + 'static> Deref for BoundedGuard<'_, T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.obj
    }
}

impl<T: Send + 'static> DerefMut for BoundedGuard<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.obj
    }
}

impl<T: Send + 'static> Drop for BoundedGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `obj` is not used afterwards.
        let obj = unsafe { ManuallyDrop::take(&mut self.obj) };
        self.pool.put(obj);
    }
}

impl<T: Send + fmt::Debug + 'static> fmt::Debug for BoundedGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
