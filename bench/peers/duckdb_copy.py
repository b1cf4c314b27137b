"""Peer: plain DuckDB (the Python package pinned to the engine's version, 1.5.5).

The "no astronomy" baseline: what DuckDB alone does with the same files.
* `csv_to_parquet`: `COPY (SELECT * FROM read_csv(...)) TO 'x.parquet'` — one file, no HEALPix partitioning.
* `sum_ra`: `SELECT sum(ra)` over an explicit list of Parquet leaf files (e.g. a HATS catalog's leaves).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import stopwatch, unavailable


def _duckdb():
    try:
        import duckdb
    except ImportError as exc:
        return None, unavailable(f"the duckdb Python package is not installed ({exc}); pip install duckdb==1.5.5")
    return duckdb, None


def _connect(duckdb, threads: int | None):
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads or os.cpu_count() or 1)}")
    return con


def _quote(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def csv_to_parquet(csv_path: Path | str, out_path: Path | str, *, threads: int | None = None) -> dict:
    """Time a plain CSV -> single Parquet file conversion; rows counted from the written file."""
    duckdb, missing = _duckdb()
    if missing:
        return missing
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.unlink(missing_ok=True)
    con = _connect(duckdb, threads)
    try:
        with stopwatch() as t:
            con.execute(f"COPY (SELECT * FROM read_csv({_quote(csv_path)})) TO {_quote(out_path)} (FORMAT parquet)")
        rows = con.execute(f"SELECT count(*) FROM read_parquet({_quote(out_path)})").fetchone()[0]
    finally:
        con.close()
    return {"seconds": t(), "rows": int(rows), "rows_per_s": rows / t(), "output": str(out_path), "version": duckdb.__version__}


def sum_ra(parquet_files: list[str], *, threads: int | None = None) -> dict:
    """Time `SELECT sum(ra), count(*)` over the given Parquet files."""
    duckdb, missing = _duckdb()
    if missing:
        return missing
    if not parquet_files:
        return unavailable("no Parquet files given to sum over")
    con = _connect(duckdb, threads)
    files = "[" + ", ".join(_quote(f) for f in parquet_files) + "]"
    try:
        with stopwatch() as t:
            total, rows = con.execute(f"SELECT sum(ra), count(*) FROM read_parquet({files})").fetchone()
    finally:
        con.close()
    return {"seconds": t(), "result": float(total), "rows": int(rows), "rows_per_s": rows / t(), "files": len(parquet_files),
            "version": duckdb.__version__}
