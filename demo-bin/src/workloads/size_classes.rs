//! Workload 5, size-classes: buffers of varying size (512 B..64 KiB, e.g. message bodies or file
//! chunks). No pool: `Vec::with_capacity(size)` per request. Pool: `BufferPool`, which keeps
//! one pool per size class and hands out a buffer with at least the requested capacity.

use std::sync::Arc;

use super::{digest, mix, Variant, Workload};
use crate::pool::BufferPool;

/// Smallest and largest request.
pub const MIN: usize = 512;
/// Largest request.
pub const MAX: usize = 64 * 1024;

/// The size-classes workload.
pub struct SizeClasses {
    sizes: Vec<usize>,
    pool: Arc<BufferPool>,
}

impl SizeClasses {
    /// 4096 seeded sizes, log-uniform in `MIN..=MAX`; an empty pool.
    pub fn new() -> Self {
        let mut rng = fastrand::Rng::with_seed(5);
        let sizes = (0..4096)
            .map(|_| {
                let shift = rng.u32(9..16);
                ((1usize << shift) + rng.usize(..(1usize << shift))).clamp(MIN, MAX)
            })
            .collect();
        SizeClasses {
            sizes,
            pool: Arc::new(BufferPool::new()),
        }
    }

    /// The size of request `i`.
    pub fn size(&self, i: u64) -> usize {
        self.sizes[i as usize % self.sizes.len()]
    }
}

impl Default for SizeClasses {
    fn default() -> Self {
        Self::new()
    }
}

/// Fills `buf` (empty on entry) with a message of `size` bytes and checksums its edges.
fn fill(buf: &mut Vec<u8>, size: usize, i: u64) -> u64 {
    buf.resize(size, i as u8);
    buf[..8].copy_from_slice(&i.to_le_bytes());
    mix(
        digest(&buf[..64]),
        mix(buf.len() as u64, u64::from(buf[size - 1])),
    )
}

impl Workload for SizeClasses {
    fn share(&self) -> Box<dyn Workload + Send> {
        Box::new(SizeClasses {
            pool: Arc::clone(&self.pool),
            ..SizeClasses::new()
        })
    }

    fn op(&mut self, variant: Variant, i: u64) -> u64 {
        let size = self.size(i);
        match variant {
            Variant::NoPool => {
                let mut buf = Vec::with_capacity(size);
                fill(&mut buf, size, i)
            }
            Variant::Pool => {
                let mut buf = self.pool.get(size);
                fill(&mut buf, size, i)
            }
        }
    }
}
