//! `demo`: pool versus no pool, under System and under PoolAlloc, in one table.
//!
//! One command runs everything: the parent re-executes itself once per allocator (hidden flag
//! `--child-allocator`, environment variable `DEMO_ALLOCATOR`), each child measures every
//! workload with its allocator installed and prints JSON, and the parent prints the merged
//! table (or `--json`) and writes the `--report` picture. See `docs/demo.md`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::builder::PossibleValuesParser;
use clap::{Parser, ValueEnum};

use demo::report::{self, ChildReport};
use demo::workloads::{self, api_server, Variant};
use demo::{measure, Probe};

#[cfg(not(feature = "dhat-heap"))]
mod switch;

#[cfg(not(feature = "dhat-heap"))]
#[global_allocator]
static GLOBAL: switch::Switch = switch::Switch;

#[cfg(feature = "dhat-heap")]
#[global_allocator]
static GLOBAL: dhat::Alloc = dhat::Alloc;

/// Which allocators to compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Allocators {
    Both,
    System,
    PoolAlloc,
}

/// Which variants to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Variants {
    Both,
    NoPool,
    Pool,
}

/// The allocator a child process runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ChildAllocator {
    System,
    PoolAlloc,
}

#[cfg_attr(feature = "dhat-heap", allow(dead_code))]
impl ChildAllocator {
    fn name(self) -> &'static str {
        match self {
            ChildAllocator::System => "system",
            ChildAllocator::PoolAlloc => "pool-alloc",
        }
    }
}

/// Pool versus no pool: allocations, bytes, time and memory of eight workloads, each with and
/// without an object pool, under the System allocator and under PoolAlloc, side by side.
#[derive(Parser, Debug)]
#[command(name = "demo", version, about, long_about = None)]
struct Cli {
    /// Workloads to run (comma-separated or repeated); default: all.
    #[arg(long, short, value_delimiter = ',', value_parser = PossibleValuesParser::new(workloads::names()))]
    workload: Vec<String>,

    /// Measured operations per workload and thread (api-server: requests); default: each
    /// workload's own (a whole run takes 10-20 s on 2 cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    ops: Option<u64>,

    /// Threads per in-process workload, each with its own instance, all sharing one set of pools.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: u64,

    /// Print the merged results as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,

    /// Write bar charts (allocs/op and ns/op per workload) to FILE.html or FILE.svg.
    #[arg(long, value_name = "FILE.html|FILE.svg", value_parser = report_path)]
    report: Option<PathBuf>,

    /// Allocators to compare.
    #[arg(long, value_enum, default_value_t = Allocators::Both)]
    allocator: Allocators,

    /// Variants to run.
    #[arg(long, value_enum, default_value_t = Variants::Both)]
    variant: Variants,

    /// api-server: the load run stops after this many seconds even if requests remain.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    time_limit: u64,

    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,

    /// Internal: run the measurements under this allocator and print JSON (set by the parent).
    #[arg(long, value_enum, hide = true)]
    child_allocator: Option<ChildAllocator>,
}

/// `--report`: a name ending in .html (or .htm) or .svg, in a directory that exists, checked
/// when the flags are read rather than after the whole run.
fn report_path(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("html" | "htm" | "svg")) {
        return Err("the report is HTML or SVG: the file name must end in .html or .svg".into());
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "no directory {} to write the report in",
            dir.display()
        ));
    }
    Ok(p)
}

/// Before the run: can the report be written? Opens it for appending (so an existing file is
/// left as it is) and removes it again if it was not there.
fn check_report_writable(path: &Path) -> Result<(), String> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot write the report {}: {e}", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Whether the allocators will print their `ALLOC_STATS` report at exit (alloc-stats' rule).
#[cfg_attr(feature = "dhat-heap", allow(dead_code))]
fn alloc_stats_on() -> bool {
    std::env::var("ALLOC_STATS").is_ok_and(|v| {
        ["1", "true", "yes", "on"]
            .iter()
            .any(|w| v.eq_ignore_ascii_case(w))
    })
}

