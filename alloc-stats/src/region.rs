//! [`Region`]: a snapshot taken at creation; [`Region::change`] is what happened since.
//! Regions nest freely (each is just its own starting snapshot).

use core::sync::atomic::Ordering::*;

use crate::registry::{Registry, DEFAULT, DEFAULT_EPOCH, GLOBAL};
use crate::snapshot::Snapshot;

/// Where a region reads its counters.
#[derive(Clone, Copy)]
enum Source {
    /// The process default registry as it was at creation; `epoch` detects that it went away.
    Default { reg: *const Registry, epoch: u64 },
    /// A registry that lives forever.
    Static(&'static Registry),
}

/// Counts between `Region::new()` (or `thread()`, `of()`, `thread_of()`) and `change()`.
///
/// ```
/// let r = alloc_stats::Region::new();
/// let v = vec![0u8; 100];
/// let d = r.change();
/// // Under a counting global allocator, d.mallocs == 1 and d.live_bytes >= 100.
/// # drop(v);
/// # let _ = d;
/// ```
///
/// Whole-registry regions (`new`, `of`) sum all threads, so other threads' work shows up;
/// thread regions (`thread`, `thread_of`) count only the calling thread and are exact while
/// other threads allocate. A `Region` stays on the thread that made it.
pub struct Region {
    src: Source,
    thread: bool,
    start: Snapshot,
}

impl Region {
    /// All threads of the default registry (the first ever registered: `PoolAlloc`'s, or the
    /// global `Counting`'s). With no registry yet, every change is zero.
    pub fn new() -> Self {
        Self::default_source(false)
    }

    /// The calling thread only, in the default registry.
    pub fn thread() -> Self {
        Self::default_source(true)
    }

    /// All threads of `registry`.
    pub fn of(registry: &'static Registry) -> Self {
        Self::make(Source::Static(registry), false)
    }

    /// The calling thread only, in `registry`.
    pub fn thread_of(registry: &'static Registry) -> Self {
        Self::make(Source::Static(registry), true)
    }

    fn default_source(thread: bool) -> Self {
        let src = GLOBAL.with(|| Source::Default {
            reg: DEFAULT.load(Acquire),
            epoch: DEFAULT_EPOCH.load(Relaxed),
        });
        Self::make(src, thread)
    }

    fn make(src: Source, thread: bool) -> Self {
        let mut r = Region {
            src,
            thread,
            start: Snapshot::ZERO,
        };
        r.start = r.now();
        r
    }

    fn read(reg: &Registry, thread: bool) -> Snapshot {
        if thread {
            reg.thread_snapshot()
        } else {
            reg.snapshot()
        }
    }

    /// The counters now (not a difference).
    pub fn now(&self) -> Snapshot {
        match self.src {
            Source::Static(reg) => Self::read(reg, self.thread),
            Source::Default { reg, epoch } => GLOBAL.with(|| {
                if reg.is_null() || DEFAULT_EPOCH.load(Relaxed) != epoch {
                    self.start
                } else {
                    // SAFETY: the epoch is unchanged, so the registry that was the default is
                    // still alive (a dying Counting bumps the epoch under GLOBAL first, and we
                    // hold GLOBAL).
                    Self::read(unsafe { &*reg }, self.thread)
                }
            }),
        }
    }

    /// What happened since the region started (see [`Snapshot::diff`]).
    pub fn change(&self) -> Snapshot {
        self.now().diff(&self.start)
    }

    /// The snapshot taken at the start.
    pub fn start(&self) -> &Snapshot {
        &self.start
    }

    /// Whether this region reads a registry at all (false before any registry exists).
    pub fn is_live(&self) -> bool {
        !matches!(self.src, Source::Default { reg, .. } if reg.is_null())
    }
}

impl Default for Region {
    fn default() -> Self {
        Self::new()
    }
}
