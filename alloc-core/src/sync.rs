//! The allocator's one lock: a futex mutex (Drepper's three-state design) that never allocates,
//! can be `const`-constructed in a static, and can be released by the child after `fork`.
//! See docs/architecture.md, "Locks and fork".

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::os;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// A mutual-exclusion lock around `T`.
///
/// Invariant: `state` is 0 (unlocked), 1 (locked, no waiter) or 2 (locked, maybe waiters);
/// `value` is only touched between a successful `lock` and the matching `unlock`.
pub struct Lock<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the lock serialises all access to `value`, so sharing the Lock between threads is
// sound whenever `T` itself may be sent to another thread.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: moving the lock moves its value; `T: Send` makes that sound.
unsafe impl<T: Send> Send for Lock<T> {}

/// Proof that the lock is held: derefs to the protected value; unlocks on drop.
pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Lock<T> {
    /// An unlocked lock around `value`.
    pub const fn new(value: T) -> Self {
        Lock {
            state: AtomicU32::new(UNLOCKED),
            value: UnsafeCell::new(value),
        }
    }

    /// Acquires the lock.
    #[inline]
    pub fn lock(&self) -> Guard<'_, T> {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        Guard { lock: self }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        // Spin briefly: critical sections here are short (a batch move).
        for _ in 0..100 {
            core::hint::spin_loop();
            if self.state.load(Ordering::Relaxed) == UNLOCKED
                && self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            os::futex_wait(&self.state, CONTENDED);
        }
    }

    /// Acquires the lock if it is free.
    #[inline]
    pub fn try_lock(&self) -> Option<Guard<'_, T>> {
        // Not `then_some(Guard { .. })`: a Guard made eagerly and dropped on failure would
        // unlock the lock that another thread holds.
        if self.try_acquire() {
            Some(Guard { lock: self })
        } else {
            None
        }
    }

    /// Acquires the lock if it is free, without a guard: true if it did. Pair with
    /// [`Lock::release`] (for locks held across calls, such as a drainer's).
    pub fn try_acquire(&self) -> bool {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Releases a lock taken by [`Lock::try_acquire`].
    ///
    /// # Safety
    /// The calling thread took the lock with `try_acquire` and holds no guard of it.
    pub unsafe fn release(&self) {
        self.unlock();
    }

    /// Acquires the lock and leaks the guard: for `pthread_atfork`'s prepare handler, which
    /// must keep locks held across `fork`.
    pub fn lock_for_fork(&self) {
        core::mem::forget(self.lock());
    }

    /// Releases a lock taken by [`Lock::lock_for_fork`].
    ///
    /// # Safety
    /// The calling thread took the lock with `lock_for_fork` (in the parent), or is the only
    /// thread of a freshly forked child whose parent thread held it.
    pub unsafe fn unlock_after_fork(&self) {
        self.unlock();
    }

    fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            os::futex_wake_one(&self.state);
        }
    }
}

impl<T> core::ops::Deref for Guard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a Guard exists only while the lock is held, so no other reference to the
        // value is live.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> core::ops::DerefMut for Guard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_lock_fails_on_a_held_lock_and_leaves_it_held() {
        let l = Lock::new(5u32);
        let g = l.lock();
        assert!(l.try_lock().is_none());
        assert!(
            l.try_lock().is_none(),
            "a failed try_lock released the holder's lock"
        );
        assert!(!l.try_acquire());
        drop(g);
        let mut g = l.try_lock().expect("free now");
        *g += 1;
        drop(g);
        assert!(l.try_acquire());
        // SAFETY: taken by try_acquire just above, no guard.
        unsafe { l.release() };
        assert_eq!(*l.lock(), 6);
    }
}
