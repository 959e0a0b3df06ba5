//! Workload 3, structs: a per-request processing context (a byte buffer and a `HashMap<String, String>`
//! of parsed parameters), as in Go's "struct pool" pattern. One operation parses a query string
//! (`user=..&lang=..&...`) into the map and renders the known parameters into the buffer.
//!
//! No pool: a fresh [`Ctx`] per request. Pool: `Pool::with_reset(Ctx::new, Ctx::reset)`; the
//! reset empties the map *and keeps its strings* (their capacity moves to a spare list that
//! the next request's keys and values are written into), so nothing from one request is
//! visible to the next and nothing is allocated again in steady state.

use std::sync::Arc;

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{digest, mix, Variant, Workload};
use crate::pool::Pool;

/// Parameters that are rendered, in this order.
const KNOWN: [&str; 8] = [
    "user", "lang", "page", "sort", "q", "session", "ref", "limit",
];

/// The processing context.
#[derive(Debug)]
pub struct Ctx {
    /// Rendered output.
    pub buf: Vec<u8>,
    /// Parsed parameters (the last value of a repeated key wins).
    pub params: HashMap<String, String>,
    /// Empty strings with capacity, reused for keys and values.
    spare: Vec<String>,
}

impl Ctx {
    /// An empty context.
    pub fn new() -> Self {
        Ctx {
            buf: Vec::with_capacity(1024),
            params: HashMap::new(),
            spare: Vec::new(),
        }
    }

    /// Forgets every parameter and the output; keeps all capacity.
    pub fn reset(&mut self) {
        self.buf.clear();
        for (mut k, mut v) in self.params.drain() {
            k.clear();
            v.clear();
            self.spare.push(k);
            self.spare.push(v);
        }
    }

    fn string(&mut self, s: &str) -> String {
        let mut out = self.spare.pop().unwrap_or_default();
        out.push_str(s);
        out
    }

    /// Parses `query` and renders the known parameters; returns a checksum of the output.
    pub fn process(&mut self, query: &str) -> u64 {
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if let Some(old) = self.params.get_mut(k) {
                old.clear();
                old.push_str(v);
            } else {
                let (k, v) = (self.string(k), self.string(v));
                self.params.insert(k, v);
            }
        }
        for key in KNOWN {
            if let Some(v) = self.params.get(key) {
                self.buf.extend_from_slice(key.as_bytes());
                self.buf.push(b':');
                self.buf.extend_from_slice(v.as_bytes());
                self.buf.push(b'\n');
            }
        }
        mix(digest(&self.buf), self.params.len() as u64)
    }
}

impl Default for Ctx {
    fn default() -> Self {
        Self::new()
    }
}

/// The structs workload.
pub struct Structs {
    queries: Vec<String>,
    pool: Arc<Pool<Ctx>>,
}

impl Structs {
    /// 128 seeded query strings of 4..=10 parameters (some unknown, some repeated).
    pub fn new() -> Self {
        let mut rng = fastrand::Rng::with_seed(3);
        let queries = (0..128)
            .map(|_| {
                let mut q = String::new();
                for n in 0..rng.usize(4..=10) {
                    if n > 0 {
                        q.push('&');
                    }
                    let key = if rng.u8(..8) == 0 {
                        "utm_x"
                    } else {
                        KNOWN[rng.usize(..KNOWN.len())]
                    };
                    let len = rng.usize(1..24);
                    let val: String = std::iter::repeat_with(|| rng.alphanumeric())
                        .take(len)
                        .collect();
                    let _ = write!(q, "{key}={val}");
                }
                q
            })
            .collect();
        Structs {
            queries,
            pool: Arc::new(Pool::with_reset(Ctx::new, Ctx::reset)),
        }
    }
}

impl Default for Structs {
    fn default() -> Self {
        Self::new()
    }
}

impl Workload for Structs {
    fn share(&self) -> Box<dyn Workload + Send> {
        Box::new(Structs {
            pool: Arc::clone(&self.pool),
            ..Structs::new()
        })
    }

    fn op(&mut self, variant: Variant, i: u64) -> u64 {
        let q = &self.queries[i as usize % self.queries.len()];
        match variant {
            Variant::NoPool => Ctx::new().process(q),
            Variant::Pool => self.pool.get().process(q),
        }
    }
}
