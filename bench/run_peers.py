#!/usr/bin/env python3
"""Run every available peer of Lodestar's benchmarks on the same generated inputs; print a table, write JSON.

    .venv/bin/python bench/run_peers.py --size 1e6 --work /tmp/lodestar-bench

Inputs and HATS catalogs are cached in the work folder (a second run reuses them). Peers that are not
installed, or that fail, are reported with a reason; the run itself never stops on one peer. The JSON
(`bench/results/peers.json` by default) keeps every number each peer returned; `format_table(report, lodestar)`
adds Lodestar's speed-up column when given Lodestar's seconds per benchmark (see bench/PEERS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # LSDB/hats progress bars would drown the table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import (  # noqa: E402
    DEFAULT_RADIUS_ARCSEC,
    MARGIN_ARCSEC,
    acid_peer,
    agreement,
    astropy_sky,
    duckdb_copy,
    guarded,
    hats_import,
    inputs,
    is_unavailable,
    lsdb_peer,
    q3c,
    stilts,
    stopwatch,
    unavailable,
)

ALL_PEERS = ("hats_import", "duckdb", "lsdb", "acid", "astropy", "q3c", "stilts")
CONE_RADIUS_ARCSEC = 60.0


def log(message: str) -> None:
    print(f"[run_peers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def crossmatch_case(enabled, case: inputs.CrossmatchCase, cats: dict, radius: float, cones=None) -> dict:
    """All crossmatch peers on one case."""
    left_ok = not is_unavailable(cats["left"])
    right_ok = not is_unavailable(cats["right"])
    no_hats = unavailable("the HATS catalogs could not be built (see setup.hats_import)")
    results: dict[str, dict] = {}
    if "astropy" in enabled:
        log(f"{case.name}: astropy search_around_sky")
        results["astropy"] = guarded(astropy_sky.crossmatch, case.path("left", "parquet"), case.path("right", "parquet"), radius)
    if "lsdb" in enabled:
        log(f"{case.name}: lsdb crossmatch")
        results["lsdb"] = (guarded(lsdb_peer.crossmatch, cats["left"]["catalog"], cats["right"]["catalog"],
                                   cats["right"]["margin"], radius) if left_ok and right_ok else no_hats)
    if "acid" in enabled:
        log(f"{case.name}: acid XMATCH")
        results["acid"] = (guarded(acid_peer.crossmatch, cats["left"]["catalog"], cats["right"]["catalog"],
                                   cats["right"]["margin"], radius) if left_ok and right_ok else no_hats)
    if "q3c" in enabled:
        log(f"{case.name}: q3c (private PostgreSQL server)")
        results["q3c"] = guarded(q3c.crossmatch, case.path("left", "csv"), case.path("right", "csv"), radius, cones=cones,
                                 cone_radius_arcsec=CONE_RADIUS_ARCSEC)
    if "stilts" in enabled:
        log(f"{case.name}: stilts tmatch2")
        results["stilts"] = guarded(stilts.crossmatch, case.path("left", "fits"), case.path("right", "fits"), radius)
    return results


def run(size: int, work: Path, enabled=ALL_PEERS, radius: float = DEFAULT_RADIUS_ARCSEC, n_cones: int = 100,
        pixel_threshold: int = hats_import.DEFAULT_PIXEL_THRESHOLD, dense: bool = True) -> dict:
    """Run the peers; return the report (also what goes to JSON)."""
    warnings.filterwarnings("ignore")
    work.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "size": size,
        "work": str(work),
        "radius_arcsec": radius,
        "margin_arcsec": MARGIN_ARCSEC,
        "cone_radius_arcsec": CONE_RADIUS_ARCSEC,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "setup": {},
        "benchmarks": {},
        "agreement": {},
    }
    setup, bench = report["setup"], report["benchmarks"]

    log(f"inputs at {work}/inputs (size {size})")
    with stopwatch() as t:
        sky = inputs.crossmatch_case(work, "sky", size)
        dense_case = inputs.crossmatch_case(work, "dense", size) if dense else None
        ingest = inputs.ingest_case(work, size)
    setup["inputs_seconds"] = t()
    setup["inputs"] = {"sky": sky.manifest, **({"dense": dense_case.manifest} if dense_case else {}), "ingest_csv": str(ingest.csv)}
    cases = [sky] + ([dense_case] if dense_case else [])
    cones = inputs.random_cones(n_cones, field=(*inputs.DENSE_CENTER, inputs.DENSE_RADIUS_DEG - 0.05)) if n_cones else None

    # ---------------------------------------------------------------- HATS catalogs + hats-import ingest
    cats: dict[str, dict] = {}
    need_hats = {"hats_import", "lsdb", "acid"} & set(enabled)
    if need_hats:
        try:
            with hats_import.dask_client() as (client, start_s):
                setup["dask_client_start_seconds"] = start_s
                for case in cases:
                    log(f"hats-import: HATS catalogs of {case.folder.name} (cached after the first run)")
                    with stopwatch() as t:
                        cats[case.name] = {
                            side: guarded(hats_import.import_catalog, case.path(side, "parquet"), work / "hats" / case.folder.name,
                                          side, client=client, pixel_threshold=pixel_threshold, margin_arcsec=MARGIN_ARCSEC)
                            for side in ("left", "right")}
                    setup[f"hats_{case.name}"] = {**cats[case.name], "wall_seconds": t()}
                if "hats_import" in enabled:
                    log("ingest: hats-import CSV -> HATS")
                    bench.setdefault("ingest", {})["hats_import"] = guarded(
                        hats_import.import_catalog, ingest.csv, work / "out" / f"ingest_{inputs.size_label(size)}", "hats_import",
                        client=client, pixel_threshold=pixel_threshold, margin_arcsec=None, reuse=False)
        except Exception as exc:  # noqa: BLE001 - e.g. Dask cannot start
            reason = unavailable(f"Dask/hats-import could not run: {type(exc).__name__}: {exc}")
            for case in cases:
                cats.setdefault(case.name, {"left": reason, "right": reason})
    for case in cases:
        cats.setdefault(case.name, {"left": unavailable("not built"), "right": unavailable("not built")})

    # ---------------------------------------------------------------- ingest: plain DuckDB COPY
    if "duckdb" in enabled:
        log("ingest: DuckDB COPY CSV -> Parquet")
        bench.setdefault("ingest", {})["duckdb_copy"] = guarded(
            duckdb_copy.csv_to_parquet, ingest.csv, work / "out" / f"ingest_{inputs.size_label(size)}.parquet")

    # ---------------------------------------------------------------- sum(ra) over the sky right catalog
    right_sky = cats["sky"]["right"]
    if not is_unavailable(right_sky):
        sums = bench["sum_ra"] = {}
        if "duckdb" in enabled:
            sums["duckdb"] = guarded(duckdb_copy.sum_ra, hats_import.leaf_files(right_sky["catalog"]))
        if "lsdb" in enabled:
            sums["lsdb"] = guarded(lsdb_peer.sum_ra, right_sky["catalog"])
        if "acid" in enabled:
            sums["acid"] = guarded(acid_peer.sum_ra, right_sky["catalog"])
        values = [r["result"] for r in sums.values() if r.get("result") is not None]
        truth = float(__import__("pyarrow.parquet").parquet.read_table(sky.path("right", "parquet"), columns=["ra"])["ra"]
                      .to_numpy().sum())
        report["agreement"]["sum_ra"] = {
            "input_sum": truth,
            "values": {k: r.get("result") for k, r in sums.items()},
            "agree": all(abs(v - truth) <= 1e-9 * abs(truth) for v in values),
        }

    # ---------------------------------------------------------------- crossmatches
    for case in cases:
        key = f"crossmatch_{case.name}"
        bench[key] = crossmatch_case(enabled, case, cats[case.name], radius, cones=cones if case.name == "dense" else None)
        report["agreement"][key] = {
            "true_matches": case.manifest["true_matches"],
            "pairs_nearest": agreement(bench[key], "pairs_nearest"),
            "pairs_all": agreement(bench[key], "pairs_all"),
        }

    # ---------------------------------------------------------------- cone latency (dense field, 1')
    if n_cones:
        cone = bench["cone"] = {}
        right_dense = cats.get("dense", {}).get("right", unavailable("dense case disabled"))
        if "lsdb" in enabled:
            log(f"cones: lsdb cone_search x {n_cones}")
            cone["lsdb"] = (guarded(lsdb_peer.cone_latency, right_dense["catalog"], cones, CONE_RADIUS_ARCSEC)
                            if not is_unavailable(right_dense) else right_dense)
        q3c_dense = bench.get("crossmatch_dense", {}).get("q3c")
        if q3c_dense is not None:
            cone["q3c"] = (dict(q3c_dense["cone"], seconds=None, version=q3c_dense.get("version"))
                           if "cone" in q3c_dense else q3c_dense)
        report["agreement"]["cone_rows"] = agreement(cone, "rows")

    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    return report


# -------------------------------------------------------------------------------------------------------- output


def _fmt(value, spec: str) -> str:
    """format(value, spec), or a right-aligned '-' of the same width when there is no value."""
    width = int("".join(ch for ch in spec.split(".")[0].split(",")[0] if ch.isdigit()) or 0)
    return "-".rjust(width) if value is None else format(value, spec)


def format_table(report: dict, lodestar: dict[str, float] | None = None) -> str:
    """One line per (benchmark, peer). `lodestar` maps a benchmark name (e.g. 'crossmatch_sky') to Lodestar's
    seconds on it; when given, a 'lodestar x' column shows Lodestar's speed-up over each peer (peer/lodestar)."""
    head = f"{'benchmark':<18} {'peer':<12} {'seconds':>9} {'pairs_nearest':>13} {'pairs_all':>10} {'rows/s':>11} {'p50/p95 ms':>13}"
    if lodestar:
        head += f" {'lodestar x':>10}"
    lines = [head, "-" * len(head)]
    for name, peers in report["benchmarks"].items():
        for peer, r in peers.items():
            if is_unavailable(r):
                lines.append(f"{name:<18} {peer:<12} unavailable: {r['unavailable']}")
                continue
            latency = f"{r['p50_ms']:.1f}/{r['p95_ms']:.1f}" if "p50_ms" in r else "-"
            line = (f"{name:<18} {peer:<12} {_fmt(r.get('seconds'), '9.3f')} {_fmt(r.get('pairs_nearest'), '13d')} "
                    f"{_fmt(r.get('pairs_all'), '10d')} {_fmt(r.get('rows_per_s'), '11,.0f')} {latency:>13}")
            if lodestar:
                mine = lodestar.get(name)
                theirs = r.get("seconds")
                line += f" {_fmt(theirs / mine if mine and theirs else None, '9.1f')}x"
            lines.append(line)
    lines.append("")
    for name, check in report["agreement"].items():
        if name.startswith("crossmatch"):
            for key in ("pairs_nearest", "pairs_all"):
                c = check[key]
                lines.append(f"agreement {name} {key}: {'OK' if c['agree'] else 'DISAGREE'} {c['values']}")
        else:
            lines.append(f"agreement {name}: {'OK' if check.get('agree') else 'DISAGREE'} {check.get('values')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1e6", help="rows per catalog side, e.g. 1e6 or 1e7 (default 1e6)")
    parser.add_argument("--work", default="/tmp/lodestar-bench", help="work folder for inputs and catalogs (cached)")
    parser.add_argument("--out", default=str(HERE / "results" / "peers.json"), help="JSON report path")
    parser.add_argument("--peers", default=",".join(ALL_PEERS), help=f"comma-separated subset of {','.join(ALL_PEERS)}")
    parser.add_argument("--radius", type=float, default=DEFAULT_RADIUS_ARCSEC, help="crossmatch radius in arcsec (default 1)")
    parser.add_argument("--cones", type=int, default=100, help="number of 1-arcmin cones for latency (0 = skip)")
    parser.add_argument("--pixel-threshold", type=int, default=hats_import.DEFAULT_PIXEL_THRESHOLD,
                        help="hats-import rows per leaf partition")
    parser.add_argument("--no-dense", action="store_true", help="skip the dense-field case")
    parser.add_argument("--table", metavar="JSON", help="only print the table of an existing JSON report")
    args = parser.parse_args(argv)
    if args.table:
        print(format_table(json.loads(Path(args.table).read_text())))
        return 0
    try:
        size = inputs.parse_size(args.size)
    except ValueError as exc:
        parser.error(str(exc))
    enabled = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = sorted(set(enabled) - set(ALL_PEERS))
    if unknown:
        parser.error(f"unknown peer(s) {unknown}; expected a subset of {list(ALL_PEERS)}")
    if args.radius > MARGIN_ARCSEC:
        parser.error(f"--radius {args.radius} exceeds the HATS margin ({MARGIN_ARCSEC} arcsec) the catalogs are built with")

    report = run(size, Path(args.work), enabled, args.radius, args.cones, args.pixel_threshold, dense=not args.no_dense)
    print(format_table(report))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
