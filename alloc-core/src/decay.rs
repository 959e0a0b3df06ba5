//! The decay clock and its settings (docs/architecture.md, "Memory: decay, trim, gauges"):
//! memory freed and not reused for [`delay_ms`] goes back to the OS. Every tier stamps what it
//! frees with [`now`]; the scavenger (`scavenger.rs`) and the page heap's own slow paths
//! release what has [`aged`]. A leaf module: it calls only `os`.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use crate::os;

/// The default delay before freed memory goes back to the OS, in milliseconds.
pub const DEFAULT_DECAY_MS: u32 = 1000;

/// The delay in milliseconds (`POOLALLOC_DECAY_MS`, [`crate::PoolAlloc::set_decay_ms`]).
static DECAY_MS: AtomicU32 = AtomicU32::new(DEFAULT_DECAY_MS);

/// The current delay before freed memory goes back to the OS, in milliseconds. 0 means at
/// once: an empty span or a cached large range is released when it is freed.
#[inline]
pub fn delay_ms() -> u32 {
    DECAY_MS.load(Relaxed)
}

/// Sets the delay (see [`delay_ms`]); values above one hour are clamped to one hour, so that
/// the wrapping millisecond clock never aliases.
pub fn set_delay_ms(ms: u32) {
    DECAY_MS.store(ms.min(3_600_000), Relaxed);
}

/// Reads `POOLALLOC_DECAY_MS` (run once at start-up).
pub fn init_from_env() {
    if let Some(ms) = os::env_u32(c"POOLALLOC_DECAY_MS") {
        set_delay_ms(ms);
    }
}

/// The decay clock: milliseconds, wrapping.
#[inline]
pub fn now() -> u32 {
    os::now_ms()
}

/// True if something stamped `stamp` has waited at least the delay at time `now`.
#[inline]
pub fn aged(stamp: u32, now: u32) -> bool {
    now.wrapping_sub(stamp) >= delay_ms()
}
