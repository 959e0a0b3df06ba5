//! [`BufferPool`]: size-classed byte buffers (1, 4, 16, 64 KiB by default) with a cap on the
//! bytes retained, and no keeping of buffers that outgrew the largest class. Each class is a
//! `cache.rs` engine (per-thread slot + shared store); the classes share one byte budget.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use super::cache::{ByteBudget, Cache, CacheConfig};
use super::stats::PoolStats;

/// Default classes: 1 KiB, 4 KiB, 16 KiB, 64 KiB.
const DEFAULT_CLASSES: [usize; 4] = [1 << 10, 4 << 10, 16 << 10, 64 << 10];
/// Default cap on retained bytes: 32 MiB.
const DEFAULT_MAX_RETAINED: usize = 32 << 20;
/// Default cap on idle buffers per class in the shared store (the byte cap usually binds first).
const DEFAULT_MAX_IDLE_PER_CLASS: usize = 1024;

fn capacity_of(v: &Vec<u8>) -> usize {
    v.capacity()
}

/// A pool of `Vec<u8>` buffers in size classes.
///
/// - [`get(n)`](BufferPool::get) hands out an empty buffer with capacity `>= n`, from the
///   smallest class `>= n`; requests above the largest class get a fresh exact buffer that is
///   not kept afterwards.
/// - A returned buffer is filed by its capacity *now* (the largest class `<=` it), so one that
///   grew serves a bigger class and one that shrank is never handed out as too small; a buffer
///   larger than the largest class, or smaller than the smallest, is dropped
///   (`dropped_rejected`): Go's "pooling 100 MB buffers" mistake cannot happen.
/// - Retained bytes (sum of idle capacities, see [`retained_bytes`](BufferPool::retained_bytes))
///   never exceed [`max_retained_bytes`] (default 32 MiB); a buffer that would exceed it is
///   dropped (`dropped_cap`).
///
/// [`max_retained_bytes`]: BufferPool::max_retained_bytes
///
/// ```
/// use alloc_pool::BufferPool;
///
/// let pool = BufferPool::new().max_retained_bytes(1 << 20);
/// let mut buf = pool.get(3000);            // from the 4 KiB class
/// assert!(buf.is_empty() && buf.capacity() >= 3000);
/// buf.extend_from_slice(b"payload");
/// drop(buf);
/// assert_eq!(pool.retained_bytes(), 4096);
/// assert!(pool.get(4000).is_empty());      // reused, cleared
/// assert_eq!(pool.stats().hits, 1);
/// ```
pub struct BufferPool {
    /// Ascending class sizes in bytes.
    classes: Box<[usize]>,
    /// One cache per class.
    caches: Box<[Cache<Vec<u8>>]>,
    budget: Arc<ByteBudget>,
    /// Requests larger than the largest class (each one a miss, then a rejection).
    oversize: AtomicU64,
}

impl BufferPool {
    /// Classes 1 KiB, 4 KiB, 16 KiB, 64 KiB; at most 32 MiB retained.
    pub fn new() -> Self {
        Self::with_classes(&DEFAULT_CLASSES)
    }

    /// Custom class sizes (any order; duplicates and zero are removed).
    ///
    /// # Panics
    /// If no non-zero class is given.
    pub fn with_classes(classes: &[usize]) -> Self {
        let mut c: Vec<usize> = classes.iter().copied().filter(|&c| c > 0).collect();
        c.sort_unstable();
        c.dedup();
        assert!(
            !c.is_empty(),
            "BufferPool needs at least one non-zero class"
        );
        let budget = Arc::new(ByteBudget::new(DEFAULT_MAX_RETAINED));
        let caches = c
            .iter()
            .map(|_| {
                Cache::new(CacheConfig {
                    max_idle: DEFAULT_MAX_IDLE_PER_CLASS,
                    budget: Some((budget.clone(), capacity_of as fn(&Vec<u8>) -> usize)),
                    ..CacheConfig::default()
                })
            })
            .collect();
        BufferPool {
            classes: c.into_boxed_slice(),
            caches,
            budget,
            oversize: AtomicU64::new(0),
        }
    }

    /// Caps the bytes kept idle (sum of capacities) at `n`.
    pub fn max_retained_bytes(self, n: usize) -> Self {
        self.budget.max.store(n, Relaxed);
        self
    }

    /// The class sizes, ascending.
    pub fn classes(&self) -> &[usize] {
        &self.classes
    }

