//! Central lists: per size class, [`shards`] of them, each a lock around its partial spans and
//! its transfer cache (Go's `mcentral`, sharded; docs/architecture.md, step 3). Every span
//! belongs to one shard, the shard of the thread cache that took it from the page heap; a
//! thread cache refills from its own shard, and a flushed batch goes to the shard of its
//! blocks' span. So a block freed by another thread goes back to the shard of the thread that
//! allocated it, and a producer→consumer pair meets on its own shard's lock, not on one lock
//! per class that every pair shares (snmalloc's "send it back to its owner", with a lock per
//! owner shard instead of a message queue).
//!
//! Decay: each list stamps its last refill or flush and each span its last give-back; the
//! scavenger calls [`CentralList::decay`], which hands an idle transfer cache back to its
//! spans and purges the free pages of spans that have been quiet for the decay delay.

use core::ptr;

use alloc_stats::HeapCounters;

use crate::heap_stats::heap;

use crate::decay;
use crate::page_heap::PAGE_HEAP;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use crate::span::Grown;

use crate::size_class::{self, SizeClass, BATCH, NUM_CLASSES};
use crate::span::{self, span_of, Block, Span, SpanState};
use crate::sync::Lock;

/// Full batches a central list keeps whole (tcmalloc's transfer cache): a flush of exactly one
/// batch parks it here and a refill of one batch takes it back, both O(1), without touching
/// the blocks' spans. Bounded: at most this many batches per class (≈ 128 KiB up to 16 KiB
/// blocks, at most 512 KiB for the largest class).
pub const TRANSFER_SLOTS: usize = 4;

/// The partial spans of one class, and its transfer cache.
///
/// Invariants: `partial` is a doubly linked list (through `Span::next`/`prev`) of exactly the
/// spans of this class whose `state == Partial`; each has room (a free or uncarved block).
/// `batches[..parked]` each link exactly `BATCH[class]` dead blocks of this class (null
/// terminated); their spans count them as used.
pub struct CentralList {
    partial: *mut Span,
    batches: [*mut Block; TRANSFER_SLOTS],
    parked: usize,
    /// When (decay clock) a thread last refilled from or flushed to this list.
    last_active: u32,
    /// Free blocks in the spans of the list: Σ `bump - used - dormant` over its spans (full
    /// spans have none).
    free: usize,
    /// The fewest free blocks the list had since the last [`reclaim`] visited it: that many
    /// stayed free the whole time, while the heap grew elsewhere (a low-water mark).
    low: usize,
}

/// Bytes of fresh pages (never touched since their span was last released) that refills
/// carved and that no [`reclaim`] has paid for yet. Purged pages woken again do not count:
/// that is memory coming back into use after a reclaim or a decay gave it up, and paying
/// for it would let two classes trade the same pages back and forth.
static GROWN: AtomicUsize = AtomicUsize::new(0);

/// Growth between two reclaims: a refill that brings [`GROWN`] to this much runs one. A
/// reclaim is a pass over the lists (a `try_lock` each) and purges, so it runs at most once
/// per this many bytes of page faults, which cost more.
const RECLAIM_STEP: usize = 256 * 1024;

/// Least free bytes (free blocks, by count) a span needs for a reclaim to purge it: a purge
/// is a pass over the span's blocks.
const RECLAIM_MIN_FREE: usize = 4 * crate::os::PAGE;

/// Where the next [`reclaim`] starts in the lists (class-major), so that successive ones
/// take turns.
static RECLAIM_CURSOR: AtomicUsize = AtomicUsize::new(0);

/// Most spans one [`CentralList::decay`] call purges, so that the scavenger holds a class's
/// lock for a bounded time (about a millisecond at worst); the rest waits for its next pass.
const PURGE_PER_PASS: usize = 16;

// SAFETY: the spans it links live for the whole process in arenas; the surrounding lock
// serialises all access.
unsafe impl Send for CentralList {}

/// A central list on its own cache line, so that threads working on different classes do not
/// contend on one line; with a hint of who holds its lock.
#[repr(align(64))]
pub struct Padded {
    /// The list.
    pub list: Lock<CentralList>,
    /// Set while a thread cache's refill holds `list` (a hint, read without the lock): a refill
    /// that finds the lock taken moves its thread to another shard only when another refill
    /// has it, not when a flush does (that is a consumer bringing the blocks back).
    pub refilling: AtomicBool,
}

