//! Large allocations: requests that, rounded up to their alignment, exceed
//! [`MAX_SMALL`](crate::size_class::MAX_SMALL) (docs/architecture.md, "Large allocations"). Each is a page-granular range
//! of its own, with no header. Every live one is recorded in [`LIVE`] (address → length), so a
//! free checks what the caller says (a wrong size, a double free or a foreign pointer aborts
//! with a message) and C's `free(p)` finds the length from the address alone. Freed ranges wait in a small bounded cache (merged with their neighbours)
//! so that an alloc/free loop of 1 MiB blocks makes no syscall; what does not fit the cache
//! goes back to the OS at once, so a freed 1 GiB block is unmapped. A cached range that waited
//! the decay delay (`decay.rs`) is unmapped too, by the scavenger or by the next large free.

use alloc_stats::HeapCounters;

use crate::heap_stats::heap;

use crate::decay;
use crate::os::{self, PAGE};
use crate::sync::Lock;

/// Most bytes kept in the cache of free large ranges.
pub const CACHE_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Ranges longer than this are never cached.
pub const CACHE_MAX_RANGE: usize = 16 * 1024 * 1024;
const SLOTS: usize = 32;
/// Most ranges one `put` evicts; past that, the freed range itself goes back to the OS.
const MAX_EVICT: usize = 3;

/// Free page ranges, unordered.
///
/// Invariant: entries `[0, len)` are disjoint, page-aligned, non-adjacent (adjacent ones are
/// merged), mapped, and unused; `bytes` is the sum of their lengths, at most
/// [`CACHE_MAX_BYTES`]; `stamp[i]` is when (decay clock) entry i was last freed into, and
/// `oldest` is at most the oldest of them (a scan for aged entries is due only once `oldest`
/// aged).
pub struct LargeCache {
    addr: [usize; SLOTS],
    size: [usize; SLOTS],
    stamp: [u32; SLOTS],
    oldest: u32,
    len: usize,
    bytes: usize,
}

/// The cache of free large ranges. A global because a large block may be freed by any
/// thread; its lock protects the entries.
pub static LARGE_CACHE: Lock<LargeCache> = Lock::new(LargeCache::new());

/// Bytes a large request of `size` occupies: whole pages.
#[inline]
pub fn range_len(size: usize) -> usize {
    // A Layout's size is at most isize::MAX, so this cannot overflow.
    (size.max(1) + PAGE - 1) & !(PAGE - 1)
}

/// A large block: (pointer, fresh). `fresh` means the pages came straight from the OS and read
/// as zero. Null pointer when the OS refuses (or the live map cannot grow).
pub fn alloc(size: usize, align: usize) -> (*mut u8, bool) {
    let len = range_len(size);
    let cached = if !GUARDED {
        LARGE_CACHE.lock().take(len, align)
    } else {
        core::ptr::null_mut()
    };
    let (p, fresh) = if !cached.is_null() {
        (cached, false)
    } else {
        let Some(total) = len.checked_add(GUARD) else {
            return (core::ptr::null_mut(), true);
        };
        let p = if align <= PAGE {
            os::map(total)
        } else {
            os::map_aligned(total, align, false)
        };
        if p.is_null() {
            return (p, true);
        }
        HeapCounters::add(&heap().os_mapped, total);
        // SAFETY: the guard page is the last page of the mapping made just above.
        if GUARDED && !unsafe { os::protect_none(p.add(len), GUARD) } {
            // SAFETY: ours, unseen.
            unsafe { give_back(&[(p as usize, total)]) };
            return (core::ptr::null_mut(), true);
        }
        (p, true)
    };
    if !LIVE.lock().insert(p as usize, len) {
        // SAFETY: the range is ours and nobody has seen it.
        unsafe { release(p, len) };
        return (core::ptr::null_mut(), true);
    }
    (p, fresh)
}

