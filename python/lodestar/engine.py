"""Connections to the embedded engine and SQL to pandas."""

from __future__ import annotations

import os
import threading

import numpy as np
import pandas as pd
import pyarrow as pa

from . import _core


class Connection:
    """An in-process engine: one embedded DuckDB database with Lodestar's
    astronomy functions (ang_sep, healpix_nest, healpix29, healpix_parent,
    cone_contains).

    threads: worker threads for a query (default: all cores).
    memory_limit: e.g. "2GB" (default: DuckDB's, 80% of RAM).
    temp_directory: where large sorts/joins spill.
    """

    def __init__(self, threads: int | None = None, memory_limit: str | None = None, temp_directory: str | None = None):
        self._engine = _core.Engine(threads=threads or 0, memory_limit=memory_limit or "", temp_directory=temp_directory or "")

    @property
    def threads(self) -> int:
        return self._engine.threads

    def arrow(self, query: str) -> pa.Table:
        """Run SQL and return the last statement's result as a pyarrow Table."""
        return pa.RecordBatchReader.from_stream(self._engine.query(query)).read_all()

    def sql(self, query: str) -> pd.DataFrame:
        """Run SQL and return the last statement's result as a pandas DataFrame.

        Numeric columns arrive as numpy arrays (float64, int64, ...); integer
        columns holding NULLs become float64 with NaN, as pandas does. SQL
        DECIMAL values (e.g. `i * 0.5`, `sum(BIGINT)`) become float64, or
        int64 when they are whole numbers that fit.
        """
        return arrow_to_pandas(self.arrow(query))

    def execute(self, query: str) -> None:
        """Run SQL for its side effects."""
        self._engine.execute(query)

    def __repr__(self) -> str:
        return f"<lodestar.Connection threads={self.threads}>"


def connect(threads: int | None = None, memory_limit: str | None = None, temp_directory: str | None = None) -> Connection:
    """Open an engine with the given options (see Connection). Unset options
    follow LODESTAR_THREADS / LODESTAR_MEMORY_LIMIT (set by the platform's
    spawn profiles), then DuckDB's defaults."""
    if threads is None:
        threads = int(os.environ.get("LODESTAR_THREADS", "0") or 0) or None
    if memory_limit is None:
        memory_limit = os.environ.get("LODESTAR_MEMORY_LIMIT") or None
    return Connection(threads=threads, memory_limit=memory_limit, temp_directory=temp_directory)


def _numpy_friendly(t: pa.DataType) -> pa.DataType:
    """The type a column should have so pandas holds it as numpy numbers."""
    if pa.types.is_decimal(t):
        return pa.float64()
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(_numpy_friendly(t.field(i).type)) for i in range(t.num_fields)])
    if pa.types.is_list(t):
        return pa.list_(_numpy_friendly(t.value_type))
    if pa.types.is_large_list(t):
        return pa.large_list(_numpy_friendly(t.value_type))
    return t


def _decimal_to_float64(arr: pa.Array) -> pa.Array:
    """Correctly rounded DECIMAL -> float64 when the unscaled integers fit in
    53 bits (the usual case): the integer and 10**s are exact doubles, so one
    IEEE division rounds once. Arrow's own cast can be off by an ulp."""
    t = arr.type
    if not pa.types.is_decimal128(t) or t.scale > 22 or len(arr) == 0:
        return arr.cast(pa.float64())
    words = np.frombuffer(arr.buffers()[1], dtype=np.int64)[2 * arr.offset : 2 * (arr.offset + len(arr))].reshape(-1, 2)
    lo, hi = words[:, 0], words[:, 1]
    valid = ~arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else np.ones(len(arr), bool)
    exact = (hi == (lo >> 63)) & (np.abs(lo) < 2**53)
    if not np.all(exact | ~valid):
        return arr.cast(pa.float64())
    values = lo.astype(np.float64) / float(10**t.scale)
    return pa.array(values, mask=None if valid.all() else ~valid, type=pa.float64())


def _column_for_pandas(col: pa.ChunkedArray) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_decimal(t) and t.scale > 0:
        return pa.chunked_array([_decimal_to_float64(c) for c in col.chunks], type=pa.float64())
    if pa.types.is_decimal(t) and t.scale == 0:
        try:
            return col.cast(pa.int64())  # safe cast: raises on overflow
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return col.cast(pa.float64())
    target = _numpy_friendly(t)
    return col if target == t else col.cast(target)


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """pyarrow Table to pandas, turning DECIMAL into numpy numbers. Columns
    are handled by position: SQL results may repeat a column name."""
    columns = [_column_for_pandas(c) for c in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names).to_pandas()


_default: Connection | None = None
_default_lock = threading.Lock()


def default_connection() -> Connection:
    """The process-wide engine used by lodestar.sql(); LODESTAR_THREADS and
    LODESTAR_MEMORY_LIMIT configure it."""
    global _default
    with _default_lock:
        if _default is None:
            _default = connect()
        return _default


def sql(query: str) -> pd.DataFrame:
    """Run SQL on the default engine and return a pandas DataFrame."""
    return default_connection().sql(query)
