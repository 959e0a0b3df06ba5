//! `BufferPool` against plain `Vec` allocation with PoolAlloc as the global allocator (see
//! `benches::buffer_pool`).

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

fn main() {
    benches::buffer_pool::main("PoolAlloc");
}
