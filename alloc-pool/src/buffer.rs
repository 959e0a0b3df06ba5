//! [`BufferPool`]: size-classed byte buffers (1, 4, 16, 64 KiB by default) with a cap on the
//! bytes retained, and no keeping of buffers that outgrew the largest class.
//!
//! Two tiers, all classes sharing one byte budget:
//! 1. The front: one `ThreadLocal` lookup per call reaches this thread's row of slots, one per
//!    class, each holding one idle buffer as raw parts (pointer, capacity; null when empty).
//!    `get` and the drop of a [`PooledBuf`] each make one thread-local lookup, a few loads and
//!    stores, and no atomic read-modify-write: the slot keeps its budget reservation while its
//!    buffer is out, so giving back a buffer of the same capacity reserves nothing.
//! 2. Behind it, per class, a `cache.rs` engine (its own per-thread slot + a shared store under
//!    a mutex), for a thread's second buffer of a class, buffers that move between threads, and
//!    aging.
//!
//! Invariant (budget): `budget.used == Σ idle capacities in the engines + Σ engine slot
//! reservations + Σ front slot reservations`, each front slot's reservation `>=` the capacity of
//! the buffer in it, and every reservation keeps `used <= max`.

use std::cell::Cell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use thread_local::ThreadLocal;

/// Ids of pools, never reused (0: none), so that a thread's cached front can't be mistaken
/// for another pool's after its pool is dropped.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's front in the pool it used last: (pool id, `&Front` of that pool). A hit
    /// is a `fs:`-relative load and a compare; a miss goes through the `ThreadLocal` lookup.
    static LAST: Cell<(u64, *const Front)> = const { Cell::new((0, ptr::null())) };
}

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

/// Single-writer increment: a plain load and store (no lock prefix).
#[inline(always)]
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
}

/// One class's front slot in one thread: an idle buffer as raw parts, or empty.
///
/// Owner-only fields are `Cell`s; the counters are atomics that `stats` reads from any thread.
/// Invariant: `ptr` non-null ⇔ a live `Vec<u8>` allocation of capacity `cap` (length 0) is
/// owned by this slot; `reserved >= cap` bytes of the pool's budget are charged to the slot
/// whether or not it holds a buffer. One cache line (64 bytes): no false sharing between the
/// threads' rows, and indexing is a shift.
#[repr(align(64))]
struct Slot {
    ptr: Cell<*mut u8>,
    cap: Cell<usize>,
    /// The pool's trim epoch when the buffer went idle.
    epoch: Cell<u64>,
    reserved: Cell<usize>,
    hits: AtomicU64,
    puts: AtomicU64,
}

impl Slot {
    fn new() -> Self {
        Slot {
            ptr: Cell::new(ptr::null_mut()),
            cap: Cell::new(0),
            epoch: Cell::new(0),
            reserved: Cell::new(0),
            hits: AtomicU64::new(0),
            puts: AtomicU64::new(0),
        }
    }

    /// Takes the slot's buffer out (the slot must hold one).
    #[inline(always)]
    fn take(&self) -> Vec<u8> {
        let p = self.ptr.replace(ptr::null_mut());
        debug_assert!(!p.is_null());
        // SAFETY: a non-null `ptr` is a live `Vec<u8>` allocation of capacity `cap`, owned by
        // the slot (invariant above); it is nulled first, so ownership moves out exactly once.
        unsafe { Vec::from_raw_parts(p, 0, self.cap.get()) }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.ptr.get().is_null() {
            drop(self.take());
        }
    }
}

/// One thread's front: a slot per class.
struct Front {
    slots: Box<[Slot]>,
}

