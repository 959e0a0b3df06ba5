//! The text report (aligned table), JSON round trips, and the `ALLOC_STATS=1` exit report.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;

use alloc_stats::{Counting, Snapshot};

#[global_allocator]
static GLOBAL: Counting<System> = Counting::new(System);

/// A snapshot with every kind of field non-zero (when counting is on).
fn busy_snapshot() -> Snapshot {
    static C: Counting<System> = Counting::new(System);
    // SAFETY: valid layouts; every block is freed or reallocated once, with its layout.
    unsafe {
        let l = Layout::from_size_align(40, 8).unwrap();
        let keep: Vec<*mut u8> = (0..5).map(|_| C.alloc(l)).collect();
        let p = C.alloc(l);
        let p = C.realloc(p, l, 1000);
        C.dealloc(p, Layout::from_size_align(1000, 8).unwrap());
        for &k in &keep[1..] {
            C.dealloc(k, l);
        }
    }
    C.stats()
}

#[cfg(feature = "json")]
#[test]
fn json_round_trips_to_the_same_numbers() {
    let s = busy_snapshot();
    let j = s.to_json();
    let back = Snapshot::from_json(&j).unwrap();
    assert_eq!(back, s);
    // Fields under their documented names, numbers intact.
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["mallocs"], s.mallocs);
    assert_eq!(v["frees"], s.frees);
    assert_eq!(v["live_bytes"], s.live_bytes);
    assert_eq!(v["peak_live_bytes"], s.peak_live_bytes);
    // Only rows with a size, activity, or the LARGE row appear.
    let rows = v["classes"].as_array().unwrap();
    assert_eq!(rows.len(), s.class_count + 1);
    assert_eq!(rows.last().unwrap()["class"], alloc_stats::LARGE);
    // A diff round-trips too.
    let d = s.diff(&Snapshot::ZERO);
    assert_eq!(Snapshot::from_json(&d.to_json()).unwrap(), d);
    assert!(
        Snapshot::from_json(r#"{"mallocs": 1}"#).is_err(),
        "missing fields are an error"
    );
}

#[test]
#[cfg(feature = "counting")]
fn display_is_an_aligned_table() {
    let s = busy_snapshot();
    assert_eq!(
        (s.mallocs, s.frees, s.reallocs_moved + s.reallocs_in_place),
        (6, 5, 1)
    );
    let text = s.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("alloc-stats: "), "{text}");
    let find = |name: &str| {
        *lines
            .iter()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name}: {text}"))
    };
    assert!(find("mallocs").contains(" 6 "));
    assert!(find("live bytes").contains(&format!(" {} ", s.live_bytes)));
    // Every totals line has its columns at the same offsets.
    let totals: Vec<&str> = lines[1..9].to_vec();
    let col = |l: &str, w: &str| l.find(w).unwrap();
    let widths: Vec<usize> = totals.iter().map(|l| l.len()).collect();
    assert!(totals.iter().all(|l| l.starts_with("  ")));
    assert_eq!(
        col(totals[0], "bytes requested"),
        col(totals[1], "bytes allocated")
    );
    assert!(
        widths.windows(2).all(|w| w[0].abs_diff(w[1]) <= 2),
        "{widths:?}\n{text}"
    );
    // The heap gauges, one line.
    assert!(
        lines[9].contains("heap now:") && lines[9].contains("resident"),
        "{text}"
    );
    // Class table: a header, then the used rows with numbers right-aligned under it.
    let header = lines[10];
    assert!(
        header.contains("class") && header.contains("misses"),
        "{text}"
    );
    let row64 = find("       64 ");
    assert_eq!(row64.len(), header.len(), "{text}");
    let allocs_end = col(header, "allocs") + "allocs".len();
    assert_eq!(&row64[allocs_end - 1..allocs_end], "6", "{text}"); // 5 kept + 1 realloc'd
    assert!(lines
        .iter()
        .any(|l| l.trim_start().starts_with("1024 ") || l.contains(" 1024 ")));
}

#[test]
#[cfg(feature = "counting")]
fn human_units_in_report() {
    let mut s = Snapshot::ZERO;
    s.live_bytes = 3 << 20;
    s.bytes_allocated = 1536;
    let text = s.to_string();
    assert!(text.contains("3.0 MiB"), "{text}");
    assert!(text.contains("1.5 KiB"), "{text}");
}

/// Run by `exit_report_*` in a child process; does a little work and exits normally.
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
    // Counting installs its exit report when it first counts; compiled out, it never does.
    if alloc_stats::counting_enabled() {
        assert!(on.contains("alloc-stats:"), "stderr: {on}");
        let line = on.lines().find(|l| l.contains("mallocs")).unwrap();
        let n: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(n > 0, "{line}");
    }
    assert!(!run_child(None).contains("alloc-stats:"));
    assert!(!run_child(Some("0")).contains("alloc-stats:"));
}

#[test]
fn exit_report_with_true_yes_on_and_a_word_for_a_typo() {
    if alloc_stats::counting_enabled() {
        for v in ["true", "YES", "on"] {
            let out = run_child(Some(v));
            assert!(out.contains("threads live"), "ALLOC_STATS={v}: {out}");
        }
    }
    for v in ["false", "off"] {
        assert!(
            !run_child(Some(v)).contains("alloc-stats"),
            "ALLOC_STATS={v}"
        );
    }
    let typo = run_child(Some("ture"));
    // The hook that reads the variable exists only when counting is compiled in.
    if alloc_stats::counting_enabled() {
        assert!(typo.contains("ALLOC_STATS=ture not understood"), "{typo}");
    }
    assert!(!typo.contains("threads live"), "{typo}");
}
