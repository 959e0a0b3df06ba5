//! Workload 2, slices: a function that needs a 4 KiB scratch `Vec<u8>` on every call (copy a window of
//! the input, transform it, checksum it). No pool: `Vec::with_capacity(4096)` per call. Pool:
//! `Pool<Vec<u8>>`, cleared on return.

use std::sync::Arc;

use std::hint::black_box;

use super::{digest, Variant, Workload};
use crate::pool::Pool;

/// Scratch size.
pub const SCRATCH: usize = 4096;

/// The slices workload.
pub struct Slices {
    input: Vec<u8>,
    pool: Arc<Pool<Vec<u8>>>,
}

impl Slices {
    /// 64 KiB of seeded input; an empty pool.
    pub fn new() -> Self {
        let mut rng = fastrand::Rng::with_seed(2);
        Slices {
            input: (0..64 * 1024).map(|_| rng.u8(..)).collect(),
            pool: Arc::new(Pool::new(|| Vec::with_capacity(SCRATCH))),
        }
    }
}

impl Default for Slices {
    fn default() -> Self {
        Self::new()
    }
}

/// The call's body: fills `scratch` (empty on entry) and checksums it.
fn process(scratch: &mut Vec<u8>, input: &[u8], i: u64) -> u64 {
    let start = (i as usize).wrapping_mul(61) % (input.len() - SCRATCH);
    scratch.extend_from_slice(&input[start..start + SCRATCH]);
    let key = i as u8;
    for b in scratch.iter_mut() {
        *b ^= key;
    }
    digest(black_box(scratch))
}

impl Workload for Slices {
    fn share(&self) -> Box<dyn Workload + Send> {
        Box::new(Slices {
            pool: Arc::clone(&self.pool),
            ..Slices::new()
        })
    }

    fn op(&mut self, variant: Variant, i: u64) -> u64 {
        match variant {
            Variant::NoPool => {
                let mut scratch = Vec::with_capacity(SCRATCH);
                process(&mut scratch, &self.input, i)
            }
            Variant::Pool => {
                let mut scratch = self.pool.get();
                process(&mut scratch, &self.input, i)
            }
        }
    }
}
