//! [`BufferPool`]: size-classed byte buffers (1, 4, 16, 64 KiB by default) with a cap on the
//! bytes retained, and no keeping of buffers that outgrew the largest class.
//!
//! Two tiers, all classes sharing one byte budget:
//! 1. The front: per thread, a *row* of slots, one per class, each holding at most one idle
//!    buffer as raw parts (pointer; its capacity is the slot's `cap`). `LAST`, a plain
//!    thread-local, caches "this thread's row of the pool it used last" as (pool id, row).
//!    - `get(n)`: class from a table (`lookup[(n - 1) >> shift]`), `LAST` compared with the
//!      pool's id, the slot's pointer taken (about 20 instructions, no atomic
//!      read-modify-write, no call). The guard remembers the class.
//!    - drop of the [`PooledBuf`]: `LAST` compared with the pool's id gives the *dropping*
//!      thread's row, whichever thread got the buffer; if that row's slot of the guard's class
//!      is empty and reserves exactly the buffer's capacity now, the buffer goes in with one
//!      store and a counter bump (about 15 instructions). A slot keeps its budget reservation
//!      while its buffer is out, so this reserves nothing. (A slot's reservation is the
//!      capacity of a buffer filed under its class, and filing depends on the capacity only,
//!      so any buffer of that capacity belongs in it, whoever got it and from where.)
//!    - Anything else (another pool used since on this thread, a grown or replaced buffer, a
//!      full slot, an oversize request, classes without a table) takes a `_slow` path, which
//!      finds this thread's row through the `ThreadLocal` (and caches it in `LAST`). A thread
//!      in its last TLS destructors gets new buffers and frees returned ones (`front_slow`).
//! 2. Behind it, per class, a `cache.rs` engine (its own per-thread slot + a shared store under
//!    a mutex), for a thread's second buffer of a class, buffers that move between threads, and
//!    aging.
//!
//! Invariant (budget): `budget.used == Σ idle capacities in the engines + Σ engine slot
//! reservations + Σ front slot reservations`; a front slot with a buffer reserves exactly that
//! buffer's capacity; every reservation keeps `used <= max`.
//!
//! Invariant (`LAST`): `LAST == (id, row)` with `id` a pool's id (not 0, not `EXITING`) only
//! if `row` is the calling thread's row of the pool with that id, for as long as the thread's
//! `thread_local` id is its own. Pool ids are never reused, and a live pool (every path here
//! borrows it) keeps its rows alive, so a matching id proves the row is live and is this
//! thread's. `ForgetLast` sets `LAST` to `EXITING` at thread exit before the `thread_local`
//! crate hands this thread's id (and so its rows) to a new thread (see `front_slow`).

use std::cell::Cell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use thread_local::ThreadLocal;

use super::cache::{ByteBudget, Cache, CacheConfig};
use super::stats::PoolStats;

/// Ids of pools, never reused (0: none), so that a thread's cached row can't be mistaken
/// for another pool's after its pool is dropped.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's row in the pool it used last: (pool id, first slot of the row); `(0,
    /// null)` when none. A plain `const` thread-local without a destructor: reading it is one
    /// `fs:`-relative load per word, and it stays readable while the thread exits.
    static LAST: Cell<(u64, *const Slot)> = const { Cell::new((0, ptr::null())) };

    /// Sets `LAST` to `EXITING` when the thread exits (see `front_slow` for why that is in
    /// time).
    static FORGET_LAST: ForgetLast = const { ForgetLast };
}

/// Sets `LAST` to `EXITING` on drop (thread exit).
struct ForgetLast;

impl Drop for ForgetLast {
    fn drop(&mut self) {
        let _ = LAST.try_with(|l| l.set((EXITING, ptr::null())));
    }
}

/// `LAST`'s id once the thread is exiting (`ForgetLast` ran); no pool has it.
const EXITING: u64 = u64::MAX;

