//! The workloads: each has a "no pool" and a "pool" variant that compute the same output.
//!
//! One call of [`Workload::op`] is one unit of work of the program the workload stands for
//! (one request, one call, one document, ...); it returns a checksum of what it produced, so
//! the two variants can be compared for identical output (pooling must never leak state).

pub mod api_server;
pub mod csv_parse;
pub mod gzip;
pub mod json_api;
pub mod logging;
pub mod size_classes;
pub mod slices;
pub mod structs;

use serde::{Deserialize, Serialize};

/// Which side of the comparison runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Allocate what the operation needs, drop it at the end (the naive code).
    NoPool,
    /// Take the temporaries from an `alloc_pool` pool and give them back.
    Pool,
}

impl Variant {
    /// Both, in the order the table shows them.
    pub const BOTH: [Variant; 2] = [Variant::NoPool, Variant::Pool];
    /// The name used in the table, flags and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Variant::NoPool => "no-pool",
            Variant::Pool => "pool",
        }
    }
}

/// One workload instance: inputs generated up front, pools (for the pooled variant) inside,
/// behind `Arc`s.
///
/// An instance is used by one thread; `--threads N` builds one and [`Workload::share`]s it
/// N − 1 times, so that all N threads take from and give back to the same pools (as a server's
/// handler threads share one `sync.Pool`).
pub trait Workload {
    /// Runs operation number `i` and returns a checksum of its output. The output of
    /// operation `i` depends only on `i`, never on the variant or on earlier operations.
    fn op(&mut self, variant: Variant, i: u64) -> u64;

    /// Another instance, for another thread: its own inputs and scratch state, the same pools.
    fn share(&self) -> Box<dyn Workload + Send>;
}

/// A workload's entry in the registry.
pub struct Spec {
    /// Name on the command line and in the table.
    pub name: &'static str,
    /// What one operation is.
    pub op: &'static str,
    /// Default number of measured operations (sized for a whole run of 10-20 s on 2 cores).
    pub default_ops: u64,
    /// Builds a fresh instance (inputs, pools).
    pub make: fn() -> Box<dyn Workload + Send>,
}

/// The in-process workloads (1-7), in table order. The api-server (8) runs separately: it
/// needs a server, a client and a load run, see [`api_server`].
pub static IN_PROCESS: &[Spec] = &[
    Spec {
        name: "json-api",
        op: "decode a JSON request, encode a JSON response",
        default_ops: 200_000,
        make: || Box::new(json_api::JsonApi::new()),
    },
    Spec {
        name: "slices",
        op: "one call using a 4 KiB temporary Vec<u8>",
        default_ops: 1_000_000,
        make: || Box::new(slices::Slices::new()),
    },
    Spec {
        name: "structs",
        op: "parse a query string into a context (Vec + HashMap)",
        default_ops: 300_000,
        make: || Box::new(structs::Structs::new()),
    },
    Spec {
        name: "gzip",
        op: "deflate and inflate an 8 KiB payload",
        default_ops: 4_000,
        make: || Box::new(gzip::Gzip::new()),
    },
    Spec {
        name: "size-classes",
        op: "one buffer of a random size in 512 B..64 KiB",
        default_ops: 300_000,
        make: || Box::new(size_classes::SizeClasses::new()),
    },
    Spec {
        name: "logging",
        op: "format one log line and write it to a sink",
        default_ops: 500_000,
        make: || Box::new(logging::Logging::new()),
    },
    Spec {
        name: "csv",
        op: "parse a 64-row CSV document record by record",
        default_ops: 10_000,
        make: || Box::new(csv_parse::CsvParse::new()),
    },
];

/// The api-server workload's name.
pub const API_SERVER: &str = "api-server";

/// Every workload name, in table order.
pub fn names() -> Vec<&'static str> {
    IN_PROCESS
        .iter()
        .map(|s| s.name)
        .chain([API_SERVER])
        .collect()
}

/// The in-process workload called `name`.
pub fn find(name: &str) -> Option<&'static Spec> {
    IN_PROCESS.iter().find(|s| s.name == name)
}

/// A fast 64-bit digest of `bytes` (word at a time; not cryptographic). Used for checksums.
pub fn digest(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = 0xCBF2_9CE4_8422_2325 ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("chunk of 8"));
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K).rotate_left(29);
    }
    h ^ (h >> 32)
}

/// Folds one operation's checksum into a running one (order-sensitive).
pub fn mix(acc: u64, x: u64) -> u64 {
    (acc.rotate_left(5) ^ x).wrapping_mul(0x100_0000_01B3)
}
