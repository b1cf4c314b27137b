"""Ingest CSV / Parquet / FITS tables into a HATS catalog of a catalog root."""

from __future__ import annotations

import os
import sys
from typing import Iterable

from . import _core, storage
from .catalog import Catalog
from .engine import Connection
from .hats_extras import finish_catalog_dir
from .processes import pid_alive


class _TqdmProgress:
    """One tqdm bar per ingest phase: the read phase counts rows as DuckDB scans
    them (total unknown: the bar shows percent of the input read), the write
    phase counts rows written against the total."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.phase = None

    def __call__(self, phase: str, fraction: float, rows_done: int, rows_total: int) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        if phase != self.phase:
            self.close()
            self.phase = phase
            total = rows_total if rows_total > 0 else 100
            unit = "rows" if rows_total > 0 else "%"
            self.bar = tqdm(total=total, desc=f"ingest: {phase}", unit=unit, unit_scale=rows_total > 0, leave=False)
        if self.bar.unit == "%":
            self.bar.n = round(fraction * 100, 1)
            self.bar.set_postfix(rows=f"{rows_done:,}", refresh=False)
        else:
            self.bar.n = rows_done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def ingest(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    name: str,
    root: str | os.PathLike | None = None,
    ra: str | None = None,
    dec: str | None = None,
    pixel_threshold: int = 1_000_000,
    highest_order: int = 10,
    margin_arcsec: float | None = None,
    overwrite: bool = False,
    drop_invalid: bool = False,
    memory_limit: str = "2GB",
    threads: int | None = None,
    types: dict[str, str] | None = None,
    row_group_rows: int = 20_000,
    progress: bool | None = None,
    connection: Connection | None = None,
) -> Catalog:
    """Ingest CSV (header row), Parquet or FITS binary tables — one file, many, or
    globs — into HATS catalog `name` of the catalog root, and return it.

    ra/dec: coordinate columns (default: recognised among ra/RA/ra_deg/RAJ2000...).
    pixel_threshold: maximum rows per partition; highest_order: deepest partition order.
    drop_invalid: drop rows with missing/NaN/out-of-range coordinates (counted in
    the result's `ingest_report`) instead of failing on the first one.
    The catalog becomes visible only when complete; an existing catalog is
    replaced only with overwrite=True.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = [os.fspath(i) for i in inputs]
    root = os.fspath(root) if root is not None else _core.default_catalog_root()
    if storage.is_remote(root):
        return _ingest_remote(inputs, name, root, overwrite, connection,
                              dict(ra=ra, dec=dec, pixel_threshold=pixel_threshold, highest_order=highest_order,
                                   margin_arcsec=margin_arcsec, drop_invalid=drop_invalid, memory_limit=memory_limit,
                                   threads=threads, types=types, row_group_rows=row_group_rows, progress=progress))
    if margin_arcsec is not None:
        return _ingest_collection(inputs, name, root, float(margin_arcsec), overwrite, connection,
                                  dict(ra=ra, dec=dec, pixel_threshold=pixel_threshold, highest_order=highest_order,
                                       drop_invalid=drop_invalid, memory_limit=memory_limit, threads=threads, types=types,
                                       row_group_rows=row_group_rows, progress=progress))
    show = sys.stderr.isatty() if progress is None else progress
    bar = _TqdmProgress(show)
    try:
        report = _core.ingest(
            inputs, name, root, ra=ra or "", dec=dec or "", pixel_threshold=int(pixel_threshold),
            highest_order=int(highest_order), overwrite=bool(overwrite), drop_invalid=bool(drop_invalid),
            memory_limit=memory_limit, threads=int(threads or 0), row_group_rows=int(row_group_rows),
            types=dict(types or {}), progress=bar if show else None,
            before_publish=finish_catalog_dir,  # dataset/_metadata, with pyarrow, before the catalog appears
        )
    finally:
        bar.close()
    cat = Catalog(_core.open_catalog(report["path"]), connection=connection)
    cat.ingest_report = report
    return cat


def _ingest_collection(inputs, name, root, margin_arcsec, overwrite, connection, options) -> Catalog:
    """Primary catalog + margin cache, tied by a collection folder `name`;
    built in an invisible staging folder and published by one rename."""
    import shutil
    from pathlib import Path

    from .catalog import open_catalog
    from .margins import write_margin_catalog

    if not margin_arcsec > 0:
        raise ValueError(f"margin_arcsec must be > 0, got {margin_arcsec}")
    root_p = Path(root)
    root_p.mkdir(parents=True, exist_ok=True)
    target = root_p / name
    if target.exists() and not overwrite:
        raise _core.LodestarError(f"catalog '{name}' already exists in {root}; choose another name or pass overwrite to replace it")
    for stale in root_p.glob(f".ingest-{name}-*-collection"):
        pid = stale.name[len(f".ingest-{name}-"):].split("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    staging = root_p / f".ingest-{name}-{os.getpid()}-collection"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        primary = ingest(inputs, name, root=staging, connection=connection, **options)
        margin_name = f"{name}_margin_{margin_arcsec:g}arcsec".replace(".", "p")
        rows = write_margin_catalog(primary, staging / margin_name, margin_name, margin_arcsec)
        (staging / "collection.properties").write_text(
            "#HATS Collection\n"
            f"obs_collection={name}\nhats_primary_table_url={name}\nall_margins={margin_name}\n"
            f"default_margin={margin_name}\nhats_builder=lodestar v{_core.__version__}\n"
        )
        if target.exists():
            os.replace(target, staging / ".replaced")
        os.replace(staging, target)
        shutil.rmtree(target / ".replaced", ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    cat = open_catalog(target, connection=connection)
    cat.ingest_report = dict(primary.ingest_report, path=str(target), margin_rows=rows, margin_arcsec=margin_arcsec)
    return cat


def _ingest_remote(inputs, name, root, overwrite, connection, options) -> Catalog:
    """Ingest into an object-store root: the catalog (or collection) is built
    in a local temporary root — the external sort needs a local disk anyway —
    then uploaded under the root's staging prefix and published (properties
    last; lodestar.storage). Nothing is visible until it is complete."""
    import shutil
    import tempfile

    from .catalog import open_catalog
    from .writer import _check_name

    _check_name(name)
    target = storage.join(root, name)
    if storage.catalog_exists(target) and not overwrite:
        raise _core.LodestarError(f"catalog '{name}' already exists in {root}; choose another name or pass overwrite to replace it")
    storage.remove_stale_staging(root)  # left by killed writes, a day old or more
    local_root = tempfile.mkdtemp(prefix=f"lodestar-ingest-{name}-", dir=os.environ.get("LODESTAR_TMPDIR"))
    staging = storage.staging_prefix(root, name)
    try:
        built = ingest(inputs, name, root=local_root, connection=connection, **options)
        report = dict(built.ingest_report)
        storage.upload_tree(os.path.join(local_root, name), staging)
        storage.publish(staging, target, overwrite=overwrite)
    except BaseException:
        storage.discard_staging(staging)
        raise
    finally:
        shutil.rmtree(local_root, ignore_errors=True)
    cat = open_catalog(target, connection=connection)
    cat.ingest_report = dict(report, path=target)
    return cat
