#!/usr/bin/env bash
# Memory scenarios, multi-thread scaling and the serde_json real-program benchmark, every
# allocator in a fresh process per measurement (benches/src/scenarios.rs); prints Markdown
# tables for docs/benchmarks.md ("Memory and scaling").
#
#   scripts/bench-mt.sh                    # everything, ~5 minutes on 2 cores (plus the build)
#   QUICK=1 scripts/bench-mt.sh            # a quarter of the work
#   THREADS="1 2 4" scripts/bench-mt.sh    # other thread counts (default 1 2 4 8 16 32)
#   ALLOCS="pool snmalloc" scripts/bench-mt.sh
#   ALLOCS="... pool_before" with a bin sc_pool_before in the bin folder: an older PoolAlloc
#       (built from an older commit, its name passed as "PoolAlloc before") beside the others
#   BIN_DIR=dir scripts/bench-mt.sh        # prebuilt sc_* bins (a machine without cargo): build
#       them with RUSTFLAGS="-C target-feature=+crt-static -L native=$PWD/target/static-shim"
#       cargo build --release --target x86_64-unknown-linux-gnu -p benches --features snmalloc
#       --bins, after `mkdir -p target/static-shim && ar rcs target/static-shim/libgcc_s.a`
#       (snmalloc-sys links -lgcc_s, which has no static library; an empty one satisfies it)
#
# Raw JSON lines go to $CARGO_TARGET_DIR/bench-results/<UTC time>/mt.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
bins=${BIN_DIR:-}
if [ -z "$bins" ]; then
  cargo build -q --release -p benches --features snmalloc --bins
  bins=$target/release
fi
out=${BENCH_OUT:-$target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
jl=$out/mt.jsonl
: > "$jl"
allocs=${ALLOCS:-"system pool mimalloc jemalloc snmalloc"}
threads=${THREADS:-"1 2 4 8 16 32"}
if [ "${QUICK:-0}" = 1 ]; then export SC_SCALE=0.25; fi
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc: $(nproc), commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  grep -m1 'model name' /proc/cpuinfo || true
} > "$out/machine.txt"
cat "$out/machine.txt"
run() { # alloc args...
  local a=$1; shift
  if [ -x "$bins/sc_$a" ]; then "$bins/sc_$a" "$@" >> "$jl"; else echo "no sc_$a, skipped" >&2; fi
}
for sc in free-all survivors idle-worker waves idle-decay json; do
  echo "== $sc [t=${SECONDS}s]"
  for a in $allocs; do run "$a" "$sc"; done
done
reps=${REPS:-3} # scaling runs are repeated, allocators interleaved; the report takes medians
for w in churn ring pairs; do
  for t in $threads; do
    echo "== $w $t threads, $reps reps [t=${SECONDS}s]"
    for ((r = 0; r < reps; r++)); do
      for a in $allocs; do run "$a" "$w" "$t"; done
    done
  done
done
python3 scripts/bench-mt-report.py "$jl" | tee "$out/mt.md"
echo "raw: $jl"
