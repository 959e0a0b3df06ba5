//! A span: one [`SPAN_SIZE`] run of memory cut into the blocks of one size class, with the
//! bookkeeping that lets the central list hand its blocks out and take them back
//! (docs/architecture.md, step 3). Spans live in arenas: 64 MiB, 64 MiB-aligned OS mappings
//! whose first span holds the [`Arena`] header with the metadata of all the others, so the
//! span of any block is found from its address alone (mask, shift, index).

use core::ptr;

use crate::size_class::{self, SizeClass, SPAN_SHIFT, SPAN_SIZE};

/// Bytes in one arena, which is also its alignment.
pub const ARENA_SIZE: usize = 64 * 1024 * 1024;
/// Spans per arena; span 0 holds the header.
pub const SPANS_PER_ARENA: usize = ARENA_SIZE / SPAN_SIZE;

const ARENA_MAGIC: u64 = 0x706f_6f6c_6172_656e; // "poolaren"

/// A free block: its first word links to the next free block.
#[repr(C)]
pub struct Block {
    /// The next block in the same free list, or null.
    pub next: *mut Block,
}

/// Where a span is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum SpanState {
    /// Owned by the page heap (no class).
    Free,
    /// In its class's central partial list: it has blocks to give.
    Partial,
    /// All blocks handed out; in no list.
    Full,
}

/// The metadata of one span.
///
/// Invariants (checked by [`Span::check`] under `debug-invariants`):
/// - `used + len(free) + (capacity - bump) == capacity`, i.e. `len(free) == bump - used`;
/// - blocks `[0, bump)` have been handed out at least once; `[bump, capacity)` never were;
/// - `state == Partial` iff the span is in its class's partial list, which holds exactly the
///   spans of that class with `len(free) > 0 || bump < capacity`;
/// - `state == Free` iff the page heap owns the span; `next`/`prev` link whichever list holds it.
#[repr(C)]
pub struct Span {
    /// Blocks given back, linked through their first word.
    pub free: *mut Block,
    /// Number of blocks carved so far.
    pub bump: u32,
    /// Blocks handed out (live or in a thread cache).
    pub used: u32,
    /// Blocks per span for `class`.
    pub capacity: u32,
    /// Bytes per block.
    pub block_size: u32,
    /// The size class, valid unless `state == Free`.
    pub class: u8,
    /// Which list holds the span.
    pub state: SpanState,
    /// Set when the span's pages were given back to the OS and read as zero.
    pub decommitted: bool,
    /// Links in the list that holds the span.
    pub next: *mut Span,
    /// Links in the list that holds the span.
    pub prev: *mut Span,
    /// First byte of the span's memory.
    pub base: *mut u8,
}

const _: () = assert!(core::mem::size_of::<Span>() <= 64);

/// The header at the start of every arena.
///
/// Invariant: `magic == ARENA_MAGIC`; `spans[i].base == arena + i * SPAN_SIZE` for i >= 1 once
/// span i has been carved; `spans[0]` is never used (it is the header's own memory).
#[repr(C)]
pub struct Arena {
    magic: u64,
    /// The next arena, newest first.
    pub next: *mut Arena,
    /// Span metadata, indexed by `(addr - arena) >> SPAN_SHIFT`.
    pub spans: [Span; SPANS_PER_ARENA],
}

/// Bytes of the header, rounded up to whole pages (what the header really touches).
pub const ARENA_HEADER_BYTES: usize =
    (core::mem::size_of::<Arena>() + crate::os::PAGE - 1) & !(crate::os::PAGE - 1);
const _: () = assert!(ARENA_HEADER_BYTES <= SPAN_SIZE);

impl Arena {
    /// Initialises the header of a fresh (zeroed) arena mapping.
    ///
    /// # Safety
    /// `base` is an `ARENA_SIZE`-aligned, zero-filled, read-write mapping of `ARENA_SIZE` bytes
    /// that nothing else uses.
    pub unsafe fn init(base: *mut u8) -> *mut Arena {
        let arena = base.cast::<Arena>();
        // SAFETY: the mapping is ours, large and aligned enough for the header; all-zero bytes
        // are a valid `Span` (null pointers, zero counts, state Free = 0, false).
        unsafe {
            (*arena).magic = ARENA_MAGIC;
            for i in 0..SPANS_PER_ARENA {
                (*arena).spans[i].base = base.add(i * SPAN_SIZE);
            }
        }
        arena
    }
}

