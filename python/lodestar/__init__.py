"""Lodestar: an analysis engine for large astronomical catalogs.

The heavy lifting happens in a C++ engine (embedded DuckDB with astronomy SQL
functions, HEALPix, crossmatch kernels); this package is its Python face.
Results come back as pandas DataFrames with numpy dtypes.

    >>> import lodestar
    >>> lodestar.sql("SELECT ang_sep(0, 0, 1, 1) AS d")
"""

from ._core import LodestarError, __version__, duckdb_version
from ._core import ang_sep, healpix_nest
from .engine import Connection, connect, sql
from .catalog import Catalog, Catalogs, open_catalog
from .ingest import ingest
from .lightcurves import build_light_curves

__all__ = [
    "build_light_curves",
    "Catalog",
    "Catalogs",
    "Connection",
    "LodestarError",
    "__version__",
    "ang_sep",
    "connect",
    "duckdb_version",
    "healpix_nest",
    "ingest",
    "open_catalog",
    "sql",
]
