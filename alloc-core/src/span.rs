//! A span: one [`SPAN_SIZE`] run of memory cut into the blocks of one size class, with the
//! bookkeeping that lets the central list hand its blocks out and take them back
//! (docs/architecture.md, step 3). Spans live in arenas: 64 MiB, 64 MiB-aligned OS mappings
//! whose first span holds the [`Arena`] header with the metadata of all the others, so the
//! span of any block is found from its address alone (mask, shift, index).

use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::os::{self, PAGE};
use crate::size_class::{self, SizeClass, MAX_SMALL, SPAN_SHIFT, SPAN_SIZE};

/// Bytes in one arena, which is also its alignment.
pub const ARENA_SIZE: usize = 64 * 1024 * 1024;
/// Spans per arena; span 0 holds the header.
pub const SPANS_PER_ARENA: usize = ARENA_SIZE / SPAN_SIZE;

const ARENA_MAGIC: u64 = 0x706f_6f6c_6172_656e; // "poolaren"

/// A free block: its first word links to the next free block.
///
/// With the `hardened` feature the link is stored encoded with a per-process secret ([`KEYS`]),
/// and the second word holds a canary (the block's address encoded with the other key) while
/// the block is on any free list: a link overwritten by a use-after-free write decodes to an
/// address that [`Block::next`]'s callers reject, and a block freed twice still carries its
/// canary (see docs/hardening.md). Blocks are then at least 16 bytes (`class_of`).
///
/// Invariant (hardened): a block is on a free list, parked batch or span free list iff its
/// canary word equals `canary(b)`; a block in a user's hands has canary 0 when handed out.
#[repr(C)]
pub struct Block {
    /// The next block in the same free list, or null (encoded under `hardened`).
    link: *mut Block,
    /// `canary(self)` while free (hardened only).
    #[cfg(feature = "hardened")]
    canary: usize,
}

/// The per-process secrets of the `hardened` feature: `[link key, canary key]`, drawn from
/// the kernel's `AT_RANDOM` bytes by [`init_keys`] before the first block is linked.
#[cfg(feature = "hardened")]
static KEYS: [core::sync::atomic::AtomicUsize; 2] = [
    core::sync::atomic::AtomicUsize::new(0),
    core::sync::atomic::AtomicUsize::new(0),
];

/// Draws the `hardened` secrets (a no-op without the feature). Called once, by the process
/// set-up, before any block is linked.
pub fn init_keys() {
    #[cfg(feature = "hardened")]
    {
        let (a, b) = os::random_seed();
        KEYS[0].store(a | 1, core::sync::atomic::Ordering::Relaxed);
        KEYS[1].store(b, core::sync::atomic::Ordering::Relaxed);
    }
}

impl Block {
    /// The next block on `b`'s list (decoded under `hardened`).
    ///
    /// # Safety
    /// `b` is a block on a free list (its first word is a link written by [`Block::set_next`]).
    #[inline(always)]
    pub unsafe fn next(b: *mut Block) -> *mut Block {
        // SAFETY: `b` is a free block (caller); its first word is the link.
        let raw = unsafe { (*b).link };
        #[cfg(feature = "hardened")]
        {
            let k = KEYS[0].load(core::sync::atomic::Ordering::Relaxed);
            ((raw as usize).wrapping_sub(k) ^ b as usize) as *mut Block
        }
        #[cfg(not(feature = "hardened"))]
        raw
    }

    /// Links `b` to `next` (encoded under `hardened`, which also writes `b`'s canary).
    ///
    /// # Safety
    /// `b` is a dead block, now owned by a free list.
    #[inline(always)]
    pub unsafe fn set_next(b: *mut Block, next: *mut Block) {
        #[cfg(feature = "hardened")]
        {
            let k = KEYS[0].load(core::sync::atomic::Ordering::Relaxed);
            let enc = (next as usize ^ b as usize).wrapping_add(k);
            // SAFETY: `b` is dead and at least 16 bytes (hardened `class_of`).
            unsafe {
                (*b).link = enc as *mut Block;
                (*b).canary = Self::canary_of(b);
            }
        }
        #[cfg(not(feature = "hardened"))]
        // SAFETY: `b` is dead (caller); its first word becomes the link.
        unsafe {
            (*b).link = next
        };
    }

