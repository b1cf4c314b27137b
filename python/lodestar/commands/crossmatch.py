"""Crossmatch two catalogs: crossmatch LEFT RIGHT --radius ARCSEC [--n-neighbors K | --all-pairs] [--out NAME | --csv FILE]."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lodestar crossmatch", description=__doc__)
    parser.add_argument("left", help="left catalog: a name in the root or a HATS catalog/collection folder")
    parser.add_argument("right", help="right catalog: a name in the root or a HATS catalog/collection folder")
    parser.add_argument("--radius", type=float, default=1.0, help="match radius in arcsec (default 1)")
    parser.add_argument("--n-neighbors", type=int, default=1, help="nearest right rows kept per left row (default 1)")
    parser.add_argument("--all-pairs", action="store_true", help="every pair within the radius instead of the nearest")
    parser.add_argument("--min-radius", type=float, default=0.0, help="minimum separation in arcsec (default 0)")
    parser.add_argument("--how", choices=("inner", "left"), default="inner", help="left: keep unmatched left rows")
    parser.add_argument("--self-match", action="store_true", help="LEFT and RIGHT are the same catalog: skip each row's own match")
    parser.add_argument("--right-margin", help="margin cache folder of the right catalog (default: the collection's)")
    parser.add_argument("--root", help="catalog root (default $LODESTAR_ROOT or ~/.lodestar/catalogs)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--out", metavar="NAME", help="write the result as HATS catalog NAME in the root")
    out.add_argument("--csv", metavar="FILE", help="write the result as CSV ('-' for stdout)")
    parser.add_argument("--overwrite", action="store_true", help="replace catalog NAME if it exists")
    args = parser.parse_args(argv)

    import lodestar

    from .search import open_by_name_or_path

    prog = "lodestar crossmatch"
    start = time.perf_counter()
    try:
        left = open_by_name_or_path(args.left, args.root)
        right = open_by_name_or_path(args.right, args.root)
        res = left.crossmatch(right, radius_arcsec=args.radius, n_neighbors=args.n_neighbors, all_pairs=args.all_pairs,
                              min_radius_arcsec=args.min_radius, how=args.how, self_match=args.self_match,
                              right_margin=args.right_margin)
        if args.out:
            cat = res.write(args.out, root=args.root or lodestar.Catalogs().root, overwrite=args.overwrite)
            dist = cat.select(["_dist_arcsec"]).to_pandas()["_dist_arcsec"].to_numpy()
        else:
            df = res.to_pandas()
            dist = df["_dist_arcsec"].to_numpy()
            if args.csv:
                df.to_csv(sys.stdout if args.csv == "-" else args.csv, index=False)
    except (ValueError, KeyError, FileNotFoundError, FileExistsError, TypeError, lodestar.LodestarError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    report = sys.stderr if args.csv == "-" else sys.stdout
    matched = dist[np.isfinite(dist)]
    print(f"{len(matched)} matches of {left.name} x {right.name} within {args.radius}\" "
          f"({res.stats.get('tasks', 0)} partition tasks, {res.stats.get('tasks_using_margin', 0)} from the margin cache; "
          f"{elapsed:.2f} s)", file=report)
    if args.how == "left":
        print(f"{len(dist) - len(matched)} left rows without a match", file=report)
    if len(matched):
        q = np.percentile(matched, [0, 25, 50, 75, 90, 99, 100])
        print("separation (arcsec): " + ", ".join(f"{name} {v:.4g}" for name, v in zip(
            ("min", "p25", "median", "p75", "p90", "p99", "max"), q)), file=report)
    if args.out:
        print(f"wrote catalog {args.out}", file=report)
    elif args.csv and args.csv != "-":
        print(f"wrote {args.csv}", file=report)
    return 0
