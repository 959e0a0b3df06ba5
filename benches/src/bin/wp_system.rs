//! Whole-program workloads with System as the global allocator (see `benches::whole_program`).

#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() {
    benches::whole_program::main("System");
}
