//! Memory and scaling scenarios with jemalloc as the global allocator (see
//! `benches::scenarios`).

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's trim: purge every arena (`arena.<MALLCTL_ARENAS_ALL>.purge`).
fn purge() {
    // SAFETY: a NUL-terminated mallctl name that takes no input and gives no output.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

fn main() {
    benches::scenarios::main("jemalloc", Some(purge));
}
