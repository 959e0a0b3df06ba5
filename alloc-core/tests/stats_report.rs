//! alloc-stats reports under `PoolAlloc`: JSON round trips, the aligned table, nested regions,
//! the `ALLOC_STATS=1` exit report, and (without the `stats` feature) counters compiled out.

use std::hint::black_box;
use std::process::Command;

use alloc_core::PoolAlloc;
use alloc_stats::{Region, Snapshot};

#[global_allocator]
static GLOBAL: PoolAlloc = PoolAlloc::new();

#[test]
fn json_round_trips_to_the_same_numbers() {
    let v: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let s = GLOBAL.stats();
    let back = Snapshot::from_json(&s.to_json()).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.mallocs, s.mallocs);
    assert_eq!(back.classes, s.classes);
    let d = Region::new().change();
    assert_eq!(Snapshot::from_json(&d.to_json()).unwrap(), d);
    drop(v);
}

#[cfg(feature = "stats")]
#[test]
fn nested_thread_regions() {
    let outer = Region::thread();
    let a = black_box(vec![0u64; 100]); // 800 B
    let inner = Region::thread();
    let b = black_box(vec![0u8; 3000]);
    let di = inner.change();
    drop(b);
    let d_inner_end = inner.change();
    let d_outer = outer.change();
    drop(a);
    assert_eq!((di.mallocs, di.frees, di.bytes_requested), (1, 0, 3000));
    assert_eq!(
        (
            d_inner_end.mallocs,
            d_inner_end.frees,
            d_inner_end.live_bytes
        ),
        (1, 1, 0)
    );
    assert_eq!(
        (d_outer.mallocs, d_outer.frees, d_outer.bytes_requested),
        (2, 1, 3800)
    );
    // `a` is still live: exactly one block, in the smallest class that holds 800 B.
    let (_, row) = d_outer
        .used_classes()
        .find(|(_, c)| c.live_blocks == 1)
        .unwrap();
    assert!(row.size >= 800);
    assert_eq!(d_outer.live_bytes, row.size);
    let table = GLOBAL.stats().to_string();
    assert!(table.starts_with("alloc-stats: "), "{table}");
    assert!(table
        .lines()
        .any(|l| l.trim_start().starts_with("class") && l.contains("misses")));
}

#[cfg(feature = "stats")]
#[test]
fn whole_heap_region_sees_other_threads() {
    let r = Region::new();
    std::thread::spawn(|| black_box((0..200).map(|i| vec![0u8; i + 1]).collect::<Vec<_>>()).len())
        .join()
        .unwrap();
    let d = r.change();
    assert!(d.mallocs >= 201, "{}", d.mallocs);
    assert!(d.threads_exited >= 1);
}

#[cfg(not(feature = "stats"))]
#[test]
fn compiled_out_counts_nothing() {
    assert!(!alloc_stats::counting_enabled());
    let v: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let s = GLOBAL.stats();
    assert_eq!(
        (s.mallocs, s.frees, s.bytes_allocated, s.live_bytes),
        (0, 0, 0, 0)
    );
    assert_eq!(black_box(v).len(), 1000);
}

/// Run by `exit_report_only_with_alloc_stats_1` in a child process.
#[test]
fn child_noop() {
    let v: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(v.concat(), "0123456789");
}

fn run_child(env: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_noop", "--test-threads=1"]);
    cmd.env_remove("ALLOC_STATS");
    if let Some(v) = env {
        cmd.env("ALLOC_STATS", v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn exit_report_only_with_alloc_stats_1() {
    let on = run_child(Some("1"));
    assert!(on.contains("alloc-stats:"), "stderr: {on}");
    let line = on
        .lines()
        .find(|l| l.contains("mallocs"))
        .expect("a mallocs line");
    let n: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(n > 0, alloc_stats::counting_enabled(), "{line}");
    assert!(!run_child(None).contains("alloc-stats:"));
    assert!(!run_child(Some("no")).contains("alloc-stats:"));
    assert!(run_child(Some("true")).contains("alloc-stats:"));
}
