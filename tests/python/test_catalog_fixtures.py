"""Conformance: every HATS catalog written by hats-import / LSDB opens in
Lodestar, with the rows, schema and values an independent reader gets."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lodestar
from catalog_checks import LEGACY, read_leaves, read_properties
from conftest import SHARED, shared_path

CATALOGS = [
    "small_sky",
    "small_sky_source",
    "small_sky_source_margin",
    "small_sky_xmatch",
    "small_sky_xmatch_margin",
    "small_sky_left_xmatch",
    "small_sky_order1_collection/small_sky_order1",
    "small_sky_order1_collection/small_sky_order1_margin_1deg",
    "small_sky_order1_collection/small_sky_order1_margin_2deg",
]


@pytest.mark.parametrize("name", CATALOGS)
def test_fixture_catalog_reads_like_an_independent_reader(name):
    path = shared_path("hats-fixtures", *name.split("/"))
    cat = lodestar.open_catalog(path)
    props = read_properties(path / "hats.properties")
    expected = read_leaves(path).drop(columns=["__Norder", "__Npix"])
    got = cat.to_pandas()
    assert len(cat) == int(props["hats_nrows"]) == len(got) == len(expected)
    assert set(cat.columns) == set(expected.columns)
    assert not (set(cat.columns) & LEGACY)
    key = [c for c in ("_healpix_29", "id", "source_id") if c in got.columns]
    a = got[sorted(got.columns)].sort_values(key).reset_index(drop=True)
    b = expected[sorted(expected.columns)].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


@pytest.mark.parametrize("name", CATALOGS)
def test_every_row_lies_in_its_partition(name):
    path = shared_path("hats-fixtures", *name.split("/"))
    cat = lodestar.open_catalog(path)
    parts = cat.partitions
    assert len(parts) > 0
    for order, npix, files in parts.itertuples(index=False):
        h = cat.connection.sql(
            f"SELECT _healpix_29 FROM read_parquet({[str(f) for f in files]}, hive_partitioning=false)"
        )["_healpix_29"].to_numpy()
        inside = h >> (2 * (29 - order)) == npix
        if cat.properties["dataproduct_type"] == "margin":
            assert not np.any(inside), "a margin partition holds copies of rows from *other* pixels only"
        else:
            assert np.all(inside)


def test_collection_opens_as_primary_with_margin():
    path = shared_path("hats-fixtures", "small_sky_order1_collection")
    cat = lodestar.open_catalog(path)
    assert cat.name == "small_sky_order1"
    assert cat.margin is not None and cat.margin.name == "small_sky_order1_margin_1deg"
    assert cat.margin.properties["dataproduct_type"] == "margin"
    assert len(cat) == 131


def test_unknown_properties_are_kept():
    cat = lodestar.open_catalog(shared_path("hats-fixtures", "small_sky"))
    assert cat.properties["hats_release_date"] == "2025-08-22"


def test_catalog_root_loads_by_name(tmp_path):
    fixtures = shared_path("hats-fixtures")
    for name in ("small_sky", "small_sky_source"):
        (tmp_path / name).symlink_to(fixtures / name)
    (tmp_path / ".ingest-partial-123").mkdir()  # in-progress work is invisible
    (tmp_path / "not_a_catalog").mkdir()
    root = lodestar.Catalogs(tmp_path)
    assert root.list() == ["small_sky", "small_sky_source"]
    assert len(root.load("small_sky_source")) == 17161
    with pytest.raises(lodestar.LodestarError, match=r"no catalog named 'nope'.*available: small_sky, small_sky_source"):
        root.load("nope")
    df = root.sql("SELECT count(*) AS n FROM small_sky_source WHERE band = 'g'")
    assert df["n"].iloc[0] == (read_leaves(fixtures / "small_sky_source")["band"] == "g").sum()


def test_leaf_naming_variants_and_column_positions(tmp_path):
    """A catalog with Npix=N/ directory leaves, a .parq suffix, and _healpix_29
    in another column position (as LSDB writes it) reads the same rows."""
    import pyarrow.parquet as pq

    src = shared_path("hats-fixtures", "small_sky_source")
    rows = read_leaves(src)
    for variant, suffix in (("dirs", "/"), ("parq", ".parq")):
        out = tmp_path / variant
        (out / "dataset").mkdir(parents=True)
        text = (src / "hats.properties").read_text().replace("hats_npix_suffix=.parquet", f"hats_npix_suffix={suffix}")
        (out / "hats.properties").write_text(text)
        (out / "partition_info.csv").write_text((src / "partition_info.csv").read_text())
        for (order, pix), grp in rows.groupby(["__Norder", "__Npix"]):
            d = out / "dataset" / f"Norder={order}" / f"Dir={pix // 10000 * 10000}"
            d.mkdir(parents=True, exist_ok=True)
            frame = grp.drop(columns=["__Norder", "__Npix"])
            frame = frame[[c for c in frame.columns if c != "_healpix_29"] + ["_healpix_29"]]  # index last
            if suffix == "/":
                (d / f"Npix={pix}").mkdir()
                half = len(frame) // 2
                frame.iloc[:half].to_parquet(d / f"Npix={pix}" / "part0.parquet", index=False)
                frame.iloc[half:].to_parquet(d / f"Npix={pix}" / "part1.parquet", index=False)
            else:
                frame.to_parquet(d / f"Npix={pix}.parq", index=False)
        cat = lodestar.open_catalog(out)
        got = cat.to_pandas().sort_values("source_id").reset_index(drop=True)
        exp = rows.drop(columns=["__Norder", "__Npix"]).sort_values("source_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(got[sorted(got.columns)], exp[sorted(exp.columns)], check_dtype=False)


def test_missing_partition_info_is_recovered_from_the_leaves(tmp_path):
    import shutil

    src = shared_path("hats-fixtures", "small_sky_source")
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    (out / "partition_info.csv").unlink()
    cat = lodestar.open_catalog(out)
    assert len(cat.partitions) == len(lodestar.open_catalog(src).partitions)
    assert cat.count() == 17161
