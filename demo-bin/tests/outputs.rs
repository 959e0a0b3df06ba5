//! Pooled and unpooled variants produce identical output, operation by operation, in any
//! order: nothing a pooled object carries over from one use shows in the next.

use alloc_core::PoolAlloc;
use demo::workloads::{self, json_api, Variant};

#[global_allocator]
static GLOBAL: PoolAlloc = PoolAlloc::new();

#[test]
fn every_op_gives_the_same_checksum_with_and_without_the_pool() {
    for spec in workloads::IN_PROCESS {
        let n = if spec.name == "gzip" { 12 } else { 200 };
        let (mut plain, mut pooled) = ((spec.make)(), (spec.make)());
        // A scrambled order, with repeats, so pooled objects go from big inputs to small ones.
        let mut rng = fastrand::Rng::with_seed(11);
        let order: Vec<u64> = (0..n).map(|_| rng.u64(..n * 4)).collect();
        let expect: Vec<u64> = order
            .iter()
            .map(|&i| plain.op(Variant::NoPool, i))
            .collect();
        let got: Vec<u64> = order.iter().map(|&i| pooled.op(Variant::Pool, i)).collect();
        assert_eq!(expect, got, "{}: pooled output differs", spec.name);
        // And the same instance gives the same answer again (no drift with reuse).
        assert_eq!(
            pooled.op(Variant::Pool, order[0]),
            expect[0],
            "{}",
            spec.name
        );
        let distinct: std::collections::HashSet<_> = expect.iter().collect();
        assert!(
            distinct.len() > 1,
            "{}: checksums must depend on the input",
            spec.name
        );
    }
}

#[test]
fn json_handlers_agree_byte_for_byte_and_reuse_leaks_nothing() {
    let bodies = json_api::request_bodies(40, 99);
    let mut req = json_api::Request::default();
    let mut out = Vec::new();
    // Big request first, then smaller ones: spare slots must stay invisible.
    let mut sorted: Vec<&Vec<u8>> = bodies.iter().collect();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.len()));
    for body in sorted {
        json_api::handle_into(body, &mut req, &mut out).expect("decode");
        assert_eq!(out, json_api::handle(body).expect("decode"));
        let fresh: json_api::Request = serde_json::from_slice(body).expect("decode");
        assert_eq!(req, fresh, "in-place decode equals a fresh decode");
        req.reset();
    }
    assert!(
        json_api::handle(b"{\"user_id\":1}").is_err(),
        "missing fields are rejected"
    );
    assert!(json_api::handle_into(
        b"{\"user_id\":1,\"name\":\"x\",\"tags\":[],\"items\":[],\"extra\":1}",
        &mut req,
        &mut out
    )
    .is_err());
}

#[test]
fn structs_reset_empties_the_context() {
    let mut ctx = workloads::structs::Ctx::new();
    let a = ctx.process("user=ann&lang=en&q=cats");
    ctx.reset();
    assert!(ctx.params.is_empty() && ctx.buf.is_empty());
    let b = ctx.process("page=2");
    ctx.reset();
    let mut fresh = workloads::structs::Ctx::new();
    assert_eq!(b, fresh.process("page=2"));
    assert_ne!(a, b);
}

/// `--threads N`: instances made with `Workload::share` take from and give back to the same
/// pools from several threads at once, and still give the unpooled answers.
#[test]
fn shared_pools_across_threads_give_the_same_checksums() {
    for spec in workloads::IN_PROCESS {
        let n: u64 = if spec.name == "gzip" { 8 } else { 100 };
        let mut plain = (spec.make)();
        let expect: Vec<u64> = (0..n).map(|i| plain.op(Variant::NoPool, i)).collect();
        let first = (spec.make)();
        let others: Vec<_> = (0..3).map(|_| first.share()).collect();
        let got: Vec<Vec<u64>> = std::thread::scope(|s| {
            let hs: Vec<_> = std::iter::once(first)
                .chain(others)
                .map(|mut w| s.spawn(move || (0..n).map(|i| w.op(Variant::Pool, i)).collect()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for g in got {
            assert_eq!(g, expect, "{}: shared-pool output differs", spec.name);
        }
    }
}
