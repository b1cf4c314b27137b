"""AXS alias: cone CATALOG RA DEC RADIUS_ARCSEC (same as `search cone`)."""

from __future__ import annotations

from .search import build_parser, run


def main(argv: list[str]) -> int:
    return run(build_parser("lodestar").parse_args(["cone", *argv]))
