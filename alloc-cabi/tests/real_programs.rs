//! Real programs under `LD_PRELOAD=libpoolalloc.so`, each compared with a run under glibc's
//! malloc: gcc compiling and linking a generated multi-file C project (byte-identical object
//! files and executables), perl and bash running allocation-heavy scripts (tests/scripts/),
//! and GNU sort with 4 threads and a 64 MiB buffer. None may crash or differ.
//!
//! That the library was really in each preloaded process is checked too: gcc, perl and bash
//! print the `POOLALLOC_STATS=1` exit report (gcc once per process it runs: the driver, cc1,
//! as, collect2, ld); so does sort, although it closes stderr in its own exit hook before ours
//! runs (the report goes to a copy of stderr kept when it was armed), and ld.so says where it
//! bound `malloc` (`LD_DEBUG=bindings`).

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{require, run_ok, scratch, split_reports, with_heap, Heap};

/// Runs `cmd` (built by `make`) under glibc and under our heap; asserts the same exit status
/// (success) and stdout, an empty stderr under glibc, and under ours a stderr made only of
/// at least `min_reports` exit reports. Returns the common stdout.
fn same_output(make: impl Fn() -> Command, min_reports: usize) -> Vec<u8> {
    let base = run_ok(with_heap(make(), Heap::Glibc));
    let ours = run_ok(with_heap(make(), Heap::Ours));
    assert!(
        base.stderr.is_empty(),
        "stderr under glibc: {}",
        common::tail(&base.stderr)
    );
    let (own, reports) = split_reports(&ours.stderr);
    assert_eq!(own, "", "the program's own stderr under libpoolalloc.so");
    assert!(
        reports >= min_reports,
        "{reports} exit reports, expected at least {min_reports}: is the library preloaded?"
    );
    assert!(
        base.stdout == ours.stdout,
        "stdout differs:\n--- glibc\n{}\n--- libpoolalloc\n{}",
        common::tail(&base.stdout),
        common::tail(&ours.stdout)
    );
    ours.stdout
}

/// Writes the C project of tests/scripts/gen_project.pl (`files` units of `funcs` functions,
/// main.c, project.h) into `dir`; scripts/bench-preload.sh builds the same project.
fn write_project(dir: &Path, files: usize, funcs: usize) {
    let mut gen = Command::new("perl");
    gen.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/gen_project.pl"
    ))
    .arg(dir)
    .arg(files.to_string())
    .arg(funcs.to_string());
    run_ok(with_heap(gen, Heap::Glibc));
}

/// gcc -O2 -g builds the project twice, under each heap, from the same directory (paths end
/// up in the debug info); every object file and the linked executable are byte-identical, and
/// the executable runs.
#[test]
fn gcc_builds_identical_objects() {
    require("gcc");
    require("perl");
    let dir = scratch("gcc");
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    const FILES: usize = 5;
    write_project(&src, FILES, 30);
    let mut units: Vec<String> = (0..FILES).map(|f| format!("unit{f}")).collect();
    units.push("main".into());
    let mut outputs = Vec::new();
    for heap in [Heap::Glibc, Heap::Ours] {
        let out = dir.join(format!("{heap:?}"));
        fs::create_dir_all(&out).unwrap();
        let mut reports = 0;
        for u in &units {
            let mut cc = Command::new("gcc");
            cc.current_dir(&src)
                .args([
                    "-O2",
                    "-g",
                    "-Wall",
                    "-Werror",
                    "-c",
                    &format!("{u}.c"),
                    "-o",
                ])
                .arg(out.join(format!("{u}.o")));
            let o = run_ok(with_heap(cc, heap));
            let (own, n) = split_reports(&o.stderr);
            assert_eq!(own, "", "gcc's stderr compiling {u}.c under {heap:?}");
            reports += n;
        }
        let mut ld = Command::new("gcc");
        ld.current_dir(&src).arg("-o").arg(out.join("prog"));
        for u in &units {
            ld.arg(out.join(format!("{u}.o")));
        }
        let o = run_ok(with_heap(ld, heap));
        reports += split_reports(&o.stderr).1;
        if heap == Heap::Ours {
            // Each compile runs at least gcc, cc1 and as; the link gcc, collect2 and ld.
            assert!(reports >= 3 * units.len() + 3, "{reports} exit reports");
        } else {
            assert_eq!(reports, 0);
        }
        let run = run_ok(Command::new(out.join("prog")));
        outputs.push(run.stdout);
    }
    for name in units
        .iter()
        .map(|u| format!("{u}.o"))
        .chain(["prog".to_string()])
    {
        let a = fs::read(dir.join("Glibc").join(&name)).unwrap();
        let b = fs::read(dir.join("Ours").join(&name)).unwrap();
        assert!(a.len() > 1000, "{name}: {} bytes", a.len());
        assert!(
            a == b,
            "{name} differs between the glibc and the preloaded build"
        );
    }
    assert_eq!(outputs[0], outputs[1]);
    let text = String::from_utf8(outputs[0].clone()).unwrap();
    assert_eq!(text.lines().count(), FILES, "{text}");
}

