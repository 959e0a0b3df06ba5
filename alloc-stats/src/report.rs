//! The human report (`Display` for [`Snapshot`]: an aligned table) and the `ALLOC_STATS=1`
//! exit hook, which formats into a fixed stack buffer and writes it with raw `write(2)`, so it
//! neither allocates nor takes any allocator lock.

use core::fmt::{self, Write};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering::*};

use crate::os;
use crate::registry::{Registry, GLOBAL};
use crate::snapshot::Snapshot;
use crate::LARGE;

/// `n` bytes as a short human figure ("512 B", "1.5 KiB", "3.2 GiB").
struct Human(u64);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut b = StackBuf::<24>::new();
        if self.0 < 1024 {
            let _ = write!(b, "{} B", self.0);
        } else {
            let mut v = self.0 as f64 / 1024.0;
            let mut u = 0;
            while v >= 1024.0 && u + 1 < UNITS.len() {
                v /= 1024.0;
                u += 1;
            }
            let _ = write!(b, "{v:.1} {}", UNITS[u]);
        }
        // The buffer only ever holds whole ASCII writes.
        f.pad(core::str::from_utf8(b.as_bytes()).unwrap_or("?"))
    }
}

impl fmt::Display for Snapshot {
    /// An aligned table: totals, then one row per used size class.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: [(&str, u64); 8] = [
            ("mallocs", self.mallocs),
            ("frees", self.frees),
            ("live blocks", self.live_blocks),
            ("reallocs in place", self.reallocs_in_place),
            ("reallocs moved", self.reallocs_moved),
            ("large allocs", self.large_allocs),
            ("large frees", self.large_frees),
            ("spans in use", self.spans_in_use),
        ];
        let bytes: [(&str, u64); 8] = [
            ("bytes requested", self.bytes_requested),
            ("bytes allocated", self.bytes_allocated),
            ("bytes freed", self.bytes_freed),
            ("live bytes", self.live_bytes),
            ("peak live bytes", self.peak_live_bytes),
            ("os reserved", self.os_reserved_bytes),
            ("os mapped", self.os_mapped_bytes),
            ("os released", self.os_released_bytes),
        ];
        writeln!(
            f,
            "alloc-stats: {} threads live, {} exited",
            self.threads_live, self.threads_exited
        )?;
        for i in 0..counts.len() {
            let (cn, cv) = counts[i];
            let (bn, bv) = bytes[i];
            writeln!(
                f,
                "  {cn:<18}{cv:>14}    {bn:<16}{bv:>16}  {:>9}",
                Human(bv)
            )?;
        }
        writeln!(
            f,
            "  heap now: {} resident = {} live + {} in thread caches + {} free retained + {} metadata",
            Human(self.resident_bytes),
            Human(self.live_bytes),
            Human(self.thread_cache_bytes),
            Human(self.free_retained_bytes),
            Human(self.metadata_bytes)
        )?;
        writeln!(
            f,
            "  {:>5} {:>10} {:>12} {:>12} {:>8} {:>8} {:>10} {:>12} {:>10} {:>9} {:>9}",
            "class",
            "size",
            "allocs",
            "frees",
            "re-in",
            "re-out",
            "live",
            "hits",
            "misses",
            "refills",
            "flushes"
        )?;
        for (i, c) in self.used_classes() {
            if i == LARGE {
                write!(f, "  {:>5} {:>10}", "large", "-")?;
            } else {
                write!(f, "  {i:>5} {:>10}", c.size)?;
            }
            writeln!(
                f,
                " {:>12} {:>12} {:>8} {:>8} {:>10} {:>12} {:>10} {:>9} {:>9}",
                c.allocs,
                c.frees,
                c.reallocs_in,
                c.reallocs_out,
                c.live_blocks,
                c.hits,
                c.misses,
                c.refills,
                c.flushes
            )?;
        }
        Ok(())
    }
}

/// A `fmt::Write` into a fixed buffer; output past its end is dropped (and marked).
pub(crate) struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> StackBuf<N> {
    pub(crate) const fn new() -> Self {
        StackBuf {
            buf: [0; N],
            len: 0,
            truncated: false,
        }
    }
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }
}

impl<const N: usize> Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            self.truncated = true;
        }
        Ok(())
    }
}

/// Writes `snap`'s report to stderr without allocating.
pub fn write_report(snap: &Snapshot) {
    let mut b = StackBuf::<16384>::new();
    let _ = write!(b, "{snap}");
    os::write_stderr(b.as_bytes());
    if b.truncated() {
        os::write_stderr(b"  ... (report truncated)\n");
    }
}

/// Registries whose report the exit hook prints (written under `GLOBAL`).
static REPORTS: [AtomicPtr<Registry>; 8] = [const { AtomicPtr::new(ptr::null_mut()) }; 8];
static HOOKED: AtomicBool = AtomicBool::new(false);

/// Registers (once per process) a libc `atexit` hook that, if `ALLOC_STATS` or
/// `POOLALLOC_STATS` is `1` at exit, writes the report of `registry` (and of every other
/// registry installed here) to stderr, like mimalloc's `MIMALLOC_SHOW_STATS`. Calling it
/// again for the same registry is a no-op. If either variable is set when the hook is
/// installed, the report goes to a copy of stderr taken then (close-on-exec, fd 64 or above),
/// so it still prints when the program closed fd 2 in an exit hook of its own.
pub fn install_exit_report(registry: &'static Registry) {
    install_raw(registry);
}

/// `install_exit_report` for a registry that removes itself (`remove_raw`) before it dies.
pub(crate) fn install_raw(registry: &Registry) {
    let p = registry as *const Registry as *mut Registry;
    GLOBAL.with(|| {
        if REPORTS.iter().any(|s| s.load(Relaxed) == p) {
            return;
        }
        if let Some(slot) = REPORTS.iter().find(|s| s.load(Relaxed).is_null()) {
            slot.store(p, Relaxed);
        }
        if !HOOKED.swap(true, Relaxed) {
            if os::env_set(c"ALLOC_STATS") || os::env_set(c"POOLALLOC_STATS") {
                os::keep_stderr();
            }
            os::at_exit(exit_hook);
        }
    });
}

/// Forgets `registry` (caller holds `GLOBAL`).
pub(crate) fn remove_locked(registry: &Registry) {
    let p = registry as *const Registry as *mut Registry;
    for s in &REPORTS {
        if s.load(Relaxed) == p {
            s.store(ptr::null_mut(), Relaxed);
        }
    }
}

extern "C" fn exit_hook() {
    // POOLALLOC_STATS: the same switch under the name a preloaded C program is run with
    // (alloc-cabi, docs/preload.md).
    if !os::env_flag(c"ALLOC_STATS") && !os::env_flag(c"POOLALLOC_STATS") {
        return;
    }
    GLOBAL.with(|| {
        for s in &REPORTS {
            let p = s.load(Relaxed);
            if !p.is_null() {
                // SAFETY: a registry stays in REPORTS only while alive: 'static ones forever,
                // Counting's until its drop removes it under GLOBAL, which we hold.
                write_report(&unsafe { &*p }.snapshot());
            }
        }
    });
}
