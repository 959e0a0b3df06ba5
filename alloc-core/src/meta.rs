//! A fixed-size allocator for the allocator's own records (Go's `FixAlloc`): thread caches
//! come from here, never from the global allocator (docs/architecture.md, "Metadata").
//! Records are carved from 256 KiB OS mappings and recycled through a free list; the memory of
//! a record is never unmapped, so a stale pointer to one stays readable.

use core::ptr;

use alloc_stats::HeapCounters;

use crate::os;
use crate::sync::Lock;

const CHUNK: usize = 256 * 1024;

/// A free record: its first word links to the next.
struct FreeRecord {
    next: *mut FreeRecord,
}

/// Records of `size` bytes (a multiple of 64, at most `CHUNK`).
///
/// Invariant: `[cur, end)` is unused memory of the newest chunk; `free` links records that
/// were handed out and given back.
pub struct FixAlloc {
    size: usize,
    free: *mut FreeRecord,
    cur: *mut u8,
    end: *mut u8,
}

// SAFETY: the pointers point into mappings owned by this allocator for the whole process; the
// surrounding lock serialises access.
unsafe impl Send for FixAlloc {}

impl FixAlloc {
    /// An empty allocator of `size`-byte records.
    pub const fn new(size: usize) -> Self {
        let size = (size + 63) & !63;
        assert!(size <= CHUNK);
        FixAlloc {
            size,
            free: ptr::null_mut(),
            cur: ptr::null_mut(),
            end: ptr::null_mut(),
        }
    }

    /// A record of `size` bytes, 64-byte aligned, contents unspecified; null if the OS is out
    /// of memory.
    pub fn alloc(&mut self) -> *mut u8 {
        if !self.free.is_null() {
            let r = self.free;
            // SAFETY: `r` heads the free list of records we handed out and got back.
            self.free = unsafe { (*r).next };
            return r.cast();
        }
        if (self.end as usize) - (self.cur as usize) < self.size {
            let chunk = os::reserve(CHUNK);
            if chunk.is_null() {
                return chunk;
            }
            let heap = crate::heap_stats::heap();
            HeapCounters::add(&heap.os_mapped, CHUNK);
            HeapCounters::add(&heap.metadata, CHUNK);
            self.cur = chunk;
            // SAFETY: `chunk` is a mapping of CHUNK bytes.
            self.end = unsafe { chunk.add(CHUNK) };
        }
        let r = self.cur;
        // SAFETY: at least `size` bytes are left in the chunk (checked above).
        self.cur = unsafe { self.cur.add(self.size) };
        r
    }

    /// Gives a record back.
    ///
    /// # Safety
    /// `r` came from `alloc` on this allocator and is no longer used.
    pub unsafe fn free(&mut self, r: *mut u8) {
        let r = r.cast::<FreeRecord>();
        // SAFETY: the record is ours again and at least one word long.
        unsafe { (*r).next = self.free };
        self.free = r;
    }
}

/// Records for thread caches. A global because thread caches outlive the threads that made
/// them (they are recycled); its lock protects the free list and the current chunk.
pub static THREAD_CACHES: Lock<FixAlloc> = Lock::new(FixAlloc::new(core::mem::size_of::<
    crate::thread_cache::ThreadCache,
>()));