// SAFETY: a `Front` owns at most one `Vec<u8>` per slot (raw parts), and `Vec<u8>` is `Send`;
// the raw pointer is the only reason the auto trait is missing.
unsafe impl Send for Front {}
// SAFETY: `ThreadLocal::get_or` hands each thread only its own `Front` (a thread ID is reused
// only after its thread exited), and that is the only path that touches the `Cell` fields;
// `ThreadLocal::iter` (`stats`, any thread) reads only the atomic counters, and `Drop` runs
// with `&mut`. So no `Cell` is ever reached from two threads at once.
unsafe impl Sync for Front {}

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
    /// O(1) request size → class: `lookup[(n + mask) >> shift]` for `n <=` the largest class,
    /// where `2^shift = mask + 1` is the smallest class. Built when every class is a multiple of the
    /// smallest, which is a power of two (the default classes); empty otherwise (then `get`
    /// counts the classes below `n`).
    lookup: Box<[u8]>,
    shift: u32,
    mask: usize,
    /// The largest class.
    max_class: usize,
    /// Each thread's front slots (the fast path, see the module docs).
    front: ThreadLocal<Front>,
    /// This pool's id in `LAST`.
    id: u64,
    /// Trim epoch of the front slots; bumped by `trim`.
    epoch: AtomicU64,
    /// One cache per class (the tier behind the front).
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
        let (lookup, shift) = Self::lookup_table(&c);
        let max_class = *c.last().unwrap();
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
            lookup,
            shift,
            mask: (1 << shift) - 1,
            max_class,
            front: ThreadLocal::new(),
            id: NEXT_ID.fetch_add(1, Relaxed),
            epoch: AtomicU64::new(0),
            caches,
            budget,
            oversize: AtomicU64::new(0),
        }
    }

    /// The `lookup` table and `shift` for ascending `classes` (empty when they don't qualify,
    /// or the table would pass 4096 entries).
    fn lookup_table(classes: &[usize]) -> (Box<[u8]>, u32) {
        let small = classes[0];
        let max = classes[classes.len() - 1];
        if !small.is_power_of_two()
            || classes.len() > u8::MAX as usize
            || classes.iter().any(|&c| c % small != 0)
            || max / small >= 4096
        {
            return (Box::new([]), 0);
        }
        let table = (0..=max / small)
            .map(|i| classes.iter().filter(|&&c| c < i * small).count() as u8)
            .collect();
        (table, small.trailing_zeros())
    }

    /// The smallest class `>= n`, or `classes.len()` when `n` is above them all.
    #[inline(always)]
    fn class_of_request(&self, n: usize) -> usize {
        if n <= self.max_class {
            // No overflow: n + mask <= 2 × max_class.
            if let Some(&c) = self.lookup.get((n + self.mask) >> self.shift) {
                return c as usize;
            }
        }
        // Branch-free count (classes are few): a binary search mispredicts on mixed sizes.
        self.classes.iter().map(|&c| (c < n) as usize).sum()
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
    /// buffers, plus, for each thread and class whose slot buffer is handed out, that
    /// buffer's capacity (the slot keeps its share while the buffer is out, so that giving the
    /// same buffer back costs no atomic; the thread's [`trim`](BufferPool::trim) releases it).
    pub fn retained_bytes(&self) -> usize {
        self.budget.used.load(Relaxed)
    }

    /// This thread's front: from `LAST` when this pool was the thread's last, else from the
    /// `ThreadLocal`.
    #[inline(always)]
    fn front(&self) -> &Front {
        let (id, f) = LAST.try_with(Cell::get).unwrap_or((0, ptr::null()));
        if id != self.id {
            return self.front_slow();
        }
        // SAFETY: `LAST` holds this pool's id only with the non-null `Front` of this pool that
        // `front_slow` stored for this thread; ids are never reused, and `&self` keeps the pool
        // (and so its `ThreadLocal`, whose entries never move) alive for the returned borrow.
        unsafe { &*f }
    }

    #[cold]
    #[inline(never)]
    fn front_slow(&self) -> &Front {
        let f = self.front.get_or(|| Front {
            slots: self.classes.iter().map(|_| Slot::new()).collect(),
        });
        let _ = LAST.try_with(|l| l.set((self.id, f as *const Front)));
        f
    }

    /// An empty buffer with capacity `>= min_capacity`.
    ///
    /// Fast path: this thread's front slot of the class (one thread-local lookup, no atomic
    /// read-modify-write); else the class's engine, else a new buffer of the class's size.
    #[inline]
    pub fn get(&self, min_capacity: usize) -> PooledBuf<'_> {
        let class = self.class_of_request(min_capacity);
        let buf = match self.front().slots.get(class) {
            Some(slot)
                if !slot.ptr.get().is_null()
                    && self.epoch.load(Relaxed).wrapping_sub(slot.epoch.get()) < 2 =>
            {
                bump(&slot.hits);
                slot.take()
            }
            Some(_) => self.get_slow(class),
            None => self.oversize_slow(min_capacity),
        };
        debug_assert!(buf.is_empty() && buf.capacity() >= min_capacity);
        PooledBuf {
            pool: self,
            class,
            buf: ManuallyDrop::new(buf),
        }
    }

    /// The front slot of `class` is empty or aged out: drop an aged-out buffer, then ask the
    /// class's engine, then build.
    #[cold]
    #[inline(never)]
    fn get_slow(&self, class: usize) -> Vec<u8> {
        let slot = &self.front().slots[class];
        if !slot.ptr.get().is_null() {
            self.drop_front(class, slot);
        }
        let cache = &self.caches[class];
        match cache.take() {
            Some(buf) => buf,
            None => {
                cache.record_miss();
                Vec::with_capacity(self.classes[class])
            }
        }
    }

    /// Drops the buffer of this thread's front slot of `class` (aged out) and gives back the
    /// slot's reservation.
    fn drop_front(&self, class: usize, slot: &Slot) {
        drop(slot.take());
        self.budget.release(slot.reserved.replace(0));
        self.caches[class].record_dropped_trim();
    }

    #[cold]
    #[inline(never)]
    fn oversize_slow(&self, n: usize) -> Vec<u8> {
        self.oversize.fetch_add(1, Relaxed);
        Vec::with_capacity(n)
    }

    /// A buffer comes back; `class` is the one it was handed out from (or `classes.len()`
    /// for an oversize request).
    #[inline(always)]
    fn put(&self, mut buf: Vec<u8>, class: usize) {
        buf.clear();
        let cap = buf.capacity();
        // Fast path: the slot of the class the buffer came from is empty and reserves exactly
        // its (non-zero) capacity. Then the buffer belongs there: a non-zero reservation was
        // set from a buffer of that capacity filed in that class, and the filing depends on the
        // capacity only. (A slot that reserves nothing has `reserved == 0`.)
        if let Some(slot) = self.front().slots.get(class) {
            if slot.ptr.get().is_null() && cap == slot.reserved.get() && cap != 0 {
                Self::fill(slot, buf, self.epoch.load(Relaxed));
                return;
            }
        }
        self.put_slow(buf);
    }

    /// Puts `buf` (cleared, its capacity within the slot's reservation) into the empty `slot`.
    #[inline(always)]
    fn fill(slot: &Slot, buf: Vec<u8>, epoch: u64) {
        bump(&slot.puts);
        slot.epoch.set(epoch);
        let mut buf = ManuallyDrop::new(buf);
        slot.cap.set(buf.capacity());
        slot.ptr.set(buf.as_mut_ptr());
    }

    /// `put` for a buffer that changed capacity, came from another class or thread, or whose
    /// front slot is full or reserves another size.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, buf: Vec<u8>) {
        let cap = buf.capacity();
        let Some(class) = self.class_of_capacity(cap) else {
            return self.caches[0].record_rejected();
        };
        let slot = &self.front().slots[class];
        if slot.ptr.get().is_null() && (cap == slot.reserved.get() || self.reserve_front(slot, cap))
        {
            Self::fill(slot, buf, self.epoch.load(Relaxed));
            return;
        }
        self.caches[class].put(buf);
    }

    /// The largest class `<=` `cap` (every buffer filed under class c has capacity `>= c`);
    /// `None` when too big (grew past the largest class, or an oversize request) or too small.
    #[cold]
    #[inline(never)]
    fn class_of_capacity(&self, cap: usize) -> Option<usize> {
        let fits: usize = self.classes.iter().map(|&c| (c <= cap) as usize).sum();
        match fits.checked_sub(1) {
            Some(class) if cap <= *self.classes.last().unwrap() => Some(class),
            _ => None,
        }
    }

    /// Makes the (empty) front slot's reservation `cap` bytes; false (unchanged) if the budget
    /// can't cover the growth.
    #[cold]
    #[inline(never)]
    fn reserve_front(&self, slot: &Slot, cap: usize) -> bool {
        let held = slot.reserved.get();
        if cap > held {
            if !self.budget.reserve(cap - held) {
                return false;
            }
        } else {
            self.budget.release(held - cap);
        }
        slot.reserved.set(cap);
        true
    }

    /// Ages idle buffers in every class (see [`Pool::trim`](super::Pool::trim)): the engines'
    /// shared stores, and this thread's front slots (another thread's front slot ages when that
    /// thread next looks at it, or at its own `trim`).
    pub fn trim(&self) {
        let epoch = self.epoch.fetch_add(1, Relaxed) + 1;
        for (class, slot) in self.front().slots.iter().enumerate() {
            if slot.ptr.get().is_null() {
                // Its buffer is out (or gone): give the reservation back.
                self.budget.release(slot.reserved.replace(0));
            } else if epoch.wrapping_sub(slot.epoch.get()) >= 2 {
                self.drop_front(class, slot);
            }
        }
        for c in self.caches.iter() {
            c.trim();
        }
    }

    /// Counters summed over classes. Oversize requests count as gets and misses.
    pub fn stats(&self) -> PoolStats {
        let mut s = self
            .class_stats()
            .into_iter()
            .fold(PoolStats::default(), PoolStats::merge);
        let o = self.oversize.load(Relaxed);
        s.gets += o;
        s.misses += o;
        s
    }

    /// Counters of each class, in class order (oversize requests are not in any).
    pub fn class_stats(&self) -> Vec<PoolStats> {
        let mut v: Vec<PoolStats> = self.caches.iter().map(|c| c.stats()).collect();
        for f in self.front.iter() {
            for (s, slot) in v.iter_mut().zip(f.slots.iter()) {
                let (h, p) = (slot.hits.load(Relaxed), slot.puts.load(Relaxed));
                s.hits += h;
                s.gets += h;
                s.puts += p;
            }
        }
        v
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
    /// The class it came from (`classes.len()` for an oversize request).
    class: usize,
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
        self.pool.put(buf, self.class);
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