    /// The canary a free block `b` carries (hardened).
    #[cfg(feature = "hardened")]
    #[inline(always)]
    fn canary_of(b: *mut Block) -> usize {
        b as usize ^ KEYS[1].load(core::sync::atomic::Ordering::Relaxed)
    }

    /// True if `b` carries a free block's canary: it is on a free list (a double free, when
    /// `b` is being freed), hardened only.
    ///
    /// # Safety
    /// `b` points to at least 16 readable bytes.
    #[cfg(feature = "hardened")]
    #[inline(always)]
    pub unsafe fn is_free(b: *mut Block) -> bool {
        // SAFETY: readable (caller).
        unsafe { (*b).canary == Self::canary_of(b) }
    }

    /// Marks `b` as handed out: clears its canary (hardened; nothing otherwise).
    ///
    /// # Safety
    /// `b` was just taken off a free list for a user.
    #[inline(always)]
    pub unsafe fn hand_out(b: *mut Block) {
        #[cfg(feature = "hardened")]
        // SAFETY: `b` is ours until the caller returns it.
        unsafe {
            (*b).canary = 0
        };
        let _ = b;
    }
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
/// Glossary: a block is *free* when it is on the span's `free` list, *used* when it was handed
/// out (to a user, a thread cache or a transfer cache), *uncarved* when its index is at or
/// past `bump`, and *dormant* when it overlaps a *purged* page: one whose memory went back to
/// the OS while the span belongs to a class. Dormant blocks are in no list; no list ever holds
/// a block that touches a purged page, so nothing writes to a purged page until it is woken.
///
/// Invariants (checked by [`Span::check`] under `debug-invariants`):
/// - `used + len(free) + dormant + (capacity - bump) == capacity`;
/// - blocks `[0, bump)` have been handed out at least once or were made dormant; `[bump,
///   capacity)` never were; a dormant block overlaps a page whose bit is set in `purged`, and
///   every block that overlaps such a page is dormant;
/// - `state == Partial` iff the span is in its class's partial list, which holds exactly the
///   spans of that class with `len(free) > 0 || bump < capacity || dormant > 0`;
/// - `state == Free` iff the page heap owns the span; `next`/`prev` link whichever list holds it;
/// - `resident_end` is a multiple of [`PAGE`], at least the end of the page that holds the
///   end of the carved blocks (`bump * block_size`), and above every purged page: pages at or
///   past it were never touched since the span was last released (they read as zero and are
///   not counted in the heap's committed bytes).
#[repr(C)]
pub struct Span {
    /// Blocks given back, linked through their first word.
    pub free: *mut Block,
    /// Number of blocks carved so far.
    pub bump: u32,
    /// Blocks handed out (live, or in a thread or transfer cache).
    pub used: u32,
    /// Blocks per span for `class`.
    pub capacity: u32,
    /// Bytes per block.
    pub block_size: u32,
    /// The size class; [`NO_CLASS`] iff `state == Free`.
    pub class: u8,
    /// Which list holds the span.
    pub state: SpanState,
    /// Set when the whole span's pages were given back to the OS and read as zero.
    pub decommitted: bool,
    /// Set when blocks came back since the span was last purged (a purge could find pages).
    pub needs_purge: bool,
    /// The central shard whose list holds the span (set when a shard takes it from the page
    /// heap; stable while any block of it is out).
    pub shard: u8,
    /// Blocks that overlap a purged page (see the glossary).
    pub dormant: u32,
    /// When (decay clock, ms) the span last changed hands: blocks given back, or the span
    /// freed to the page heap.
    pub stamp: u32,
    /// Links in the list that holds the span.
    pub next: *mut Span,
    /// Links in the list that holds the span.
    pub prev: *mut Span,
    /// First byte of the span's memory.
    pub base: *mut u8,
    /// Pages of the span given back to the OS while it belongs to a class (bit i: page i).
    pub purged: [u64; PURGE_WORDS],
    /// Bytes `[0, resident_end)` of the span were touched (carved, by this class or an
    /// earlier one) since the span was last released, and count as committed; the pages past
    /// it were not and do not. Carving moves it up a page at a time ([`Span::take`]), so a
    /// class that uses a few blocks of a fresh span commits a few pages, not the span.
    pub resident_end: u32,
}

/// The `class` of a span that belongs to no class (`state == Free`): one compare of the class
/// then also rejects free spans (the hardened free path).
pub const NO_CLASS: u8 = u8::MAX;

/// Pages in a span.
pub const PAGES_PER_SPAN: usize = SPAN_SIZE / PAGE;
/// Words of the [`Span::purged`] bitmap.
pub const PURGE_WORDS: usize = PAGES_PER_SPAN / 64;
/// Most blocks a span can hold (the 8-byte class), for the purge's scratch bitmap.
const MAX_BLOCKS: usize = SPAN_SIZE / 8;

/// What one [`Span::take`] made resident: bytes of purged pages woken, and bytes of pages
/// touched for the first time since the span was last released (carving past
/// `resident_end`). Both are growth of the heap's committed memory.
#[derive(Clone, Copy, Default, Debug)]
pub struct Grown {
    /// Purged pages committed again.
    pub woken: usize,
    /// Fresh pages touched by carving.
    pub fresh: usize,
}

/// `x` rounded up to a whole page.
#[inline]
const fn page_up(x: usize) -> usize {
    (x + PAGE - 1) & !(PAGE - 1)
}

const _: () = assert!(core::mem::size_of::<Span>() <= 128);

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
                (*arena).spans[i].class = NO_CLASS;
            }
        }
        arena
    }
}

