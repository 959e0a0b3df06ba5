#!/usr/bin/env bash
# A new user's view of alloc-core: a scratch binary crate, outside this workspace, whose only
# dependency is alloc-core (a path dependency, default features).
#   1. `cargo tree -e normal` must list only libc and this project's crates;
#   2. every ```rust block of README.md and alloc-core/README.md, written out as a binary of
#      that crate, must build and run: the README's examples need nothing but alloc-core.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export CARGO_TARGET_DIR=${SCRATCH_TARGET_DIR:-$repo/target/scratch}

mkdir -p "$scratch/src/bin"
cat > "$scratch/Cargo.toml" <<TOML
[package]
name = "scratch-user"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
alloc-core = { path = "$repo/alloc-core" }

[workspace]
TOML
cat > "$scratch/src/main.rs" <<'RS'
#[global_allocator]
static GLOBAL: alloc_core::PoolAlloc = alloc_core::PoolAlloc::new();

fn main() {
    let v: Vec<u64> = (0..1000).collect();
    assert_eq!(v.len(), 1000);
}
RS
# The workspace's lock file pins the same versions (cargo drops what this crate does not use).
cp "$repo/Cargo.lock" "$scratch/Cargo.lock"

echo "-- cargo tree -e normal"
(cd "$scratch" && cargo tree -q -e normal)
deps=$(cd "$scratch" && cargo tree -q -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
allowed="scratch-user alloc-core alloc-stats libc"
bad=""
for d in $deps; do
    case " $allowed " in *" $d "*) ;; *) bad="$bad $d" ;; esac
done
if [ -n "$bad" ]; then
    echo "FAIL: installing PoolAlloc brings in more than libc and this project's crates:$bad" >&2
    exit 1
fi
echo "ok: only$(printf ' %s' $deps | sed 's/ scratch-user//')"

echo "-- README examples with alloc-core as the only dependency"
n=0
for md in README.md alloc-core/README.md; do
    # Each ```rust block (up to its closing ```) becomes src/bin/ex<N>.rs.
    n=$(awk -v dir="$scratch/src/bin" -v n="$n" '
        /^```rust/ { n++; out = sprintf("%s/ex%d.rs", dir, n); inblk = 1; next }
        /^```/ && inblk { inblk = 0; close(out); next }
        inblk { print > out }
        END { print n }' "$repo/$md")
done
[ "$n" -gt 0 ] || { echo "FAIL: no rust blocks found" >&2; exit 1; }
for f in "$scratch"/src/bin/ex*.rs; do
    grep -q 'fn main' "$f" || { echo "FAIL: $(basename "$f") has no fn main" >&2; exit 1; }
done
(cd "$scratch" && cargo build -q --bins)
for f in "$scratch"/src/bin/ex*.rs; do
    b=$(basename "$f" .rs)
    (cd "$scratch" && cargo run -q --bin "$b" > /dev/null)
done
echo "ok: $n README examples build and run with alloc-core alone"
