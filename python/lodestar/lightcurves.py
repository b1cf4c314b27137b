"""Light curves as catalogs: build them from detections, compute features, run
the dimming search and your own functions over every light curve.

A light-curve catalog is a HATS object catalog with one row per object (id,
position, `_healpix_29` of the object) and one nested column in the layout
nested-pandas and LSDB use: a struct of equal-length lists,

    lc: struct<mjd: list<double>, mag: list<double>, mag_err: list<double>, band: list<string>, flags: list<int16>>

sorted by time within each row. Catalogs written by others with other field
names (time/hmjd, magerr, filter, ...) are read too: fields are recognised by
name (see `FIELD_CANDIDATES`) or given explicitly with `fields=`.

Per-partition work (features, the dimming search, user functions) runs through
the executor: threads in this process, or Dask with `client=`.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import _core
from .catalog import Catalog, PartitionTask, _quote_ident, _with_derived, open_catalog, read_partition
from .engine import arrow_to_pandas, default_connection
from .partition_slices import range_filters, range_sql, slice_bounds

LC_COLUMN = "lc"
MAX_ORDER = 29
# Band names accepted in light curves (ZTF's filter codes too) -> the kernels' codes (0 = g, 1 = r, 2 = i).
BAND_NAMES = {"g": 0, "r": 1, "i": 2, "zg": 0, "zr": 1, "zi": 2, "G": 0, "R": 1, "I": 2}
BAND_LABELS = np.array(["g", "r", "i"])
# Canonical field -> names recognised in detection tables and in nested columns written by others.
FIELD_CANDIDATES = {
    "mjd": ("mjd", "time", "hmjd", "obsmjd", "t", "MJD", "HMJD", "Time"),
    "mag": ("mag", "magpsf", "psfmag", "Mag", "MAG"),
    "mag_err": ("mag_err", "magerr", "sigmapsf", "mag_error", "err", "Magerr", "MagErr", "MAGERR"),
    "band": ("band", "filter", "filtercode", "passband", "Band", "Filter"),
    "flags": ("flags", "flag", "catflags", "Flags"),
}
ID_CANDIDATES = ("object_id", "objectid", "objectId", "id", "ID", "source_id", "oid")
BYTES_PER_DETECTION = 8 + 8 + 8 + 1  # time, mag, mag_err (float64) + band code: the kernels' input


def _resolve_fields(available: Sequence[str], given: dict | None, what: str) -> dict[str, str]:
    """canonical name -> actual name. mjd, mag and mag_err are required; band and flags are optional."""
    given = dict(given or {})
    unknown = set(given) - set(FIELD_CANDIDATES)
    if unknown:
        raise ValueError(f"fields: unknown key(s) {sorted(unknown)}; expected some of {list(FIELD_CANDIDATES)}")
    out = {}
    for canon, cands in FIELD_CANDIDATES.items():
        if canon in given:
            if given[canon] is None:
                continue
            if given[canon] not in available:
                raise KeyError(f"{what} has no field {given[canon]!r} (given for {canon}); it has {list(available)}")
            out[canon] = given[canon]
            continue
        hit = next((c for c in cands if c in available), None)
        if hit is None:
            lower = {a.lower(): a for a in available}
            hit = next((lower[c.lower()] for c in cands if c.lower() in lower), None)
        if hit is not None:
            out[canon] = hit
        elif canon in ("mjd", "mag", "mag_err"):
            raise KeyError(f"{what} has no {canon} field (looked for {list(cands)}); it has {list(available)}: "
                           f"name it with fields={{'{canon}': ...}}")
    return out


def _id_column(catalog: Catalog, given: str | None) -> str:
    cols = catalog.columns
    if given is not None:
        if given not in cols:
            raise KeyError(f"catalog {catalog.name!r} has no id column {given!r}; columns: {cols}")
        return given
    prop = catalog.properties.get("lodestar_lc_id")
    if prop and prop in cols:
        return prop
    hit = next((c for c in ID_CANDIDATES if c in cols), None)
    if hit is None:
        raise KeyError(f"catalog {catalog.name!r}: no object id column found (looked for {list(ID_CANDIDATES)}); pass id_column=")
    return hit


def _struct_fields(catalog: Catalog, column: str) -> list[str]:
    types = dict(catalog.schema)
    if column not in types:
        raise KeyError(f"catalog {catalog.name!r} has no light-curve column {column!r}; columns: {list(types)}")
    t = catalog.head_arrow(0).schema.field(column).type
    if not pa.types.is_struct(t) or not all(pa.types.is_list(f.type) or pa.types.is_large_list(f.type) for f in t):
        raise TypeError(f"column {column!r} of catalog {catalog.name!r} is {t}, expected a struct of lists (the nested light-curve layout)")
    return [f.name for f in t]


# --- nested column -> CSR arrays ---------------------------------------------------------------------------------


def _list_parts(lists: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Per-row lengths (null rows = empty) and the flat values of a list array."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return lengths, pc.list_flatten(lists)


def band_codes(values: pa.Array) -> np.ndarray:
    """Band names (g, r, i, zg, zr, zi) or integer codes -> int64 codes 0/1/2 for the kernels.
    Unknown names are an error naming them; integer codes are checked by the kernels."""
    if pa.types.is_integer(values.type):
        return pc.fill_null(values, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TypeError(f"band must be strings (g, r, i) or integer codes (0 = g, 1 = r, 2 = i), got {values.type}")
    enc = pc.dictionary_encode(pc.fill_null(values, ""))
    names = enc.dictionary.to_pylist()
    bad = [n for n in names if n not in BAND_NAMES]
    if bad:
        raise ValueError(f"unknown band name(s) {bad}; expected one of g, r, i (or zg, zr, zi)")
    lut = np.array([BAND_NAMES[n] for n in names], dtype=np.int64)
    return lut[enc.indices.to_numpy(zero_copy_only=False)] if len(lut) else np.zeros(0, dtype=np.int64)


def nested_to_csr(column: pa.ChunkedArray | pa.Array, fields: dict | None = None, ids=None) -> dict:
    """The kernels' CSR arrays from a nested light-curve column: offsets, time, mag,
    mag_err, band (codes; 0 when the light curves have no band). Checks that the
    lists of each row have equal lengths (error names the row / id)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_struct(arr.type):
        raise TypeError(f"a light-curve column must be a struct of lists, got {arr.type}")
    names = [f.name for f in arr.type]
    f = _resolve_fields(names, fields, "the light-curve column")
    children = dict(zip(names, arr.flatten()))  # respects slicing; null rows become null lists
    lengths, flat = {}, {}
    for canon in ("mjd", "mag", "mag_err", "band"):
        if canon in f:
            lengths[canon], flat[canon] = _list_parts(children[f[canon]])
    ref = lengths["mjd"]
    for canon, ln in lengths.items():
        if not np.array_equal(ln, ref):
            row = int(np.flatnonzero(ln != ref)[0])
            who = f"object {ids[row]!r}" if ids is not None else f"row {row}"
            raise ValueError(f"light curve of {who}: field {f[canon]!r} has {ln[row]} entries but {f['mjd']!r} has {ref[row]}; "
                             "all lists of a row must have the same length")
    offsets = np.zeros(ref.size + 1, dtype=np.int64)
    np.cumsum(ref, out=offsets[1:])

    def floats(a):
        return pc.cast(a, pa.float64()).to_numpy(zero_copy_only=False)

    band = band_codes(flat["band"]) if "band" in flat else np.zeros(int(offsets[-1]), dtype=np.int64)
    return {"offsets": offsets, "time": floats(flat["mjd"]), "mag": floats(flat["mag"]), "mag_err": floats(flat["mag_err"]),
            "band": band}