/// Default classes: 1 KiB, 4 KiB, 16 KiB, 64 KiB.
const DEFAULT_CLASSES: [usize; 4] = [1 << 10, 4 << 10, 16 << 10, 64 << 10];
/// Default cap on retained bytes: 32 MiB.
const DEFAULT_MAX_RETAINED: usize = 32 << 20;
/// Default cap on idle buffers per class in the shared store (the byte cap usually binds first).
const DEFAULT_MAX_IDLE_PER_CLASS: usize = 1024;
/// Most entries in the size → class table.
const MAX_LOOKUP: usize = 4096;
/// `Slot::cap` of a slot that reserves nothing (no `Vec<u8>` has this capacity: they stop at
/// `isize::MAX`).
const NONE: usize = usize::MAX;

fn capacity_of(v: &Vec<u8>) -> usize {
    v.capacity()
}

/// Single-writer increment: a plain load and store (no lock prefix).
#[inline(always)]
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
}

/// One class's front slot in one thread's row.
///
/// Owner-only fields are `Cell`s (only the thread whose row it is touches them: see the
/// `LAST` invariant); `ptr` and the counters are atomics that `stats` reads from any thread,
/// written only by the owner with plain loads and stores (no read-modify-write). Fields read on
/// the fast paths first.
///
/// Invariants: `ptr` non-null ⇔ the slot owns a live `Vec<u8>` allocation of capacity `cap`
/// (length 0). `cap != NONE` ⇔ the slot holds `cap` bytes of the pool's budget, whether or not
/// its buffer is in it (`cap == NONE` ⇒ `ptr` null). Every buffer put in is taken out (a hit),
/// dropped by `trim`, or still in: `hits == puts - dropped - (ptr non-null)`, so `get` counts
/// nothing. One cache line (64 bytes): no false sharing between the threads' rows, and
/// indexing is a shift.
#[repr(C, align(64))]
struct Slot {
    ptr: AtomicPtr<u8>,
    /// The capacity of the slot's buffer, and its budget reservation; `NONE`: none.
    cap: Cell<usize>,
    /// Buffers put in.
    puts: AtomicU64,
    /// Buffers dropped from the slot by `trim`.
    dropped: AtomicU64,
    /// `puts` at this thread's last `trim`, and the trim epoch before it (aging, `trim` only).
    seen_puts: Cell<u64>,
    seen_epoch: Cell<u64>,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 64);

impl Slot {
    fn new() -> Self {
        Slot {
            ptr: AtomicPtr::new(ptr::null_mut()),
            cap: Cell::new(NONE),
            puts: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            seen_puts: Cell::new(0),
            seen_epoch: Cell::new(0),
        }
    }

    /// Bytes of the budget the slot holds.
    fn reserved(&self) -> usize {
        match self.cap.get() {
            NONE => 0,
            c => c,
        }
    }

    /// Whether the slot holds no buffer (owner, or a racy read by `stats`).
    #[inline(always)]
    fn is_empty(&self) -> bool {
        self.ptr.load(Relaxed).is_null()
    }

    /// Takes the slot's buffer out, if it holds one (its reservation stays). Counted as a hit
    /// (see the invariants).
    #[inline(always)]
    fn take(&self) -> Option<RawBuf> {
        // Nulled at once, so ownership moves out exactly once (the owner is the only writer:
        // a load and a store, not a swap).
        let ptr = NonNull::new(self.ptr.load(Relaxed))?;
        self.ptr.store(ptr::null_mut(), Relaxed);
        // A non-null `ptr` is a live `Vec<u8>` allocation of capacity `cap`, owned by the slot
        // (invariant above): the `RawBuf` invariant.
        Some(RawBuf {
            ptr,
            cap: self.cap.get(),
        })
    }

    /// Puts `buf` into the slot, which must be empty and reserve exactly `buf.capacity()`.
    #[inline(always)]
    fn fill(&self, buf: Vec<u8>) {
        debug_assert!(self.is_empty() && buf.capacity() == self.cap.get());
        bump(&self.puts);
        self.ptr.store(ManuallyDrop::new(buf).as_mut_ptr(), Relaxed);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(raw) = self.take() {
            // SAFETY: `take` returns the slot's buffer, once.
            drop(unsafe { raw.into_vec() });
        }
    }
}

