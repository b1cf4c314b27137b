"""Benchmark of the crossmatch kernel alone (lodestar._core.crossmatch_arrays).

The workload of the crossmatch issue: 1e6 left x 1e6 right rows, 80% of the right side are copies of left points
shifted ~0.4" in a random direction, 20% are random; radius 1". Two skies: a partition-sized patch (what one kernel
call sees in a real crossmatch: the rows of one HATS pixel plus margin) and the whole sphere. Prints rows/s/core
(input rows = left + right, one thread) and the ratio to astropy's search_around_sky on the same arrays; writes
bench/results/xmatch_kernel.json.

    PYTHONPATH=build/<dir>/python .venv/bin/python bench/xmatch_kernel.py [--rows 1000000] [--repeat 3]
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from lodestar import _core


def shifted(ra, dec, sep_deg, rng):
    """Points sep_deg away from (ra, dec) in uniformly random directions (exact spherical offset)."""
    d0, a0 = np.radians(dec), np.radians(ra)
    s, az = np.radians(sep_deg), rng.uniform(0, 2 * np.pi, ra.size)
    d1 = np.arcsin(np.clip(np.sin(d0) * np.cos(s) + np.cos(d0) * np.sin(s) * np.cos(az), -1, 1))
    a1 = a0 + np.arctan2(np.sin(az) * np.sin(s) * np.cos(d0), np.cos(s) - np.sin(d0) * np.sin(d1))
    return np.degrees(a1) % 360.0, np.degrees(d1)


def make_sky(n, patch, rng):
    """Left points and the right side: 80% shifted copies (~0.4"), 20% random, shuffled."""
    if patch:  # a 2 x 2 deg field straddling RA 0 (about one order-5 HATS pixel with its margin)
        def draw(m):
            ra = rng.uniform(-1.0, 1.0, m) % 360.0
            dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(29.0)), np.sin(np.radians(31.0)), m)))
            return ra, dec
    else:
        def draw(m):
            return rng.uniform(0, 360, m), np.degrees(np.arcsin(rng.uniform(-1, 1, m)))
    ra1, dec1 = draw(n)
    n_copy = int(0.8 * n)
    pick = rng.choice(n, n_copy, replace=False)
    ra_c, dec_c = shifted(ra1[pick], dec1[pick], rng.uniform(0.3, 0.5, n_copy) / 3600.0, rng)
    ra_r, dec_r = draw(n - n_copy)
    ra2, dec2 = np.concatenate([ra_c, ra_r]), np.concatenate([dec_c, dec_r])
    order = rng.permutation(n)
    return ra1, dec1, ra2[order], dec2[order]


def best_of(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--radius", type=float, default=1.0, help="arcsec")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-astropy", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "xmatch_kernel.json"))
    args = ap.parse_args(argv)
    rng = np.random.default_rng(42)
    results = {"rows_per_side": args.rows, "radius_arcsec": args.radius, "machine": platform.processor() or platform.machine(),
               "goal_rows_per_s_per_core": 2e7, "cases": []}
    for name, patch in [("patch_2x2deg", True), ("all_sky", False)]:
        ra1, dec1, ra2, dec2 = make_sky(args.rows, patch, rng)
        case = {"sky": name}
        for mode, kw in [("nearest", {}), ("all_pairs", {"all_pairs": True})]:
            t, (li, ri, d) = best_of(lambda: _core.crossmatch_arrays(ra1, dec1, ra2, dec2, args.radius, **kw), args.repeat)
            rate = 2 * args.rows / t
            case[mode] = {"seconds": t, "rows_per_s_per_core": rate, "pairs": int(li.size)}
            print(f"{name:13s} {mode:9s}: {t * 1e3:8.1f} ms  {rate:12.3e} rows/s/core  {li.size:9d} pairs")
        # LSDB's kernel: a scipy KD-tree on unit vectors, k=1 query with an upper bound (chord of the radius).
        from scipy.spatial import cKDTree

        def kdtree():
            xyz = lambda ra, dec: np.stack([np.cos(np.radians(dec)) * np.cos(np.radians(ra)),
                                            np.cos(np.radians(dec)) * np.sin(np.radians(ra)), np.sin(np.radians(dec))], axis=1)
            tree = cKDTree(xyz(ra2, dec2), compact_nodes=True, balanced_tree=True)
            chord = 2 * np.sin(np.radians(args.radius / 3600.0) / 2)
            dist, idx = tree.query(xyz(ra1, dec1), k=1, distance_upper_bound=chord)
            return int(np.isfinite(dist).sum())

        t, n_kd = best_of(kdtree, 1)
        case["scipy_kdtree_nearest"] = {"seconds": t, "pairs": n_kd, "rows_per_s_per_core": 2 * args.rows / t}
        print(f"{name:13s} kd-tree  : {t * 1e3:8.1f} ms  {2 * args.rows / t:12.3e} rows/s/core  {n_kd:9d} pairs (scipy cKDTree, LSDB's method)")
        if not args.no_astropy:
            from astropy import units as u
            from astropy.coordinates import SkyCoord, search_around_sky

            c1, c2 = SkyCoord(ra1 * u.deg, dec1 * u.deg), SkyCoord(ra2 * u.deg, dec2 * u.deg)
            t, (i1, i2, _, _) = best_of(lambda: search_around_sky(c1, c2, args.radius * u.arcsec), 1)
            case["astropy_search_around_sky"] = {"seconds": t, "pairs": int(i1.size)}
            case["speedup_vs_astropy_all_pairs"] = t / case["all_pairs"]["seconds"]
            print(f"{name:13s} astropy  : {t * 1e3:8.1f} ms  pairs {i1.size}  lodestar all_pairs is "
                  f"{case['speedup_vs_astropy_all_pairs']:.1f}x faster")
            if i1.size != case["all_pairs"]["pairs"]:
                print(f"  note: pair counts differ (astropy {i1.size}, lodestar {case['all_pairs']['pairs']})")
        results["cases"].append(case)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
