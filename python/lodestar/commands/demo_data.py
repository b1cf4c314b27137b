"""Load the demo catalogs (ztf_objects, ztf_detections, gaia, ztf_lightcurves) into a catalog root."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lodestar demo-data", description=__doc__)
    parser.add_argument("root", help="catalog root to write the catalogs into (created; existing demo catalogs are replaced)")
    parser.add_argument("--objects", type=int, default=10000, help="survey objects (default 10000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    if args.objects < 100:
        print("lodestar demo-data: --objects must be at least 100", file=sys.stderr)
        return 2

    from lodestar.datasets import make_survey
    from lodestar.lightcurves import build_light_curves
    from lodestar.workflow import LIGHTCURVES, ingest_survey

    start = time.perf_counter()
    survey = make_survey(n_objects=args.objects, seed=args.seed)
    with tempfile.TemporaryDirectory() as work:
        objects, detections, reference = ingest_survey(survey, args.root, work)
    lcs = build_light_curves(detections, object_id="object_id", name=LIGHTCURVES, root=args.root, objects=objects, overwrite=True,
                             progress=False)
    print(f"demo catalogs in {args.root}: " + ", ".join(f"{c.name} ({len(c):,} rows)" for c in (objects, detections, reference, lcs))
          + f" in {time.perf_counter() - start:.1f} s")
    return 0
