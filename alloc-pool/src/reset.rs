//! [`Reset`]: how a pooled object is wiped before the next user sees it (Go's forgotten
//! `buf.Reset()`, made automatic). See the pool module docs and `docs/pools.md`.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;

/// Wipes an object's state so that it can be handed to a new user, keeping what is worth reusing
/// (allocated capacity). Pools call it every time an object comes back, before it is stored.
///
/// The contract: after `reset`, the object must be indistinguishable (in observable contents)
/// from a freshly constructed one; only capacity may differ.
///
/// ```
/// use alloc_pool::{Pool, Reset};
///
/// #[derive(Default)]
/// struct Request { path: String, headers: Vec<(String, String)> }
///
/// impl Reset for Request {
///     fn reset(&mut self) {
///         self.path.reset();
///         self.headers.reset();
///     }
/// }
///
/// let pool = Pool::new(Request::default);
/// pool.get().path.push_str("/secret");
/// assert!(pool.get().path.is_empty()); // the next user never sees "/secret"
/// ```
pub trait Reset {
    /// Clears the object's contents, keeping its allocations.
    fn reset(&mut self);
}

impl<T> Reset for Vec<T> {
    #[inline]
    fn reset(&mut self) {
        self.clear();
    }
}

impl Reset for String {
    #[inline]
    fn reset(&mut self) {
        self.clear();
    }
}

impl<T> Reset for VecDeque<T> {
    #[inline]
    fn reset(&mut self) {
        self.clear();
    }
}

impl<T> Reset for BinaryHeap<T> {
    #[inline]
    fn reset(&mut self) {
        self.clear();
    }
}

impl<K, V, S: BuildHasher> Reset for HashMap<K, V, S> {
    #[inline]
    fn reset(&mut self) {
        self.clear();
    }
}

impl<T, S: BuildHasher> Reset for HashSet<T, S> {
    #[inline]
    fn reset(&mut self) {
        self.clear();
    }
}

impl<K, V> Reset for BTreeMap<K, V> {
    #[inline]
    fn reset(&mut self) {
        self.clear();
    }
}

impl<T> Reset for BTreeSet<T> {
    #[inline]
    fn reset(&mut self) {
        self.clear();
    }
}

impl<T: Reset + ?Sized> Reset for Box<T> {
    #[inline]
    fn reset(&mut self) {
        (**self).reset();
    }
}

impl<A: Reset, B: Reset> Reset for (A, B) {
    #[inline]
    fn reset(&mut self) {
        self.0.reset();
        self.1.reset();
    }
}

impl<A: Reset, B: Reset, C: Reset> Reset for (A, B, C) {
    #[inline]
    fn reset(&mut self) {
        self.0.reset();
        self.1.reset();
        self.2.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_clear_and_keep_capacity() {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&[1u8, 2, 3]);
        v.reset();
        assert!(v.is_empty());
        assert!(v.capacity() >= 64);

        let mut m: HashMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
        let cap = m.capacity();
        m.reset();
        assert!(m.is_empty());
        assert_eq!(m.capacity(), cap);

        let mut t = (String::from("x"), VecDeque::from(vec![1, 2]));
        t.reset();
        assert!(t.0.is_empty() && t.1.is_empty());

        let mut b: Box<BTreeMap<u8, u8>> = Box::new([(1, 1)].into_iter().collect());
        b.reset();
        assert!(b.is_empty());
    }
}
