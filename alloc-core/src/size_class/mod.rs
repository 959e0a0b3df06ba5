//! Size classes: the table of block sizes and the O(1) size-to-class lookup used on every
//! malloc and free (docs/architecture.md, "Size classes").
//!
//! The table is `const`-computed in `table.rs` from three rules: steps of 8 B up to 64 B, steps
//! of 16 B up to 128 B, and from there eight classes per doubling (each class is 1/8 of its
//! power of two above the previous one). So a request above 128 B never wastes more than
//! 12.5 % of its own size, and every class is a multiple of every power-of-two alignment that
//! a request rounded up to that alignment can need (see [`round_request`]). The tests below
//! check both claims for every size.

mod table;

pub use table::{BATCH, CAPACITY, CLASS_SIZE, LIMIT, NUM_CLASSES};

/// The largest request served from size classes; larger ones go to `large`.
pub const MAX_SMALL: usize = 64 * 1024;

/// Bytes in one span: every span, whatever its class, is this size and this alignment.
pub const SPAN_SIZE: usize = 512 * 1024;

/// log2 of [`SPAN_SIZE`].
pub const SPAN_SHIFT: u32 = SPAN_SIZE.trailing_zeros();

/// A size class: an index `0..NUM_CLASSES`, as a type. Only [`class_of`], [`SizeClass::new`]
/// and [`SizeClass::all`] make one, so "in range" is a property of every value, and the
/// class-indexed tables (`BATCH[class]`, a thread cache's lists, the central lists) are
/// indexed without a bounds check and without a `# Safety` clause.
///
/// Invariant: `self.0 < NUM_CLASSES`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SizeClass(u8);

// Every entry of the lookup table is a class: `class_of` may wrap it without a check.
const _: () = {
    let mut i = 0;
    while i < table::CLASS_LOOKUP.len() {
        assert!((table::CLASS_LOOKUP[i] as usize) < NUM_CLASSES);
        i += 1;
    }
    assert!(NUM_CLASSES <= u8::MAX as usize);
};

impl SizeClass {
    /// Class `i`, if `i < NUM_CLASSES`.
    pub const fn new(i: usize) -> Option<SizeClass> {
        if i < NUM_CLASSES {
            Some(SizeClass(i as u8))
        } else {
            None
        }
    }

    /// Every class, smallest first.
    pub fn all() -> impl Iterator<Item = SizeClass> {
        (0..NUM_CLASSES as u8).map(SizeClass)
    }

    /// The index, `0..NUM_CLASSES`.
    #[inline(always)]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl<T> core::ops::Index<SizeClass> for [T; NUM_CLASSES] {
    type Output = T;
    #[inline(always)]
    fn index(&self, class: SizeClass) -> &T {
        // SAFETY: class.0 < NUM_CLASSES (the type's invariant).
        unsafe { self.get_unchecked(class.index()) }
    }
}

impl<T> core::ops::IndexMut<SizeClass> for [T; NUM_CLASSES] {
    #[inline(always)]
    fn index_mut(&mut self, class: SizeClass) -> &mut T {
        // SAFETY: class.0 < NUM_CLASSES (the type's invariant).
        unsafe { self.get_unchecked_mut(class.index()) }
    }
}

/// Every class is a multiple of this, so requests aligned to at most this need no rounding.
pub const MIN_ALIGN: usize = 8;

/// Rounds a request up to a non-zero multiple of its alignment. A request served from a class
/// must be rounded first: the class of the rounded size is then a multiple of the alignment
/// (see the module doc), and since spans are [`SPAN_SIZE`]-aligned, so is every block of it.
/// Requests aligned to at most [`MIN_ALIGN`] (almost all) skip the arithmetic. A zero-size
/// request (which `GlobalAlloc` callers must not make) still gets a real block.
#[inline(always)]
pub const fn round_request(size: usize, align: usize) -> usize {
    if align <= MIN_ALIGN {
        return size;
    }
    // Cannot overflow for a valid Layout: size rounded up to align is <= isize::MAX.
    let size = if size == 0 { 1 } else { size };
    (size + align - 1) & !(align - 1)
}

/// True if a request of `rounded` bytes (already [`round_request`]ed) is served from a size
/// class. One compare: `rounded >= align`, so this also bounds the alignment by `MAX_SMALL`.
#[inline(always)]
pub const fn is_small(rounded: usize) -> bool {
    rounded <= MAX_SMALL
}

/// The smallest class whose blocks hold `size` bytes; `size <= MAX_SMALL` (larger sizes
/// panic: callers test [`is_small`] first, after which the bounds check folds away).
///
/// Cost: an add, a shift and one byte load from an 8 KiB table (one entry per 8 bytes of
/// request; only the lines of the sizes a program uses get cached).
#[inline(always)]
pub fn class_of(size: usize) -> SizeClass {
    SizeClass(LOOKUP[(size + 7) >> 3])
}

/// [`table::CLASS_LOOKUP`], except that under the `hardened` feature requests of up to 8 bytes
/// map to the 16-byte class: a hardened free block holds a link and a canary. Built at compile
/// time, so the rule costs nothing at run time.
static LOOKUP: [u8; MAX_SMALL / 8 + 1] = {
    let mut t = table::CLASS_LOOKUP;
    if cfg!(feature = "hardened") {
        t[0] = 1;
        t[1] = 1;
    }
    t
};

