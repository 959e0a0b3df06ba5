//! Std under load on PoolAlloc: collections, strings, formatting, threads, channels, and the
//! GlobalAlloc contract (alignments, zeroing, realloc) checked by content.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc;

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

/// Serialises the tests that read the heap-wide OS figures or move them a lot (the test
/// harness runs tests on parallel threads).
static HEAP_FIGURES: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heap_figures() -> std::sync::MutexGuard<'static, ()> {
    HEAP_FIGURES.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn collections_strings_and_formatting_work() {
    let mut map: HashMap<String, Vec<u64>> = HashMap::new();
    for i in 0..10_000u64 {
        map.entry(format!("key-{}", i % 1000)).or_default().push(i);
    }
    assert_eq!(map.len(), 1000);
    assert_eq!(map["key-7"].len(), 10);
    assert_eq!(
        map["key-7"].iter().sum::<u64>(),
        (0..10u64).map(|k| 7 + 1000 * k).sum::<u64>()
    );

    let mut bt = BTreeMap::new();
    for i in (0..50_000u32).rev() {
        bt.insert(i, i.to_string());
    }
    for i in (0..50_000u32).step_by(2) {
        bt.remove(&i);
    }
    assert_eq!(bt.len(), 25_000);
    assert_eq!(bt.values().next().map(String::as_str), Some("1"));

    let mut dq: VecDeque<Box<[u8]>> = VecDeque::new();
    for i in 0..5000usize {
        dq.push_back(vec![(i % 251) as u8; i % 700 + 1].into_boxed_slice());
        if dq.len() > 300 {
            let b = dq.pop_front().unwrap();
            assert!(b.iter().all(|&x| x == b[0]));
        }
    }
    let s: String = (0..2000).map(|i| format!("{i:>5}|")).collect();
    assert_eq!(s.len(), 2000 * 6);
    let boxed: Vec<Box<dyn Fn(u32) -> u32>> = (0..100u32)
        .map(|k| Box::new(move |x| x + k) as Box<dyn Fn(u32) -> u32>)
        .collect();
    assert_eq!(
        boxed.iter().map(|f| f(1)).sum::<u32>(),
        100 + (0..100).sum::<u32>()
    );
}

#[test]
fn threads_and_channels_work() {
    let (tx, rx) = mpsc::channel::<Vec<String>>();
    let producers: Vec<_> = (0..4)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    tx.send((0..i % 17).map(|j| format!("{t}-{i}-{j}")).collect())
                        .unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut strings = 0;
    let mut bytes = 0;
    for v in rx {
        strings += v.len();
        bytes += v.iter().map(String::len).sum::<usize>();
    }
    for p in producers {
        p.join().unwrap();
    }
    let expect: usize = 4 * (0..500).map(|i| i % 17).sum::<usize>();
    assert_eq!(strings, expect);
    assert!(bytes > strings * 5);
}

fn check_aligned(size: usize, align: usize) {
    let layout = Layout::from_size_align(size, align).unwrap();
    // SAFETY: non-zero size; every block is freed with its layout.
    unsafe {
        let p = GLOBAL.alloc(layout);
        assert!(!p.is_null(), "alloc({size}, {align}) failed");
        assert_eq!(
            p as usize % align,
            0,
            "alloc({size}, {align}) misaligned: {p:p}"
        );
        p.write_bytes(0xA5, size);
        assert_eq!(*p.add(size - 1), 0xA5);
        let z = GLOBAL.alloc_zeroed(layout);
        assert_eq!(z as usize % align, 0);
        assert!(
            std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0),
            "alloc_zeroed({size}, {align}) not zero"
        );
        GLOBAL.dealloc(z, layout);
        GLOBAL.dealloc(p, layout);
    }
}

#[test]
fn every_alignment_is_honoured() {
    for &align in &[1usize, 8, 16, 64, 4096, 65536, 2 << 20] {
        for &size in &[
            1usize,
            7,
            24,
            100,
            4096,
            5000,
            65536,
            70_000,
            1 << 20,
            3 << 20,
        ] {
            check_aligned(size, align);
        }
    }
}

#[test]
fn alloc_zeroed_is_zero_even_for_reused_blocks() {
    for &size in &[16usize, 1000, 40_000, 200_000, 1 << 20] {
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: non-zero size; freed with the same layout.
        unsafe {
            for _ in 0..3 {
                let p = GLOBAL.alloc(layout);
                p.write_bytes(0xFF, size);
                GLOBAL.dealloc(p, layout);
                let z = GLOBAL.alloc_zeroed(layout);
                assert!(
                    std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0),
                    "size {size}"
                );
                GLOBAL.dealloc(z, layout);
            }
        }
    }
}