/// Arena slots in the map: the 47-bit user address space (where `mmap` places mappings unless
/// asked for more) in [`ARENA_SIZE`] steps.
const ARENA_SLOTS: usize = 1 << (47 - ARENA_SIZE.trailing_zeros());

/// The arena map: bit i is set iff `[i * ARENA_SIZE, (i + 1) * ARENA_SIZE)` is one of our
/// arenas. 256 KiB of zero-initialised static memory, of which only the pages holding set bits
/// are ever touched (one page covers 2 TiB of addresses). Arenas are never unmapped, so a bit
/// once set stays true. This is what lets a slow path (or a hardened free) ask "is this
/// pointer ours?" without reading memory that may not be mapped.
static ARENA_MAP: [AtomicU64; ARENA_SLOTS / 64] = [const { AtomicU64::new(0) }; ARENA_SLOTS / 64];

/// Records a new arena at `base` (an `ARENA_SIZE`-aligned mapping). False if its address is
/// beyond the map (the caller then gives the mapping back and fails).
pub fn register_arena(base: *mut u8) -> bool {
    let i = base as usize / ARENA_SIZE;
    if i >= ARENA_SLOTS {
        return false;
    }
    ARENA_MAP[i / 64].fetch_or(1 << (i % 64), Relaxed);
    true
}

/// True if `p` lies in one of our arenas (a block, a span, or an arena header). Reads only the
/// arena map. Relaxed is enough: a block's arena was registered before the block was handed
/// out, and whoever frees it learnt of it through that hand-out.
#[inline(always)]
pub fn in_arena(p: *const u8) -> bool {
    let i = p as usize / ARENA_SIZE;
    i < ARENA_SLOTS && ARENA_MAP[i / 64].load(Relaxed) & (1 << (i % 64)) != 0
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
        if cfg!(feature = "debug-invariants") && (!in_arena(p) || (*arena).magic != ARENA_MAGIC) {
            crate::os::fatal("free of a pointer that is not in an arena");
        }
        ptr::addr_of_mut!((*arena).spans[index])
    }
}

/// The span of `p` if `p` is the start of a block of a span that belongs to a class (not
/// necessarily a used block: a free one passes too); else why not. Reads only the arena map,
/// then the arena header. The C API's lookup (`usable_size`, `free_unsized`).
pub fn block_span(p: *const u8) -> Result<*mut Span, &'static str> {
    if !in_arena(p) {
        return Err(NOT_OURS);
    }
    // SAFETY: `p` lies in a registered arena, whose header lives for the whole process.
    let span = unsafe { span_of(p.cast_mut()) };
    // SAFETY: as above.
    match SizeClass::new(unsafe { (*span).class } as usize) {
        Some(class) if at_block_start(p as usize & (SPAN_SIZE - 1), class) => Ok(span),
        Some(_) => Err(MIDDLE),
        None => Err(FREE_SPAN),
    }
}

const NOT_OURS: &str =
    "free of a pointer this allocator did not hand out (not in any of its arenas)";
const FREE_SPAN: &str = "free of a block whose span is free (a double free or a stale pointer)";
const MIDDLE: &str = "free of a pointer into the middle of a block";