/// Block size of `class`.
#[inline(always)]
pub fn size_of(class: SizeClass) -> usize {
    CLASS_SIZE[class] as usize
}

/// The size-class table as the Markdown table that docs/architecture.md carries (a test keeps
/// the two equal): per class, block size, blocks per span, tail waste per span, batch, the
/// thread-cache limit, and the worst internal waste of a request that lands in the class.
pub fn markdown_table() -> String {
    use core::fmt::Write;
    let mut out = String::from(
        "| class | bytes | blocks/span | tail waste | batch | cache limit | max waste |\n|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in 0..NUM_CLASSES {
        let size = CLASS_SIZE[c] as usize;
        let prev = if c == 0 {
            0
        } else {
            CLASS_SIZE[c - 1] as usize
        };
        let cap = CAPACITY[c] as usize;
        let tail = SPAN_SIZE - cap * size;
        // the worst request in this class is prev + 1 bytes
        let waste = (size - (prev + 1)) as f64 * 100.0 / (prev + 1) as f64;
        let _ = writeln!(
            out,
            "| {c} | {size} | {cap} | {tail} B ({:.1} %) | {} | {} | {waste:.1} % |",
            tail as f64 * 100.0 / SPAN_SIZE as f64,
            BATCH[c],
            LIMIT[c]
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_strictly_increasing_and_ends_at_max_small() {
        assert_eq!(CLASS_SIZE[0], 8);
        for w in CLASS_SIZE.windows(2) {
            assert!(w[0] < w[1], "classes not increasing: {w:?}");
        }
        assert_eq!(CLASS_SIZE[NUM_CLASSES - 1] as usize, MAX_SMALL);
    }

    #[test]
    fn every_size_maps_to_the_smallest_class_that_fits_within_the_waste_bound() {
        for size in 1..=MAX_SMALL {
            let c = class_of(size).index();
            let cs = CLASS_SIZE[c] as usize;
            assert!(cs >= size, "size {size} -> class {c} ({cs} B) too small");
            // Hardened: the smallest class a request may use is the 16-byte one.
            let smallest = if cfg!(feature = "hardened") { 1 } else { 0 };
            assert!(
                c >= smallest,
                "size {size} -> class {c}, below the smallest allowed"
            );
            if c > smallest {
                assert!(
                    (CLASS_SIZE[c - 1] as usize) < size,
                    "size {size} -> class {c} ({cs} B) not the smallest"
                );
            }
            if size > 128 {
                // waste relative to the request: (cs - size) / size <= 1/8
                assert!(
                    (cs - size) * 8 <= size,
                    "size {size} -> {cs} B wastes more than 12.5 %"
                );
            }
        }
    }

    #[test]
    fn rounded_requests_get_classes_aligned_for_them() {
        let mut align = 1;
        while align <= MAX_SMALL {
            for size in 0..=MAX_SMALL {
                let r = round_request(size, align);
                if !is_small(r) {
                    continue;
                }
                let cs = size_of(class_of(r));
                assert_eq!(
                    cs % align,
                    0,
                    "size {size} align {align} -> class of {cs} B is misaligned"
                );
                assert!(cs >= size);
                assert_eq!(
                    SPAN_SIZE % align,
                    0,
                    "spans must be aligned for every small alignment"
                );
            }
            align *= 2;
        }
    }

    #[test]
    fn spans_hold_whole_blocks_with_bounded_tail_waste() {
        for (c, &cap) in CAPACITY.iter().enumerate() {
            let cs = CLASS_SIZE[c] as usize;
            let cap = cap as usize;
            assert_eq!(cap, SPAN_SIZE / cs);
            assert!(cap >= 8, "class {c} has only {cap} blocks per span");
            let tail = SPAN_SIZE - cap * cs;
            assert!(tail * 8 <= SPAN_SIZE, "class {c}: tail waste {tail} B");
        }
    }

    #[test]
    fn docs_carry_the_current_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/architecture.md");
        let doc = std::fs::read_to_string(path).expect("docs/architecture.md");
        let table = markdown_table();
        let (start, end) = (
            "<!-- size-class table: begin -->\n",
            "<!-- size-class table: end -->",
        );
        let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
            panic!("docs/architecture.md lacks the size-class table markers");
        };
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let new = format!("{}{start}{table}{}", &doc[..a], &doc[b..]);
            std::fs::write(path, new).unwrap();
            return;
        }
        assert_eq!(
            &doc[a + start.len()..b],
            table,
            "docs/architecture.md is stale: rerun with UPDATE_DOCS=1"
        );
    }

    #[test]
    fn batches_and_limits_are_sane() {
        for c in 0..NUM_CLASSES {
            let (b, l) = (BATCH[c] as usize, LIMIT[c] as usize);
            assert!(b >= 2 && l >= b, "class {c}: batch {b} limit {l}");
            assert!(b <= CAPACITY[c] as usize);
            // the per-class bound of a thread cache: at most 64 KiB or two blocks
            assert!(
                l * CLASS_SIZE[c] as usize <= 64 * 1024 || l == 2,
                "class {c}: limit {l}"
            );
        }
    }
}
