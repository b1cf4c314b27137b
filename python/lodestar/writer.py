"""Writing catalogs (derived catalogs, crossmatch results, light curves) as
HATS, atomically, from in-process threads or Dask workers alike.

    writer = CatalogWriter(root, name, overwrite=False)
    # in tasks (any worker; idempotent: a retried task rewrites the same file):
    rows = write_leaf(writer.staging, order, pixel, source_sql_or_arrow_table)
    # once, after every task succeeded:
    catalog = writer.publish(partitions=[(order, pixel, rows), ...], ra_column="ra", dec_column="dec")

Leaves go under `<root>/.write-<name>-<pid>/catalog/` and the catalog appears
by one rename after its metadata is written: never partially visible.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import _core
from .engine import Connection, default_connection

ROW_GROUP_ROWS = 20_000


def _check_name(name: str) -> None:
    if not name or name.startswith(".") or "/" in name or "\0" in name or len(name) > 200:
        raise ValueError(f"invalid catalog name {name!r}: use a plain folder name, not starting with '.'")


def leaf_path(catalog_dir: str | os.PathLike, order: int, pixel: int) -> Path:
    return Path(catalog_dir) / "dataset" / f"Norder={order}" / f"Dir={pixel // 10000 * 10000}" / f"Npix={pixel}.parquet"


def write_leaf(staging: str, order: int, pixel: int, source, healpix_column: str = "_healpix_29",
               connection: Connection | None = None) -> int:
    """Write one partition leaf, sorted by the spatial index, ZSTD. `source` is
    an SQL relation (FROM-clause text) or a pyarrow Table. Returns rows written.
    Written to a unique temporary name and renamed: retries never duplicate."""
    final = leaf_path(Path(staging) / "catalog", order, pixel)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    if isinstance(source, pa.Table):
        table = source.sort_by(healpix_column) if source.num_rows else source
        pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        rows = table.num_rows
    else:
        con = connection or default_connection()
        hp = '"' + healpix_column.replace('"', '""') + '"'
        t = con.arrow(
            f"COPY (SELECT * FROM {source} ORDER BY {hp}) TO '{str(tmp).replace(chr(39), chr(39) * 2)}' "
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
        )
        rows = int(t.column(0)[0].as_py())
    os.replace(tmp, final)
    return rows


class CatalogWriter:
    def __init__(self, root: str | os.PathLike | None, name: str, overwrite: bool = False):
        _check_name(name)
        self.root = Path(root if root is not None else _core.default_catalog_root())
        self.name = name
        self.target = self.root / name
        if self.target.exists() and not overwrite:
            raise FileExistsError(f"catalog {name!r} already exists in {self.root}; choose another name or pass overwrite=True")
        self.overwrite = overwrite
        self.root.mkdir(parents=True, exist_ok=True)
        self.staging = str(self.root / f".write-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        Path(self.staging, "catalog").mkdir(parents=True)

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def publish(self, partitions: list[tuple[int, int, int]], ra_column: str, dec_column: str,
                dataproduct_type: str = "object", extra_properties: dict[str, str] | None = None,
                schema: pa.Schema | None = None):
        """Write metadata for the leaves written (empty partitions are dropped)
        and make the catalog visible. Returns the opened Catalog."""
        from .catalog import open_catalog

        cat_dir = Path(self.staging) / "catalog"
        # Temporary files of tasks that died mid-write (their retries wrote the leaf again).
        for stray in (cat_dir / "dataset").rglob(".*") if (cat_dir / "dataset").exists() else []:
            stray.unlink(missing_ok=True)
        kept = sorted(((o, p, n) for o, p, n in partitions if n > 0), key=lambda t: (t[1] << (2 * (29 - t[0])), t[0]))
        for o, p, n in partitions:
            if n == 0:
                leaf_path(cat_dir, o, p).unlink(missing_ok=True)
        if not kept:
            if schema is None:
                raise ValueError(f"catalog {self.name!r} would be empty (no rows) and no schema was given")
        else:
            schema = pq.read_schema(leaf_path(cat_dir, kept[0][0], kept[0][1]))
        (cat_dir / "dataset").mkdir(parents=True, exist_ok=True)
        pq.write_metadata(schema, cat_dir / "dataset" / "_common_metadata")
        with open(cat_dir / "partition_info.csv", "w") as f:
            f.write("Norder,Npix\n")
            for o, p, _ in kept:
                f.write(f"{o},{p}\n")
        props = {
            "obs_collection": self.name,
            "dataproduct_type": dataproduct_type,
            "hats_nrows": str(sum(n for _, _, n in kept)),
            "hats_col_ra": ra_column,
            "hats_col_dec": dec_column,
            "hats_col_healpix": "_healpix_29",
            "hats_col_healpix_order": "29",
            "hats_npix_suffix": ".parquet",
            "hats_order": str(max((o for o, _, _ in kept), default=0)),
            "hats_builder": f"lodestar v{_core.__version__}",
            "hats_creation_date": time.strftime("%Y-%m-%dT%H:%MUTC", time.gmtime()),
            "hats_version": "v1.0",
        }
        props.update(extra_properties or {})
        (cat_dir / "hats.properties").write_text("#HATS catalog\n" + "".join(f"{k}={v}\n" for k, v in props.items()))
        if self.target.exists():
            os.replace(self.target, Path(self.staging) / "replaced")
        os.replace(cat_dir, self.target)
        shutil.rmtree(self.staging, ignore_errors=True)
        return open_catalog(self.target)
