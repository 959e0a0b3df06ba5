//! Randomized multi-threaded stress: millions of mixed alloc/realloc/dealloc calls over sizes
//! from 1 B to 4 MiB and alignments up to 2 MiB. Every block is filled with a pattern derived
//! from its address and id and checked before it is freed, after `realloc` moved it, and when
//! another thread frees it; a shadow map of live ranges catches any overlap at once.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::Mutex;

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

const THREADS: usize = 4;
const OPS_PER_THREAD: usize = 400_000;
const LIVE_TARGET: usize = 1500;

/// Live ranges of every thread: start -> end. Catches two live blocks overlapping.
static SHADOW: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Blk {
    ptr: usize,
    size: usize,
    align: usize,
    id: u64,
}
// SAFETY: (for the test) a Blk is an owned allocation; sending it moves the ownership.
unsafe impl Send for Blk {}

fn pat(id: u64, addr: usize, i: usize) -> u8 {
    ((id ^ (addr + i) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// Offsets checked: every byte of small blocks, a stride plus the last byte for big ones.
fn offsets(size: usize) -> impl Iterator<Item = usize> {
    let stride = (size / 512).max(1);
    (0..size).step_by(stride).chain(std::iter::once(size - 1))
}

fn fill(b: &Blk, len: usize) {
    for i in offsets(len) {
        // SAFETY: i < len <= b.size, inside the live block.
        unsafe { *((b.ptr + i) as *mut u8) = pat(b.id, b.ptr, i) };
    }
}

fn check(b: &Blk, len: usize, addr_of_pattern: usize) {
    for i in offsets(len) {
        // SAFETY: i < len <= b.size, inside the live block.
        let got = unsafe { *((b.ptr + i) as *const u8) };
        assert_eq!(
            got,
            pat(b.id, addr_of_pattern, i),
            "block {} ({} B at {:#x}) corrupt at byte {i}",
            b.id,
            b.size,
            b.ptr
        );
    }
}

fn shadow_insert(ptr: usize, size: usize) {
    let mut s = SHADOW.lock().unwrap();
    if let Some((&start, &end)) = s.range(..=ptr).next_back() {
        assert!(
            end <= ptr,
            "new block [{ptr:#x}, +{size}) overlaps live [{start:#x}, {end:#x})"
        );
    }
    if let Some((&start, _)) = s.range(ptr..).next() {
        assert!(
            ptr + size <= start,
            "new block [{ptr:#x}, +{size}) overlaps live block at {start:#x}"
        );
    }
    s.insert(ptr, ptr + size);
}

fn shadow_remove(ptr: usize) {
    assert!(
        SHADOW.lock().unwrap().remove(&ptr).is_some(),
        "freeing {ptr:#x}, which is not live"
    );
}

fn random_layout(r: &mut Rng) -> Layout {
    let size = match r.below(100) {
        0..=89 => 1 + r.below(1024) as usize,
        90..=98 => 1024 + r.below(63 * 1024) as usize,
        _ => 64 * 1024 + r.below(4 * 1024 * 1024 - 64 * 1024) as usize,
    };
    let align = match r.below(1000) {
        0..=899 => 8,
        900..=969 => 16,
        970..=989 => 4096,
        990..=998 => 65536,
        _ => 2 << 20,
    };
    Layout::from_size_align(size, align).unwrap()
}

fn free_block(b: Blk) {
    check(&b, b.size, b.ptr);
    shadow_remove(b.ptr);
    // SAFETY: b is a live block of this layout, owned here.
    unsafe {
        GLOBAL.dealloc(
            b.ptr as *mut u8,
            Layout::from_size_align(b.size, b.align).unwrap(),
        )
    };
}

fn worker(t: usize, to_next: mpsc::Sender<Blk>, from_prev: mpsc::Receiver<Blk>) -> (u64, u64) {
    let mut r = Rng(0x1234_5678_9ABC_DEF1 ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9));
    let mut live: Vec<Blk> = Vec::with_capacity(LIVE_TARGET * 2);
    let mut next_id = (t as u64) << 48;
    let (mut remote_frees, mut moved) = (0u64, 0u64);
    for _ in 0..OPS_PER_THREAD {
        while let Ok(b) = from_prev.try_recv() {
            free_block(b);
            remote_frees += 1;
        }
        let roll = r.below(100);
        if live.is_empty() || (live.len() < LIVE_TARGET && roll < 50) {
            let layout = random_layout(&mut r);
            // SAFETY: non-zero size.
            let p = unsafe { GLOBAL.alloc(layout) };
            assert!(!p.is_null());
            assert_eq!(p as usize % layout.align(), 0);
            shadow_insert(p as usize, layout.size());
            next_id += 1;
            let b = Blk {
                ptr: p as usize,
                size: layout.size(),
                align: layout.align(),
                id: next_id,
            };
            fill(&b, b.size);
            live.push(b);
            continue;
        }
        let i = r.below(live.len() as u64) as usize;
        let b = live.swap_remove(i);
        match roll {
            50..=64 => {
                // realloc to a random size, same alignment
                let new_size = random_layout(&mut r).size();
                check(&b, b.size, b.ptr);
                shadow_remove(b.ptr);
                let old = Layout::from_size_align(b.size, b.align).unwrap();
                // SAFETY: b is live with layout `old`; new_size is non-zero.
                let q = unsafe { GLOBAL.realloc(b.ptr as *mut u8, old, new_size) } as usize;
                assert!(q != 0);
                assert_eq!(q % b.align, 0);
                if q != b.ptr {
                    moved += 1;
                }
                shadow_insert(q, new_size);
                let kept = b.size.min(new_size);
                let nb = Blk {
                    ptr: q,
                    size: new_size,
                    align: b.align,
                    id: b.id,
                };
                // the preserved prefix still holds the pattern written at the old address
                for k in offsets(b.size).filter(|&k| k < kept) {
                    // SAFETY: k < kept <= new_size, inside the live block.
                    let got = unsafe { *((q + k) as *const u8) };
                    assert_eq!(
                        got,
                        pat(b.id, b.ptr, k),
                        "realloc {} -> {new_size} lost byte {k}",
                        b.size
                    );
                }
                fill(&nb, nb.size);
                live.push(nb);
            }
            65..=74 => {
                check(&b, b.size, b.ptr);
                to_next.send(b).unwrap();
            }
            _ => free_block(b),
        }
    }
    for b in live {
        free_block(b);
    }
    drop(to_next);
    // drain what the previous thread still sends
    for b in from_prev {
        free_block(b);
        remote_frees += 1;
    }
    (remote_frees, moved)
}

#[test]
fn stress_mixed_sizes_alignments_and_remote_frees() {
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..THREADS {
        let (tx, rx) = mpsc::channel();
        senders.push(tx);
        receivers.push(Some(rx));
    }
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = senders[(t + 1) % THREADS].clone();
            let rx = receivers[t].take().unwrap();
            std::thread::spawn(move || worker(t, tx, rx))
        })
        .collect();
    drop(senders);
    let mut remote = 0;
    let mut moved = 0;
    for h in handles {
        let (r, m) = h.join().unwrap();
        remote += r;
        moved += m;
    }
    assert!(SHADOW.lock().unwrap().is_empty(), "blocks left live");
    // the workload really exercised cross-thread frees and moving reallocs
    assert!(
        remote > (THREADS * OPS_PER_THREAD / 40) as u64,
        "only {remote} remote frees"
    );
    assert!(moved > 1000, "only {moved} moving reallocs");
}
