"""Crossmatch of two catalogs: one task per left partition, exact and complete.

For a left partition L (order o, pixel p) a task reads

* the left rows of L (with the left plan: select/where/searches applied), and
* every right row that can lie within the radius of L: the HEALPix
  neighbourhood S of L (L itself plus the band of pixels within the radius of
  its boundary, from `pixel_neighbourhood` on L's boundary sub-pixels) is
  intersected with the right partitions, whatever their orders, so partitions
  of different orders on the two sides align by construction. When the right
  catalog has a margin cache whose threshold is >= the radius and a right
  partition P containing L has a margin partition, the rows outside P come
  from that one margin leaf instead of from the neighbouring partitions
  (complete: a right row within r <= threshold of L ⊆ P is in P or in P's
  margin). Otherwise the neighbouring partitions are read, pruned to S (never
  silently incomplete).

then runs the C++ kernel `crossmatch_arrays` (zones cut into RA cells, exact chord test)
and assembles the result columns with Arrow `take`. Tasks go through the
executor (threads or Dask), so they must stay small and picklable.

In-process, when both sides fit a memory budget, the same per-partition work
runs on rows read once per side and sliced by `_healpix_29` in memory
(`CrossmatchResult._run_in_memory`): the per-partition tasks read each right
partition about seven times.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from . import _core, storage
from .catalog import MAX_ORDER, Catalog, PartitionTask, _quote_ident, read_partition
from .engine import arrow_to_pandas
from .partition_slices import range_sql, slice_bounds
from .search import coverage_order

DIST_COLUMN = "_dist_arcsec"
MAX_RADIUS_ARCSEC = 180.0 * 3600.0
NEIGHBOURHOOD_STEPS = 4  # boundary sub-pixels at most this many orders below the partition


# --- geometry of one left partition ---------------------------------------------------------------------------


def _boundary_subpixels(order: int, pixel: int, at_order: int) -> np.ndarray:
    """NESTED pixels at `at_order` inside (order, pixel) that touch its boundary."""
    d = at_order - order
    if d == 0:
        return np.array([pixel], dtype=np.int64)
    side = 1 << d
    local = np.arange(side * side, dtype=np.int64)
    # NESTED sub-index: x in the even bits, y in the odd bits.
    x = np.zeros_like(local)
    y = np.zeros_like(local)
    for bit in range(d):
        x |= ((local >> (2 * bit)) & 1) << bit
        y |= ((local >> (2 * bit + 1)) & 1) << bit
    edge = (x == 0) | (y == 0) | (x == side - 1) | (y == side - 1)
    return (pixel << (2 * d)) + local[edge]


def neighbourhood29(order: int, pixel: int, radius_deg: float) -> np.ndarray:
    """Merged order-29 ranges covering every point within radius_deg of pixel (order, pixel)."""
    at_order = int(min(MAX_ORDER, max(order, min(order + NEIGHBOURHOOD_STEPS, coverage_order(radius_deg)))))
    pieces = [np.array([[pixel, pixel + 1]], dtype=np.int64) << (2 * (MAX_ORDER - order))]
    shift = 2 * (MAX_ORDER - at_order)
    for q in _boundary_subpixels(order, pixel, at_order):
        pieces.append(np.asarray(_core.pixel_neighbourhood(at_order, int(q), radius_deg, at_order), dtype=np.int64) << shift)
    return merge_ranges(np.concatenate(pieces))


def merge_ranges(ranges: np.ndarray) -> np.ndarray:
    """Sorted, merged [begin, end) ranges (touching ones joined), vectorized: a partition's neighbourhood is the
    union of hundreds of small pieces."""
    r = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
    if len(r) == 0:
        return r
    r = r[np.lexsort((r[:, 1], r[:, 0]))]
    reach = np.maximum.accumulate(r[:, 1])
    # a new range starts where a begin lies beyond every end so far
    starts = np.concatenate([[True], r[1:, 0] > reach[:-1]])
    first = np.flatnonzero(starts)
    last = np.concatenate([first[1:] - 1, [len(r) - 1]])
    return np.stack([r[first, 0], reach[last]], axis=1)


def _clip(ranges: np.ndarray, lo: int, hi: int) -> np.ndarray:
    r = np.stack([np.maximum(ranges[:, 0], lo), np.minimum(ranges[:, 1], hi)], axis=1)
    return r[r[:, 0] < r[:, 1]]


def _subtract(ranges: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """ranges minus [lo, hi)."""
    out = []
    for b, e in ranges:
        if e <= lo or b >= hi:
            out.append((b, e))
            continue
        if b < lo:
            out.append((b, lo))
        if e > hi:
            out.append((hi, e))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def _ranges_sql(column: str, ranges: np.ndarray) -> str:
    hp = _quote_ident(column)
    return "(" + " OR ".join(f"{hp} BETWEEN {int(b)} AND {int(e) - 1}" for b, e in ranges) + ")" if len(ranges) else "false"


@dataclass
class _Partitions:
    """A catalog's partitions the plan reads, sorted by their order-29 start."""

    path: str
    orders: np.ndarray
    pixels: np.ndarray
    files: list
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def of(cls, meta: dict, mask: np.ndarray | None = None) -> "_Partitions":
        orders = np.asarray(meta["orders"], dtype=np.int64)
        pixels = np.asarray(meta["pixels"], dtype=np.int64)
        files = list(meta["files"])
        if mask is not None:
            orders, pixels, files = orders[mask], pixels[mask], [f for f, k in zip(files, mask) if k]
        lo = pixels << (2 * (MAX_ORDER - orders))
        hi = (pixels + 1) << (2 * (MAX_ORDER - orders))
        order = np.argsort(lo, kind="stable")
        return cls(meta["path"], orders[order], pixels[order], [files[i] for i in order], lo[order], hi[order])

    def overlapping(self, ranges: np.ndarray) -> list[int]:
        """Indices of partitions overlapping any of the (sorted, merged) ranges."""
        hit: set[int] = set()
        for b, e in ranges:
            i0 = int(np.searchsorted(self.hi, b, side="right"))
            i1 = int(np.searchsorted(self.lo, e, side="left"))
            hit.update(range(i0, i1))
        return sorted(hit)

    def index_of(self, order: int, pixel: int) -> int | None:
        i = int(np.searchsorted(self.lo, pixel << (2 * (MAX_ORDER - order))))
        if i < len(self.lo) and self.orders[i] == order and self.pixels[i] == pixel:
            return i
        return None


