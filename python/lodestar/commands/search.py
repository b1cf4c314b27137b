"""Spatial and id searches on a catalog: search cone|box|polygon|id|pixel CATALOG ..."""

from __future__ import annotations

import argparse
import sys
import time


def _vertex(text: str) -> tuple[float, float]:
    try:
        ra, dec = text.split(",")
        return float(ra), float(dec)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a vertex is RA,DEC in degrees (e.g. 10.5,-3), got {text!r}") from None


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def build_parser(prog: str = "lodestar search") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("catalog", help="catalog name in the root, or a HATS catalog/collection folder")
    common.add_argument("--root", help="catalog root (default $LODESTAR_ROOT or ~/.lodestar/catalogs)")
    common.add_argument("--columns", help="comma-separated columns to output (default all)")
    common.add_argument("--where", help="extra SQL condition on the rows")
    common.add_argument("--csv", metavar="FILE", help="write the rows as CSV ('-' for stdout)")
    common.add_argument("--count", action="store_true", help="only print the number of rows")
    common.add_argument("--show", type=int, default=10, help="rows to print when neither --csv nor --count (default 10)")
    sub = parser.add_subparsers(dest="shape", required=True, metavar="cone|box|polygon|id|pixel")
    p = sub.add_parser("cone", parents=[common], help="rows within a radius of a position")
    p.add_argument("ra", type=float, help="centre RA (degrees)")
    p.add_argument("dec", type=float, help="centre Dec (degrees)")
    p.add_argument("radius", type=float, help="radius (arcsec)")
    p = sub.add_parser("box", parents=[common], help="rows in an RA/Dec box (RA wraps through 0 when RA_LO > RA_HI)")
    p.add_argument("--ra", nargs=2, type=float, required=True, metavar=("RA_LO", "RA_HI"))
    p.add_argument("--dec", nargs=2, type=float, required=True, metavar=("DEC_LO", "DEC_HI"))
    p = sub.add_parser("polygon", parents=[common], help="rows inside a convex polygon (great-circle edges)")
    p.add_argument("vertices", nargs="+", type=_vertex, metavar="RA,DEC", help="at least 3 vertices")
    p = sub.add_parser("id", parents=[common], help="rows whose COLUMN is one of VALUES")
    p.add_argument("column")
    p.add_argument("values", nargs="+", type=_value)
    p = sub.add_parser("pixel", parents=[common], help="rows in NESTED HEALPix pixels at ORDER")
    p.add_argument("order", type=int)
    p.add_argument("pixels", nargs="+", type=int)
    return parser


def open_by_name_or_path(name: str, root: str | None):
    from pathlib import Path

    import lodestar

    path = Path(name)
    if path.exists() and ((path / "hats.properties").exists() or (path / "collection.properties").exists()):
        return lodestar.open_catalog(path)
    return lodestar.Catalogs(root).load(name)


def run(args) -> int:
    import lodestar

    prog = "lodestar search"
    try:
        cat = open_by_name_or_path(args.catalog, args.root)
        if args.shape == "cone":
            res = cat.cone_search(args.ra, args.dec, args.radius)
        elif args.shape == "box":
            res = cat.box_search(ra=tuple(args.ra), dec=tuple(args.dec))
        elif args.shape == "polygon":
            res = cat.polygon_search(args.vertices)
        elif args.shape == "id":
            res = cat.id_search(args.column, args.values)
        else:
            res = cat.pixel_search(args.order, args.pixels)
        if args.where:
            res = res.where(args.where)
        if args.columns:
            res = res.select([c.strip() for c in args.columns.split(",") if c.strip()])
        start = time.perf_counter()
        if args.count:
            print(res.count())
            return 0
        df = res.to_pandas()
    except (ValueError, KeyError, FileNotFoundError, lodestar.LodestarError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    if args.csv:
        df.to_csv(sys.stdout if args.csv == "-" else args.csv, index=False)
        if args.csv != "-":
            print(f"{len(df)} rows written to {args.csv} ({len(res.partitions)} partitions read, {elapsed:.3f} s)")
        return 0
    print(df.head(args.show).to_string(index=False) if len(df) else "(no rows)")
    print(f"{len(df)} rows ({len(res.partitions)} of {len(cat.partitions)} partitions read, {elapsed:.3f} s)")
    return 0


def main(argv: list[str]) -> int:
    return run(build_parser().parse_args(argv))