/// The span that holds `p`.
///
/// # Safety
/// `p` points into a span carved by this allocator (any block it handed out).
#[inline]
pub unsafe fn span_of(p: *mut u8) -> *mut Span {
    let addr = p as usize;
    let arena = (addr & !(ARENA_SIZE - 1)) as *mut Arena;
    let index = (addr & (ARENA_SIZE - 1)) >> SPAN_SHIFT;
    // SAFETY: `p` lies in an arena (caller), whose header is at its aligned base.
    unsafe {
        if cfg!(feature = "debug-invariants") && ((*arena).magic != ARENA_MAGIC || index == 0) {
            crate::os::fatal("free of a pointer that is not in an arena");
        }
        ptr::addr_of_mut!((*arena).spans[index])
    }
}

impl Span {
    /// Gives this free span to `class`: empty, nothing carved.
    pub fn assign(&mut self, class: SizeClass) {
        self.free = ptr::null_mut();
        self.bump = 0;
        self.used = 0;
        self.block_size = size_class::size_of(class) as u32;
        self.capacity = size_class::CAPACITY[class];
        self.class = class as u8;
        self.state = SpanState::Full;
        self.next = ptr::null_mut();
        self.prev = ptr::null_mut();
    }

    /// True if the span has a block to give.
    #[inline]
    pub fn has_room(&self) -> bool {
        !self.free.is_null() || self.bump < self.capacity
    }

    /// Takes up to `want` blocks, pushing them onto `list` (whose length is `*count`). Free
    /// blocks go first, then fresh ones carved in address order.
    ///
    /// # Safety
    /// The caller holds the lock of the span's central list; `list` is a valid block list.
    pub unsafe fn take(&mut self, want: usize, list: &mut *mut Block, count: &mut usize) {
        while *count < want && !self.free.is_null() {
            let b = self.free;
            // SAFETY: blocks in `free` are ours and unused; their first word is the link.
            unsafe {
                self.free = (*b).next;
                (*b).next = *list;
            }
            *list = b;
            *count += 1;
            self.used += 1;
        }
        let fresh = (want - *count).min((self.capacity - self.bump) as usize);
        if fresh > 0 {
            // Link the fresh blocks so the list ends up in ascending address order.
            let first = self.bump as usize;
            let mut i = first + fresh;
            while i > first {
                i -= 1;
                // SAFETY: block i < capacity lies inside this span's memory and was never
                // handed out.
                unsafe {
                    let b = self.base.add(i * self.block_size as usize).cast::<Block>();
                    (*b).next = *list;
                    *list = b;
                }
            }
            self.bump += fresh as u32;
            self.used += fresh as u32;
            *count += fresh;
        }
    }

    /// Takes one block back.
    ///
    /// # Safety
    /// The caller holds the lock of the span's central list; `b` is a block of this span that
    /// was handed out and is no longer used.
    #[inline]
    pub unsafe fn give(&mut self, b: *mut Block) {
        // SAFETY: `b` is a dead block of this span (caller); we own its first word now.
        unsafe { (*b).next = self.free };
        self.free = b;
        self.used -= 1;
    }

    /// Checks the span's invariants; aborts with a message if one is broken.
    #[cfg(feature = "debug-invariants")]
    pub fn check(&self) {
        if self.state == SpanState::Free {
            return;
        }
        let mut n = 0u32;
        let mut b = self.free;
        while !b.is_null() {
            let off = b as usize - self.base as usize;
            if off >= (self.bump * self.block_size) as usize
                || !off.is_multiple_of(self.block_size as usize)
            {
                crate::os::fatal("span check: free block outside the carved part or misaligned");
            }
            n += 1;
            // SAFETY: blocks in the free list are ours; the link is their first word.
            b = unsafe { (*b).next };
        }
        if self.used + n != self.bump || self.bump > self.capacity {
            crate::os::fatal("span check: used + free != carved");
        }
        if (self.state == SpanState::Partial) != self.has_room() {
            crate::os::fatal("span check: state does not match room");
        }
    }
}