# --- tasks ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XmatchOptions:
    radius_arcsec: float
    n_neighbors: int
    all_pairs: bool
    min_radius_arcsec: float
    how: str
    self_match: bool


@dataclass
class XmatchTask:
    """One left partition: its rows, the right rows it needs, and how to assemble the output."""

    order: int
    pixel: int
    left: PartitionTask
    right: list  # PartitionTasks (primary partitions pruned to the neighbourhood, margin leaves)
    left_coords: tuple[str, str]
    right_coords: tuple[str, str]
    left_out: list  # (source column, output name)
    right_out: list
    right_schema: pa.Schema
    options: XmatchOptions
    used_margin: bool
    count_only: bool = False
    stats: dict = field(default_factory=dict)
    left_healpix: str = "_healpix_29"
    right_healpix: str = "_healpix_29"


def _coords(table: pa.Table, ra: str, dec: str) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(table.column(ra).to_numpy(), dtype=np.float64), np.asarray(table.column(dec).to_numpy(), dtype=np.float64))


def _keep_first_k(left_idx: np.ndarray, k: int) -> np.ndarray:
    """Mask keeping the first k entries of each run of equal left_idx (the input is grouped by left index)."""
    if len(left_idx) == 0:
        return np.zeros(0, dtype=bool)
    starts = np.r_[0, np.flatnonzero(np.diff(left_idx)) + 1]
    counts = np.diff(np.r_[starts, len(left_idx)])
    rank = np.arange(len(left_idx)) - np.repeat(starts, counts)
    return rank < k


def _right_rows(task: XmatchTask, left: pa.Table) -> pa.Table:
    cols = task.right_schema.names
    tables = [left.select(cols).cast(task.right_schema)] if task.options.self_match else []
    for t in task.right:
        got = read_partition(t)
        if got.num_rows:
            tables.append(got.select(cols).cast(task.right_schema))
    return pa.concat_tables(tables) if tables else task.right_schema.empty_table()


def _finish_pairs(li, ri, dist, n_left: int, o: XmatchOptions):
    """Kernel pairs (local indices) to output rows: drop self pairs (self-match: the first n_left right rows are the
    left rows), keep the first k, and add unmatched left rows for how='left'. Returns (li, ri, dist, valid)."""
    li, ri, dist = np.asarray(li), np.asarray(ri), np.asarray(dist)
    if o.self_match:
        keep = li != ri
        li, ri, dist = li[keep], ri[keep], dist[keep]
        if not o.all_pairs:
            keep = _keep_first_k(li, o.n_neighbors)
            li, ri, dist = li[keep], ri[keep], dist[keep]
    valid = np.ones(len(li), dtype=bool)
    if o.how == "left":
        unmatched = np.setdiff1d(np.arange(n_left, dtype=np.int64), li, assume_unique=False)
        order = np.argsort(np.concatenate([li, unmatched]), kind="stable")
        li = np.concatenate([li, unmatched])[order]
        ri = np.concatenate([ri, np.zeros(len(unmatched), dtype=np.int64)])[order]
        dist = np.concatenate([dist, np.full(len(unmatched), np.nan)])[order]
        valid = np.concatenate([valid, np.zeros(len(unmatched), dtype=bool)])[order]
    return li, ri, dist, valid


def _kernel(lra, ldec, rra, rdec, n_left: int, o: XmatchOptions):
    k = o.n_neighbors + (1 if o.self_match and not o.all_pairs else 0)
    if len(lra) and len(rra):
        # The left rows are a partition's, in _healpix_29 order (left_in_sky_order only makes the sweep faster).
        li, ri, dist = _core.crossmatch_arrays(lra, ldec, rra, rdec, o.radius_arcsec, n_neighbors=k, all_pairs=o.all_pairs,
                                               min_radius_arcsec=o.min_radius_arcsec, left_in_sky_order=True)
    else:
        li = ri = np.zeros(0, dtype=np.int64)
        dist = np.zeros(0, dtype=np.float64)
    return _finish_pairs(li, ri, dist, n_left, o)


