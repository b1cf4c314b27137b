"""`lodestar ingest` into an object-store root (s3://...): the same options as
the engine binary's ingest, run through lodestar.ingest, which builds the
catalog locally and publishes it on the object store (lodestar.storage).
Local roots never come here: the binary ingests them itself."""

from __future__ import annotations

import argparse
import os
import sys


def remote_root(args: list[str]) -> str | None:
    """The s3:// root an `ingest` command line targets, if any."""
    root = None
    for i, a in enumerate(args):
        if a == "--root" and i + 1 < len(args):
            root = args[i + 1]
        elif a.startswith("--root="):
            root = a.split("=", 1)[1]
    root = root or os.environ.get("LODESTAR_ROOT") or ""
    return root if root.startswith("s3://") else None


def main(argv: list[str]) -> int:
    from . import LodestarError, ingest

    p = argparse.ArgumentParser(prog="lodestar ingest", description="Ingest tables into a HATS catalog of an s3:// catalog root.")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--name", required=True)
    p.add_argument("--root", default=os.environ.get("LODESTAR_ROOT"))
    p.add_argument("--ra")
    p.add_argument("--dec")
    p.add_argument("--pixel-threshold", type=int, default=1_000_000)
    p.add_argument("--highest-order", type=int, default=10)
    p.add_argument("--row-group-rows", type=int, default=20_000)
    p.add_argument("--memory", default="2GB")
    p.add_argument("--type", action="append", default=[], help="COLUMN=SQLTYPE")
    p.add_argument("--drop-invalid", action="store_true")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--margin", type=float, default=None, help="margin cache threshold in arcsec")
    a = p.parse_args(argv)
    types = dict(t.split("=", 1) for t in a.type)
    try:
        cat = ingest(a.inputs, a.name, root=a.root, ra=a.ra, dec=a.dec, pixel_threshold=a.pixel_threshold,
                     highest_order=a.highest_order, row_group_rows=a.row_group_rows, memory_limit=a.memory,
                     types=types, drop_invalid=a.drop_invalid, overwrite=a.overwrite, margin_arcsec=a.margin,
                     progress=not a.no_progress and sys.stderr.isatty())
    except (LodestarError, ValueError, OSError) as e:
        print(f"lodestar ingest: {e}", file=sys.stderr)
        return 1
    r = cat.ingest_report
    print(f"ingested {r['rows']:,} rows into {cat.path} ({len(cat.partitions)} partitions)")
    return 0
