//! The operating-system layer: the only module that calls `libc` (see docs/architecture.md,
//! step 5 of the allocation path). Every function here is a thin, allocation-free wrapper that
//! reports failure as a null pointer or `false`, never by panicking.

use core::ptr;

/// The page size the allocator is built for. `init` checks it against the running kernel.
pub const PAGE: usize = 4096;

/// Maps `len` bytes (a multiple of [`PAGE`]) of fresh, zeroed, read-write anonymous memory for
/// a user's block (large allocations). The mapping counts against the kernel's overcommit
/// policy, like glibc's: under the default heuristic (`vm.overcommit_memory=0`) a request the
/// machine could never back is refused here, so `try_reserve` gets an error instead of the
/// program meeting the OOM killer later. Null when the OS refuses (that, address space,
/// `RLIMIT_AS`).
pub fn map(len: usize) -> *mut u8 {
    mmap_anon(ptr::null_mut(), len, 0)
}

/// Maps `len` bytes of address space for the allocator's own use (arenas, metadata), with
/// `MAP_NORESERVE`: a reservation whose pages are committed one by one as spans are used,
/// and given back by `decommit`, so it is not charged in full up front. Null on failure.
pub fn reserve(len: usize) -> *mut u8 {
    reserve_hint(ptr::null_mut(), len)
}

/// Like [`reserve`], with an address hint the kernel may ignore.
pub fn reserve_hint(hint: *mut u8, len: usize) -> *mut u8 {
    mmap_anon(hint, len, libc::MAP_NORESERVE)
}

/// A private anonymous read-write mapping with extra `flags`; null on failure.
fn mmap_anon(hint: *mut u8, len: usize, flags: libc::c_int) -> *mut u8 {
    // SAFETY: an anonymous private mapping with no fixed address cannot alias any existing
    // memory; the kernel picks (or honours the hint for) a free range.
    let p = unsafe {
        libc::mmap(
            hint.cast(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        p.cast()
    }
}

/// Maps `len` bytes aligned to `align` (a power of two larger than [`PAGE`]) by mapping
/// `len + align - PAGE` bytes and unmapping the unaligned head and tail, so exactly
/// `[result, result + len)` stays mapped. `reserve` picks [`reserve`]'s flags (the allocator's
/// own arenas) over [`map`]'s (a user's block). Null on failure.
pub fn map_aligned(len: usize, align: usize, reserve: bool) -> *mut u8 {
    let Some(total) = len.checked_add(align - PAGE) else {
        return ptr::null_mut();
    };
    let flags = if reserve { libc::MAP_NORESERVE } else { 0 };
    let raw = mmap_anon(ptr::null_mut(), total, flags);
    if raw.is_null() {
        return raw;
    }
    let start = raw as usize;
    let aligned = (start + align - 1) & !(align - 1);
    let head = aligned - start;
    let tail = total - head - len;
    // SAFETY: head and tail are page-aligned sub-ranges of the mapping made just above, which
    // nobody else has seen yet.
    unsafe {
        if head != 0 {
            unmap(raw, head);
        }
        if tail != 0 {
            unmap((aligned + len) as *mut u8, tail);
        }
    }
    aligned as *mut u8
}

/// Unmaps `[p, p + len)`.
///
/// # Safety
/// The range is page-aligned, was mapped by this module, and nothing uses it any more.
pub unsafe fn unmap(p: *mut u8, len: usize) {
    // SAFETY: the caller guarantees the range is ours and dead.
    let rc = unsafe { libc::munmap(p.cast(), len) };
    if rc != 0 {
        fatal("munmap failed");
    }
}

/// Makes `[p, p + len)` inaccessible (a guard page). False if the kernel refuses.
///
/// # Safety
/// The range is page-aligned, mapped by this module, and holds nothing anyone uses.
pub unsafe fn protect_none(p: *mut u8, len: usize) -> bool {
    // SAFETY: the caller guarantees the range is ours and unused.
    unsafe { libc::mprotect(p.cast(), len, libc::PROT_NONE) == 0 }
}

/// Gives the physical pages of `[p, p + len)` back to the OS; the range stays mapped and reads
/// as zero afterwards.
///
/// # Safety
/// The range is page-aligned, mapped by this module, and holds no live data.
pub unsafe fn decommit(p: *mut u8, len: usize) {
    // SAFETY: the caller guarantees the range is ours and holds nothing live; DONTNEED on a
    // private anonymous mapping only drops its pages.
    unsafe { libc::madvise(p.cast(), len, libc::MADV_DONTNEED) };
}

/// Grows or shrinks the mapping `[p, p + old)` to `new` bytes, moving it if needed (the pages
/// move, nothing is copied). Null on failure, in which case the old mapping is untouched.
///
/// # Safety
/// `[p, p + old)` is a page-aligned range mapped by this module; `old` and `new` are multiples
/// of [`PAGE`].
pub unsafe fn remap(p: *mut u8, old: usize, new: usize) -> *mut u8 {
    // SAFETY: the caller guarantees the range is ours; MAYMOVE lets the kernel relocate it.
    let q = unsafe { libc::mremap(p.cast(), old, new, libc::MREMAP_MAYMOVE) };
    if q == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        q.cast()
    }
}

/// The running kernel's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Writes `msg` to stderr with a raw `write(2)`, allocating nothing.
pub fn write_stderr(msg: &[u8]) {
    let mut rest = msg;
    while !rest.is_empty() {
        // SAFETY: `rest` is a valid byte slice for the length passed.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return;
        }
        rest = &rest[n as usize..];
    }
}