def _count(lra, ldec, rra, rdec, n_left: int, o: XmatchOptions) -> int:
    """The number of rows _kernel would return. Counted in C++ (no distances, no result columns) unless the
    pairs need Python's finishing: self-match (self pairs dropped) or how='left' (unmatched rows added)."""
    if o.self_match or o.how == "left":
        return len(_kernel(lra, ldec, rra, rdec, n_left, o)[0])
    return int(_core.crossmatch_count(lra, ldec, rra, rdec, o.radius_arcsec, n_neighbors=o.n_neighbors, all_pairs=o.all_pairs,
                                      min_radius_arcsec=o.min_radius_arcsec, left_in_sky_order=True))


# A left partition over the per-task budget (LODESTAR_TASK_BYTES) is matched in slices of its row groups, each with
# only the right rows near it: the slice's `_healpix_29` interval is covered by pixels SLICE_ORDER_STEPS orders
# below the partition's, and the right reads are cut to their neighbourhoods (the same completeness argument as
# for the whole partition: every point within the radius of a left row lies in the neighbourhood of its pixel).
SLICE_ORDER_STEPS = 3


def _slice_tasks(task: XmatchTask, bounds: list) -> list[XmatchTask]:
    radius_deg = task.options.radius_arcsec / 3600.0
    shift = 2 * (MAX_ORDER - task.order)
    plo, phi = task.pixel << shift, (task.pixel + 1) << shift
    k = min(MAX_ORDER, task.order + SLICE_ORDER_STEPS)
    kshift = 2 * (MAX_ORDER - k)
    out = []
    for lo, hi in bounds:
        a, b = (plo if lo is None else lo), (phi if hi is None else hi)
        pixels = range(a >> kshift, ((b - 1) >> kshift) + 1)
        hood = merge_ranges(np.concatenate([neighbourhood29(k, p, radius_deg) for p in pixels]))
        left = replace(task.left, where=f"({task.left.where}) AND {range_sql(task.left_healpix, lo, hi)}")
        right = [replace(rt, where=f"({rt.where}) AND {_ranges_sql(task.right_healpix, hood)}") for rt in task.right]
        if task.options.self_match:
            # The partition's own rows near the slice but outside it (the slice's rows come first, as left rows).
            near = _subtract(_clip(hood, plo, phi), a, b)
            if len(near):
                right.insert(0, replace(task.left, where=f"({task.left.where}) AND {_ranges_sql(task.left_healpix, near)}"))
        out.append(replace(task, left=left, right=right))
    return out


def run_task(task: XmatchTask):
    """Crossmatch one left partition (in slices when it exceeds the per-task budget); returns the result table
    (or its row count)."""
    bounds = slice_bounds(list(task.left.files), task.left.columns, task.left_healpix)
    if len(bounds) == 1:
        return _run_whole_task(task)
    parts = [_run_whole_task(t) for t in _slice_tasks(task, bounds)]
    if task.count_only:
        return int(sum(parts))
    return pa.concat_tables(parts)


def _run_whole_task(task: XmatchTask):
    o = task.options
    left = read_partition(task.left)
    right = _right_rows(task, left) if left.num_rows else task.right_schema.empty_table()
    lra, ldec = _coords(left, *task.left_coords)
    rra, rdec = _coords(right, *task.right_coords)
    if task.count_only:
        return _count(lra, ldec, rra, rdec, left.num_rows, o)
    li, ri, dist, valid = _kernel(lra, ldec, rra, rdec, left.num_rows, o)
    columns, names = [], []
    for src, name in task.left_out:
        columns.append(left.column(src).take(pa.array(li)))
        names.append(name)
    right_idx = pa.array(ri, mask=~valid)
    for src, name in task.right_out:
        columns.append(right.column(src).take(right_idx))
        names.append(name)
    columns.append(pa.array(dist, mask=~valid, type=pa.float64()))
    names.append(DIST_COLUMN)
    return pa.Table.from_arrays(columns, names=names)


# --- both sides in memory ---------------------------------------------------------------------------------------

# In-process crossmatches whose two sides are small enough read each side once, in one read, and slice the rows of
# each left partition and of its neighbourhood out of memory by `_healpix_29` (binary search), instead of one query
# per partition and per neighbour (each right partition was read ~7 times). "Small enough": the leaves the plans
# read, at IN_MEMORY_EXPANSION times their size on disk (decoded Arrow is ~1.3x zstd Parquet for numeric
# catalogs), fit in IN_MEMORY_BYTES; peak memory is about three times that (tables, sorted copies, output).
# Bigger catalogs, remote leaves and Dask clients use the per-partition tasks.
# LODESTAR_XMATCH_IN_MEMORY_BYTES overrides the budget (0 = never).
IN_MEMORY_BYTES = 3 << 30
IN_MEMORY_EXPANSION = 2.0


def _leaf_bytes(cat: Catalog) -> int | None:
    """On-disk size of the leaves a plan reads; None when one is not a local file."""
    try:
        return sum(os.path.getsize(f) for f in cat._files())
    except OSError:
        return None


def _plain_local_leaves(cat: Catalog) -> list[list[str]] | None:
    """The leaf files of each partition a plan reads, when the plan only selects columns (no where, search, derived
    column or limit) and every leaf is a local file; None otherwise."""
    plan = cat._plan
    if plan.predicates or plan.ranges29 is not None or plan.derived or plan.limit is not None:
        return None
    per_part = [files for files, k in zip(cat._meta["files"], cat._partition_mask()) if k]
    files = [f for fs in per_part for f in fs]
    return per_part if files and all(os.path.isfile(f) for f in files) else None


