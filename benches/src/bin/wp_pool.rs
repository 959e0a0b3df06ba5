//! Whole-program workloads with PoolAlloc as the global allocator (see `benches::whole_program`).

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

fn main() {
    benches::whole_program::main("PoolAlloc");
}