/// The slow paths' check of a block handed back as one of `class` (`central::flush`, on every
/// block, before any lock): its span if `p` starts a block of a span of that class; else why
/// not. About 15 instructions: the arena map, the span header's class, a multiplication, no
/// division. It reads only what a correct caller's block makes stable (the arena map is
/// atomic; a span's class changes only while the span is free, and it cannot be free while
/// one of its blocks is out), so it races with nothing for correct callers; the checks that
/// need the span's moving parts (carved, purged, used) run under its list's lock
/// ([`Span::check_give`]).
#[inline]
pub fn check_block(p: *const u8, class: SizeClass) -> Result<*mut Span, &'static str> {
    if !in_arena(p) {
        return Err(NOT_OURS);
    }
    // SAFETY: `p` lies in a registered arena, whose header lives for the whole process.
    unsafe {
        let span = span_of(p.cast_mut());
        let c = (*span).class;
        if c as usize != class.index() {
            return Err(if c == NO_CLASS {
                FREE_SPAN
            } else {
                "free with a layout of another size class than the block's"
            });
        }
        if !at_block_start(p as usize & (SPAN_SIZE - 1), class) {
            return Err(MIDDLE);
        }
        Ok(span)
    }
}

/// `m = ceil(2^40 / size)` per class. For every offset inside a span (`off < 2^19`, `size <=
/// 2^16`): `(off * m) >> 40 == off / size` exactly (the error term stays below `2^-21`, under
/// the smallest gap `1 / size` between `off / size` and the next integer), and `size` divides
/// `off` iff the low 40 bits of `off * m` are below `m` (they are `q * (m * size - 2^40) <
/// 2^19` when `off = q * size`, and at least `r * m >= m` when `off = q * size + r`, r > 0).
const RECIP: [u64; size_class::NUM_CLASSES] = {
    let mut r = [0u64; size_class::NUM_CLASSES];
    let mut i = 0;
    while i < r.len() {
        let size = size_class::CLASS_SIZE[i] as u64;
        r[i] = (1u64 << 40).div_ceil(size);
        i += 1;
    }
    r
};

/// `off / size_of(class)` for an offset inside a span, without a division.
#[inline(always)]
fn block_index(off: usize, class: SizeClass) -> usize {
    ((off as u64 * RECIP[class]) >> 40) as usize
}

/// True if `off` (inside a span) is a multiple of `size_of(class)`, without a division.
#[inline(always)]
fn at_block_start(off: usize, class: SizeClass) -> bool {
    let m = RECIP[class];
    (off as u64).wrapping_mul(m) & ((1 << 40) - 1) < m
}

/// The `hardened` check on the free path: `b` must be the start of a block of a span of
/// `class` (in one of our arenas, span assigned to that class, at a block boundary), and must
/// not carry a free block's canary (a double free). `near` is null or a block of ours (the
/// list's head). Aborts with a message otherwise. About 10 instructions when `b` shares
/// `near`'s span, 20 otherwise; no division.
#[cfg(feature = "hardened")]
#[inline(always)]
pub fn check_free_hardened(b: *mut Block, class: SizeClass, near: *mut Block) {
    let p = b as usize;
    // `near` (the list's head, or null) is a free block of this class, checked when it was
    // freed: its span belongs to `class`. A block of the same span needs no span lookup (the
    // common case: one compare); else the arena map (skipped in `near`'s arena) and the span.
    if (p ^ near as usize) >= SPAN_SIZE {
        if (p ^ near as usize) >= ARENA_SIZE && !in_arena(b.cast()) {
            wrong_free(b, NOT_OURS);
        }
        // SAFETY: `b` lies in a registered arena, whose header lives for the whole process.
        let span = unsafe { &*span_of(b.cast()) };
        // A free span's class is NO_CLASS, which no layout maps to.
        if span.class as usize != class.index() {
            wrong_free(
                b,
                "free with a layout of another size class than the block's (or of a free span)",
            );
        }
    }
    if !at_block_start(p & (SPAN_SIZE - 1), class) {
        wrong_free(b, MIDDLE);
    }
    // SAFETY: `b` starts a block of this class (>= 16 bytes, hardened) inside a mapped span.
    if unsafe { Block::is_free(b) } {
        wrong_free(b, "double free (the block is already on a free list)");
    }
}

