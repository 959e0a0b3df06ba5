#![doc = include_str!("../../README.md")]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![warn(missing_docs)]

mod central;
mod decay;
mod global;
mod large;
mod meta;
mod os;
mod page_heap;
mod scavenger;
mod span;
mod stats;
mod sync;
mod thread_cache;

pub mod pool;
pub mod size_class;

pub use global::PoolAlloc;

/// Figures of the allocator's configuration, for reports and the demo.
pub mod config {
    pub use crate::decay::{delay_ms as decay_ms, DEFAULT_DECAY_MS};
    pub use crate::large::{
        CACHE_MAX_BYTES as LARGE_CACHE_MAX_BYTES, CACHE_MAX_RANGE as LARGE_CACHE_MAX_RANGE,
    };
    pub use crate::os::PAGE;
    pub use crate::size_class::{MAX_SMALL, NUM_CLASSES, SPAN_SIZE};
    pub use crate::span::ARENA_SIZE;
}
