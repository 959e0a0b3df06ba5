//! [`Pool<T>`]: the general typed pool (Go's `sync.Pool`, typed, with RAII return, automatic
//! reset, a cap, victim-cache trimming and stats). The engine is in `cache.rs`.

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use super::cache::{Cache, CacheConfig};
use super::clock::Clock;
use super::reset::Reset;
use super::stats::PoolStats;

type Ctor<T> = Box<dyn Fn() -> T + Send + Sync>;
type ResetBox<T> = Box<dyn Fn(&mut T) + Send + Sync>;
type RetainBox<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

/// A pool of reusable `T`s: a per-thread slot in front of a shared, capped store.
///
/// - [`get`](Pool::get) returns a [`Pooled`] guard; dropping it resets the object and returns it
///   (there is no `put`, so it cannot be forgotten, done twice, or done with the wrong type).
/// - Objects are boxed once at construction, so a reused object keeps its address and moving a
///   guard is one pointer.
/// - Idle objects: at most `max_idle` (default 256) in the shared store plus one per thread;
///   [`trim`](Pool::trim) drops those idle across two trims (Go's victim cache).
/// - `Pool<T>` is `Send + Sync` when `T: Send`.
///
/// Fast path (`get` + drop on one thread, slot hit): a thread-local lookup, an `Option` move and
/// a relaxed epoch load each way, the reset call, no lock and no atomic read-modify-write:
/// about 76 instructions and 8 ns for get + drop of a `Vec<u8>` (`benches/benches/pools.rs`,
/// docs/pools.md "Speed").
///
/// ```
/// use alloc_pool::Pool;
///
/// let pool: Pool<String> = Pool::new(String::new);
/// let addr = {
///     let mut s = pool.get();
///     s.push_str("request 1");
///     &*s as *const String
/// };
/// let s = pool.get();
/// assert_eq!(&*s as *const String, addr); // the same object...
/// assert!(s.is_empty());                  // ...reset before reuse
/// ```
pub struct Pool<T: Send> {
    cache: Cache<Box<T>>,
    ctor: Ctor<T>,
    reset: ResetBox<T>,
    retain: Option<RetainBox<T>>,
}

impl<T: Send + 'static> Pool<T> {
    /// A pool that builds objects with `ctor` and wipes them with [`Reset`].
    pub fn new(ctor: impl Fn() -> T + Send + Sync + 'static) -> Self
    where
        T: Reset,
    {
        Self::builder().build(ctor)
    }

    /// A pool that builds objects with `ctor` and wipes them with `reset` (for types without a
    /// [`Reset`] impl, or a different policy).
    ///
    /// ```
    /// use alloc_pool::Pool;
    ///
    /// struct Scratch { buf: [u8; 256], used: usize }
    /// let pool = Pool::with_reset(|| Scratch { buf: [0; 256], used: 0 }, |s| s.used = 0);
    /// pool.get().used = 10;
    /// assert_eq!(pool.get().used, 0);
    /// ```
    pub fn with_reset(
        ctor: impl Fn() -> T + Send + Sync + 'static,
        reset: impl Fn(&mut T) + Send + Sync + 'static,
    ) -> Self {
        Self::builder().reset(reset).build(ctor)
    }

    /// A builder for the other options (cap, retain check, TTL, automatic trim, clock).
    ///
    /// ```
    /// use alloc_pool::Pool;
    ///
    /// let pool = Pool::<Vec<u8>>::builder()
    ///     .max_idle(16)
    ///     // don't keep buffers that grew past 1 MiB (Go's "pooling large objects" mistake)
    ///     .retain_if(|v| v.capacity() <= 1 << 20)
    ///     .build(|| Vec::with_capacity(4096));
    /// pool.get().reserve(8 << 20);
    /// assert_eq!(pool.stats().dropped_rejected, 1);
    /// ```
    pub fn builder() -> PoolBuilder<T> {
        PoolBuilder {
            cfg: CacheConfig::default(),
            retain: None,
            reset: TraitReset,
            _t: PhantomData,
        }
    }

    /// Hands out an idle object, or a new one from the constructor. Dropping the guard gives the
    /// object back.
    #[inline]
    pub fn get(&self) -> Pooled<'_, T> {
        let obj = match self.cache.take() {
            Some(obj) => obj,
            None => self.construct_slow(),
        };
        Pooled {
            pool: self,
            obj: ManuallyDrop::new(obj),
        }
    }

    #[cold]
    #[inline(never)]
    fn construct_slow(&self) -> Box<T> {
        self.cache.record_miss();
        Box::new((self.ctor)())
    }

    #[inline]
    fn put(&self, mut obj: Box<T>) {
        (self.reset)(&mut obj);
        if let Some(retain) = &self.retain {
            if !retain(&obj) {
                self.cache.record_rejected();
                return;
            }
        }
        self.cache.put(obj);
    }

    /// Ages idle objects like Go's GC does `sync.Pool`'s: objects idle across two calls are
    /// dropped (counted in `dropped_trim`), the others kept. Also drops objects past a TTL.
    ///
    /// Another thread's private slot (one object per thread) is aged lazily: its object is
    /// dropped when that thread next uses the pool or trims, or with the pool.
    ///
    /// ```
    /// use alloc_pool::Pool;
    ///
    /// let pool: Pool<Vec<u8>> = Pool::new(Vec::new);
    /// let (a, b) = (pool.get(), pool.get());
    /// drop((a, b));        // two idle objects
    /// pool.trim();         // both survive one trim (victims)...
    /// drop(pool.get());    // ...one is used again, which makes it young
    /// pool.trim();         // the other, idle across two trims, is dropped
    /// assert_eq!(pool.stats().dropped_trim, 1);
    /// assert_eq!(pool.stats().idle(), 1);
    /// ```
    pub fn trim(&self) {
        self.cache.trim();
    }

    /// The counters (relaxed loads, summed over the threads that used the pool).
    pub fn stats(&self) -> PoolStats {
        self.cache.stats()
    }

    /// Idle objects in the shared store (objects in per-thread slots are not counted).
    pub fn shared_idle(&self) -> usize {
        self.cache.shared_len()
    }
}

