//! Writes `docs/benchmarks.md` and `docs/img/bench-*.svg` from one run of
//! `scripts/bench-all.sh`:
//!
//! ```text
//! bench_report RESULTS_DIR DOCS_DIR
//! ```
//!
//! RESULTS_DIR holds `machine.txt`, `criterion/` (criterion's output), `wp.jsonl` (the
//! whole-program bins' lines), `icount.tsv` and `profile-PoolAlloc-*.txt` (callgrind). Every
//! number in the page comes from those files; nothing is typed in by hand. The SVG charts are
//! written directly (a few `<rect>`s and `<text>`s) rather than with a plotting crate, which
//! would be a large dependency for horizontal bars.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

const ALLOCS: [&str; 5] = benches::ALLOCATOR_NAMES;
const POOL: &str = "PoolAlloc";
/// Bar colours, one per allocator in `ALLOCS` order.
const COLORS: [&str; 5] = ["#8c8c8c", "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e"];

/// One workload row: display name, unit, and one value per allocator (`None`: not measured).
struct Row {
    name: String,
    unit: &'static str,
    values: [Option<f64>; 5],
}

impl Row {
    fn get(&self, alloc: &str) -> Option<f64> {
        self.values[ALLOCS
            .iter()
            .position(|a| *a == alloc)
            .expect("known allocator")]
    }
    /// Smallest value among the allocators other than PoolAlloc ("the best peer").
    fn best_peer(&self) -> Option<(f64, &'static str)> {
        ALLOCS
            .iter()
            .zip(self.values)
            .filter(|(a, _)| **a != POOL)
            .filter_map(|(a, v)| v.map(|v| (v, *a)))
            .min_by(|x, y| x.0.total_cmp(&y.0))
    }
    fn ratio(&self, alloc: &str, to: &str) -> Option<f64> {
        Some(self.get(alloc)? / self.get(to)?)
    }
    fn ratio_to_best_peer(&self, alloc: &str) -> Option<f64> {
        Some(self.get(alloc)? / self.best_peer()?.0)
    }
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn geomean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

/// `12.3`, `456`, `12 345`: three significant digits at most below 1000.
fn num(x: f64) -> String {
    if x >= 1000.0 {
        let s = format!("{:.0}", x);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push('\u{202f}');
            }
            out.push(c);
        }
        out
    } else if x >= 100.0 {
        format!("{:.0}", x)
    } else if x >= 10.0 {
        format!("{:.1}", x)
    } else {
        format!("{:.2}", x)
    }
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map(f).unwrap_or_else(|| "n/a".into())
}

fn ratio(x: f64) -> String {
    format!("{x:.2}×")
}

/// The criterion groups of `benches/allocators.rs`: (group, display name, unit).
const DIRECT: [(&str, &str, &str); 13] = [
    ("pair_16B", "malloc+free 16 B", "ns/pair"),
    ("pair_64B", "malloc+free 64 B", "ns/pair"),
    ("pair_256B", "malloc+free 256 B", "ns/pair"),
    ("pair_1KiB", "malloc+free 1 KiB", "ns/pair"),
    ("pair_4KiB", "malloc+free 4 KiB", "ns/pair"),
    ("pair_32KiB", "malloc+free 32 KiB", "ns/pair"),
    ("pair_256KiB", "malloc+free 256 KiB", "ns/pair"),
    ("pair_1MiB", "malloc+free 1 MiB", "ns/pair"),
    ("churn_8B-1KiB", "churn 8 B..1 KiB, live 4096", "ns/op"),
    (
        "churn_8B-64KiB",
        "churn 8 B..64 KiB log-uniform, live 4096",
        "ns/op",
    ),
    ("realloc_1MiB", "realloc growth 16 B → 1 MiB", "ns/growth"),
    ("cross_thread", "cross-thread producer/consumer", "ns/block"),
    ("larson", "larson-style, 2 threads", "ns/op"),
];