/// An empty `Vec<u8>`, owned, as raw parts: two words, so the out-of-line `get` paths return
/// it in registers (a `Vec` is three, returned through memory, and the copies cost more than
/// the fast path itself).
///
/// Invariant: `ptr` is a live allocation of a `Vec<u8>` of capacity `cap`, owned by this value
/// (dropping a `RawBuf` leaks it: turn it back with `into_vec`).
struct RawBuf {
    ptr: NonNull<u8>,
    cap: usize,
}

impl RawBuf {
    #[inline(always)]
    fn from_vec(v: Vec<u8>) -> Self {
        let mut v = ManuallyDrop::new(v);
        RawBuf {
            // SAFETY: a `Vec`'s pointer is never null.
            ptr: unsafe { NonNull::new_unchecked(v.as_mut_ptr()) },
            cap: v.capacity(),
        }
    }

    /// The `Vec` back (empty).
    ///
    /// # Safety
    /// `self` came from `from_vec` or `Slot::take` (so the invariant holds), and ownership
    /// moves to the result: no other `RawBuf` of the same allocation is turned back.
    #[inline(always)]
    unsafe fn into_vec(self) -> Vec<u8> {
        // SAFETY: the type's invariant and the caller's promise of single ownership.
        unsafe { Vec::from_raw_parts(self.ptr.as_ptr(), 0, self.cap) }
    }
}

/// One thread's row: a slot per class.
struct Front {
    slots: Box<[Slot]>,
}

