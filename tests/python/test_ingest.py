"""Ingest: round trips, HATS invariants, bad input with clear messages, and
atomic publication."""

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lodestar
from catalog_checks import check_catalog, multiset, read_properties
from conftest import run_cli, shared_path


def ingest(inputs, name, root, **kw):
    kw.setdefault("progress", False)
    return lodestar.ingest(inputs, name, root=root, **kw)


@pytest.mark.parametrize("threshold", [1_000_000, 40, 7])
def test_small_sky_csv_round_trip(tmp_path, threshold):
    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    cat = ingest(csv, "small_sky", tmp_path, pixel_threshold=threshold, highest_order=6)
    rows = check_catalog(tmp_path / "small_sky", pixel_threshold=threshold)
    src = pd.read_csv(csv)
    assert multiset(rows, list(src.columns)) == multiset(src, list(src.columns))
    assert cat.count() == len(src) == len(cat)
    props = read_properties(tmp_path / "small_sky" / "hats.properties")
    assert props["obs_collection"] == "small_sky" and props["hats_col_ra"] == "ra" and props["hats_max_rows"] == str(threshold)
    assert int(props["hats_order"]) == rows["__Norder"].max()


def leaf_encodings(path) -> dict:
    """Column -> set of data encodings of a Parquet file, and its compression codecs."""
    md = pq.ParquetFile(path).metadata
    out = {}
    for g in range(md.num_row_groups):
        for c in range(md.num_columns):
            col = md.row_group(g).column(c)
            out.setdefault(col.path_in_schema, set()).update(set(col.encodings) - {"RLE"})
            out.setdefault("__codecs", set()).add(col.compression)
    return out


def test_leaves_use_zstd_and_v2_encodings(tmp_path):
    """docs/formats.md: leaves are ZSTD with Parquet's V2 encodings (BYTE_STREAM_SPLIT for floats, DELTA for
    integers), from the engine's ingest and from pyarrow writes of a catalog alike; pyarrow reads them back."""
    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    cat = ingest(csv, "small_sky", tmp_path, highest_order=6)
    leaf = next((tmp_path / "small_sky" / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))
    enc = leaf_encodings(leaf)
    assert enc["__codecs"] == {"ZSTD"}
    assert enc["ra"] == enc["dec"] == {"BYTE_STREAM_SPLIT"}
    assert enc["_healpix_29"] == {"DELTA_BINARY_PACKED"}
    from lodestar.parquet_format import pyarrow_write_kwargs

    table = pq.read_table(leaf)
    out = tmp_path / "copy.parquet"
    pq.write_table(table, out, **pyarrow_write_kwargs(table.schema))
    enc2 = leaf_encodings(out)
    assert enc2["__codecs"] == {"ZSTD"} and enc2["ra"] == {"BYTE_STREAM_SPLIT"} and enc2["_healpix_29"] == {"DELTA_BINARY_PACKED"}
    assert pq.read_table(out).equals(table)
    assert cat.count() == len(pd.read_csv(csv))


def test_source_csv_round_trip_with_named_columns(tmp_path):
    csv = shared_path("hats-fixtures", "raw", "small_sky_source", "small_sky_source.csv")
    ingest(csv, "src", tmp_path, ra="source_ra", dec="source_dec", pixel_threshold=3000)
    rows = check_catalog(tmp_path / "src", pixel_threshold=3000)
    src = pd.read_csv(csv)
    assert multiset(rows, list(src.columns)) == multiset(src, list(src.columns))