# --- building light curves ------------------------------------------------------------------------------------------


def plan_partitions(pixels: np.ndarray, counts: np.ndarray, highest_order: int, threshold: int) -> list[tuple[int, int, int]]:
    """HATS-style adaptive partitions from object counts per pixel at `highest_order`:
    the coarsest pixels holding at most `threshold` rows (deeper where dense).
    Returns (order, pixel, rows)."""
    pixels, counts = np.asarray(pixels, dtype=np.int64), np.asarray(counts, dtype=np.int64)
    left = np.ones(pixels.size, dtype=bool)
    out = []
    for order in range(highest_order + 1):
        if not left.any():
            break
        parent = pixels[left] >> (2 * (highest_order - order))
        uniq, inv = np.unique(parent, return_inverse=True)
        sums = np.bincount(inv, weights=counts[left]).astype(np.int64)
        accept = (sums <= threshold) | (order == highest_order)
        out += [(order, int(p), int(n)) for p, n in zip(uniq[accept], sums[accept])]
        idx = np.flatnonzero(left)
        left[idx[accept[inv]]] = False
    return out


def _sql_str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _associate_partition(args) -> tuple[int, int]:
    """Associate one detections partition to the nearest object within the radius
    (exact: objects are read from the partition's neighbourhood). Writes the
    matched detections with the object's id to `out`; returns (matched, total)."""
    task, columns, det_ra, det_dec, obj_path, obj_id, obj_ra, obj_dec, radius_arcsec, out = args
    det = read_partition(task)
    r_deg = radius_arcsec / 3600.0
    # Inclusive coverage a few orders below the partition: a superset of the objects within the radius (few ranges,
    # so partitions and row groups are pruned); the crossmatch kernel is the exact test.
    at = min(task.order + 3, 20)
    ranges = np.asarray(_core.pixel_neighbourhood(task.order, task.pixel, r_deg, at), dtype=np.int64).reshape(-1, 2) << (2 * (MAX_ORDER - at))
    objs = open_catalog(obj_path).restrict_to(ranges, None, "neighbourhood").select([obj_id, obj_ra, obj_dec]).to_arrow()
    if det.num_rows == 0 or objs.num_rows == 0:
        return 0, det.num_rows
    left, right, _ = _core.crossmatch_arrays(
        det.column(det_ra).to_numpy().astype(np.float64), det.column(det_dec).to_numpy().astype(np.float64),
        objs.column(obj_ra).to_numpy().astype(np.float64), objs.column(obj_dec).to_numpy().astype(np.float64),
        float(radius_arcsec), n_neighbors=1)
    matched = det.select(columns).take(pa.array(left)).append_column("__object_id", objs.column(obj_id).take(pa.array(right)))
    pq.write_table(matched, os.path.join(out, f"assoc-{task.order}-{task.pixel}.parquet"))
    return matched.num_rows, det.num_rows