/// True if `next`, just decoded from free block `b`'s link, can be a block: null, in `b`'s
/// arena (the common case: one compare), or in another of our arenas (hardened pop).
#[cfg(feature = "hardened")]
#[inline(always)]
pub fn plausible_link(b: *mut Block, next: *mut Block) -> bool {
    next.is_null() || (b as usize ^ next as usize) < ARENA_SIZE || in_arena(next.cast())
}

/// A caller's misuse found on a free path: message with the address, then abort.
#[cold]
#[inline(never)]
pub fn wrong_free(b: *mut Block, what: &str) -> ! {
    os::fatal_at(what, b as usize)
}

/// Heap corruption found on an allocation path (hardened): message with the address, then
/// abort.
#[cfg(feature = "hardened")]
#[cold]
#[inline(never)]
pub fn corrupted(b: *mut Block, what: &str) -> ! {
    os::fatal_at(what, b as usize)
}

impl Span {
    /// Gives this free span to `class`: empty, nothing carved.
    pub fn assign(&mut self, class: SizeClass) {
        self.free = ptr::null_mut();
        self.bump = 0;
        self.used = 0;
        self.block_size = size_class::size_of(class) as u32;
        self.capacity = size_class::CAPACITY[class];
        self.class = class.index() as u8;
        self.state = SpanState::Full;
        self.needs_purge = false;
        self.dormant = 0;
        self.next = ptr::null_mut();
        self.prev = ptr::null_mut();
    }

    /// Blocks on the free list: `bump - used - dormant` (the span's invariant), no walk.
    #[inline]
    pub fn idle_blocks(&self) -> usize {
        (self.bump - self.used - self.dormant) as usize
    }

    /// True if the span has a block to give (free, uncarved, or dormant to wake).
    #[inline]
    pub fn has_room(&self) -> bool {
        !self.free.is_null() || self.bump < self.capacity || self.dormant > 0
    }

    /// True if `b` starts a carved block of this span (a class span): the refill's check of
    /// each block it takes from `free`, a subtraction, a multiplication and two compares.
    fn holds_carved(&self, b: *mut Block) -> bool {
        let off = (b as usize).wrapping_sub(self.base as usize);
        match SizeClass::new(self.class as usize) {
            Some(class) => {
                off < self.bump as usize * self.block_size as usize
                    && block_index(off, class) * self.block_size as usize == off
            }
            None => false,
        }
    }

    /// Bytes of the span's pages given back while it belongs to a class.
    pub fn purged_bytes(&self) -> usize {
        self.purged
            .iter()
            .map(|w| w.count_ones() as usize)
            .sum::<usize>()
            * PAGE
    }

    /// Takes up to `want` blocks, pushing them onto `list` (whose length is `*count`). Free
    /// blocks go first; only if there are none (and the refill has none yet: `*count == 0`)
    /// does the span grow: fresh blocks carved in address order, else dormant ones woken a
    /// page at a time. Returns what became resident.
    ///
    /// Growth is lazy: blocks are carved only when taken (the bump pointer), a refill that
    /// found free blocks takes those and does not grow the span for the rest of its batch,
    /// and one call carves at most a quarter of `want` (at least a page's worth). So a thread
    /// that uses a class a little touches a page or two of a fresh span, not a whole batch's
    /// worth, and a class's carved blocks do not ratchet up by a batch whenever its free
    /// blocks fall short of one (thread start/exit churn). Refills during growth are up to
    /// four times as frequent, next to page faults that cost more. The same step applies on
    /// a reused dirty span, whose pages past the carved blocks a reclaim may give back
    /// ([`Span::release_tail`]).
    ///
    /// # Safety
    /// The caller holds the lock of the span's central list; `list` is a valid block list.
    pub unsafe fn take(&mut self, want: usize, list: &mut *mut Block, count: &mut usize) -> Grown {
        let mut grown = Grown::default();
        loop {
            while *count < want && !self.free.is_null() {
                let b = self.free;
                // A link a use-after-free write changed points anywhere: check before reading it.
                if !self.holds_carved(b) {
                    wrong_free(
                        b,
                        "a span's free list was overwritten (a write to a freed block?)",
                    );
                }
                // SAFETY: blocks in `free` are ours and unused; their first word is the link.
                unsafe {
                    self.free = Block::next(b);
                    Block::set_next(b, *list);
                }
                *list = b;
                *count += 1;
                self.used += 1;
            }
            if *count > 0 {
                return grown; // growth only for a refill that found no free block
            }
            if self.bump < self.capacity {
                grown.fresh = self.carve(want - *count, want, list, count);
                return grown;
            }
            if self.dormant == 0 {
                return grown;
            }
            grown.woken += self.wake();
        }
    }