def test_generated_catalog_round_trip(tmp_path):
    """A generated catalog (1e7 rows by default; LODESTAR_TEST_ROUNDTRIP_ROWS
    overrides) through Parquet -> ingest -> read is the same multiset."""
    n = int(float(os.environ.get("LODESTAR_TEST_ROUNDTRIP_ROWS", "1e7")))
    sky = tmp_path / "sky"
    assert run_cli("generate-sky", str(sky), "--rows", str(n), "--rows-per-file", str(max(n // 4, 1)), "--no-progress").returncode == 0
    cat = ingest(str(sky / "*.parquet"), "sky", tmp_path / "root", pixel_threshold=max(n // 20, 1000), highest_order=8)
    assert len(cat) == n
    con = lodestar.connect()
    # Compare as multisets in the engine: the symmetric difference is empty and counts agree.
    leaves = f"read_parquet('{tmp_path}/root/sky/dataset/*/*/*.parquet', hive_partitioning=false)"
    src = f"read_parquet('{sky}/*.parquet')"
    cols = "source_id, ra, dec, mag_g, mag_r, mag_err"
    diff = con.sql(
        f"SELECT (SELECT count(*) FROM {leaves}) AS n, count(*) AS differing FROM ("
        f"(SELECT {cols} FROM {src} EXCEPT ALL SELECT {cols} FROM {leaves}) UNION ALL "
        f"(SELECT {cols} FROM {leaves} EXCEPT ALL SELECT {cols} FROM {src}))"
    )
    assert diff["n"].iloc[0] == n and diff["differing"].iloc[0] == 0
    # Partitions obey the threshold and hold only their own pixel's rows, sorted.
    parts = con.sql(
        f"SELECT filename, count(*) AS n, bool_and(ok) AS ok FROM (SELECT filename, "
        f"(_healpix_29 >> (2 * (29 - regexp_extract(filename, 'Norder=(\\d+)', 1)::INT))) = regexp_extract(filename, 'Npix=(\\d+)', 1)::BIGINT AS ok "
        f"FROM read_parquet('{tmp_path}/root/sky/dataset/*/*/*.parquet', filename=true, hive_partitioning=false)) GROUP BY filename"
    )
    assert parts["ok"].all() and parts["n"].max() <= max(n // 20, 1000) and parts["n"].sum() == n
    info = pd.read_csv(tmp_path / "root" / "sky" / "partition_info.csv")
    assert len(info) == len(parts)


def test_multiple_inputs_glob_and_parquet_and_fits(tmp_path):
    from astropy.table import Table

    rng = np.random.default_rng(0)
    frames = []
    for i in range(3):
        df = pd.DataFrame({"objid": np.arange(i * 1000, (i + 1) * 1000), "RA": rng.uniform(0, 360, 1000),
                           "DEC": rng.uniform(-90, 90, 1000), "flux": rng.normal(size=1000), "name": [f"s{i}"] * 1000})
        frames.append(df)
        df.to_csv(tmp_path / f"part{i}.csv", index=False)
        df.to_parquet(tmp_path / f"part{i}.parquet", index=False)
        Table.from_pandas(df).write(tmp_path / f"part{i}.fits")
    full = pd.concat(frames)
    for pattern, name in (("part*.csv", "from_csv"), ("part*.parquet", "from_parquet"), ("part*.fits", "from_fits")):
        cat = ingest(str(tmp_path / pattern), name, tmp_path / "root", pixel_threshold=500)
        rows = check_catalog(tmp_path / "root" / name, pixel_threshold=500)
        assert cat.ra_column == "RA" and cat.dec_column == "DEC"
        assert multiset(rows, ["objid", "RA", "DEC", "flux", "name"]) == multiset(full, ["objid", "RA", "DEC", "flux", "name"])


def test_gzipped_csv(tmp_path):
    src = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    gz = tmp_path / "small.csv.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    assert len(ingest(gz, "gz", tmp_path / "root")) == 131


# --- bad input: each a clear message naming file, row/line and column ------------------

def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_CSV = [
    ("id,ra,dec\n1,10,20\n2,11,91.5\n3,12,22\n", r"bad\.csv, data row 2 \(line 3\): column 'dec' = 91.5 is outside \[-90, 90\]"),
    ("id,ra,dec\n1,10,20\n2,,21\n", r"bad\.csv, data row 2 \(line 3\): column 'ra' is empty"),
    ("id,ra,dec\n1,10,20\n2,11,nan\n", r"bad\.csv, data row 2 \(line 3\): column 'dec' is nan, expected a finite number"),
    ("id,ra,dec\n1,10,20\n2,eleven,21\n", r"bad\.csv, data row 2 \(line 3\): column 'ra' must hold numbers .* first non-numeric value: 'eleven'"),
    ("id,x,y\n1,10,20\n", r"no right ascension column recognised .*columns: id, x, y"),
    ("id,ra,dec\n1,10,20,5,6\n2,11,21\n", r"bad\.csv"),  # malformed row
    ("id,ra,dec\n", r"bad\.csv: the input has no data rows"),
]


@pytest.mark.parametrize("text, message", BAD_CSV)
def test_bad_csv_is_rejected_clearly(tmp_path, text, message):
    f = write(tmp_path / "bad.csv", text)
    with pytest.raises(lodestar.LodestarError, match=message):
        ingest(f, "cat", tmp_path / "root")
    assert lodestar.Catalogs(tmp_path / "root").list() == []
    assert not [p for p in (tmp_path / "root").iterdir()] if (tmp_path / "root").exists() else True


def test_invalid_coordinates_can_be_dropped_and_counted(tmp_path):
    f = write(tmp_path / "mixed.csv", "id,ra,dec\n1,10,20\n2,11,91\n3,,5\n4,13,nan\n5,14,-30\n")
    cat = ingest(f, "cat", tmp_path / "root", drop_invalid=True)
    assert cat.ingest_report["dropped_rows"] == 3
    assert sorted(cat.to_pandas()["id"]) == [1, 5]


def test_empty_and_missing_and_truncated_inputs(tmp_path):
    with pytest.raises(lodestar.LodestarError, match=r"empty\.csv: the file is empty"):
        ingest(write(tmp_path / "empty.csv", ""), "a", tmp_path / "root")
    with pytest.raises(lodestar.LodestarError, match=r"input not found: .*nothing\*\.csv"):
        ingest(str(tmp_path / "nothing*.csv"), "a", tmp_path / "root")
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"ra": np.arange(1000.0) % 360, "dec": np.zeros(1000)}), good)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(lodestar.LodestarError, match=r"truncated\.parquet"):
        ingest(truncated, "a", tmp_path / "root")
    with pytest.raises(lodestar.LodestarError, match=r"unknown input format"):
        ingest(write(tmp_path / "x.xlsx", "junk"), "a", tmp_path / "root")


def test_fits_without_a_table(tmp_path):
    from astropy.io import fits

    f = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(f)
    with pytest.raises(lodestar.LodestarError, match=r"image\.fits: no table HDU found"):
        ingest(f, "a", tmp_path / "root")


def test_existing_catalog_is_refused_then_replaced_only_on_request(tmp_path):
    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    ingest(csv, "cat", tmp_path)
    before = sorted(p.name for p in (tmp_path / "cat" / "dataset").rglob("*"))
    with pytest.raises(lodestar.LodestarError, match=r"catalog 'cat' already exists"):
        ingest(csv, "cat", tmp_path)
    assert sorted(p.name for p in (tmp_path / "cat" / "dataset").rglob("*")) == before
    # A failing replacement leaves the old catalog untouched.
    bad = write(tmp_path / "bad.csv", "id,ra,dec\n1,1,95\n")
    with pytest.raises(lodestar.LodestarError):
        ingest(bad, "cat", tmp_path, overwrite=True)
    assert lodestar.Catalogs(tmp_path).load("cat").count() == 131
    small = write(tmp_path / "small.csv", "id,ra,dec\n1,1,5\n2,2,6\n")
    assert len(ingest(small, "cat", tmp_path, overwrite=True)) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../escape"])
def test_bad_catalog_names(tmp_path, name):
    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    with pytest.raises(lodestar.LodestarError, match="invalid catalog name"):
        ingest(csv, name, tmp_path)


def test_single_pixel_over_threshold_at_highest_order(tmp_path):
    f = write(tmp_path / "dense.csv", "ra,dec\n" + "10.0,10.0\n" * 50)
    with pytest.raises(lodestar.LodestarError, match=r"holds 50 rows, more than pixel_threshold=10; raise highest_order or pixel_threshold"):
        ingest(f, "a", tmp_path / "root", pixel_threshold=10, highest_order=5)


def test_full_disk_leaves_root_intact(tmp_path):
    """Ingest into a tiny tmpfs: the error names the problem, the earlier catalog survives."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.system(f"mount -t tmpfs -o size=3m tmpfs {mnt} 2>/dev/null") != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
        ingest(csv, "first", mnt)
        big = tmp_path / "big.parquet"
        rng = np.random.default_rng(1)
        pq.write_table(pa.table({"ra": rng.uniform(0, 360, 400_000), "dec": rng.uniform(-90, 90, 400_000),
                                 "noise": rng.normal(size=400_000)}), big)
        with pytest.raises(lodestar.LodestarError) as info:
            ingest(big, "second", mnt, memory_limit="500MB")
        assert "space" in str(info.value).lower() or "write" in str(info.value).lower()
        assert lodestar.Catalogs(mnt).list() == ["first"]
        assert lodestar.Catalogs(mnt).load("first").count() == 131
        assert [p.name for p in mnt.iterdir() if p.name.startswith(".")] == []
    finally:
        os.system(f"umount {mnt}")


def test_cli_ingest_and_catalogs_and_sql_by_name(tmp_path):
    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    out = run_cli("ingest", str(csv), "--name", "sky", "--root", str(tmp_path), "--pixel-threshold", "50")
    assert out.returncode == 0, out.stderr
    assert "ingested 131 rows" in out.stdout
    listing = run_cli("catalogs", "--root", str(tmp_path))
    assert "sky" in listing.stdout and "131" in listing.stdout
    info = run_cli("info", "sky", "--root", str(tmp_path))
    assert "dec_error" in info.stdout and "hats_max_rows = 50" in info.stdout
    q = run_cli("sql", "--root", str(tmp_path), "--csv", "SELECT count(*) AS n FROM sky WHERE dec < -60")
    assert q.stdout.splitlines()[1] == str((pd.read_csv(csv)["dec"] < -60).sum())
    again = run_cli("ingest", str(csv), "--name", "sky", "--root", str(tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_margin_cache_collection(tmp_path):
    """ingest(margin_arcsec=...) writes primary + margin tied by a collection; each
    margin partition holds every other partition's row within the threshold of
    the pixel's boundary (checked against densely sampled healpy boundaries)
    and never a row of its own pixel."""
    import healpy as hp

    from catalog_checks import read_leaves

    csv = shared_path("hats-fixtures", "raw", "small_sky_source", "small_sky_source.csv")
    threshold = 1800.0
    cat = ingest(csv, "src", tmp_path, ra="source_ra", dec="source_dec", pixel_threshold=2000, margin_arcsec=threshold)
    assert (tmp_path / "src" / "collection.properties").exists()
    assert cat.margin is not None and cat.margin.properties["dataproduct_type"] == "margin"
    assert float(cat.margin.properties["hats_margin_threshold"]) == threshold
    rows = read_leaves(tmp_path / "src" / "src")
    margin = read_leaves(Path(cat.margin.path))
    ra, dec, h = rows.source_ra.to_numpy(), rows.source_dec.to_numpy(), rows._healpix_29.to_numpy()
    for (order, pix), grp in rows.groupby(["__Norder", "__Npix"]):
        vec = hp.boundaries(2**order, pix, step=400, nest=True)  # (3, 4*step) points along the edges
        b_ra, b_dec = hp.vec2ang(vec.T, lonlat=True)
        others = (h >> (2 * (29 - order))) != pix
        near = np.zeros(len(rows), bool)
        idx = np.flatnonzero(others)
        for i0 in range(0, len(idx), 2000):
            sel = idx[i0:i0 + 2000]
            d = lodestar.ang_sep(np.repeat(ra[sel], len(b_ra)), np.repeat(dec[sel], len(b_ra)),
                                 np.tile(b_ra, len(sel)), np.tile(b_dec, len(sel))).reshape(len(sel), -1).min(axis=1)
            near[sel] = d * 3600 <= threshold * 0.99  # sampled boundary: a hair of slack
        got = margin[(margin.__Norder == order) & (margin.__Npix == pix)]
        assert not np.any((got._healpix_29.to_numpy() >> (2 * (29 - order))) == pix), "own rows in the margin"
        assert set(rows.source_id[near]) <= set(got.source_id), f"margin of ({order}, {pix}) misses rows"


def test_ingest_stays_near_its_memory_budget_by_spilling(tmp_path):
    """3e6 rows (~170 MB staged, more while sorting) under a 100 MB budget: the
    staged table and the sort spill to the staging folder, the rows come out
    exact, and the process stays far below what the same ingest takes unbounded
    (~650 MB measured): DuckDB's own overheads and the histogram (bounded by the
    12*4^k pixels, not by the rows) are all that sit outside the budget."""
    import subprocess
    import sys

    from conftest import lodestar_command

    sky = tmp_path / "sky"
    assert run_cli("generate-sky", str(sky), "--rows", "3000000", "--rows-per-file", "1000000", "--no-progress").returncode == 0
    cmd = [*lodestar_command(), "--memory-limit", "100MB", "--threads", "2", "ingest", str(sky / "*.parquet"), "--name", "sky",
           "--root", str(tmp_path / "root"), "--no-progress"]
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.stderr.write(r.stderr)")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, timeout=600)
    rc, max_rss_kb = map(int, out.stdout.split())
    assert rc == 0, out.stderr
    assert max_rss_kb < 450_000, f"ingest under a 100 MB budget peaked at {max_rss_kb / 1e3:.0f} MB"
    cat = lodestar.Catalogs(tmp_path / "root").load("sky")
    con = lodestar.connect()
    got = con.sql(f"SELECT count(*) AS n, sum(source_id) AS s, sum(ra) AS r FROM {cat.relation_sql()}")
    want = con.sql(f"SELECT count(*) AS n, sum(source_id) AS s, sum(ra) AS r FROM read_parquet('{sky}/*.parquet')")
    assert got["n"][0] == want["n"][0] == 3_000_000 and got["s"][0] == want["s"][0]
    assert got["r"][0] == pytest.approx(want["r"][0], rel=1e-12)