def _task_relation(task: PartitionTask, con) -> str:
    """SQL for one partition's planned rows (what read_partition reads)."""
    rel = _with_derived(_core.catalog_relation_sql(con._engine, task.catalog_path, task.files), task.derived)
    cols = ", ".join(_quote_ident(c) for c in task.columns) if task.columns else "*"
    return f"(SELECT {cols} FROM {rel} WHERE {task.where})"


def _bucket_sql(id_sql: str, n_buckets: int) -> str:
    # On the id's text, so that detections and objects agree whatever their integer widths.
    return f"(hash(CAST({id_sql} AS VARCHAR)) % {int(n_buckets)})"


def _rows_of(relation: str | None, task: PartitionTask | None) -> int | None:
    """Rows of an input (from the Parquet footers of local files), None when unknown."""
    if task is None or not all(os.path.isfile(f) for f in task.files):
        return None
    return sum(pq.ParquetFile(f).metadata.num_rows for f in task.files)


def _batch_sources(sources: list, target_rows: int) -> list[list]:
    """Consecutive inputs grouped into batches of about target_rows rows (by their Parquet footers; one input
    per batch when unknown): each scatter task then writes one file per bucket for a whole batch."""
    batches, current, rows = [], [], 0
    for src in sources:
        n = _rows_of(*src)
        if current and (n is None or rows + n > target_rows):
            batches.append(current)
            current, rows = [], 0
        current.append(src)
        rows += n if n is not None else target_rows
    if current:
        batches.append(current)
    return batches


def _scatter(args) -> int:
    """Phase 1 of the build, one task per batch of input partitions: their rows (id, the light-curve fields,
    position) into one Parquet file per id bucket, `out/__bucket=k/<tag>-*.parquet`. Every detection of an
    object lands in the same bucket whichever partition holds it. Returns rows scattered."""
    batch, select_sql, id_sql, n_buckets, out, tag = args
    con = default_connection()
    rels = [relation if relation is not None else _task_relation(task, con) for relation, task in batch]
    union = " UNION ALL ".join(f"SELECT {select_sql}, {_bucket_sql(id_sql, n_buckets)} AS __bucket FROM {rel}" for rel in rels)
    t = con.arrow(f"""COPY ({union})
                      TO {_sql_str(out)} (FORMAT parquet, PARTITION_BY (__bucket), FILENAME_PATTERN {_sql_str(tag + '-{i}')},
                      OVERWRITE_OR_IGNORE, COMPRESSION zstd)""")
    return int(t.column(0)[0].as_py()) if t.num_rows else 0


def _group_bucket(args) -> int:
    """Phase 2, one task per id bucket: the bucket's detections grouped into complete light curves (a list of
    whole detections per object ordered by time then magnitude, split into equal-length lists), positioned
    (from the bucket's objects, or the mean unit vector of the detections), with `_healpix_29`, written to
    `out` sorted by it. Memory: one bucket. Returns light curves written."""
    det_glob, obj_glob, id_name, fields, column, out = args
    con = default_connection()
    q = _quote_ident
    point = ", ".join(f"{q(canon)}: {q(canon)}" for canon in fields)
    lists = ", ".join(f"{q(canon)} := list_transform(pts, p -> p.{q(canon)})" for canon in fields)
    if obj_glob is not None:
        vec = ""
        pos = f"JOIN (SELECT __id, __ra AS ra, __dec AS dec FROM read_parquet({_sql_str(obj_glob)})) o ON o.__id = g.__id"
        pos_cols = "o.ra AS __ra, o.dec AS __dec"
    else:
        pos = ""
        vec = (", avg(cos(radians(__dec)) * cos(radians(__ra))) AS __x, avg(cos(radians(__dec)) * sin(radians(__ra))) AS __y, "
               "avg(sin(radians(__dec))) AS __z")
        pos_cols = "(degrees(atan2(__y, __x)) + 360) % 360 AS __ra, degrees(atan2(__z, sqrt(__x * __x + __y * __y))) AS __dec"
    t = con.arrow(f"""
        COPY (
          SELECT {q(id_name)}, __ra AS ra, __dec AS dec, n_obs, {q(column)}, healpix29(__ra, __dec) AS _healpix_29 FROM (
            SELECT g.__id AS {q(id_name)}, {pos_cols}, len(pts)::INTEGER AS n_obs, struct_pack({lists}) AS {q(column)}
            FROM (SELECT __id, list({{{point}}} ORDER BY "mjd", "mag") AS pts{vec}
                  FROM read_parquet({_sql_str(det_glob)}) GROUP BY __id) g {pos}
          ) ORDER BY _healpix_29
        ) TO {_sql_str(out)} (FORMAT parquet, COMPRESSION zstd)""")
    return int(t.column(0)[0].as_py()) if t.num_rows else 0


