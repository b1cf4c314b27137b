#!/usr/bin/env python3
"""Crossmatch and cone-search benchmark: Lodestar vs the peers of bench/peers/, in one run, on the same inputs.

    .venv/bin/python bench/crossmatch.py --size 1e6 --work /tmp/lodestar-bench            # all peers
    .venv/bin/python bench/crossmatch.py --size 1e6 --peers lsdb,astropy --cone-rows 1e7

Cases (bench/peers/inputs.py): `sky` (N x N all sky; 80% of the right side are copies of left points moved
0.4", 20% random) and `dense` (the same inside a 1-degree field). Lodestar reads catalogs it ingests from the
same Parquet files (`lodestar.ingest`, not timed here); the peers read hats-import catalogs with a 5" margin
(LSDB, ACID), the Parquet (astropy), CSV (q3c) or FITS (STILTS) files. Printed: each time, pairs found (all
must agree) and Lodestar's speed-up; JSON to bench/results/crossmatch.json.

Cone latency: p50/p95 over random 1' cones (a) in the dense field, the same cones as LSDB and q3c, and (b) on
a large all-sky catalog of --cone-rows rows (generated with `lodestar generate-sky` and ingested).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import run_peers  # noqa: E402
from peers import agreement, inputs, percentile_ms  # noqa: E402

PEERS = ("lsdb", "acid", "astropy", "q3c", "stilts")
# Peers whose timed query only counts the pairs (ACID and Q3C count(*), STILTS omode=count): besides the ratio to
# Lodestar's full DataFrame, the like-for-like ratio of their nearest-neighbour count to Lodestar's count() is printed.
COUNTING_PEERS = ("acid", "q3c", "stilts")


def log(message: str) -> None:
    print(f"[crossmatch {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ingest(lodestar, parquet: Path, root: Path, name: str, threshold: int):
    """The catalog `name` ingested from `parquet` (a file, or a folder of Parquet files), cached: (catalog, seconds
    of ingest or None when cached)."""
    stamp = root / f"{name}.stamp"
    # The leaf format is part of the key: a catalog cached by an older writer is re-ingested.
    key = f"{parquet} {parquet.stat().st_mtime} {threshold} {lodestar._core.parquet_write_options}"
    if stamp.exists() and stamp.read_text() == key and (root / name).exists():
        return lodestar.Catalogs(root).load(name), None
    t = time.perf_counter()
    source = str(parquet / "*.parquet") if parquet.is_dir() else parquet
    cat = lodestar.ingest(source, name, root=root, pixel_threshold=threshold, overwrite=True, progress=False)
    stamp.write_text(key)
    return cat, time.perf_counter() - t


def timed(fn, repeats: int = 2):
    """(best seconds, result) over `repeats` runs (the first warms the file cache like the peers' warm-up)."""
    best, result = None, None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        s = time.perf_counter() - t
        best = s if best is None else min(best, s)
    return best, result


def lodestar_crossmatch(lodestar, case, root: Path, radius: float, threshold: int) -> dict:
    left, t_left = ingest(lodestar, case.path("left", "parquet"), root, f"{case.folder.name}_left", threshold)
    right, t_right = ingest(lodestar, case.path("right", "parquet"), root, f"{case.folder.name}_right", threshold)
    # The full result as a DataFrame (every column of both sides plus the distance), as LSDB's .compute() returns;
    # count() (what ACID's count(*) does) is timed too.
    # One untimed warm-up (imports, thread start-up, memory pools, file cache: ~0.7 s in a fresh process, as the
    # peers' first runs pay JIT and cluster start-up), then best of 3.
    left.crossmatch(right, radius_arcsec=radius, all_pairs=True).to_pandas()
    nearest_s, nearest = timed(lambda: len(left.crossmatch(right, radius_arcsec=radius).to_pandas()), repeats=3)
    all_s, pairs = timed(lambda: len(left.crossmatch(right, radius_arcsec=radius, all_pairs=True).to_pandas()), repeats=3)
    count_s, counted = timed(lambda: left.crossmatch(right, radius_arcsec=radius).count(), repeats=3)
    assert counted == nearest, (counted, nearest)
    n = case.n
    return {"seconds": nearest_s, "all_pairs_seconds": all_s, "count_seconds": count_s, "pairs_nearest": int(nearest),
            "pairs_all": int(pairs),
            "rows_per_s": 2 * n / nearest_s, "partitions": [len(left.partitions), len(right.partitions)],
            "ingest_seconds": [t_left, t_right], "version": lodestar.__version__, "threads": os.cpu_count()}


def cone_latency(cat, cones: np.ndarray, radius_arcsec: float = 60.0) -> dict:
    for ra, dec in cones:  # one untimed pass (engine start-up, and the file cache holds the leaves, as for LSDB)
        cat.cone_search(float(ra), float(dec), radius_arcsec).to_pandas()
    times, rows = [], 0
    for ra, dec in cones:
        t = time.perf_counter()
        rows += len(cat.cone_search(float(ra), float(dec), radius_arcsec).to_pandas())
        times.append(time.perf_counter() - t)
    return {"p50_ms": percentile_ms(times, 50), "p95_ms": percentile_ms(times, 95), "rows": rows, "cones": len(cones),
            "seconds": float(np.sum(times))}


def large_catalog(lodestar, work: Path, rows: int):
    label = inputs.size_label(rows)
    sky = work / "inputs" / f"generated_sky_{label}"
    root = work / "lodestar"
    name = f"large_sky_{label}"
    if not sky.exists():
        log(f"generate-sky {rows} rows")
        subprocess.run([sys.executable, "-m", "lodestar.cli", "generate-sky", str(sky), "--rows", str(rows), "--no-progress"],
                       check=True)
    cat, seconds = ingest(lodestar, sky, root, name, 1_000_000)
    if seconds is not None:
        log(f"ingested {name} in {seconds:.1f} s")
    return cat


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1e6", help="rows per side (default 1e6)")
    parser.add_argument("--work", default="/tmp/lodestar-bench", help="work folder (inputs and catalogs cached)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"subset of {','.join(PEERS)} ('' = Lodestar only)")
    parser.add_argument("--radius", type=float, default=1.0, help="arcsec (default 1; at most the 5\" margin)")
    parser.add_argument("--cones", type=int, default=100, help="1' cones per latency measurement (default 100)")
    parser.add_argument("--cone-rows", default="1e7", help="rows of the large catalog for cone latency (default 1e7; 0 skips)")
    parser.add_argument("--pixel-threshold", type=int, default=250_000, help="rows per partition (like the peers' catalogs)")
    parser.add_argument("--no-dense", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "crossmatch.json"))
    args = parser.parse_args(argv)
    size = inputs.parse_size(args.size)
    enabled = [p for p in (s.strip() for s in args.peers.split(",")) if p]
    work = Path(args.work)

    import lodestar

    # Peers first (their run also generates the inputs and hats-import catalogs, cached in the work folder).
    report = run_peers.run(size, work, enabled=enabled, radius=args.radius, n_cones=args.cones if enabled else 0,
                           pixel_threshold=args.pixel_threshold, dense=not args.no_dense)
    report["lodestar"] = mine = {}
    cases = [inputs.crossmatch_case(work, "sky", size)] + ([] if args.no_dense else [inputs.crossmatch_case(work, "dense", size)])
    root = work / "lodestar"
    for case in cases:
        key = f"crossmatch_{case.name}"
        log(f"{case.name}: lodestar crossmatch")
        mine[key] = lodestar_crossmatch(lodestar, case, root, args.radius, args.pixel_threshold)
        both = dict(report["benchmarks"].get(key, {}), lodestar=mine[key])
        report["agreement"][key] = {"true_matches": case.manifest["true_matches"],
                                    "pairs_nearest": agreement(both, "pairs_nearest"), "pairs_all": agreement(both, "pairs_all")}
    if args.cones:
        if not args.no_dense:
            log("cones: lodestar in the dense field")
            dense_right = lodestar.Catalogs(root).load(f"{cases[1].folder.name}_right")
            cones = inputs.random_cones(args.cones, field=(*inputs.DENSE_CENTER, inputs.DENSE_RADIUS_DEG - 0.05))
            mine["cone"] = cone_latency(dense_right, cones)
            peers_cone = dict(report["benchmarks"].get("cone", {}), lodestar=mine["cone"])
            report["agreement"]["cone_rows"] = agreement(peers_cone, "rows")
        cone_rows = inputs.parse_size(args.cone_rows) if args.cone_rows not in ("0", "") else 0
        if cone_rows:
            big = large_catalog(lodestar, work, cone_rows)
            rng = np.random.default_rng(7)
            cones = np.stack([rng.uniform(0, 360, args.cones), np.degrees(np.arcsin(rng.uniform(-1, 1, args.cones)))], axis=1)
            log(f"cones: lodestar on {cone_rows:,} rows")
            mine["cone_large"] = dict(cone_latency(big, cones), catalog_rows=cone_rows, partitions=len(big.partitions))
            if "lsdb" in enabled:
                # LSDB on the same catalog (it opens Lodestar's HATS catalogs), reading every column as Lodestar does.
                from peers import lsdb_peer

                log(f"cones: lsdb on {cone_rows:,} rows")
                lsdb_large = lsdb_peer.cone_latency(work / "lodestar" / big.name, cones, columns=list(big.columns))
                report["benchmarks"].setdefault("cone_large", {})["lsdb"] = lsdb_large
                report["agreement"]["cone_large_rows"] = agreement(dict(lsdb=lsdb_large, lodestar=mine["cone_large"]), "rows")

    speedup_base = {k: v["seconds"] for k, v in mine.items() if k.startswith("crossmatch")}
    print(run_peers.format_table(report, lodestar=speedup_base))
    print()
    for key, r in mine.items():
        if key.startswith("crossmatch"):
            print(f"lodestar {key}: nearest {r['seconds']:.3f} s to pandas ({r['pairs_nearest']:,} pairs, {r['rows_per_s']:,.0f} "
                  f"input rows/s; count() {r['count_seconds']:.3f} s), all pairs {r['all_pairs_seconds']:.3f} s "
                  f"({r['pairs_all']:,} pairs); partitions {r['partitions']}")
            r["count_speedups"] = {}
            for peer, pr in report["benchmarks"].get(key, {}).items():
                if pr.get("seconds"):
                    like = ""
                    if peer in COUNTING_PEERS:  # the peer only counts the pairs: so does count() (both nearest)
                        r["count_speedups"][peer] = pr.get("nearest_seconds", pr["seconds"]) / r["count_seconds"]
                        like = f"; count() vs its count: {r['count_speedups'][peer]:5.1f}x"
                    print(f"    vs {peer:<8} {pr['seconds']:8.3f} s -> lodestar {pr['seconds'] / r['seconds']:6.1f}x{like}")
        else:
            extra = f" on {r['catalog_rows']:,} rows ({r['partitions']} partitions)" if "catalog_rows" in r else " (dense field)"
            print(f"lodestar {key}{extra}: p50 {r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms, {r['rows']:,} rows in {r['cones']} cones")
            for peer, pr in report["benchmarks"].get(key, {}).items():
                if pr.get("p50_ms"):
                    print(f"    vs {peer:<8} p50 {pr['p50_ms']:7.2f} ms -> lodestar {pr['p50_ms'] / r['p50_ms']:6.1f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