// SAFETY: a `Front` owns at most one `Vec<u8>` per slot (raw parts), and `Vec<u8>` is `Send`;
// the raw pointer is the only reason the auto trait is missing.
unsafe impl Send for Front {}
// SAFETY: the `Cell` fields of a row are touched only by the thread the row belongs to:
// `ThreadLocal::get_or` / `get` hand each thread only its own `Front` (a thread id is reused
// only after its thread exited), and the fast paths reach a row through `LAST`, which holds
// only the calling thread's own row (the `LAST` invariant in the module docs).
// `ThreadLocal::iter` (`stats`, any thread) reads only the atomic fields, and `Drop` runs
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
/// - Retained bytes (see [`retained_bytes`](BufferPool::retained_bytes)) never exceed
///   [`max_retained_bytes`] (default 32 MiB); a buffer that would exceed it is dropped
///   (`dropped_cap`).
/// - A [`PooledBuf`] may be dropped on any thread: on the thread that got it, it goes back to
///   that thread's front slot (the fast path); elsewhere it is filed in the dropping thread's
///   slot or the class's shared store.
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
    /// This pool's id in `LAST`.
    id: u64,
    /// O(1) request size → class: `lookup[(n - 1) >> shift]` for `1 <= n <=` the largest
    /// class, where `2^shift` is the largest power of two dividing every class. Empty when that
    /// table would pass `MAX_LOOKUP` entries or 255 classes (then `get` counts the classes
    /// below `n`, out of line).
    lookup: Box<[u8]>,
    shift: u32,
    /// Ascending class sizes in bytes.
    classes: Box<[usize]>,
    /// Each thread's row (the fast path, see the module docs).
    front: ThreadLocal<Front>,
    /// Trim epoch (bumped by `trim`), for the aging of front slots.
    epoch: AtomicU64,
    /// One cache per class (the tier behind the front).
    caches: Box<[Cache<Vec<u8>>]>,
    budget: Arc<ByteBudget>,
    /// Requests larger than the largest class (each one a miss, then a rejection).
    oversize: AtomicU64,
    /// Gets (each a miss) and puts (each a rejection) by threads that are exiting.
    exiting_gets: AtomicU64,
    exiting_puts: AtomicU64,
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
            id: NEXT_ID.fetch_add(1, Relaxed),
            lookup,
            shift,
            classes: c.into_boxed_slice(),
            front: ThreadLocal::new(),
            epoch: AtomicU64::new(0),
            caches,
            budget,
            oversize: AtomicU64::new(0),
            exiting_gets: AtomicU64::new(0),
            exiting_puts: AtomicU64::new(0),
        }
    }

    /// The `lookup` table and `shift` for ascending `classes` (empty when the table would pass
    /// `MAX_LOOKUP` entries, or there are more classes than a `u8` counts). With `g = 2^shift` dividing every class, a request `n` in
    /// `(j·g, (j+1)·g]` needs the first class `> j·g`, so entry `j` counts the classes `<= j·g`.
    fn lookup_table(classes: &[usize]) -> (Box<[u8]>, u32) {
        let shift = classes.iter().map(|c| c.trailing_zeros()).min().unwrap();
        let len = classes[classes.len() - 1] >> shift;
        if len > MAX_LOOKUP || classes.len() > u8::MAX as usize {
            return (Box::new([]), 0);
        }
        let table = (0..len)
            .map(|j| classes.iter().filter(|&&c| c <= j << shift).count() as u8)
            .collect();
        (table, shift)
    }

    /// The smallest class `>= n`, or `classes.len()` when `n` is above them all.
    fn class_of_request(&self, n: usize) -> usize {
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

    /// This thread's row when `LAST` holds it (one `fs:`-relative load and a compare).
    #[inline(always)]
    fn last_row(&self) -> Option<*const Slot> {
        let (id, row) = LAST.try_with(Cell::get).unwrap_or((0, ptr::null()));
        (id == self.id).then_some(row)
    }

    /// This thread's row, from `LAST` or else from the `ThreadLocal`.
    /// This thread's row; `None` once the thread is exiting (see `front_slow`).
    fn row(&self) -> Option<&[Slot]> {
        match self.last_row() {
            // SAFETY: `LAST` holds this pool's id only with this thread's live row of this
            // pool (the `LAST` invariant), which has one slot per class; `&self` keeps the pool
            // and so its rows (whose memory never moves) alive for the returned borrow.
            Some(row) => Some(unsafe { std::slice::from_raw_parts(row, self.classes.len()) }),
            None => self.front_slow(),
        }
    }

    /// This thread's row from the `ThreadLocal` (built on first use), cached in `LAST`;
    /// `None` once this thread's `FORGET_LAST` has run (the thread is exiting).
    #[cold]
    #[inline(never)]
    fn front_slow(&self) -> Option<&[Slot]> {
        // `LAST` may name a row only while the row is this thread's: until the `thread_local`
        // crate frees this thread's id at thread exit (its guard's destructor) and may give
        // it, with our rows, to a new thread. `FORGET_LAST` clears `LAST` before that: it is
        // registered below, after `get_or` registered the crate's guard, and Rust runs a
        // thread's TLS destructors in reverse order of registration (std's destructor list,
        // and glibc's `__cxa_thread_atexit_impl`, both pop the last one first). After it ran,
        // `LAST` says `EXITING` and the `ThreadLocal`s are left alone (using one after the
        // crate's guard is gone panics), so a guard dropped by a later TLS destructor frees
        // its buffer (`put_slow`).
        if LAST
            .try_with(Cell::get)
            .map_or(true, |(id, _)| id == EXITING)
        {
            return None;
        }
        let f = self.front.get_or(|| Front {
            slots: self.classes.iter().map(|_| Slot::new()).collect(),
        });
        if FORGET_LAST.try_with(|_| ()).is_ok() {
            let _ = LAST.try_with(|l| l.set((self.id, f.slots.as_ptr())));
        }
        Some(&f.slots)
    }

    /// An empty buffer with capacity `>= min_capacity`.
    ///
    /// Fast path (about 20 instructions, no call): class from the table, this thread's row
    /// from `LAST`, the slot's buffer taken. Else, out of line: this thread's row through the
    /// `ThreadLocal`, then the class's engine, then a new buffer of the class's size.
    #[inline(always)]
    pub fn get(&self, min_capacity: usize) -> PooledBuf<'_> {
        // `n == 0` wraps to an index past the table: the slow path counts. (Both arms return
        // two words in registers; a three-word value would come back through memory.)
        let (class, raw) = match self.lookup.get(min_capacity.wrapping_sub(1) >> self.shift) {
            Some(&class) => (class as usize, self.get_class(class as usize)),
            None => (self.guard_class(min_capacity), self.get_slow(min_capacity)),
        };
        // SAFETY: `get_class` and `get_slow` hand over a buffer they own, once.
        let buf = unsafe { raw.into_vec() };
        debug_assert!(buf.capacity() >= min_capacity);
        PooledBuf {
            pool: self,
            class,
            buf: ManuallyDrop::new(buf),
        }
    }

    /// This thread's front slot of `class` (`< classes.len()`), when `LAST` holds its row.
    #[inline(always)]
    fn last_slot(&self, class: usize) -> Option<&Slot> {
        debug_assert!(class < self.classes.len());
        // SAFETY: `row` is this thread's live row of this pool (the `LAST` invariant), which
        // has `classes.len() > class` slots; `&self` keeps it alive for the borrow.
        self.last_row().map(|row| unsafe { &*row.add(class) })
    }

    /// `get` of a class `< classes.len()`.
    #[inline(always)]
    fn get_class(&self, class: usize) -> RawBuf {
        if let Some(slot) = self.last_slot(class) {
            if let Some(raw) = slot.take() {
                return raw;
            }
        }
        self.get_class_slow(class)
    }

    /// `get` whose size has no table entry: zero, oversize, or classes without a table.
    #[cold]
    #[inline(never)]
    fn get_slow(&self, n: usize) -> RawBuf {
        let class = self.class_of_request(n);
        if class < self.classes.len() {
            return self.get_class(class);
        }
        self.oversize.fetch_add(1, Relaxed);
        RawBuf::from_vec(Vec::with_capacity(n))
    }

    /// The guard's class for a request without a table entry: its class, or 0 for an oversize
    /// request (any class would do: see `Drop`).
    #[cold]
    #[inline(never)]
    fn guard_class(&self, n: usize) -> usize {
        self.class_of_request(n) % self.classes.len()
    }

    /// This thread's front slot of `class` is empty, or `LAST` names another row: look again
    /// through the `ThreadLocal`, then ask the class's engine, then build.
    #[cold]
    #[inline(never)]
    fn get_class_slow(&self, class: usize) -> RawBuf {
        let Some(row) = self.row() else {
            return self.exiting_slow(class);
        };
        if let Some(raw) = row[class].take() {
            return raw;
        }
        let cache = &self.caches[class];
        RawBuf::from_vec(cache.take().unwrap_or_else(|| {
            cache.record_miss();
            Vec::with_capacity(self.classes[class])
        }))
    }

    /// `get` on a thread that is exiting (see `front_slow`): a new buffer, counted in no class
    /// (the engines count per thread, in `ThreadLocal`s).
    #[cold]
    #[inline(never)]
    fn exiting_slow(&self, class: usize) -> RawBuf {
        self.exiting_gets.fetch_add(1, Relaxed);
        RawBuf::from_vec(Vec::with_capacity(self.classes[class]))
    }

    /// `PooledBuf`'s drop when the fast path does not apply: a buffer that changed capacity,
    /// is dropped after another pool was used on this thread, or whose slot is full or
    /// reserves another size; and oversize buffers.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, mut buf: Vec<u8>) {
        buf.clear();
        let cap = buf.capacity();
        let Some(row) = self.row() else {
            // The thread is exiting (see `front_slow`): free it.
            self.exiting_puts.fetch_add(1, Relaxed);
            return;
        };
        let Some(class) = self.class_of_capacity(cap) else {
            return self.caches[0].record_rejected();
        };
        let slot = &row[class];
        if slot.is_empty() && (cap == slot.cap.get() || self.reserve_front(slot, cap)) {
            slot.fill(buf);
            return;
        }
        self.caches[class].put(buf);
    }

    /// The largest class `<=` `cap` (every buffer filed under class c has capacity `>= c`);
    /// `None` when too big (grew past the largest class, or an oversize request) or too small.
    fn class_of_capacity(&self, cap: usize) -> Option<usize> {
        let fits: usize = self.classes.iter().map(|&c| (c <= cap) as usize).sum();
        match fits.checked_sub(1) {
            Some(class) if cap <= *self.classes.last().unwrap() => Some(class),
            _ => None,
        }
    }

    /// Makes the (empty) front slot's reservation `cap` bytes; false (unchanged) if the budget
    /// can't cover the growth.
    fn reserve_front(&self, slot: &Slot, cap: usize) -> bool {
        let held = slot.reserved();
        if cap > held {
            if !self.budget.reserve(cap - held) {
                return false;
            }
        } else {
            self.budget.release(held - cap);
        }
        slot.cap.set(cap);
        true
    }

    /// Ages idle buffers in every class (see [`Pool::trim`](super::Pool::trim)): the engines'
    /// shared stores, and this thread's front slots. A front slot's buffer goes at the second
    /// of this thread's trims that finds it not given back since the trim before (so a buffer
    /// in use between trims stays); a slot whose buffer is out gives its reservation back.
    /// Another thread's front slots age at that thread's own `trim`, or with the pool.
    pub fn trim(&self) {
        let epoch = self.epoch.fetch_add(1, Relaxed) + 1;
        if let Some(f) = self.front.get() {
            for (class, slot) in f.slots.iter().enumerate() {
                let puts = slot.puts.load(Relaxed);
                if puts != slot.seen_puts.get() {
                    // Given back since the last look: idle since the epoch before this trim
                    // at the earliest.
                    slot.seen_puts.set(puts);
                    slot.seen_epoch.set(epoch - 1);
                }
                if slot.is_empty() {
                    // Its buffer is out (or gone): give the reservation back.
                    self.budget.release(slot.reserved());
                    slot.cap.set(NONE);
                } else if epoch.wrapping_sub(slot.seen_epoch.get()) >= 2 {
                    if let Some(raw) = slot.take() {
                        // SAFETY: `take` returns the slot's buffer, once.
                        drop(unsafe { raw.into_vec() });
                    }
                    self.budget.release(slot.reserved());
                    slot.cap.set(NONE);
                    bump(&slot.dropped);
                    self.caches[class].record_dropped_trim();
                }
            }
        }
        for c in self.caches.iter() {
            c.trim();
        }
    }

    /// Counters summed over classes. Oversize requests count as gets and misses; so do the
    /// gets of a thread that is exiting (in its TLS destructors, after this crate's), whose
    /// puts count as rejected (the buffer is freed).
    pub fn stats(&self) -> PoolStats {
        let mut s = self
            .class_stats()
            .into_iter()
            .fold(PoolStats::default(), PoolStats::merge);
        let o = self.oversize.load(Relaxed) + self.exiting_gets.load(Relaxed);
        s.gets += o;
        s.misses += o;
        let e = self.exiting_puts.load(Relaxed);
        s.puts += e;
        s.dropped_rejected += e;
        s
    }

    /// Counters of each class, in class order (oversize requests and exiting threads are not
    /// in any).
    pub fn class_stats(&self) -> Vec<PoolStats> {
        let mut v: Vec<PoolStats> = self.caches.iter().map(|c| c.stats()).collect();
        for f in self.front.iter() {
            for (s, slot) in v.iter_mut().zip(f.slots.iter()) {
                // Exact when the pool is quiescent; a racy read of a busy slot may be off by one.
                let held = u64::from(!slot.is_empty());
                let p = slot.puts.load(Relaxed);
                let h = p.saturating_sub(slot.dropped.load(Relaxed) + held);
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

/// A buffer borrowed from a [`BufferPool`]; derefs to `Vec<u8>`; cleared and returned on drop
/// (on any thread).
pub struct PooledBuf<'a> {
    pool: &'a BufferPool,
    /// The class it came from; 0 for an oversize request. Always `< classes.len()`: the drop
    /// looks in this class's slot first.
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
    /// Fast path (about 15 instructions): when `LAST` holds the dropping thread's row of the
    /// pool, into that row's slot of the guard's class if it is empty and reserves exactly the
    /// buffer's capacity now (then the buffer belongs there, see the module docs). Else
    /// `put_slow`.
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(slot) = self.pool.last_slot(self.class) {
            if slot.is_empty() && self.buf.capacity() == slot.cap.get() {
                // SAFETY: `drop` runs once and `buf` is not used afterwards.
                slot.fill(unsafe { ManuallyDrop::take(&mut self.buf) });
                return;
            }
        }
        // SAFETY: `drop` runs once and `buf` is not used afterwards.
        let buf = unsafe { ManuallyDrop::take(&mut self.buf) };
        self.pool.put_slow(buf);
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
