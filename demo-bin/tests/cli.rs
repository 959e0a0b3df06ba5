//! The `demo` binary end to end: a small run exits 0 and its `--json` parses; bad input gets
//! a clear error and exit code 2, never a panic.

use std::process::{Command, Output};

use alloc_core::PoolAlloc;

#[global_allocator]
static GLOBAL: PoolAlloc = PoolAlloc::new();

fn demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(args)
        .env_remove("DEMO_ALLOCATOR")
        .env_remove("ALLOC_STATS")
        .output()
        .expect("run demo")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn small_run_exits_0_and_json_parses() {
    let dir = std::env::temp_dir().join(format!("demo-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let svg = dir.join("r.svg");
    let out = demo(&[
        "--ops",
        "12",
        "--json",
        "--quiet",
        "--report",
        svg.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status,
        text(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json parses");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 8 * 2 * 2, "workload x variant x allocator");
    for alloc in ["system", "pool-alloc"] {
        for name in demo::workloads::names() {
            let pick = |variant: &str| {
                rows.iter()
                    .find(|r| {
                        r["workload"] == name && r["allocator"] == alloc && r["variant"] == variant
                    })
                    .unwrap_or_else(|| panic!("row {name} {alloc} {variant}"))
            };
            let (plain, pooled) = (pick("no-pool"), pick("pool"));
            assert_eq!(
                plain["checksum"], pooled["checksum"],
                "{name} {alloc}: same output"
            );
            assert!(
                plain["allocs_per_op"].as_f64().expect("num")
                    > pooled["allocs_per_op"].as_f64().expect("num")
            );
            assert!(plain["ns_per_op"].as_f64().expect("num") > 0.0);
        }
    }
    let server = v["server"].as_array().expect("server");
    assert_eq!(server.len(), 4);
    assert!(server
        .iter()
        .all(|s| s["clean_shutdown"] == true && s["errors"] == 0));
    let picture = std::fs::read_to_string(&svg).expect("report written");
    assert!(
        picture.starts_with("<svg")
            && picture.contains("json-api")
            && picture.contains("api-server")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn table_output_for_one_workload() {
    let out = demo(&["--workload", "slices", "--ops", "50", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(
        t.contains("pooling gave") && t.contains("allocs/op -100.0 %"),
        "{t}"
    );
    assert_eq!(
        t.lines().filter(|l| l.starts_with("slices")).count(),
        4,
        "{t}"
    );
}

#[test]
fn bad_input_exits_2_with_a_clear_error() {
    for (args, says) in [
        (&["--workload", "nope"][..], "invalid value 'nope'"),
        (&["--ops", "abc"][..], "invalid value 'abc'"),
        (&["--ops", "0"][..], "--ops"),
        (&["--threads=0"][..], "--threads"),
        (&["--frobnicate"][..], "unexpected argument"),
        (
            &["--child-allocator", "system"][..],
            "DEMO_ALLOCATOR=system",
        ),
        (&["--report", "x.pdf"][..], "must end in .html or .svg"),
        (
            &["--report", "/nonexistent-dir/r.html"][..],
            "no directory /nonexistent-dir",
        ),
        (
            &["--report", "/proc/r.svg"][..],
            "cannot write the report /proc/r.svg",
        ),
    ] {
        let out = demo(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn alloc_stats_reports_are_labelled_with_their_allocator() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--workload", "slices", "--ops", "5", "--quiet"])
        .env_remove("DEMO_ALLOCATOR")
        .env("ALLOC_STATS", "true")
        .output()
        .expect("run demo");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let labels: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("demo: ALLOC_STATS report of the"))
        .collect();
    assert_eq!(labels.len(), 2, "{err}");
    assert!(
        labels[0].contains("system child") && labels[1].contains("pool-alloc child: PoolAlloc")
    );
    // Each label is followed by its report.
    assert_eq!(err.matches("alloc-stats: ").count(), 2, "{err}");
}