def _read_plan(cat: Catalog, executor=None, schema: pa.Schema | None = None, any_types: bool = False) -> pa.Table:
    """A plan's rows in one read. A plan that only selects columns of local leaf files is read by pyarrow's
    multi-threaded Parquet reader (about twice as fast as an engine query for whole leaves); filters, searches,
    derived columns, remote files, or leaves whose types differ from the engine's view go through one engine query.
    any_types: the caller converts the columns itself, so the leaves' own types are fine."""
    plain = _plain_local_leaves(cat)
    if plain is not None:
        import pyarrow.dataset as pads

        files = [f for fs in plain for f in fs]
        columns = list(cat._plan.columns) if cat._plan.columns else None
        try:
            table = pads.dataset(files, format="parquet").to_table(columns=columns)
            if any_types or table.schema.equals(schema if schema is not None else cat.head_arrow(0).schema):
                return table
        except (pa.ArrowException, KeyError, ValueError):
            pass  # e.g. a leaf lacking a column: the engine unions by name
    return cat.to_arrow(executor=executor)


_READ_POOL = (None, None)  # (pid, executor)


def _read_pool():
    """Threads reading leaves for the in-memory crossmatch, kept for the process (a pool per call cost ~1 ms). A
    forked child gets its own: the parent's threads do not exist in it."""
    global _READ_POOL
    pid, pool = _READ_POOL
    if pool is None or pid != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="lodestar-read")
        _READ_POOL = (os.getpid(), pool)
    return pool


def _start_leaf_reads(cat: Catalog):
    """For a plan of whole local leaves (columns selected, nothing else): its leaves submitted for reading, one per
    pool thread in partition order (faster than a dataset scan for a few columns), as (files per partition,
    futures); None for any other plan. Both sides of a crossmatch are submitted before either is awaited."""
    per_part = _plain_local_leaves(cat)
    if per_part is None:
        return None
    import pyarrow.parquet as pq

    files = [f for fs in per_part for f in fs]
    columns = list(cat._plan.columns) if cat._plan.columns else None
    pool = _read_pool()
    return per_part, [pool.submit(lambda f=f: pq.ParquetFile(f).read(columns=columns, use_threads=False)) for f in files]


def _finish_leaf_reads(started, schema: pa.Schema | None) -> tuple[pa.Table, list[int]] | None:
    """The leaves of _start_leaf_reads as one table (their chunks, no copy) and each partition's row bounds
    (bounds[i], bounds[i + 1]); None when a leaf failed to read or its types differ from `schema` (the engine's
    view; None: any types)."""
    if started is None:
        return None
    per_part, futures = started
    try:
        tables = [f.result() for f in futures]
        table = pa.concat_tables(tables)
        if schema is not None and not table.schema.equals(schema):
            return None
    except (pa.ArrowException, KeyError, ValueError, OSError):
        return None
    bounds, at = [0], 0
    for fs in per_part:  # a partition's rows: those of its leaves
        bounds.append(bounds[-1] + sum(t.num_rows for t in tables[at:at + len(fs)]))
        at += len(fs)
    return table, bounds


class _Rows:
    """A table's rows as read."""

    def __init__(self, table: pa.Table):
        self.table = table


def _chunks(table: pa.Table, column: str, dtype=np.float64) -> list[np.ndarray]:
    """A column's chunks as numpy arrays, without copying when their type is already `dtype` (the C++ crossmatch reads
    them in place)."""
    return [np.asarray(c.to_numpy(zero_copy_only=False), dtype=dtype) for c in table.column(column).chunks]


