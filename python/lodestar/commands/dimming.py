"""Search every light curve of a light-curve catalog for dimming events (ranked candidates)."""

from __future__ import annotations

import argparse
import os
import sys
import time


def open_by_name_or_path(what: str, root: str | None):
    """A catalog given as a folder path, or as a name in the catalog root."""
    import lodestar

    if os.path.isdir(what) and (os.path.exists(os.path.join(what, "hats.properties")) or os.path.exists(os.path.join(what, "collection.properties"))):
        return lodestar.open_catalog(what)
    return lodestar.Catalogs(root).load(what)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lodestar dimming", description=__doc__)
    p.add_argument("catalog", help="light-curve catalog: a name in --root or a catalog folder")
    p.add_argument("--root", default=None, help="catalog root (default $LODESTAR_ROOT or ~/.lodestar/catalogs)")
    p.add_argument("--column", default="lc", help="nested light-curve column (default lc)")
    p.add_argument("--k-sigma", type=float, default=3.0, help="faint detection threshold in sigma (default 3)")
    p.add_argument("--extend-sigma", type=float, default=None, help="run continuation threshold (default min(1.5, k-sigma))")
    p.add_argument("--min-points", type=int, default=3, help="faint detections needed per event (default 3)")
    p.add_argument("--min-depth-mag", type=float, default=0.05, help="minimum depth in mag (default 0.05)")
    p.add_argument("--max-run-gap-days", type=float, default=60.0,
                   help="an event stops at a gap between detections longer than this (default 60 days)")
    p.add_argument("--no-fit", action="store_true", help="detection only, no dip fit")
    p.add_argument("--include-periodic", action="store_true", help="keep events of periodic (eclipsing-binary-like) objects")
    p.add_argument("--top", type=int, default=20, help="candidates to print (default 20)")
    p.add_argument("--out", default=None, help="folder to write candidates.csv (all events) into")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    import lodestar
    import pandas as pd

    try:
        cat = open_by_name_or_path(args.catalog, args.root)
        start = time.perf_counter()
        ev = cat.find_dimming_events(k_sigma=args.k_sigma, extend_sigma=args.extend_sigma, min_points=args.min_points,
                                     min_depth_mag=args.min_depth_mag, max_run_gap_days=args.max_run_gap_days, fit=not args.no_fit,
                                     include_periodic=args.include_periodic, column=args.column, progress=not args.no_progress)
        elapsed = time.perf_counter() - start
    except (lodestar.LodestarError, ValueError, KeyError, TypeError) as e:
        print(f"lodestar dimming: {e}", file=sys.stderr)
        return 1
    id_col = ev.columns[0]
    print(f"{len(ev):,} events in {ev[id_col].nunique() if len(ev) else 0:,} objects from {ev.attrs.get('light_curves', 0):,} light curves "
          f"({ev.attrs.get('detections', 0):,} detections) in {elapsed:.1f} s")
    if len(ev):
        cols = [c for c in (id_col, "ra", "dec", "t_min", "duration", "depth_mag", "n_points", "bands", "amplitude", "t0", "sigma_rise",
                            "sigma_fall", "delta_chi2", "periodic", "score") if c in ev]
        with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.5g}".format):
            print(ev[cols].head(args.top).to_string(index=False))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "candidates.csv")
        ev.to_csv(path, index=False)
        print(f"wrote {path}")
    return 0
