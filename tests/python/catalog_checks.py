"""Independent checks of a HATS catalog folder, with pyarrow only (no Lodestar
code): what a catalog must satisfy whoever wrote it."""

from __future__ import annotations

from pathlib import Path

import healpy as hp
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

LEGACY = {"Norder", "Dir", "Npix", "margin_Norder", "margin_Dir", "margin_Npix"}


def read_properties(path: Path) -> dict[str, str]:
    props = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            props[k.strip()] = v.strip()
    return props


def leaf_files(catalog: Path) -> dict[tuple[int, int], list[Path]]:
    """(Norder, Npix) -> leaf files, found by listing dataset/ (not partition_info)."""
    out: dict[tuple[int, int], list[Path]] = {}
    for f in sorted((catalog / "dataset").glob("Norder=*/Dir=*/Npix=*")):
        order = int(f.parts[-3].split("=")[1])
        pix = int(f.name.split("=")[1].split(".")[0])
        files = sorted(p for p in f.glob("*.parquet")) if f.is_dir() else [f]
        out.setdefault((order, pix), []).extend(files)
    return out


def read_leaves(catalog: Path) -> pd.DataFrame:
    """All rows of the catalog, read leaf by leaf with pyarrow, with Norder/Npix."""
    frames = []
    for (order, pix), files in leaf_files(catalog).items():
        for f in files:
            t = pq.read_table(f)
            t = t.drop_columns([c for c in t.column_names if c in LEGACY])
            df = t.to_pandas()
            df["__Norder"] = order
            df["__Npix"] = pix
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def check_catalog(catalog: Path, pixel_threshold: int | None = None) -> pd.DataFrame:
    """Asserts the HATS invariants; returns the rows (with __Norder/__Npix)."""
    props = read_properties(catalog / "hats.properties")
    for key in ("obs_collection", "dataproduct_type", "hats_nrows"):
        assert key in props, f"{catalog}: hats.properties lacks {key}"
    hcol = props.get("hats_col_healpix", "_healpix_29")
    rows = read_leaves(catalog)
    assert len(rows) == int(props["hats_nrows"]), "hats_nrows disagrees with the leaves"
    # partition_info.csv lists exactly the leaves, in breadth-first order.
    info = pd.read_csv(catalog / "partition_info.csv")
    listed = list(zip(info["Norder"], info["Npix"]))
    assert sorted(listed) == sorted(leaf_files(catalog)), "partition_info.csv and the leaves differ"
    starts = [p << (2 * (29 - o)) for o, p in listed]
    assert starts == sorted(starts), "partition_info.csv is not in breadth-first order"
    # Every row lies in its partition's pixel, and partitions do not overlap.
    h = rows[hcol].to_numpy()
    np.testing.assert_array_equal(h >> (2 * (29 - rows["__Norder"].to_numpy())), rows["__Npix"].to_numpy())
    ranges = sorted((p << (2 * (29 - o)), (p + 1) << (2 * (29 - o))) for o, p in listed)
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:])), "partitions overlap"
    # Rows sorted by the spatial index within each leaf.
    for _, grp in rows.groupby(["__Norder", "__Npix"]):
        assert np.all(np.diff(grp[hcol].to_numpy()) >= 0), "a leaf is not sorted by _healpix_29"
    if pixel_threshold is not None:
        sizes = rows.groupby(["__Norder", "__Npix"]).size()
        assert sizes.max() <= pixel_threshold
    # The index is the true order-29 pixel of (ra, dec), by healpy.
    ra, dec = rows[props.get("hats_col_ra", "ra")].to_numpy(), rows[props.get("hats_col_dec", "dec")].to_numpy()
    np.testing.assert_array_equal(h, hp.ang2pix(2**29, ra, dec, nest=True, lonlat=True))
    assert (catalog / "dataset" / "_common_metadata").exists()
    schema = pq.read_schema(catalog / "dataset" / "_common_metadata")
    assert set(schema.names) - LEGACY == set(rows.columns) - {"__Norder", "__Npix"}
    return rows


def multiset(df: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return sorted(map(tuple, df[columns].itertuples(index=False, name=None)))


def copy_with_small_row_groups(src: Path, dst: Path, rows: int) -> Path:
    """A copy of catalog `src` at `dst` whose leaves hold row groups of `rows` rows (DuckDB's writer makes at least
    2048-row groups), for tests of row-group slicing; the copy's dataset/_metadata, which lists the old row groups,
    is dropped."""
    import shutil

    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    (Path(dst) / "dataset" / "_metadata").unlink(missing_ok=True)
    for leaf in (Path(dst) / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"):
        pq.write_table(pq.read_table(leaf), leaf, row_group_size=rows)
    return Path(dst)
