"""Lodestar: an analysis engine for large astronomical catalogs.

The heavy lifting happens in a C++ engine (embedded DuckDB with astronomy SQL
functions, HEALPix, crossmatch kernels); this package is its Python face.
Results come back as pandas DataFrames with numpy dtypes.

    >>> import lodestar
    >>> lodestar.sql("SELECT ang_sep(0, 0, 1, 1) AS d")
"""

import os as _os


def _find_httpfs_extension() -> None:
    """Point the engine at the httpfs extension installed from PyPI
    (duckdb-extension-httpfs, same DuckDB version) for s3:// catalog roots;
    the C++ engine and the CLI read LODESTAR_HTTPFS_EXTENSION."""
    if _os.environ.get("LODESTAR_HTTPFS_EXTENSION"):
        return
    import importlib.util

    spec = importlib.util.find_spec("duckdb_extension_httpfs")
    if spec is None or not spec.submodule_search_locations:
        return
    for base in spec.submodule_search_locations:
        for candidate in sorted(_os.listdir(_os.path.join(base, "extensions"))) if _os.path.isdir(_os.path.join(base, "extensions")) else []:
            path = _os.path.join(base, "extensions", candidate, "httpfs.duckdb_extension")
            if _os.path.isfile(path):
                _os.environ["LODESTAR_HTTPFS_EXTENSION"] = path
                return


_find_httpfs_extension()

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