/// Bytes of guard after every large block: one inaccessible page with the `guard-pages`
/// feature (a write or read past the block's last page faults at once), none otherwise.
/// Guarded blocks are mapped and unmapped one by one (the cache would merge the guards away).
pub const GUARD: usize = if GUARDED { PAGE } else { 0 };

/// Whether large blocks have a guard page (feature `guard-pages`).
const GUARDED: bool = cfg!(feature = "guard-pages");

/// Gives up the dead block `[p, p + len)`: to the cache, or, with guard pages, back to the OS
/// with its guard.
///
/// # Safety
/// As [`cache_put`].
unsafe fn release(p: *mut u8, len: usize) {
    if GUARDED {
        // SAFETY: the block and the guard page after it are one mapping of ours, dead.
        unsafe { give_back(&[(p as usize, len + GUARD)]) };
    } else {
        // SAFETY: forwarded.
        unsafe { cache_put(p, len) };
    }
}

/// The length of the live large block at `p`, if there is one (C's `malloc_usable_size`).
pub fn live_len(p: *const u8) -> Option<usize> {
    LIVE.lock().get(p as usize)
}

/// Frees a large block of `size` bytes (`None`: the size the live map holds, C's `free`);
/// returns its length. Aborts with a message if `p` is not a live large block, or was allocated with another size.
///
/// # Safety
/// `p` was returned by [`alloc`] (or [`realloc`]) for `size` and is no longer used.
pub unsafe fn free(p: *mut u8, size: Option<usize>) -> usize {
    let len = match (LIVE.lock().remove(p as usize), size) {
        (None, _) => crate::span::wrong_free(
            p.cast(),
            "free of a pointer that is not a live large block (double free, foreign pointer, or a small block freed with a large layout)",
        ),
        (Some(len), Some(size)) if range_len(size) != len => crate::span::wrong_free(
            p.cast(),
            "free of a large block with a layout of another size than it was allocated with",
        ),
        (Some(len), _) => len,
    };
    // SAFETY: forwarded from the caller; the block left the live map above.
    unsafe { release(p, len) };
    len
}

/// Puts the dead range `[p, p + len)` in the cache (or back to the OS).
///
/// # Safety
/// The range is page-aligned, ours, and in no live block.
unsafe fn cache_put(p: *mut u8, len: usize) {
    let now = decay::now();
    let mut victims = [(0usize, 0usize); MAX_EVICT + 1];
    let (n, due) = {
        let mut c = LARGE_CACHE.lock();
        (c.put(p as usize, len, now, &mut victims), c.aged_due(now))
    };
    // SAFETY: the cache handed these ranges out of its ownership; nothing uses them.
    unsafe { give_back(&victims[..n]) };
    if due {
        release_aged(now);
    }
}

/// Unmaps the cached ranges that waited the decay delay at time `now` (the scavenger, and a
/// large free that finds some due). Returns true if ranges remain cached (they will age later).
#[cold]
#[inline(never)]
pub fn release_aged(now: u32) -> bool {
    let mut aged = [(0usize, 0usize); SLOTS];
    let (m, left) = {
        let mut c = LARGE_CACHE.lock();
        let m = c.evict_aged(now, &mut aged);
        (m, c.len > 0)
    };
    // SAFETY: the ranges left the cache above; nothing uses them.
    unsafe { give_back(&aged[..m]) };
    left
}