/// perl (perl-base is essential on Debian) runs tests/scripts/workload.pl.
#[test]
fn perl_script_same_output() {
    require("perl");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/workload.pl");
    let out = same_output(
        || {
            let mut c = Command::new("perl");
            c.arg(script);
            c
        },
        1,
    );
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("words: "), "{text}");
    assert!(
        text.contains("fib(700) has 146 digits: 874708149557...169105124275"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 26, "{text}");
}

/// bash runs tests/scripts/workload.sh (pure bash: no other program).
#[test]
fn bash_script_same_output() {
    require("bash");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/workload.sh");
    let out = same_output(
        || {
            let mut c = Command::new("bash");
            c.arg(script);
            c
        },
        1,
    );
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("distinct: "), "{text}");
    assert!(text.contains("\nchecksum: "), "{text}");
    assert_eq!(text.lines().count(), 15, "{text}");
}

/// GNU sort with 4 threads and a 64 MiB buffer on 400k generated lines (sort's threads start
/// at 128k lines), twice: by text and numerically by the second field.
#[test]
fn threaded_sort_same_output() {
    require("sort");
    let dir = scratch("sort");
    let input = dir.join("input.txt");
    let mut data = String::with_capacity(400_000 * 24);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for i in 0..400_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        writeln!(data, "{:x} {} {}", x >> 40, x % 1_000_003, i).unwrap();
    }
    fs::write(&input, &data).unwrap();
    for keys in [&[][..], &["-n", "-k2,2"][..]] {
        let sort = || {
            let mut c = Command::new("sort");
            c.args(["--parallel=4", "-S", "64M"]).args(keys).arg(&input);
            c
        };
        let base = run_ok(with_heap(sort(), Heap::Glibc));
        let ours = run_ok(with_heap(sort(), Heap::Ours));
        assert_eq!(base.stdout.len(), data.len());
        assert!(base.stdout == ours.stdout, "sort {keys:?} differs");
        assert!(base.stderr.is_empty());
        // sort closes fd 2 in its own exit hook, before ours runs; the report still prints
        // (alloc-stats writes it to the copy of stderr it kept when the report was armed).
        let report = String::from_utf8_lossy(&ours.stderr);
        assert!(
            report.starts_with("alloc-stats:") && report.contains("mallocs"),
            "no exit report from sort:\n{report}"
        );
    }
    // ld.so says where sort's and libc's references to malloc and free went.
    let mut c = with_heap(Command::new("sort"), Heap::Ours);
    c.args(["--parallel=4", "-S", "64M"])
        .arg(&input)
        .env("LD_DEBUG", "bindings")
        .stdout(std::process::Stdio::null());
    let o = run_ok(c);
    let log = String::from_utf8_lossy(&o.stderr);
    for sym in ["malloc", "free"] {
        assert!(
            log.lines()
                .any(|l| l.contains("libpoolalloc.so") && l.contains(&format!("`{sym}'"))),
            "no binding of {sym} to libpoolalloc.so:\n{}",
            common::tail(&o.stderr)
        );
    }
}