def _write_lc_partition(args) -> int:
    from .writer import write_leaf

    staging, grouped, order, pixel = args
    shift = 2 * (MAX_ORDER - order)
    lo, hi = pixel << shift, ((pixel + 1) << shift) - 1
    return write_leaf(staging, order, pixel, f"(SELECT * FROM read_parquet({_sql_str(grouped)}) WHERE _healpix_29 BETWEEN {lo} AND {hi})")


def build_light_curves(
    detections: Catalog,
    object_id: str = "object_id",
    name: str = "lightcurves",
    root: str | os.PathLike | None = None,
    objects: Catalog | None = None,
    associate: bool = False,
    radius_arcsec: float = 1.0,
    fields: dict | None = None,
    column: str = LC_COLUMN,
    pixel_threshold: int = 5000,
    highest_order: int = 10,
    overwrite: bool = False,
    client=None,
    executor=None,
    progress: bool | None = None,
    bucket_rows: int = 2_000_000,
) -> Catalog:
    """Group detections into one light curve per object and write them as a HATS
    catalog `name` (one row per object, nested column `column`, sorted by time).

    object_id: the detections' object id column, or with associate=True the
    objects catalog's id column (each detection goes to the nearest object within
    radius_arcsec; unmatched detections are dropped and counted).
    objects: an object catalog to take positions from (joined on object_id);
    without it the position is the mean of the detections' positions.
    fields: detection column names for mjd/mag/mag_err/band/flags (recognised
    automatically; band and flags are optional).

    Grouping is partition-parallel with bounded memory: every input partition's
    detections are scattered by a hash of the object id into buckets of about
    `bucket_rows` detections (all of an object's detections, whichever
    partitions hold them, land in one bucket; the objects catalog is bucketed
    the same way for positions), then each bucket is grouped into complete light
    curves, one task per bucket, and the result is written by object position
    (at most pixel_threshold rows per partition), atomically; every phase runs
    on the executor (threads or Dask). Its `build_report` says what happened.
    """
    from .executor import get_executor
    from .writer import CatalogWriter

    if isinstance(detections, (str, os.PathLike)):
        detections = open_catalog(detections)
    if associate and objects is None:
        raise ValueError("associate=True needs objects= (the object catalog to associate detections with)")
    if associate and not (isinstance(radius_arcsec, (int, float)) and math.isfinite(radius_arcsec) and 0 < radius_arcsec <= 3600):
        raise ValueError(f"radius_arcsec must be within (0, 3600], got {radius_arcsec!r}")
    if not (isinstance(pixel_threshold, int) and pixel_threshold >= 1):
        raise ValueError(f"pixel_threshold must be a positive integer, got {pixel_threshold!r}")
    if not 0 <= highest_order <= 19:
        raise ValueError(f"highest_order must be within [0, 19], got {highest_order}")
    det_cols = detections.columns
    f = _resolve_fields(det_cols, fields, f"detections catalog {detections.name!r}")
    if not associate and object_id not in det_cols:
        raise KeyError(f"detections catalog {detections.name!r} has no object id column {object_id!r}; columns: {det_cols} "
                       "(or associate them with an object catalog: objects=..., associate=True)")
    if objects is not None and object_id not in objects.columns:
        raise KeyError(f"objects catalog {objects.name!r} has no id column {object_id!r}; columns: {objects.columns}")

    if not (isinstance(bucket_rows, int) and bucket_rows >= 1):
        raise ValueError(f"bucket_rows must be a positive integer, got {bucket_rows!r}")

    writer = CatalogWriter(root if root is not None else Path(detections.path).parent, name, overwrite=overwrite)
    ex = get_executor(client, executor)
    report = {}
    try:
        q = _quote_ident
        scatter_dir = os.path.join(writer.staging, "scatter")
        # Phase 0 (association only): one task per detections partition, matched detections with the object's id.
        if associate:
            out = os.path.join(writer.staging, "associated")
            os.makedirs(out)
            tasks = [(t, list(f.values()), detections.ra_column, detections.dec_column, objects.path, object_id, objects.ra_column,
                      objects.dec_column, float(radius_arcsec), out) for t in detections.partition_tasks()]
            counts = ex.map(_associate_partition, tasks, desc=f"associate {detections.name}", progress=progress)
            report["detections"] = sum(n for _, n in counts)
            report["associated"] = sum(m for m, _ in counts)
            if not report["associated"]:
                raise ValueError(f"no detection of {detections.name!r} lies within {radius_arcsec} arcsec of an object of {objects.name!r}")
            n_rows = report["associated"]
            sources = [(f"read_parquet({_sql_str(os.path.join(out, fn))})", None) for fn in sorted(os.listdir(out))]
            id_sql = q("__object_id")
            ra_sql, dec_sql = q(detections.ra_column), q(detections.dec_column)
            select_cols = {c: q(col) for c, col in f.items()}
        else:
            n_rows = len(detections)
            # A plan with a row limit is one relation; otherwise one task per partition.
            if detections._plan.limit is not None:
                sources = [(detections.relation_sql(), None)]
            else:
                sources = [(None, t) for t in detections.partition_tasks()]
            id_sql = q(object_id)
            ra_sql, dec_sql = q(detections.ra_column), q(detections.dec_column)
            select_cols = {c: q(col) for c, col in f.items()}
        # Buckets of about bucket_rows detections: the unit of memory of the grouping.
        n_buckets = max(1, math.ceil(n_rows / bucket_rows))
        select = ", ".join([f"{id_sql} AS __id"] + [f"{sql} AS {q(c)}" for c, sql in select_cols.items()]
                           + ([] if objects is not None else [f"{ra_sql}::DOUBLE AS __ra", f"{dec_sql}::DOUBLE AS __dec"]))
        det_dir = os.path.join(scatter_dir, "detections")
        os.makedirs(det_dir)
        tasks = [(batch, select, id_sql, n_buckets, det_dir, f"d{i}") for i, batch in enumerate(_batch_sources(sources, bucket_rows))]
        # Phase 1: scatter detections (and objects, for positions) into id buckets, one task per input partition.
        ex.map(_scatter, tasks, desc=f"scatter {detections.name}", progress=progress)
        obj_dir = None
        if objects is not None:
            obj_dir = os.path.join(scatter_dir, "objects")
            os.makedirs(obj_dir)
            oid = q(object_id)
            osel = f"{oid} AS __id, {q(objects.ra_column)}::DOUBLE AS __ra, {q(objects.dec_column)}::DOUBLE AS __dec"
            if objects._plan.limit is not None:
                osources = [(objects.relation_sql(), None)]
            else:
                osources = [(None, replace(t, columns=None)) for t in objects.partition_tasks()]
            ex.map(_scatter, [(batch, osel, oid, n_buckets, obj_dir, f"o{i}") for i, batch in enumerate(_batch_sources(osources, bucket_rows))],
                   desc=f"scatter {objects.name}", progress=progress)
        # Phase 2: complete light curves per bucket.
        grouped_dir = os.path.join(writer.staging, "grouped")
        os.makedirs(grouped_dir)
        gtasks = []
        for k in range(n_buckets):
            bdir = os.path.join(det_dir, f"__bucket={k}")
            if not os.path.isdir(bdir):
                continue
            oglob = None
            if obj_dir is not None:
                odir = os.path.join(obj_dir, f"__bucket={k}")
                if not os.path.isdir(odir):
                    continue  # no object of the catalog in this bucket: its detections have no position (as the join)
                oglob = os.path.join(odir, "*.parquet")
            gtasks.append((os.path.join(bdir, "*.parquet"), oglob, object_id, list(f), column, os.path.join(grouped_dir, f"bucket-{k}.parquet")))
        ex.map(_group_bucket, gtasks, desc=f"group {name}", progress=progress)
        shutil.rmtree(scatter_dir, ignore_errors=True)
        grouped = os.path.join(grouped_dir, "*.parquet")
        con = default_connection()
        shift = 2 * (MAX_ORDER - highest_order)
        files = [fn for fn in os.listdir(grouped_dir)]
        if not files:
            raise ValueError(f"no light curve to build from {detections.name!r}" + (f" with objects of {objects.name!r}" if objects is not None else ""))
        t = con.arrow(f"SELECT _healpix_29 >> {shift} AS pix, count(*) AS n FROM read_parquet({_sql_str(grouped)}) GROUP BY pix")
        plan = plan_partitions(t.column("pix").to_numpy(), t.column("n").to_numpy(), highest_order, pixel_threshold)
        # Phase 3: one task per output partition (the grouped files are sorted by _healpix_29: row groups are pruned).
        tasks = [(writer.staging, grouped, o, p) for o, p, _ in plan]
        rows = ex.map(_write_lc_partition, tasks, desc=f"write {name}", progress=progress)
        parts = [(o, p, n) for (o, p, _), n in zip(plan, rows)]
        shutil.rmtree(grouped_dir, ignore_errors=True)
        cat = writer.publish(parts, "ra", "dec", extra_properties={"lodestar_lc_column": column, "lodestar_lc_id": object_id})
    except BaseException:
        writer.abort()
        raise
    report.update(objects=len(cat), partitions=len(parts))
    cat.build_report = report
    return cat


