#!/usr/bin/env bash
# Instructions per operation of every in-process workload, variant and allocator, counted by
# callgrind: deterministic, unlike times on a busy machine. Each cell runs the demo's child
# mode twice (N1 and N2 measured ops) and divides the difference in instructions by the
# difference in operations run (warm-up included), so set-up and start-up cancel out.
#
#   cargo build --release -p demo-bin && demo-bin/scripts/instructions.sh [workload...]
set -euo pipefail
cd "$(dirname "$0")/../.."
DEMO=${DEMO:-${CARGO_TARGET_DIR:-target}/release/demo}
N1=${N1:-400}
N2=${N2:-1200}
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
[ -x "$DEMO" ] || { echo "build first: cargo build --release -p demo-bin ($DEMO)" >&2; exit 1; }
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(json-api slices structs gzip size-classes logging csv)

warm() { local w=$(($1 / 20)); [ $w -lt 2 ] && w=2; [ $w -gt 2000 ] && w=2000; echo $(($1 + w)); }
instr() { # allocator workload variant ops
    DEMO_ALLOCATOR=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$DEMO" --child-allocator "$1" -w "$2" --variant "$3" --ops "$4" -q 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_op() { # allocator workload variant
    local a b
    a=$(instr "$1" "$2" "$3" "$N1"); b=$(instr "$1" "$2" "$3" "$N2")
    echo $(((b - a) / ($(warm "$N2") - $(warm "$N1"))))
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", (a - b) * 100 / b }'; }

echo "| workload | System no pool | System pool | pooling | PoolAlloc no pool | PoolAlloc pool | pooling |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for w in "${workloads[@]}"; do
    sn=$(per_op system "$w" no-pool); sp=$(per_op system "$w" pool)
    pn=$(per_op pool-alloc "$w" no-pool); pp=$(per_op pool-alloc "$w" pool)
    echo "| $w | $sn | $sp | $(pct "$sp" "$sn") | $pn | $pp | $(pct "$pp" "$pn") |"
done
