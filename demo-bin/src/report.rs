//! The text table, the merged machine output, and the picture (`--report FILE.html|.svg`).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::measure::Row;
use crate::workloads::api_server::ServerRow;

/// What one child process (one allocator) measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChildReport {
    /// "system", "pool-alloc" or "dhat".
    pub allocator: String,
    /// One row per workload x variant.
    pub rows: Vec<Row>,
    /// The api-server load runs, if that workload ran.
    pub server: Vec<ServerRow>,
    /// How this allocator's peak live bytes were measured.
    pub peak_note: String,
}

/// Everything one `demo` invocation measured, as `--json` prints it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Merged {
    /// Rows of all allocators, in table order.
    pub rows: Vec<Row>,
    /// api-server load runs of all allocators.
    pub server: Vec<ServerRow>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
    /// How peak live bytes were measured, per allocator.
    pub notes: Vec<String>,
}

fn allocator_rank(a: &str) -> usize {
    match a {
        "system" => 0,
        "pool-alloc" => 1,
        _ => 2,
    }
}

/// Merges child reports into table order (workload, allocator, variant).
pub fn merge(children: Vec<ChildReport>, order: &[&str], seconds: f64) -> Merged {
    let mut m = Merged {
        seconds,
        ..Merged::default()
    };
    for c in children {
        m.notes
            .push(format!("peak live under {}: {}", c.allocator, c.peak_note));
        m.rows.extend(c.rows);
        m.server.extend(c.server);
    }
    let pos = |w: &str| order.iter().position(|o| *o == w).unwrap_or(usize::MAX);
    let var = |v: &str| usize::from(v != "no-pool");
    m.rows.sort_by_key(|r| {
        (
            pos(&r.workload),
            allocator_rank(&r.allocator),
            var(&r.variant),
        )
    });
    m.server
        .sort_by_key(|r| (allocator_rank(&r.allocator), var(&r.variant)));
    m
}

/// `a` relative to `b` as a signed percentage ("-99.6 %"), or "" when `b` is 0.
pub fn change(a: f64, b: f64) -> String {
    if b <= 0.0 {
        return if a <= 0.0 {
            "±0 %".into()
        } else {
            "new".into()
        };
    }
    format!("{:+.1} %", (a - b) / b * 100.0)
}

/// Bytes as B / KiB / MiB.
pub fn bytes(n: f64) -> String {
    if n < 1024.0 {
        format!("{n:.0} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{:.1} MiB", n / (1024.0 * 1024.0))
    }
}

fn find<'a>(rows: &'a [Row], w: &str, a: &str, v: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.workload == w && r.allocator == a && r.variant == v)
}

/// "0.82x": `r`'s ns/op against the System row of the same workload and variant ("" for
/// System rows).
fn vs_system(m: &Merged, r: &Row) -> String {
    match (
        r.allocator.as_str(),
        find(&m.rows, &r.workload, "system", &r.variant),
    ) {
        ("system", _) | (_, None) => String::new(),
        (_, Some(sys)) => format!("{:.2}x", r.ns_per_op / sys.ns_per_op),
    }
}

/// What pooling changed: a pool row against the no-pool row of the same allocator.
fn gave(m: &Merged, r: &Row) -> String {
    match (
        r.variant.as_str(),
        find(&m.rows, &r.workload, &r.allocator, "no-pool"),
    ) {
        ("pool", Some(base)) => format!(
            "allocs/op {}  bytes/op {}  ns/op {}  minflt {}→{}",
            change(r.allocs_per_op, base.allocs_per_op),
            change(r.bytes_per_op, base.bytes_per_op),
            change(r.ns_per_op, base.ns_per_op),
            base.minor_faults,
            r.minor_faults,
        ),
        _ => String::new(),
    }
}