/// A fatal internal error: writes the message with `write(2)` and aborts. Never unwinds and
/// never allocates, so it is safe inside `GlobalAlloc` methods.
#[cold]
#[inline(never)]
pub fn fatal(msg: &str) -> ! {
    fatal_with(msg, b"")
}

/// [`fatal`] with an address: `alloc-core: fatal: <msg> (at 0x...)`.
#[cold]
#[inline(never)]
pub fn fatal_at(msg: &str, addr: usize) -> ! {
    let mut hex = *b" (at 0x0000000000000000)";
    for i in 0..16 {
        let nibble = (addr >> (60 - 4 * i)) & 0xf;
        hex[7 + i] = b"0123456789abcdef"[nibble];
    }
    fatal_with(msg, &hex)
}

/// Writes `alloc-core: fatal: <msg><suffix>` and a newline with `write(2)`, then aborts.
fn fatal_with(msg: &str, suffix: &[u8]) -> ! {
    write_stderr(b"alloc-core: fatal: ");
    write_stderr(msg.as_bytes());
    write_stderr(suffix);
    write_stderr(b"\n");
    // SAFETY: abort has no preconditions and does not return.
    unsafe { libc::abort() }
}

/// Two words of kernel randomness for the `hardened` secrets: the `AT_RANDOM` bytes the kernel
/// gives every process (no syscall, available before anything else runs), mixed so that they
/// do not equal glibc's stack-protector canary taken from the same bytes, with the address of a
/// stack slot and the clock.
#[cfg(feature = "hardened")]
pub fn random_seed() -> (usize, usize) {
    // SAFETY: getauxval has no preconditions; AT_RANDOM points to 16 readable bytes when set.
    let (a, b) = unsafe {
        let p = libc::getauxval(libc::AT_RANDOM) as *const u64;
        if p.is_null() {
            (0, 0)
        } else {
            (p.read_unaligned(), p.add(1).read_unaligned())
        }
    };
    let local = 0u8;
    let salt = (&local as *const u8 as u64) ^ u64::from(now_ms()).rotate_left(32);
    let mix = |mut z: u64| {
        // splitmix64's finaliser
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (
        mix(a ^ mix(salt)) as usize,
        mix(b ^ mix(salt ^ 0x9e37_79b9_7f4a_7c15)) as usize,
    )
}

/// Blocks while `*word == expected` (spurious wake-ups are allowed).
pub fn futex_wait(word: &core::sync::atomic::AtomicU32, expected: u32) {
    futex_wait_until(word, expected, ptr::null());
}

/// FUTEX_WAIT with an optional relative timeout (`timeout` null: none).
fn futex_wait_until(
    word: &core::sync::atomic::AtomicU32,
    expected: u32,
    timeout: *const libc::timespec,
) {
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call, and `timeout` is
    // null or a valid timespec (callers); FUTEX_WAIT only reads them.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            timeout,
        );
    }
}

/// Wakes one thread blocked in [`futex_wait`] on `word`.
pub fn futex_wake_one(word: &core::sync::atomic::AtomicU32) {
    // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE does not touch memory.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

/// A thread-exit hook: a pthread key whose destructor runs when a thread that set a non-null
/// value exits. glibc's key functions never call Rust's global allocator.
pub struct ExitKey(core::sync::atomic::AtomicU32);

impl ExitKey {
    /// Not yet created.
    pub const fn new() -> Self {
        ExitKey(core::sync::atomic::AtomicU32::new(u32::MAX))
    }

    /// Creates the key with `dtor` as its destructor. Call once, before any `set`.
    pub fn create(&self, dtor: unsafe extern "C" fn(*mut libc::c_void)) -> bool {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: `key` is a valid out-pointer; `dtor` is an extern "C" fn of the right type.
        let rc = unsafe { libc::pthread_key_create(&mut key, Some(dtor)) };
        if rc != 0 {
            return false;
        }
        self.0.store(key, core::sync::atomic::Ordering::Release);
        true
    }

    /// Sets the calling thread's value (its destructor argument). False if the key is missing
    /// or glibc could not store it.
    pub fn set(&self, value: *mut u8) -> bool {
        let key = self.0.load(core::sync::atomic::Ordering::Acquire);
        if key == u32::MAX {
            return false;
        }
        // SAFETY: `key` was returned by pthread_key_create; any pointer value may be stored.
        unsafe { libc::pthread_setspecific(key, value.cast()) == 0 }
    }
}

/// Registers fork handlers (`pthread_atfork`).
pub fn at_fork(
    prepare: unsafe extern "C" fn(),
    parent: unsafe extern "C" fn(),
    child: unsafe extern "C" fn(),
) -> bool {
    // SAFETY: the three handlers are valid extern "C" fns that live for the whole program.
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) == 0 }
}

