//! Thread life cycle: allocations made while a thread is being torn down — by a thread-local's
//! destructor (which std runs before pthread key destructors) and by a pthread key destructor
//! that runs after the allocator's own exit hook — neither recurse into a dead cache nor
//! deadlock, and their memory is reusable afterwards.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

static TLS_DROPS: AtomicUsize = AtomicUsize::new(0);
static KEY_DTORS: AtomicUsize = AtomicUsize::new(0);

struct AllocatesOnDrop(Vec<String>);
impl Drop for AllocatesOnDrop {
    fn drop(&mut self) {
        let more: Vec<String> = self.0.iter().map(|s| s.repeat(3)).collect();
        let bytes: usize = more.iter().map(String::len).sum();
        assert_eq!(bytes, self.0.iter().map(|s| s.len() * 3).sum::<usize>());
        TLS_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

thread_local! {
    static HEAVY: RefCell<Option<AllocatesOnDrop>> = const { RefCell::new(None) };
}

/// Runs after the allocator's exit hook: its key is created later (glibc runs key
/// destructors in key order).
unsafe extern "C" fn late_dtor(arg: *mut libc::c_void) {
    let n = arg as usize;
    let v: Vec<Box<[u8]>> = (0..n)
        .map(|i| vec![i as u8; i % 2000 + 1].into_boxed_slice())
        .collect();
    let big = vec![1u8; 200_000];
    assert_eq!(v.len() + big.len(), n + 200_000);
    KEY_DTORS.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn allocations_during_thread_teardown_work() {
    let _warm = std::hint::black_box(Box::new(0u64)); // the allocator's exit key exists before ours
    let mut key: libc::pthread_key_t = 0;
    assert_eq!(
        // SAFETY: valid out-pointer and destructor.
        unsafe { libc::pthread_key_create(&mut key, Some(late_dtor)) },
        0
    );
    const THREADS: usize = 200;
    for wave in 0..THREADS / 10 {
        let hs: Vec<_> = (0..10)
            .map(|k| {
                std::thread::spawn(move || {
                    HEAVY.with(|h| {
                        *h.borrow_mut() = Some(AllocatesOnDrop(
                            (0..200).map(|i| format!("{wave}-{k}-{i}")).collect(),
                        ))
                    });
                    // SAFETY: any pointer-sized value may be stored; late_dtor reads it as a count.
                    unsafe { libc::pthread_setspecific(key, 500 as *mut libc::c_void) };
                    let v: Vec<u64> = (0..10_000).collect();
                    v.iter().sum::<u64>()
                })
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), (0..10_000u64).sum::<u64>());
        }
    }
    assert_eq!(TLS_DROPS.load(Ordering::Relaxed), THREADS);
    assert_eq!(KEY_DTORS.load(Ordering::Relaxed), THREADS);
    // and the heap is still fine
    let after: Vec<String> = (0..50_000).map(|i| i.to_string()).collect();
    assert_eq!(after[49_999], "49999");
}