/// Resizes a large block: in place when it shrinks (the tail goes to the cache) or when the
/// cache holds the range right after it (growth takes the front of that range: the common
/// case when the block itself was cut from a cached range, so a buffer that keeps doubling
/// makes no syscall); else by moving its pages (`mremap`). None if the caller must allocate,
/// copy and free instead (alignment beyond a page, or the OS refused).
///
/// # Safety
/// `p` was returned by [`alloc`] for `old_size` with `align`, and `new_size` is large.
pub unsafe fn realloc(
    p: *mut u8,
    old_size: usize,
    align: usize,
    new_size: usize,
) -> Option<*mut u8> {
    let (old, new) = (range_len(old_size), range_len(new_size));
    match live_len(p) {
        Some(len) if len == old => {}
        Some(_) => crate::span::wrong_free(
            p.cast(),
            "realloc of a large block with a layout of another size than it was allocated with",
        ),
        None => crate::span::wrong_free(
            p.cast(),
            "realloc of a pointer that is not a live large block",
        ),
    }
    if GUARDED {
        // A guarded block neither grows nor shrinks where it is.
        return (old == new).then_some(p);
    }
    if old == new {
        return Some(p);
    }
    let tail = p as usize + old.min(new);
    if new < old {
        LIVE.lock().set_len(p as usize, new);
        // SAFETY: the tail of the block is ours and, after the shrink, unused.
        unsafe { cache_put(tail as *mut u8, old - new) };
        return Some(p);
    }
    if LARGE_CACHE.lock().take_at(tail, new - old) {
        LIVE.lock().set_len(p as usize, new);
        return Some(p);
    }
    if align > PAGE {
        return None;
    }
    // SAFETY: `[p, p + old)` is our mapping (caller).
    let q = unsafe { os::remap(p, old, new) };
    if q.is_null() {
        return None;
    }
    HeapCounters::add(&heap().os_mapped, new - old);
    let mut live = LIVE.lock();
    live.remove(p as usize);
    // The map had an entry for `p`, so it has room for one more without growing.
    live.insert(q as usize, new);
    Some(q)
}

/// Unmaps `(address, length)` ranges and counts them as returned to the OS.
///
/// # Safety
/// Each range is page-aligned, mapped by us, out of the cache and unused.
unsafe fn give_back(ranges: &[(usize, usize)]) {
    for &(a, l) in ranges {
        // SAFETY: the caller guarantees the range is ours and dead.
        unsafe { os::unmap(a as *mut u8, l) };
        HeapCounters::add(&heap().os_released, l);
    }
}

/// Unmaps every cached range (`PoolAlloc::trim`).
pub fn release_all() {
    let mut victims = [(0usize, 0usize); SLOTS + 1];
    let n = {
        let mut c = LARGE_CACHE.lock();
        let n = c.len;
        for (i, v) in victims.iter_mut().enumerate().take(n) {
            *v = (c.addr[i], c.size[i]);
        }
        c.len = 0;
        c.bytes = 0;
        n
    };
    // SAFETY: the ranges left the cache above; nothing uses them.
    unsafe { give_back(&victims[..n]) };
}

/// The live large blocks: an open-addressing hash table (linear probing, backward-shift
/// deletion, no tombstones) from a block's address to its length, in a mapping of its own that
/// doubles when half full.
///
/// Invariants: `keys[i] != 0` iff slot i holds a live block, whose length is `lens[i]`; every
/// key sits at or after its home slot with no empty slot in between (cyclically); `count` is
/// the number of keys, at most `cap / 2`; `cap` is a power of two or 0 (nothing mapped yet).
pub struct LiveMap {
    slots: *mut [usize; 2],
    cap: usize,
    count: usize,
}

// SAFETY: the table is a mapping owned by the map; the lock around it serialises every access.
unsafe impl Send for LiveMap {}

/// The live large blocks. A global because any thread may free a large block; its lock
/// protects the table (never held together with the cache's).
pub static LIVE: Lock<LiveMap> = Lock::new(LiveMap {
    slots: core::ptr::null_mut(),
    cap: 0,
    count: 0,
});

impl LiveMap {
    /// The first slot to probe for `key`.
    fn home(&self, key: usize) -> usize {
        ((key >> 12).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20) & (self.cap - 1)
    }

    /// Slot i: `[key, length]`.
    fn at(&self, i: usize) -> [usize; 2] {
        // SAFETY: i < cap (callers mask), and the table has `cap` slots.
        unsafe { *self.slots.add(i) }
    }

