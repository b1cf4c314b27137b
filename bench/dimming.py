"""Throughput of the dimming search through the catalog API (light-curve catalog ->
C++ detector + periodicity test + GSL fit per partition, on the executor's threads),
and in the same run the same search written as a per-object Python function
(the numpy detector + scipy fit, `lodestar.lightcurves.dimming_search_python`) run
  - with pandas groupby over the flat detections (the seed's UDF style), and
  - with LSDB / nested-pandas `map_rows` over the same light-curve catalog,
on a subset of objects (they are slow), compared per core.

Writes bench/results/dimming.json and prints a table.
Usage: python bench/dimming.py [--objects 20000] [--python-objects 400] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import warnings
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import lodestar
from lodestar.datasets import make_survey
from lodestar.lightcurves import BYTES_PER_DETECTION, build_light_curves, dimming_search_python
from lodestar.workflow import ingest_survey


def best_of(fn, repeat, clock=time.perf_counter):
    best, out = np.inf, None
    for _ in range(repeat):
        s = clock()
        out = fn()
        best = min(best, clock() - s)
    return best, out


def cpu_of(fn, repeat):
    """Least CPU time of this thread over `repeat` runs (the single-threaded peers): on a machine shared with
    other jobs, CPU seconds measure the work, wall seconds also the waiting."""
    return best_of(fn, repeat, clock=time.thread_time)


def pandas_peer(detections: pd.DataFrame) -> int:
    n = 0
    for _, g in detections.sort_values(["object_id", "mjd"]).groupby("object_id", sort=True):
        n += len(dimming_search_python(g.mjd.to_numpy(), g.mag.to_numpy(), g.mag_err.to_numpy(), g.band.to_numpy()))
    return n


def lsdb_peer(path: str) -> int:
    import lsdb

    cat = lsdb.open_catalog(path, columns=["object_id", "lc"])

    def fn(t, m, e, b):
        return len(dimming_search_python(t, m, e, b))

    res = cat.map_rows(fn, columns=["lc.mjd", "lc.mag", "lc.mag_err", "lc.band"], row_container="args", output_names="n_events",
                       meta={"n_events": np.int64})
    import dask

    with dask.config.set(scheduler="synchronous"):  # one core, like the other per-object peer
        return int(res.compute()["n_events"].sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=20000)
    ap.add_argument("--python-objects", type=int, default=400, help="objects for the slow per-object Python peers")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--root", default=None, help="catalog root to use (default: a temporary folder)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # scipy's trial steps, lsdb deprecations

    tmp = tempfile.TemporaryDirectory() if args.root is None else None
    root = Path(args.root or tmp.name)
    survey = make_survey(n_objects=args.objects, seed=42)
    objects, detections, _ = ingest_survey(survey, root, root / ".work")
    lcs = build_light_curves(detections, name="bench_lc", root=root, objects=objects, overwrite=True, progress=False)
    from lodestar.executor import ThreadExecutor

    cores = ThreadExecutor().threads

    runs = [lcs.find_dimming_events(include_periodic=True, progress=False) for _ in range(args.repeat)]
    t_cat, ev = best_of(lambda: lcs.find_dimming_events(include_periodic=True, progress=False), args.repeat)
    cpu_cat = min(r.attrs["cpu_seconds"] for r in runs + [ev])  # summed over the tasks: read + convert + search
    n_det, n_lc = ev.attrs["detections"], ev.attrs["light_curves"]
    mb = n_det * BYTES_PER_DETECTION / 1e6
    t_nofit, _ = best_of(lambda: lcs.find_dimming_events(include_periodic=True, fit=False, progress=False), args.repeat)

    # The Python peers on the first N objects (same light curves for both).
    first = survey.objects.object_id.sort_values().iloc[: args.python_objects]
    cut = int(first.max())
    small = build_light_curves(detections.where(f"object_id <= {cut}"), name="bench_lc_small", root=root, objects=objects, overwrite=True,
                               progress=False)
    t_cpp_small, ev_small = best_of(lambda: small.find_dimming_events(include_periodic=True, progress=False), args.repeat)
    det_small = survey.detections[survey.detections.object_id <= cut]
    t_pd, n_pd = best_of(lambda: pandas_peer(det_small), 1)
    cpu_pd, _ = cpu_of(lambda: pandas_peer(det_small), 1)
    cpu_small = min(small.find_dimming_events(include_periodic=True, progress=False).attrs["cpu_seconds"] for _ in range(args.repeat))
    try:
        t_lsdb, n_lsdb = best_of(lambda: lsdb_peer(small.path), 1)
        lsdb_note = "lsdb.open_catalog(...).map_rows(fn, columns=['lc.mjd', ...], row_container='args'), synchronous scheduler"
    except Exception as e:  # report why, do not fake a number
        t_lsdb, n_lsdb, lsdb_note = float("nan"), None, f"map_rows failed: {type(e).__name__}: {e}"

    cpp_lc_s_core = n_lc / t_cat / cores
    res = {
        "machine": {"cores": cores, "platform": platform.platform(), "note": "shared 2-core machine; numbers are lower bounds"},
        "survey": {"objects": args.objects, "detections": int(n_det), "light_curves": int(n_lc), "mb_lightcurve_data": round(mb, 1),
                   "bytes_per_detection": BYTES_PER_DETECTION},
        "catalog_api": {"seconds": round(t_cat, 3), "mb_per_s": round(mb / t_cat, 1), "mb_per_s_per_core": round(mb / t_cat / cores, 1),
                        "light_curves_per_s": round(n_lc / t_cat), "light_curves_per_s_per_core": round(cpp_lc_s_core),
                        "events": int(len(ev)), "seconds_detection_only": round(t_nofit, 3),
                        "cpu_seconds": round(cpu_cat, 3), "mb_per_cpu_second": round(mb / cpu_cat, 1),
                        "light_curves_per_cpu_second": round(n_lc / cpu_cat)},
        "python_peers": {
            "objects": int(len(first)),
            "cpp_events_on_subset": int(len(ev_small)),
            "pandas_groupby_scipy": {"seconds": round(t_pd, 2), "light_curves_per_s": round(len(first) / t_pd, 1), "events": n_pd,
                                     "speedup_per_core": round(cpp_lc_s_core / (len(first) / t_pd), 1),
                                     "cpu_seconds": round(cpu_pd, 2),
                                     "speedup_per_cpu_second": round((n_lc / cpu_cat) / (len(first) / cpu_pd), 1),
                                     "speedup_per_cpu_second_same_objects": round(cpu_pd / cpu_small, 1)},
            "lsdb_map_rows": {"seconds": round(t_lsdb, 2), "light_curves_per_s": round(len(first) / t_lsdb, 1) if t_lsdb == t_lsdb else None,
                              "events": n_lsdb, "how": lsdb_note,
                              "speedup_per_core": round(cpp_lc_s_core / (len(first) / t_lsdb), 1) if t_lsdb == t_lsdb else None},
        },
        "top_candidates": ev[~ev.periodic].head(5)[["object_id", "ra", "dec", "t0", "amplitude", "score"]].to_dict("records"),
    }
    out = Path(__file__).parent / "results" / "dimming.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=float) + "\n")
    c, p = res["catalog_api"], res["python_peers"]
    print(f"dimming search, {n_lc:,} light curves, {n_det:,} detections ({mb:.0f} MB of light-curve data), {cores} cores")
    print(f"{'':44} {'seconds':>9} {'LC/s/core':>10} {'MB/s/core':>10} {'speed-up':>9}")
    print(f"{'catalog API (C++ + GSL, threads)':44} {c['seconds']:9.2f} {cpp_lc_s_core:10.0f} {c['mb_per_s_per_core']:10.1f} {'1':>9}")
    for label, k in (("pandas groupby + scipy (per object)", "pandas_groupby_scipy"), ("LSDB map_rows + scipy (per object)", "lsdb_map_rows")):
        r = p[k]
        lcs_s = r["light_curves_per_s"] or float("nan")
        print(f"{label:44} {r['seconds']:9.2f} {lcs_s:10.1f} {lcs_s * mb / n_lc:10.3f} {str(r['speedup_per_core']) + 'x':>9}")
    print(f"CPU time: catalog API {c['cpu_seconds']:.2f} CPU-s = {c['mb_per_cpu_second']:.1f} MB per CPU-second, "
          f"{c['light_curves_per_cpu_second']} LC per CPU-second; pandas peer {p['pandas_groupby_scipy']['cpu_seconds']:.2f} CPU-s: "
          f"{p['pandas_groupby_scipy']['speedup_per_cpu_second']}x per CPU-second "
          f"({p['pandas_groupby_scipy']['speedup_per_cpu_second_same_objects']}x on the same {p['objects']} objects)")
    print(f"(Python peers on {p['objects']} objects, single core: {p['pandas_groupby_scipy']['events']} / {p['lsdb_map_rows']['events']} events; "
          f"C++ {p['cpp_events_on_subset']} incl. periodic)")
    print(f"wrote {out}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
