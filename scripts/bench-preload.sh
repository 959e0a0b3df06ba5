#!/usr/bin/env bash
# Real programs under LD_PRELOAD: glibc's malloc, jemalloc, mimalloc, tcmalloc and ours
# (libpoolalloc.so, release build), side by side in one run. Whole-process wall time and peak
# RSS (scripts/rusage.c: fork, exec, wait, getrusage(RUSAGE_CHILDREN); no /usr/bin/time
# needed), the median of RUNS runs, allocators interleaved within each run. Every program's
# output is compared with glibc's (objects byte for byte); a difference stops the script.
# Rewrites the table between the bench-preload markers in docs/preload.md.
#
#   apt-get install -y libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4   # the peers (Debian)
#   scripts/bench-preload.sh               # RUNS=5, ~6 minutes on 2 cores (plus the build)
#   RUNS=3 scripts/bench-preload.sh
#   NO_DOCS=1 scripts/bench-preload.sh     # print the table, leave docs/preload.md alone
#   ICOUNT=0 scripts/bench-preload.sh      # skip the instruction counts (callgrind, ~6 min)
#   NIGHTLY=0 scripts/bench-preload.sh     # skip poolalloc-ie (needs a nightly toolchain)
#
# The programs (the same as alloc-cabi/tests/real_programs.rs, larger):
#   gcc   gcc -O2 -g -c of a generated 8-file project (gen_project.pl, 40 functions a file)
#         and the link, one process tree per file (driver, cc1, as; collect2, ld)
#   perl  alloc-cabi/tests/scripts/workload.pl at scale 6 (hashes, regexes, strings)
#   bash  alloc-cabi/tests/scripts/workload.sh at scale 4 (pure bash: arrays, substitutions)
#   sort  GNU sort --parallel=4 -S 64M of 1.5M generated lines, by text (threads)
# Wall time on a shared machine moves with the load; instruction counts do not. Unless ICOUNT=0,
# each program also runs once per allocator under callgrind (valgrind --tool=callgrind
# --trace-children=yes: every process of the tree, summed), at a smaller size: gcc -O2 -g -c
# of a 15-function file, perl and bash at scale 1, sort of the first 300k lines.
# Raw results: $CARGO_TARGET_DIR/bench-results/preload-<UTC time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$PWD/target}
runs=${RUNS:-5}
libdir=/usr/lib/x86_64-linux-gnu

names=(glibc jemalloc mimalloc tcmalloc poolalloc)
declare -A lib=(
  [glibc]=-
  [jemalloc]=$libdir/libjemalloc.so.2
  [mimalloc]=$libdir/libmimalloc.so.2
  [tcmalloc]=$libdir/libtcmalloc_minimal.so.4
  [poolalloc]=$target/release/libpoolalloc.so
)
for n in jemalloc mimalloc tcmalloc; do
  if [ ! -e "${lib[$n]}" ]; then
    echo "missing ${lib[$n]}: apt-get install -y libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4" >&2
    exit 1
  fi
done
cargo build -q --release -p alloc-cabi
# A second build of ours with the initial-exec TLS model (static TLS, as the peers' libraries
# have), which only nightly rustc can ask for (-Z tls-model): shows what the dynamic model of a
# stable-built cdylib costs (a __tls_get_addr call per thread-local access). NIGHTLY=0 skips it.
if [ "${NIGHTLY:-1}" != 0 ] && cargo +nightly --version >/dev/null 2>&1; then
  CARGO_TARGET_DIR=$target/tls-initial-exec RUSTFLAGS="-Z tls-model=initial-exec" \
    cargo +nightly build -q --release -p alloc-cabi
  names+=(poolalloc-ie)
  lib[poolalloc-ie]=$target/tls-initial-exec/release/libpoolalloc.so
fi
for tool in cc gcc perl bash sort; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

out=$target/bench-results/preload-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/rusage" scripts/rusage.c
perl alloc-cabi/tests/scripts/gen_project.pl "$work/proj" 8 40
perl -e 'my $x = 88172645463325252; for my $i (1 .. 1_500_000) {
  $x ^= ($x << 13) & 0xffffffffffffffff; $x ^= $x >> 7; $x ^= ($x << 17) & 0xffffffffffffffff;
  printf "%x %d %d\n", $x >> 40, $x % 1000003, $i }' > "$work/sort-input.txt"

