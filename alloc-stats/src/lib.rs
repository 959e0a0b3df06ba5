#![doc = include_str!("../README.md")]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![warn(missing_docs)]

// Say what is supported up front instead of failing deep inside libc on other targets.
#[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
compile_error!(
    "alloc-stats supports Linux only, with glibc or musl (target_os = \"linux\", target_env = \"gnu\" or \"musl\"): it uses mmap, pthread keys, atexit and write(2) directly"
);

mod counting;
#[cfg(feature = "json")]
mod json;
mod lock;
mod os;
mod region;
mod registry;
mod report;
mod snapshot;
mod thread_stats;

pub use counting::{pow2_class, Counting, POW2_CLASS_SIZES};
pub use region::Region;
pub use registry::{CachedBlocks, HeapCounters, Registry};
pub use report::{install_exit_report, write_report};
pub use snapshot::{ClassStats, Snapshot};
pub use thread_stats::{ThreadStats, PUBLISH_THRESHOLD};

/// Most size classes any registry may use; index `LARGE` (== MAX_CLASSES) is the row for
/// allocations above the largest class.
pub const MAX_CLASSES: usize = 96;
/// The per-class row index used for large allocations.
pub const LARGE: usize = MAX_CLASSES;

/// Whether the `counting` feature is on (off: every `record_*` is empty and snapshots are 0).
pub(crate) const COUNTING: bool = cfg!(feature = "counting");

/// Whether counting is compiled in (the `counting` feature).
pub const fn counting_enabled() -> bool {
    COUNTING
}
