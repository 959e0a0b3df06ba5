//! [`TtlPool<T>`]: a [`Pool<T>`](super::Pool) whose idle objects expire after a fixed time
//! (the seed's "hybrid pool with TTL"), checked on access and on trim.

use std::time::Duration;

use super::clock::Clock;
use super::object::{Pool, Pooled};
use super::reset::Reset;
use super::stats::PoolStats;

/// A pool that drops objects idle longer than its TTL (counted in `dropped_trim`): on the get
/// that would have reused them, and on [`trim`](TtlPool::trim). It is a [`Pool`] built with
/// [`PoolBuilder::ttl`](super::PoolBuilder::ttl), and derefs to it.
///
/// ```
/// use alloc_pool::{ManualClock, TtlPool};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let pool: TtlPool<Vec<u8>> = TtlPool::with_clock(Duration::from_secs(30), clock.clone(), Vec::new);
/// drop(pool.get());
/// clock.advance(Duration::from_secs(10));
/// drop(pool.get());                       // 10 s idle: reused
/// clock.advance(Duration::from_secs(31));
/// drop(pool.get());                       // 31 s idle: expired, dropped, rebuilt
/// let s = pool.stats();
/// assert_eq!((s.hits, s.misses, s.dropped_trim), (1, 2, 1));
/// ```
#[derive(Debug)]
pub struct TtlPool<T: Send + 'static> {
    pool: Pool<T>,
}

impl<T: Send + 'static> TtlPool<T> {
    /// Objects idle longer than `ttl` are dropped; real time ([`SystemClock`](super::SystemClock)).
    pub fn new(ttl: Duration, ctor: impl Fn() -> T + Send + Sync + 'static) -> Self
    where
        T: Reset,
    {
        TtlPool {
            pool: Pool::builder().ttl(ttl).build(ctor),
        }
    }

    /// As [`new`](TtlPool::new), with an injected clock (tests, simulated time).
    pub fn with_clock(
        ttl: Duration,
        clock: impl Clock,
        ctor: impl Fn() -> T + Send + Sync + 'static,
    ) -> Self
    where
        T: Reset,
    {
        TtlPool {
            pool: Pool::builder().ttl(ttl).clock(clock).build(ctor),
        }
    }

    /// Wraps a pool built with [`PoolBuilder::ttl`](super::PoolBuilder::ttl) (any other option
    /// too, e.g. a reset closure).
    pub fn from_pool(pool: Pool<T>) -> Self {
        TtlPool { pool }
    }

    /// See [`Pool::get`].
    #[inline]
    pub fn get(&self) -> Pooled<'_, T> {
        self.pool.get()
    }

    /// Drops expired idle objects (and ages the rest as [`Pool::trim`] does).
    pub fn trim(&self) {
        self.pool.trim()
    }

    /// See [`Pool::stats`].
    pub fn stats(&self) -> PoolStats {
        self.pool.stats()
    }
}

impl<T: Send + 'static> std::ops::Deref for TtlPool<T> {
    type Target = Pool<T>;
    fn deref(&self) -> &Pool<T> {
        &self.pool
    }
}
