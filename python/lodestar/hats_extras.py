"""The optional HATS files of a catalog folder: `dataset/_metadata` and `skymap.fits`.

* `dataset/_metadata` is the Parquet footer of every leaf combined (one row-group
  entry per leaf row group, `file_path` relative to `dataset/`), which lets
  readers plan a scan without opening each leaf. DuckDB cannot write it, so it is
  written here with pyarrow (`pq.write_metadata(..., metadata_collector=...)`),
  as hats-import does.
* `skymap.fits` is the HEALPix count map (rows per NESTED pixel at
  `hats_skymap_order`); the C++ ingest writes it from its histogram, and
  `write_skymap` writes it for any catalog folder with HEALPix C++'s FITS writer
  (`lodestar._core.write_skymap_fits`).

`finish_catalog_dir(folder)` is meant for a catalog folder that is complete but
not yet published (the ingest and `CatalogWriter.publish` call it just before
their rename), so that a catalog never appears without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from . import _core
from .writer import leaf_relpath

# hats-import's default histogram order, and the order of the skymaps it writes.
DEFAULT_SKYMAP_ORDER = 10
# Catalog types that carry a count map (margins, indexes and associations do not, as in hats-import).
_SKYMAP_TYPES = {"object", "source"}


def read_properties(catalog_dir: str | os.PathLike) -> dict[str, str]:
    props: dict[str, str] = {}
    path = Path(catalog_dir) / "hats.properties"
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip()
    return props


def set_property(catalog_dir: str | os.PathLike, key: str, value: str) -> None:
    """Sets one key of hats.properties, keeping every other line (and unknown keys) as it is."""
    path = Path(catalog_dir) / "hats.properties"
    lines = path.read_text().splitlines()
    out, found = [], False
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith(("#", "!")) and "=" in stripped and stripped.split("=", 1)[0].strip() == key:
            if not found:
                out.append(f"{key}={value}")
            found = True
            continue
        out.append(line)
    if not found:
        out.append(f"{key}={value}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(out) + "\n")
    os.replace(tmp, path)


def leaf_files(catalog_dir: str | os.PathLike) -> list[str]:
    """The leaf files of a catalog folder, relative to `dataset/`, in breadth-first
    partition order (partition_info.csv; a listing of dataset/ when it is absent)."""
    catalog_dir = Path(catalog_dir)
    dataset = catalog_dir / "dataset"
    suffix = read_properties(catalog_dir).get("hats_npix_suffix", ".parquet")
    info = catalog_dir / "partition_info.csv"
    if info.exists():
        lines = [ln.strip() for ln in info.read_text().splitlines() if ln.strip()]
        header = [h.strip() for h in lines[0].split(",")]
        try:
            io, ip = header.index("Norder"), header.index("Npix")
        except ValueError:
            raise ValueError(f"{info}: header must name Norder and Npix columns, got {lines[0]!r}") from None
        pixels = []
        for n, line in enumerate(lines[1:], start=2):
            cells = line.split(",")
            try:
                pixels.append((int(cells[io]), int(cells[ip])))
            except (ValueError, IndexError):
                raise ValueError(f"{info}, line {n}: expected Norder,Npix integers, got {line!r}") from None
    else:
        pixels = []
        for d in dataset.glob("Norder=*/Dir=*/Npix=*"):
            pixels.append((int(d.parts[-3].split("=")[1]), int(d.name.split("=")[1].split(".")[0])))
        pixels.sort(key=lambda op: (op[1] << (2 * (29 - op[0])), op[0]))
    files = []
    for order, pixel in pixels:
        base = leaf_relpath(order, pixel, suffix="")
        if suffix == "/" or (dataset / base).is_dir():
            parts = sorted(p.relative_to(dataset).as_posix() for p in (dataset / base).iterdir()
                           if p.is_file() and not p.name.startswith((".", "_")))
            if not parts:
                raise FileNotFoundError(f"{dataset / base}: partition folder holds no Parquet file")
            files.extend(parts)
        else:
            leaf = dataset / (base + suffix)
            if not leaf.is_file():
                raise FileNotFoundError(f"{leaf}: leaf of partition Norder={order}, Npix={pixel} is missing")
            files.append(leaf.relative_to(dataset).as_posix())
    return files


def write_parquet_metadata(catalog_dir: str | os.PathLike) -> int:
    """Writes `dataset/_metadata` (the combined footers of every leaf, breadth-first,
    file paths relative to dataset/). Returns the rows it describes."""
    dataset = Path(catalog_dir) / "dataset"
    files = leaf_files(catalog_dir)
    footers = []
    for rel in files:
        try:
            md = pq.read_metadata(dataset / rel)
        except Exception as exc:  # pyarrow raises several types for a bad footer
            raise ValueError(f"{dataset / rel}: cannot read the Parquet footer: {exc}") from exc
        md.set_file_path(rel)
        footers.append(md)
    rows = sum(md.num_rows for md in footers)  # before combining, which grows footers[0]
    tmp = dataset / "._metadata.tmp"
    if footers:
        _combine_footers(footers, [str(dataset / f) for f in files]).write_metadata_file(str(tmp))
    elif (dataset / "_common_metadata").exists():
        pq.write_metadata(pq.read_schema(dataset / "_common_metadata"), tmp)
    else:
        raise FileNotFoundError(f"{dataset}: no leaves and no _common_metadata to take the schema from")
    os.replace(tmp, dataset / "_metadata")
    return rows


def _combine_footers(footers: list, names: list[str]):
    """The leaves' own footers combined into one `_metadata` footer (file paths
    already set). Their Parquet schema (DuckDB's, with logical types) is kept
    exactly: pq.write_metadata(schema, ..., metadata_collector=...) would start
    from pyarrow's rendering of the schema, which differs from DuckDB's in
    logical-type annotations and makes AppendRowGroups refuse the leaves."""
    combined = footers[0]
    for name, md in zip(names[1:], footers[1:]):
        try:
            combined.append_row_groups(md)
        except RuntimeError as exc:
            raise ValueError(f"{name}: its schema differs from {names[0]}'s; "
                             f"cannot combine them into _metadata ({str(exc).splitlines()[0]})") from None
    return combined


def finish_remote_catalog(catalog_url: str, leaves: list[str], healpix_column: str, dataproduct_type: str) -> dict[str, str]:
    """`dataset/_metadata` and (object/source catalogs) `skymap.fits` for a catalog
    staged on an object store, before its properties are written; `leaves` are
    paths relative to dataset/, breadth-first. Returns properties to add."""
    import tempfile

    from . import storage

    dataset = storage.join(catalog_url, "dataset")
    footers = []
    for rel in leaves:
        with storage.open_file(storage.join(dataset, rel)) as f:
            md = pq.read_metadata(f)
        md.set_file_path(rel)
        footers.append(md)
    extra: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="lodestar-finish-") as tmp:
        if footers:
            _combine_footers(footers, [storage.join(dataset, f) for f in leaves]).write_metadata_file(os.path.join(tmp, "_metadata"))
            storage.write_bytes(storage.join(dataset, "_metadata"), Path(tmp, "_metadata").read_bytes())
        if dataproduct_type in _SKYMAP_TYPES and leaves:
            order = DEFAULT_SKYMAP_ORDER
            counts = _pixel_counts([storage.join(dataset, f) for f in leaves], healpix_column, 29, order, catalog_url)
            _core.write_skymap_fits(os.path.join(tmp, "skymap.fits"), order, counts)
            storage.write_bytes(storage.join(catalog_url, "skymap.fits"), Path(tmp, "skymap.fits").read_bytes())
            extra["hats_skymap_order"] = str(order)
    return extra


def skymap_counts(catalog_dir: str | os.PathLike, order: int) -> np.ndarray:
    """Rows per NESTED pixel at `order` (12*4**order int64 values), counted from the
    leaves' spatial index column in the engine."""
    catalog_dir = Path(catalog_dir)
    props = read_properties(catalog_dir)
    column = props.get("hats_col_healpix", "_healpix_29")
    column_order = int(props.get("hats_col_healpix_order", "29"))
    if not 0 <= order <= column_order:
        raise ValueError(f"skymap order {order} must be within [0, {column_order}] (the order of {column})")
    files = leaf_files(catalog_dir)
    return _pixel_counts([str(catalog_dir / "dataset" / f) for f in files], column, column_order, order, catalog_dir)


def _pixel_counts(paths: list[str], column: str, column_order: int, order: int, where) -> np.ndarray:
    """Rows per NESTED pixel at `order` of the leaves at `paths` (local or s3://),
    from their spatial index `column` (at `column_order`), counted in the engine."""
    from .engine import Connection

    counts = np.zeros(12 * 4**order, dtype=np.int64)
    if not paths:
        return counts
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    quoted = '"' + column.replace('"', '""') + '"'
    table = Connection().arrow(
        f"SELECT {quoted} >> {2 * (column_order - order)} AS pix, count(*) AS n "
        f"FROM read_parquet([{listed}], hive_partitioning=false) GROUP BY pix"
    )
    if table.column("pix").null_count:
        raise ValueError(f"{where}: some rows have no {column} value")
    pix = table.column("pix").to_numpy(zero_copy_only=False).astype(np.int64)
    if len(pix) and (pix.min() < 0 or pix.max() >= len(counts)):
        raise ValueError(f"{where}: {column} holds values outside order {column_order}")
    counts[pix] = table.column("n").to_numpy(zero_copy_only=False)
    return counts


def write_skymap(catalog_dir: str | os.PathLike, order: int | None = None) -> Path:
    """Writes `skymap.fits` at `order` (default: hats_skymap_order, else 10 capped at
    the spatial index's order) and records hats_skymap_order in hats.properties."""
    catalog_dir = Path(catalog_dir)
    props = read_properties(catalog_dir)
    if order is None:
        order = int(props.get("hats_skymap_order", min(DEFAULT_SKYMAP_ORDER, int(props.get("hats_col_healpix_order", "29")))))
    path = catalog_dir / "skymap.fits"
    _core.write_skymap_fits(str(path), int(order), skymap_counts(catalog_dir, int(order)))
    if props.get("hats_skymap_order") != str(order):
        set_property(catalog_dir, "hats_skymap_order", str(order))
    return path


def finish_catalog_dir(catalog_dir: str | os.PathLike) -> None:
    """Completes a written, not yet published catalog folder: `dataset/_metadata`
    always, `skymap.fits` when absent (object and source catalogs)."""
    catalog_dir = Path(catalog_dir)
    write_parquet_metadata(catalog_dir)
    dataproduct = read_properties(catalog_dir).get("dataproduct_type", "object")
    if dataproduct in _SKYMAP_TYPES and not (catalog_dir / "skymap.fits").exists():
        write_skymap(catalog_dir)
