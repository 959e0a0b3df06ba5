//! The api-server's load run is bounded in time as well as in requests, and the server shuts
//! down cleanly either way.

use alloc_core::PoolAlloc;
use demo::workloads::{api_server, Variant};
use demo::{Counts, Probe};

#[global_allocator]
static GLOBAL: PoolAlloc = PoolAlloc::new();

const PROBE: Probe = Probe {
    read: || {
        let s = PoolAlloc::registry().thread_snapshot();
        Counts {
            allocs: s.mallocs,
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
fn the_time_limit_stops_an_endless_run_and_the_server_still_shuts_down() {
    let mut cfg = api_server::LoadConfig::new(1_000_000_000);
    cfg.time_limit = std::time::Duration::from_millis(700);
    cfg.connections = 2;
    let t0 = std::time::Instant::now();
    let (row, server) = api_server::run(Variant::Pool, cfg, PROBE, "pool-alloc");
    assert!(server.hit_time_limit, "{server:?}");
    assert!(
        server.requests > 0 && server.requests < 1_000_000_000,
        "{server:?}"
    );
    assert_eq!(row.ops, server.requests);
    assert_eq!(server.errors, 0);
    assert!(server.clean_shutdown, "{server:?}");
    // Generous bound (debug build, busy machine): the limit plus shutdown's 2 s grace, with
    // room to spare; a run that ignored the limit would take hours.
    assert!(t0.elapsed() < std::time::Duration::from_secs(60));
}