impl<T: Send> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

/// Builder state: wipe objects with their [`Reset`] impl (the default).
#[derive(Debug)]
pub struct TraitReset;

/// Builder state: wipe objects with a closure given to [`PoolBuilder::reset`].
pub struct CustomReset<T>(ResetBox<T>);

impl<T> fmt::Debug for CustomReset<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomReset")
    }
}

/// Options of a [`Pool`]; from [`Pool::builder`]. `build` needs `T: Reset` unless a reset
/// closure was given with [`reset`](PoolBuilder::reset) (checked at compile time).
pub struct PoolBuilder<T, R = TraitReset> {
    cfg: CacheConfig<Box<T>>,
    retain: Option<RetainBox<T>>,
    reset: R,
    _t: PhantomData<fn() -> T>,
}

impl<T: Send + 'static, R> PoolBuilder<T, R> {
    /// Most idle objects kept in the shared store (default 256); each thread's private slot
    /// holds one more. Objects returned to a full pool are dropped (`dropped_cap`).
    /// `max_idle(0)` keeps nothing (every get constructs).
    pub fn max_idle(mut self, n: usize) -> Self {
        self.cfg.max_idle = n;
        self
    }

    /// Keeps a returned object only if `keep(&obj)` (after reset) is true; others are dropped
    /// (`dropped_rejected`). Use it to refuse objects that grew too large.
    pub fn retain_if(mut self, keep: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.retain = Some(Box::new(keep));
        self
    }

    /// Drops idle objects older than `ttl` on access or trim (see also [`TtlPool`](super::TtlPool)).
    /// This replaces the two-trims rule: `trim` then drops expired objects only. Adds a clock
    /// read to every get and put.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.cfg.ttl = Some(ttl);
        self
    }

    /// Runs [`Pool::trim`] automatically, at most once per `every`, from the pool's slow paths
    /// (a get that misses the thread slot, or a put that finds it full).
    pub fn auto_trim(mut self, every: Duration) -> Self {
        self.cfg.auto_trim = Some(every);
        self
    }

    /// The clock of `ttl` and `auto_trim` (default: [`SystemClock`](super::SystemClock)).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.cfg.clock = Some(Arc::new(clock));
        self
    }

    /// Wipes returned objects with `reset` instead of [`Reset`].
    pub fn reset(
        self,
        reset: impl Fn(&mut T) + Send + Sync + 'static,
    ) -> PoolBuilder<T, CustomReset<T>> {
        PoolBuilder {
            cfg: self.cfg,
            retain: self.retain,
            reset: CustomReset(Box::new(reset)),
            _t: PhantomData,
        }
    }

    fn finish(self, ctor: impl Fn() -> T + Send + Sync + 'static, reset: ResetBox<T>) -> Pool<T> {
        Pool {
            cache: Cache::new(self.cfg),
            ctor: Box::new(ctor),
            reset,
            retain: self.retain,
        }
    }
}

