//! BufferPool: smallest fitting class, never smaller than asked, never above the byte cap,
//! oversize and grown-past-the-largest buffers not kept.

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

use alloc_pool::{BufferPool, PooledBuf};

#[test]
fn get_returns_the_smallest_class_that_fits() {
    let pool = BufferPool::new();
    assert_eq!(pool.classes(), [1024, 4096, 16384, 65536]);
    for (want, class) in [
        (0, 1024),
        (1, 1024),
        (1024, 1024),
        (1025, 4096),
        (65536, 65536),
    ] {
        let b = pool.get(want);
        assert!(b.is_empty());
        assert!(b.capacity() >= want);
        assert!(
            b.capacity() >= class && b.capacity() < class * 2,
            "{want} -> {}",
            b.capacity()
        );
    }
}

#[test]
fn buffers_are_reused_cleared() {
    let pool = BufferPool::new();
    let ptr = {
        let mut b = pool.get(2000);
        b.extend_from_slice(&[0xAB; 2000]);
        b.as_ptr()
    };
    let b = pool.get(3000);
    assert_eq!(b.as_ptr(), ptr, "same 4 KiB buffer");
    assert!(b.is_empty());
    assert_eq!(pool.stats().hits, 1);
}

#[test]
fn never_hands_out_a_buffer_smaller_than_asked() {
    let pool = BufferPool::with_classes(&[64, 256, 1024]);
    let mut rng = 12345u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut held: Vec<PooledBuf<'_>> = Vec::new();
    for _ in 0..3000 {
        let want = (next() % 1500) as usize;
        let mut b = pool.get(want);
        assert!(b.capacity() >= want && b.is_empty());
        // Users misbehave: grow, shrink, replace the buffer.
        match next() % 4 {
            0 => b.reserve(next() as usize % 3000),
            1 => b.shrink_to_fit(),
            2 => *b = Vec::with_capacity(next() as usize % 2000),
            _ => b.extend(std::iter::repeat_n(1u8, want)),
        }
        held.push(b);
        if next() % 3 == 0 {
            held.clear();
        }
    }
    drop(held);
    let s = pool.stats();
    assert!(s.hits > 0 && s.dropped_rejected > 0, "{s}");
    assert_eq!(s.gets, s.hits + s.misses);
}

#[test]
fn retained_bytes_never_exceed_the_cap() {
    let cap = 20 * 1024;
    let pool = BufferPool::new().max_retained_bytes(cap);
    let held: Vec<_> = (0..20)
        .map(|i| pool.get(if i % 2 == 0 { 4096 } else { 16384 }))
        .collect();
    for b in held {
        drop(b);
        assert!(pool.retained_bytes() <= cap);
    }
    let s = pool.stats();
    assert!(s.dropped_cap > 0);
    assert!(pool.retained_bytes() <= cap);
    assert_eq!(pool.retained_bytes() as u64 % 4096, 0);
    // Taking the idle buffers out for good, then trimming, gives every byte back.
    assert_eq!(s.idle(), 2, "one 4 KiB and one 16 KiB fit under 20 KiB");
    let (a, b) = (pool.get(4096), pool.get(16384));
    assert_eq!(pool.stats().misses, s.misses, "both were reused");
    drop((PooledBuf::into_inner(a), PooledBuf::into_inner(b)));
    pool.trim();
    assert_eq!(pool.retained_bytes(), 0);
}

#[test]
fn concurrent_users_respect_the_cap() {
    let cap = 64 * 1024;
    let pool = BufferPool::new().max_retained_bytes(cap);
    std::thread::scope(|s| {
        for t in 0..4 {
            let pool = &pool;
            s.spawn(move || {
                for i in 0..500 {
                    let held: Vec<_> = (0..(i % 4 + 1))
                        .map(|j| pool.get(1000 * (t + j + 1) * 3))
                        .collect();
                    assert!(pool.retained_bytes() <= cap);
                    drop(held);
                    assert!(pool.retained_bytes() <= cap);
                }
            });
        }
    });
    assert!(pool.retained_bytes() <= cap);
}

#[test]
fn oversize_and_grown_buffers_are_not_kept() {
    let pool = BufferPool::new();
    let big = pool.get(1 << 20); // above the largest class: fresh, exact
    assert!(big.capacity() >= 1 << 20);
    drop(big);
    assert_eq!(pool.retained_bytes(), 0);
    let mut grown = pool.get(100);
    grown.resize(100 << 20, 0); // the "pooling 100 MB buffers" mistake
    drop(grown);
    assert_eq!(pool.retained_bytes(), 0);
    let s = pool.stats();
    assert_eq!(s.dropped_rejected, 2);
    assert_eq!(s.idle(), 0);
}

#[test]
fn a_grown_buffer_is_filed_under_its_new_class() {
    let pool = BufferPool::new();
    let mut b = pool.get(1000);
    b.reserve(20_000); // now >= 16 KiB
    let cap = b.capacity();
    drop(b);
    assert_eq!(pool.retained_bytes(), cap);
    let b = pool.get(16384);
    assert_eq!(
        b.capacity(),
        cap,
        "the grown buffer serves the 16 KiB class"
    );
    assert_eq!(pool.stats().hits, 1);
}

#[test]
fn into_inner_detaches() {
    let pool = BufferPool::new();
    let mut b = pool.get(10);
    b.push(1);
    let v = PooledBuf::into_inner(b);
    assert_eq!(v, [1]);
    assert_eq!(pool.retained_bytes(), 0);
    assert_eq!(pool.stats().detached, 1);
}