impl Cli {
    fn workloads(&self) -> Vec<&'static str> {
        let all = workloads::names();
        if self.workload.is_empty() {
            all
        } else {
            all.into_iter()
                .filter(|n| self.workload.iter().any(|w| w == n))
                .collect()
        }
    }

    fn variants(&self) -> Vec<Variant> {
        match self.variant {
            Variants::Both => Variant::BOTH.to_vec(),
            Variants::NoPool => vec![Variant::NoPool],
            Variants::Pool => vec![Variant::Pool],
        }
    }

    /// The flags a child gets (everything that selects or sizes work).
    #[cfg_attr(feature = "dhat-heap", allow(dead_code))]
    fn child_args(&self, alloc: ChildAllocator) -> Vec<String> {
        let mut a = vec![
            "--child-allocator".to_string(),
            alloc.to_possible_value().expect("value").get_name().into(),
        ];
        if !self.workload.is_empty() {
            a.push(format!("--workload={}", self.workload.join(",")));
        }
        if let Some(ops) = self.ops {
            a.push(format!("--ops={ops}"));
        }
        a.push(format!("--threads={}", self.threads));
        a.push(format!("--time-limit={}", self.time_limit));
        a.push(format!(
            "--variant={}",
            self.variant.to_possible_value().expect("value").get_name()
        ));
        if self.quiet {
            a.push("--quiet".into());
        }
        a
    }
}

/// Runs the selected workloads in this process under whatever allocator is installed.
fn measure_here(cli: &Cli, probe: Probe, allocator: &str) -> ChildReport {
    let mut out = ChildReport {
        allocator: allocator.into(),
        peak_note: probe.peak_note.into(),
        ..ChildReport::default()
    };
    let names = cli.workloads();
    let variants = cli.variants();
    let total = names.len() * variants.len();
    let mut step = 0;
    for name in names {
        for &v in &variants {
            step += 1;
            if !cli.quiet {
                eprint!(
                    "[{allocator:>10} {step:>2}/{total}] {name:<12} {:<7} ... ",
                    v.name()
                );
                let _ = std::io::stderr().flush();
            }
            let row = if name == workloads::API_SERVER {
                let mut cfg = api_server::LoadConfig::new(cli.ops.unwrap_or(20_000));
                cfg.time_limit = std::time::Duration::from_secs(cli.time_limit);
                let (row, server) = api_server::run(v, cfg, probe, allocator);
                out.server.push(server);
                row
            } else {
                let spec = workloads::find(name).expect("validated by clap");
                measure::run(
                    spec,
                    v,
                    cli.ops.unwrap_or(spec.default_ops),
                    cli.threads,
                    probe,
                    allocator,
                )
            };
            if !cli.quiet {
                eprintln!(
                    "{:>9.1} ns/op {:>8.2} allocs/op",
                    row.ns_per_op, row.allocs_per_op
                );
            }
            out.rows.push(row);
        }
    }
    out
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("demo: {msg}");
    ExitCode::from(1)
}

fn finish(cli: &Cli, children: Vec<ChildReport>, t0: Instant) -> ExitCode {
    let merged = report::merge(children, &workloads::names(), t0.elapsed().as_secs_f64());
    if cli.json {
        match serde_json::to_string_pretty(&merged) {
            Ok(s) => println!("{s}"),
            Err(e) => return fail(e),
        }
    } else {
        print!("{}", report::table(&merged));
    }
    if let Some(path) = &cli.report {
        let is_svg = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        let text = if is_svg {
            report::svg(&merged)
        } else {
            report::html(&merged)
        };
        if let Err(e) = std::fs::write(path, text) {
            return fail(format_args!("cannot write {}: {e}", path.display()));
        }
        if !cli.quiet {
            eprintln!("report written to {}", path.display());
        }
    }
    ExitCode::SUCCESS
}

