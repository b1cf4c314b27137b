"""Writing catalogs (derived catalogs, crossmatch results, light curves) as
HATS, atomically, from in-process threads or Dask workers alike.

    writer = CatalogWriter(root, name, overwrite=False)
    # in tasks (any worker; idempotent: a retried task rewrites the same file):
    rows = write_leaf(writer.staging, order, pixel, source_sql_or_arrow_table)
    # once, after every task succeeded:
    catalog = writer.publish(partitions=[(order, pixel, rows), ...], ra_column="ra", dec_column="dec")

Leaves go under `<root>/.write-<name>-<pid>/catalog/` and the catalog appears
by one rename after its metadata is written: never partially visible. On an
object store (s3:// roots) leaves are written straight to
`<root>/.lodestar-staging/<name>-<id>/catalog/` by the engine (an S3 PUT is
atomic, and a retried task overwrites the same key), and publishing copies
them server-side with the properties last (lodestar.storage).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import _core, storage
from .parquet_format import copy_options, pyarrow_write_kwargs
from .engine import Connection, default_connection

ROW_GROUP_ROWS = 20_000


def _check_name(name: str) -> None:
    if not name or name.startswith(".") or "/" in name or "\0" in name or len(name) > 200:
        raise ValueError(f"invalid catalog name {name!r}: use a plain folder name, not starting with '.'")


def leaf_relpath(order: int, pixel: int, suffix: str = ".parquet") -> str:
    """A partition's leaf, relative to the catalog's dataset/ folder (HATS naming)."""
    return f"Norder={order}/Dir={pixel // 10000 * 10000}/Npix={pixel}{suffix}"


def leaf_path(catalog_dir: str | os.PathLike, order: int, pixel: int) -> Path:
    return Path(catalog_dir) / "dataset" / leaf_relpath(order, pixel)


def leaf_url(catalog_dir: str, order: int, pixel: int) -> str:
    """leaf_path for local folders and s3:// prefixes alike (as a string)."""
    if storage.is_remote(catalog_dir):
        return storage.join(catalog_dir, "dataset", leaf_relpath(order, pixel))
    return str(leaf_path(catalog_dir, order, pixel))


def kept_partitions(partitions) -> list[tuple[int, int, int]]:
    """The (order, pixel, rows) partitions holding rows, in breadth-first HATS order."""
    return sorted(((o, p, n) for o, p, n in partitions if n > 0), key=lambda t: (t[1] << (2 * (29 - t[0])), t[0]))


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _copy_sorted_sql(source: str, target: str, healpix_column: str) -> str:
    hp = '"' + healpix_column.replace('"', '""') + '"'
    return (f"COPY (SELECT * FROM {source} ORDER BY {hp}) TO {_sql_str(target)} "
            f"{copy_options(ROW_GROUP_ROWS)}")


def write_leaf(staging: str, order: int, pixel: int, source, healpix_column: str = "_healpix_29",
               connection: Connection | None = None) -> int:
    """Write one partition leaf, sorted by the spatial index, ZSTD. `source` is
    an SQL relation (FROM-clause text) or a pyarrow Table. Returns rows written.
    Written to a unique temporary name and renamed: retries never duplicate."""
    if storage.is_remote(staging):
        return _write_remote_leaf(staging, order, pixel, source, healpix_column, connection)
    final = leaf_path(Path(staging) / "catalog", order, pixel)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    if isinstance(source, pa.Table):
        table = source.sort_by(healpix_column) if source.num_rows else source
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, **pyarrow_write_kwargs(table.schema))
        rows = table.num_rows
    else:
        con = connection or default_connection()
        t = con.arrow(_copy_sorted_sql(source, str(tmp), healpix_column))
        rows = int(t.column(0)[0].as_py())
    os.replace(tmp, final)
    return rows


def _write_remote_leaf(staging: str, order: int, pixel: int, source, healpix_column: str, connection) -> int:
    """One leaf as one object at its final key under the staging prefix: an
    S3 PUT (or completed multipart upload) appears whole or not at all."""
    final = leaf_url(storage.join(staging, "catalog"), order, pixel)
    if isinstance(source, pa.Table):
        table = source.sort_by(healpix_column) if source.num_rows else source
        storage.write_parquet_table(table, final, ROW_GROUP_ROWS)
        return table.num_rows
    con = connection or default_connection()
    return int(con.arrow(_copy_sorted_sql(source, final, healpix_column)).column(0)[0].as_py())