/// The whole-program workloads: (name in wp.jsonl, display name, unit).
const WHOLE: [(&str, &str, &str); 4] = [
    ("strings", "200k format! strings, sort, drop", "ns/string"),
    ("btree", "BTreeMap<u64, String> insert/remove", "ns/op"),
    (
        "hashmap",
        "HashMap<String, Vec<u32>> word count",
        "ns/insert",
    ),
    ("threads", "thread start/exit, 300 allocs each", "ns/thread"),
];

/// The icount workloads: (name in icount.tsv, display name).
const ICOUNT: [(&str, &str); 11] = [
    ("pair16", "malloc+free 16 B"),
    ("pair64", "malloc+free 64 B"),
    ("pair256", "malloc+free 256 B"),
    ("pair1024", "malloc+free 1 KiB"),
    ("pair4096", "malloc+free 4 KiB"),
    ("pair32768", "malloc+free 32 KiB"),
    ("pair262144", "malloc+free 256 KiB"),
    ("pair1048576", "malloc+free 1 MiB"),
    ("churn1k", "churn 8 B..1 KiB"),
    ("churn64k", "churn 8 B..64 KiB"),
    ("realloc1m", "realloc growth 16 B → 1 MiB"),
];

/// Instructions per op spent in one function itself, and the function (file).
type FnCost = (f64, String);

struct Data {
    machine: String,
    /// Repetitions of the timed phases (criterion and whole-program).
    runs: usize,
    direct: Vec<Row>,
    direct_samples: usize,
    whole: Vec<Row>,
    whole_runs: usize,
    rss: Vec<Row>,
    /// Instructions per op including the loop, per icount workload.
    icount: Vec<Row>,
    /// The Null baseline per icount workload.
    icount_loop: BTreeMap<String, f64>,
    icount_n: u64,
    /// Per workload: PoolAlloc's top functions by self cost.
    profiles: Vec<(String, Vec<FnCost>)>,
}

/// The directories that hold one run's `criterion/` and `wp.jsonl` each: `dir/run*/` when
/// the script repeated the timed phases, else `dir` itself.
fn run_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("run"))
                })
                .collect()
        })
        .unwrap_or_default();
    runs.sort();
    if runs.is_empty() {
        runs.push(dir.to_path_buf());
    }
    runs
}