const _: () = assert!(core::mem::size_of::<Padded>() == 128);

/// Most shards per class.
pub const MAX_SHARDS: usize = 32;

/// The shards in use: a power of two, half the online CPUs rounded up (so 1 on 2 CPUs, 8 on
/// 16), at most [`MAX_SHARDS`], or `POOLALLOC_SHARDS` (set once by [`init_shards`]; 1 before).
static SHARDS: AtomicUsize = AtomicUsize::new(1);

/// Sets the number of shards: `wanted` (from `POOLALLOC_SHARDS`) if given, else from the CPU
/// count. Each shard that threads use keeps spans of its own per class, so a small machine,
/// where a shared lock costs little, keeps one. Called once at start-up, before any thread
/// cache exists.
pub fn init_shards(cpus: usize, wanted: Option<u32>) {
    let n = match wanted {
        Some(w) => w as usize,
        None => cpus / 2,
    };
    SHARDS.store(n.max(1).next_power_of_two().min(MAX_SHARDS), Relaxed);
}

/// The shards in use (a power of two).
#[inline]
pub fn shards() -> usize {
    SHARDS.load(Relaxed)
}

/// The central lists, indexed by shard, then size class. A global because every thread
/// refills from and flushes to the same lists; each lock protects its shard's spans and
/// parked batches. Shard-major, so that the lists of the shards in use are contiguous: a
/// process on one shard touches 84 × 128 B (3 pages) of this table, not a page per class
/// (336 KiB, when each class's 32 shards lay side by side).
pub static CENTRAL: [[Padded; NUM_CLASSES]; MAX_SHARDS] = [const {
    [const {
        Padded {
            list: Lock::new(CentralList::new()),
            refilling: AtomicBool::new(false),
        }
    }; NUM_CLASSES]
}; MAX_SHARDS];

/// The central list of `class` in `shard`, with its hint.
#[inline]
pub fn slot(class: SizeClass, shard: usize) -> &'static Padded {
    &CENTRAL[shard % MAX_SHARDS][class]
}

/// The central list of `class` in `shard`.
#[inline]
pub fn central(class: SizeClass, shard: usize) -> &'static Lock<CentralList> {
    &slot(class, shard).list
}

/// Pays for growth: gives back about `budget` bytes of resident pages that no block in use
/// holds, from the spans of every central list but the caller's (`class` in `shard`, whose
/// lock the caller holds; the others are only tried, so this waits for no lock and cannot
/// deadlock), starting where the last reclaim stopped. Returns the bytes given back.
///
/// Why: a span's free blocks serve only its class, so a program whose working set moves
/// from some classes to others (a parse of one kind of document, then of another) would
/// otherwise hold both sets resident until decay releases the first, and its peak would be
/// their sum; glibc reuses the freed bytes for the new sizes. Here the heap grows by what the
/// new classes touch and gives back as much that the old ones do not use, so resident memory
/// follows the live heap at once, not after the decay delay (Go's heap-growth scavenging).
/// Bounded: it gives back at most about what was just faulted in, and a list that had to
/// wake purged pages (it needed them after all) is left alone for the decay delay, so two
/// classes cannot keep trading the same pages.
fn reclaim(class: SizeClass, shard: usize, budget: usize) -> usize {
    let n = shards();
    let lists = NUM_CLASSES * n;
    let start = RECLAIM_CURSOR.load(Relaxed);
    let mut got = 0;
    for k in 0..lists {
        let i = (start + k) % lists;
        let (Some(c), sh) = (SizeClass::new(i / n), i % n) else {
            continue;
        };
        if c == class && sh == shard {
            continue;
        }
        if let Some(mut list) = central(c, sh).try_lock() {
            got += list.reclaim_spans(c, sh, budget - got);
        }
        if got >= budget {
            RECLAIM_CURSOR.store(i, Relaxed);
            break;
        }
    }
    got
}

