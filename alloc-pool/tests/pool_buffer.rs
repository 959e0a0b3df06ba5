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

// ---------------------------------------------------------------------------------------------
// The front tier: class table, exact counts, threads, trim, thread exit.

#[test]
fn the_class_table_agrees_with_the_definition() {
    // Default classes; multiples of a power of two that is not a class; no table at all
    // (the span is too wide); and a single class.
    for classes in [
        &[1024, 4096, 16384, 65536][..],
        &[1000, 3000, 12_000],
        &[1, 1 << 20],
        &[4096],
    ] {
        let pool = BufferPool::with_classes(classes);
        let max = *classes.last().unwrap();
        let probes = (0..=2100)
            .chain(max.saturating_sub(2100)..max + 10)
            .chain([usize::MAX / 2, usize::MAX]);
        for n in probes {
            if n > max && n > 1 << 21 {
                continue; // not worth allocating
            }
            let b = pool.get(n);
            let want = classes.iter().copied().find(|&c| c >= n).unwrap_or(n);
            assert_eq!(b.capacity(), want, "classes {classes:?}, request {n}");
        }
    }
}

#[test]
fn counts_are_exact_on_the_fast_path() {
    let pool = BufferPool::new();
    for _ in 0..1000 {
        let mut b = pool.get(700);
        b.push(1);
    }
    let s = pool.stats();
    assert_eq!((s.gets, s.hits, s.misses, s.puts), (1000, 999, 1, 1000));
    assert_eq!((s.in_use(), s.idle(), s.dropped()), (0, 1, 0));
    // Two out at once: the second comes from the engine (or is new), both come back.
    let (a, b) = (pool.get(700), pool.get(700));
    let s = pool.stats();
    assert_eq!((s.gets, s.hits, s.misses, s.in_use()), (1002, 1000, 2, 2));
    drop((a, b));
    let s = pool.stats();
    assert_eq!((s.puts, s.in_use(), s.idle()), (1002, 0, 2));
    assert_eq!(pool.retained_bytes(), 2048);
}

#[test]
fn two_pools_used_in_turn_on_one_thread() {
    let (p, q) = (BufferPool::new(), BufferPool::with_classes(&[512, 2048]));
    for i in 0..200 {
        let a = p.get(1000);
        let b = q.get(1000);
        assert_eq!((a.capacity(), b.capacity()), (1024, 2048));
        if i % 2 == 0 {
            drop((a, b));
        } else {
            drop((b, a));
        }
    }
    // A pool dropped and another made: the thread's cached row must not be reused.
    drop(q);
    let r = BufferPool::new();
    drop(r.get(1000));
    drop(r.get(1000));
    for (pool, s) in [(&p, p.stats()), (&r, r.stats())] {
        assert_eq!(s.gets, s.hits + s.misses);
        assert_eq!(s.misses, 1, "{s}");
        assert_eq!(pool.retained_bytes(), 1024);
    }
}

#[test]
fn a_buffer_dropped_on_another_thread_is_kept_there() {
    let pool = BufferPool::new();
    let b = pool.get(3000);
    let ptr = b.as_ptr() as usize;
    std::thread::scope(|s| {
        s.spawn(|| {
            drop(b); // not the thread that got it
            let again = pool.get(4000);
            assert_eq!(
                again.as_ptr() as usize,
                ptr,
                "filed in this thread's slot, reused here"
            );
        });
    });
    let s = pool.stats();
    assert_eq!((s.gets, s.hits, s.misses, s.puts), (2, 1, 1, 2));
    // Only the slot that holds the buffer reserves it (the getting thread's slot never held
    // one: that buffer was new).
    assert_eq!(pool.retained_bytes(), 4096);
    // Now a buffer that came out of this thread's slot and comes back from elsewhere: this
    // slot keeps its reservation (until this thread trims), and the buffer is filed in the
    // other thread's slot, with a reservation of its own.
    drop(pool.get(700));
    let b = pool.get(700);
    std::thread::scope(|s| {
        s.spawn(|| drop(b));
    });
    assert_eq!(pool.retained_bytes(), 4096 + 1024 + 1024);
    pool.trim();
    assert_eq!(pool.retained_bytes(), 4096 + 1024);
    // This thread's slot is empty now: a miss (the idle buffers sit in the exited threads'
    // rows, for the next thread that takes over their thread id).
    assert_eq!(pool.get(700).capacity(), 1024);
    let s = pool.stats();
    assert_eq!((s.gets, s.hits, s.misses, s.puts), (5, 2, 3, 5));
    assert_eq!((s.in_use(), s.idle()), (0, 3));
}

