//! `libpoolalloc.so`: alloc-core's heap behind glibc's malloc API, for `LD_PRELOAD`
//! (docs/preload.md). Every export is a thin shim over [`PoolAlloc`]: it checks the C
//! arguments (overflow, alignment), calls the heap, and turns a failure into `NULL` with
//! `errno = ENOMEM` (or the error code `posix_memalign` returns). Nothing here allocates
//! through Rust's allocator, takes a lock of its own or can panic: every operation on a size is
//! checked (`checked_*`, `Layout::from_size_align`), and no `unwrap`, indexing or formatting
//! runs on these paths.
//!
//! The heap is the same one a Rust program gets from `#[global_allocator]`: anything Rust code
//! in this library allocated would come from it too (the `#[global_allocator]` below), so one
//! process has one heap, one set of counters and one exit report (`POOLALLOC_STATS=1` or
//! `ALLOC_STATS=1`).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![warn(missing_docs)]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_int, c_void};
use core::ptr;

use alloc_core::PoolAlloc;

/// Whatever Rust code in this library allocates comes from the same heap as C's `malloc`.
#[global_allocator]
static GLOBAL: PoolAlloc = PoolAlloc::new();

/// The alignment glibc's `malloc` guarantees on x86-64 and aarch64 (`2 * sizeof(size_t)`,
/// `alignof(max_align_t)`): every block returned here is aligned to at least this.
const MIN_ALIGN: usize = 16;

/// The heap's page size (alloc-core aborts at start-up on a kernel with another one), for
/// `valloc` and `pvalloc`.
const PAGE: usize = alloc_core::config::PAGE;

/// Sets the calling thread's `errno`.
#[inline]
fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for the whole
    // life of the thread.
    unsafe { *libc::__errno_location() = e };
}

/// The calling thread's `errno`.
#[inline]
fn errno() -> c_int {
    // SAFETY: as in set_errno.
    unsafe { *libc::__errno_location() }
}

/// `size` bytes (at least 1) aligned to `align` (a power of two; at least [`MIN_ALIGN`]),
/// zeroed if `zero`, or null with `errno = ENOMEM`: the path of every allocating export.
#[inline]
fn alloc_with(size: usize, align: usize, zero: bool) -> *mut c_void {
    let Ok(layout) = Layout::from_size_align(size.max(1), align.max(MIN_ALIGN)) else {
        // The size rounded up to the alignment does not fit in an isize: no block can be.
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    };
    // SAFETY: a valid layout of non-zero size.
    let p = unsafe {
        if zero {
            GLOBAL.alloc_zeroed(layout)
        } else {
            GLOBAL.alloc(layout)
        }
    };
    if p.is_null() {
        set_errno(libc::ENOMEM);
    }
    p.cast()
}

/// [`alloc_with`], not zeroed.
#[inline]
fn alloc_aligned(size: usize, align: usize) -> *mut c_void {
    alloc_with(size, align, false)
}

/// `malloc(3)`: `size` bytes aligned to 16; `malloc(0)` returns a unique pointer that may be
/// freed, like glibc's. Null and `ENOMEM` when the heap cannot.
///
/// # Safety
/// Always safe to call; unsafe because it is an `extern "C"` export that C code calls.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    alloc_aligned(size, MIN_ALIGN)
}

/// `free(3)`: gives back a block of this heap; `free(NULL)` does nothing. A pointer that is
/// not the start of a live block of this heap aborts with `alloc-core: fatal: ...`.
///
/// # Safety
/// `p` is null or a block returned by one of this library's functions and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(p: *mut c_void) {
    // SAFETY: the caller's contract is free_unsized's.
    unsafe { GLOBAL.free_unsized(p.cast()) };
}

/// `calloc(3)`: `n * size` zeroed bytes; null and `ENOMEM` if the product overflows or the
/// heap cannot.
///
/// # Safety
/// Always safe to call (see [`malloc`]).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    };
    alloc_with(total, MIN_ALIGN, true)
}

/// `realloc(3)`, as glibc does it: `realloc(NULL, n)` is `malloc(n)`; `realloc(p, 0)` frees
/// `p` and returns null (errno untouched); otherwise the block is resized in place when the
/// heap can, else moved (contents kept up to the smaller size, aligned to 16). On failure:
/// null, `ENOMEM`, and `p` still valid and untouched.
///
/// # Safety
/// `p` is null or a live block of this heap; after a non-null return `p` is no longer valid
/// (unless the result is `p`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return alloc_aligned(size, MIN_ALIGN);
    }
    if size == 0 {
        // SAFETY: `p` is a live block (caller).
        unsafe { GLOBAL.free_unsized(p.cast()) };
        return ptr::null_mut();
    }
    // SAFETY: `p` is a live block (caller) and size is non-zero; a size too large for any
    // block (above isize::MAX rounded) comes back as null like any failure.
    let q = unsafe { GLOBAL.realloc_unsized(p.cast(), size) };
    if q.is_null() {
        set_errno(libc::ENOMEM);
    }
    q.cast()
}