    /// Bytes charged to the cap now; always `<=` it. That is the capacities of the idle
    /// buffers, plus, for each thread and class whose private-slot buffer is handed out, that
    /// buffer's capacity (the slot keeps its share while the buffer is out, so that giving the
    /// same buffer back costs no atomic; the thread's [`trim`](BufferPool::trim) releases it).
    pub fn retained_bytes(&self) -> usize {
        self.budget.used.load(Relaxed)
    }

    /// An empty buffer with capacity `>= min_capacity`.
    #[inline]
    pub fn get(&self, min_capacity: usize) -> PooledBuf<'_> {
        // Branch-free count (classes are few): a binary search mispredicts on mixed sizes.
        let class: usize = self
            .classes
            .iter()
            .map(|&c| (c < min_capacity) as usize)
            .sum();
        let buf = match self.caches.get(class) {
            Some(cache) => match cache.take() {
                Some(buf) => buf,
                None => {
                    cache.record_miss();
                    Vec::with_capacity(self.classes[class])
                }
            },
            None => self.oversize_slow(min_capacity),
        };
        debug_assert!(buf.is_empty() && buf.capacity() >= min_capacity);
        PooledBuf {
            pool: self,
            buf: ManuallyDrop::new(buf),
        }
    }

    #[cold]
    #[inline(never)]
    fn oversize_slow(&self, n: usize) -> Vec<u8> {
        self.oversize.fetch_add(1, Relaxed);
        Vec::with_capacity(n)
    }

    fn put(&self, mut buf: Vec<u8>) {
        buf.clear();
        // The largest class <= capacity: every buffer filed under class c has capacity >= c.
        let cap = buf.capacity();
        let fits: usize = self.classes.iter().map(|&c| (c <= cap) as usize).sum();
        match fits.checked_sub(1) {
            Some(class) if cap <= *self.classes.last().unwrap() => self.caches[class].put(buf),
            // Too big (grew past the largest class, or an oversize request) or too small.
            _ => self.caches[0].record_rejected(),
        }
    }

    /// Ages idle buffers in every class (see [`Pool::trim`](super::Pool::trim)).
    pub fn trim(&self) {
        for c in self.caches.iter() {
            c.trim();
        }
    }

    /// Counters summed over classes. Oversize requests count as gets and misses.
    pub fn stats(&self) -> PoolStats {
        let mut s = self
            .caches
            .iter()
            .fold(PoolStats::default(), |s, c| s.merge(c.stats()));
        let o = self.oversize.load(Relaxed);
        s.gets += o;
        s.misses += o;
        s
    }

    /// Counters of each class, in class order (oversize requests are not in any).
    pub fn class_stats(&self) -> Vec<PoolStats> {
        self.caches.iter().map(|c| c.stats()).collect()
    }
}

impl Default for BufferPool {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("classes", &self.classes)
            .field("retained_bytes", &self.retained_bytes())
            .field("max_retained_bytes", &self.budget.max.load(Relaxed))
            .finish()
    }
}

/// A buffer borrowed from a [`BufferPool`]; derefs to `Vec<u8>`; cleared and returned on drop.
pub struct PooledBuf<'a> {
    pool: &'a BufferPool,
    buf: ManuallyDrop<Vec<u8>>,
}

impl PooledBuf<'_> {
    /// Takes the buffer out of the pool for good (counted in `detached`).
    ///
    /// ```
    /// use alloc_pool::{BufferPool, PooledBuf};
    ///
    /// let pool = BufferPool::new();
    /// let mut b = pool.get(10);
    /// b.push(7);
    /// let v: Vec<u8> = PooledBuf::into_inner(b);
    /// assert_eq!(v, [7]);
    /// ```
    pub fn into_inner(this: Self) -> Vec<u8> {
        let mut this = ManuallyDrop::new(this);
        this.pool.caches[0].record_detached();
        // SAFETY: `this` is never used again and its `Drop` is suppressed: taken once.
        unsafe { ManuallyDrop::take(&mut this.buf) }
    }
}

impl Deref for PooledBuf<'_> {
    type Target = Vec<u8>;
    #[inline(always)]
    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl DerefMut for PooledBuf<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl Drop for PooledBuf<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `buf` is not used afterwards.
        let buf = unsafe { ManuallyDrop::take(&mut self.buf) };
        self.pool.put(buf);
    }
}

impl fmt::Debug for PooledBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBuf")
            .field("len", &self.buf.len())
            .field("capacity", &self.buf.capacity())
            .finish()
    }
}
