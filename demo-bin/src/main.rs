//! The demo (placeholder).
#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

fn main() {
    let v: Vec<u64> = (0..1000).collect();
    println!("self-check: sum = {}", v.iter().sum::<u64>());
}