/// `reallocarray(3)`: `realloc(p, n * size)`, except that an overflowing product fails
/// (null, `ENOMEM`, `p` untouched) instead of wrapping.
///
/// # Safety
/// As [`realloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    };
    // SAFETY: forwarded contract.
    unsafe { realloc(p, total) }
}

/// `posix_memalign(3)`: stores in `*out` a block of `size` bytes aligned to `align`, which
/// must be a power of two and a multiple of `sizeof(void *)` (else `EINVAL`). Returns 0, or
/// `EINVAL`/`ENOMEM` with `*out` untouched; `errno` is left as it was, as POSIX asks.
///
/// # Safety
/// `out` is valid for a pointer-sized write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || !align.is_multiple_of(size_of::<*mut c_void>()) {
        return libc::EINVAL;
    }
    let saved = errno();
    let p = alloc_aligned(size, align);
    if p.is_null() {
        set_errno(saved);
        return libc::ENOMEM;
    }
    // SAFETY: `out` is valid for writes (caller).
    unsafe { out.write(p) };
    0
}

/// `aligned_alloc(3)` (C11), as glibc 2.38 and later do it: `align` must be a power of two
/// (else null and `EINVAL`); any size is accepted.
///
/// # Safety
/// Always safe to call (see [`malloc`]).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        set_errno(libc::EINVAL);
        return ptr::null_mut();
    }
    alloc_aligned(size, align)
}

/// `memalign(3)`, as glibc does it: an alignment that is not a power of two is rounded up to
/// the next one; one above `SIZE_MAX / 2 + 1` fails with `EINVAL`.
///
/// # Safety
/// Always safe to call (see [`malloc`]).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    match align.checked_next_power_of_two() {
        Some(a) => alloc_aligned(size, a),
        None => {
            set_errno(libc::EINVAL);
            ptr::null_mut()
        }
    }
}

/// `valloc(3)`: `size` bytes aligned to the page size.
///
/// # Safety
/// Always safe to call (see [`malloc`]).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    alloc_aligned(size, PAGE)
}

/// `pvalloc(3)`: `size` rounded up to whole pages (at least one), page-aligned; null and
/// `ENOMEM` if the rounding overflows.
///
/// # Safety
/// Always safe to call (see [`malloc`]).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    match size.max(1).checked_next_multiple_of(PAGE) {
        Some(rounded) => alloc_aligned(rounded, PAGE),
        None => {
            set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

/// `malloc_usable_size(3)`: the bytes usable in the block at `p` (at least what was asked;
/// the whole size class or large range); 0 for null or for a pointer that is not a block of
/// this heap.
///
/// # Safety
/// `p` is null or a live block of this heap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    GLOBAL.usable_size(p.cast_const().cast()).unwrap_or(0)
}

/// `malloc_trim(3)`: gives back to the OS what the heap holds and nobody uses
/// ([`PoolAlloc::trim`]; `pad` is ignored). Returns 1 (memory may have been released).
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_trim(_pad: usize) -> c_int {
    GLOBAL.trim();
    1
}

// glibc's internal names, which some programs and libraries call to reach "the real malloc"
// (and which glibc's own `__libc_memalign` users, older `ld.so` among them, call directly).
// They are the same functions: a program that asks for the libc allocator gets this heap,
// so no block crosses between two heaps.

/// `__libc_malloc`: [`malloc`].
///
/// # Safety
/// As [`malloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libc_malloc(size: usize) -> *mut c_void {
    alloc_aligned(size, MIN_ALIGN)
}

/// `__libc_free`: [`free`].
///
/// # Safety
/// As [`free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libc_free(p: *mut c_void) {
    // SAFETY: forwarded contract.
    unsafe { free(p) }
}

/// `__libc_calloc`: [`calloc`].
///
/// # Safety
/// As [`calloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libc_calloc(n: usize, size: usize) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { calloc(n, size) }
}

/// `__libc_realloc`: [`realloc`].
///
/// # Safety
/// As [`realloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { realloc(p, size) }
}

/// `__libc_memalign`: [`memalign`].
///
/// # Safety
/// As [`memalign`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libc_memalign(align: usize, size: usize) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { memalign(align, size) }
}

/// `__libc_valloc`: [`valloc`].
///
/// # Safety
/// As [`valloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libc_valloc(size: usize) -> *mut c_void {
    alloc_aligned(size, PAGE)
}

/// `__libc_pvalloc`: [`pvalloc`].
///
/// # Safety
/// As [`pvalloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libc_pvalloc(size: usize) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { pvalloc(size) }
}