    /// Carves up to `n` fresh blocks onto `list` (at least one; `bump < capacity`), at most a
    /// quarter of `want`'s bytes (at least a page). Returns the bytes of pages touched for
    /// the first time (past `resident_end`).
    fn carve(&mut self, n: usize, want: usize, list: &mut *mut Block, count: &mut usize) -> usize {
        let s = self.block_size as usize;
        let step = (want * s / 4).max(PAGE);
        let fresh = n
            .min((self.capacity - self.bump) as usize)
            .min((step / s).max(1));
        // Link the fresh blocks so the list ends up in ascending address order.
        let first = self.bump as usize;
        let mut i = first + fresh;
        while i > first {
            i -= 1;
            // SAFETY: block i < capacity lies inside this span's memory and was never handed
            // out.
            unsafe {
                let b = self.base.add(i * s).cast::<Block>();
                Block::set_next(b, *list);
                *list = b;
            }
        }
        self.bump += fresh as u32;
        self.used += fresh as u32;
        *count += fresh;
        let end = page_up(self.bump as usize * s);
        let old = self.resident_end as usize;
        if end > old {
            self.resident_end = end as u32;
            end - old
        } else {
            0
        }
    }

    /// Gives back the pages past the carved blocks that an earlier class of the span touched
    /// (a dirty span reused: its former class's pages stay resident until this class carves
    /// over them, or until this call). Returns the bytes given back.
    ///
    /// # Safety
    /// The caller holds the lock of the span's central list; the span belongs to a class.
    pub unsafe fn release_tail(&mut self) -> usize {
        let end = page_up(self.bump as usize * self.block_size as usize);
        let old = self.resident_end as usize;
        if end >= old {
            return 0;
        }
        // SAFETY: pages at or past `end` hold only uncarved blocks (never handed out since the
        // span was assigned) or no block (past the last one), so nothing live.
        unsafe { os::decommit(self.base.add(end), old - end) };
        // Pages past the last block that a purge gave back already: not counted twice, and
        // unmarked (nothing past `resident_end` is purged).
        let mut already = 0;
        for p in end / PAGE..old / PAGE {
            if self.is_purged(p) {
                self.purged[p / 64] &= !(1 << (p % 64));
                already += PAGE;
            }
        }
        self.resident_end = end as u32;
        old - end - already
    }

    /// Blocks `[first, last]` that overlap bytes `[from, to)` of the span (`to > from`).
    #[inline]
    fn blocks_over(&self, from: usize, to: usize) -> (usize, usize) {
        let s = self.block_size as usize;
        (from / s, ((to - 1) / s).min(self.capacity as usize - 1))
    }

    fn is_purged(&self, page: usize) -> bool {
        self.purged[page / 64] & (1 << (page % 64)) != 0
    }

    /// True if block `i` overlaps a purged page.
    fn overlaps_purged(&self, i: usize) -> bool {
        let s = self.block_size as usize;
        (i * s / PAGE..=((i + 1) * s - 1) / PAGE).any(|p| self.is_purged(p))
    }

    /// Wakes the lowest purged page that holds a block, with every other purged page that
    /// block covers, and moves the blocks that no longer touch a purged page to the free list
    /// (at least that one block). Returns the bytes woken. Needs `dormant > 0`.
    fn wake(&mut self) -> usize {
        let s = self.block_size as usize;
        let end = self.capacity as usize * s; // pages at or past `end` hold no block
        let Some(page) = (0..PAGES_PER_SPAN).find(|&p| p * PAGE < end && self.is_purged(p)) else {
            os::fatal("span: dormant blocks but no purged page holds a block");
        };
        let (first, _) = self.blocks_over(page * PAGE, page * PAGE + PAGE);
        let (lo, hi) = (first * s / PAGE, ((first + 1) * s - 1) / PAGE);
        let mut woken = 0;
        let mut was_purged = [false; 2 + MAX_SMALL / PAGE]; // pages lo..=hi, at most a block's
        for p in lo..=hi {
            if self.is_purged(p) {
                self.purged[p / 64] &= !(1 << (p % 64));
                was_purged[p - lo] = true;
                woken += PAGE;
            }
        }
        // Blocks that overlapped a woken page were dormant; free those that now touch none.
        let (a, b) = self.blocks_over(lo * PAGE, (hi + 1) * PAGE);
        for i in (a..=b).rev() {
            let (bl, bh) = (i * s / PAGE, ((i + 1) * s - 1) / PAGE);
            let touched_woken = (bl.max(lo)..=bh.min(hi)).any(|p| was_purged[p - lo]);
            if touched_woken && !self.overlaps_purged(i) {
                // SAFETY: block i lies in this span and was dormant (it overlapped a purged
                // page), so nothing else holds it; its pages are no longer purged.
                unsafe {
                    let blk = self.base.add(i * s).cast::<Block>();
                    Block::set_next(blk, self.free);
                    self.free = blk;
                }
                self.dormant -= 1;
            }
        }
        woken
    }

