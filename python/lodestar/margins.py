"""Margin caches: for each partition pixel P of a catalog, copies of the rows of
*other* partitions lying within a threshold of P — what a crossmatch of radius
r <= threshold needs beyond P's own rows (HATS `dataproduct_type=margin`).

The selection is inclusive: a row goes into P's margin when its pixel, at a
fine order, can be within the threshold of P's boundary (HEALPix C++ inclusive
disc queries around P's fine boundary pixels, `margin_coverage29`). It never
misses a row within the threshold and may hold some slightly beyond it, which a
crossmatch's exact distance test discards.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from . import _core
from .catalog import Catalog, _quote_ident
from .engine import default_connection
from .writer import kept_partitions, leaf_path, partition_info_csv, write_leaf

MAX_ORDER = 29


def margin_order(partition_order: int, threshold_deg: float) -> int:
    """The order of the pixels a margin is assembled from: fine enough that a
    pixel's radius is about half the threshold (the margin then reaches about
    two thresholds past the partition's boundary at most), at most 10 orders
    below the partition (4 * 2^10 boundary pixels)."""
    fine = int(math.floor(math.log2(58.6 / max(threshold_deg, 1e-9)))) + 1
    return int(min(MAX_ORDER - 1, max(partition_order + 1, min(fine, partition_order + 10))))


def margin_ranges29(order: int, pixel: int, threshold_deg: float) -> np.ndarray:
    """Order-29 ranges of P's margin: the fine pixels outside P within the
    threshold of P's boundary (C++ `margin_coverage29`)."""
    at = margin_order(order, threshold_deg)
    return np.asarray(_core.margin_coverage29(order, pixel, threshold_deg, at), dtype=np.int64).reshape(-1, 2)


def _rows_in_ranges_sql(rel: str, hp: str, ranges: np.ndarray) -> str:
    """Rows of `rel` whose index lies in one of the disjoint [b, e) ranges.
    A fine neighbourhood has up to ~1e5 ranges: a range join (DuckDB's
    inequality join) instead of an OR chain, which costs rows x ranges."""
    if len(ranges) <= 64:
        cond = " OR ".join(f"{hp} BETWEEN {b} AND {e - 1}" for b, e in ranges)
        return f"(SELECT * FROM {rel} WHERE {cond})"
    begins = ",".join(map(str, ranges[:, 0].tolist()))
    ends = ",".join(map(str, ranges[:, 1].tolist()))
    return (f"(SELECT t.* FROM {rel} AS t, (SELECT unnest([{begins}]::BIGINT[]) AS b, unnest([{ends}]::BIGINT[]) AS e) AS r "
            f"WHERE t.{hp} >= r.b AND t.{hp} < r.e)")


def write_margin_catalog(primary: Catalog, out_dir: str | os.PathLike, name: str, threshold_arcsec: float) -> int:
    """Write the margin catalog of `primary` into folder out_dir (not published:
    the caller moves it into place). Returns the number of margin rows."""
    if not threshold_arcsec > 0:
        raise ValueError(f"margin threshold must be > 0 arcsec, got {threshold_arcsec}")
    threshold_deg = threshold_arcsec / 3600.0
    out_dir = Path(out_dir)
    staging = out_dir.parent / f".{out_dir.name}-staging"
    con = default_connection()
    hp = _quote_ident(primary._meta["healpix_column"])
    parts = []
    for order, pixel in zip(primary._meta["orders"], primary._meta["pixels"]):
        ranges = margin_ranges29(int(order), int(pixel), threshold_deg)
        neighbours = primary.restrict_to(ranges, None, "margin")
        files = neighbours._files()
        if not files or len(ranges) == 0:
            continue
        rel = _core.catalog_relation_sql(con._engine, primary.path, files)
        n = write_leaf(str(staging), int(order), int(pixel), _rows_in_ranges_sql(rel, hp, ranges), primary._meta["healpix_column"], con)
        if n == 0:
            leaf_path(staging / "catalog", int(order), int(pixel)).unlink(missing_ok=True)
        else:
            parts.append((int(order), int(pixel), n))
    cat_dir = staging / "catalog"
    (cat_dir / "dataset").mkdir(parents=True, exist_ok=True)
    import pyarrow.parquet as pq

    schema = pq.read_schema(Path(primary.path) / "dataset" / "_common_metadata")
    pq.write_metadata(schema, cat_dir / "dataset" / "_common_metadata")
    parts = kept_partitions(parts)
    (cat_dir / "partition_info.csv").write_text(partition_info_csv(parts))
    props = primary.properties
    margin_props = {
        "obs_collection": name,
        "dataproduct_type": "margin",
        "hats_nrows": str(sum(n for _, _, n in parts)),
        "hats_col_ra": primary.ra_column,
        "hats_col_dec": primary.dec_column,
        "hats_col_healpix": primary._meta["healpix_column"],
        "hats_col_healpix_order": "29",
        "hats_npix_suffix": ".parquet",
        "hats_primary_table_url": Path(primary.path).name,
        "hats_margin_threshold": repr(float(threshold_arcsec)),
        "hats_order": str(max((o for o, _, _ in parts), default=0)),
        "hats_builder": props.get("hats_builder", "lodestar"),
        "hats_creation_date": props.get("hats_creation_date", ""),
        "hats_version": "v1.0",
    }
    (cat_dir / "hats.properties").write_text("#HATS catalog\n" + "".join(f"{k}={v}\n" for k, v in margin_props.items()))
    if parts:
        from .hats_extras import write_parquet_metadata

        write_parquet_metadata(cat_dir)  # dataset/_metadata (margins carry no sky map, as with hats-import)
    os.replace(cat_dir, out_dir)
    import shutil

    shutil.rmtree(staging, ignore_errors=True)
    return sum(n for _, _, n in parts)