/// Runs `f` on every central list (every class, every shard in use), one lock at a time, then
/// sends the blocks of other shards that `f` set aside. Returns true if any call of `f` did
/// (the scavenger: "memory is left to age").
pub fn each_list(
    mut f: impl FnMut(&mut CentralList, SizeClass, usize, &mut Foreign) -> bool,
) -> bool {
    let mut any = false;
    for class in SizeClass::all() {
        for shard in 0..shards() {
            let mut foreign = Foreign::new();
            any |= f(
                &mut central(class, shard).lock(),
                class,
                shard,
                &mut foreign,
            );
            // SAFETY: blocks of `class`; the shard's lock was released above.
            unsafe { foreign.send(class) };
        }
    }
    any
}

/// Hands `count` dead blocks of `class` linked from `head` back to the central lists: a whole
/// batch is parked in the transfer cache of its first block's shard, other blocks go to their
/// spans, each under its own shard's lock (one lock at a time).
///
/// # Safety
/// The list holds `count` dead blocks of `class` handed out by this allocator.
pub unsafe fn flush(class: SizeClass, head: *mut Block, count: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { check_blocks(class, head, count) };
    // SAFETY: `head` is a block this allocator handed out, so its span is assigned and its
    // shard does not change while the block is out.
    let shard = unsafe { (*span_of(head.cast())).shard } as usize;
    let mut foreign = Foreign::new();
    // SAFETY: forwarded from the caller.
    unsafe {
        central(class, shard)
            .lock()
            .flush(class, shard, head, count, &mut foreign)
    };
    // SAFETY: the blocks of other shards that the flush set aside.
    unsafe { foreign.send(class) };
}

/// The slow path's check of every block handed back: each must start a block of a span of
/// `class` that was handed out (not a foreign pointer, not a pointer into a block, not of
/// another class, not on a page already given back), and the list must hold exactly `count`
/// blocks. Aborts with `alloc-core: fatal: <what> (at <address>)` otherwise: a caller's wrong
/// layout, double free or foreign pointer, caught before it corrupts a span. Reads only the
/// arena map, the span headers and the links (which the flush walked already); no lock.
///
/// # Safety
/// `head` links `count` blocks the caller passed to `dealloc` (their memory is readable if
/// they are ours, which the first check establishes before any read).
unsafe fn check_blocks(class: SizeClass, head: *mut Block, count: usize) {
    let mut b = head;
    for _ in 0..count {
        if b.is_null() {
            span::wrong_free(
                head,
                "double free (a list of freed blocks is shorter than its count)",
            );
        }
        if let Err(what) = span::check_block(b.cast(), class) {
            span::wrong_free(b, what);
        }
        // SAFETY: `b` is a block of one of our spans (checked above); the link is its first word.
        b = unsafe { Block::next(b) };
    }
    if !b.is_null() {
        span::wrong_free(
            b,
            "double free (a list of freed blocks is longer than its count)",
        );
    }
}

/// Dead blocks of one class on their way to the shards that own their spans (set aside while
/// another shard's lock was held).
///
/// Invariant: `head` links exactly `count` dead blocks of the class.
pub struct Foreign {
    head: *mut Block,
    count: usize,
}

impl Foreign {
    /// None yet.
    pub const fn new() -> Self {
        Foreign {
            head: ptr::null_mut(),
            count: 0,
        }
    }

    /// # Safety
    /// `b` is a dead block of the list's class.
    unsafe fn push(&mut self, b: *mut Block) {
        // SAFETY: `b` is dead and ours (caller): its first word becomes the link.
        unsafe { Block::set_next(b, self.head) };
        self.head = b;
        self.count += 1;
    }

    /// Gives the blocks to the spans of their own shards, one shard's lock at a time, with no
    /// other central lock held.
    ///
    /// # Safety
    /// The blocks are of `class`; the caller holds no central list's lock.
    pub unsafe fn send(mut self, class: SizeClass) {
        while self.count > 0 {
            let (head, count) = (self.head, self.count);
            self = Foreign::new();
            // SAFETY: a dead block handed out by this allocator: its span's shard is stable.
            let shard = unsafe { (*span_of(head.cast())).shard } as usize;
            // SAFETY: `head` links `count` dead blocks of `class`; at least the first one is
            // this shard's, so each round makes progress.
            unsafe {
                central(class, shard).lock().flush_to_spans(
                    class,
                    shard,
                    head,
                    count,
                    decay::now(),
                    &mut self,
                )
            };
        }
    }
}

