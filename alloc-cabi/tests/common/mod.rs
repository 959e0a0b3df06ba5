//! What the preload tests share: the built `libpoolalloc.so`, a scratch directory, and running
//! a command with and without the library preloaded.
#![allow(dead_code)] // each test file uses a part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `libpoolalloc.so` cargo built for this test run: cargo builds the package's library
/// (the cdylib) before its integration tests, into the directory above `deps/` where this
/// test binary lives. A missing file fails the test: nothing here skips.
pub fn so_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary in target/<profile>/deps");
    for dir in [deps, deps.parent().expect("target/<profile>")] {
        let so = dir.join("libpoolalloc.so");
        if so.is_file() {
            return so;
        }
    }
    panic!(
        "libpoolalloc.so not found next to {} (cargo builds it before this package's tests)",
        exe.display()
    );
}

/// A fresh scratch directory for one test, under cargo's `CARGO_TARGET_TMPDIR`.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cabi-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

/// Fails the test, with a message saying what to install, if `tool` is not on PATH.
pub fn require(tool: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{tool}` is not installed: these tests run real programs under LD_PRELOAD and need it \
         (it is part of every Debian/Ubuntu system with gcc)"
    );
}

/// Which allocator a run gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heap {
    /// glibc's malloc: no LD_PRELOAD.
    Glibc,
    /// libpoolalloc.so preloaded, with the exit report on (`POOLALLOC_STATS=1`).
    Ours,
}

/// `cmd` with a clean allocator environment for `heap`: no inherited LD_PRELOAD or stats
/// switches; ours adds LD_PRELOAD and POOLALLOC_STATS=1.
pub fn with_heap(mut cmd: Command, heap: Heap) -> Command {
    for v in [
        "LD_PRELOAD",
        "POOLALLOC_STATS",
        "ALLOC_STATS",
        "MALLOC_CHECK_",
    ] {
        cmd.env_remove(v);
    }
    if heap == Heap::Ours {
        cmd.env("LD_PRELOAD", so_path()).env("POOLALLOC_STATS", "1");
    }
    cmd
}

/// Runs `cmd` and fails the test, printing its output, if it does not exit with 0.
pub fn run_ok(mut cmd: Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        tail(&out.stdout),
        tail(&out.stderr)
    );
    out
}

/// The last 4 KiB of `bytes`, as text.
pub fn tail(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let cut = s.len().saturating_sub(4096);
    let cut = (cut..=s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    s[cut..].to_string()
}

/// Splits a preloaded run's stderr into the program's own lines and the number of
/// `POOLALLOC_STATS` exit reports in it (a report is an `alloc-stats:` line followed by lines
/// indented by two spaces).
pub fn split_reports(stderr: &[u8]) -> (String, usize) {
    let text = String::from_utf8_lossy(stderr);
    let mut own = String::new();
    let mut reports = 0;
    let mut in_report = false;
    for line in text.lines() {
        if line.starts_with("alloc-stats: ") && line.contains("threads live") {
            reports += 1;
            in_report = true;
            continue;
        }
        if in_report && line.starts_with("  ") {
            continue;
        }
        in_report = false;
        own.push_str(line);
        own.push('\n');
    }
    (own, reports)
}

/// The `mallocs` figure of the first exit report in `stderr`.
pub fn reported_mallocs(stderr: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("mallocs "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