# --- per-partition kernels --------------------------------------------------------------------------------------------


def _read_lc_partition(task: PartitionTask, bounds: tuple = (None, None), healpix_column: str = "_healpix_29") -> pa.Table:
    """One partition's rows, or those of one slice of it (`bounds`: a half-open `_healpix_29` interval, see
    lodestar.partition_slices). A plain partition (no filter, no derived column) of local Parquet files is read
    with pyarrow directly: the same rows in the same order as through the engine, without the engine's Arrow
    conversion of the nested column, and in parallel across executor threads. Anything else goes through the
    engine (`read_partition`)."""
    plain = task.where.strip() == "true" and not task.derived and task.files and all(os.path.isfile(f) for f in task.files)
    if not plain:
        if bounds != (None, None):
            task = replace(task, where=f"({task.where}) AND {range_sql(healpix_column, *bounds)}")
        return read_partition(task)
    return pq.read_table(list(task.files), columns=task.columns, use_threads=False,
                         filters=range_filters(healpix_column, *bounds))


def _per_slice(fn, task: PartitionTask, healpix_column: str) -> list:
    """fn(table) for each slice of the partition, in order: one slice (the whole partition) unless it holds more
    than the per-task budget (LODESTAR_TASK_BYTES), so a task's memory stays bounded."""
    return [fn(_read_lc_partition(task, b, healpix_column)) for b in slice_bounds(list(task.files), task.columns, healpix_column)]


