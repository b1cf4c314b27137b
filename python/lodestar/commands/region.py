"""AXS alias: region CATALOG RA1 DEC1 RA2 DEC2 (the box RA1 -> RA2 east, Dec between DEC1 and DEC2)."""

from __future__ import annotations

import argparse

from .search import build_parser, run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lodestar region", description=__doc__)
    parser.add_argument("catalog")
    for name in ("ra1", "dec1", "ra2", "dec2"):
        parser.add_argument(name, type=float)
    known, rest = parser.parse_known_args(argv)
    lo, hi = sorted((known.dec1, known.dec2))
    box = ["box", known.catalog, "--ra", repr(known.ra1), repr(known.ra2), "--dec", repr(lo), repr(hi), *rest]
    return run(build_parser("lodestar").parse_args(box))
