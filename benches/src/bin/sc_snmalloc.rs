//! Memory and scaling scenarios with snmalloc as the global allocator (see
//! `benches::scenarios`); snmalloc has no trim call.

#[global_allocator]
static GLOBAL: snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc::new();

fn main() {
    benches::scenarios::main("snmalloc", None);
}
