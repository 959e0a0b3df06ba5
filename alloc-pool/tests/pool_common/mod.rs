//! Shared helpers of the pool_* integration tests: an object that counts its constructions and
//! drops, detects being dropped twice, and detects being handed to two users at once.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Counts for one test.
pub struct Ledger {
    pub built: AtomicUsize,
    pub dropped: AtomicUsize,
    /// Objects that left their pool's count: dropped while not detached, or marked detached
    /// ([`Tracked::mark_detached`], before `into_inner` frees the pool's place). So
    /// `built - gone` is what a pool answers for; detached objects the caller still holds are
    /// not among them.
    pub gone: AtomicUsize,
    /// Most objects a pool answered for at once (built - gone), seen right after each
    /// construction. Without detaching: most objects alive at once.
    pub max_live: AtomicUsize,
    /// Drops per object id: must end at exactly 1 each.
    drops_by_id: Vec<AtomicU8>,
}

impl Ledger {
    pub fn new(max_objects: usize) -> Arc<Self> {
        Arc::new(Ledger {
            built: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            gone: AtomicUsize::new(0),
            max_live: AtomicUsize::new(0),
            drops_by_id: (0..max_objects).map(|_| AtomicU8::new(0)).collect(),
        })
    }

    /// A new object (the pools' constructor).
    pub fn make(self: &Arc<Self>) -> Tracked {
        let id = self.built.fetch_add(1, SeqCst);
        assert!(
            id < self.drops_by_id.len(),
            "more constructions than the test allows"
        );
        // Racy by design (other threads build and drop meanwhile), so it may undercount, never
        // overcount (`gone` only grows); saturating, since a concurrent drop of a newer object
        // can be seen first.
        let live = (id + 1).saturating_sub(self.gone.load(SeqCst));
        self.max_live.fetch_max(live, SeqCst);
        Tracked {
            id,
            in_use: AtomicBool::new(false),
            detached: AtomicBool::new(false),
            data: Vec::with_capacity(16),
            ledger: self.clone(),
        }
    }

    pub fn live(&self) -> usize {
        self.built.load(SeqCst) - self.dropped.load(SeqCst)
    }

    /// Every object built was dropped exactly once.
    pub fn assert_all_dropped_once(&self) {
        let built = self.built.load(SeqCst);
        assert_eq!(self.dropped.load(SeqCst), built, "built vs dropped");
        for (id, d) in self.drops_by_id[..built].iter().enumerate() {
            assert_eq!(
                d.load(SeqCst),
                1,
                "object {id} dropped {} times",
                d.load(SeqCst)
            );
        }
    }
}

/// A pooled object with a payload, an exclusive-use flag and a drop record.
pub struct Tracked {
    pub id: usize,
    in_use: AtomicBool,
    /// Taken out of its pool for good: no longer counted in `built - gone`.
    detached: AtomicBool,
    pub data: Vec<u64>,
    ledger: Arc<Ledger>,
}

impl Tracked {
    /// Marks the start of a use; panics if another user holds the same object.
    pub fn begin(&self) {
        assert!(
            !self.in_use.swap(true, SeqCst),
            "object {} handed to two users",
            self.id
        );
    }
    /// Marks the end of a use.
    pub fn end(&self) {
        assert!(self.in_use.swap(false, SeqCst));
    }
    /// Call while still holding the guard, right before `into_inner`: from now on the pool no
    /// longer answers for this object (it may build a replacement while the caller keeps it).
    pub fn mark_detached(&self) {
        assert!(!self.detached.swap(true, SeqCst), "detached twice");
        self.ledger.gone.fetch_add(1, SeqCst);
    }
}

impl alloc_pool::Reset for Tracked {
    fn reset(&mut self) {
        self.data.clear();
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.ledger.drops_by_id[self.id].fetch_add(1, SeqCst);
        self.ledger.dropped.fetch_add(1, SeqCst);
        if !self.detached.load(SeqCst) {
            self.ledger.gone.fetch_add(1, SeqCst);
        }
    }
}
