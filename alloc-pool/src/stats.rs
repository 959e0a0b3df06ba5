//! [`PoolStats`]: the counters every pool keeps (gets, hits, misses, puts, drops by reason).
//! Reading them takes relaxed loads only; see each pool for how fresh they are.

use std::fmt;

/// A snapshot of a pool's counters. All counts are totals since the pool was created.
///
/// Equations (exact once all threads using the pool are quiescent):
/// - `gets == hits + misses`
/// - objects constructed `== misses`
/// - `misses == in_use() + idle() + detached + dropped_trim + dropped_cap + dropped_rejected`
///
/// While other threads run, a snapshot may lag them by a few operations (each counter is read
/// with one relaxed load; the set is not read atomically).
///
/// ```
/// use alloc_pool::Pool;
///
/// let pool: Pool<String> = Pool::new(String::new);
/// drop(pool.get()); // miss: constructed
/// drop(pool.get()); // hit: reused
/// let s = pool.stats();
/// assert_eq!((s.gets, s.hits, s.misses, s.puts), (2, 1, 1, 2));
/// assert_eq!(s.hit_rate(), 0.5);
/// assert_eq!(s.idle(), 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Objects handed out (`get`, `try_get`, ... that returned an object).
    pub gets: u64,
    /// Gets served by a reused object.
    pub hits: u64,
    /// Gets that had to call the constructor (the number of objects ever constructed).
    pub misses: u64,
    /// Objects given back (guards dropped), whether then kept or dropped.
    pub puts: u64,
    /// Idle objects dropped for idleness: two trims without use (victim cache) or TTL expired.
    pub dropped_trim: u64,
    /// Returned objects dropped because the pool was full (object cap or byte cap).
    pub dropped_cap: u64,
    /// Objects dropped because they were unfit: failed validation, grew beyond the largest
    /// buffer class, failed the pool's retain check, or were discarded by their user.
    pub dropped_rejected: u64,
    /// Objects taken out for good with `into_inner`.
    pub detached: u64,
}

impl PoolStats {
    /// `hits / gets`, or 0.0 before the first get.
    #[inline]
    pub fn hit_rate(&self) -> f64 {
        if self.gets == 0 {
            0.0
        } else {
            self.hits as f64 / self.gets as f64
        }
    }

    /// Objects handed out and not yet given back (`gets - puts - detached`).
    #[inline]
    pub fn in_use(&self) -> u64 {
        self.gets.saturating_sub(self.puts + self.detached)
    }

    /// Objects dropped for any reason.
    #[inline]
    pub fn dropped(&self) -> u64 {
        self.dropped_trim + self.dropped_cap + self.dropped_rejected
    }

    /// Objects alive inside the pool right now (constructed, not in use, not dropped, not
    /// detached).
    #[inline]
    pub fn idle(&self) -> u64 {
        self.misses
            .saturating_sub(self.in_use() + self.detached + self.dropped())
    }

    /// Field-wise sum (e.g. over the classes of a [`BufferPool`](super::BufferPool)).
    pub fn merge(self, o: PoolStats) -> PoolStats {
        PoolStats {
            gets: self.gets + o.gets,
            hits: self.hits + o.hits,
            misses: self.misses + o.misses,
            puts: self.puts + o.puts,
            dropped_trim: self.dropped_trim + o.dropped_trim,
            dropped_cap: self.dropped_cap + o.dropped_cap,
            dropped_rejected: self.dropped_rejected + o.dropped_rejected,
            detached: self.detached + o.detached,
        }
    }
}

impl fmt::Display for PoolStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gets {} hits {} misses {} ({:.1}% hit) puts {} dropped trim/cap/rejected {}/{}/{} detached {}",
            self.gets,
            self.hits,
            self.misses,
            self.hit_rate() * 100.0,
            self.puts,
            self.dropped_trim,
            self.dropped_cap,
            self.dropped_rejected,
            self.detached
        )
    }
}