fn load(dir: &Path) -> Data {
    let machine = fs::read_to_string(dir.join("machine.txt")).unwrap_or_default();
    let runs = run_dirs(dir);
    let mut direct_samples = 0;
    let direct = DIRECT
        .iter()
        .map(|(group, name, unit)| Row {
            name: name.to_string(),
            unit,
            values: ALLOCS.map(|a| {
                // The median over runs of criterion's per-run median.
                let mut per_run: Vec<f64> = runs
                    .iter()
                    .filter_map(|run| {
                        let base = run.join("criterion").join(group).join(a).join("new");
                        if let Some(s) = read_json(&base.join("sample.json")) {
                            direct_samples = s["times"].as_array().map_or(0, |t| t.len());
                        }
                        read_json(&base.join("estimates.json"))?["median"]["point_estimate"]
                            .as_f64()
                    })
                    .collect();
                median(&mut per_run)
            }),
        })
        .collect();

    let mut times: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut rss: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut processes: BTreeMap<(String, String), usize> = BTreeMap::new();
    let wp: String = runs
        .iter()
        .filter_map(|run| fs::read_to_string(run.join("wp.jsonl")).ok())
        .collect();
    for line in wp.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let key = (
            v["workload"].as_str().unwrap_or("").to_string(),
            v["alloc"].as_str().unwrap_or("").to_string(),
        );
        if let Some(ts) = v["ns_per_op"].as_array() {
            times
                .entry(key.clone())
                .or_default()
                .extend(ts.iter().filter_map(|t| t.as_f64()));
        }
        if let Some(r) = v["maxrss_kib"].as_f64() {
            rss.entry(key.clone()).or_default().push(r / 1024.0);
        }
        *processes.entry(key).or_default() += 1;
    }
    let whole_runs = processes.values().copied().min().unwrap_or(0);
    let from = |m: &mut BTreeMap<(String, String), Vec<f64>>, w: &str, a: &str| {
        median(m.get_mut(&(w.to_string(), a.to_string()))?)
    };
    let whole = WHOLE
        .iter()
        .map(|(w, name, unit)| Row {
            name: name.to_string(),
            unit,
            values: ALLOCS.map(|a| from(&mut times, w, a)),
        })
        .collect();
    let rss = WHOLE
        .iter()
        .map(|(w, name, _)| Row {
            name: name.to_string(),
            unit: "MiB",
            values: ALLOCS.map(|a| from(&mut rss, w, a)),
        })
        .collect();

    let mut ir: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut icount_n = 0;
    for line in fs::read_to_string(dir.join("icount.tsv"))
        .unwrap_or_default()
        .lines()
    {
        let f: Vec<&str> = line.split('\t').collect();
        if let [a, w, n, count] = f[..] {
            if let (Ok(n), Ok(count)) = (n.parse::<u64>(), count.parse::<f64>()) {
                // A run that failed to collect anything (e.g. an allocator that cannot start
                // under valgrind) records 0 and is left out.
                if n > 0 && count > 0.0 {
                    if w == "pair64" {
                        icount_n = n;
                    }
                    ir.insert((w.to_string(), a.to_string()), count / n as f64);
                }
            }
        }
    }
    let icount = ICOUNT
        .iter()
        .map(|(w, name)| Row {
            name: name.to_string(),
            unit: "instr/op",
            values: ALLOCS.map(|a| ir.get(&(w.to_string(), a.to_string())).copied()),
        })
        .collect();
    let icount_loop = ICOUNT
        .iter()
        .filter_map(|(w, _)| Some((w.to_string(), *ir.get(&(w.to_string(), "Null".into()))?)))
        .collect();

    let profiles = ["pair64", "churn1k", "churn64k"]
        .iter()
        .filter_map(|w| {
            let text = fs::read_to_string(dir.join(format!("profile-PoolAlloc-{w}.txt"))).ok()?;
            Some((w.to_string(), parse_annotate(&text, icount_n)))
        })
        .collect();

    Data {
        machine,
        runs: runs.len(),
        direct,
        direct_samples,
        whole,
        whole_runs,
        rss,
        icount,
        icount_loop,
        icount_n,
        profiles,
    }
}

/// Per-function self cost from `callgrind_annotate` output: (instructions per op, function).
fn parse_annotate(text: &str, n: u64) -> Vec<FnCost> {
    let mut out = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.contains("file:function") {
            in_table = true;
            continue;
        }
        if !in_table || line.trim().is_empty() || line.starts_with("--") {
            continue;
        }
        let line = line.trim();
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<f64>() else {
            continue;
        };
        // `(41.82%)  path/file.rs:function [object]`
        let rest = rest.trim_start();
        let rest = rest.split_once(')').map_or(rest, |(_, r)| r).trim();
        let rest = rest.split(" [").next().unwrap_or(rest);
        let (file, func) = rest.split_once(':').unwrap_or(("", rest));
        out.push((
            count / n.max(1) as f64,
            format!("{} — {func}", short_path(file)),
        ));
    }
    out.truncate(10);
    out
}

/// `crate/src/…/file.rs` (from the last `src` component's parent on), else the last two
/// components: `/rustc/<hash>/library/core/src/sync/atomic.rs` → `core/src/sync/atomic.rs`.
fn short_path(file: &str) -> String {
    let parts: Vec<&str> = file
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let from = match parts.iter().rposition(|p| *p == "src") {
        Some(i) if i > 0 => i - 1,
        _ => parts.len().saturating_sub(2),
    };
    parts[from..].join("/")
}

