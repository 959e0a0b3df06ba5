#!/usr/bin/env python3
"""Markdown tables from the JSON lines of scripts/bench-mt.sh (one argument: mt.jsonl)."""
import json
import sys

ORDER = ["System", "PoolAlloc", "PoolAlloc before", "mimalloc", "jemalloc", "snmalloc"]
MIB = 1 << 20


def main(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    allocs = [a for a in ORDER if any(r["alloc"] == a for r in rows)]
    by, runs = {}, {}
    for r in rows:
        key = (r["scenario"], r.get("threads"))
        runs.setdefault(key, {}).setdefault(r["alloc"], []).append(r)
    for key, per in runs.items():
        for a, rs in per.items():
            # Repeated runs (the scaling table): the one with the median time per op.
            if "ns_per_op" in rs[0]:
                rs = sorted(rs, key=lambda r: r["ns_per_op"])
            by.setdefault(key, {})[a] = rs[len(rs) // 2]

    def mem_row(label, key, f):
        cells = []
        for a in allocs:
            r = by.get((key, None), {}).get(a)
            cells.append(f(r) if r else "n/a")
        print(f"| {label} | " + " | ".join(cells) + " |")

    mib = lambda v: f"{v / MIB:.1f}"
    print("### Memory (RSS in MiB from /proc/self/status)\n")
    print("| scenario | " + " | ".join(allocs) + " |")
    print("|---|" + "---:|" * len(allocs))
    mem_row("1 GiB of 16 B..32 KiB blocks, all freed, then trim", "free-all",
            lambda r: mib(r["rss_trim"]))
    mem_row("same, 10 % survive: RSS after trim", "survivors", lambda r: mib(r["rss_trim"]))
    mem_row("same: (RSS after trim − start) / live bytes", "survivors",
            lambda r: f"{(r['rss_trim'] - r['rss_start']) / max(r['live'], 1):.2f}x")
    mem_row("worker frees 512 MiB and idles; main trims", "idle-worker",
            lambda r: mib(r["rss_trim"]))
    mem_row("64 rounds of 64 MiB (4..64 KiB) alloc/free: seconds", "waves",
            lambda r: f"{r['secs']:.2f}")
    mem_row("same: minor page faults", "waves", lambda r: f"{r['minflt']:,}")
    for at in [0.0, 0.25, 0.5, 1.0, 2.0, 3.0]:
        mem_row(f"1 GiB burst freed, no call: RSS after {at:g} s", "idle-decay",
                lambda r, at=at: mib(next(v for t, v in r["samples"] if t == at)))
    mem_row("peak RSS of the 1 GiB burst", "free-all", lambda r: mib(r["rss_peak"]))
    print()
    for w, title in [("churn", "independent churn, 8 B..1 KiB"),
                     ("ring", "ring hand-off (larson-like), 16..512 B in batches of 64"),
                     ("pairs", "producer→consumer pairs, 256 B in batches of 64")]:
        ts = sorted({k[1] for k in by if k[0] == w})
        if not ts:
            continue
        print(f"### Scaling: {title} (ns per op, median of the runs; lower is better)\n")
        print("| threads | " + " | ".join(allocs) + " | PoolAlloc / best peer |")
        print("|---:|" + "---:|" * (len(allocs) + 1))
        for t in ts:
            cells, vals = [], {}
            for a in allocs:
                r = by[(w, t)].get(a)
                if r:
                    vals[a] = r["ns_per_op"]
                cells.append(f"{r['ns_per_op']:.1f}" if r else "n/a")
            peers = [v for a, v in vals.items() if not a.startswith("PoolAlloc")]
            ratio = f"{vals['PoolAlloc'] / min(peers):.2f}x" if "PoolAlloc" in vals and peers else "n/a"
            print(f"| {t} | " + " | ".join(cells) + f" | {ratio} |")
        print()
    js = by.get(("json", None), {})
    if js:
        print("### serde_json DOM parse + serialize (µs per document; peak RSS MiB)\n")
        print("| document | " + " | ".join(allocs) + " |")
        print("|---|" + "---:|" * len(allocs))
        for doc in ["tweets", "events", "geojson"]:
            size = next(iter(js.values()))[f"{doc}_bytes"]
            cells = [f"{js[a][doc + '_ns'] / 1000:.0f}" if a in js else "n/a" for a in allocs]
            print(f"| {doc} ({size / MIB:.1f} MiB) | " + " | ".join(cells) + " |")
        cells = [f"{js[a]['maxrss_kib'] / 1024:.1f}" if a in js else "n/a" for a in allocs]
        print("| peak RSS | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
