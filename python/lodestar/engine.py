"""Connections to the embedded engine and SQL to pandas."""

from __future__ import annotations

import os
import threading

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
        columns holding NULLs become float64 with NaN, as pandas does.
        """
        return self.arrow(query).to_pandas()

    def execute(self, query: str) -> None:
        """Run SQL for its side effects."""
        self._engine.execute(query)

    def __repr__(self) -> str:
        return f"<lodestar.Connection threads={self.threads}>"


def connect(threads: int | None = None, memory_limit: str | None = None, temp_directory: str | None = None) -> Connection:
    """Open an engine with the given options (see Connection)."""
    return Connection(threads=threads, memory_limit=memory_limit, temp_directory=temp_directory)


_default: Connection | None = None
_default_lock = threading.Lock()


def default_connection() -> Connection:
    """The process-wide engine used by lodestar.sql(); LODESTAR_THREADS and
    LODESTAR_MEMORY_LIMIT configure it."""
    global _default
    with _default_lock:
        if _default is None:
            threads = int(os.environ.get("LODESTAR_THREADS", "0") or 0)
            _default = Connection(threads=threads or None, memory_limit=os.environ.get("LODESTAR_MEMORY_LIMIT"))
        return _default


def sql(query: str) -> pd.DataFrame:
    """Run SQL on the default engine and return a pandas DataFrame."""
    return default_connection().sql(query)