    fn set(&mut self, i: usize, v: [usize; 2]) {
        // SAFETY: as `at`; `&mut self` (under the map's lock) gives exclusive access.
        unsafe { *self.slots.add(i) = v }
    }

    /// The slot holding `key`, if any.
    fn find(&self, key: usize) -> Option<usize> {
        if self.cap == 0 {
            return None;
        }
        let mut i = self.home(key);
        loop {
            match self.at(i)[0] {
                0 => return None,
                k if k == key => return Some(i),
                _ => i = (i + 1) & (self.cap - 1),
            }
        }
    }

    /// The length of the block at `key`.
    pub fn get(&self, key: usize) -> Option<usize> {
        self.find(key).map(|i| self.at(i)[1])
    }

    /// Records a live block; false if the table could not grow (out of memory).
    pub fn insert(&mut self, key: usize, len: usize) -> bool {
        if (self.count + 1) * 2 > self.cap && !self.grow() {
            return false;
        }
        let mut i = self.home(key);
        while self.at(i)[0] != 0 {
            i = (i + 1) & (self.cap - 1);
        }
        self.set(i, [key, len]);
        self.count += 1;
        true
    }

    /// Changes the recorded length of a live block (in-place realloc).
    pub fn set_len(&mut self, key: usize, len: usize) {
        if let Some(i) = self.find(key) {
            self.set(i, [key, len]);
        }
    }

    /// Forgets the block at `key`; its length, or None if there is none.
    pub fn remove(&mut self, key: usize) -> Option<usize> {
        let mut hole = self.find(key)?;
        let len = self.at(hole)[1];
        self.count -= 1;
        // Backward shift: pull later keys of the same probe run into the hole.
        let mask = self.cap - 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let k = self.at(j)[0];
            if k == 0 {
                break;
            }
            let home = self.home(k);
            // `k` may move to `hole` iff its home is not cyclically in (hole, j].
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.set(hole, self.at(j));
                hole = j;
            }
        }
        self.set(hole, [0, 0]);
        Some(len)
    }

    /// Doubles the table (or maps the first one). False if the OS refuses.
    #[cold]
    fn grow(&mut self) -> bool {
        let cap = if self.cap == 0 { 4096 } else { self.cap * 2 };
        let bytes = cap * core::mem::size_of::<[usize; 2]>();
        let new = os::reserve(bytes).cast::<[usize; 2]>();
        if new.is_null() {
            return false;
        }
        let old = core::mem::replace(
            self,
            LiveMap {
                slots: new,
                cap,
                count: 0,
            },
        );
        for i in 0..old.cap {
            let [k, l] = old.at(i);
            if k != 0 {
                let mut j = self.home(k);
                while self.at(j)[0] != 0 {
                    j = (j + 1) & (cap - 1);
                }
                self.set(j, [k, l]);
                self.count += 1;
            }
        }
        let h = heap();
        HeapCounters::add(&h.os_mapped, bytes);
        HeapCounters::add(&h.metadata, bytes);
        if old.cap > 0 {
            let old_bytes = old.cap * core::mem::size_of::<[usize; 2]>();
            // SAFETY: the old table is ours and no longer used.
            unsafe { os::unmap(old.slots.cast(), old_bytes) };
            HeapCounters::add(&h.os_released, old_bytes);
            HeapCounters::sub(&h.metadata, old_bytes);
        }
        true
    }
}

impl LargeCache {
    const fn new() -> Self {
        LargeCache {
            addr: [0; SLOTS],
            size: [0; SLOTS],
            stamp: [0; SLOTS],
            oldest: 0,
            len: 0,
            bytes: 0,
        }
    }

    /// True if an entry may have waited the decay delay at `now` (a scan is due).
    #[inline]
    fn aged_due(&self, now: u32) -> bool {
        self.len > 0 && decay::aged(self.oldest, now)
    }