fn medians_table(md: &mut String, rows: &[Row]) {
    md.push_str("| workload | unit |");
    for a in ALLOCS {
        let _ = write!(md, " {a} |");
    }
    md.push_str(" best peer | PoolAlloc / best peer |\n|---|---|");
    md.push_str(&"---:|".repeat(ALLOCS.len() + 2));
    md.push('\n');
    for r in rows {
        let _ = write!(md, "| {} | {} |", r.name, r.unit);
        for a in ALLOCS {
            let _ = write!(md, " {} |", opt(r.get(a), num));
        }
        let _ = writeln!(
            md,
            " {} | {} |",
            r.best_peer().map_or("n/a".into(), |(_, a)| a.to_string()),
            opt(r.ratio_to_best_peer(POOL), ratio)
        );
    }
}

fn ratios_table(md: &mut String, rows: &[Row]) {
    md.push_str("| workload |");
    for a in ALLOCS {
        let _ = write!(md, " {a} |");
    }
    md.push_str("\n|---|");
    md.push_str(&"---:|".repeat(ALLOCS.len()));
    md.push('\n');
    for r in rows {
        let _ = write!(md, "| {} |", r.name);
        for a in ALLOCS {
            let _ = write!(
                md,
                " {} / {} |",
                opt(r.ratio(a, "System"), ratio),
                opt(r.ratio(a, "mimalloc"), ratio)
            );
        }
        md.push('\n');
    }
}