class CatalogWriter:
    def __init__(self, root: str | os.PathLike | None, name: str, overwrite: bool = False):
        _check_name(name)
        root = os.fspath(root) if root is not None else _core.default_catalog_root()
        self.name = name
        self.overwrite = overwrite
        self.remote = storage.is_remote(root)
        if self.remote:
            self.root = root.rstrip("/")
            self.target = storage.join(self.root, name)
            if storage.catalog_exists(self.target) and not overwrite:
                raise FileExistsError(f"catalog {name!r} already exists in {self.root}; choose another name or pass overwrite=True")
            storage.remove_stale_staging(self.root)
            self.staging = storage.staging_prefix(self.root, name)
            return
        self.root = Path(root)
        self.target = self.root / name
        if self.target.exists() and not overwrite:
            raise FileExistsError(f"catalog {name!r} already exists in {self.root}; choose another name or pass overwrite=True")
        self.root.mkdir(parents=True, exist_ok=True)
        self.staging = str(self.root / f".write-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        Path(self.staging, "catalog").mkdir(parents=True)

    def abort(self) -> None:
        if self.remote:
            storage.discard_staging(self.staging)
        else:
            shutil.rmtree(self.staging, ignore_errors=True)

    def publish(self, partitions: list[tuple[int, int, int]], ra_column: str, dec_column: str,
                dataproduct_type: str = "object", extra_properties: dict[str, str] | None = None,
                schema: pa.Schema | None = None):
        """Write metadata for the leaves written (empty partitions are dropped)
        and make the catalog visible. Returns the opened Catalog."""
        from .catalog import open_catalog

        if self.remote:
            return self._publish_remote(partitions, ra_column, dec_column, dataproduct_type, extra_properties, schema)
        cat_dir = Path(self.staging) / "catalog"
        # Temporary files of tasks that died mid-write (their retries wrote the leaf again).
        for stray in (cat_dir / "dataset").rglob(".*") if (cat_dir / "dataset").exists() else []:
            stray.unlink(missing_ok=True)
        kept = kept_partitions(partitions)
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
        (cat_dir / "partition_info.csv").write_text(partition_info_csv(kept))
        (cat_dir / "hats.properties").write_text(self._properties(kept, ra_column, dec_column, dataproduct_type, extra_properties))
        if kept:
            from .hats_extras import finish_catalog_dir

            finish_catalog_dir(cat_dir)  # dataset/_metadata and skymap.fits, before the catalog appears
        if self.target.exists():
            os.replace(self.target, Path(self.staging) / "replaced")
        os.replace(cat_dir, self.target)
        shutil.rmtree(self.staging, ignore_errors=True)
        return open_catalog(self.target)

    def _publish_remote(self, partitions, ra_column, dec_column, dataproduct_type, extra_properties, schema):
        import io

        from .catalog import open_catalog

        cat_dir = storage.join(self.staging, "catalog")
        kept = kept_partitions(partitions)
        empty = [leaf_url(cat_dir, o, p) for o, p, n in partitions if n == 0]
        written = set(storage.list_files(cat_dir))
        for url in empty:
            if url in written:
                storage.filesystem().rm(url[len("s3://"):])
        if not kept:
            if schema is None:
                raise ValueError(f"catalog {self.name!r} would be empty (no rows) and no schema was given")
        else:
            with storage.open_file(leaf_url(cat_dir, kept[0][0], kept[0][1])) as f:
                schema = pq.read_schema(f)
        buf = io.BytesIO()
        pq.write_metadata(schema, buf)
        storage.write_bytes(storage.join(cat_dir, "dataset", "_common_metadata"), buf.getvalue())
        storage.write_bytes(storage.join(cat_dir, "partition_info.csv"), partition_info_csv(kept).encode())
        if kept:
            from .hats_extras import finish_remote_catalog

            rel = [leaf_relpath(o, p) for o, p, _ in kept]
            hp = (extra_properties or {}).get("hats_col_healpix", "_healpix_29")
            added = finish_remote_catalog(cat_dir, rel, hp, dataproduct_type)  # _metadata, skymap.fits
            extra_properties = {**(extra_properties or {}), **added}
        props = self._properties(kept, ra_column, dec_column, dataproduct_type, extra_properties)
        storage.write_bytes(storage.join(cat_dir, "hats.properties"), props.encode())
        storage.publish(cat_dir, self.target, overwrite=self.overwrite)
        storage.discard_staging(self.staging)  # also aborts uploads of tasks that died mid-write and were retried
        return open_catalog(self.target)

    def _properties(self, kept, ra_column, dec_column, dataproduct_type, extra_properties) -> str:
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
        return "#HATS catalog\n" + "".join(f"{k}={v}\n" for k, v in props.items())


def partition_info_csv(kept) -> str:
    """partition_info.csv for (order, pixel, rows) partitions already in breadth-first order."""
    return "Norder,Npix\n" + "".join(f"{o},{p}\n" for o, p, _ in kept)
