"""Build a light-curve catalog (one nested light curve per object) from a detections catalog."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lodestar build-lightcurves", description=__doc__)
    p.add_argument("detections", help="detections catalog: a name in --root or a catalog folder")
    p.add_argument("name", help="name of the light-curve catalog to write")
    p.add_argument("--root", default=None, help="catalog root (default $LODESTAR_ROOT or ~/.lodestar/catalogs)")
    p.add_argument("--object-id", default="object_id", help="object id column (of the detections, or of --objects with --associate)")
    p.add_argument("--objects", default=None, help="object catalog to take positions from (name in --root or folder)")
    p.add_argument("--associate", action="store_true", help="associate detections with the nearest --objects object by position")
    p.add_argument("--radius-arcsec", type=float, default=1.0, help="association radius (default 1 arcsec)")
    p.add_argument("--field", action="append", default=[], metavar="CANON=COLUMN",
                   help="detection column for mjd/mag/mag_err/band/flags when not recognised, e.g. --field mjd=hmjd (repeatable)")
    p.add_argument("--pixel-threshold", type=int, default=5000, help="maximum light curves per partition (default 5000)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing catalog of that name")
    args = p.parse_args(argv)

    import lodestar
    from lodestar.commands.dimming import open_by_name_or_path
    from lodestar.lightcurves import build_light_curves

    try:
        fields = {}
        for f in args.field:
            if "=" not in f:
                raise ValueError(f"--field expects CANON=COLUMN, got {f!r}")
            k, v = f.split("=", 1)
            fields[k] = v
        det = open_by_name_or_path(args.detections, args.root)
        objs = open_by_name_or_path(args.objects, args.root) if args.objects else None
        root = args.root if args.root is not None else lodestar.Catalogs().root
        cat = build_light_curves(det, object_id=args.object_id, name=args.name, root=root, objects=objs, associate=args.associate,
                                 radius_arcsec=args.radius_arcsec, fields=fields or None, pixel_threshold=args.pixel_threshold,
                                 overwrite=args.overwrite)
    except (lodestar.LodestarError, ValueError, KeyError, TypeError, FileExistsError) as e:
        print(f"lodestar build-lightcurves: {e}", file=sys.stderr)
        return 1
    rep = getattr(cat, "build_report", {})
    extra = f" ({rep['associated']:,} of {rep['detections']:,} detections associated)" if "associated" in rep else ""
    print(f"wrote {args.name}: {len(cat):,} light curves in {len(cat.partitions)} partitions at {cat.path}{extra}")
    return 0
