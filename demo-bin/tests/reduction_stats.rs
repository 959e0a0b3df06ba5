//! Steady state under PoolAlloc, counted by alloc-stats thread regions: pooling removes at
//! least 90 % of the allocations of every in-process workload, and of the api-server's
//! handler (the server's own allocations are reported separately and do not change).

use alloc_core::PoolAlloc;
use alloc_stats::Region;
use demo::workloads::{self, api_server, Variant};
use demo::{Counts, Probe};

#[global_allocator]
static GLOBAL: PoolAlloc = PoolAlloc::new();

/// Allocations in a snapshot difference (a realloc counts as one, as in the demo's table).
fn allocs(s: &alloc_stats::Snapshot) -> u64 {
    s.mallocs + s.reallocs_in_place + s.reallocs_moved
}

fn count(w: &mut dyn demo::Workload, variant: Variant, ops: u64) -> u64 {
    for i in 0..4 {
        w.op(variant, 1_000 + i);
    }
    let r = Region::thread();
    for i in 0..ops {
        std::hint::black_box(w.op(variant, i));
    }
    allocs(&r.change())
}

#[test]
fn counting_is_on() {
    let r = Region::thread();
    let v = std::hint::black_box(vec![1u8; 100]);
    drop(v);
    assert!(
        allocs(&r.change()) >= 1,
        "alloc-stats must count PoolAlloc's allocations here"
    );
}

#[test]
fn pooled_variants_allocate_at_least_90_percent_less() {
    for spec in workloads::IN_PROCESS {
        let ops = if spec.name == "gzip" { 8 } else { 64 };
        let mut w = (spec.make)();
        let plain = count(&mut *w, Variant::NoPool, ops);
        let pooled = count(&mut *w, Variant::Pool, ops);
        eprintln!(
            "{:<12} no-pool {plain:>6} allocs, pool {pooled:>6} allocs ({ops} ops)",
            spec.name
        );
        assert!(
            plain >= ops,
            "{}: the unpooled variant allocates at least once per op",
            spec.name
        );
        assert!(
            pooled * 10 <= plain,
            "{}: pooled {pooled} vs unpooled {plain}",
            spec.name
        );
    }
}

const PROBE: Probe = Probe {
    read: || {
        let s = PoolAlloc::registry().thread_snapshot();
        Counts {
            allocs: allocs(&s),
            frees: s.frees,
            bytes: s.bytes_requested,
            live: 0,
            peak: 0,
        }
    },
    reset_peak: || {},
    peak_note: "not measured here",
};

#[test]
fn api_server_handler_share_drops_90_percent_and_the_run_is_bounded() {
    let mut results = Vec::new();
    for v in Variant::BOTH {
        let mut cfg = api_server::LoadConfig::new(120);
        cfg.connections = 4;
        let (row, server) = api_server::run(v, cfg, PROBE, "pool-alloc");
        eprintln!("{server:?}");
        let addr: std::net::SocketAddr = server.addr.parse().expect("addr");
        assert!(addr.ip().is_loopback(), "talks to 127.0.0.1 only");
        assert_eq!(server.errors, 0);
        assert!(!server.hit_time_limit);
        assert_eq!(
            server.requests, 120,
            "exactly the requests asked for are measured"
        );
        assert_eq!(row.ops, 120);
        assert!(
            server.clean_shutdown,
            "server stopped, connections ended, port closed"
        );
        assert!(
            server.p50_us > 0.0
                && server.p50_us <= server.p99_us
                && server.p99_us <= server.p999_us
        );
        results.push((row, server));
    }
    let (plain, pooled) = (&results[0].1, &results[1].1);
    assert!(plain.handler_allocs_per_req >= 5.0, "{plain:?}");
    assert!(
        pooled.handler_allocs_per_req * 10.0 <= plain.handler_allocs_per_req,
        "handler: pooled {} vs unpooled {} allocs/request",
        pooled.handler_allocs_per_req,
        plain.handler_allocs_per_req
    );
    assert!(
        plain.server_allocs_per_req > 0.0,
        "the server's own share is measured"
    );
    assert_eq!(
        results[0].0.checksum, results[1].0.checksum,
        "same responses with and without the pool"
    );
}
