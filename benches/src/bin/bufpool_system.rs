//! `BufferPool` against plain `Vec` allocation with System (glibc malloc) as the global
//! allocator (see `benches::buffer_pool`).

#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() {
    benches::buffer_pool::main("System");
}