programs=(gcc perl bash sort)
# Runs program $1 under allocator $2 (run $3); appends "program alloc run wall rss" to
# results.txt and leaves the output in $out/$1-$2.out (gcc: objects in $work/obj-$2/).
measure() {
  local prog=$1 name=$2 r=$3 res
  local so=${lib[$name]} o=$out/$prog-$name.out
  case $prog in
    gcc)
      rm -rf "$work/obj-$name"; mkdir -p "$work/obj-$name"
      res=$(cd "$work/proj" && "$work/rusage" "$so" "$o" sh -c \
        'for f in *.c; do gcc -O2 -g -c "$f" -o "$0/${f%.c}.o" || exit 1; done
         gcc -o "$0/prog" "$0"/*.o && "$0/prog"' "$work/obj-$name") ;;
    perl) res=$("$work/rusage" "$so" "$o" perl alloc-cabi/tests/scripts/workload.pl 6) ;;
    bash) res=$("$work/rusage" "$so" "$o" bash alloc-cabi/tests/scripts/workload.sh 4) ;;
    sort) res=$("$work/rusage" "$so" "$o" sort --parallel=4 -S 64M "$work/sort-input.txt") ;;
  esac
  set -- $res
  if [ "$3" != 0 ]; then
    echo "$prog under $name exited with $3" >&2
    exit 1
  fi
  if [ "$name" != glibc ]; then
    cmp -s "$out/$prog-glibc.out" "$o" || { echo "$prog: output under $name differs" >&2; exit 1; }
    if [ "$prog" = gcc ]; then
      for f in "$work/obj-glibc"/*.o; do
        cmp -s "$f" "$work/obj-$name/${f##*/}" \
          || { echo "gcc: ${f##*/} under $name differs from glibc's" >&2; exit 1; }
      done
    fi
  fi
  echo "$prog $name $r $1 $2" >> "$out/results.txt"
  printf '  %-5s %-10s %8.3f s %8d KiB\n' "$prog" "$name" "$1" "$2"
}

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- alloc-core alloc-stats alloc-cabi 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -sr)"
  echo "glibc: $(ldd --version | head -1 | sed 's/.* //'); gcc: $(gcc -dumpfullversion); perl: $(perl -e 'print $^V'); bash: ${BASH_VERSION%%(*}; sort: $(sort --version | head -1 | sed 's/.* //')"
  echo "peers: $(dpkg-query -W -f '${Package} ${Version}, ' libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 2>/dev/null | sed 's/, $//')"
  echo "rustc: $(rustc --version)"
  if [ -n "${lib[poolalloc-ie]:-}" ]; then
    echo "poolalloc-ie: $(rustc +nightly --version), RUSTFLAGS=\"-Z tls-model=initial-exec\""
  fi
  echo "runs: $runs (median), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/machine.txt"
cat "$out/machine.txt"

