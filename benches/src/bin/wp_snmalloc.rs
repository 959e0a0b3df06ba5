//! Whole-program workloads with snmalloc as the global allocator (see `benches::whole_program`).

#[global_allocator]
static GLOBAL: snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc::new();

fn main() {
    benches::whole_program::main("snmalloc");
}
