//! Typed object pools: Go's `sync.Pool` with its classic mistakes made impossible or loud.
//!
//! Every pool here hands out an RAII guard that derefs to the object and gives it back on drop
//! (there is no `Put` to forget, and nothing of the wrong type can be put back); a [`Reset`]
//! (or a reset closure) runs before an object is reused, so no state leaks between users; idle
//! objects age out like `sync.Pool`'s victim cache ([`Pool::trim`]); every pool keeps
//! [`PoolStats`]. See [`guide`] (`docs/pools.md`) for when to pool at all, and for the table of Go
//! mistakes and how each type below prevents them. The pools work under any global allocator:
//! this crate does not depend on `alloc-core`.
//!
//! | type | for | idle objects kept | on empty |
//! |------|-----|-------------------|----------|
//! | [`Pool<T>`] | temporary objects (buffers, scratch structs) | per-thread slot + capped shared store, aged by `trim` | constructor |
//! | [`BufferPool`] | byte buffers of mixed sizes | per size class, capped in bytes | constructor |
//! | [`TtlPool<T>`] | objects that go stale with time | like `Pool`, dropped after a TTL | constructor |
//! | [`BoundedPool<T>`] | a fixed number of resources (connections) | all of them | blocks / times out |
//! | [`RingPool<T>`] | lowest latency, fixed capacity, lock-free | ring of `capacity` | constructor |
//!
//! ```
//! use alloc_pool::Pool;
//!
//! let pool: Pool<Vec<u8>> = Pool::new(|| Vec::with_capacity(1024));
//! {
//!     let mut buf = pool.get();          // a Vec<u8>, built by the closure on first use
//!     buf.extend_from_slice(b"hello");
//! }                                      // back in the pool, cleared
//! let buf = pool.get();                  // the same Vec, empty, capacity kept
//! assert!(buf.is_empty() && buf.capacity() >= 1024);
//! assert_eq!(pool.stats().hits, 1);
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![warn(missing_docs)]

#[doc = include_str!("../docs/pools.md")]
pub mod guide {}

// The crates.io README's example runs as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod bounded;
mod buffer;
mod cache;
mod clock;
mod object;
mod reset;
mod ring;
mod stats;
mod sync;
mod ttl;

pub use bounded::{BoundedGuard, BoundedPool};
pub use buffer::{BufferPool, PooledBuf};
pub use clock::{Clock, ManualClock, SystemClock};
pub use object::{CustomReset, Pool, PoolBuilder, Pooled, TraitReset};
pub use reset::Reset;
pub use ring::{RingGuard, RingPool};
pub use stats::PoolStats;
pub use ttl::TtlPool;
