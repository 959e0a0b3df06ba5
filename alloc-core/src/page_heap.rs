//! The page heap: hands whole spans to the central lists and takes empty ones back, carving
//! them from arenas mapped from the OS (Go's `mheap`; docs/architecture.md, step 4).
//!
//! Empty spans are kept *dirty* (pages still resident, ready for reuse) for the decay delay
//! (`decay.rs`, 1 s by default): a program that frees and reallocates in waves reuses them
//! without a page fault. A span that waited longer is *released*: its pages go back to the OS
//! with `madvise(MADV_DONTNEED)` and it waits on the clean list, still mapped, reading as zero.
//! The scavenger releases aged spans in the background; [`PageHeap::free_span`] also releases
//! them as it goes, so decay works with the scavenger off. Arenas themselves are never
//! unmapped: their address space is cheap, their pages are what counts, and those are
//! released.

use core::ptr;

use alloc_stats::HeapCounters;

use crate::heap_stats::heap;

use crate::decay;
use crate::os;
use crate::size_class::SizeClass;
use crate::span::{
    Arena, Span, SpanState, ARENA_HEADER_BYTES, ARENA_SIZE, PURGE_WORDS, SPANS_PER_ARENA,
};
use crate::sync::Lock;

/// The page heap's state, behind [`PAGE_HEAP`]'s lock.
///
/// Invariants: every span with `state == Free` that was ever carved is in exactly one of
/// `dirty` (doubly linked, newest at `dirty_head`, `stamp`s never increasing towards the tail)
/// or `clean` (singly linked through `next`, `decommitted`, no `purged` page, `resident_end`
/// 0); `dirty_len` is
/// the length of `dirty`; spans `[next_unused, SPANS_PER_ARENA)` of `newest`
/// were never carved.
pub struct PageHeap {
    newest: *mut Arena,
    next_unused: usize,
    dirty_head: *mut Span,
    dirty_tail: *mut Span,
    dirty_len: usize,
    clean: *mut Span,
}

// SAFETY: the raw pointers point into arenas that live for the whole process; the lock around
// the PageHeap serialises every access.
unsafe impl Send for PageHeap {}

/// The one page heap. A global because every thread's central lists draw from the same
/// arenas; its lock protects the free-span lists and arena growth (lock order: a central
/// list's lock, then this one).
pub static PAGE_HEAP: Lock<PageHeap> = Lock::new(PageHeap {
    newest: ptr::null_mut(),
    next_unused: SPANS_PER_ARENA,
    dirty_head: ptr::null_mut(),
    dirty_tail: ptr::null_mut(),
    dirty_len: 0,
    clean: ptr::null_mut(),
});

impl PageHeap {
    /// A span assigned to `class`, or null when the OS has no memory left.
    pub fn alloc_span(&mut self, class: SizeClass) -> *mut Span {
        let span = self.pop_free();
        if span.is_null() {
            return span;
        }
        // SAFETY: `span` is a Free span that we just unlinked; nobody else references it.
        unsafe { (*span).assign(class) };
        HeapCounters::add(&heap().spans_in_use, 1);
        span
    }

    fn pop_free(&mut self) -> *mut Span {
        if !self.dirty_head.is_null() {
            let s = self.dirty_head;
            // SAFETY: `s` heads the dirty list, whose links are valid span pointers.
            unsafe {
                self.dirty_head = (*s).next;
                if self.dirty_head.is_null() {
                    self.dirty_tail = ptr::null_mut();
                } else {
                    (*self.dirty_head).prev = ptr::null_mut();
                }
            }
            self.dirty_len -= 1;
            // SAFETY: `s` is ours now; pages it gave back while it had a class come back.
            unsafe {
                let purged = (*s).purged_bytes();
                if purged > 0 {
                    HeapCounters::add(&heap().os_mapped, purged);
                    (*s).purged = [0; PURGE_WORDS];
                }
            }
            return s;
        }
        if !self.clean.is_null() {
            let s = self.clean;
            // SAFETY: `s` heads the clean list.
            unsafe {
                self.clean = (*s).next;
                (*s).decommitted = false;
            }
            // Its pages count as committed once carving touches them (`Span::take`).
            return s;
        }
        if self.next_unused == SPANS_PER_ARENA && !self.grow() {
            return ptr::null_mut();
        }
        // SAFETY: `newest` is a live arena and `next_unused` < SPANS_PER_ARENA indexes a span
        // that was never carved.
        let s = unsafe { ptr::addr_of_mut!((*self.newest).spans[self.next_unused]) };
        self.next_unused += 1;
        s
    }

