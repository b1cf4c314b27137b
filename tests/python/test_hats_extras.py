"""The optional HATS files Lodestar writes: skymap.fits (HEALPix C++'s FITS writer)
and dataset/_metadata (pyarrow), checked with healpy, hats, pyarrow and LSDB, and
against the files hats-import wrote for the shared fixtures."""

import shutil
from pathlib import Path

import healpy as hp
import numpy as np
import pandas as pd
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest

import lodestar
from catalog_checks import check_catalog, leaf_files, multiset, read_properties
from conftest import shared_path
from lodestar import _core
from lodestar.hats_extras import finish_catalog_dir, write_parquet_metadata, write_skymap

hats = pytest.importorskip("hats")


def ingest(inputs, name, root, **kw):
    kw.setdefault("progress", False)
    return lodestar.ingest(inputs, name, root=root, **kw)


def healpy_counts(path, order) -> np.ndarray:
    """skymap.fits read by healpy (EXPLICIT maps leave empty pixels UNSEEN)."""
    m = hp.read_map(str(path), nest=True, dtype=None)
    assert len(m) == 12 * 4**order
    return np.where(m == hp.UNSEEN, 0, m).astype(np.int64)


def counts_from_rows(ra, dec, order) -> np.ndarray:
    return np.bincount(hp.ang2pix(2**order, ra, dec, nest=True, lonlat=True), minlength=12 * 4**order)


def uniform_sky_csv(path, n, seed=7):
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    pd.DataFrame({"id": np.arange(n), "ra": ra, "dec": dec, "mag": rng.uniform(15, 25, n)}).to_csv(path, index=False)
    return ra, dec


def check_metadata_file(catalog) -> None:
    """_metadata describes exactly the leaves: same files, row groups and rows."""
    meta = pq.read_metadata(catalog / "dataset" / "_metadata")
    by_file = {}
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        by_file.setdefault(rg.column(0).file_path, []).append(rg.num_rows)
    leaves = {f.relative_to(catalog / "dataset").as_posix(): f for fs in leaf_files(catalog).values() for f in fs}
    assert set(by_file) == set(leaves)
    for rel, path in leaves.items():
        md = pq.read_metadata(path)
        assert by_file[rel] == [md.row_group(i).num_rows for i in range(md.num_row_groups)], rel
    assert meta.num_rows == sum(pq.read_metadata(p).num_rows for p in leaves.values())
    assert meta.num_rows == int(read_properties(catalog / "hats.properties")["hats_nrows"])


@pytest.mark.parametrize("threshold, highest_order", [(1_000_000, 10), (20, 6)])
def test_ingested_catalog_has_skymap_and_metadata(tmp_path, threshold, highest_order):
    from hats.io.validation import is_valid_catalog

    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    ingest(csv, "small_sky", tmp_path, pixel_threshold=threshold, highest_order=highest_order)
    path = tmp_path / "small_sky"
    rows = check_catalog(path, pixel_threshold=threshold)
    props = read_properties(path / "hats.properties")
    order = int(props["hats_skymap_order"])
    assert order == highest_order
    src = pd.read_csv(csv)
    # The count map equals healpy's pixels of the input rows, read by healpy and by hats (cdshealpix).
    expected = counts_from_rows(src["ra"].to_numpy(), src["dec"].to_numpy(), order)
    np.testing.assert_array_equal(healpy_counts(path / "skymap.fits", order), expected)
    from hats.io.skymap import read_skymap

    catalog = hats.read_hats(str(path))
    assert catalog.catalog_info.skymap_order == order
    np.testing.assert_array_equal(read_skymap(catalog, order), expected)
    np.testing.assert_array_equal(read_skymap(catalog, 3), expected.reshape(12 * 4**3, -1).sum(axis=1))
    # _metadata: every leaf's row groups, with paths relative to dataset/.
    check_metadata_file(path)
    table = pds.parquet_dataset(str(path / "dataset" / "_metadata")).to_table()
    assert multiset(table.to_pandas(), list(src.columns)) == multiset(rows, list(src.columns))
    assert is_valid_catalog(str(path), strict=True)
    lsdb = pytest.importorskip("lsdb")
    df = lsdb.open_catalog(str(path)).compute().reset_index(drop=True)
    assert multiset(df, list(src.columns)) == multiset(src, list(src.columns))


