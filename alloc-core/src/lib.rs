#![doc = include_str!("../README.md")]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![warn(missing_docs)]

// The one `cfg(target_os)` outside os.rs: say what is supported up front instead of failing deep
// inside libc (`SYS_futex`, `mremap`, ...) on other targets.
#[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
compile_error!(
    "alloc-core supports Linux only, with glibc or musl (target_os = \"linux\", target_env = \"gnu\" or \"musl\"): it calls mmap, mremap, madvise, futex and pthread keys directly"
);

mod central;
mod decay;
mod global;
mod heap_stats;
mod large;
mod meta;
mod os;
mod page_heap;
mod scavenger;
mod span;
mod sync;
mod thread_cache;

pub mod size_class;

pub use global::PoolAlloc;

/// The counters' crate, whole (`install_exit_report`, `write_report`, `ThreadStats`, …).
pub use alloc_stats as stats;
/// What the README's examples and most programs use, without a dependency on `alloc-stats`.
pub use alloc_stats::{counting_enabled, ClassStats, Counting, Region, Registry, Snapshot};

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
