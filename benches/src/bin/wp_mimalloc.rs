//! Whole-program workloads with mimalloc as the global allocator (see `benches::whole_program`).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    benches::whole_program::main("mimalloc");
}
