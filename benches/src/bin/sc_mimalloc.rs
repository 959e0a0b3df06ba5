//! Memory and scaling scenarios with mimalloc as the global allocator (see
//! `benches::scenarios`).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // SAFETY: mi_collect has no preconditions.
    benches::scenarios::main(
        "mimalloc",
        Some(|| unsafe { libmimalloc_sys::mi_collect(true) }),
    );
}
