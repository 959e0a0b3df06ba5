//! The demo's library half: the workloads (one module each), the measuring harness, the table
//! and the HTML report. `src/main.rs` is the command line and owns the global allocator; the
//! integration tests call the workloads directly. See `docs/demo.md`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod measure;
pub mod os;
pub mod report;
pub mod workloads;

pub(crate) use alloc_pool as pool;

pub use measure::{Counts, Probe, Row};
pub use workloads::{Spec, Variant, Workload};
