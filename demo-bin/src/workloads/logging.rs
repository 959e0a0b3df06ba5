//! Workload 6, logging: format a structured log line into a buffer and write it to a sink (a file or
//! socket in a real program; here a writer that checksums what it gets). No pool: `format!`
//! per line. Pool: a pooled `String` written with `write!`.

use std::sync::Arc;

use std::fmt::Write as _;
use std::io::Write as _;

use super::{digest, Variant, Workload};
use crate::pool::Pool;

/// A sink that keeps a checksum of what was written.
#[derive(Debug, Default)]
pub struct DigestSink {
    /// Digest of the last write.
    pub last: u64,
    /// Bytes written in all.
    pub bytes: u64,
}

impl std::io::Write for DigestSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.last = digest(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Entry {
    level: &'static str,
    user: u32,
    path: &'static str,
    status: u16,
    micros: u32,
}

const PATHS: [&str; 5] = [
    "/api/v1/items",
    "/api/v1/orders/42",
    "/login",
    "/static/app.js",
    "/health",
];
const LEVELS: [&str; 3] = ["INFO", "WARN", "DEBUG"];

/// The logging workload.
pub struct Logging {
    entries: Vec<Entry>,
    sink: DigestSink,
    pool: Arc<Pool<String>>,
}

impl Logging {
    /// 256 seeded entries; an empty pool.
    pub fn new() -> Self {
        let mut rng = fastrand::Rng::with_seed(6);
        let entries = (0..256)
            .map(|_| Entry {
                level: LEVELS[rng.usize(..LEVELS.len())],
                user: rng.u32(..1_000_000),
                path: PATHS[rng.usize(..PATHS.len())],
                status: [200, 200, 200, 404, 500][rng.usize(..5)],
                micros: rng.u32(50..2_000_000),
            })
            .collect();
        Logging {
            entries,
            sink: DigestSink::default(),
            pool: Arc::new(Pool::new(|| String::with_capacity(256))),
        }
    }
}

impl Default for Logging {
    fn default() -> Self {
        Self::new()
    }
}

/// Seconds and milliseconds of a fake clock for line `i`.
fn clock(i: u64) -> (u64, u64, u64, u64) {
    let ms = 1_000 * 3600 * 7 + i * 3;
    (
        ms / 3_600_000 % 24,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000,
    )
}

impl Workload for Logging {
    fn share(&self) -> Box<dyn Workload + Send> {
        Box::new(Logging {
            pool: Arc::clone(&self.pool),
            ..Logging::new()
        })
    }

    fn op(&mut self, variant: Variant, i: u64) -> u64 {
        let e = &self.entries[i as usize % self.entries.len()];
        let (h, m, s, ms) = clock(i);
        match variant {
            Variant::NoPool => {
                let line = format!(
                    "2026-12-01T{h:02}:{m:02}:{s:02}.{ms:03}Z level={} user={} path={} status={} latency_us={} msg=\"request served\" seq={i}\n",
                    e.level, e.user, e.path, e.status, e.micros
                );
                self.sink.write_all(line.as_bytes()).expect("sink");
            }
            Variant::Pool => {
                let mut line = self.pool.get();
                writeln!(
                    line,
                    "2026-12-01T{h:02}:{m:02}:{s:02}.{ms:03}Z level={} user={} path={} status={} latency_us={} msg=\"request served\" seq={i}",
                    e.level, e.user, e.path, e.status, e.micros
                )
                .expect("fmt");
                self.sink.write_all(line.as_bytes()).expect("sink");
            }
        }
        self.sink.last
    }
}
