//! A tiny test-and-test-and-set spin lock for the registry's slow paths (register, retire,
//! snapshot, orphan counters). Unlike `std::sync::Mutex` it can be force-unlocked in a fork
//! child, where the thread that held it no longer exists, and it never allocates.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::os;

/// Held while `locked` is true. Invariant: only the holder stores `false`, except
/// [`SpinLock::force_unlock`] in a fork child, where the holder is gone.
pub(crate) struct SpinLock {
    locked: AtomicBool,
}

impl SpinLock {
    pub(crate) const fn new() -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
        }
    }

    /// Spins (then yields) until the lock is ours.
    pub(crate) fn lock(&self) {
        let mut spins = 0u32;
        loop {
            if !self.locked.load(Ordering::Relaxed)
                && self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            spins += 1;
            if spins < 64 {
                core::hint::spin_loop();
            } else {
                os::yield_now();
            }
        }
    }

    pub(crate) fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }

    /// Runs `f` with the lock held.
    pub(crate) fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Unlock<'a>(&'a SpinLock);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.unlock();
            }
        }
        self.lock();
        let _g = Unlock(self);
        f()
    }

    /// Makes the lock usable in a fork child: the thread that held it in the parent (the
    /// forking thread itself after `fork_prepare`) does not release it there.
    pub(crate) fn force_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}