    /// Moves the entries that waited the decay delay at `now` to `out`; returns how many.
    fn evict_aged(&mut self, now: u32, out: &mut [(usize, usize); SLOTS]) -> usize {
        if !self.aged_due(now) {
            return 0;
        }
        let (mut n, mut i) = (0, 0);
        self.oldest = now;
        while i < self.len {
            if decay::aged(self.stamp[i], now) {
                out[n] = (self.addr[i], self.size[i]);
                n += 1;
                self.bytes -= self.size[i];
                self.remove(i);
            } else {
                if self.stamp[i].wrapping_sub(self.oldest) > u32::MAX / 2 {
                    self.oldest = self.stamp[i]; // older than the oldest so far (wrapping)
                }
                i += 1;
            }
        }
        n
    }

    /// Takes a cached range for `len` bytes aligned to `align`: best fit, splitting a longer
    /// entry. Null if none fits.
    fn take(&mut self, len: usize, align: usize) -> *mut u8 {
        let mut best = usize::MAX;
        for i in 0..self.len {
            if self.size[i] >= len
                && self.addr[i].is_multiple_of(align)
                && (best == usize::MAX || self.size[i] < self.size[best])
            {
                best = i;
            }
        }
        if best == usize::MAX {
            return core::ptr::null_mut();
        }
        let a = self.addr[best];
        if self.size[best] == len {
            self.remove(best);
        } else {
            self.addr[best] += len;
            self.size[best] -= len;
        }
        self.bytes -= len;
        a as *mut u8
    }

    /// Takes `[a, a + len)` if it is the front of a cached range (in-place growth).
    fn take_at(&mut self, a: usize, len: usize) -> bool {
        for i in 0..self.len {
            if self.addr[i] == a && self.size[i] >= len {
                if self.size[i] == len {
                    self.remove(i);
                } else {
                    self.addr[i] += len;
                    self.size[i] -= len;
                }
                self.bytes -= len;
                return true;
            }
        }
        false
    }

    fn remove(&mut self, i: usize) {
        self.len -= 1;
        self.addr[i] = self.addr[self.len];
        self.size[i] = self.size[self.len];
        self.stamp[i] = self.stamp[self.len];
    }

