//! Memory and scaling scenarios with PoolAlloc as the global allocator (see
//! `benches::scenarios`).

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

fn main() {
    benches::scenarios::main("PoolAlloc", Some(|| GLOBAL.trim()));
}