def _lc_task(catalog: Catalog, id_col: str, column: str, extra: Sequence[str] = ()) -> list[PartitionTask]:
    cols = list(dict.fromkeys([id_col, *extra, column]))
    return [replace(t, columns=cols) for t in catalog.partition_tasks()]


def _features_partition(args) -> pd.DataFrame:
    task, id_col, column, fields, hp = args
    return _concat(_per_slice(lambda table: _features_table(table, id_col, column, fields), task, hp), _features_partition_empty(id_col))


def _features_table(table: pa.Table, id_col: str, column: str, fields) -> pd.DataFrame:
    ids = table.column(id_col).to_numpy(zero_copy_only=False)
    csr = nested_to_csr(table.column(column), fields, ids)
    out = _core.lightcurve_features(csr["offsets"], csr["time"], csr["mag"], csr["mag_err"], csr["band"])
    idx = out.pop("object_index")
    df = pd.DataFrame({id_col: ids[idx], "band": BAND_LABELS[out.pop("band").astype(np.int64)]})
    for k, v in out.items():
        df[k] = v
    return df


def light_curve_features(catalog: Catalog, column: str = LC_COLUMN, id_column: str | None = None, fields: dict | None = None,
                         client=None, executor=None, progress: bool | None = None) -> pd.DataFrame:
    """Per (object, band) features of every light curve (C++ kernel, one task per partition):
    the id, band, n_obs, mean, median, weighted_mean, std, robust_scatter, amplitude,
    skewness, von_neumann, chi2_reduced, slope (definitions: docs/lightcurves.md)."""
    from .executor import get_executor

    id_col = _id_column(catalog, id_column)
    _struct_fields(catalog, column)
    hp = catalog._meta["healpix_column"]
    tasks = [(t, id_col, column, fields, hp) for t in _lc_task(catalog, id_col, column)]
    parts = get_executor(client, executor).map(_features_partition, tasks, desc=f"features {catalog.name}", progress=progress)
    return _concat(parts, _features_partition_empty(id_col))


def _features_partition_empty(id_col: str) -> pd.DataFrame:
    return pd.DataFrame(columns=[id_col, "band", "n_obs", "mean", "median", "weighted_mean", "std", "robust_scatter", "amplitude",
                                 "skewness", "von_neumann", "chi2_reduced", "slope"])


def _concat(parts: list, empty: pd.DataFrame) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    return pd.concat(parts, ignore_index=True) if parts else empty


def _dimming_partition(args) -> pd.DataFrame:
    task, id_col, ra_col, dec_col, column, fields, params, hp = args
    cpu = time.thread_time()
    parts = _per_slice(lambda table: _dimming_table(table, id_col, ra_col, dec_col, column, fields, params), task, hp)
    # Slices without events are left out of the concatenation (their empty columns would change dtypes).
    df = _concat(parts, parts[0])
    for k in ("detections", "light_curves"):
        df.attrs[k] = sum(p.attrs[k] for p in parts)
    df.attrs["cpu_seconds"] = time.thread_time() - cpu  # this task's CPU time (read, convert, search), for benchmarks
    return df


def _dimming_table(table: pa.Table, id_col, ra_col, dec_col, column, fields, params) -> pd.DataFrame:
    ids = table.column(id_col).to_numpy(zero_copy_only=False)
    csr = nested_to_csr(table.column(column), fields, ids)
    ev = _core.find_dimming_events(csr["offsets"], csr["time"], csr["mag"], csr["mag_err"], csr["band"], **params)
    idx = ev.pop("object_index")
    df = pd.DataFrame({id_col: ids[idx], "ra": table.column(ra_col).to_numpy()[idx], "dec": table.column(dec_col).to_numpy()[idx]})
    for k, v in ev.items():
        df[k] = v
    df["bands"] = [",".join(BAND_LABELS[[b for b in range(3) if m >> b & 1]]) for m in df["bands_mask"].to_numpy()]
    df.attrs["detections"] = int(csr["offsets"][-1])
    df.attrs["light_curves"] = len(ids)
    return df