    /// Caches `[a, a + len)` freed at `now`, merging it with adjacent entries; what must go
    /// back to the OS is written to `victims` (the count is returned) for the caller to unmap
    /// outside the lock.
    fn put(
        &mut self,
        mut a: usize,
        mut len: usize,
        now: u32,
        victims: &mut [(usize, usize); MAX_EVICT + 1],
    ) -> usize {
        if len > CACHE_MAX_RANGE {
            victims[0] = (a, len);
            return 1;
        }
        let mut i = 0;
        while i < self.len {
            if self.addr[i] + self.size[i] == a || a + len == self.addr[i] {
                a = a.min(self.addr[i]);
                len += self.size[i];
                self.bytes -= self.size[i];
                self.remove(i);
            } else {
                i += 1;
            }
        }
        let mut n = 0;
        if len > CACHE_MAX_RANGE {
            victims[0] = (a, len);
            return 1;
        }
        // Make room: evict the largest entries first (they are the cheapest to map again per
        // byte, and the most memory held).
        while self.len == SLOTS || self.bytes + len > CACHE_MAX_BYTES {
            let mut big = 0;
            for j in 1..self.len {
                if self.size[j] > self.size[big] {
                    big = j;
                }
            }
            if self.len == 0 || n == MAX_EVICT || self.size[big] < len && self.len < SLOTS {
                victims[n] = (a, len);
                return n + 1;
            }
            victims[n] = (self.addr[big], self.size[big]);
            n += 1;
            self.bytes -= self.size[big];
            self.remove(big);
        }
        if self.len == 0 {
            self.oldest = now;
        }
        self.addr[self.len] = a;
        self.size[self.len] = len;
        self.stamp[self.len] = now;
        self.len += 1;
        self.bytes += len;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: usize = PAGE;

    fn fresh() -> LargeCache {
        LargeCache::new()
    }

    /// The cache's invariant: disjoint, non-adjacent, page-aligned entries, bytes == sum, bounds.
    fn check(c: &LargeCache) {
        let mut sum = 0;
        for i in 0..c.len {
            assert_eq!(c.addr[i] % P, 0);
            assert_eq!(c.size[i] % P, 0);
            assert!(c.size[i] > 0 && c.size[i] <= CACHE_MAX_RANGE);
            sum += c.size[i];
            for j in 0..c.len {
                if i != j {
                    let (a, b) = (
                        (c.addr[i], c.addr[i] + c.size[i]),
                        (c.addr[j], c.addr[j] + c.size[j]),
                    );
                    assert!(
                        a.1 < b.0 || b.1 < a.0,
                        "entries {a:?} and {b:?} overlap or touch"
                    );
                }
            }
        }
        assert_eq!(sum, c.bytes);
        assert!(c.bytes <= CACHE_MAX_BYTES);
    }

    proptest! {
        /// Random frees and allocations of page ranges (fake addresses: the cache never touches
        /// them): every range handed out is free, nothing is lost or duplicated, and the
        /// invariant holds after every step.
        #[test]
        fn cache_keeps_its_invariant_and_loses_nothing(ops in proptest::collection::vec((0u8..3, 1usize..2048), 1..300)) {
            let mut c = fresh();
            // a model of the address space: which pages are free-in-cache, out (owned by us), or unmapped
            let mut owned: Vec<(usize, usize)> = Vec::new();
            let mut next = 1usize << 40;
            for (kind, pages) in ops {
                if kind == 2 && !owned.is_empty() {
                    // grow an owned range in place from the range right after it, if cached
                    let k = pages % owned.len();
                    let (a, l) = owned[k];
                    if c.take_at(a + l, P) {
                        for (j, &(oa, ol)) in owned.iter().enumerate() {
                            prop_assert!(j == k || a + l + P <= oa || oa + ol <= a + l, "grew into an owned range");
                        }
                        owned[k] = (a, l + P);
                    }
                } else if kind == 0 && !owned.is_empty() {
                    let (a, l) = owned.swap_remove(pages % owned.len());
                    let mut victims = [(0usize, 0usize); MAX_EVICT + 1];
                    let n = c.put(a, l, 0, &mut victims);
                    for &(va, vl) in &victims[..n] {
                        prop_assert!(vl > 0 && va % P == 0);
                    }
                } else {
                    let len = pages * P;
                    let got = c.take(len, P);
                    let a = if got.is_null() {
                        let a = next;
                        next += len + 64 * P; // leave gaps so fresh ranges are not adjacent
                        a
                    } else {
                        got as usize
                    };
                    for &(oa, ol) in &owned {
                        prop_assert!(a + len <= oa || oa + ol <= a, "range handed out twice");
                    }
                    for i in 0..c.len {
                        prop_assert!(a + len <= c.addr[i] || c.addr[i] + c.size[i] <= a, "handed out a cached range");
                    }
                    owned.push((a, len));
                }
                check(&c);
            }
        }
    }

    #[test]
    fn adjacent_ranges_merge_and_big_ones_are_not_cached() {
        let mut c = fresh();
        let mut v = [(0usize, 0usize); MAX_EVICT + 1];
        assert_eq!(c.put(10 * P, 2 * P, 0, &mut v), 0);
        assert_eq!(c.put(12 * P, 3 * P, 0, &mut v), 0);
        assert_eq!(c.put(8 * P, 2 * P, 0, &mut v), 0);
        assert_eq!((c.len, c.addr[0], c.size[0]), (1, 8 * P, 7 * P));
        assert_eq!(c.take(7 * P, P) as usize, 8 * P);
        assert_eq!(c.len, 0);
        assert_eq!(c.put(1 << 40, CACHE_MAX_RANGE + P, 0, &mut v), 1);
        assert_eq!(v[0], (1 << 40, CACHE_MAX_RANGE + P));
        check(&c);
    }
}