#[test]
fn buffers_handed_between_threads_keep_the_cap_and_the_counts() {
    let cap = 96 * 1024;
    let pool = BufferPool::new().max_retained_bytes(cap);
    let sizes = [700, 3000, 12_000, 50_000];
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<alloc_pool::PooledBuf<'_>>(8);
        let pool = &pool;
        s.spawn(move || {
            for i in 0..4000 {
                let mut b = pool.get(sizes[i % 4]);
                assert!(b.is_empty() && b.capacity() >= sizes[i % 4]);
                b.push(i as u8);
                if i % 3 == 0 {
                    drop(b); // back on this thread
                } else {
                    tx.send(b).unwrap();
                }
                assert!(pool.retained_bytes() <= cap);
            }
        });
        s.spawn(move || {
            for b in rx {
                assert_eq!(b.len(), 1);
                drop(b); // on the consumer thread
                assert!(pool.retained_bytes() <= cap);
                // The consumer also takes some for itself.
                drop(pool.get(1000));
            }
        });
    });
    let s = pool.stats();
    assert!(pool.retained_bytes() <= cap);
    assert_eq!(s.gets, s.hits + s.misses, "{s}");
    assert_eq!(s.in_use(), 0, "{s}");
    assert_eq!(s.misses, s.idle() + s.detached + s.dropped(), "{s}");
    assert!(s.hits > 4000, "{s}");
}

#[test]
fn trim_ages_this_threads_front_slots() {
    let pool = BufferPool::new();
    drop((pool.get(700), pool.get(3000)));
    pool.trim(); // first trim: both survive
    assert_eq!(pool.stats().dropped_trim, 0);
    drop(pool.get(700)); // used between the trims: young again
    pool.trim(); // second trim: the 4 KiB one goes
    let s = pool.stats();
    assert_eq!((s.dropped_trim, s.idle()), (1, 1), "{s}");
    assert_eq!(pool.retained_bytes(), 1024);
    pool.trim();
    pool.trim();
    let s = pool.stats();
    assert_eq!((s.dropped_trim, s.idle(), s.hits), (2, 0, 1), "{s}");
    assert_eq!(pool.retained_bytes(), 0);
    // A slot whose buffer is out gives its reservation back at trim, and gets it again on
    // return.
    let b = pool.get(700);
    pool.trim();
    assert_eq!(pool.retained_bytes(), 0);
    drop(b);
    assert_eq!(pool.retained_bytes(), 1024);
    assert_eq!(pool.get(700).capacity(), 1024);
    assert_eq!(pool.stats().hits, 2);
}

#[test]
fn a_replaced_or_resized_buffer_is_filed_by_its_capacity() {
    let pool = BufferPool::new();
    let mut b = pool.get(700);
    *b = Vec::with_capacity(4096); // same guard, another buffer, another class
    drop(b);
    assert_eq!(pool.get(3000).capacity(), 4096);
    let mut b = pool.get(700);
    *b = Vec::new(); // zero capacity: never kept, never handed out
    drop(b);
    for _ in 0..3 {
        assert!(pool.get(10).capacity() >= 1024);
    }
    let mut b = pool.get(700);
    b.shrink_to(100); // may shrink: then it is too small for any class
    drop(b);
    assert!(pool.get(1000).capacity() >= 1000);
    assert!(pool.retained_bytes() <= 2 * 4096 + 1024);
}

#[test]
fn guards_dropped_while_threads_exit() {
    use std::cell::RefCell;
    static POOL: std::sync::OnceLock<BufferPool> = std::sync::OnceLock::new();
    thread_local! {
        static HELD: RefCell<Vec<PooledBuf<'static>>> = const { RefCell::new(Vec::new()) };
    }
    let pool = POOL.get_or_init(BufferPool::new);
    // Each thread exits with buffers in a thread-local: they are dropped by its TLS
    // destructors, while other threads (some of them reusing its thread id) use the pool.
    // (`spawn` + `join`, not a scope: `join` waits for the TLS destructors too.)
    for _round in 0..20 {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    if t % 2 == 1 {
                        // `HELD` first: its destructor then runs after the `thread_local`
                        // crate's, which frees the thread id (TLS destructors run in reverse
                        // order of first use), so these guards drop on the slow path.
                        HELD.with(|_| ());
                    }
                    for i in 0..50 {
                        drop(pool.get(700 * (t + 1)));
                        let b = pool.get(3000 + i);
                        HELD.with(|h| h.borrow_mut().push(b));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
    let s = pool.stats();
    assert_eq!(s.gets, s.hits + s.misses, "{s}");
    assert_eq!(s.in_use(), 0, "{s}");
    // The odd threads' held guards dropped after the pool's thread-exit hook: freed.
    assert_eq!(s.dropped_rejected, 20 * 2 * 50, "{s}");
    assert!(pool.retained_bytes() <= 32 << 20);
}