def find_dimming_events(catalog: Catalog, k_sigma: float = 3.0, min_points: int = 3, min_depth_mag: float = 0.05,
                        extend_sigma: float | None = None, min_baseline_points: int = 5, max_harmonic: int = 20,
                        fit_padding_factor: float = 2.0, min_fit_padding_days: float = 10.0, fit: bool = True,
                        max_run_gap_days: float = 60.0, include_periodic: bool = False, column: str = LC_COLUMN, id_column: str | None = None,
                        fields: dict | None = None, client=None, executor=None, progress: bool | None = True) -> pd.DataFrame:
    """The dimming search over every light curve (C++ detector + periodicity test + GSL
    dip fit, one task per partition). Returns one row per event, ranked by `score`
    (best first; definitions in docs/lightcurves.md): the object id, ra, dec, the
    event (start, end, duration, t_min, depth_mag, depth_frac, significance, n_points,
    n_faint, bands, periodic, period) and the fit (f0, amplitude, t0, sigma_rise,
    sigma_fall with *_err, chi2_dip, chi2_flat, delta_chi2, fit_status).
    Events of periodic (eclipsing-binary-like) objects are dropped unless include_periodic."""
    from .executor import get_executor

    params = dict(k_sigma=float(k_sigma), min_points=int(min_points), min_depth_mag=float(min_depth_mag),
                  extend_sigma=float("nan") if extend_sigma is None else float(extend_sigma), min_baseline_points=int(min_baseline_points),
                  max_harmonic=int(max_harmonic), fit_padding_factor=float(fit_padding_factor),
                  min_fit_padding_days=float(min_fit_padding_days), fit=bool(fit),
                  max_run_gap_days=float(max_run_gap_days))
    id_col = _id_column(catalog, id_column)
    _struct_fields(catalog, column)
    ra_col, dec_col = catalog.ra_column, catalog.dec_column
    hp = catalog._meta["healpix_column"]
    tasks = [(t, id_col, ra_col, dec_col, column, fields, params, hp) for t in _lc_task(catalog, id_col, column, [ra_col, dec_col])]
    # Bad parameters fail before any work, with the kernel's message; the empty result has every column.
    empty = _core.find_dimming_events(np.zeros(1, np.int64), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, np.int64), **params)
    empty.pop("object_index")
    empty = pd.DataFrame({id_col: [], "ra": [], "dec": [], **empty, "bands": []})
    parts = get_executor(client, executor).map(_dimming_partition, tasks, desc=f"dimming search {catalog.name}", progress=progress)
    stats = {k: sum(p.attrs.get(k, 0) for p in parts) for k in ("detections", "light_curves", "cpu_seconds")}
    ev = _concat(parts, empty)
    if not include_periodic and len(ev):
        ev = ev[~ev["periodic"].astype(bool)]
    ev = ev.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    ev.attrs.update(stats)
    return ev


# --- user functions over light curves ---------------------------------------------------------------------------------


def _map_partition(args) -> pd.DataFrame:
    task, id_col, column, names, fn, kwargs, hp = args
    parts = _per_slice(lambda table: _map_table(table, id_col, column, names, fn, kwargs), task, hp)
    return _concat(parts, parts[0])


def _map_table(table: pa.Table, id_col, column, names, fn, kwargs) -> pd.DataFrame:
    ids = table.column(id_col).to_numpy(zero_copy_only=False)
    arr = table.column(column).combine_chunks()
    children = dict(zip([f.name for f in arr.type], arr.flatten()))
    flat, offsets = [], None
    for n in names:
        lengths, values = _list_parts(children[n])
        if offsets is None:
            offsets = np.zeros(lengths.size + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
        elif not np.array_equal(np.diff(offsets), lengths):
            row = int(np.flatnonzero(np.diff(offsets) != lengths)[0])
            raise ValueError(f"light curve of object {ids[row]!r}: field {n!r} has {lengths[row]} entries but {names[0]!r} has "
                             f"{offsets[row + 1] - offsets[row]}; all lists of a row must have the same length")
        if pa.types.is_floating(values.type) or pa.types.is_integer(values.type) and values.null_count:
            flat.append(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False))
        else:
            flat.append(values.to_numpy(zero_copy_only=False))
    results = []
    for i in range(len(ids)):
        a, b = offsets[i], offsets[i + 1]
        results.append(fn(*(x[a:b] for x in flat), **kwargs))
    if results and all(isinstance(r, dict) for r in results):
        df = pd.DataFrame(results)
    else:
        df = pd.DataFrame({"result": results})
    df.insert(0, id_col, ids)
    return df


