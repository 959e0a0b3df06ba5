//! [`Region`]: a snapshot taken at creation; [`Region::change`] is what happened since.
//! Regions nest freely (each is just its own starting snapshot).

use core::sync::atomic::Ordering::*;

use crate::registry::{Registry, DEFAULT, DEFAULT_EPOCH, GLOBAL};
use crate::snapshot::Snapshot;

/// Where a region reads its counters.
#[derive(Clone, Copy)]
enum Source {
    /// The process default registry as it was at creation; `epoch` detects that it went away.
    /// A null `reg` (no registry yet) is looked up again at every read: a registry that
    /// appears later counts only what came after this region started, so the zero start is
    /// exact. (On musl nothing allocates before `main`, so a region made first thing in `main`
    /// is made before the allocator's first registration.)
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
    /// global `Counting`'s). Made before any registry exists (before the first allocation, as
    /// on musl), it reads the one that appears later, from zero. If no counting allocator is
    /// ever installed, every change is zero and [`Region::is_live`] says so; to name the
    /// allocator instead, use [`Region::of`] (`Region::of(PoolAlloc::registry())`,
    /// `Region::of(GLOBAL.registry())` for a `Counting`).
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
                // None at creation: the first registry since (if any), counting from zero.
                let reg = if reg.is_null() {
                    DEFAULT.load(Acquire).cast_const()
                } else {
                    reg
                };
                if reg.is_null() || DEFAULT_EPOCH.load(Relaxed) != epoch {
                    self.start
                } else {
                    // SAFETY: the epoch is unchanged, so the registry that was (or, from a null
                    // start, now is) the default is still alive (a dying Counting bumps the
                    // epoch under GLOBAL first, and we hold GLOBAL).
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

    /// Whether this region reads a registry now: false while no counting allocator has
    /// registered a thread yet (then every change is zero), or after the default `Counting` it
    /// read was dropped.
    pub fn is_live(&self) -> bool {
        match self.src {
            Source::Static(_) => true,
            Source::Default { reg, epoch } => GLOBAL.with(|| {
                (!reg.is_null() || !DEFAULT.load(Acquire).is_null())
                    && DEFAULT_EPOCH.load(Relaxed) == epoch
            }),
        }
    }
}

impl Default for Region {
    fn default() -> Self {
        Self::new()
    }
}
