#!/usr/bin/env bash
# Instruction counts per op under callgrind (deterministic, unlike wall time on a shared box).
#
#   scripts/bench-icount.sh OUT_DIR [N]
#
# For every allocator (and the `Null` empty-loop baseline) and every workload, runs
# `icount <alloc> <workload> N` under callgrind, collecting only inside `icount_measured` (N ops
# after N warm-up ops), and appends `alloc workload N Ir` to OUT_DIR/icount.tsv. Keeps the
# callgrind files of PoolAlloc and writes their per-function self costs to
# OUT_DIR/profile-PoolAlloc-<workload>.txt (callgrind_annotate).
# snmalloc cannot run under valgrind (its 256 GiB pagemap reservation fails), so it is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bench-icount.sh OUT_DIR [N]}
n=${2:-100000}
target=${CARGO_TARGET_DIR:-target}
bin="$target/release/icount"
[ -x "$bin" ] || cargo build -q -p benches --release --bin icount
mkdir -p "$out/callgrind"
tsv="$out/icount.tsv"
: > "$tsv"
workloads="pair16 pair64 pair256 pair1024 pair4096 pair32768 pair262144 pair1048576 churn1k churn64k realloc1m"
for w in $workloads; do
  # realloc1m: one 16 B -> 1 MiB growth per op, far costlier than a pair, so fewer ops.
  ops=$n; [ "$w" = realloc1m ] && ops=$((n / 100))
  for a in Null System PoolAlloc mimalloc jemalloc; do
    f="$out/callgrind/$a.$w.out"
    valgrind --tool=callgrind --callgrind-out-file="$f" --toggle-collect='*icount_measured*' \
      "$bin" "$a" "$w" "$ops" > /dev/null 2> "$f.log"
    ir=$(awk '/^summary:/ {print $2}' "$f")
    printf '%s\t%s\t%s\t%s\n' "$a" "$w" "$ops" "$ir" >> "$tsv"
    if [ "$a" = PoolAlloc ]; then
      callgrind_annotate --threshold=99.9 "$f" > "$out/profile-PoolAlloc-$w.txt" 2> /dev/null || true
    fi
    [ "$a" = PoolAlloc ] || rm -f "$f"
    rm -f "$f.log"
  done
done
echo "icount: $(wc -l < "$tsv") measurements in $tsv"
