//! Whole-program workloads with jemalloc as the global allocator (see `benches::whole_program`).

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    benches::whole_program::main("jemalloc");
}