def test_skymap_equals_hats_import_for_the_same_csv(tmp_path):
    """The fixture small_sky_source was built by hats-import from the raw CSV with
    pixel_threshold=3000 at order 2: same partitions, same skymap values, and a
    _metadata with the same rows per leaf."""
    from hats.io.file_io import read_fits_image

    fixture = shared_path("hats-fixtures", "small_sky_source")
    csv = shared_path("hats-fixtures", "raw", "small_sky_source", "small_sky_source.csv")
    ingest(csv, "src", tmp_path, ra="source_ra", dec="source_dec", pixel_threshold=3000, highest_order=2)
    ours = tmp_path / "src"
    assert read_properties(ours / "hats.properties")["hats_skymap_order"] == "2"
    theirs_map = read_fits_image(fixture / "skymap.fits")
    np.testing.assert_array_equal(read_fits_image(ours / "skymap.fits"), theirs_map)
    np.testing.assert_array_equal(healpy_counts(ours / "skymap.fits", 2), theirs_map)

    def rows_per_file(catalog):
        meta = pq.read_metadata(catalog / "dataset" / "_metadata")
        out = {}
        for i in range(meta.num_row_groups):
            rg = meta.row_group(i)
            out[rg.column(0).file_path] = out.get(rg.column(0).file_path, 0) + rg.num_rows
        return out

    # Same rows per leaf, except where the fixture's builder kept a lone
    # non-empty child (drop_empty_siblings) that the classic rule Lodestar follows
    # merges into its parent: there the rows of the parent equal the child's.
    ours_rows, theirs_rows = rows_per_file(ours), rows_per_file(fixture)
    common = set(ours_rows) & set(theirs_rows)
    assert {k: ours_rows[k] for k in common} == {k: theirs_rows[k] for k in common}
    assert sum(ours_rows.values()) == sum(theirs_rows.values()) == 17161

    def pixel(rel):
        parts = dict(p.split("=") for p in rel.replace(".parquet", "").split("/"))
        return int(parts["Norder"]), int(parts["Npix"])

    for rel in set(theirs_rows) - common:
        order, pix = pixel(rel)
        parents = [k for k in set(ours_rows) - common if pix >> (2 * (order - pixel(k)[0])) == pixel(k)[1]]
        assert len(parents) == 1 and ours_rows[parents[0]] == theirs_rows[rel]


def test_dense_map_is_written_implicit(tmp_path):
    """A map with most pixels non-empty is a classic full-sky HEALPix map (IMPLICIT)."""
    from astropy.io import fits

    ra, dec = uniform_sky_csv(tmp_path / "sky.csv", 20_000)
    ingest(tmp_path / "sky.csv", "sky", tmp_path / "root", pixel_threshold=5000, highest_order=3)
    path = tmp_path / "root" / "sky" / "skymap.fits"
    header = fits.getheader(path, 1)
    assert header["INDXSCHM"] == "IMPLICIT" and header["ORDERING"] == "NESTED" and header["NSIDE"] == 8
    assert header["TTYPE1"] == "VALUE"
    np.testing.assert_array_equal(healpy_counts(path, 3), counts_from_rows(ra, dec, 3))


def test_sparse_map_is_written_explicit(tmp_path):
    from astropy.io import fits

    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    ingest(csv, "small_sky", tmp_path)
    header = fits.getheader(tmp_path / "small_sky" / "skymap.fits", 1)
    assert header["INDXSCHM"] == "EXPLICIT" and header["NSIDE"] == 1024
    src = pd.read_csv(csv)
    assert header["OBS_NPIX"] == np.count_nonzero(counts_from_rows(src["ra"], src["dec"], 10))  # only the non-empty pixels
    assert (tmp_path / "small_sky" / "skymap.fits").stat().st_size < 20_000


def test_write_skymap_fits_from_python(tmp_path):
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 50, 12 * 4**2)
    _core.write_skymap_fits(str(tmp_path / "dense.fits"), 2, counts)
    np.testing.assert_array_equal(healpy_counts(tmp_path / "dense.fits", 2), counts)
    sparse = np.zeros(12 * 4**4, dtype=np.int64)
    sparse[[5, 700, 3071]] = [1, 2, 3]
    _core.write_skymap_fits(str(tmp_path / "sparse.fits"), 4, sparse)
    np.testing.assert_array_equal(healpy_counts(tmp_path / "sparse.fits", 4), sparse)
    _core.write_skymap_fits(str(tmp_path / "sparse.fits"), 4, sparse * 2)  # replaces
    np.testing.assert_array_equal(healpy_counts(tmp_path / "sparse.fits", 4), sparse * 2)
    # Maps bigger than the writer's 2**20-value slices, both layouts.
    big = rng.integers(0, 3, 12 * 4**9)  # ~2/3 non-empty: IMPLICIT, 3 slices
    _core.write_skymap_fits(str(tmp_path / "big.fits"), 9, big)
    np.testing.assert_array_equal(healpy_counts(tmp_path / "big.fits", 9), big)
    wide = np.zeros(12 * 4**10, dtype=np.int64)
    wide[rng.choice(len(wide), 2_500_000, replace=False)] = rng.integers(1, 9, 2_500_000)  # EXPLICIT, 3 slices
    _core.write_skymap_fits(str(tmp_path / "wide.fits"), 10, wide)
    np.testing.assert_array_equal(healpy_counts(tmp_path / "wide.fits", 10), wide)
    with pytest.raises(_core.LodestarError, match=r"bad\.fits: a skymap of order 2 needs 192 counts, got 5"):
        _core.write_skymap_fits(str(tmp_path / "bad.fits"), 2, np.ones(5, dtype=np.int64))
    with pytest.raises(_core.LodestarError, match=r"bad\.fits: skymap counts must not be negative \(pixel 7\)"):
        _core.write_skymap_fits(str(tmp_path / "bad.fits"), 0, np.array([0] * 7 + [-1] + [0] * 4))
    with pytest.raises(_core.LodestarError, match="skymap order must be within"):
        _core.write_skymap_fits(str(tmp_path / "bad.fits"), 14, np.ones(1, dtype=np.int64))
    assert not (tmp_path / "bad.fits").exists()


