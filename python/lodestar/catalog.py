"""Catalogs: the catalog root (load by name) and lazy catalog objects.

A Catalog is cheap to open (metadata only) and lazy: select/where/searches
build a plan; to_pandas(), count(), skymap() etc. run it in the engine,
reading only the partitions (and row groups) the plan can touch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from . import _core, storage
from .engine import Connection, arrow_to_pandas, default_connection

MAX_ORDER = 29


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _merge_ranges(ranges: np.ndarray) -> np.ndarray:
    """Sort and merge [begin, end) ranges, shape (n, 2)."""
    if len(ranges) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    r = ranges[np.argsort(ranges[:, 0], kind="stable")]
    out = [list(r[0])]
    for b, e in r[1:]:
        if b <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([b, e])
    return np.asarray(out, dtype=np.int64)


MAX_SQL_RANGES = 256


def _coarsen_ranges(ranges: np.ndarray, limit: int) -> np.ndarray:
    """At most `limit` ranges covering `ranges` (merged across the smallest gaps):
    a superset, so the exact predicate that follows keeps results exact while the
    SQL stays small (fine coverage can produce 1e5 ranges)."""
    if len(ranges) <= limit:
        return ranges
    gaps = ranges[1:, 0] - ranges[:-1, 1]
    keep = np.sort(np.argsort(gaps, kind="stable")[len(gaps) - (limit - 1):])  # the limit-1 widest gaps stay open
    starts = np.concatenate([[ranges[0, 0]], ranges[keep + 1, 0]])
    ends = np.concatenate([ranges[keep, 1], [ranges[-1, 1]]])
    return np.stack([starts, ends], axis=1)


def _intersect_ranges(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i, 0], b[j, 0]), min(a[i, 1], b[j, 1])
        if lo < hi:
            out.append((lo, hi))
        if a[i, 1] < b[j, 1]:
            i += 1
        else:
            j += 1
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True)
class _Plan:
    columns: tuple[str, ...] | None = None
    predicates: tuple[str, ...] = ()
    ranges29: np.ndarray | None = None  # coverage as merged [begin, end) at order 29
    limit: int | None = None
    derived: tuple[tuple[str, str], ...] = ()  # (name, SQL expression) columns added lazily
    steps: tuple[str, ...] = field(default=())


class Catalog:
    """A HATS catalog (or the lazy result of operations on one)."""

    def __init__(self, meta: dict, plan: _Plan | None = None, connection: Connection | None = None):
        self._meta = meta
        self._plan = plan or _Plan()
        self._con = connection
        self._schema: list[tuple[str, str]] | None = None

    # --- metadata -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._meta["name"]

    @property
    def path(self) -> str:
        return self._meta["path"]

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._meta["properties"])

    @property
    def ra_column(self) -> str:
        return self._meta["ra_column"]

    @property
    def dec_column(self) -> str:
        return self._meta["dec_column"]

    @property
    def margin(self) -> Catalog | None:
        """The margin cache attached to this catalog (collections), if any."""
        mp = self._meta.get("margin_path")
        return Catalog(_core.open_catalog(mp), connection=self._con) if mp else None

    @property
    def connection(self) -> Connection:
        return self._con or default_connection()

    def _stored_schema(self) -> list[tuple[str, str]]:
        """(column, DuckDB type) of every stored column, read once per catalog object (its files do not change)."""
        if self._schema is None:
            self._schema = [tuple(c) for c in _core.catalog_schema(self.connection._engine, self.path)]
        return self._schema

    @property
    def schema(self) -> list[tuple[str, str]]:
        """(column, DuckDB type) pairs of the catalog's rows."""
        self._stored_schema()
        if self._plan.derived:
            t = self.connection.arrow(f"DESCRIBE SELECT * FROM {self.relation_sql()}")
            return list(zip(t.column(0).to_pylist(), t.column(1).to_pylist()))
        if self._plan.columns is None:
            return list(self._schema)
        types = dict(self._schema)
        return [(c, types.get(c, "?")) for c in self._plan.columns]

    @property
    def columns(self) -> list[str]:
        return [c for c, _ in self.schema]

    @property
    def partitions(self) -> pd.DataFrame:
        """The partitions the current plan reads: Norder, Npix and leaf files."""
        keep = self._partition_mask()
        return pd.DataFrame(
            {
                "Norder": self._meta["orders"][keep],
                "Npix": self._meta["pixels"][keep],
                "files": [f for f, k in zip(self._meta["files"], keep) if k],
            }
        )

    def __len__(self) -> int:
        if not self._plan.predicates and self._plan.ranges29 is None and self._plan.limit is None and self._meta["total_rows"] >= 0:
            return int(self._meta["total_rows"])
        return self.count()

    def __repr__(self) -> str:
        steps = " -> ".join(self._plan.steps) if self._plan.steps else "all rows"
        return f"<lodestar.Catalog {self.name!r}: {len(self._meta['orders'])} partitions, {steps}>"

    # --- lazy operations ---------------------------------------------------------
    def _with(self, **changes) -> Catalog:
        return Catalog(self._meta, replace(self._plan, **changes), self._con)

    def select(self, columns: Sequence[str] | str) -> Catalog:
        """Keep only these columns (the coordinates are not added implicitly)."""
        cols = (columns,) if isinstance(columns, str) else tuple(columns)
        known = {c for c, _ in (self._schema or _core.catalog_schema(self.connection._engine, self.path))}
        known |= {n for n, _ in self._plan.derived}
        missing = [c for c in cols if c not in known]
        if missing:
            raise KeyError(f"catalog {self.name!r} has no column(s) {missing}; columns: {sorted(known)}")
        return self._with(columns=cols, steps=self._plan.steps + (f"select({', '.join(cols)})",))

    def where(self, predicate: str) -> Catalog:
        """Keep rows satisfying an SQL boolean expression (astronomy functions allowed)."""
        if not isinstance(predicate, str) or not predicate.strip():
            raise ValueError("where() needs a non-empty SQL boolean expression")
        return self._with(predicates=self._plan.predicates + (f"({predicate})",), steps=self._plan.steps + (f"where({predicate})",))

    def restrict_to(self, ranges29: np.ndarray, predicate: str | None, step: str) -> Catalog:
        """Narrow the plan to HEALPix coverage (order-29 ranges) plus an exact predicate.
        Used by the search shapes; coverage prunes partitions and row groups."""
        ranges29 = _merge_ranges(np.asarray(ranges29, dtype=np.int64).reshape(-1, 2))
        if self._plan.ranges29 is not None:
            ranges29 = _intersect_ranges(self._plan.ranges29, ranges29)
        preds = self._plan.predicates + ((f"({predicate})",) if predicate else ())
        return self._with(ranges29=ranges29, predicates=preds, steps=self._plan.steps + (step,))

    def cone_search(self, ra: float, dec: float, radius_arcsec: float) -> Catalog:
        """Rows within radius_arcsec of (ra, dec) (degrees)."""
        from .search import cone_search

        return cone_search(self, ra, dec, radius_arcsec)

    cone = cone_search  # the AXS name

    # --- searches and crossmatch (delegating to search.py / crossmatch.py)
    def box_search(self, ra: tuple[float, float], dec: tuple[float, float]) -> Catalog:
        """Rows in the RA/Dec box (degrees; RA wraps through 0/360 when ra[0] > ra[1])."""
        from .search import box_search; return box_search(self, ra, dec)  # noqa: E702

    def region(self, ra1: float, dec1: float, ra2: float, dec2: float) -> Catalog:
        """AXS name: the box RA ra1 -> ra2 (east), Dec between dec1 and dec2."""
        from .search import region_search; return region_search(self, ra1, dec1, ra2, dec2)  # noqa: E702

    def polygon_search(self, vertices) -> Catalog:
        """Rows inside a convex polygon with great-circle edges, vertices [(ra, dec), ...]."""
        from .search import polygon_search; return polygon_search(self, vertices)  # noqa: E702

    def id_search(self, column: str, values) -> Catalog:
        """Rows whose `column` is one of `values`."""
        from .search import id_search; return id_search(self, column, values)  # noqa: E702

    def pixel_search(self, order: int, pixels) -> Catalog:
        """Rows in these NESTED HEALPix pixels at `order`."""
        from .search import pixel_search; return pixel_search(self, order, pixels)  # noqa: E702

    def crossmatch(self, right: Catalog, radius_arcsec: float = 1.0, **options):
        """Lazy crossmatch with `right` (see lodestar.crossmatch.crossmatch for the options)."""
        from .crossmatch import crossmatch; return crossmatch(self, right, radius_arcsec=radius_arcsec, **options)  # noqa: E702

    # --- execution --------------------------------------------------------------
    def _partition_mask(self) -> np.ndarray:
        orders, pixels = self._meta["orders"], self._meta["pixels"]
        if self._plan.ranges29 is None or len(orders) == 0:
            return np.ones(len(orders), dtype=bool)
        shift = 2 * (MAX_ORDER - orders)
        lo = pixels << shift
        hi = (pixels + 1) << shift
        r = self._plan.ranges29
        # A partition [lo, hi) overlaps a range [b, e) iff b < hi and lo < e.
        idx = np.searchsorted(r[:, 0], hi, side="left")  # ranges starting before hi
        ok = idx > 0
        ends = np.where(ok, r[np.maximum(idx - 1, 0), 1], 0)
        # the last range starting before hi is the only candidate to reach past lo (ranges are disjoint and sorted)
        return ok & (ends > lo)

    def _files(self) -> list[str]:
        keep = self._partition_mask()
        return [f for files, k in zip(self._meta["files"], keep) if k for f in files]

    def _where_sql(self) -> str:
        preds = list(self._plan.predicates)
        if self._plan.ranges29 is not None:
            hp = _quote_ident(self._meta["healpix_column"])
            sql_ranges = _coarsen_ranges(self._plan.ranges29, MAX_SQL_RANGES)
            ranges = " OR ".join(f"{hp} BETWEEN {b} AND {e - 1}" for b, e in sql_ranges)
            preds.insert(0, f"({ranges})" if ranges else "false")
        return " AND ".join(preds) if preds else "true"

    def relation_sql(self) -> str:
        """SQL for this catalog's planned rows (a parenthesised SELECT)."""
        rel = _with_derived(_core.catalog_relation_sql(self.connection._engine, self.path, self._files()), self._plan.derived)
        cols = ", ".join(_quote_ident(c) for c in self._plan.columns) if self._plan.columns else "*"
        limit = f" LIMIT {int(self._plan.limit)}" if self._plan.limit is not None else ""
        return f"(SELECT {cols} FROM {rel} WHERE {self._where_sql()}{limit})"

    # --- light curves (delegating to lightcurves.py)
    def light_curve_features(self, column: str = "lc", client=None, **options) -> pd.DataFrame:
        """Per (object, band) light-curve features (C++ kernel per partition); see lodestar.lightcurves."""
        from . import lightcurves; return lightcurves.light_curve_features(self, column=column, client=client, **options)  # noqa: E702

    def find_dimming_events(self, k_sigma: float = 3.0, client=None, progress: bool | None = True, **options) -> pd.DataFrame:
        """Dimming events of every light curve ranked by score (C++ detector + GSL fit); see lodestar.lightcurves."""
        from . import lightcurves; return lightcurves.find_dimming_events(self, k_sigma=k_sigma, client=client, progress=progress, **options)  # noqa: E702

    def map_light_curves(self, fn, column: str = "lc", client=None, **options) -> pd.DataFrame:
        """fn(mjd, mag, mag_err, band) over every light curve in parallel -> DataFrame; see lodestar.lightcurves."""
        from . import lightcurves; return lightcurves.map_light_curves(self, fn, column=column, client=client, **options)  # noqa: E702

    def with_column(self, name: str, expr: str) -> "Catalog":
        """A lazy derived column `name` = SQL expression over the catalog's columns
        (astronomy and light-curve functions allowed; AXS's add_primitive_column).
        Later where/select may use it; it is computed per partition wherever the plan runs."""
        if not isinstance(name, str) or not name or not isinstance(expr, str) or not expr.strip():
            raise ValueError("with_column(name, expr) needs a column name and a non-empty SQL expression")
        if name in self.columns:
            raise ValueError(f"catalog {self.name!r} already has a column {name!r}")
        if self._plan.columns is not None:
            raise ValueError("with_column() must come before select(): derived columns are computed from all columns")
        out = self._with(derived=self._plan.derived + ((name, expr),), steps=self._plan.steps + (f"with_column({name})",))
        out.head_arrow(0)  # check the expression now, with the engine's message
        return out

    add_primitive_column = with_column

    def partition_tasks(self) -> list["PartitionTask"]:
        """One picklable task per partition the plan reads (for executors)."""
        keep = self._partition_mask()
        cols = list(self._plan.columns) if self._plan.columns else None
        where = self._where_sql()
        return [
            PartitionTask(self.path, list(files), int(o), int(p), cols, where, self._plan.derived)
            for o, p, files, k in zip(self._meta["orders"], self._meta["pixels"], self._meta["files"], keep)
            if k
        ]

    def to_arrow(self, client=None, executor=None) -> pa.Table:
        """The planned rows as a pyarrow Table. In-process, one engine query
        over the pruned leaves (the engine parallelizes it); with a Dask
        client (or LODESTAR_SCHEDULER), one task per partition."""
        from .executor import ThreadExecutor, get_executor

        ex = get_executor(client, executor)
        if isinstance(ex, ThreadExecutor) or self._plan.limit is not None:
            return self.connection.arrow(f"SELECT * FROM {self.relation_sql()}")
        tables = ex.map(read_partition, self.partition_tasks(), desc=f"read {self.name}")
        return _concat_tables(tables, self)

    def to_pandas(self, client=None, executor=None) -> pd.DataFrame:
        return arrow_to_pandas(self.to_arrow(client=client, executor=executor))

    def to_dask(self):
        """A dask.dataframe with one partition per catalog partition (read lazily by the workers)."""
        import dask
        import dask.dataframe as dd

        tasks = self.partition_tasks()
        meta = arrow_to_pandas(self.head_arrow(0))
        parts = [dask.delayed(_read_partition_pandas)(t) for t in tasks]
        return dd.from_delayed(parts, meta=meta, verify_meta=False) if parts else dd.from_pandas(meta, npartitions=1)

    def head_arrow(self, n: int) -> pa.Table:
        return self.connection.arrow(f"SELECT * FROM {self.relation_sql()} LIMIT {int(n)}")

    def write(self, name: str, root: str | os.PathLike | None = None, overwrite: bool = False, client=None, executor=None) -> "Catalog":
        """Write the planned rows as a new HATS catalog `name` in the root,
        partitioned like this catalog (partitions left empty are dropped).
        One task per partition; the catalog appears only when all succeeded."""
        from .executor import get_executor
        from .writer import CatalogWriter

        hp = self._meta["healpix_column"]
        if self._plan.columns is not None and hp not in self._plan.columns:
            raise ValueError(f"write() needs the spatial index column {hp!r}: include it in select()")
        writer = CatalogWriter(root if root is not None else storage.parent(self.path), name, overwrite=overwrite)
        try:
            tasks = [(writer.staging, t, hp) for t in self.partition_tasks()]
            counts = get_executor(client, executor).map(_write_partition, tasks, desc=f"write {name}")
            parts = [(t.order, t.pixel, n) for (_, t, _), n in zip(tasks, counts)]
            schema = self.head_arrow(0).schema
            return writer.publish(parts, self.ra_column, self.dec_column, schema=schema,
                                  extra_properties={"hats_col_healpix": hp})
        except BaseException:
            writer.abort()
            raise

    def map_partitions(self, fn, client=None, executor=None, **kwargs) -> pd.DataFrame:
        """Apply fn(pandas.DataFrame, **kwargs) to every partition in parallel;
        returns the concatenated results (DataFrames, Series or scalars). Each
        call gets the partition's rows with the plan applied; results keep
        partition order. Runs on threads, or on Dask with client= /
        LODESTAR_SCHEDULER (fn must then be picklable)."""
        from .executor import get_executor

        tasks = [(t, fn, kwargs) for t in self.partition_tasks()]
        results = get_executor(client, executor).map(_apply_to_partition, tasks, desc=f"map {self.name}")
        return _combine_results(results)

    def head(self, n: int = 5) -> pd.DataFrame:
        return arrow_to_pandas(self.connection.arrow(f"SELECT * FROM {self.relation_sql()} LIMIT {int(n)}"))

    def count(self) -> int:
        return int(self.connection.arrow(f"SELECT count(*) AS n FROM {self.relation_sql()}").column(0)[0].as_py())

    def sql(self, query: str) -> pd.DataFrame:
        """Run DuckDB SQL where the catalog (with this plan applied) is the table
        named like the catalog, e.g. cat.sql("SELECT avg(mag) FROM gaia")."""
        # One call = one connection: the temporary view is private to this query.
        view = f"CREATE OR REPLACE TEMP VIEW {_quote_ident(self.name)} AS SELECT * FROM {self.relation_sql()};\n"
        return self.connection.sql(view + query)

    # --- sky maps and histograms, computed in the engine -------------------------
    def skymap(self, order: int = 6) -> np.ndarray:
        """Row counts per HEALPix pixel (NESTED) at `order`: a dense numpy array of 12*4**order."""
        if not 0 <= order <= 12:
            raise ValueError(f"skymap order must be within [0, 12] (a dense map of 12*4**order pixels), got {order}")
        hp = _quote_ident(self._meta["healpix_column"])
        shift = 2 * (self._meta["healpix_order"] - order)
        t = self.connection.arrow(
            f"SELECT {hp} >> {shift} AS pix, count(*) AS n FROM (SELECT {hp} FROM {self._unprojected_sql()}) GROUP BY pix"
        )
        counts = np.zeros(12 * 4**order, dtype=np.int64)
        pix = t.column("pix").to_numpy()
        counts[pix] = t.column("n").to_numpy()
        return counts

    def plot_skymap(self, order: int = 6, path: str | os.PathLike | None = None, title: str | None = None, log: bool = True):
        """Mollweide plot of skymap(order) (healpy); saved as PNG when path is given. Returns the figure."""
        import healpy as hp
        import matplotlib

        if path is not None and matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        counts = self.skymap(order).astype(float)
        shown = np.where(counts > 0, np.log10(np.maximum(counts, 1)), hp.UNSEEN) if log else counts
        hp.mollview(shown, nest=True, title=title or f"{self.name}: sources per pixel (order {order})",
                    unit="log10 count" if log else "count", cmap="viridis")
        hp.graticule(dpar=30, dmer=60, alpha=0.3)
        fig = plt.gcf()
        if path is not None:
            fig.savefig(path, dpi=110, bbox_inches="tight")
        return fig

    def _unprojected_sql(self) -> str:
        """The planned rows with every column (projection applied last)."""
        return Catalog(self._meta, replace(self._plan, columns=None), self._con).relation_sql()

    def histogram(self, column: str, bins: int = 50, range: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Counts and bin edges like numpy.histogram, computed in the engine."""
        edges_lo, edges_hi = range if range is not None else self._min_max(column)
        counts = self._binned([column], [bins], [(edges_lo, edges_hi)])
        return counts, np.linspace(edges_lo, edges_hi, bins + 1)

    def histogram2d(self, x: str, y: str, bins: int | tuple[int, int] = 50, range=None):
        """2-D counts (nx, ny) and the x and y edges, like numpy.histogram2d (values outside range are ignored)."""
        bx, by = (bins, bins) if isinstance(bins, int) else bins
        rx, ry = range if range is not None else (self._min_max(x), self._min_max(y))
        counts = self._binned([x, y], [bx, by], [rx, ry])
        return counts, np.linspace(rx[0], rx[1], bx + 1), np.linspace(ry[0], ry[1], by + 1)

    def _min_max(self, column: str) -> tuple[float, float]:
        c = _quote_ident(column)
        t = self.connection.arrow(f"SELECT min({c})::DOUBLE AS lo, max({c})::DOUBLE AS hi FROM {self._unprojected_sql()} WHERE isfinite({c}::DOUBLE)")
        lo, hi = t.column(0)[0].as_py(), t.column(1)[0].as_py()
        if lo is None:
            raise ValueError(f"column {column!r} has no finite values to histogram")
        return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)

    def _binned(self, columns: list[str], bins: list[int], ranges: list[tuple[float, float]]) -> np.ndarray:
        exprs, conds = [], []
        for i, (col, n, (lo, hi)) in enumerate(zip(columns, bins, ranges)):
            if not n >= 1:
                raise ValueError(f"bins must be >= 1, got {n}")
            if not hi > lo:
                raise ValueError(f"range of {col!r} must have hi > lo, got ({lo}, {hi})")
            c = f"{_quote_ident(col)}::DOUBLE"
            # Like numpy: bins are [lo, hi) except the last, which includes hi.
            exprs.append(f"least(floor(({c} - {lo!r}) / ({hi!r} - {lo!r}) * {n})::BIGINT, {n - 1}) AS b{i}")
            conds.append(f"{c} >= {lo!r} AND {c} <= {hi!r}")
        names = ", ".join(f"b{i}" for i in builtins_range(len(columns)))
        t = self.connection.arrow(
            f"SELECT {names}, count(*) AS n FROM (SELECT {', '.join(exprs)} FROM {self._unprojected_sql()} WHERE {' AND '.join(conds)}) GROUP BY ALL"
        )
        counts = np.zeros(tuple(bins), dtype=np.int64)
        index = tuple(t.column(f"b{i}").to_numpy() for i in builtins_range(len(columns)))
        counts[index] = t.column("n").to_numpy()
        return counts


builtins_range = range


@dataclass(frozen=True)
class PartitionTask:
    """What a worker needs to read one partition: the catalog folder, the
    leaf files, and the plan's projection and filter as SQL."""

    catalog_path: str
    files: list
    order: int
    pixel: int
    columns: list | None
    where: str
    derived: tuple = ()


def _with_derived(rel: str, derived) -> str:
    """The relation with derived columns appended (filters apply after, so they may use them)."""
    if not derived:
        return rel
    exprs = ", ".join(f"({e}) AS {_quote_ident(n)}" for n, e in derived)
    return f"(SELECT *, {exprs} FROM {rel})"


def read_partition(task: PartitionTask, connection: Connection | None = None) -> pa.Table:
    """Rows of one partition with the plan applied (runs on any worker)."""
    con = connection or default_connection()
    rel = _with_derived(_core.catalog_relation_sql(con._engine, task.catalog_path, task.files), task.derived)
    cols = ", ".join(_quote_ident(c) for c in task.columns) if task.columns else "*"
    return con.arrow(f"SELECT {cols} FROM {rel} WHERE {task.where}")


def _read_partition_pandas(task: PartitionTask) -> pd.DataFrame:
    return arrow_to_pandas(read_partition(task))


def _write_partition(args) -> int:
    from .writer import write_leaf

    staging, task, healpix_column = args
    con = default_connection()
    rel = _with_derived(_core.catalog_relation_sql(con._engine, task.catalog_path, task.files), task.derived)
    cols = ", ".join(_quote_ident(c) for c in task.columns) if task.columns else "*"
    return write_leaf(staging, task.order, task.pixel, f"(SELECT {cols} FROM {rel} WHERE {task.where})", healpix_column, con)


def _apply_to_partition(args):
    task, fn, kwargs = args
    return fn(arrow_to_pandas(read_partition(task)), **kwargs)


def _combine_results(results: list):
    if not results:
        return pd.DataFrame()
    if all(isinstance(r, (pd.DataFrame, pd.Series)) for r in results):
        return pd.concat(results, ignore_index=True) if isinstance(results[0], pd.DataFrame) else pd.concat(results, ignore_index=True)
    return pd.Series(results)


def _concat_tables(tables: list[pa.Table], catalog: "Catalog") -> pa.Table:
    tables = [t for t in tables if t is not None]
    if not tables:
        return catalog.head_arrow(0)
    return pa.concat_tables(tables, promote_options="default")


class Catalogs:
    """A catalog root: a folder of catalogs, loaded by name.

    The default root is $LODESTAR_ROOT, else ~/.lodestar/catalogs. A root may
    be a local folder or an object-store prefix (s3://bucket/prefix, see
    lodestar.storage); catalogs load the same way from both.
    """

    def __init__(self, root: str | os.PathLike | None = None, connection: Connection | None = None):
        self.root = os.fspath(root) if root is not None else _core.default_catalog_root()
        self._con = connection

    def list(self) -> list[str]:
        return list(_core.list_catalogs(self.root))

    def load(self, name: str) -> Catalog:
        return Catalog(_core.open_catalog(_core.catalog_path(self.root, name)), connection=self._con)

    def __contains__(self, name: str) -> bool:
        return name in self.list()

    def __iter__(self):
        return iter(self.list())

    def __repr__(self) -> str:
        return f"<lodestar.Catalogs {self.root!r}: {', '.join(self.list()) or 'empty'}>"

    def sql(self, query: str) -> pd.DataFrame:
        """SQL where every catalog of the root is a table named like the catalog."""
        con = self._con or default_connection()
        views = "".join(
            f"CREATE OR REPLACE TEMP VIEW {_quote_ident(name)} AS SELECT * FROM {self.load(name).relation_sql()};\n" for name in self.list()
        )
        return con.sql(views + query)

    def ingest(self, inputs, name: str, **options) -> Catalog:
        from .ingest import ingest

        return ingest(inputs, name, root=self.root, connection=self._con, **options)


def open_catalog(path: str | os.PathLike, connection: Connection | None = None) -> Catalog:
    """Open any HATS catalog or collection folder (written by Lodestar, LSDB or hats-import)."""
    path = os.fspath(path)
    return Catalog(_core.open_catalog(path if storage.is_remote(path) else str(Path(path))), connection=connection)
