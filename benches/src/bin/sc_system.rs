//! Memory and scaling scenarios with the system allocator (glibc) (see `benches::scenarios`).

fn main() {
    // SAFETY: malloc_trim has no preconditions.
    benches::scenarios::main(
        "System",
        Some(|| unsafe {
            libc::malloc_trim(0);
        }),
    );
}
