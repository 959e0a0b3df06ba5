//! Shared helpers of the pool_* integration tests: an object that counts its constructions and
//! drops, detects being dropped twice, and detects being handed to two users at once.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Counts for one test.
pub struct Ledger {
    pub built: AtomicUsize,
    pub dropped: AtomicUsize,
    /// Most objects alive at once (built - dropped), seen right after each construction.
    pub max_live: AtomicUsize,
    /// Drops per object id: must end at exactly 1 each.
    drops_by_id: Vec<AtomicU8>,
}

impl Ledger {
    pub fn new(max_objects: usize) -> Arc<Self> {
        Arc::new(Ledger {
            built: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
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
        // overcount; saturating, since a concurrent drop of a newer object can be seen first.
        let live = (id + 1).saturating_sub(self.dropped.load(SeqCst));
        self.max_live.fetch_max(live, SeqCst);
        Tracked {
            id,
            in_use: AtomicBool::new(false),
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
    }
}
