//! The C test program `tests/c/malloc_api.c`, compiled here with `cc`, run against glibc's
//! malloc and then with `LD_PRELOAD=libpoolalloc.so`: every function of the API, its edge
//! cases (zero and huge sizes, alignments up to 4 MiB, overflowing `calloc`, `realloc(NULL, n)`
//! and `realloc(p, 0)`, `posix_memalign`'s `EINVAL`), threads freeing each other's blocks,
//! allocation in thread-exit destructors, `fork` and `posix_spawn` while threads allocate.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::{run_ok, scratch, split_reports, with_heap, Heap};

/// Sections the program prints, in order; each must report `ok`.
const SECTIONS: [&str; 10] = [
    "ok symbols (17 checks)",
    "ok malloc/free/malloc_usable_size",
    "ok calloc",
    "ok realloc/reallocarray",
    "ok posix_memalign/aligned_alloc/memalign/valloc/pvalloc",
    "ok __libc_ aliases",
    "ok malloc_trim",
    "ok churn",
    "ok threads (cross-thread frees, key destructors)",
    "ok fork/posix_spawn with threads running",
];

/// The compiled test program (built once per test binary).
fn program() -> &'static PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        common::require("cc");
        let dir = scratch("c-api");
        let exe = dir.join("malloc_api");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/malloc_api.c");
        let mut cc = Command::new("cc");
        cc.args(["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", "-o"])
            .arg(&exe)
            .arg(src)
            .arg("-ldl");
        run_ok(cc);
        exe
    })
}

/// Runs the program in `mode` under `heap`; returns stdout and stderr.
fn run(mode: &str, heap: Heap) -> (String, Vec<u8>) {
    let mut cmd = Command::new(program());
    cmd.arg(mode);
    let out = run_ok(with_heap(cmd, heap));
    (String::from_utf8(out.stdout).expect("utf-8"), out.stderr)
}

fn assert_all_sections(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), SECTIONS.len() + 1, "stdout:\n{stdout}");
    for (line, want) in lines.iter().zip(SECTIONS) {
        assert!(line.starts_with(want), "{line:?} is not {want:?}\n{stdout}");
    }
    let last = lines.last().expect("a last line");
    let checks: u64 = last
        .strip_prefix("ALL OK ")
        .and_then(|s| s.strip_suffix(" checks"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("last line {last:?}"));
    assert!(checks > 100_000, "{checks} checks");
}

/// The checks hold for glibc's own malloc: they test the C semantics, not our reading of them.
#[test]
fn c_api_under_glibc() {
    let (stdout, stderr) = run("glibc", Heap::Glibc);
    assert_all_sections(&stdout);
    assert!(stderr.is_empty(), "{}", String::from_utf8_lossy(&stderr));
}

/// The same checks with libpoolalloc.so preloaded. The program itself checks that every
/// symbol (malloc, free, ..., __libc_memalign) resolves into libpoolalloc.so, and the exit
/// report (POOLALLOC_STATS=1) counts its allocations: 2 rounds x 4 threads x 20000 blocks
/// handed to another thread alone are 160000 mallocs.
#[test]
fn c_api_preloaded() {
    let (stdout, stderr) = run("preload", Heap::Ours);
    assert_all_sections(&stdout);
    let (own, reports) = split_reports(&stderr);
    // One report: the parent's (the forked children leave with _exit, which runs no atexit
    // hook; `true`, spawned, gets LD_PRELOAD but not POOLALLOC_STATS).
    assert_eq!(reports, 1, "stderr:\n{}", String::from_utf8_lossy(&stderr));
    assert_eq!(own, "", "the program's own stderr");
    let mallocs = common::reported_mallocs(&stderr).expect("a mallocs line in the report");
    if cfg!(feature = "stats") {
        assert!(mallocs >= 160_000, "report counts {mallocs} mallocs");
    }
}

/// The preload without POOLALLOC_STATS prints nothing; ALLOC_STATS=1, the Rust side's name,
/// turns the same report on.
#[test]
fn exit_report_switches() {
    let mut cmd = Command::new(program());
    cmd.arg("preload");
    let mut cmd = with_heap(cmd, Heap::Ours);
    cmd.env_remove("POOLALLOC_STATS");
    let out = run_ok(cmd);
    assert!(out.stderr.is_empty(), "{}", common::tail(&out.stderr));

    let mut cmd = Command::new(program());
    cmd.arg("preload");
    let mut cmd = with_heap(cmd, Heap::Ours);
    cmd.env_remove("POOLALLOC_STATS").env("ALLOC_STATS", "1");
    let out = run_ok(cmd);
    assert_eq!(split_reports(&out.stderr).1, 1);
}