/// A horizontal grouped bar chart: one group per row, one bar per allocator. Bars longer
/// than `cap` are cut at `cap` (with a white notch); their labels keep the full value.
fn bar_chart(
    title: &str,
    axis: &str,
    rows: &[Row],
    cap: Option<f64>,
    value: impl Fn(&Row, &str) -> Option<f64>,
) -> String {
    const W: f64 = 900.0;
    const LABEL: f64 = 300.0;
    const BAR: f64 = 13.0;
    const GAP: f64 = 14.0;
    let top = 56.0;
    let group_h = BAR * ALLOCS.len() as f64 + GAP;
    let h = top + group_h * rows.len() as f64 + 30.0;
    let max = rows
        .iter()
        .flat_map(|r| ALLOCS.map(|a| value(r, a)))
        .flatten()
        .fold(0.0f64, f64::max)
        .min(cap.unwrap_or(f64::INFINITY))
        .max(1e-9);
    let scale = (W - LABEL - 80.0) / max;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="15" font-weight="bold">{title}</text>"#
    );
    let _ = writeln!(s, r#"<text x="10" y="38" fill="dimgray">{axis}</text>"#);
    for (i, a) in ALLOCS.iter().enumerate() {
        let x = LABEL + i as f64 * 110.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="28" width="12" height="12" fill="{}"/><text x="{}" y="38">{a}</text>"#,
            COLORS[i],
            x + 16.0
        );
    }
    for (g, r) in rows.iter().enumerate() {
        let y0 = top + g as f64 * group_h;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LABEL - 8.0,
            y0 + group_h / 2.0 - 2.0,
            r.name
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        );
        for (i, a) in ALLOCS.iter().enumerate() {
            let y = y0 + i as f64 * BAR;
            match value(r, a) {
                Some(v) => {
                    let w = (v.min(max) * scale).max(1.0);
                    let _ = writeln!(
                        s,
                        r#"<rect x="{LABEL}" y="{y}" width="{w:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{}" font-size="10">{}</text>"#,
                        BAR - 2.0,
                        COLORS[i],
                        LABEL + w + 4.0,
                        y + BAR - 3.0,
                        num(v)
                    );
                    if v > max {
                        let _ = writeln!(
                            s,
                            r#"<rect x="{:.1}" y="{y}" width="3" height="{}" fill="white"/>"#,
                            LABEL + w - 8.0,
                            BAR - 2.0
                        );
                    }
                }
                None => {
                    let _ = writeln!(
                        s,
                        r#"<text x="{}" y="{}" font-size="10" fill="darkgray">n/a</text>"#,
                        LABEL + 4.0,
                        y + BAR - 3.0
                    );
                }
            }
        }
    }
    let _ = writeln!(
        s,
        r#"<line x1="{LABEL}" y1="{}" x2="{LABEL}" y2="{}" stroke="black"/>"#,
        top - 4.0,
        h - 26.0
    );
    if max > 1.0 && axis.contains("System = 1") {
        let x = LABEL + scale;
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="dimgray" stroke-dasharray="4 3"/><text x="{x:.1}" y="{}" text-anchor="middle" font-size="10">1.0</text>"#,
            top - 4.0,
            h - 26.0,
            h - 12.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// PoolAlloc's target checks: (target, measured, met?).
fn targets(d: &Data) -> Vec<(String, String, Option<bool>)> {
    let mut t = Vec::new();
    let find = |rows: &[Row], name: &str| rows.iter().position(|r| r.name == name);
    let pair64 = &d.direct[find(&d.direct, "malloc+free 64 B").expect("row")];
    let ic64 = &d.icount[find(&d.icount, "malloc+free 64 B").expect("row")];
    t.push((
        "64 B pair: fewer instructions than every peer".into(),
        match (ic64.get(POOL), ic64.best_peer()) {
            (Some(p), Some((b, a))) => format!("{} vs {} ({a})", num(p), num(b)),
            _ => "n/a".into(),
        },
        ic64.get(POOL)
            .zip(ic64.best_peer())
            .map(|(p, (b, _))| p < b),
    ));
    t.push((
        "64 B pair: ≤ 0.8× the fastest peer's time".into(),
        opt(pair64.ratio_to_best_peer(POOL), ratio),
        pair64.ratio_to_best_peer(POOL).map(|r| r <= 0.8),
    ));
    for (row, name) in [
        (pair64, "64 B pair"),
        (
            &d.direct[find(&d.direct, "churn 8 B..1 KiB, live 4096").expect("row")],
            "churn 8 B..1 KiB",
        ),
    ] {
        let r = row.ratio(POOL, "System");
        t.push((
            format!("{name}: ≥ 2× faster than System (≤ 0.50×)"),
            opt(r, ratio),
            r.map(|r| r <= 0.5),
        ));
    }
    let others: Vec<&Row> = d
        .direct
        .iter()
        .filter(|r| r.name != pair64.name)
        .chain(d.whole.iter())
        .collect();
    let over: Vec<String> = others
        .iter()
        .filter_map(|r| {
            let x = r.ratio_to_best_peer(POOL)?;
            (x > 1.0).then(|| format!("{} {}", r.name, ratio(x)))
        })
        .collect();
    let measured = others
        .iter()
        .filter(|r| r.ratio_to_best_peer(POOL).is_some())
        .count();
    t.push((
        "every other workload ≤ 1.0× the fastest peer".into(),
        if over.is_empty() {
            format!("all {measured} within")
        } else {
            format!("{} of {measured} over: {}", over.len(), over.join("; "))
        },
        (measured > 0).then_some(over.is_empty()),
    ));
    let all: Vec<f64> = d
        .direct
        .iter()
        .chain(d.whole.iter())
        .filter_map(|r| r.ratio_to_best_peer(POOL))
        .collect();
    let g = geomean(&all);
    t.push((
        format!("geomean over {} workloads ≤ 0.9× the best peer", all.len()),
        opt(g, ratio),
        g.map(|g| g <= 0.9),
    ));
    let rss_over: Vec<String> = d
        .rss
        .iter()
        .filter_map(|r| {
            let lowest = ALLOCS
                .iter()
                .filter_map(|a| r.get(a))
                .fold(f64::INFINITY, f64::min);
            let x = r.get(POOL)? / lowest;
            (x > 1.2).then(|| format!("{} {}", r.name, ratio(x)))
        })
        .collect();
    let rss_n = d.rss.iter().filter(|r| r.get(POOL).is_some()).count();
    t.push((
        "peak RSS ≤ 1.2× the lowest".into(),
        if rss_over.is_empty() {
            format!("all {rss_n} within")
        } else {
            format!(
                "{} of {rss_n} over: {}",
                rss_over.len(),
                rss_over.join("; ")
            )
        },
        (rss_n > 0).then_some(rss_over.is_empty()),
    ));
    t
}

fn write_page(d: &Data, docs: &Path) -> std::io::Result<()> {
    let img = docs.join("img");
    fs::create_dir_all(&img)?;
    let vs_system = |r: &Row, a: &str| r.ratio(a, "System");
    fs::write(
        img.join("bench-direct.svg"),
        bar_chart(
            "Direct GlobalAlloc calls (criterion medians)",
            "time relative to System = 1 (shorter is faster; bars cut at 4)",
            &d.direct,
            Some(4.0),
            vs_system,
        ),
    )?;
    fs::write(
        img.join("bench-whole-program.svg"),
        bar_chart(
            "Whole program (#[global_allocator])",
            "time relative to System = 1 (shorter is faster)",
            &d.whole,
            Some(4.0),
            vs_system,
        ),
    )?;
    fs::write(
        img.join("bench-rss.svg"),
        bar_chart(
            "Peak RSS, whole program",
            "MiB (getrusage ru_maxrss)",
            &d.rss,
            None,
            |r, a| r.get(a),
        ),
    )?;
    let small: Vec<Row> = d
        .icount
        .iter()
        .filter(|r| {
            !r.name.contains("256 KiB") && !r.name.contains("1 MiB") && !r.name.contains("32 KiB")
        })
        .map(|r| Row {
            name: r.name.clone(),
            unit: r.unit,
            values: r.values,
        })
        .collect();
    fs::write(
        img.join("bench-icount.svg"),
        bar_chart(
            "Instructions per op (callgrind, loop included)",
            "instructions per op (fewer is better)",
            &small,
            None,
            |r, a| r.get(a),
        ),
    )?;

    let mut md = String::new();
    md.push_str(INTRO);
    md.push_str("\n## Machine\n\n");
    let _ = writeln!(
        md,
        "Two noisy virtual cores shared with other work (four other agents building and testing \
         while this ran), so wall times move by 10-30 % and sometimes 2× between runs; ratios \
         within one table \
         come from the same minutes, but a load spike during one allocator's few seconds moves \
         its row alone. Rows that run the same code (the 16 B, 64 B and 256 B pairs execute the \
         same instruction count for PoolAlloc) can differ by 2× in one run: read the fast \
         paths from the instruction counts, and trust a time ratio only when it is large or \
         repeats across runs. Instruction counts do not move.\n\n```text\n{}```\n",
        d.machine
    );

    md.push_str("## Targets for PoolAlloc\n\n| target | measured | met |\n|---|---|---|\n");
    for (target, measured, ok) in targets(d) {
        let mark = match ok {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "n/a",
        };
        let _ = writeln!(md, "| {target} | {measured} | {mark} |");
    }

    let _ = writeln!(
        md,
        "\n## Direct calls through `GlobalAlloc` (criterion)\n\n`benches/benches/allocators.rs`: \
         all allocators in one binary and one run, one workload at a time with the allocators \
         back to back. Each value is criterion's median over {} samples, then the median of \
         {} runs of the suite.\n\n\
         ![direct](img/bench-direct.svg)\n",
        d.direct_samples, d.runs
    );
    medians_table(&mut md, &d.direct);
    md.push_str("\nRatios: to System / to mimalloc (below 1 is faster).\n\n");
    ratios_table(&mut md, &d.direct);

    let _ = writeln!(
        md,
        "\n## Whole program (`#[global_allocator]`)\n\n`benches/src/bin/wp_*.rs`: one binary per \
         allocator, each workload in its own process, {} processes per cell (rounds rotate the \
         allocator order) with several repetitions each; values are the median of all \
         repetitions.\n\n![whole program](img/bench-whole-program.svg)\n",
        d.whole_runs
    );
    medians_table(&mut md, &d.whole);
    md.push_str("\nRatios: to System / to mimalloc.\n\n");
    ratios_table(&mut md, &d.whole);
    md.push_str(
        "\n### Peak RSS\n\nMedian over the processes of `ru_maxrss` (the process's whole life, \
         the binary and std included), MiB.\n\n![peak RSS](img/bench-rss.svg)\n\n",
    );
    medians_table(&mut md, &d.rss);

    let _ = writeln!(
        md,
        "\n## Instructions per op (callgrind)\n\n`scripts/bench-icount.sh`: `icount <alloc> \
         <workload> {n}` under `valgrind --tool=callgrind`, collecting only inside \
         `icount_measured`, which runs {n} ops ({m} growths for realloc) after as many untimed \
         warm-up ops. Only user-space instructions count: a syscall (mmap, mremap, munmap) or \
         a page fault costs time but shows here only as the few instructions around it. Counts include \
         the loop (as the peer figures do); the `loop` column is the same loop with a \
         do-nothing allocator (`NullAlloc`), so `value - loop` is the allocator's own cost. \
         snmalloc cannot start under valgrind (its 256 GiB pagemap reservation fails), hence \
         n/a. These counts are exact and repeatable.\n\n![icount](img/bench-icount.svg)\n",
        n = d.icount_n,
        m = d.icount_n / 100
    );
    md.push_str("| workload | loop |");
    for a in ALLOCS {
        let _ = write!(md, " {a} |");
    }
    md.push_str(" PoolAlloc − loop |\n|---|---:|");
    md.push_str(&"---:|".repeat(ALLOCS.len() + 1));
    md.push('\n');
    for ((w, _), r) in ICOUNT.iter().zip(&d.icount) {
        let lp = d.icount_loop.get(*w).copied();
        let _ = write!(md, "| {} | {} |", r.name, opt(lp, num));
        for a in ALLOCS {
            let _ = write!(md, " {} |", opt(r.get(a), num));
        }
        let _ = writeln!(
            md,
            " {} |",
            opt(r.get(POOL).zip(lp).map(|(p, l)| p - l), num)
        );
    }

    if !d.profiles.is_empty() {
        md.push_str(
            "\n### Where PoolAlloc's instructions go\n\nSelf cost per source file \
             and function (`callgrind_annotate`), instructions per op, top entries. The fast \
             path is inlined into the benchmark loop (`icount_measured`), so the source file \
             says which part of the allocator the instructions belong to.\n",
        );
        for (w, funcs) in &d.profiles {
            let _ = writeln!(
                md,
                "\n`{w}`:\n\n| instr/op | source file — function |\n|---:|---|"
            );
            for (ir, f) in funcs {
                let _ = writeln!(md, "| {:.1} | `{}` |", ir, f.replace('|', "\\|"));
            }
        }
    }
    md.push_str(OUTRO);
    fs::write(docs.join("benchmarks.md"), md)
}

const INTRO: &str = "# Benchmarks

PoolAlloc against the system allocator (glibc), mimalloc, jemalloc (tikv-jemallocator) and
snmalloc (snmalloc-rs), measured side by side. This page is generated by
`scripts/bench-all.sh` (via `benches/src/bin/bench_report.rs`) from one invocation of the
script (its timed phases repeated RUNS times, see below); do not edit it by hand, rerun the
script instead:

```sh
apt-get install -y cmake g++ valgrind   # snmalloc-rs builds with cmake; callgrind for icount
scripts/bench-all.sh                    # ~9 min on 2 cores + build; RUNS=n, QUICK=1
```

What runs (sources in `benches/`):

- **Direct calls** (`benches/allocators.rs`, criterion): each allocator's `GlobalAlloc`
  methods called directly, all in one binary, so the harness and the workload code are the same
  for all. malloc+free pairs at 16 B..1 MiB (first byte written, size hidden from the optimizer
  by `black_box`); churn (a live set of 4096 blocks: free a random one, allocate a replacement;
  sizes uniform 8 B..1 KiB, or log-uniform 8 B..64 KiB); realloc growth by doubling from 16 B
  to 1 MiB (16 reallocs, one byte written after each); cross-thread (a producer allocates
  8 B..1 KiB blocks, a consumer thread frees them; hand-off through crossbeam's bounded
  `ArrayQueue`, which never allocates); larson-style (2 threads replace random blocks of live
  sets of 1024 and swap sets every 4096 replacements, so most frees are of the other thread's
  blocks; thread spawns included).
- **Whole program** (`src/bin/wp_<alloc>.rs`): the same workloads for every allocator, each
  bin installing a different `#[global_allocator]`, so TLS access, thread caches and start-up
  are measured too: 200k `format!` strings sorted and dropped; `BTreeMap<u64, String>` 100k
  inserts and 100k removes in another order; a `HashMap<String, Vec<u32>>` word count (200k
  inserts, 50k keys); 200 threads started one after another, each making 300 allocations of
  8 B..1 KiB. Time per op and peak RSS.
- **Instruction counts** (`src/bin/icount.rs`, `scripts/bench-icount.sh`): pairs and churn
  under callgrind.
- Memory scenarios (RSS after free, trim and decay), multi-thread scaling at 1-32 threads and a
  serde_json real-program benchmark are on their own page, [memory and
  scaling](memory-and-scaling.md) (`scripts/bench-mt.sh`).
- Real C programs (gcc, perl, bash, sort) with `libpoolalloc.so`, jemalloc, mimalloc and
  tcmalloc preloaded are on the page of the preload library, [preload](preload.md#benchmarks)
  (`scripts/bench-preload.sh`).

\"Best peer\" is the fastest of System, mimalloc, jemalloc and snmalloc for that row.
";

const OUTRO: &str = "
## Dependencies of the suite

- `criterion`: statistics and the harness for the direct benches.
- `tikv-jemalloc-sys`, `libmimalloc-sys` (feature `extended`): the peers' trim calls in the
  memory scenarios (`mallctl(\"arena.<all>.purge\")`, `mi_collect`).
- `mimalloc`, `tikv-jemallocator`, `snmalloc-rs`: the peers (snmalloc-rs needs cmake and a C++
  compiler, so it is the feature `snmalloc` of `benches`, which the script turns on;
  jemalloc's symbols are prefixed, so linking it does not replace `malloc`).
- `crossbeam-queue`: an allocation-free bounded queue for the cross-thread hand-off.
- `serde_json`: reads criterion's `estimates.json` and the bins' JSON lines here.
- `libc`: `getrusage` for peak RSS.
- rpmalloc is not included (optional in the brief; left out to keep the suite to three C/C++
  peers and its build and run time down).
";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} RESULTS_DIR DOCS_DIR", args[0]);
        std::process::exit(2);
    }
    let (dir, docs) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let data = load(&dir);
    if let Err(e) = write_page(&data, &docs) {
        eprintln!("bench_report: writing {}: {e}", docs.display());
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotate_lines_parse_to_per_op_costs() {
        let text = "--\nIr   file:function\n--\n\
            12,800,896 (41.82%)  ./malloc/./malloc/malloc.c:_int_free [/usr/lib/libc.so.6]\n\
             2,000,000 ( 6.53%)  /x/src/global.rs:alloc_core::global::alloc [/bin/icount]\n";
        let got = parse_annotate(text, 100_000);
        assert_eq!(got.len(), 2);
        assert!((got[0].0 - 128.00896).abs() < 1e-9);
        assert_eq!(got[0].1, "malloc/malloc.c — _int_free");
        assert_eq!(got[1].1, "x/src/global.rs — alloc_core::global::alloc");
        assert_eq!(
            short_path("/rustc/ab/library/core/src/sync/atomic.rs"),
            "core/src/sync/atomic.rs"
        );
    }

    #[test]
    fn best_peer_excludes_pool_and_ratios_divide() {
        let r = Row {
            name: "x".into(),
            unit: "ns",
            values: [Some(10.0), Some(2.0), Some(5.0), Some(4.0), None],
        };
        assert_eq!(r.best_peer(), Some((4.0, "jemalloc")));
        assert_eq!(r.ratio_to_best_peer(POOL), Some(0.5));
        assert_eq!(r.ratio("mimalloc", "System"), Some(0.5));
        assert_eq!(median(&mut [3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert!((geomean(&[1.0, 4.0]).unwrap() - 2.0).abs() < 1e-12);
    }
}
