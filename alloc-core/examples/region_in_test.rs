//! Asserting what a piece of code allocates, in a test: a thread `Region` counts only the
//! calling thread, so the numbers are exact while the test harness's other threads allocate.
//!
//! `cargo test -p alloc-core --example region_in_test` runs the tests below;
//! `cargo run -p alloc-core --example region_in_test` prints the same figures.

use alloc_core::Region;

#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

/// Joins with a fresh `String` per call.
fn join_naive(parts: &[&str]) -> String {
    parts.iter().fold(String::new(), |acc, p| acc + p + ",")
}

/// Joins into a buffer that the caller keeps.
fn join_into(out: &mut String, parts: &[&str]) {
    out.clear();
    for p in parts {
        out.push_str(p);
        out.push(',');
    }
}

fn main() {
    let parts = ["alpha", "beta", "gamma", "delta"];
    let r = Region::thread();
    let s = join_naive(&parts);
    println!(
        "join_naive: {} allocations, {} bytes",
        r.change().mallocs,
        r.change().bytes_requested
    );
    let mut buf = String::with_capacity(64);
    let r = Region::thread();
    join_into(&mut buf, &parts);
    println!("join_into:  {} allocations", r.change().mallocs);
    assert_eq!(s, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_into_does_not_allocate_once_the_buffer_is_big_enough() {
        let parts = ["alpha", "beta", "gamma", "delta"];
        let mut buf = String::with_capacity(64);
        let r = Region::thread();
        for _ in 0..100 {
            join_into(&mut buf, &parts);
        }
        let d = r.change();
        assert_eq!(d.mallocs, 0, "{d:?}");
        assert_eq!(buf, "alpha,beta,gamma,delta,");
    }

    #[test]
    fn join_naive_allocates_every_call() {
        let parts = ["alpha", "beta", "gamma", "delta"];
        let r = Region::thread();
        let s = std::hint::black_box(join_naive(&parts));
        let d = r.change();
        if alloc_core::counting_enabled() {
            assert!(d.mallocs >= 1, "{d:?}");
            assert!(d.live_bytes >= s.len() as u64);
        }
    }
}
