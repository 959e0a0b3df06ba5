//! The only module that calls `libc`: anonymous mappings for `Counting`'s per-thread blocks,
//! the thread-exit key, the `atexit` hook, `getenv` and raw writes to stderr. None of these
//! allocate through the Rust global allocator.

use core::ffi::{c_void, CStr};
use core::ptr;

/// Maps `len` bytes of zeroed, private, read-write memory, or returns null.
pub(crate) fn map_zeroed(len: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping with no address hint has no preconditions; the
    // result is checked against MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
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

/// Unmaps a region returned by [`map_zeroed`].
///
/// # Safety
/// `p` and `len` are exactly those of one earlier `map_zeroed` call, and nothing uses the
/// memory afterwards.
pub(crate) unsafe fn unmap(p: *mut u8, len: usize) {
    // SAFETY: the caller passes a whole live mapping that nothing references any more.
    unsafe {
        libc::munmap(p.cast(), len);
    }
}

/// Where [`write_stderr`] writes: fd 2, or the copy of it [`keep_stderr`] made.
static STDERR: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(2);

/// Keeps a copy of stderr (a close-on-exec descriptor at 64 or above) for the exit report: some
/// programs close fd 2 in their own exit hook, which runs before ours (GNU coreutils'
/// `close_stdout`, seen with a preloaded `sort`). Called once, when the exit report is armed
/// and its variable is set; on failure fd 2 stays the target.
pub(crate) fn keep_stderr() {
    // SAFETY: F_DUPFD_CLOEXEC on fd 2 has no memory effects; a failure returns -1.
    let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 64) };
    if fd >= 0 {
        STDERR.store(fd, core::sync::atomic::Ordering::Relaxed);
    }
}

/// True if the environment variable `name` is set at all (any value), without a word on
/// stderr.
pub(crate) fn env_set(name: &CStr) -> bool {
    // SAFETY: `name` is NUL-terminated; only the null test reads getenv's result.
    !unsafe { libc::getenv(name.as_ptr()) }.is_null()
}

/// Writes all of `bytes` to stderr with raw `write(2)` calls (no buffering, no allocation).
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    let fd = STDERR.load(core::sync::atomic::Ordering::Relaxed);
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe a live byte slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Whether the environment variable `name` is switched on: `1`, `true`, `yes` or `on` (any
/// case). Unset, empty, `0`, `false`, `no` and `off` are off; any other value is off too and
/// says so on stderr, so that a typo does not silently print nothing. Read with `getenv` and
/// written with `write(2)`, so nothing is allocated.
pub(crate) fn env_flag(name: &CStr) -> bool {
    // SAFETY: `name` is NUL-terminated; getenv returns null or a NUL-terminated string that we
    // only read before returning.
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        return false;
    }
    // SAFETY: non-null results of getenv point at a NUL-terminated string.
    let v = unsafe { CStr::from_ptr(v) }.to_bytes();
    match parse_flag(v) {
        Some(on) => on,
        None => {
            write_stderr(b"alloc-stats: ");
            write_stderr(name.to_bytes());
            write_stderr(b"=");
            write_stderr(v);
            write_stderr(b" not understood (1/true/yes/on or 0/false/no/off): no report\n");
            false
        }
    }
}

/// `Some(true)` for 1/true/yes/on, `Some(false)` for empty/0/false/no/off (ASCII case
/// ignored), `None` otherwise.
fn parse_flag(v: &[u8]) -> Option<bool> {
    const ON: [&[u8]; 4] = [b"1", b"true", b"yes", b"on"];
    const OFF: [&[u8]; 5] = [b"", b"0", b"false", b"no", b"off"];
    if ON.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        Some(true)
    } else if OFF.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        Some(false)
    } else {
        None
    }
}

/// Registers `f` to run at normal process exit. Returns false if libc refused.
pub(crate) fn at_exit(f: extern "C" fn()) -> bool {
    // SAFETY: `f` is a plain `extern "C" fn()` that stays valid for the life of the process.
    unsafe { libc::atexit(f) == 0 }
}

/// Creates a pthread key whose destructor `dtor` runs at the exit of every thread that set a
/// non-null value. Returns `None` if libc refused.
pub(crate) fn thread_key_create(
    dtor: unsafe extern "C" fn(*mut c_void),
) -> Option<libc::pthread_key_t> {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: `key` is a valid out-pointer and `dtor` an `extern "C"` function valid forever.
    let rc = unsafe { libc::pthread_key_create(&mut key, Some(dtor)) };
    (rc == 0).then_some(key)
}

/// Sets the calling thread's value for `key` to a non-null marker, so that the key's
/// destructor runs when the thread exits.
pub(crate) fn thread_key_arm(key: libc::pthread_key_t) -> bool {
    // SAFETY: `key` came from `thread_key_create`; the value is a marker never dereferenced.
    unsafe { libc::pthread_setspecific(key, ptr::NonNull::<c_void>::dangling().as_ptr()) == 0 }
}

/// Yields the CPU to another thread (used by the spin lock; never allocates).
pub(crate) fn yield_now() {
    // SAFETY: sched_yield has no preconditions.
    unsafe {
        libc::sched_yield();
    }
}

#[cfg(test)]
mod tests {
    use super::parse_flag;

    #[test]
    fn flag_values() {
        for on in ["1", "true", "TRUE", "Yes", "on"] {
            assert_eq!(parse_flag(on.as_bytes()), Some(true), "{on}");
        }
        for off in ["", "0", "false", "No", "OFF"] {
            assert_eq!(parse_flag(off.as_bytes()), Some(false), "{off}");
        }
        for bad in ["2", "tru", "1 ", "enable"] {
            assert_eq!(parse_flag(bad.as_bytes()), None, "{bad}");
        }
    }
}
