//! Workload 4, gzip: compress a payload and decompress it again (flate2's deflate streams, the format
//! inside gzip), as a server that gzips responses or reads gzipped uploads does. Building a
//! compressor allocates a few hundred KiB of tables and window (a decompressor tens of KiB).
//!
//! No pool: a fresh `Compress`, `Decompress` and output buffers per payload. Pool: pooled
//! compressors and decompressors, `reset()` on return, and pooled output buffers.

use std::sync::Arc;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{digest, mix, Variant, Workload};
use crate::pool::Pool;

/// Compression level used by both variants.
pub const LEVEL: u32 = 6;

/// The gzip workload.
pub struct Gzip {
    payloads: Vec<Vec<u8>>,
    compressors: Arc<Pool<Compress>>,
    decompressors: Arc<Pool<Decompress>>,
    buffers: Arc<Pool<Vec<u8>>>,
}

/// Seeded, compressible (log-like) payloads of about 8 KiB.
pub fn payloads(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let words = [
        "GET",
        "POST",
        "/api/v1/items",
        "/login",
        "200",
        "404",
        "user",
        "ok",
        "latency",
    ];
    (0..n)
        .map(|_| {
            let mut p = Vec::with_capacity(8300);
            while p.len() < 8192 {
                p.extend_from_slice(words[rng.usize(..words.len())].as_bytes());
                p.push(if rng.u8(..6) == 0 { b'\n' } else { b' ' });
                if rng.u8(..4) == 0 {
                    p.extend_from_slice(rng.u32(..).to_string().as_bytes());
                }
            }
            p
        })
        .collect()
}

impl Gzip {
    /// 16 payloads; empty pools.
    pub fn new() -> Self {
        Gzip {
            payloads: payloads(16, 4),
            compressors: Arc::new(Pool::with_reset(
                || Compress::new(Compression::new(LEVEL), false),
                Compress::reset,
            )),
            decompressors: Arc::new(Pool::with_reset(
                || Decompress::new(false),
                |d: &mut Decompress| d.reset(false),
            )),
            buffers: Arc::new(Pool::new(|| Vec::with_capacity(16 * 1024))),
        }
    }
}

impl Default for Gzip {
    fn default() -> Self {
        Self::new()
    }
}

/// Deflates `input` into `out` (cleared first) with `c` (fresh or reset).
pub fn deflate(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(input.len() + input.len() / 8 + 64);
    let start_in = c.total_in();
    loop {
        let consumed = (c.total_in() - start_in) as usize;
        match c
            .compress_vec(&input[consumed..], out, FlushCompress::Finish)
            .expect("deflate")
        {
            Status::StreamEnd => return,
            Status::Ok | Status::BufError => out.reserve(out.capacity().max(1024)),
        }
    }
}

/// Inflates `input` into `out` (cleared first) with `d` (fresh or reset).
pub fn inflate(d: &mut Decompress, input: &[u8], out: &mut Vec<u8>, size_hint: usize) {
    out.clear();
    out.reserve(size_hint);
    let start_in = d.total_in();
    loop {
        let consumed = (d.total_in() - start_in) as usize;
        match d
            .decompress_vec(&input[consumed..], out, FlushDecompress::Finish)
            .expect("inflate")
        {
            Status::StreamEnd => return,
            Status::Ok | Status::BufError => out.reserve(out.capacity().max(1024)),
        }
    }
}

fn check(input: &[u8], packed: &[u8], unpacked: &[u8]) -> u64 {
    assert_eq!(input, unpacked, "round trip");
    mix(digest(packed), packed.len() as u64)
}

impl Workload for Gzip {
    fn share(&self) -> Box<dyn Workload + Send> {
        Box::new(Gzip {
            compressors: Arc::clone(&self.compressors),
            decompressors: Arc::clone(&self.decompressors),
            buffers: Arc::clone(&self.buffers),
            ..Gzip::new()
        })
    }

    fn op(&mut self, variant: Variant, i: u64) -> u64 {
        let input = &self.payloads[i as usize % self.payloads.len()];
        match variant {
            Variant::NoPool => {
                let mut c = Compress::new(Compression::new(LEVEL), false);
                let mut packed = Vec::new();
                deflate(&mut c, input, &mut packed);
                let mut d = Decompress::new(false);
                let mut unpacked = Vec::new();
                inflate(&mut d, &packed, &mut unpacked, input.len());
                check(input, &packed, &unpacked)
            }
            Variant::Pool => {
                let (mut c, mut d) = (self.compressors.get(), self.decompressors.get());
                let (mut packed, mut unpacked) = (self.buffers.get(), self.buffers.get());
                deflate(&mut c, input, &mut packed);
                inflate(&mut d, &packed, &mut unpacked, input.len());
                check(input, &packed, &unpacked)
            }
        }
    }
}