: > "$out/results.txt"
for ((r = 1; r <= runs; r++)); do
  echo "run $r/$runs"
  for prog in "${programs[@]}"; do
    # glibc first (the reference output), then the others in an order that rotates per run.
    measure "$prog" glibc "$r"
    others=$((${#names[@]} - 1))
    for ((i = 0; i < others; i++)); do
      measure "$prog" "${names[1 + (i + r) % others]}" "$r"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"

median() { # program alloc column (4: wall, 5: rss)
  awk -v p="$1" -v a="$2" -v c="$3" '$1 == p && $2 == a { print $c }' "${results:-$out/results.txt}" \
    | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

table() { # column, unit, title
  local col=$1 title=$2
  local head="| $title |" line="|---|" prog name v base
  for name in "${names[@]}"; do head+=" $name |"; line+="---:|"; done
  echo "$head"
  echo "$line"
  declare -A logsum=()
  for prog in "${programs[@]}"; do
    base=$(median "$prog" glibc "$col")
    local row="| $prog |"
    for name in "${names[@]}"; do
      v=$(median "$prog" "$name" "$col")
      if [ "$col" = 6 ]; then
        row+=" $(awk -v v="$v" -v b="$base" 'BEGIN { printf "%.0f M (%.3f)", v / 1e6, v / b }') |"
      elif [ "$col" = 4 ]; then
        row+=" $(awk -v v="$v" -v b="$base" 'BEGIN { printf "%.2f s (%.2f)", v, v / b }') |"
      else
        row+=" $(awk -v v="$v" -v b="$base" 'BEGIN { printf "%.1f MiB (%.2f)", v / 1024, v / b }') |"
      fi
      logsum[$name]=$(awk -v s="${logsum[$name]:-0}" -v v="$v" -v b="$base" 'BEGIN { printf "%.9f", s + log(v / b) }')
    done
    echo "$row"
  done
  local row="| geomean vs glibc |"
  for name in "${names[@]}"; do
    row+=" $(awk -v s="${logsum[$name]}" -v n="${#programs[@]}" 'BEGIN { printf "**%.2f**", exp(s / n) }') |"
  done
  echo "$row"
}

icount() { # program alloc: instructions (all processes) on stdout
  local prog=$1 name=$2 so=${lib[$2]} d=$work/vg-$1-$2
  rm -rf "$d"; mkdir -p "$d"
  local vg=(valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=/dev/null
    "--log-file=$d/log.%p")
  case $prog in
    gcc) (cd "$work/proj-small" && "$work/rusage" "$so" /dev/null "${vg[@]}" \
      gcc -O2 -g -c unit0.c -o "$d/unit0.o") ;;
    perl) "$work/rusage" "$so" /dev/null "${vg[@]}" perl alloc-cabi/tests/scripts/workload.pl 1 ;;
    bash) "$work/rusage" "$so" /dev/null "${vg[@]}" bash alloc-cabi/tests/scripts/workload.sh 1 ;;
    sort) "$work/rusage" "$so" /dev/null "${vg[@]}" sort --parallel=4 -S 64M "$work/sort-small.txt" ;;
  esac >/dev/null
  cat "$d"/log.* | awk '/Collected :/ { gsub(",", "", $NF); s += $NF } END { printf "%.0f\n", s }'
}

if [ "${ICOUNT:-1}" != 0 ]; then
  command -v valgrind >/dev/null || { echo "missing valgrind (or run with ICOUNT=0)" >&2; exit 1; }
  head -n 300000 "$work/sort-input.txt" > "$work/sort-small.txt"
  perl alloc-cabi/tests/scripts/gen_project.pl "$work/proj-small" 1 15
  : > "$out/icount.txt"
  for prog in "${programs[@]}"; do
    for name in "${names[@]}"; do
      n=$(icount "$prog" "$name")
      echo "$prog $name 1 0 0 $n" >> "$out/icount.txt"
      printf '  icount %-5s %-10s %14d\n' "$prog" "$name" "$n"
    done
  done
fi

{
  echo "Run of \`scripts/bench-preload.sh\` (RUNS=$runs):"
  echo
  echo '```text'
  cat "$out/machine.txt"
  echo '```'
  echo
  echo "Wall time, median of $runs (in brackets: the ratio to glibc; lower is better):"
  echo
  table 4 "wall time"
  echo
  echo "Peak RSS of the largest process, median of $runs (ratio to glibc):"
  echo
  table 5 "peak RSS"
  if [ -s "$out/icount.txt" ]; then
    echo
    echo "Instructions executed, all processes of the program summed (callgrind; smaller inputs:"
    echo "gcc -c of one 15-function file, perl and bash at scale 1, sort of 300k lines; ratio to"
    echo "glibc):"
    echo
    results=$out/icount.txt table 6 "instructions"
  fi
} > "$out/table.md"
echo
cat "$out/table.md"

if [ "${NO_DOCS:-0}" != 1 ]; then
  doc=docs/preload.md
  awk -v f="$out/table.md" '
    /<!-- bench-preload: begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
    /<!-- bench-preload: end -->/ { skip = 0 }
    !skip { print }' "$doc" > "$work/doc.md"
  cp "$work/doc.md" "$doc"
  echo "wrote the table into $doc; raw results in $out"
fi