    /// Gives back to the OS every page of the span whose blocks are all free or dormant
    /// (page-granular purge: a live block pins only the pages it touches). With `uncarved`
    /// false (decay), pages that hold an uncarved block are left alone: if the span came fresh
    /// they were never touched and cost nothing, and the bump pointer hands them out without a
    /// wake. With `uncarved` true (`trim`), uncarved blocks count as free too, so the pages a
    /// reused span's former class touched go back as well, and the span is carved whole. The
    /// blocks that touch a newly purged page become dormant; the other free blocks are
    /// relinked, in address order, into `free`. Returns the bytes purged.
    ///
    /// Costs a pass over the free list and one over the span's blocks; runs on the decay and
    /// trim paths only, never on a thread's refill or flush.
    ///
    /// # Safety
    /// The caller holds the lock of the span's central list; the span belongs to a class.
    pub unsafe fn purge(&mut self, uncarved: bool) -> usize {
        // The scratch bitmap sized to the class (zeroing 8 KiB for a span of 8 blocks would
        // cost more than the purge).
        // SAFETY: forwarded from the caller.
        unsafe {
            match self.capacity as usize {
                0..=512 => self.purge_with(&mut [0u64; 8], uncarved),
                513..=4096 => self.purge_with(&mut [0u64; 64], uncarved),
                _ => self.purge_with(&mut [0u64; MAX_BLOCKS / 64], uncarved),
            }
        }
    }

    /// [`Span::purge`] with `idle` (zeroed, at least `capacity` bits) as its scratch bitmap.
    ///
    /// # Safety
    /// As [`Span::purge`].
    unsafe fn purge_with(&mut self, idle: &mut [u64], uncarved: bool) -> usize {
        let s = self.block_size as usize;
        let cap = self.capacity as usize;
        // Blocks that are not used: free or dormant (uncarved ones are not idle here).
        let mut b = self.free;
        while !b.is_null() {
            let i = (b as usize - self.base as usize) / s;
            idle[i / 64] |= 1 << (i % 64);
            // SAFETY: blocks in `free` are ours; the link is their first word.
            b = unsafe { Block::next(b) };
        }
        let bit = |idle: &[u64], i: usize| idle[i / 64] & (1 << (i % 64)) != 0;
        if uncarved {
            for i in self.bump as usize..cap {
                idle[i / 64] |= 1 << (i % 64);
            }
            self.bump = self.capacity;
        }
        for i in 0..self.bump as usize {
            if !bit(idle, i) && self.dormant > 0 && self.overlaps_purged(i) {
                idle[i / 64] |= 1 << (i % 64);
            }
        }
        // Pages all of whose blocks are carved and idle (once the whole span counts as carved,
        // the pages past its last block, which hold none, too).
        let carved = self.bump as usize;
        let pages = if carved == cap {
            PAGES_PER_SPAN
        } else {
            (carved * s) / PAGE
        };
        let mut newly = [0u64; PURGE_WORDS];
        let mut bytes = 0;
        for p in 0..pages {
            // Pages past `resident_end` were never touched: nothing to give back (a trim marks
            // them, as it moves `resident_end` to the span's end).
            if self.is_purged(p) || (!uncarved && p * PAGE >= self.resident_end as usize) {
                continue;
            }
            let all_idle = p * PAGE >= cap * s || {
                let (a, z) = self.blocks_over(p * PAGE, p * PAGE + PAGE);
                z < carved && (a..=z).all(|i| bit(idle, i))
            };
            if all_idle {
                newly[p / 64] |= 1 << (p % 64);
                // A page past `resident_end` (a trim marks it) was never touched: not counted.
                if p * PAGE < self.resident_end as usize {
                    bytes += PAGE;
                }
            }
        }
        self.needs_purge = false;
        if bytes == 0 && !uncarved {
            return 0; // nothing to give back, and the lists stay as they are
        }
        // Give the pages back, one madvise per run of consecutive pages (the untouched pages
        // past `resident_end` need none: the whole span is carved and tracked by `purged`
        // from now on).
        let resident_pages = self.resident_end as usize / PAGE;
        if uncarved {
            self.resident_end = SPAN_SIZE as u32;
        }
        let mut p = 0;
        while p < resident_pages {
            if newly[p / 64] & (1 << (p % 64)) == 0 {
                p += 1;
                continue;
            }
            let start = p;
            while p < resident_pages && newly[p / 64] & (1 << (p % 64)) != 0 {
                p += 1;
            }
            // SAFETY: every block that touches these pages is free, uncarved or dormant, so
            // they hold nothing live; the free list is rebuilt below without them.
            unsafe { os::decommit(self.base.add(start * PAGE), (p - start) * PAGE) };
        }
        for (w, n) in self.purged.iter_mut().zip(newly) {
            *w |= n;
        }
        // Relink the idle blocks that touch no purged page; the others are dormant.
        self.free = ptr::null_mut();
        self.dormant = 0;
        for i in (0..carved).rev() {
            if !bit(idle, i) {
                continue;
            }
            if self.overlaps_purged(i) {
                self.dormant += 1;
            } else {
                // SAFETY: block i is idle and touches only pages that stay committed.
                unsafe {
                    let blk = self.base.add(i * s).cast::<Block>();
                    Block::set_next(blk, self.free);
                    self.free = blk;
                }
            }
        }
        bytes
    }