/// The table a person reads: one row per workload x variant x allocator; on each pool row,
/// what pooling changed against the no-pool row of the same allocator; on each pool-alloc
/// row, its time against the System row of the same variant.
pub fn table(m: &Merged) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<13} {:<8} {:<10} {:>10} {:>10} {:>10} {:>10} {:>7}  {:>8}  pooling gave",
        "workload",
        "variant",
        "allocator",
        "ns/op",
        "allocs/op",
        "bytes/op",
        "peak live",
        "minflt",
        "vs System"
    );
    let mut last = "";
    for r in &m.rows {
        if r.workload != last && !last.is_empty() {
            s.push('\n');
        }
        last = &r.workload;
        let (vs_sys, gave) = (vs_system(m, r), gave(m, r));
        let _ = writeln!(
            s,
            "{:<13} {:<8} {:<10} {:>10.1} {:>10.2} {:>10} {:>10} {:>7}  {:>8}  {}",
            r.workload,
            r.variant,
            r.allocator,
            r.ns_per_op,
            r.allocs_per_op,
            bytes(r.bytes_per_op),
            bytes(r.peak_live_bytes as f64),
            r.minor_faults,
            vs_sys,
            gave
        );
    }
    if !m.server.is_empty() {
        let _ = writeln!(
            s,
            "\napi-server load run (127.0.0.1, HTTP/1.1 keep-alive):\n{:<8} {:<10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>12} {:>12} {:>7}",
            "variant", "allocator", "requests", "req/s", "p50 µs", "p99 µs", "p99.9 µs", "handler a/r", "server a/r", "errors"
        );
        for r in &m.server {
            let _ = writeln!(
                s,
                "{:<8} {:<10} {:>8} {:>9.0} {:>9.1} {:>9.1} {:>9.1} {:>12.2} {:>12.2} {:>7}",
                r.variant,
                r.allocator,
                r.requests,
                r.requests_per_s,
                r.p50_us,
                r.p99_us,
                r.p999_us,
                r.handler_allocs_per_req,
                r.server_allocs_per_req,
                r.errors
            );
        }
    }
    let _ = write!(
        s,
        "\nns/op: CPU time (user + system) of the thread per operation, best of 5 rounds; --json also has wall time (api-server: wall time per request). allocs/op, bytes/op: heap allocations (a realloc \
         counts as one) and bytes requested, counted per thread. peak live: highest live heap bytes \
         above the level at the start of the measured window. minflt: minor page faults of the whole \
         process during the window (getrusage). Steady state: each variant warms up first. \
         a/r = allocations per request on the server thread: inside the handler, and the rest \
         (hyper, tokio, body).\n{}\n{}\nTotal run time: {:.1} s.\n",
        m.notes.join("; "),
        pool_alloc_config(),
        m.seconds
    );
    s
}

/// One line on how `PoolAlloc` is configured (docs/architecture.md explains each figure).
pub fn pool_alloc_config() -> String {
    use alloc_core::config as c;
    format!(
        "pool-alloc: {} size classes up to {} KiB in {} KiB spans of {} MiB arenas; \
         large blocks above that, {} MiB cache; free memory goes back to the OS after {} ms",
        c::NUM_CLASSES,
        c::MAX_SMALL / 1024,
        c::SPAN_SIZE / 1024,
        c::ARENA_SIZE >> 20,
        c::LARGE_CACHE_MAX_BYTES >> 20,
        c::decay_ms()
    )
}