impl CentralList {
    const fn new() -> Self {
        CentralList {
            partial: ptr::null_mut(),
            batches: [ptr::null_mut(); TRANSFER_SLOTS],
            parked: 0,
            last_active: 0,
            free: 0,
            low: 0,
        }
    }

    /// Takes up to `want` blocks of `class`, as a list; this list is `shard`'s, which a span
    /// fresh from the page heap joins. Returns (head, count); count is 0 only when the OS has
    /// no memory left.
    pub fn refill(&mut self, class: SizeClass, shard: usize, want: usize) -> (*mut Block, usize) {
        self.last_active = decay::now();
        if want == BATCH[class] as usize && self.parked > 0 {
            self.parked -= 1;
            return (self.batches[self.parked], want);
        }
        let mut head: *mut Block = ptr::null_mut();
        let mut count = 0;
        let mut grown = 0;
        let mut fresh_total = 0;
        while count < want {
            let mut span = self.partial;
            if span.is_null() {
                span = PAGE_HEAP.lock().alloc_span(class);
                if span.is_null() {
                    break;
                }
                // SAFETY: a freshly assigned span, owned by this list from now on.
                unsafe {
                    (*span).shard = shard as u8;
                    self.push(span);
                }
            }
            let had = count;
            // SAFETY: `span` is in our partial list and we hold the list's lock.
            let Grown { woken, fresh } = unsafe {
                let before = (*span).idle_blocks();
                let g = (*span).take(want, &mut head, &mut count);
                self.free = self.free + (*span).idle_blocks() - before;
                if !(*span).has_room() {
                    self.unlink(span);
                    (*span).state = SpanState::Full;
                }
                g
            };
            self.low = self.low.min(self.free);
            grown += woken + fresh;
            fresh_total += fresh;
            if fresh > 0 || count == had {
                // Fresh pages go out a step at a time, and a refill that found free blocks
                // does not grow a span for the rest (`Span::take`).
                break;
            }
        }
        if grown > 0 {
            HeapCounters::add(&heap().os_mapped, grown);
        }
        if fresh_total > 0 {
            self.pay(class, shard, fresh_total);
        }
        #[cfg(feature = "debug-invariants")]
        self.check(class, shard);
        (head, count)
    }

    /// Adds `grown` bytes (fresh pages that a refill of this list, `class` in `shard`, just
    /// touched) to the growth not paid for, and runs a [`reclaim`] once that reaches
    /// [`RECLAIM_STEP`].
    fn pay(&mut self, class: SizeClass, shard: usize, grown: usize) {
        if GROWN.fetch_add(grown, Relaxed) + grown < RECLAIM_STEP {
            return;
        }
        let debt = GROWN.swap(0, Relaxed);
        if debt > 0 {
            let released = reclaim(class, shard, debt);
            HeapCounters::add(&heap().os_released, released);
        }
    }

    /// A [`reclaim`]'s visit to this list (`class` in `shard`): if blocks of it stayed free
    /// since the last visit (the low-water mark), gives back up to that many bytes (and at
    /// most about `budget`): the resident pages past the carved blocks of its spans, and the
    /// free pages of spans with at least [`RECLAIM_MIN_FREE`] free bytes. Then starts a new
    /// low-water window. Returns the bytes given back.
    ///
    /// Blocks that a class frees and takes again between two visits (its working set, in a
    /// loop that allocates and frees) never count: only memory the class left alone while
    /// the heap grew elsewhere goes back.
    fn reclaim_spans(&mut self, class: SizeClass, shard: usize, budget: usize) -> usize {
        let idle = self.low * size_class::size_of(class);
        let mut got = 0;
        if idle >= RECLAIM_MIN_FREE {
            let goal = budget.min(idle);
            let mut s = self.partial;
            while !s.is_null() && got < goal {
                // SAFETY: spans of the partial list are valid and belong to `class`; we hold
                // the lock.
                unsafe {
                    got += (*s).release_tail();
                    let free = (*s).idle_blocks() * (*s).block_size as usize;
                    if (*s).needs_purge && free >= RECLAIM_MIN_FREE {
                        let before = (*s).idle_blocks();
                        got += (*s).purge(false);
                        self.free = self.free + (*s).idle_blocks() - before;
                    }
                    s = (*s).next;
                }
            }
        }
        self.low = self.free;
        #[cfg(feature = "debug-invariants")]
        self.check(class, shard);
        let _ = shard;
        got
    }

