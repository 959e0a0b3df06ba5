//! The harness: runs a workload variant for a number of operations on one or more threads and
//! turns allocation counters, clocks and page-fault counts into one [`Row`] of the table.
//!
//! Where the counts come from is up to the binary (it owns the global allocator): it passes a
//! [`Probe`] that reads the *current thread's* counters.

use std::sync::{Arc, Barrier};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::workloads::{mix, Spec, Variant};

/// Allocation counters of one thread, as a [`Probe`] reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Allocations (a realloc counts as one allocation and one free).
    pub allocs: u64,
    /// Frees.
    pub frees: u64,
    /// Bytes requested by those allocations.
    pub bytes: u64,
    /// Bytes allocated minus bytes freed by this thread so far.
    pub live: i64,
    /// Highest `live` since the last [`Probe::reset_peak`].
    pub peak: i64,
}

/// Reads the allocation counters of the calling thread.
#[derive(Clone, Copy)]
pub struct Probe {
    /// The current thread's counters.
    pub read: fn() -> Counts,
    /// Sets the current thread's peak to its current live bytes.
    pub reset_peak: fn(),
    /// What the peak means, for the table's legend.
    pub peak_note: &'static str,
}

/// One line of the table: a workload x variant x allocator.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Row {
    /// Workload name.
    pub workload: String,
    /// "no-pool" or "pool".
    pub variant: String,
    /// "system" or "pool-alloc" (or "dhat").
    pub allocator: String,
    /// Measured operations (per thread).
    pub ops: u64,
    /// Threads that ran them.
    pub threads: u64,
    /// CPU nanoseconds (user + system, of the thread that ran it) per operation: the fastest
    /// of [`ROUNDS`] equal rounds, averaged over threads. CPU time does not count the time the
    /// thread waited for a core, and the best round is the one least disturbed by other
    /// processes; allocation counts cover all rounds. api-server: wall time per request.
    pub ns_per_op: f64,
    /// Wall-clock nanoseconds per operation, best round likewise.
    pub wall_ns_per_op: f64,
    /// Allocations per operation.
    pub allocs_per_op: f64,
    /// Bytes allocated per operation.
    pub bytes_per_op: f64,
    /// Highest live heap bytes above the level at the start of the measured window (summed
    /// over threads).
    pub peak_live_bytes: u64,
    /// Minor page faults of the process during the window.
    pub minor_faults: u64,
    /// Checksum of every operation's output (equal for both variants).
    pub checksum: u64,
}

/// The measured operations run in this many equal rounds; ns/op is the best round's.
pub const ROUNDS: u64 = 5;

/// Warm-up operations before the measured window (fills the pools: steady state).
pub fn warmup_ops(ops: u64) -> u64 {
    (ops / 20).clamp(2, 2_000)
}

/// Runs `ops` operations of `variant` of `spec` on each of `threads` threads, after a warm-up,
/// and measures them. Each thread has its own instance (inputs, scratch state), and all of them
/// share one set of pools ([`Workload::share`](crate::workloads::Workload::share)): the pooled variant measures one pool under
/// `threads` threads, not `threads` private pools.
pub fn run(
    spec: &Spec,
    variant: Variant,
    ops: u64,
    threads: u64,
    probe: Probe,
    allocator: &str,
) -> Row {
    let threads = threads.max(1);
    let start = Arc::new(Barrier::new(threads as usize + 1));
    let done = Arc::new(Barrier::new(threads as usize + 1));
    let first = (spec.make)();
    let mut instances: Vec<Box<dyn crate::workloads::Workload + Send>> =
        (1..threads).map(|_| first.share()).collect();
    instances.insert(0, first);
    let workers: Vec<_> = instances
        .into_iter()
        .map(|mut w| {
            let (start, done) = (start.clone(), done.clone());
            std::thread::spawn(move || {
                let warm = warmup_ops(ops);
                for i in 0..warm {
                    std::hint::black_box(w.op(variant, ops + i));
                }
                start.wait();
                (probe.reset_peak)();
                let before = (probe.read)();
                let mut sum = 0u64;
                let (mut best_cpu, mut best_wall) = (f64::INFINITY, f64::INFINITY);
                let mut i = 0;
                for round in 0..ROUNDS {
                    let end = ops * (round + 1) / ROUNDS;
                    if end == i {
                        continue;
                    }
                    let n = (end - i) as f64;
                    let (c0, t0) = (crate::os::thread_cpu_ns(), Instant::now());
                    while i < end {
                        sum = mix(sum, w.op(variant, i));
                        i += 1;
                    }
                    best_wall = best_wall.min(t0.elapsed().as_nanos() as f64 / n);
                    best_cpu = best_cpu.min((crate::os::thread_cpu_ns() - c0) as f64 / n);
                }
                let after = (probe.read)();
                done.wait();
                drop(w);
                (before, after, (best_cpu, best_wall), sum)
            })
        })
        .collect();
    let faults0 = crate::os::minor_faults();
    start.wait();
    done.wait();
    let faults1 = crate::os::minor_faults();
    let mut row = Row {
        workload: spec.name.into(),
        variant: variant.name().into(),
        allocator: allocator.into(),
        ops,
        threads,
        minor_faults: faults1.saturating_sub(faults0),
        ..Row::default()
    };
    let (mut allocs, mut bytes, mut ns, mut wall) = (0u64, 0u64, 0f64, 0f64);
    for h in workers {
        let (b, a, t, sum) = h.join().expect("workload thread panicked");
        allocs += a.allocs - b.allocs;
        bytes += a.bytes - b.bytes;
        row.peak_live_bytes += (a.peak - b.live).max(0) as u64;
        ns += t.0;
        wall += t.1;
        row.checksum ^= sum;
    }
    let total = (ops * threads) as f64;
    row.ns_per_op = ns / threads as f64;
    row.wall_ns_per_op = wall / threads as f64;
    row.allocs_per_op = allocs as f64 / total;
    row.bytes_per_op = bytes as f64 / total;
    row
}
