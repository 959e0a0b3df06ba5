//! Operation-sequence fuzzer (issue 11): proptest generates random sequences of `GlobalAlloc`
//! calls (`alloc`, `alloc_zeroed`, `realloc` growing, shrinking and across the small/large
//! boundary, `dealloc`, `trim`) over sizes biased towards boundaries (class sizes ±1,
//! `MAX_SMALL` ±8, page multiples ±1, the span size ±1) and alignments from 1 B to 1 MiB, on one
//! thread and on several threads that hand blocks to each other, and runs them against
//! `PoolAlloc` and a shadow model.
//!
//! The model checks, on every step:
//! - every pointer is non-null and aligned to its layout;
//! - no two live blocks overlap (a process-wide map of live ranges, shared by all threads);
//! - every block keeps the pattern written into it (derived from the block's id, never zero)
//!   until it is freed; `realloc` keeps the prefix; `alloc_zeroed` returns zeroes; a block
//!   handed to another thread arrives intact;
//! - the calling thread's counters (`Region::thread_of`) move by exactly one malloc / free /
//!   realloc of the right class (the documented class rules, `hardened`'s 16-byte minimum
//!   included) and byte count, and `trim` moves none of them; on every operation, even while
//!   other threads trim (a thread whose cache is being drained still counts as its own).
//!
//! A failing case leaks its live blocks (never frees a block twice or a block it doubts), so
//! proptest's shrinking re-runs are safe. Cases: 96 single-thread and 24 multi-thread sequences
//! by default (about 10 s in debug), the three tests side by side; `PROPTEST_CASES=n` runs `n` of each
//! (scripts/fuzz.sh runs them in release with `debug-invariants`, and with `hardened`).

use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use alloc_core::config::{MAX_SMALL, PAGE, SPAN_SIZE};
use alloc_core::size_class::{CLASS_SIZE, MIN_ALIGN, NUM_CLASSES};
use alloc_core::stats::LARGE;
use alloc_core::{PoolAlloc, Region, Snapshot};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError};

#[global_allocator]
static GLOBAL: PoolAlloc = PoolAlloc::new();

/// Largest block a random size asks for.
const MAX_LARGE: usize = 4 << 20;
/// Live bytes one model keeps at most: above it, its oldest blocks are freed first.
const LIVE_BUDGET: usize = 24 << 20;
/// Largest alignment asked for: 1 MiB.
const MAX_ALIGN_SHIFT: u32 = 20;

// ---------------------------------------------------------------------------------------------
// Block contents: a pattern periodic in P (prime, so it drifts through page offsets), shifted
// by the block's id. Filled and checked with memcpy/memcmp, fast even in debug builds.

const P: usize = 4093;
const CHUNK: usize = 4096;

/// `PATTERN[j] == PATTERN[j % P]`, never zero (so a page of zeroes in a live block shows).
static PATTERN: [u8; P + CHUNK] = make_pattern();

const fn make_pattern() -> [u8; P + CHUNK] {
    let mut t = [0u8; P + CHUNK];
    let mut x: u64 = 0x243F_6A88_85A3_08D3;
    let mut j = 0;
    while j < P {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t[j] = ((x >> 24) as u8) | 1;
        j += 1;
    }
    while j < P + CHUNK {
        t[j] = t[j - P];
        j += 1;
    }
    t
}

static ZEROES: [u8; CHUNK] = [0; CHUNK];

/// The expected bytes `[i, i + len)` (len <= CHUNK) of block `id`.
fn expected(id: u64, i: usize, len: usize) -> &'static [u8] {
    let off = (id as usize % P + i) % P;
    &PATTERN[off..off + len]
}