    /// Takes back `count` blocks of `class` linked from `head` (this list is `shard`'s): a
    /// whole batch is parked, else each block of this shard goes to its span, and the blocks
    /// of other shards go to `foreign`, for the caller to send once it holds no lock.
    ///
    /// # Safety
    /// The list holds `count` dead blocks of `class` handed out by this allocator.
    unsafe fn flush(
        &mut self,
        class: SizeClass,
        shard: usize,
        head: *mut Block,
        count: usize,
        foreign: &mut Foreign,
    ) {
        self.last_active = decay::now();
        if count == BATCH[class] as usize && self.parked < TRANSFER_SLOTS {
            self.batches[self.parked] = head;
            self.parked += 1;
            return;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.flush_to_spans(class, shard, head, count, self.last_active, foreign) }
    }

    /// Gives every parked batch back to its spans, stamped `stamp`, so that empty spans can
    /// return to the page heap.
    fn drain(&mut self, class: SizeClass, shard: usize, stamp: u32, foreign: &mut Foreign) {
        while self.parked > 0 {
            self.parked -= 1;
            let head = self.batches[self.parked];
            // SAFETY: a parked batch holds BATCH[class] dead blocks of `class`.
            unsafe {
                self.flush_to_spans(class, shard, head, BATCH[class] as usize, stamp, foreign)
            };
        }
    }

    /// `PoolAlloc::trim`: drains the transfer cache and purges the free pages of every
    /// partial span (this list is `shard`'s; parked blocks of other shards go to `foreign`).
    /// Returns the bytes purged.
    pub fn trim(&mut self, class: SizeClass, shard: usize, foreign: &mut Foreign) -> usize {
        self.drain(class, shard, decay::now(), foreign);
        let mut bytes = 0;
        let mut s = self.partial;
        while !s.is_null() {
            // SAFETY: spans of the partial list are valid; we hold the lock.
            unsafe {
                if (*s).needs_purge || (*s).bump < (*s).capacity {
                    let before = (*s).idle_blocks();
                    bytes += (*s).purge(true);
                    self.free = self.free + (*s).idle_blocks() - before;
                }
                s = (*s).next;
            }
        }
        HeapCounters::add(&heap().os_released, bytes);
        self.low = self.low.min(self.free);
        #[cfg(feature = "debug-invariants")]
        self.check(class, shard);
        bytes
    }

    /// One scavenger pass at time `now`: a transfer cache idle for the decay delay goes back
    /// to its spans (stamped with its last activity, so the spans it empties are as old), and
    /// spans that got blocks back and were quiet since are purged (at most
    /// [`PURGE_PER_PASS`]). Returns true if something is left that may age later.
    pub fn decay(
        &mut self,
        class: SizeClass,
        shard: usize,
        now: u32,
        foreign: &mut Foreign,
    ) -> bool {
        let mut pending = false;
        if self.parked > 0 {
            if decay::aged(self.last_active, now) {
                self.drain(class, shard, self.last_active, foreign);
            } else {
                pending = true;
            }
        }
        let (mut bytes, mut budget) = (0, PURGE_PER_PASS);
        let mut s = self.partial;
        while !s.is_null() {
            // SAFETY: spans of the partial list are valid; we hold the lock.
            unsafe {
                if (*s).needs_purge {
                    if budget > 0 && decay::aged((*s).stamp, now) {
                        let before = (*s).idle_blocks();
                        bytes += (*s).purge(false);
                        self.free = self.free + (*s).idle_blocks() - before;
                        budget -= 1;
                    } else {
                        pending = true;
                    }
                }
                s = (*s).next;
            }
        }
        HeapCounters::add(&heap().os_released, bytes);
        self.low = self.low.min(self.free);
        #[cfg(feature = "debug-invariants")]
        self.check(class, shard);
        pending
    }

