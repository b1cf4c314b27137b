"""Throughput of the C++ dimming search on the synthetic ZTF-like survey, and of the
same search written with pandas groupby + scipy per object (the seed paper's UDF style).

Prints a summary and writes bench/results/lightcurve_kernels.json.
Usage: python bench/lightcurve_kernels.py [--objects 20000] [--python-objects 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lodestar import _core, datasets
from lodestar.lightcurve_fit import fit_dip_scipy

BYTES_PER_DETECTION = 8 + 8 + 8 + 1  # time, mag, mag_err (float64) + band (int8)


def python_search(detections: pd.DataFrame, k_sigma=3.0, extend_sigma=1.5, min_points=3, min_depth_mag=0.05) -> pd.DataFrame:
    """The detector + fit, per object with pandas/numpy/scipy (no periodicity test: it only makes the C++ side do more)."""
    rows = []
    for oid, lc in detections.groupby("object_id", sort=True):
        lc = lc.sort_values("mjd")
        parts = []
        for _, b in lc.groupby("band"):
            if len(b) < 5:
                continue
            med = b["mag"].median()
            scatter = 1.4826 * (b["mag"] - med).abs().median()
            excess2 = max(0.0, scatter**2 - b["mag_err"].median() ** 2)
            parts.append(pd.DataFrame({"t": b["mjd"], "r": b["mag"] - med, "s": np.sqrt(b["mag_err"] ** 2 + excess2)}))
        if not parts:
            continue
        d = pd.concat(parts).sort_values("t", kind="stable")
        t, r, s = d["t"].to_numpy(), d["r"].to_numpy(), d["s"].to_numpy()
        z = r / s
        i = 0
        while i < len(z):
            if z[i] < extend_sigma:
                i += 1
                continue
            j = i
            while j + 1 < len(z) and z[j + 1] >= extend_sigma:
                j += 1
            run = slice(i, j + 1)
            if (z[run] >= k_sigma).sum() >= min_points and r[run].max() >= min_depth_mag:
                dur = t[j] - t[i]
                pad = max(2 * dur, 10.0)
                w = (t >= t[i] - pad) & (t <= t[j] + pad)
                if w.sum() > 5:
                    fit = fit_dip_scipy(t[w], r[w], s[w], t0_guess=t[i + np.argmax(r[run])], baseline_mag=0.0, sigma_guess=max(dur / 2, 0.5))
                    rows.append({"object_id": oid, "start": t[i], "end": t[j], "amplitude": fit["amplitude"]})
            i = j + 1
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=20000)
    ap.add_argument("--python-objects", type=int, default=1000, help="objects for the (slow) pandas+scipy version")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t0 = time.perf_counter()
    survey = datasets.make_survey(n_objects=args.objects, seed=42)
    gen_s = time.perf_counter() - t0
    oid, off, t, mag, err, band = datasets.detections_to_csr(survey.detections)
    n_det = len(t)
    mb = n_det * BYTES_PER_DETECTION / 1e6

    best = np.inf
    for _ in range(args.repeat):
        s = time.perf_counter()
        ev = _core.find_dimming_events(off, t, mag, err, band)
        best = min(best, time.perf_counter() - s)
    s = time.perf_counter()
    _core.find_dimming_events(off, t, mag, err, band, fit=False)
    detect_only = time.perf_counter() - s
    s = time.perf_counter()
    _core.lightcurve_features(off, t, mag, err, band)
    features_s = time.perf_counter() - s

    sub_ids = oid[: args.python_objects]
    sub = survey.detections[survey.detections.object_id.isin(sub_ids)]
    s = time.perf_counter()
    py_events = python_search(sub)
    py_s = time.perf_counter() - s
    py_rate = len(sub_ids) / py_s
    sub_off = off[: args.python_objects + 1]
    n_sub = sub_off[-1]
    s = time.perf_counter()
    cpp_sub = _core.find_dimming_events(sub_off, t[:n_sub], mag[:n_sub], err[:n_sub], band[:n_sub])
    cpp_sub_s = time.perf_counter() - s

    result = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "survey": {"objects": int(len(oid)), "detections": int(n_det), "megabytes": round(mb, 1), "generate_seconds": round(gen_s, 2)},
        "cpp_dimming_search": {
            "seconds": round(best, 3),
            "mb_per_s_per_core": round(mb / best, 1),
            "light_curves_per_s": round(len(oid) / best),
            "events": int(len(ev["object_index"])),
            "detect_only_seconds": round(detect_only, 3),
        },
        "cpp_features_seconds": round(features_s, 3),
        "pandas_scipy_search": {
            "objects": int(len(sub_ids)),
            "seconds": round(py_s, 3),
            "light_curves_per_s": round(py_rate, 1),
            "events": int(len(py_events)),
            "cpp_events_same_objects": int(len(cpp_sub["object_index"])),
            "cpp_seconds_same_objects": round(cpp_sub_s, 4),
        },
        "speedup_light_curves_per_s": round((len(oid) / best) / py_rate, 1),
    }
    out = Path(__file__).resolve().parent / "results" / "lightcurve_kernels.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