class _SortedRows:
    """A table's rows sorted by the spatial index, with its coordinates as numpy arrays."""

    def __init__(self, table: pa.Table, healpix_column: str, ra: str, dec: str):
        hp = np.asarray(table.column(healpix_column).to_numpy(), dtype=np.int64)
        if len(hp) > 1 and not bool(np.all(hp[1:] >= hp[:-1])):
            order = np.argsort(hp, kind="stable")
            table, hp = table.take(pa.array(order)), hp[order]
        self.table, self.hp = table, hp
        self.ra, self.dec = _coords(table, ra, dec)

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """Positions [a, b) of the rows with lo <= _healpix_29 < hi."""
        return int(np.searchsorted(self.hp, lo, side="left")), int(np.searchsorted(self.hp, hi, side="left"))

    def rows_in(self, ranges: np.ndarray) -> np.ndarray:
        """Positions of the rows inside the (sorted, disjoint) order-29 ranges, in index order."""
        if len(ranges) == 0:
            return np.zeros(0, dtype=np.int64)
        a = np.searchsorted(self.hp, ranges[:, 0], side="left")
        b = np.searchsorted(self.hp, ranges[:, 1], side="left")
        keep = b > a
        a, b = a[keep], b[keep]
        if len(a) == 0:
            return np.zeros(0, dtype=np.int64)
        lengths = b - a
        # concatenated aranges without a Python loop
        starts = np.repeat(a - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return starts + np.arange(int(lengths.sum()), dtype=np.int64)


def _write_task(args) -> int:
    from .writer import write_leaf

    staging, task, healpix_column = args
    return write_leaf(staging, task.order, task.pixel, run_task(task), healpix_column)


# --- the lazy result --------------------------------------------------------------------------------------------


class CrossmatchResult:
    """A planned crossmatch: nothing is read until to_pandas()/to_arrow()/count()/write()."""

    def __init__(self, left: Catalog, right: Catalog, options: XmatchOptions, suffixes: tuple[str, str],
                 right_margin: Catalog | None, client=None, executor=None):
        self.left, self.right, self.options = left, right, options
        self.suffixes = suffixes
        self.right_margin = right_margin
        self._client, self._executor = client, executor
        self.stats: dict = {}

    def __repr__(self) -> str:
        o = self.options
        mode = "all pairs" if o.all_pairs else f"{o.n_neighbors} nearest"
        return (f"<lodestar.CrossmatchResult {self.left.name!r} x {self.right.name!r}: r={o.radius_arcsec}\", {mode}, "
                f"how={o.how}{', self-match' if o.self_match else ''}>")

    # --- planning ---------------------------------------------------------------------------------------------
    def _output_columns(self):
        lcols = self.left.columns
        rcols = self.right.columns
        lsuf, rsuf = self.suffixes
        clash = set(lcols) & set(rcols)
        left_out = [(c, c + lsuf if c in clash else c) for c in lcols]
        right_out = [(c, c + rsuf if c in clash else c) for c in rcols]
        names = [n for _, n in left_out] + [n for _, n in right_out] + [DIST_COLUMN]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"crossmatch output would have duplicate column names {dup}; choose suffixes that differ "
                             f"(got {self.suffixes!r})")
        return left_out, right_out

    def _margin(self):
        """(margin meta, its partitions) when a usable margin cache is attached, else (None, reason)."""
        margin = self.right_margin if self.right_margin is not None else self.right.margin
        if margin is None:
            return None, None, "the right catalog has no margin cache"
        threshold = margin._meta.get("margin_threshold_arcsec")
        if threshold is None:
            return None, None, "the margin cache does not state its threshold"
        if threshold < self.options.radius_arcsec:
            return None, None, f"the margin threshold {threshold:.3f}\" is below the radius"
        return margin, _Partitions.of(margin._meta), f"margin cache {margin.name!r} ({threshold:.3f}\")"

    def tasks(self, count_only: bool = False) -> list[XmatchTask]:
        o = self.options
        left, right = self.left, self.right
        left_out, right_out = self._output_columns()
        lcoords = (left.ra_column, left.dec_column)
        rcoords = (right.ra_column, right.dec_column)
        left_read = list(dict.fromkeys([c for c, _ in left_out] + list(lcoords)))
        right_read = list(dict.fromkeys([c for c, _ in right_out] + list(rcoords)))
        if o.self_match:  # both sides are the same rows: read them once
            right_read = left_read = list(dict.fromkeys(left_read + right_read))
        from .catalog import _Plan  # noqa: F401 (the plan type; _with keeps everything else)

        left_plan = left._with(columns=tuple(left_read))
        right_plan = right._with(columns=tuple(right_read))
        right_schema = right_plan.head_arrow(0).schema
        right_where = right_plan._where_sql()
        rparts = _Partitions.of(right._meta, right._partition_mask())
        margin, mparts, margin_note = self._margin()
        margin_where = Catalog(margin._meta, right._plan, right._con)._where_sql() if margin is not None else None
        radius_deg = o.radius_arcsec / 3600.0
        rhp = right._meta["healpix_column"]
        tasks, n_margin, n_neigh = [], 0, 0
        for lt in left_plan.partition_tasks():
            lo = lt.pixel << (2 * (MAX_ORDER - lt.order))
            hi = (lt.pixel + 1) << (2 * (MAX_ORDER - lt.order))
            hood = neighbourhood29(lt.order, lt.pixel, radius_deg)
            if o.self_match:
                hood = _subtract(hood, lo, hi)  # the rows of L itself are the left rows
            reads: list[PartitionTask] = []
            used_margin = False
            container = None
            if margin is not None:
                # The right partition containing L (same order or coarser), if its margin leaf exists.
                i = int(np.searchsorted(rparts.lo, lo, side="right")) - 1
                if i >= 0 and rparts.lo[i] <= lo and rparts.hi[i] >= hi:
                    m = mparts.index_of(int(rparts.orders[i]), int(rparts.pixels[i]))
                    if m is not None:
                        container = (i, m)
            if container is not None:
                i, m = container
                used_margin = True
                inside = _clip(hood, int(rparts.lo[i]), int(rparts.hi[i]))
                if len(inside):
                    reads.append(self._read(rparts, i, right_read, right_where, rhp, inside))
                outside = _subtract(hood, int(rparts.lo[i]), int(rparts.hi[i]))
                if len(outside):
                    reads.append(PartitionTask(mparts.path, list(mparts.files[m]), int(mparts.orders[m]), int(mparts.pixels[m]),
                                               right_read, f"({margin_where}) AND {_ranges_sql(rhp, outside)}"))
            else:
                for i in rparts.overlapping(hood):
                    part = _clip(hood, int(rparts.lo[i]), int(rparts.hi[i]))
                    if len(part):
                        reads.append(self._read(rparts, i, right_read, right_where, rhp, part))
            if not reads and not o.self_match and o.how == "inner":
                continue  # no right rows can be near this partition
            n_margin += used_margin
            n_neigh += not used_margin
            tasks.append(XmatchTask(lt.order, lt.pixel, lt, reads, lcoords, rcoords, left_out, right_out, right_schema, o,
                                    used_margin, count_only, left_healpix=left._meta["healpix_column"], right_healpix=rhp))
        self.stats = {"left_partitions": len(left_plan.partition_tasks()), "tasks": len(tasks), "tasks_using_margin": n_margin,
                      "tasks_reading_neighbours": n_neigh, "margin": margin_note}
        return tasks

    @staticmethod
    def _read(parts: _Partitions, i: int, columns: list, where: str, healpix_column: str, ranges: np.ndarray) -> PartitionTask:
        whole = len(ranges) == 1 and ranges[0, 0] == parts.lo[i] and ranges[0, 1] == parts.hi[i]
        cond = where if whole else f"({where}) AND {_ranges_sql(healpix_column, ranges)}"
        return PartitionTask(parts.path, list(parts.files[i]), int(parts.orders[i]), int(parts.pixels[i]), columns, cond)

    def _empty(self, ls: pa.Schema | None = None, rs: pa.Schema | None = None) -> pa.Table:
        """The output's empty table; ls/rs: schemas holding (at least) the output columns of each side, if known."""
        left_out, right_out = self._output_columns()
        ls = ls if ls is not None else self.left.head_arrow(0).schema
        rs = rs if rs is not None else self.right.head_arrow(0).schema
        fields = [pa.field(n, ls.field(c).type) for c, n in left_out] + [pa.field(n, rs.field(c).type) for c, n in right_out]
        return pa.schema(fields + [pa.field(DIST_COLUMN, pa.float64())]).empty_table()

    # --- execution --------------------------------------------------------------------------------------------
    def _in_memory(self) -> bool:
        from .executor import ThreadExecutor, get_executor

        if not isinstance(get_executor(self._client, self._executor), ThreadExecutor):
            return False
        budget = int(os.environ.get("LODESTAR_XMATCH_IN_MEMORY_BYTES", IN_MEMORY_BYTES))
        sides = [self.left] if self.options.self_match else [self.left, self.right]
        sizes = [_leaf_bytes(c) for c in sides]
        return budget > 0 and None not in sizes and IN_MEMORY_EXPANSION * sum(sizes) <= budget

    def _run_in_memory(self, count_only: bool):
        """Both sides read once; per left partition, its rows and the right rows of its neighbourhood (the same
        order-29 ranges as the tasks use, so the same completeness argument) are sliced by binary search on the
        sorted `_healpix_29`, matched by the kernel (threads, GIL released), and the output is taken once."""
        o = self.options
        left, right = self.left, self.right
        left_out, right_out = self._output_columns()
        lhp, rhp = left._meta["healpix_column"], right._meta["healpix_column"]
        # A count needs only the positions and the spatial index.
        lcols = [] if count_only else [c for c, _ in left_out]
        rcols = [] if count_only else [c for c, _ in right_out]
        left_read = list(dict.fromkeys(lcols + [left.ra_column, left.dec_column, lhp]))
        right_read = list(dict.fromkeys(rcols + [right.ra_column, right.dec_column, rhp]))
        if o.self_match:
            left_read = right_read = list(dict.fromkeys(left_read + right_read))
        left_plan = left._with(columns=tuple(left_read))
        right_plan = right._with(columns=tuple(right_read))
        fast = not o.self_match and o.how == "inner"
        if count_only and fast:
            lschema = rschema = None  # a count converts the positions itself: no schema to check
        else:
            lschema = left_plan.head_arrow(0).schema
            rschema = lschema if o.self_match else right_plan.head_arrow(0).schema
        radius_deg = o.radius_arcsec / 3600.0
        parts = [(t.order, t.pixel) for t in left_plan.partition_tasks()]
        self.stats = {"left_partitions": len(parts), "tasks": len(parts), "tasks_using_margin": 0, "tasks_reading_neighbours": 0,
                      "margin": "not needed: both sides were read once, in memory", "in_memory": True}
        if fast:
            # The whole partition loop in C++ (neighbourhoods, right rows, kernel; threads, GIL released): the same
            # pairs as the loop below, without its per-partition index arrays, gathers and interpreter lock. The
            # left leaves, read in partition order, give each partition's rows: no left _healpix_29 is needed.
            from .executor import get_executor

            threads = int(getattr(get_executor(self._client, self._executor), "threads", 0) or os.cpu_count() or 1)
            lplain_columns = tuple(c for c in left_read if c != lhp or c in lcols)
            lplain = left._with(columns=lplain_columns)
            lstarted, rstarted = _start_leaf_reads(lplain), _start_leaf_reads(right_plan)
            # The engine's view of those columns: the left plan's, without _healpix_29 when it is not an output.
            lplain_schema = None if lschema is None else pa.schema([lschema.field(c) for c in lplain_columns])
            in_order = _finish_leaf_reads(lstarted, lplain_schema)
            if in_order is not None:
                ltable, bounds = in_order
                lhp_chunks = None
            else:
                ltable, bounds = _read_plan(left_plan, self._executor, lschema, any_types=count_only), None
                lhp_chunks = _chunks(ltable, lhp, np.int64)
            right_in_order = _finish_leaf_reads(rstarted, rschema)
            rtable = right_in_order[0] if right_in_order else _read_plan(right_plan, self._executor, rschema, any_types=count_only)

            def run(lt, lhp_ch, rt):
                return _core.crossmatch_sorted_catalogs(
                    _chunks(lt, left.ra_column), _chunks(lt, left.dec_column), lhp_ch, _chunks(rt, right.ra_column),
                    _chunks(rt, right.dec_column), _chunks(rt, rhp, np.int64), [p[0] for p in parts], [p[1] for p in parts],
                    o.radius_arcsec, n_neighbors=o.n_neighbors, all_pairs=o.all_pairs, min_radius_arcsec=o.min_radius_arcsec,
                    threads=threads, count_only=count_only, left_bounds=bounds)

            try:
                got = run(ltable, lhp_chunks, rtable)
                L, R = _Rows(ltable), _Rows(rtable)
            except _core.LodestarError as exc:
                if "not sorted" not in str(exc):
                    raise
                # Leaves not sorted by _healpix_29 (not HATS, but readable): sort copies, as the loop below does.
                R = _SortedRows(rtable, rhp, right.ra_column, right.dec_column)
                if bounds is None:
                    L = _SortedRows(ltable, lhp, left.ra_column, left.dec_column)
                    lhp_chunks = _chunks(L.table, lhp, np.int64)
                else:
                    L = _Rows(ltable)
                got = run(L.table, lhp_chunks, R.table)
            if count_only:
                return int(got)
            results = [(got[0], got[1], got[2], np.ones(len(got[0]), dtype=bool))] if len(got[0]) else []
            return self._take_pairs(results, L, R, left_out, right_out, lschema, rschema)

        L = _SortedRows(_read_plan(left_plan, self._executor, lschema), lhp, left.ra_column, left.dec_column)
        R = L if o.self_match else _SortedRows(_read_plan(right_plan, self._executor, rschema), rhp, right.ra_column,
                                               right.dec_column)

        def one(part):
            order, pixel = part
            lo, hi = pixel << (2 * (MAX_ORDER - order)), (pixel + 1) << (2 * (MAX_ORDER - order))
            a, b = L.span(lo, hi)
            if a == b:
                return None
            hood = neighbourhood29(order, pixel, radius_deg)
            if o.self_match:  # the right rows are the left rows of L, then the rows of S outside L
                ridx = np.concatenate([np.arange(a, b, dtype=np.int64), L.rows_in(_subtract(hood, lo, hi))])
            else:
                ridx = R.rows_in(hood)
            if count_only:
                return _count(L.ra[a:b], L.dec[a:b], R.ra[ridx], R.dec[ridx], b - a, o)
            li, ri, dist, valid = _kernel(L.ra[a:b], L.dec[a:b], R.ra[ridx], R.dec[ridx], b - a, o)
            return a + li, (ridx[ri] if len(ri) else ri), dist, valid

        results = [r for r in self._map(one, parts, f"crossmatch {left.name}") if r is not None]
        if count_only:
            return int(sum(results))
        return self._take_pairs(results, L, R, left_out, right_out, lschema, rschema)

    def _take_pairs(self, results, L, R, left_out, right_out, lschema, rschema) -> pa.Table:
        """The output table of in-memory pairs [(left rows, right rows, distances, valid)]: one take per column."""
        empty = self._empty(lschema, rschema)
        if not results:
            return empty
        li = np.concatenate([r[0] for r in results])
        ri = np.concatenate([r[1] for r in results])
        dist = np.concatenate([r[2] for r in results])
        valid = np.concatenate([r[3] for r in results])
        left_idx, right_idx = pa.array(li), pa.array(ri, mask=~valid)
        # One take per output column, on the thread pool (Arrow releases the GIL).
        jobs = [(L.table.column(src), left_idx) for src, _ in left_out]
        jobs += [(R.table.column(src), right_idx) for src, _ in right_out]
        columns = self._map(lambda job: job[0].take(job[1]), jobs, None, progress=False)
        columns.append(pa.array(dist, mask=~valid, type=pa.float64()))
        names = [n for _, n in left_out] + [n for _, n in right_out] + [DIST_COLUMN]
        return pa.Table.from_arrays(columns, names=names).cast(empty.schema)

    def _map(self, fn, tasks, desc, progress=None):
        from .executor import get_executor

        return get_executor(self._client, self._executor).map(fn, tasks, desc=desc, progress=progress)

    def to_arrow(self) -> pa.Table:
        if self._in_memory():
            return self._run_in_memory(count_only=False)
        tables = [t for t in self._map(run_task, self.tasks(), f"crossmatch {self.left.name}") if t.num_rows]
        empty = self._empty()
        if not tables:
            return empty
        return pa.concat_tables([t.cast(empty.schema) for t in tables])

    def to_pandas(self) -> pd.DataFrame:
        return arrow_to_pandas(self.to_arrow())

    def count(self) -> int:
        """Number of result rows (pairs, plus unmatched left rows with how='left')."""
        if self._in_memory():
            return self._run_in_memory(count_only=True)
        return int(sum(self._map(run_task, self.tasks(count_only=True), f"crossmatch {self.left.name}")))

    def write(self, name: str, root: str | os.PathLike | None = None, overwrite: bool = False) -> Catalog:
        """Write the result as a HATS catalog partitioned like the left one, indexed by the left spatial index."""
        from .writer import CatalogWriter

        hp = self.left._meta["healpix_column"]
        left_out, _ = self._output_columns()
        if (hp, hp) not in left_out:
            raise ValueError(f"write() needs the left spatial index column {hp!r} under its own name: keep it in the left "
                             f"select() and use an empty left suffix")
        names = dict(left_out)
        writer = CatalogWriter(root if root is not None else storage.parent(self.left.path), name, overwrite=overwrite)
        try:
            tasks = self.tasks()
            counts = self._map(_write_task, [(writer.staging, t, hp) for t in tasks], f"write {name}")
            parts = [(t.order, t.pixel, n) for t, n in zip(tasks, counts)]
            return writer.publish(parts, names[self.left.ra_column], names[self.left.dec_column], schema=self._empty().schema,
                                  extra_properties={"hats_col_healpix": hp})
        except BaseException:
            writer.abort()
            raise