#[test]
fn realloc_keeps_contents_and_stays_in_place_within_a_class() {
    let _serial = heap_figures();
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: every pointer is used with the layout it currently has.
    unsafe {
        let p = GLOBAL.alloc(layout);
        for i in 0..100 {
            *p.add(i) = i as u8;
        }
        // 100 and 104 share the 112-byte class: same address.
        let q = GLOBAL.realloc(p, layout, 104);
        assert_eq!(p, q);
        // Grow through small, into large, and large to larger (mremap), then shrink back.
        let mut cur = q;
        let mut cur_size = 104;
        for &new in &[1000usize, 40_000, 300_000, 5 << 20, 64 << 20, 70_000, 50] {
            let next = GLOBAL.realloc(cur, Layout::from_size_align(cur_size, 8).unwrap(), new);
            assert!(!next.is_null());
            for i in 0..100.min(new) {
                assert_eq!(
                    *next.add(i),
                    i as u8,
                    "byte {i} lost growing {cur_size} -> {new}"
                );
            }
            if new > cur_size {
                next.add(cur_size).write_bytes(0x5A, new - cur_size);
                assert_eq!(*next.add(new - 1), 0x5A);
            }
            cur = next;
            cur_size = new;
        }
        GLOBAL.dealloc(cur, Layout::from_size_align(cur_size, 8).unwrap());
    }
}

#[test]
fn a_large_block_freed_goes_back_to_the_os() {
    let _serial = heap_figures();
    let heap = &alloc_core::PoolAlloc::registry().heap;
    let released =
        |h: &alloc_stats::HeapCounters| h.os_released.load(std::sync::atomic::Ordering::Relaxed);
    let before = released(heap);
    let v = vec![1u8; 1 << 30];
    assert_eq!(v[(1 << 30) - 1], 1);
    drop(v);
    assert!(
        released(heap) - before >= 1 << 30,
        "a freed 1 GiB block stayed mapped"
    );
}

// With guard pages, large blocks are mapped one by one: no cache (docs/hardening.md).
#[cfg(not(feature = "guard-pages"))]
#[test]
fn a_1mib_loop_is_served_from_the_large_cache() {
    let _serial = heap_figures();
    let heap = &alloc_core::PoolAlloc::registry().heap;
    let mapped =
        |h: &alloc_stats::HeapCounters| h.os_mapped.load(std::sync::atomic::Ordering::Relaxed);
    let layout = Layout::from_size_align(1 << 20, 8).unwrap();
    // SAFETY: freed with the same layout.
    unsafe {
        let p = GLOBAL.alloc(layout);
        GLOBAL.dealloc(p, layout);
        let before = mapped(heap);
        for _ in 0..1000 {
            let p = GLOBAL.alloc(layout);
            assert!(!p.is_null());
            *p = 1;
            GLOBAL.dealloc(p, layout);
        }
        // Other tests run in parallel threads; allow them some mapping, but not 1000 MiB.
        assert!(
            mapped(heap) - before < 256 << 20,
            "the 1 MiB loop mapped fresh memory each time"
        );
    }
}

#[test]
fn trim_gives_cached_memory_back() {
    let _serial = heap_figures();
    let heap = &alloc_core::PoolAlloc::registry().heap;
    let released =
        |h: &alloc_stats::HeapCounters| h.os_released.load(std::sync::atomic::Ordering::Relaxed);
    // 64 MiB of 8 KiB blocks fills ~128 spans; freeing them empties those spans
    let v: Vec<Box<[u8; 8192]>> = (0..8192).map(|_| Box::new([1u8; 8192])).collect();
    let big: Vec<Vec<u8>> = (0..4).map(|_| vec![2u8; 4 << 20]).collect();
    drop(v);
    drop(big);
    let before = released(heap);
    GLOBAL.trim();
    assert!(
        released(heap) - before >= 16 << 20,
        "trim released only {} bytes",
        released(heap) - before
    );
    let again: Vec<Box<[u8; 8192]>> = (0..1000).map(|_| Box::new([3u8; 8192])).collect();
    assert!(again.iter().all(|b| b[8191] == 3));
}

#[test]
fn zero_size_requests_get_aligned_distinct_blocks() {
    for &align in &[1usize, 16, 4096, 65536] {
        let layout = Layout::from_size_align(0, align).unwrap();
        // SAFETY: GlobalAlloc forbids zero-size layouts for callers, but the allocator still
        // answers them sanely; each block is freed with its layout.
        unsafe {
            let a = GLOBAL.alloc(layout);
            let b = GLOBAL.alloc(layout);
            assert!(!a.is_null() && !b.is_null() && a != b);
            assert_eq!(a as usize % align, 0);
            assert_eq!(b as usize % align, 0);
            GLOBAL.dealloc(a, layout);
            GLOBAL.dealloc(b, layout);
        }
    }
}
