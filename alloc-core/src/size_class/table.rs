//! The size-class table, computed at compile time (`const fn`), so it cannot drift from the
//! rules in `size_class/mod.rs`. docs/architecture.md carries it with per-class waste figures
//! (`markdown_table`; a test keeps the copy current).

use super::{MAX_SMALL, SPAN_SIZE};

/// Number of size classes.
pub const NUM_CLASSES: usize = count_classes();

// Every class has a row in the counters.
const _: () = assert!(NUM_CLASSES <= alloc_stats::MAX_CLASSES);

/// Block size of each class, ascending.
pub static CLASS_SIZE: [u32; NUM_CLASSES] = build_sizes();

/// Blocks per span for each class.
pub static CAPACITY: [u32; NUM_CLASSES] = build_capacity();

/// Blocks moved per refill (central -> thread cache) and per flush (thread cache -> central):
/// about 32 KiB worth, at least 2 and at most 64.
pub static BATCH: [u32; NUM_CLASSES] = build_batch();

/// The most blocks a thread cache may hold for a class: about 64 KiB worth, at least one batch.
pub static LIMIT: [u32; NUM_CLASSES] = build_limit();

/// Class of each 8-byte step of request size up to [`MAX_SMALL`], indexed by `(size + 7) >> 3`.
pub static CLASS_LOOKUP: [u8; MAX_SMALL / 8 + 1] = build_lookup::<{ MAX_SMALL / 8 + 1 }>(8);

/// Visits the class sizes in order; `f` gets (index, size).
const fn class_size_at(n: usize) -> usize {
    // Steps of 8 up to 64 (8 classes), of 16 up to 128 (4 classes), then 8 per doubling.
    if n < 8 {
        return (n + 1) * 8;
    }
    if n < 12 {
        return 64 + (n - 7) * 16;
    }
    let k = n - 12;
    let base = 128usize << (k / 8);
    base + (k % 8 + 1) * (base / 8)
}

const fn count_classes() -> usize {
    let mut n = 0;
    while class_size_at(n) <= MAX_SMALL {
        n += 1;
    }
    n
}

const fn build_sizes() -> [u32; NUM_CLASSES] {
    let mut t = [0u32; NUM_CLASSES];
    let mut i = 0;
    while i < NUM_CLASSES {
        t[i] = class_size_at(i) as u32;
        i += 1;
    }
    t
}

const fn build_capacity() -> [u32; NUM_CLASSES] {
    let mut t = [0u32; NUM_CLASSES];
    let mut i = 0;
    while i < NUM_CLASSES {
        t[i] = (SPAN_SIZE / class_size_at(i)) as u32;
        i += 1;
    }
    t
}

const fn clamp(v: usize, lo: usize, hi: usize) -> usize {
    if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    }
}

const fn batch_at(i: usize) -> usize {
    clamp(32 * 1024 / class_size_at(i), 2, 64)
}

const fn build_batch() -> [u32; NUM_CLASSES] {
    let mut t = [0u32; NUM_CLASSES];
    let mut i = 0;
    while i < NUM_CLASSES {
        t[i] = batch_at(i) as u32;
        i += 1;
    }
    t
}

const fn build_limit() -> [u32; NUM_CLASSES] {
    let mut t = [0u32; NUM_CLASSES];
    let mut i = 0;
    while i < NUM_CLASSES {
        let b = batch_at(i);
        t[i] = clamp(64 * 1024 / class_size_at(i), b, 4 * b) as u32;
        i += 1;
    }
    t
}

/// `t[j]` = the smallest class whose size is >= `j * step`.
const fn build_lookup<const N: usize>(step: usize) -> [u8; N] {
    let mut t = [0u8; N];
    let mut j = 0;
    let mut c = 0;
    while j < N {
        while class_size_at(c) < j * step {
            c += 1;
        }
        t[j] = c as u8;
        j += 1;
    }
    t
}
