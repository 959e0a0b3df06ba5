#!/usr/bin/env bash
# Runs the whole benchmark suite and rewrites docs/benchmarks.md and docs/img/*.svg.
#
#   scripts/bench-all.sh            # full run, ~9 minutes on 2 cores (plus the build)
#   RUNS=3 scripts/bench-all.sh     # repeat the timed phases 3 times (default 2)
#   QUICK=1 scripts/bench-all.sh    # smoke run (~3 minutes): shorter criterion, fewer reps
#
# Phases (allocators interleaved in each):
#   1. criterion, benches/benches/allocators.rs: every allocator called directly through
#      GlobalAlloc, one workload at a time with all allocators back to back;
#   2. whole-program bins wp_<alloc>: each workload in a fresh process per allocator, rounds
#      rotating the allocator order; time per op and peak RSS (getrusage ru_maxrss);
#   (1 and 2 are repeated RUNS times, into run1/, run2/, ...; the report takes medians)
#   3. callgrind instruction counts (scripts/bench-icount.sh);
#   4. bench_report: tables, ratios, target checks and SVG charts into docs/.
# Raw results stay in $CARGO_TARGET_DIR/bench-results/<UTC time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
target=$CARGO_TARGET_DIR
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${BENCH_OUT:-$target/bench-results/$stamp}
mkdir -p "$out"
if [ "${QUICK:-0}" = 1 ]; then
  crit_args=(--warm-up-time 1 --measurement-time 1 --sample-size 10); rounds=1; reps=2; icount_n=20000
  runs=${RUNS:-1}
else
  crit_args=(--warm-up-time 1 --measurement-time 1 --sample-size 20); rounds=2; reps=3; icount_n=100000
  runs=${RUNS:-2}
fi

echo "== build"
# snmalloc is a feature of benches (it needs cmake and a C++ compiler).
cargo build -q -p benches --release --bins --features snmalloc
cargo bench -q -p benches --bench allocators --features snmalloc --no-run

echo "== machine"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "uname: $(uname -srvmo)"
  echo "nproc: $(nproc)"
  lscpu | grep -E '^(Model name|Architecture|CPU\(s\)|Thread|Core|Socket|L1d|L2|L3|CPU max MHz)' || true
  echo "rustc: $(rustc --version)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- alloc-core/src 2>/dev/null || echo ' + uncommitted alloc-core/src changes')"
  echo "load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/machine.txt"
cat "$out/machine.txt"

allocs=(system pool mimalloc jemalloc snmalloc)
for ((run = 1; run <= runs; run++)); do
  dir="$out/run$run"
  mkdir -p "$dir"
  echo "== run $run/$runs: criterion (direct GlobalAlloc calls) [t=${SECONDS}s]"
  cargo bench -q -p benches --bench allocators --features snmalloc -- "${crit_args[@]}" 2>&1 | tee "$dir/criterion.log" \
    | grep -E '^[a-zA-Z_0-9-]+/[A-Za-z]+ +time:' || true
  cp -r "$target/criterion" "$dir/criterion"

  echo "== run $run/$runs: whole-program bins ($rounds rounds x $reps reps) [t=${SECONDS}s]"
  : > "$dir/wp.jsonl"
  for ((r = 0; r < rounds; r++)); do
    for w in strings btree hashmap threads; do
      for ((i = 0; i < ${#allocs[@]}; i++)); do
        a=${allocs[$(((i + r + run) % ${#allocs[@]}))]}
        "$target/release/wp_$a" "$w" "$reps" >> "$dir/wp.jsonl"
      done
    done
  done
done

echo "== callgrind instruction counts [t=${SECONDS}s]"
scripts/bench-icount.sh "$out" "$icount_n"

echo "load after run: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
echo "suite wall time: ${SECONDS}s" >> "$out/machine.txt"
echo "== report [t=${SECONDS}s]"
"$target/release/bench_report" "$out" docs
echo "wrote docs/benchmarks.md and docs/img/*.svg from $out in ${SECONDS}s"
