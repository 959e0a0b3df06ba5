#![doc = include_str!("../../README.md")]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

// STUB: PoolAlloc forwards to System until the allocator core lands (the lead is writing it).
use std::alloc::{GlobalAlloc, Layout, System};

pub mod pool;

/// The pooling global allocator.
pub struct PoolAlloc {
    _p: (),
}

impl PoolAlloc {
    /// A handle to the process-wide heap.
    pub const fn new() -> Self {
        PoolAlloc { _p: () }
    }
    /// Counters of this allocator.
    pub fn stats(&self) -> alloc_stats::Snapshot {
        alloc_stats::Snapshot::default()
    }
}

impl Default for PoolAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: stub forwarding to System.
unsafe impl GlobalAlloc for PoolAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}