/// Writes block `id`'s pattern into `[from, to)` of the block at `p`.
///
/// # Safety
/// `[p + from, p + to)` is inside a live block owned by the caller.
unsafe fn fill(p: usize, from: usize, to: usize, id: u64) {
    let mut i = from;
    while i < to {
        let c = (to - i).min(CHUNK);
        // SAFETY: the source is a static of at least `c` bytes from its offset; the
        // destination is inside the caller's live block (contract); they cannot overlap.
        unsafe { ptr::copy_nonoverlapping(expected(id, i, c).as_ptr(), (p + i) as *mut u8, c) };
        i += c;
    }
}

/// The first offset in `[0, len)` of the block at `p` that differs from `want(i, c)`.
///
/// # Safety
/// `[p, p + len)` is inside a live block owned by the caller.
unsafe fn first_mismatch(
    p: usize,
    len: usize,
    want: impl Fn(usize, usize) -> &'static [u8],
) -> Option<(usize, u8, u8)> {
    let mut i = 0;
    while i < len {
        let c = (len - i).min(CHUNK);
        // SAFETY: inside the caller's live block (contract); bytes are plain u8.
        let got = unsafe { std::slice::from_raw_parts((p + i) as *const u8, c) };
        let w = want(i, c);
        if got != w {
            let k = (0..c).find(|&k| got[k] != w[k]).unwrap();
            return Some((i + k, got[k], w[k]));
        }
        i += c;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The process-wide map of live ranges: start -> (end, id). Blocks leave it before they are
// freed and enter it once the allocator has returned them, so any overlap it finds is real.

static SHADOW: Mutex<BTreeMap<usize, (usize, u64)>> = Mutex::new(BTreeMap::new());

fn shadow_insert(p: usize, size: usize, id: u64) -> Result<(), String> {
    let end = p
        .checked_add(size)
        .ok_or_else(|| format!("block #{id} at {p:#x} + {size} wraps"))?;
    let mut s = SHADOW.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((&start, &(e, other))) = s.range(..=p).next_back() {
        if e > p {
            return Err(format!(
                "block #{id} [{p:#x}, {end:#x}) overlaps live block #{other} [{start:#x}, {e:#x})"
            ));
        }
    }
    if let Some((&start, &(e, other))) = s.range(p..).next() {
        if start < end {
            return Err(format!(
                "block #{id} [{p:#x}, {end:#x}) overlaps live block #{other} [{start:#x}, {e:#x})"
            ));
        }
    }
    s.insert(p, (end, id));
    Ok(())
}

fn shadow_remove(p: usize, id: u64) {
    let mut s = SHADOW.lock().unwrap_or_else(|e| e.into_inner());
    let gone = s.remove(&p);
    assert_eq!(
        gone.map(|g| g.1),
        Some(id),
        "model bug: shadow lost block #{id}"
    );
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

// ---------------------------------------------------------------------------------------------
// The model's idea of where a request lands: the documented rules (size_class/mod.rs, large.rs),
// computed here from the class table without the allocator's lookup functions.

/// (row in the counters, bytes allocated) of a request.
fn footprint(size: usize, align: usize) -> (usize, usize) {
    let rounded = if align <= MIN_ALIGN {
        size
    } else {
        size.max(1).next_multiple_of(align)
    };
    // `hardened`: a free block holds a link and a canary, so the smallest block is 16 bytes.
    let rounded = if cfg!(feature = "hardened") {
        rounded.max(16)
    } else {
        rounded
    };
    if rounded <= MAX_SMALL {
        let c = (0..NUM_CLASSES)
            .find(|&c| CLASS_SIZE[c] as usize >= rounded)
            .expect("MAX_SMALL is a class");
        (c, CLASS_SIZE[c] as usize)
    } else {
        (LARGE, size.max(1).next_multiple_of(PAGE))
    }
}

/// `GLOBAL.trim()`.
fn trim() {
    GLOBAL.trim();
}

/// The calling thread's counters around one operation (`Region::thread_of`: exact per thread,
/// whatever other threads do, their trims included).
struct Measure {
    region: Region,
}

impl Measure {
    fn start() -> Self {
        Measure {
            region: Region::thread_of(PoolAlloc::registry()),
        }
    }

    /// The change, or None if counting is compiled out.
    fn end(self) -> Option<Snapshot> {
        let d = self.region.change();
        alloc_core::counting_enabled().then_some(d)
    }
}

/// Compares counter deltas; `what` names the operation.
fn counts(what: &str, got: &[(&str, u64, u64)]) -> Result<(), TestCaseError> {
    for &(name, have, want) in got {
        if have != want {
            return Err(fail(format!(
                "{what}: this thread's `{name}` moved by {have}, expected {want}"
            )));
        }
    }
    Ok(())
}

fn check_alloc_counts(
    d: Option<Snapshot>,
    size: usize,
    align: usize,
    what: &str,
) -> Result<(), TestCaseError> {
    let Some(d) = d else {
        return Ok(());
    };
    let (row, bytes) = footprint(size, align);
    counts(
        what,
        &[
            ("mallocs", d.mallocs, 1),
            ("frees", d.frees, 0),
            ("reallocs", d.reallocs_in_place + d.reallocs_moved, 0),
            ("large_allocs", d.large_allocs, (row == LARGE) as u64),
            ("classes[row].allocs", d.classes[row].allocs, 1),
            ("bytes_requested", d.bytes_requested, size as u64),
            ("bytes_allocated", d.bytes_allocated, bytes as u64),
            ("bytes_freed", d.bytes_freed, 0),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Operations.

/// A new size for `realloc`: absolute, or relative to the block's size.
#[derive(Clone, Debug)]
enum NewSize {
    Abs(usize),
    PlusOne,
    MinusOne,
    Double,
    Half,
    /// `MAX_SMALL + d`: across (or onto) the small/large boundary.
    Boundary(i8),
}

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        size: usize,
        align_shift: u32,
        zeroed: bool,
    },
    Realloc {
        which: Index,
        to: NewSize,
    },
    Free {
        which: Index,
    },
    Trim,
    /// Hand a live block to the shared pool (multi-thread runs; a no-op alone).
    Give {
        which: Index,
    },
    /// Take a block from the shared pool, whichever thread allocated it.
    Take {
        which: Index,
    },
}

fn size_strategy() -> impl Strategy<Value = usize> {
    let near = |base: usize, d: isize| base.saturating_add_signed(d).clamp(1, MAX_LARGE);
    prop_oneof![
        3 => 1usize..=16,
        4 => (0..NUM_CLASSES, -1isize..=1).prop_map(move |(c, d)| near(CLASS_SIZE[c] as usize, d)),
        3 => 1usize..=MAX_SMALL,
        2 => (-8isize..=8).prop_map(move |d| near(MAX_SMALL, d)),
        2 => (1usize..=MAX_LARGE / PAGE, -1isize..=1).prop_map(move |(k, d)| near(k * PAGE, d)),
        1 => (-1isize..=1).prop_map(move |d| near(SPAN_SIZE, d)),
        1 => (MAX_SMALL + 1)..=MAX_LARGE,
    ]
}

/// log2 of the alignment: mostly <= 8 B, sometimes up to a page, rarely up to 1 MiB.
fn align_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 0u32..=3,
        3 => 4u32..=12,
        1 => 13u32..=MAX_ALIGN_SHIFT,
    ]
}

fn new_size_strategy() -> impl Strategy<Value = NewSize> {
    prop_oneof![
        4 => size_strategy().prop_map(NewSize::Abs),
        1 => Just(NewSize::PlusOne),
        1 => Just(NewSize::MinusOne),
        2 => Just(NewSize::Double),
        2 => Just(NewSize::Half),
        2 => (-1i8..=1).prop_map(NewSize::Boundary),
    ]
}

fn op_strategy(threaded: bool) -> impl Strategy<Value = Op> {
    let hand = if threaded { 4 } else { 0 };
    // Trim is rare: it purges every span of the process, ~10 ms in a debug build.
    prop_oneof![
        16 => (size_strategy(), align_strategy(), prop::bool::weighted(0.3))
            .prop_map(|(size, align_shift, zeroed)| Op::Alloc { size, align_shift, zeroed }),
        8 => (any::<Index>(), new_size_strategy())
            .prop_map(|(which, to)| Op::Realloc { which, to }),
        10 => any::<Index>().prop_map(|which| Op::Free { which }),
        1 => Just(Op::Trim),
        hand => any::<Index>().prop_map(|which| Op::Give { which }),
        hand => any::<Index>().prop_map(|which| Op::Take { which }),
    ]
}

// ---------------------------------------------------------------------------------------------
// The model.

/// A live block: owned by whoever holds this value.
#[derive(Debug)]
struct Blk {
    ptr: usize,
    layout: Layout,
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Blk {
    /// Checks that the block still holds its pattern.
    fn check(&self, when: &str) -> Result<(), TestCaseError> {
        self.check_prefix(self.layout.size(), when)
    }

    fn check_prefix(&self, len: usize, when: &str) -> Result<(), TestCaseError> {
        // SAFETY: len <= layout.size(); the block is live and ours.
        match unsafe { first_mismatch(self.ptr, len, |i, c| expected(self.id, i, c)) } {
            None => Ok(()),
            Some((i, got, want)) => Err(fail(format!(
                "{when}: block #{} ({:?} at {:#x}) corrupt at byte {i}: {got:#04x}, \
                 expected {want:#04x}",
                self.id, self.layout, self.ptr
            ))),
        }
    }
}

/// One thread's live blocks. Dropped without [`Model::finish`] (a failed case), it leaks them:
/// after a failure nothing says a block is safe to free.
struct Model<'a> {
    live: Vec<Blk>,
    live_bytes: usize,
    pool: Option<&'a Mutex<Vec<Blk>>>,
    step: usize,
}

impl<'a> Model<'a> {
    fn new(pool: Option<&'a Mutex<Vec<Blk>>>) -> Self {
        Model {
            live: Vec::new(),
            live_bytes: 0,
            pool,
            step: 0,
        }
    }

    fn run(&mut self, ops: &[Op]) -> Result<(), TestCaseError> {
        for op in ops {
            self.apply(op)?;
            self.step += 1;
        }
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Alloc {
                size,
                align_shift,
                zeroed,
            } => {
                self.make_room(size, 0)?; // ids start at 1: keeps none
                let layout = Layout::from_size_align(size, 1 << align_shift).unwrap();
                self.alloc(layout, zeroed)
            }
            Op::Realloc { which, ref to } => {
                if self.live.is_empty() {
                    return Ok(());
                }
                let i = which.index(self.live.len());
                let old = self.live[i].layout.size();
                let new = match *to {
                    NewSize::Abs(n) => n,
                    NewSize::PlusOne => old + 1,
                    NewSize::MinusOne => old - 1,
                    NewSize::Double => old * 2,
                    NewSize::Half => old / 2,
                    NewSize::Boundary(d) => MAX_SMALL.saturating_add_signed(d as isize),
                }
                .clamp(1, MAX_LARGE);
                let id = self.live[i].id;
                self.make_room(new.saturating_sub(old), id)?;
                let i = self.live.iter().position(|b| b.id == id).unwrap();
                self.realloc(i, new)
            }
            Op::Free { which } => {
                if self.live.is_empty() {
                    return Ok(());
                }
                let i = which.index(self.live.len());
                self.free(i)
            }
            Op::Trim => {
                let m = Measure::start();
                trim();
                if let Some(d) = m.end() {
                    let w = self.what("trim");
                    counts(
                        &w,
                        &[
                            ("mallocs", d.mallocs, 0),
                            ("frees", d.frees, 0),
                            ("reallocs", d.reallocs_in_place + d.reallocs_moved, 0),
                            ("bytes_allocated", d.bytes_allocated, 0),
                            ("bytes_freed", d.bytes_freed, 0),
                        ],
                    )?;
                }
                // Trim gives pages back: live blocks must not lose their contents.
                for b in &self.live {
                    b.check(&self.what("after trim"))?;
                }
                Ok(())
            }
            Op::Give { which } => {
                let (Some(pool), false) = (self.pool, self.live.is_empty()) else {
                    return Ok(());
                };
                let i = which.index(self.live.len());
                self.live[i].check(&self.what("give"))?;
                let b = self.live.swap_remove(i);
                self.live_bytes -= b.layout.size();
                pool.lock().unwrap_or_else(|e| e.into_inner()).push(b);
                Ok(())
            }
            Op::Take { which } => {
                let Some(pool) = self.pool else {
                    return Ok(());
                };
                let b = {
                    let mut p = pool.lock().unwrap_or_else(|e| e.into_inner());
                    if p.is_empty() {
                        return Ok(());
                    }
                    let i = which.index(p.len());
                    p.swap_remove(i)
                };
                self.live_bytes += b.layout.size();
                self.live.push(b);
                self.live.last().unwrap().check(&self.what("take"))
            }
        }
    }

    fn what(&self, op: &str) -> String {
        format!("{:?} step {}: {op}", std::thread::current().id(), self.step)
    }

    /// Frees this thread's oldest blocks (but `keep`) until `more` bytes fit in the budget.
    fn make_room(&mut self, more: usize, keep: u64) -> Result<(), TestCaseError> {
        while self.live_bytes + more > LIVE_BUDGET {
            let Some(i) = self.live.iter().position(|b| b.id != keep) else {
                break;
            };
            self.free(i)?;
        }
        Ok(())
    }

    fn alloc(&mut self, layout: Layout, zeroed: bool) -> Result<(), TestCaseError> {
        let what = self.what(&format!(
            "{} {layout:?}",
            if zeroed { "alloc_zeroed" } else { "alloc" }
        ));
        let m = Measure::start();
        // SAFETY: a non-zero size (the strategies never make 0) and a valid Layout.
        let p = unsafe {
            if zeroed {
                GLOBAL.alloc_zeroed(layout)
            } else {
                GLOBAL.alloc(layout)
            }
        } as usize;
        let d = m.end();
        if p == 0 {
            return Err(fail(format!("{what}: null (a few MiB at most is live)")));
        }
        if !p.is_multiple_of(layout.align()) {
            return Err(fail(format!("{what}: {p:#x} is misaligned")));
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        shadow_insert(p, layout.size(), id).map_err(|e| fail(format!("{what}: {e}")))?;
        // From here the block is ours: on failure it stays in `live` and leaks.
        self.live.push(Blk { ptr: p, layout, id });
        self.live_bytes += layout.size();
        check_alloc_counts(d, layout.size(), layout.align(), &what)?;
        if zeroed {
            // SAFETY: [p, p + size) is the live block just allocated.
            let bad = unsafe { first_mismatch(p, layout.size(), |_, c| &ZEROES[..c]) };
            if let Some((i, got, _)) = bad {
                return Err(fail(format!(
                    "{what}: block #{id} at {p:#x} not zeroed: byte {i} is {got:#04x}"
                )));
            }
        }
        // SAFETY: as above.
        unsafe { fill(p, 0, layout.size(), id) };
        Ok(())
    }

    fn realloc(&mut self, i: usize, new: usize) -> Result<(), TestCaseError> {
        let (p, layout, id) = (self.live[i].ptr, self.live[i].layout, self.live[i].id);
        let what = self.what(&format!("realloc #{id} {layout:?} at {p:#x} to {new}"));
        self.live[i].check(&what)?;
        shadow_remove(p, id);
        let m = Measure::start();
        // SAFETY: `p` is a live block of `layout` from GLOBAL; `new` > 0 and, rounded up to
        // the alignment (<= 1 MiB), far below isize::MAX.
        let q = unsafe { GLOBAL.realloc(p as *mut u8, layout, new) } as usize;
        let d = m.end();
        if q == 0 {
            // The old block is still live and ours (the contract): put it back and fail.
            shadow_insert(p, layout.size(), id).map_err(|e| fail(format!("{what}: null, {e}")))?;
            return Err(fail(format!("{what}: null")));
        }
        let new_layout = Layout::from_size_align(new, layout.align()).unwrap();
        if !q.is_multiple_of(layout.align()) {
            // Leaked, not freed: nothing says it is a block.
            self.live.swap_remove(i);
            return Err(fail(format!("{what}: {q:#x} is misaligned")));
        }
        // The block is now q; the model follows before anything can fail.
        self.live[i].ptr = q;
        self.live[i].layout = new_layout;
        self.live_bytes = self.live_bytes - layout.size() + new;
        if let Err(e) = shadow_insert(q, new, id) {
            self.live.swap_remove(i); // leaked
            return Err(fail(format!("{what}: {e}")));
        }
        let keep = layout.size().min(new);
        self.live[i].check_prefix(keep, &format!("{what} (moved to {q:#x}): the kept prefix"))?;
        if let Some(d) = d {
            let (oc, ob) = footprint(layout.size(), layout.align());
            let (nc, nb) = footprint(new, layout.align());
            let moved_rows = (oc != nc) as u64;
            counts(
                &what,
                &[
                    ("mallocs", d.mallocs, 0),
                    ("frees", d.frees, 0),
                    ("reallocs", d.reallocs_in_place + d.reallocs_moved, 1),
                    ("reallocs_in_place", d.reallocs_in_place, (q == p) as u64),
                    (
                        "classes[old].reallocs_out",
                        d.classes[oc].reallocs_out,
                        moved_rows,
                    ),
                    (
                        "classes[new].reallocs_in",
                        d.classes[nc].reallocs_in,
                        moved_rows,
                    ),
                    (
                        "bytes_requested",
                        d.bytes_requested,
                        new.saturating_sub(ob) as u64,
                    ),
                    (
                        "bytes_allocated",
                        d.bytes_allocated,
                        nb.saturating_sub(ob) as u64,
                    ),
                    ("bytes_freed", d.bytes_freed, ob.saturating_sub(nb) as u64),
                ],
            )?;
        }
        // SAFETY: [q + keep, q + new) is inside the live block q.
        unsafe { fill(q, keep, new, id) };
        Ok(())
    }

    fn free(&mut self, i: usize) -> Result<(), TestCaseError> {
        let b = &self.live[i];
        let what = self.what(&format!("dealloc #{} {:?} at {:#x}", b.id, b.layout, b.ptr));
        b.check(&what)?;
        let b = self.live.swap_remove(i);
        self.live_bytes -= b.layout.size();
        shadow_remove(b.ptr, b.id);
        let m = Measure::start();
        // SAFETY: a live block of this layout from GLOBAL, freed once: it just left the model.
        unsafe { GLOBAL.dealloc(b.ptr as *mut u8, b.layout) };
        if let Some(d) = m.end() {
            let (row, bytes) = footprint(b.layout.size(), b.layout.align());
            counts(
                &what,
                &[
                    ("mallocs", d.mallocs, 0),
                    ("frees", d.frees, 1),
                    ("large_frees", d.large_frees, (row == LARGE) as u64),
                    ("classes[row].frees", d.classes[row].frees, 1),
                    ("bytes_allocated", d.bytes_allocated, 0),
                    ("bytes_freed", d.bytes_freed, bytes as u64),
                ],
            )?;
        }
        Ok(())
    }

    /// The end of a successful run: checks and frees every block left.
    fn finish(mut self) -> Result<(), TestCaseError> {
        while !self.live.is_empty() {
            self.free(self.live.len() - 1)?;
        }
        Ok(())
    }
}

/// Frees every block left in the pool (after all threads joined), checking each.
fn drain_pool(pool: &Mutex<Vec<Blk>>) -> Result<(), TestCaseError> {
    let left = std::mem::take(&mut *pool.lock().unwrap_or_else(|e| e.into_inner()));
    let mut m = Model::new(None);
    for b in left {
        m.live_bytes += b.layout.size();
        m.live.push(b);
    }
    m.finish()
}

fn run_single(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut m = Model::new(None);
    m.run(ops)?;
    m.finish()
}

fn run_threads(scripts: &[Vec<Op>]) -> Result<(), TestCaseError> {
    let pool = Mutex::new(Vec::new());
    let results: Vec<Result<(), TestCaseError>> = std::thread::scope(|s| {
        let hs: Vec<_> = scripts
            .iter()
            .map(|ops| {
                let pool = &pool;
                s.spawn(move || {
                    let mut m = Model::new(Some(pool));
                    m.run(ops)?;
                    m.finish()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(fail("a thread panicked".into())))
            })
            .collect()
    });
    for r in results {
        // A failure leaks what is left in the pool.
        r?;
    }
    drain_pool(&pool)
}

/// `PROPTEST_CASES` if set, else `default`.
fn config(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        // Each shrinking step re-runs a sequence; a failed one leaks its blocks. Bounded so a
        // failure cannot leak without end (PROPTEST_MAX_SHRINK_ITERS still overrides).
        max_shrink_iters: std::env::var("PROPTEST_MAX_SHRINK_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// One thread: a random sequence, checked step by step, everything freed at the end.
    #[test]
    fn single_thread_sequences(ops in prop::collection::vec(op_strategy(false), 1..250)) {
        run_single(&ops)?;
    }
}

proptest! {
    #![proptest_config(config(24))]

    /// 2 to 4 threads, each with its own sequence, handing blocks to each other through a
    /// shared pool: a block allocated on one thread is reallocated and freed on another.
    #[test]
    fn threads_hand_blocks_to_each_other(
        scripts in prop::collection::vec(prop::collection::vec(op_strategy(true), 1..200), 2..=4)
    ) {
        run_threads(&scripts)?;
    }
}

/// The edges, in order, once: every class size ±1 at alignments 1 to 4096 B, allocated,
/// grown by one, shrunk by one and freed, then the small/large boundary crossed both ways at
/// every alignment up to 1 MiB.
#[test]
fn every_class_edge_once() {
    let mut m = Model::new(None);
    for shift in [0u32, 3, 4, 6, 12] {
        for (c, &class_size) in CLASS_SIZE.iter().enumerate() {
            for d in [-1isize, 0, 1] {
                let size = (class_size as usize).saturating_add_signed(d).max(1);
                let layout = Layout::from_size_align(size, 1 << shift).unwrap();
                m.alloc(layout, c % 2 == 0).unwrap();
                let i = m.live.len() - 1;
                m.realloc(i, size + 1).unwrap();
                m.realloc(i, size.max(2) - 1).unwrap();
            }
        }
        m.make_room(usize::MAX / 2, 0).unwrap();
    }
    for shift in 0..=MAX_ALIGN_SHIFT {
        for size in [MAX_SMALL - 1, MAX_SMALL, MAX_SMALL + 1] {
            let layout = Layout::from_size_align(size, 1 << shift).unwrap();
            m.alloc(layout, shift % 2 == 1).unwrap();
            let i = m.live.len() - 1;
            m.realloc(i, MAX_SMALL + 1).unwrap();
            m.realloc(i, MAX_SMALL).unwrap();
            m.realloc(i, 3 * PAGE + 1).unwrap();
            m.realloc(i, MAX_SMALL * 4).unwrap();
        }
        trim();
    }
    m.finish().unwrap();
}