    /// Maps a new arena. False when the OS refuses.
    #[cold]
    fn grow(&mut self) -> bool {
        // Try right after the newest arena first: that address is usually free and aligned,
        // and avoids mapping twice the size to align.
        let hint = if self.newest.is_null() {
            ptr::null_mut()
        } else {
            (self.newest as *mut u8).wrapping_add(ARENA_SIZE)
        };
        let mut base = os::reserve_hint(hint, ARENA_SIZE);
        if !base.is_null() && !(base as usize).is_multiple_of(ARENA_SIZE) {
            // SAFETY: we just mapped this range and nobody has seen it.
            unsafe { os::unmap(base, ARENA_SIZE) };
            base = ptr::null_mut();
        }
        if base.is_null() {
            base = os::map_aligned(ARENA_SIZE, ARENA_SIZE, true);
        }
        if base.is_null() {
            return false;
        }
        if !crate::span::register_arena(base) {
            // SAFETY: mapped just above; nobody has seen it.
            unsafe { os::unmap(base, ARENA_SIZE) };
            return false;
        }
        // SAFETY: `base` is a fresh, aligned, zeroed mapping of ARENA_SIZE bytes.
        let arena = unsafe { Arena::init(base) };
        // SAFETY: `arena` was initialised just above.
        unsafe { (*arena).next = self.newest };
        self.newest = arena;
        self.next_unused = 1;
        HeapCounters::add(&heap().os_reserved, ARENA_SIZE);
        HeapCounters::add(&heap().os_mapped, ARENA_HEADER_BYTES);
        HeapCounters::add(&heap().metadata, ARENA_HEADER_BYTES);
        true
    }

    /// Takes back an empty span (no block of it is used or cached anywhere), stamped `stamp`
    /// (when it last changed hands), and releases the dirty spans that have waited the decay
    /// delay.
    ///
    /// # Safety
    /// `span` was returned by `alloc_span`, is in no list, and has `used == 0`.
    pub unsafe fn free_span(&mut self, span: *mut Span, stamp: u32) {
        HeapCounters::sub(&heap().spans_in_use, 1);
        // SAFETY: the caller hands us sole ownership of `span`.
        unsafe {
            (*span).state = SpanState::Free;
            (*span).class = crate::span::NO_CLASS;
            (*span).stamp = stamp;
            (*span).prev = ptr::null_mut();
            (*span).next = self.dirty_head;
            if self.dirty_head.is_null() {
                self.dirty_tail = span;
            } else {
                (*self.dirty_head).prev = span;
            }
        }
        self.dirty_head = span;
        self.dirty_len += 1;
        self.release_aged(decay::now());
    }

    /// Releases the dirty spans that have waited the decay delay at time `now` (oldest
    /// first). Returns true if dirty spans remain (they will age later).
    pub fn release_aged(&mut self, now: u32) -> bool {
        // SAFETY: a non-null tail is a span of the dirty list.
        while !self.dirty_tail.is_null() && decay::aged(unsafe { (*self.dirty_tail).stamp }, now) {
            self.release_oldest();
        }
        self.dirty_len > 0
    }

    /// Gives the pages of every empty span back to the OS (`PoolAlloc::trim`).
    pub fn release_all(&mut self) {
        while self.dirty_len > 0 {
            self.release_oldest();
        }
    }

    /// Gives the pages of the oldest dirty span back to the OS.
    #[cold]
    fn release_oldest(&mut self) {
        let s = self.dirty_tail;
        // SAFETY: the dirty list is non-empty (callers check); `s` is its tail, a Free span
        // whose memory holds nothing live.
        let released = unsafe {
            self.dirty_tail = (*s).prev;
            if self.dirty_tail.is_null() {
                self.dirty_head = ptr::null_mut();
            } else {
                (*self.dirty_tail).next = ptr::null_mut();
            }
            self.dirty_len -= 1;
            // Only the pages it ever touched: past `resident_end` nothing is resident.
            let touched = (*s).resident_end as usize;
            if touched > 0 {
                os::decommit((*s).base, touched);
            }
            let already = (*s).purged_bytes();
            (*s).purged = [0; PURGE_WORDS];
            (*s).resident_end = 0;
            (*s).decommitted = true;
            (*s).next = self.clean;
            touched - already
        };
        self.clean = s;
        HeapCounters::add(&heap().os_released, released);
    }
}
