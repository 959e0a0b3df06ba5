#!/usr/bin/env bash
# Runs the operation-sequence fuzzer (alloc-core/tests/alloc_fuzz.rs) longer than `cargo test`
# does: in release, with `debug-invariants` (alloc-core checks its internal invariants on every
# slow path and aborts on breakage), and also with `hardened` when alloc-core has that feature.
#
#   scripts/fuzz.sh                  # one round: 1000 cases per proptest test, each build
#   scripts/fuzz.sh --cases 10000    # one longer round
#   scripts/fuzz.sh --minutes 30     # rounds (fresh random seeds) until 30 minutes are up
#   scripts/fuzz.sh --debug          # debug build instead of release (overflow checks on)
#
# Stops at the first failure, exit status 1. proptest prints the shrunk sequence and saves its
# seed in alloc-core/tests/alloc_fuzz.proptest-regressions, which every later run (`cargo test`
# too) replays first. A failure that aborts the process (`alloc-core: fatal: ...` from
# debug-invariants, or a signal) cannot shrink: rerun with PROPTEST_CASES small and the same
# PROPTEST_RNG_SEED (printed below) to reproduce.
set -euo pipefail
cd "$(dirname "$0")/.."

cases=1000
minutes=0
profile=(--release)
while [ $# -gt 0 ]; do
    case $1 in
        --cases) cases=$2; shift 2 ;;
        --minutes) minutes=$2; shift 2 ;;
        --debug) profile=(); shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "fuzz.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

builds=("debug-invariants")
if grep -q '^hardened *=' alloc-core/Cargo.toml; then
    builds+=("debug-invariants,hardened")
fi

for f in "${builds[@]}"; do
    cargo test -q -p alloc-core "${profile[@]}" --features "$f" --test alloc_fuzz --no-run
done

round() { # features
    local seed=$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ))
    echo "== alloc_fuzz: --features $1 ${profile[*]}, PROPTEST_CASES=$cases PROPTEST_RNG_SEED=$seed"
    local start=$SECONDS
    if ! PROPTEST_CASES=$cases PROPTEST_RNG_SEED=$seed \
        cargo test -q -p alloc-core "${profile[@]}" --features "$1" --test alloc_fuzz; then
        echo "fuzz.sh: FAILED (features $1, PROPTEST_RNG_SEED=$seed)" >&2
        exit 1
    fi
    echo "ok in $((SECONDS - start)) s"
}

deadline=$((SECONDS + minutes * 60))
n=0
while :; do
    for f in "${builds[@]}"; do
        round "$f"
        n=$((n + 1))
    done
    [ "$SECONDS" -lt "$deadline" ] || break
done
echo "fuzz.sh: $n rounds passed"