/// Bar colours: no pool (warm grey-red) and pool (green).
const NO_POOL: &str = "#c8553d";
const POOL: &str = "#2e8b57";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Small multiples: for each metric, one panel per workload with four bars (System no pool,
/// System pool, PoolAlloc no pool, PoolAlloc pool), each panel on its own scale.
pub fn svg(m: &Merged) -> String {
    let mut workloads: Vec<&str> = Vec::new();
    for r in &m.rows {
        if !workloads.contains(&r.workload.as_str()) {
            workloads.push(&r.workload);
        }
    }
    type Metric = (&'static str, fn(&Row) -> f64);
    let metrics: [Metric; 2] = [
        ("allocations per operation", |r| r.allocs_per_op),
        ("nanoseconds per operation", |r| r.ns_per_op),
    ];
    let (cols, pw, ph, gap) = (4usize, 280.0, 210.0, 16.0);
    let rows_per_metric = workloads.len().div_ceil(cols).max(1);
    let width = cols as f64 * (pw + gap) + gap;
    let section = 40.0 + rows_per_metric as f64 * (ph + gap);
    let height = 50.0 + section * metrics.len() as f64 + 30.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" style="max-width:100%;height:auto" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{gap}" y="28" font-size="18" font-weight="bold">Pool vs no pool, under System and PoolAlloc</text>
<rect x="{}" y="14" width="14" height="14" fill="{NO_POOL}"/><text x="{}" y="26">no pool</text>
<rect x="{}" y="14" width="14" height="14" fill="{POOL}"/><text x="{}" y="26">pool</text>"#,
        width - 220.0,
        width - 202.0,
        width - 130.0,
        width - 112.0
    );
    for (mi, (title, get)) in metrics.iter().enumerate() {
        let top = 50.0 + section * mi as f64;
        let _ = writeln!(
            s,
            r#"<text x="{gap}" y="{}" font-size="15" font-weight="bold">{} (lower is better; each panel has its own scale)</text>"#,
            top + 22.0,
            esc(title)
        );
        for (wi, w) in workloads.iter().enumerate() {
            let x0 = gap + (wi % cols) as f64 * (pw + gap);
            let y0 = top + 36.0 + (wi / cols) as f64 * (ph + gap);
            let _ = writeln!(
                s,
                r##"<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="#f7f7f7" stroke="#ddd"/><text x="{}" y="{}" font-weight="bold">{}</text>"##,
                x0 + 8.0,
                y0 + 18.0,
                esc(w)
            );
            let bars: Vec<(&str, &str, Option<f64>)> = [
                ("system", "no-pool"),
                ("system", "pool"),
                ("pool-alloc", "no-pool"),
                ("pool-alloc", "pool"),
            ]
            .iter()
            .map(|(a, v)| (*a, *v, find(&m.rows, w, a, v).map(get)))
            .collect();
            let max = bars.iter().filter_map(|b| b.2).fold(0.0f64, f64::max);
            let (plot_top, plot_bottom) = (y0 + 40.0, y0 + ph - 36.0);
            let bw = 44.0;
            for (bi, (a, v, val)) in bars.iter().enumerate() {
                let group_gap = if bi >= 2 { 24.0 } else { 0.0 };
                let bx = x0 + 22.0 + bi as f64 * (bw + 12.0) + group_gap;
                let Some(val) = val else { continue };
                let hgt = if max > 0.0 {
                    (val / max) * (plot_bottom - plot_top)
                } else {
                    0.0
                };
                let colour = if *v == "pool" { POOL } else { NO_POOL };
                let _ = writeln!(
                    s,
                    r#"<rect x="{bx}" y="{}" width="{bw}" height="{}" fill="{colour}"><title>{} {} {}: {}</title></rect><text x="{}" y="{}" text-anchor="middle" font-size="11">{}</text>"#,
                    plot_bottom - hgt,
                    hgt.max(0.5),
                    esc(w),
                    a,
                    v,
                    val,
                    bx + bw / 2.0,
                    plot_bottom - hgt - 4.0,
                    short(*val)
                );
                if bi % 2 == 0 {
                    let label = if *a == "system" {
                        "System"
                    } else {
                        "PoolAlloc"
                    };
                    let _ = writeln!(
                        s,
                        r#"<text x="{}" y="{}" text-anchor="middle" font-size="11">{label}</text>"#,
                        bx + bw + 6.0,
                        plot_bottom + 16.0
                    );
                }
            }
            let _ = writeln!(
                s,
                r##"<line x1="{}" y1="{plot_bottom}" x2="{}" y2="{plot_bottom}" stroke="#999"/>"##,
                x0 + 12.0,
                x0 + pw - 12.0
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="{gap}" y="{}" fill="#555">Run time {:.1} s. Numbers: `demo --json`; the table in the terminal has bytes, peak live bytes and page faults too.</text>"##,
        height - 12.0,
        m.seconds
    );
    s.push_str("</svg>\n");
    s
}

/// The HTML page: the charts, the table (as an HTML table) and the legend.
pub fn html(m: &Merged) -> String {
    let mut t = String::from(
        "<table><tr><th>workload</th><th>variant</th><th>allocator</th><th>ns/op</th>\
         <th>allocs/op</th><th>bytes/op</th><th>peak live</th><th>minflt</th><th>vs System</th>\
         <th>pooling gave</th></tr>\n",
    );
    for r in &m.rows {
        let _ = writeln!(
            t,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.2}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
            esc(&r.variant),
            esc(&r.workload),
            esc(&r.variant),
            esc(&r.allocator),
            r.ns_per_op,
            r.allocs_per_op,
            bytes(r.bytes_per_op),
            bytes(r.peak_live_bytes as f64),
            r.minor_faults,
            vs_system(m, r),
            esc(&gave(m, r)),
        );
    }
    t.push_str("</table>\n");
    let full = table(m);
    let rest = full
        .find("\napi-server load run")
        .or_else(|| full.find("\nns/op:"))
        .unwrap_or(full.len());
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>demo: pool vs no pool</title>\
         <style>body{{font-family:sans-serif;margin:16px}}table{{border-collapse:collapse;font-size:12px}}\
         td,th{{padding:2px 8px;text-align:right;border-bottom:1px solid #eee}}td.l,th:last-child{{text-align:left}}\
         tr.pool td{{background:#f0f8f3}}pre{{font-size:12px;white-space:pre-wrap}}</style></head><body>\n{}\n\
         <h2>Table</h2>\n{}<pre>{}</pre>\n</body></html>\n",
        svg(m),
        t,
        esc(&full[rest..])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(w: &str, a: &str, v: &str, allocs: f64, ns: f64) -> Row {
        Row {
            workload: w.into(),
            allocator: a.into(),
            variant: v.into(),
            allocs_per_op: allocs,
            ns_per_op: ns,
            ..Row::default()
        }
    }

    fn sample() -> Merged {
        let child = |a: &str| ChildReport {
            allocator: a.into(),
            rows: vec![
                row("slices", a, "pool", 0.0, 80.0),
                row("slices", a, "no-pool", 1.0, 100.0),
                row("json-api", a, "pool", 0.04, 50.0),
                row("json-api", a, "no-pool", 10.0, 200.0),
            ],
            server: vec![],
            peak_note: "exact".into(),
        };
        merge(
            vec![child("pool-alloc"), child("system")],
            &["json-api", "slices"],
            1.0,
        )
    }

    #[test]
    fn change_is_relative_and_signed() {
        assert_eq!(change(0.0, 9.56), "-100.0 %");
        assert_eq!(change(0.04, 10.0), "-99.6 %");
        assert_eq!(change(150.0, 100.0), "+50.0 %");
        assert_eq!(change(0.0, 0.0), "±0 %");
    }

    #[test]
    fn merge_orders_by_workload_then_allocator_then_variant() {
        let m = sample();
        let keys: Vec<_> = m
            .rows
            .iter()
            .map(|r| {
                (
                    r.workload.as_str(),
                    r.allocator.as_str(),
                    r.variant.as_str(),
                )
            })
            .collect();
        assert_eq!(keys[0], ("json-api", "system", "no-pool"));
        assert_eq!(keys[1], ("json-api", "system", "pool"));
        assert_eq!(keys[2], ("json-api", "pool-alloc", "no-pool"));
        assert_eq!(keys[7], ("slices", "pool-alloc", "pool"));
    }

    #[test]
    fn table_shows_reductions_against_the_same_allocator() {
        let t = table(&sample());
        assert!(t.contains("allocs/op -99.6 %"), "{t}");
        assert!(t.contains("ns/op -75.0 %"), "{t}");
        assert!(
            t.contains("allocs/op -100.0 %  bytes/op ±0 %  ns/op -20.0 %"),
            "{t}"
        );
        assert!(t.contains("1.00x"), "{t}");
    }

    #[test]
    fn pictures_have_four_bars_per_workload_and_metric() {
        let m = sample();
        let s = svg(&m);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<title>").count(), 2 * 2 * 4);
        let h = html(&m);
        assert!(h.contains(&s) && h.contains("<table>") && h.matches("<tr class=").count() == 8);
    }
}