#[cfg(not(feature = "dhat-heap"))]
fn main() -> ExitCode {
    let cli = Cli::parse();
    let t0 = Instant::now();
    if let Some(child) = cli.child_allocator {
        if switch::active() != child.name() {
            eprintln!(
                "demo: --child-allocator {} needs DEMO_ALLOCATOR={} set before start (the parent does this)",
                child.name(),
                child.name()
            );
            return ExitCode::from(2);
        }
        let rep = measure_here(&cli, switch::PROBE, child.name());
        return match serde_json::to_string(&rep) {
            Ok(s) => {
                println!("{s}");
                if alloc_stats_on() {
                    // The allocator's report follows at exit: say whose it is.
                    let which = match child {
                        ChildAllocator::System => "Counting<System> (libc malloc, counted)",
                        ChildAllocator::PoolAlloc => "PoolAlloc",
                    };
                    eprintln!(
                        "\ndemo: ALLOC_STATS report of the {} child: {which}",
                        child.name()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    if let Some(path) = &cli.report {
        if let Err(e) = check_report_writable(path) {
            eprintln!("demo: {e}");
            return ExitCode::from(2);
        }
    }
    // The parent only coordinates: its own ALLOC_STATS=1 report would be noise next to the
    // children's, so it hands the variable to them and drops it here (still one thread, and
    // the allocator read its own variable at the first allocation).
    let alloc_stats = std::env::var_os("ALLOC_STATS");
    std::env::remove_var("ALLOC_STATS");
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(format_args!("cannot find my own executable: {e}")),
    };
    let allocators = match cli.allocator {
        Allocators::Both => vec![ChildAllocator::System, ChildAllocator::PoolAlloc],
        Allocators::System => vec![ChildAllocator::System],
        Allocators::PoolAlloc => vec![ChildAllocator::PoolAlloc],
    };
    let mut children = Vec::new();
    for alloc in allocators {
        let out = std::process::Command::new(&exe)
            .args(cli.child_args(alloc))
            .env(switch::ENV, alloc.name())
            .envs(alloc_stats.iter().map(|v| ("ALLOC_STATS", v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) => return fail(format_args!("cannot run the {} child: {e}", alloc.name())),
        };
        if !out.status.success() {
            return fail(format_args!(
                "the {} child failed ({})",
                alloc.name(),
                out.status
            ));
        }
        match serde_json::from_slice::<ChildReport>(&out.stdout) {
            Ok(r) => children.push(r),
            Err(e) => {
                return fail(format_args!(
                    "bad output from the {} child: {e}",
                    alloc.name()
                ))
            }
        }
    }
    finish(&cli, children, t0)
}

/// dhat build: one process, dhat's allocator, dhat's counters; writes dhat-heap.json.
#[cfg(feature = "dhat-heap")]
fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.child_allocator.is_some() || cli.allocator != Allocators::Both {
        eprintln!(
            "demo: this is a dhat build: it runs in one process under dhat::Alloc (no --allocator)"
        );
        return ExitCode::from(2);
    }
    if let Some(path) = &cli.report {
        if let Err(e) = check_report_writable(path) {
            eprintln!("demo: {e}");
            return ExitCode::from(2);
        }
    }
    let t0 = Instant::now();
    let profiler = dhat::Profiler::new_heap();
    let probe = Probe {
        read: || {
            let s = dhat::HeapStats::get();
            demo::Counts {
                allocs: s.total_blocks,
                frees: s.total_blocks - s.curr_blocks as u64,
                bytes: s.total_bytes,
                live: s.curr_bytes as i64,
                peak: s.max_bytes as i64,
            }
        },
        reset_peak: || {},
        peak_note: "process-wide peak since start (dhat's t-gmax), minus live at window start",
    };
    let rep = measure_here(&cli, probe, "dhat");
    drop(profiler);
    finish(&cli, vec![rep], t0)
}
