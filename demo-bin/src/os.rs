//! The only place in the demo that calls libc.

use std::ffi::CStr;

/// Minor page faults of the whole process so far (`getrusage(RUSAGE_SELF).ru_minflt`).
pub fn minor_faults() -> u64 {
    // SAFETY: all-zero is a valid `rusage` (plain integers).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`; RUSAGE_SELF is a valid `who`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc == 0 {
        ru.ru_minflt as u64
    } else {
        0
    }
}

/// CPU time the calling thread has used, user and system, in nanoseconds
/// (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`). Unlike wall time it does not grow while the
/// thread waits for a core, so it stays meaningful on a busy machine.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; the clock id is a valid constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc == 0 {
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    } else {
        0
    }
}

/// Whether environment variable `name` is set to exactly `value`. Does not allocate (it is
/// called from the global allocator before anything else runs).
pub fn env_is(name: &CStr, value: &[u8]) -> bool {
    // SAFETY: `name` is NUL-terminated. `getenv` is only unsound against a concurrent
    // `setenv`; the demo changes its environment once, in the parent's `main` while it is still
    // single-threaded (children get their variables via `Command`).
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return false;
    }
    // SAFETY: a non-null `getenv` result is a NUL-terminated string that lives until the
    // environment changes (not while this function runs, as above).
    unsafe { CStr::from_ptr(p) }.to_bytes() == value
}