    /// Checks, under the span's list lock, that block `b` of `class` (the span's) can be given
    /// back: it was carved,
    /// some block of the span is out, and it is not on a page already given back (which no
    /// block in use ever is). Else why not.
    pub fn check_give(&self, b: *mut Block, class: SizeClass) -> Result<(), &'static str> {
        let off = b as usize & (SPAN_SIZE - 1);
        if off >= self.bump as usize * self.block_size as usize {
            return Err("free of a pointer that was never handed out (past the carved blocks)");
        }
        if self.used == 0 {
            return Err("double free (the block's span has no block out)");
        }
        if self.dormant > 0 && self.overlaps_purged(block_index(off, class)) {
            return Err("double free (the block's page was already given back to the OS)");
        }
        Ok(())
    }

    /// Takes one block back.
    ///
    /// # Safety
    /// The caller holds the lock of the span's central list; `b` is a block of this span that
    /// was handed out and is no longer used.
    #[inline]
    pub unsafe fn give(&mut self, b: *mut Block) {
        // SAFETY: `b` is a dead block of this span (caller); we own its first word now.
        unsafe { Block::set_next(b, self.free) };
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
            b = unsafe { Block::next(b) };
        }
        if self.used + n + self.dormant != self.bump || self.bump > self.capacity {
            crate::os::fatal("span check: used + free + dormant != carved");
        }
        let dormant = (0..self.bump as usize)
            .filter(|&i| self.overlaps_purged(i))
            .count();
        if dormant != self.dormant as usize {
            crate::os::fatal("span check: dormant count does not match the purged pages");
        }
        let mut b = self.free;
        while !b.is_null() {
            let i = (b as usize - self.base as usize) / self.block_size as usize;
            if self.overlaps_purged(i) {
                crate::os::fatal("span check: a free block touches a purged page");
            }
            // SAFETY: as above.
            b = unsafe { Block::next(b) };
        }
        if (self.state == SpanState::Partial) != self.has_room() {
            crate::os::fatal("span check: state does not match room");
        }
        let end = self.resident_end as usize;
        if !end.is_multiple_of(PAGE)
            || end > SPAN_SIZE
            || end < page_up(self.bump as usize * self.block_size as usize)
            || (end / PAGE..PAGES_PER_SPAN).any(|p| self.is_purged(p))
        {
            crate::os::fatal("span check: resident_end below the carved blocks or a purged page");
        }
    }
}