def test_finish_catalog_dir_matches_hats_import_files(tmp_path):
    """On a copy of a hats-import catalog stripped of its optional files,
    finish_catalog_dir rebuilds a _metadata describing the same row groups and a
    skymap with the same counts as hats-import's."""
    from hats.io.file_io import read_fits_image
    from hats.io.validation import is_valid_catalog

    fixture = shared_path("hats-fixtures", "small_sky_source")
    work = tmp_path / "small_sky_source"
    shutil.copytree(fixture, work)
    (work / "dataset" / "_metadata").unlink()
    (work / "skymap.fits").unlink()
    finish_catalog_dir(work)
    np.testing.assert_array_equal(read_fits_image(work / "skymap.fits"), read_fits_image(fixture / "skymap.fits"))
    assert read_properties(work / "hats.properties")["hats_skymap_order"] == "2"
    # Unknown and other keys of hats.properties are kept.
    assert read_properties(work / "hats.properties") == read_properties(fixture / "hats.properties")
    ours, theirs = pq.read_metadata(work / "dataset" / "_metadata"), pq.read_metadata(fixture / "dataset" / "_metadata")
    assert ours.num_rows == theirs.num_rows == 17161

    def groups(meta):
        return sorted((meta.row_group(i).column(0).file_path, meta.row_group(i).num_rows) for i in range(meta.num_row_groups))

    assert groups(ours) == groups(theirs)
    check_metadata_file(work)
    assert is_valid_catalog(str(work), strict=True)


def test_skymap_at_other_order_and_margin_catalogs_get_none(tmp_path):
    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    ingest(csv, "small_sky", tmp_path)
    path = tmp_path / "small_sky"
    write_skymap(path, order=4)
    src = pd.read_csv(csv)
    np.testing.assert_array_equal(healpy_counts(path / "skymap.fits", 4), counts_from_rows(src["ra"], src["dec"], 4))
    assert read_properties(path / "hats.properties")["hats_skymap_order"] == "4"
    # A margin catalog (hats-import writes no skymap for margins) gets _metadata only.
    margin = tmp_path / "margin"
    shutil.copytree(shared_path("hats-fixtures", "small_sky_source_margin"), margin)
    for extra in [margin / "skymap.fits", margin / "dataset" / "_metadata"]:
        extra.unlink(missing_ok=True)
    finish_catalog_dir(margin)
    assert not (margin / "skymap.fits").exists()
    check_metadata_file(margin)


def test_metadata_refuses_leaves_with_different_schemas(tmp_path):
    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    ingest(csv, "small_sky", tmp_path, pixel_threshold=40, highest_order=6)
    path = tmp_path / "small_sky"
    leaves = sorted(f for fs in leaf_files(path).values() for f in fs)
    table = pq.read_table(leaves[-1])
    pq.write_table(table.drop_columns(["id"]), leaves[-1])
    with pytest.raises(ValueError, match=leaves[-1].name + ".*schema differs"):
        write_parquet_metadata(path)


def test_failing_before_publish_leaves_nothing_visible(tmp_path):
    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    seen = []

    def fail(catalog_dir):
        seen.append(catalog_dir)
        raise RuntimeError("disk full while writing _metadata")

    with pytest.raises(RuntimeError, match="disk full while writing _metadata"):
        _core.ingest([str(csv)], "small_sky", str(tmp_path), before_publish=fail)
    # The hook saw the complete, unpublished folder; nothing is left behind.
    assert seen and "/.ingest-small_sky-" in seen[0]
    assert list(tmp_path.iterdir()) == []
    # A later ingest of the same name succeeds and its hook sees skymap.fits already written.
    _core.ingest([str(csv)], "small_sky", str(tmp_path), before_publish=lambda d: seen.append(sorted(p.name for p in Path(d).iterdir())))
    assert seen[-1] == ["dataset", "hats.properties", "partition_info.csv", "skymap.fits"]
    assert lodestar.open_catalog(tmp_path / "small_sky").count() == 131