impl<T: Send + Reset + 'static> PoolBuilder<T, TraitReset> {
    /// The pool, building objects with `ctor` and wiping them with [`Reset`].
    pub fn build(self, ctor: impl Fn() -> T + Send + Sync + 'static) -> Pool<T> {
        self.finish(ctor, Box::new(T::reset))
    }
}

impl<T: Send + 'static> PoolBuilder<T, CustomReset<T>> {
    /// The pool, building objects with `ctor` and wiping them with the given reset closure.
    pub fn build(self, ctor: impl Fn() -> T + Send + Sync + 'static) -> Pool<T> {
        let PoolBuilder {
            cfg,
            retain,
            reset: CustomReset(reset),
            ..
        } = self;
        PoolBuilder {
            cfg,
            retain,
            reset: (),
            _t: PhantomData,
        }
        .finish(ctor, reset)
    }
}

impl<T, R> fmt::Debug for PoolBuilder<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("max_idle", &self.cfg.max_idle)
            .field("ttl", &self.cfg.ttl)
            .field("auto_trim", &self.cfg.auto_trim)
            .finish_non_exhaustive()
    }
}

/// An object borrowed from a [`Pool`]; derefs to `T`; reset and returned on drop.
///
/// It borrows the pool, so it cannot outlive it, and it owns the object, so nobody else can
/// use it meanwhile (Go's "keeping a pooled object after Put" cannot compile).
pub struct Pooled<'a, T: Send + 'static> {
    pool: &'a Pool<T>,
    obj: ManuallyDrop<Box<T>>,
}

impl<'a, T: Send + 'static> Pooled<'a, T> {
    /// Takes the object out of the pool for good (it will not be returned; counted in
    /// `detached`). An associated function, so it does not shadow a method of `T`.
    ///
    /// ```
    /// use alloc_pool::{Pool, Pooled};
    ///
    /// let pool: Pool<String> = Pool::new(String::new);
    /// let mut s = pool.get();
    /// s.push_str("keep me");
    /// let owned: String = Pooled::into_inner(s);
    /// assert_eq!(owned, "keep me");
    /// assert_eq!(pool.stats().detached, 1);
    /// ```
    pub fn into_inner(this: Self) -> T {
        let mut this = ManuallyDrop::new(this);
        this.pool.cache.record_detached();
        // SAFETY: `this` is never used again and its `Drop` will not run (ManuallyDrop), so the
        // box is taken exactly once.
        let obj = unsafe { ManuallyDrop::take(&mut this.obj) };
        *obj
    }

    /// Drops the object instead of returning it (e.g. it is in a bad state); counted in
    /// `dropped_rejected`.
    pub fn discard(this: Self) {
        let mut this = ManuallyDrop::new(this);
        this.pool.cache.record_rejected();
        // SAFETY: as in `into_inner`: taken once, `Drop` suppressed.
        drop(unsafe { ManuallyDrop::take(&mut this.obj) });
    }

    /// The pool this object came from.
    pub fn pool(this: &Self) -> &'a Pool<T> {
        this.pool
    }
}

impl<T: Send + 'static> Deref for Pooled<'_, T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.obj
    }
}

impl<T: Send + 'static> DerefMut for Pooled<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.obj
    }
}

impl<T: Send + 'static> Drop for Pooled<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `obj` is not used afterwards.
        let obj = unsafe { ManuallyDrop::take(&mut self.obj) };
        self.pool.put(obj);
    }
}

impl<T: Send + fmt::Debug + 'static> fmt::Debug for Pooled<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
