"""Bounded memory per task: a partition too large for one read is processed in
slices of its row groups.

A HATS leaf is sorted by `_healpix_29`, and every row group's footer holds the
column's min and max. The slices are half-open `_healpix_29` intervals cut at
row-group starts, so that together they hold every row of the partition exactly
once (rows of one value never straddle two slices, whatever the row groups do),
each with about `budget` bytes of the columns read (uncompressed sizes from the
footers). A task then reads, processes and drops one slice at a time.

Per-row operations (light-curve features, the dimming search, map_light_curves)
and crossmatch tasks (the left partition; each slice reads the right rows of its
own neighbourhood) use it; their results are the same whatever the slicing. The budget comes from
LODESTAR_TASK_BYTES (default 1 GiB per task).
"""

from __future__ import annotations

import os

import pyarrow.parquet as pq

from .catalog import _quote_ident

DEFAULT_TASK_BYTES = 1 << 30


def task_bytes() -> int:
    """The per-task read budget in bytes (LODESTAR_TASK_BYTES, default 1 GiB)."""
    raw = os.environ.get("LODESTAR_TASK_BYTES", "")
    if not raw:
        return DEFAULT_TASK_BYTES
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"LODESTAR_TASK_BYTES must be a number of bytes, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"LODESTAR_TASK_BYTES must be > 0, got {raw!r}")
    return value


def _row_groups(files: list, columns: list | None, healpix_column: str) -> list[tuple[int, int]] | None:
    """(min `_healpix_29`, uncompressed bytes of the read columns) of every row group of the files; None when a
    file is not local or a row group lacks the statistics (then the partition is read whole)."""
    out = []
    for f in files:
        if not os.path.isfile(f):
            return None
        md = pq.ParquetFile(f).metadata
        names = [md.schema.column(i).path for i in range(md.num_columns)]
        if healpix_column not in names:
            return None
        hp = names.index(healpix_column)
        wanted = None if columns is None else set(columns)
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            stats = rg.column(hp).statistics
            if rg.num_rows == 0:
                continue
            if stats is None or not stats.has_min_max:
                return None
            size = sum(rg.column(i).total_uncompressed_size for i in range(md.num_columns)
                       if wanted is None or names[i].split(".")[0] in wanted)
            out.append((int(stats.min), int(size)))
    return out


def slice_bounds(files: list, columns: list | None, healpix_column: str = "_healpix_29",
                 budget: int | None = None) -> list[tuple[int | None, int | None]]:
    """Half-open `_healpix_29` intervals [lo, hi) (None: unbounded) covering the partition, each of about
    `budget` bytes. One unbounded interval when the partition fits or cannot be cut."""
    budget = task_bytes() if budget is None else budget
    groups = _row_groups(files, columns, healpix_column)
    if not groups or sum(b for _, b in groups) <= budget:
        return [(None, None)]
    groups.sort()
    cuts, acc = [], 0
    for start, size in groups:
        if acc and acc + size > budget and (not cuts or start > cuts[-1]) and start > groups[0][0]:
            cuts.append(start)
            acc = 0
        acc += size
    bounds = [None, *cuts, None]
    return list(zip(bounds[:-1], bounds[1:]))


def range_sql(column: str, lo: int | None, hi: int | None) -> str:
    """SQL for lo <= column < hi (None: unbounded)."""
    q = _quote_ident(column)
    parts = ([f"{q} >= {int(lo)}"] if lo is not None else []) + ([f"{q} < {int(hi)}"] if hi is not None else [])
    return " AND ".join(parts) or "true"


def range_filters(column: str, lo: int | None, hi: int | None) -> list | None:
    """The same interval as pyarrow read filters (None when unbounded)."""
    f = ([(column, ">=", int(lo))] if lo is not None else []) + ([(column, "<", int(hi))] if hi is not None else [])
    return f or None