/// Yields the processor.
pub fn yield_now() {
    // SAFETY: sched_yield has no preconditions.
    unsafe { libc::sched_yield() };
}

/// Milliseconds of a monotonic clock (the kernel's coarse clock: a vDSO read, no syscall,
/// 1–4 ms resolution), wrapping. Only differences mean anything.
#[inline]
pub fn now_ms() -> u32 {
    // SAFETY: all-zero bytes are a valid timespec (on every libc, padding fields included).
    let mut ts: libc::timespec = unsafe { core::mem::zeroed() };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC_COARSE exists on every Linux kernel
    // this crate supports.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000_000) as u32
}

/// Blocks while `*word == expected`, for at most `ms` milliseconds (spurious wake-ups are
/// allowed).
pub fn futex_wait_ms(word: &core::sync::atomic::AtomicU32, expected: u32, ms: u32) {
    // SAFETY: all-zero bytes are a valid timespec (on every libc, padding fields included).
    let mut ts: libc::timespec = unsafe { core::mem::zeroed() };
    ts.tv_sec = (ms / 1000) as _;
    ts.tv_nsec = ((ms % 1000) * 1_000_000) as _;
    futex_wait_until(word, expected, &ts);
}

/// Starts a detached thread with a small stack running `f`; false if the OS refuses. glibc's
/// `pthread_create` maps the stack itself and never calls Rust's global allocator.
pub fn spawn_detached(f: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void) -> bool {
    // SAFETY: every pointer passed points to a live local; `attr` is initialised before use
    // and destroyed after; `f` is a valid thread entry that ignores its argument.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_attr_init(&mut attr) != 0 {
            return false;
        }
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        libc::pthread_attr_setstacksize(&mut attr, 256 * 1024);
        // pthread_t is an integer on glibc and a pointer on musl: let pthread_create fill it.
        let mut tid = core::mem::MaybeUninit::<libc::pthread_t>::uninit();
        let rc = libc::pthread_create(tid.as_mut_ptr(), &attr, f, ptr::null_mut());
        libc::pthread_attr_destroy(&mut attr);
        rc == 0
    }
}

/// Blocks or unblocks every signal in the calling thread (a helper thread of the allocator
/// must never run a program's signal handlers).
pub fn block_all_signals() {
    // SAFETY: `set` is a valid sigset_t filled by sigfillset before use.
    unsafe {
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut());
    }
}

/// The value of environment variable `name` (NUL-terminated) as a decimal number; None if it
/// is unset or not a number. `getenv` does not allocate.
pub fn env_u32(name: &core::ffi::CStr) -> Option<u32> {
    // SAFETY: `name` is NUL-terminated; getenv returns null or a NUL-terminated string that
    // stays valid while nobody calls setenv (read at start-up only).
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        return None;
    }
    // SAFETY: as above.
    let bytes = unsafe { core::ffi::CStr::from_ptr(v) }.to_bytes();
    if bytes.is_empty() || bytes.len() > 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')),
    )
}

/// The number of online CPUs (at least 1).
pub fn cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n < 1 {
        1
    } else {
        n as usize
    }
}

/// Names the calling thread (as `ps -T`, `top -H` and debuggers show it); at most 15 bytes.
pub fn name_thread(name: &core::ffi::CStr) {
    // SAFETY: `name` is NUL-terminated and short enough; pthread_self is always valid.
    unsafe { libc::pthread_setname_np(libc::pthread_self(), name.as_ptr()) };
}

/// 0: not asked yet; 1: registered for private expedited membarrier; 2: unavailable.
static MEMBARRIER: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

/// Registers this process for [`membarrier`] the first time it is asked; false if the kernel
/// (older than 4.14, or a seccomp filter) refuses.
pub fn membarrier_ready() -> bool {
    use core::sync::atomic::Ordering::Relaxed;
    match MEMBARRIER.load(Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // SAFETY: membarrier takes no pointers.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_membarrier,
                    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                    0,
                    0,
                )
            };
            MEMBARRIER.store(if rc == 0 { 1 } else { 2 }, Relaxed);
            rc == 0
        }
    }
}

/// Makes every running thread of the process execute a full memory barrier before this
/// returns (threads not running pass one when they are scheduled); false on failure.
pub fn membarrier() -> bool {
    // SAFETY: membarrier takes no pointers.
    let rc = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) };
    rc == 0
}

/// After `fork`, in the child: ask the kernel again before the next [`membarrier`].
pub fn membarrier_forget() {
    MEMBARRIER.store(0, core::sync::atomic::Ordering::Relaxed);
}