    /// Returns `count` blocks linked from `head` to their spans, one by one (this list is
    /// `shard`'s; blocks of other shards' spans go to `foreign`); spans that get blocks back
    /// are stamped `stamp`, and one that becomes empty goes to the page heap.
    ///
    /// # Safety
    /// As [`CentralList::flush`].
    unsafe fn flush_to_spans(
        &mut self,
        class: SizeClass,
        shard: usize,
        mut head: *mut Block,
        count: usize,
        stamp: u32,
        foreign: &mut Foreign,
    ) {
        for _ in 0..count {
            // SAFETY: `head` is one of the caller's dead blocks; its span is found from its
            // address, and we hold the lock of its shard's list, or set it aside for its own.
            unsafe {
                let next = Block::next(head);
                let span = span_of(head.cast());
                if (*span).shard as usize != shard && (*span).state != SpanState::Free {
                    foreign.push(head);
                    head = next;
                    continue;
                }
                if (*span).state == SpanState::Free || (*span).class as usize != class.index() {
                    span::wrong_free(
                        head,
                        "free with a layout of another size class than the block's",
                    );
                }
                if let Err(what) = (*span).check_give(head, class) {
                    span::wrong_free(head, what);
                }
                (*span).give(head);
                self.free += 1;
                (*span).needs_purge = true;
                (*span).stamp = stamp;
                if (*span).state == SpanState::Full {
                    (*span).state = SpanState::Partial;
                    self.push(span);
                } else if (*span).used == 0 && !(self.partial == span && (*span).next.is_null()) {
                    // Empty: back to the page heap, where it waits the decay delay. Unless it
                    // is the list's last span: the class keeps that one (its pages go back
                    // through decay, trim or reclaim like any partial span's), so that a class
                    // whose blocks all come back (a thread's, at its exit) finds them again
                    // in the span it carved, instead of each thread's classes taking the
                    // dirty spans of others and touching pages past the ones they touched.
                    self.unlink(span);
                    self.free -= (*span).idle_blocks();
                    self.low = self.low.min(self.free);
                    PAGE_HEAP.lock().free_span(span, stamp);
                }
                head = next;
            }
        }
        #[cfg(feature = "debug-invariants")]
        self.check(class, shard);
    }

    /// # Safety
    /// `span` is in no list; the caller holds this list's lock.
    unsafe fn push(&mut self, span: *mut Span) {
        // SAFETY: `span` and the list head are valid spans of this class (caller).
        unsafe {
            (*span).state = SpanState::Partial;
            (*span).prev = ptr::null_mut();
            (*span).next = self.partial;
            if !self.partial.is_null() {
                (*self.partial).prev = span;
            }
        }
        self.partial = span;
    }

    /// # Safety
    /// `span` is in this list; the caller holds its lock.
    unsafe fn unlink(&mut self, span: *mut Span) {
        // SAFETY: `span` and its neighbours are valid spans of this list (caller).
        unsafe {
            let (prev, next) = ((*span).prev, (*span).next);
            if prev.is_null() {
                self.partial = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
            (*span).next = ptr::null_mut();
            (*span).prev = ptr::null_mut();
        }
    }

    /// Checks the list's and its spans' invariants; aborts if one is broken.
    #[cfg(feature = "debug-invariants")]
    pub fn check(&self, class: SizeClass, shard: usize) {
        for &batch in &self.batches[..self.parked] {
            let mut n = 0;
            let mut b = batch;
            while !b.is_null() {
                // SAFETY: parked blocks are dead blocks of this class; we hold the lock.
                unsafe {
                    if (*span_of(b.cast())).class as usize != class.index() {
                        crate::os::fatal("central check: a parked block of another class");
                    }
                    b = Block::next(b);
                }
                n += 1;
            }
            if n != BATCH[class] as usize {
                crate::os::fatal("central check: a parked batch of the wrong length");
            }
        }
        let mut s = self.partial;
        let mut prev: *mut Span = ptr::null_mut();
        let mut free = 0;
        while !s.is_null() {
            // SAFETY: spans in the list are valid; we hold the lock (caller).
            unsafe {
                if (*s).prev != prev
                    || (*s).class as usize != class.index()
                    || (*s).shard as usize != shard
                    || (*s).state != SpanState::Partial
                {
                    crate::os::fatal("central check: broken partial list");
                }
                (*s).check();
                free += (*s).idle_blocks();
                prev = s;
                s = (*s).next;
            }
        }
        if free != self.free || self.low > self.free {
            crate::os::fatal("central check: free blocks do not add up");
        }
    }
}