# --- entry point --------------------------------------------------------------------------------------------------


def _same_catalog(a: Catalog, b: Catalog) -> bool:
    return os.path.realpath(a.path) == os.path.realpath(b.path)


def _same_plan(a: Catalog, b: Catalog) -> bool:
    pa_, pb = a._plan, b._plan
    if pa_.columns != pb.columns or pa_.predicates != pb.predicates or pa_.limit != pb.limit:
        return False
    if (pa_.ranges29 is None) != (pb.ranges29 is None):
        return False
    return pa_.ranges29 is None or np.array_equal(pa_.ranges29, pb.ranges29)


def crossmatch(left: Catalog, right: Catalog, radius_arcsec: float = 1.0, n_neighbors: int = 1, min_radius_arcsec: float = 0.0,
               how: str = "inner", suffixes: tuple[str, str] = ("", "_right"), all_pairs: bool = False, self_match: bool = False,
               right_margin=None, client=None, executor=None) -> CrossmatchResult:
    """Match every left row with its `n_neighbors` nearest right rows within `radius_arcsec` (or, with
    all_pairs=True, with every right row within the radius), at separations >= min_radius_arcsec.

    how="inner" keeps matched pairs; how="left" also keeps unmatched left rows (right columns NULL).
    Output: the left columns, the right columns (names clashing with the left get suffixes[1], the left
    ones suffixes[0]) and `_dist_arcsec`, ordered by left partition, left row, distance.
    self_match=True matches a catalog with itself, skipping each row's match with itself.
    right_margin: a margin-cache Catalog (or path) for the right side; by default the one attached to the
    right catalog (collections). Without a margin of threshold >= radius the neighbouring partitions are read.
    """
    from .catalog import open_catalog

    if not isinstance(left, Catalog) or not isinstance(right, Catalog):
        raise TypeError("crossmatch needs two lodestar.Catalog objects (open them with lodestar.open_catalog or Catalogs.load)")
    try:
        radius_arcsec = float(radius_arcsec)
        min_radius_arcsec = float(min_radius_arcsec)
    except (TypeError, ValueError):
        raise ValueError(f"radius_arcsec and min_radius_arcsec must be numbers, got {radius_arcsec!r}, {min_radius_arcsec!r}") from None
    if not math.isfinite(radius_arcsec) or radius_arcsec <= 0:
        raise ValueError(f"crossmatch radius must be > 0 arcsec, got {radius_arcsec}")
    if radius_arcsec > MAX_RADIUS_ARCSEC:
        raise ValueError(f"crossmatch radius must be at most 180 degrees (648000 arcsec), got {radius_arcsec} arcsec")
    if not math.isfinite(min_radius_arcsec) or not 0 <= min_radius_arcsec < radius_arcsec:
        raise ValueError(f"min_radius_arcsec must be within [0, radius) = [0, {radius_arcsec}), got {min_radius_arcsec}")
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be an integer >= 1, got {n_neighbors!r}")
    if how not in ("inner", "left"):
        raise ValueError(f"how must be 'inner' or 'left', got {how!r}")
    if (not isinstance(suffixes, (tuple, list)) or len(suffixes) != 2 or not all(isinstance(s, str) for s in suffixes)):
        raise ValueError(f"suffixes must be a pair of strings (left, right), got {suffixes!r}")
    for cat, side in ((left, "left"), (right, "right")):
        have = {c for c, _ in cat._stored_schema()}
        for col in (cat.ra_column, cat.dec_column):
            if col not in have:
                raise ValueError(f"the {side} catalog {cat.name!r} has no coordinate column {col!r} (its properties name "
                                 f"hats_col_ra={cat.ra_column!r}, hats_col_dec={cat.dec_column!r})")
        if cat._plan.limit is not None:
            raise ValueError(f"the {side} catalog has a row limit; crossmatch needs whole partitions (drop the limit)")
    same = _same_catalog(left, right)
    if same and not self_match:
        raise ValueError(f"left and right are the same catalog ({left.name!r}): every row would match itself. "
                         f"Pass self_match=True to match it with itself excluding each row's own match")
    if self_match and not same:
        raise ValueError(f"self_match=True needs the same catalog on both sides, got {left.name!r} and {right.name!r}")
    if self_match and not _same_plan(left, right):
        raise ValueError("self_match=True needs the same catalog object on both sides (same select/where/searches): "
                         "use cat.crossmatch(cat, self_match=True)")
    if right_margin is not None and not isinstance(right_margin, Catalog):
        right_margin = open_catalog(right_margin)
    options = XmatchOptions(radius_arcsec, int(n_neighbors), bool(all_pairs), min_radius_arcsec, how, bool(self_match))
    return CrossmatchResult(left, right, options, (suffixes[0], suffixes[1]), right_margin, client=client, executor=executor)