def map_light_curves(catalog: Catalog, fn: Callable, column: str = LC_COLUMN, fields: Sequence[str] | None = None,
                     id_column: str | None = None, client=None, executor=None, progress: bool | None = None, **kwargs) -> pd.DataFrame:
    """Run fn over every light curve, in parallel over partitions: fn(mjd, mag, mag_err, band, **kwargs)
    gets numpy arrays (time-sorted; band as strings) and returns a scalar (column `result`) or a
    dict (one column per key). `fields` names the struct fields passed positionally (default: the
    time, mag, mag_err and band fields present, e.g. add "flags"). Returns a DataFrame with the
    object id first, in catalog order. On Dask (client=) fn must be picklable."""
    from .executor import get_executor

    id_col = _id_column(catalog, id_column)
    available = _struct_fields(catalog, column)
    if fields is None:
        f = _resolve_fields(available, None, f"column {column!r}")
        names = [f[c] for c in ("mjd", "mag", "mag_err", "band") if c in f]
    else:
        names = list(fields)
        missing = [n for n in names if n not in available]
        if missing:
            raise KeyError(f"column {column!r} has no field(s) {missing}; fields: {available}")
    if not callable(fn):
        raise TypeError(f"map_light_curves needs a function, got {type(fn).__name__}")
    hp = catalog._meta["healpix_column"]
    tasks = [(t, id_col, column, names, fn, kwargs, hp) for t in _lc_task(catalog, id_col, column)]
    parts = get_executor(client, executor).map(_map_partition, tasks, desc=f"map {catalog.name}", progress=progress)
    return _concat(parts, pd.DataFrame(columns=[id_col, "result"]))


# --- derived columns: Catalog.with_column (AXS add_primitive_column) lives in catalog.py ------------------------------


def with_column(catalog: Catalog, name: str, expr: str) -> Catalog:
    """A lazy derived column; see Catalog.with_column."""
    return catalog.with_column(name, expr)


# --- bring your own function: the dimming search in Python ------------------------------------------------------------


def dimming_search_python(mjd, mag, mag_err, band=None, k_sigma: float = 3.0, extend_sigma: float = 1.5, min_points: int = 3,
                          min_depth_mag: float = 0.05, min_baseline_points: int = 5, fit_padding_factor: float = 2.0,
                          min_fit_padding_days: float = 10.0, max_run_gap_days: float = 60.0) -> list[dict]:
    """The C++ detector's steps (per-band robust baseline, excess scatter, hysteresis runs, fit window and
    event fit: start grid, robust fit, clipping, tied widths; docs/lightcurves.md) in numpy, with the dip
    fitted by scipy (`lightcurve_fit.fit_event_scipy`): the
    "bring your own function" version, for `map_light_curves`. No periodicity test. Returns one dict per
    event: start, end, t_min, depth_mag, n_points, success and the fit's parameters."""
    from .lightcurve_fit import fit_event_scipy

    t, m, e = (np.asarray(x, dtype=float) for x in (mjd, mag, mag_err))
    b = np.zeros(t.size, dtype=object) if band is None else np.asarray(band)
    use = np.isfinite(m)
    order = np.flatnonzero(use)[np.argsort(t[use], kind="stable")]
    t, m, e, b = t[order], m[order], e[order], b[order]
    keep = np.zeros(t.size, dtype=bool)
    resid, sigma = np.zeros(t.size), np.ones(t.size)
    for name in np.unique(b):
        sel = b == name
        if sel.sum() < min_baseline_points:
            continue
        base = np.median(m[sel])
        scatter = 1.4826 * np.median(np.abs(m[sel] - base))
        excess2 = max(0.0, scatter**2 - np.median(e[sel]) ** 2)
        keep |= sel
        resid[sel] = m[sel] - base
        sigma[sel] = np.sqrt(e[sel] ** 2 + excess2)
    t, r, s = t[keep], resid[keep], sigma[keep]
    z = r / s
    runs, i, n = [], 0, t.size
    while i < n:
        if z[i] < extend_sigma:
            i += 1
            continue
        j = i
        while j + 1 < n and z[j + 1] >= extend_sigma and t[j + 1] - t[j] <= max_run_gap_days:
            j += 1
        run = slice(i, j + 1)
        if (z[run] >= k_sigma).sum() >= min_points and r[i + int(np.argmax(r[run]))] >= min_depth_mag:
            runs.append((i, j))
        i = j + 1
    events = []
    for k, (i, j) in enumerate(runs):
        deepest = i + int(np.argmax(r[i:j + 1]))
        start, end = t[i], t[j]
        pad = max(fit_padding_factor * (end - start), min_fit_padding_days)
        lo = min(start - pad, t[max(i - 8, 0)])
        hi = max(end + pad, t[min(j + 8, n - 1)])
        # Another event at least 6 detections away is another dip: the window stops halfway (as in C++).
        if k > 0 and i - runs[k - 1][1] - 1 >= 6:
            lo = max(lo, t[runs[k - 1][1] + (i - runs[k - 1][1]) // 2])
        if k + 1 < len(runs) and runs[k + 1][0] - j - 1 >= 6:
            hi = min(hi, t[j + (runs[k + 1][0] - j) // 2])
        w = (t >= lo) & (t <= hi)
        flux = 10 ** (-0.4 * r[w])
        t_before = t[i - 1] if i > 0 else start - pad
        t_after = t[j + 1] if j + 1 < n else end + pad
        ev = {"start": start, "end": end, "t_min": t[deepest], "depth_mag": r[deepest], "n_points": j - i + 1}
        try:
            fit = fit_event_scipy(t[w], flux, flux * 0.4 * np.log(10.0) * s[w], t[deepest], start, end, t_before, t_after)
        except ValueError:
            fit = {"success": False}
        events.append({**ev, **fit})
    return events
