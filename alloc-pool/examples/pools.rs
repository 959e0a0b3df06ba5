//! A pool of request buffers under `PoolAlloc`: the loop reuses one buffer instead of
//! allocating a new one per request, and both the pool's and the allocator's counters say so.
//!
//! `cargo run -p alloc-pool --example pools`

use alloc_pool::{BoundedPool, Pool};

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

fn handle(buf: &mut Vec<u8>, id: u32) -> usize {
    use std::io::Write;
    write!(buf, "GET /item/{id}").expect("a Vec takes every write");
    buf.len()
}

fn main() {
    let pool: Pool<Vec<u8>> = Pool::new(|| Vec::with_capacity(4096));
    let r = alloc_core::Region::thread();
    let mut total = 0;
    for id in 0..10_000u32 {
        let mut buf = pool.get(); // back to the pool, cleared, when `buf` drops
        total += handle(&mut buf, id);
    }
    let d = r.change();
    let st = pool.stats();
    println!(
        "10000 requests, {total} bytes: pool hits {} misses {}; the allocator saw {} mallocs",
        st.hits, st.misses, d.mallocs
    );
    assert_eq!(st.hits + st.misses, 10_000);
    if alloc_core::counting_enabled() {
        assert!(d.mallocs < 10, "one buffer, reused: {d:?}");
    }

    // A fixed number of resources: the fourth `get` would wait for one to come back.
    let conns = BoundedPool::new(3, || String::from("connection"));
    let a = conns.get();
    let b = conns.get();
    let c = conns.get();
    assert!(conns.try_get().is_none(), "all three are out");
    drop(c);
    assert!(conns.try_get().is_some(), "one came back");
    println!("holding {} and {}", *a, *b);
}
