//! fork: a multithreaded parent forks while other threads allocate and the scavenger purges
//! (a 5 ms decay keeps it busy); the child allocates, frees, gets a scavenger of its own and
//! exits 0 (the pthread_atfork handlers leave no lock held in the child).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

/// Work the child does: every tier of the allocator, and a thread of its own.
fn child_work() -> bool {
    let mut v: Vec<String> = (0..20_000).map(|i| format!("child-{i}")).collect();
    v.retain(|s| s.len() % 2 == 0);
    let big = vec![7u8; 3 << 20];
    let t = std::thread::spawn(|| {
        (0..1000)
            .map(|i| vec![i as u8; i % 300 + 1].len())
            .sum::<usize>()
    });
    let sum = t.join().unwrap_or(0);
    drop(v.split_off(v.len() / 2));
    drop(big.clone());
    // The parent's scavenger did not come along; the frees above started the child's own.
    GLOBAL.scavenger_running()
        && !v.is_empty()
        && big[(3 << 20) - 1] == 7
        && sum == (0..1000).map(|i| i % 300 + 1).sum::<usize>()
}

#[test]
fn child_of_a_multithreaded_parent_can_allocate() {
    GLOBAL.set_decay_ms(5);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let v: Vec<Box<[u8]>> = (0..64)
                        .map(|i| vec![t as u8; (i * 37 + n) % 5000 + 1].into_boxed_slice())
                        .collect();
                    let big = vec![0u8; 100_000 + n % 50_000];
                    n = n.wrapping_add(v.len() + big.len());
                }
                n
            })
        })
        .collect();
    for round in 0..20 {
        // SAFETY: fork in a test; the child only runs Rust code that uses the allocator and then
        // calls _exit, never returning into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let ok = child_work();
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        // Bound the wait so that a deadlocked child fails the test instead of hanging it.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut status = 0;
        loop {
            // SAFETY: waiting on our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if Instant::now() > deadline {
                // SAFETY: killing our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("fork round {round}: the child deadlocked");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "round {round}: child status {status:#x}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        assert!(w.join().unwrap() > 0usize);
    }
}
