"""The lazy catalog API against independent computations (numpy, healpy)."""

import healpy as hp
import numpy as np
import pandas as pd
import pytest

import lodestar
from conftest import shared_path


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    rng = np.random.default_rng(7)
    n = 60_000
    df = pd.DataFrame({"id": np.arange(n), "ra": rng.uniform(0, 360, n), "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
                       "mag": rng.normal(18, 1.5, n), "band": rng.choice(["g", "r"], n)})
    df.loc[:99, "mag"] = np.nan
    df.to_parquet(root / "in.parquet", index=False)
    cat = lodestar.ingest(root / "in.parquet", "sky", root=root, pixel_threshold=5000, highest_order=6, progress=False)
    return cat, df


def test_metadata_is_cheap_and_right(sky):
    cat, df = sky
    assert len(cat) == len(df)
    assert cat.columns == ["id", "ra", "dec", "mag", "band", "_healpix_29"]
    assert dict(cat.schema)["mag"] == "DOUBLE"
    assert len(cat.partitions) > 12 and cat.partitions["Norder"].max() >= 1


def test_select_where_head_count(sky):
    cat, df = sky
    q = cat.where("mag < 17").where("band = 'g'").select(["id", "mag"])
    got = q.to_pandas().sort_values("id").reset_index(drop=True)
    exp = df[(df.mag < 17) & (df.band == "g")][["id", "mag"]].sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, exp, check_dtype=False)
    assert q.count() == len(exp) == len(q)
    assert list(q.head(3).columns) == ["id", "mag"] and len(q.head(3)) == 3
    with pytest.raises(KeyError, match="no column"):
        cat.select(["nope"])
    with pytest.raises(lodestar.LodestarError):
        cat.where("no_such_column > 1").count()


def test_sql_over_the_catalog(sky):
    cat, df = sky
    out = cat.sql("SELECT band, count(*) AS n, avg(mag) AS m FROM sky WHERE mag IS NOT NULL GROUP BY band ORDER BY band")
    exp = df.dropna().groupby("band").mag.agg(["count", "mean"])
    np.testing.assert_array_equal(out["n"].to_numpy(), exp["count"].to_numpy())
    np.testing.assert_allclose(out["m"].to_numpy(), exp["mean"].to_numpy(), rtol=1e-12)


def test_cone_search_equals_brute_force(sky):
    cat, df = sky
    for ra, dec, r in [(10, 20, 3600 * 5), (0.2, -3, 3600 * 4), (359.9, 45, 3600 * 2), (123, 89.5, 3600 * 3), (200, -89.9, 3600)]:
        got = set(cat.cone_search(ra, dec, r).to_pandas()["id"])
        sep = lodestar.ang_sep(np.full(len(df), float(ra)), np.full(len(df), float(dec)), df.ra.to_numpy(), df.dec.to_numpy())
        assert got == set(df.id[sep <= r / 3600.0]), (ra, dec, r)
    assert len(cat.cone_search(10, 20, 60).partitions) <= 4
    with pytest.raises(ValueError, match="radius must be > 0"):
        cat.cone_search(0, 0, 0)
    with pytest.raises(ValueError, match="declination"):
        cat.cone_search(0, 95, 10)


def test_skymap_equals_healpy(sky):
    cat, df = sky
    for order in (0, 3, 5):
        expected = np.bincount(hp.ang2pix(2**order, df.ra, df.dec, nest=True, lonlat=True), minlength=12 * 4**order)
        np.testing.assert_array_equal(cat.skymap(order), expected)
    south = cat.where("dec < 0").skymap(2)
    assert south.sum() == (df.dec < 0).sum()
    with pytest.raises(ValueError, match="order"):
        cat.skymap(13)


def test_skymap_plot(sky, tmp_path):
    cat, _ = sky
    fig = cat.plot_skymap(4, path=tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 10_000
    assert fig is not None


def test_histograms_equal_numpy(sky):
    cat, df = sky
    counts, edges = cat.histogram("mag", bins=20)
    m = df.mag.dropna().to_numpy()
    exp, exp_edges = np.histogram(m, bins=20, range=(m.min(), m.max()))
    np.testing.assert_allclose(edges, exp_edges)
    np.testing.assert_array_equal(counts, exp)
    c2, xe, ye = cat.histogram2d("ra", "dec", bins=(12, 6), range=((0, 360), (-90, 90)))
    e2, _, _ = np.histogram2d(df.ra, df.dec, bins=(12, 6), range=((0, 360), (-90, 90)))
    np.testing.assert_array_equal(c2, e2)


def test_write_filtered_catalog_round_trip(sky, tmp_path):
    from catalog_checks import check_catalog, multiset

    cat, df = sky
    out = cat.where("dec > 30").write("north", root=tmp_path)
    rows = check_catalog(tmp_path / "north")
    assert multiset(rows, ["id", "ra", "dec"]) == multiset(df[df.dec > 30], ["id", "ra", "dec"])
    assert len(out) == (df.dec > 30).sum()
    with pytest.raises(FileExistsError):
        cat.write("north", root=tmp_path)


def test_map_partitions(sky):
    cat, df = sky
    sizes = cat.map_partitions(len)
    assert sizes.sum() == len(df) and len(sizes) == len(cat.partitions)
    means = cat.map_partitions(lambda p: pd.DataFrame({"n": [len(p)], "dec_min": [p.dec.min()]}))
    assert means["n"].sum() == len(df)


def test_real_catalogs_ingest(tmp_path):
    hip = shared_path("data", "stars_hip_tycho2.csv.gz")
    hd = shared_path("data", "stars_hd.csv.gz")
    a = lodestar.ingest(hip, "hip_tycho2", root=tmp_path, progress=False)
    b = lodestar.ingest(hd, "hd", root=tmp_path, progress=False)
    assert len(a) == 603_418 and len(b) == 42_864
    assert lodestar.Catalogs(tmp_path).list() == ["hd", "hip_tycho2"]
    bright = a.where("vmag < 3").count()
    assert 100 < bright < 300  # about 170 stars brighter than V=3


def test_with_column_chains_and_writes(sky, tmp_path):
    cat, df = sky
    w = cat.with_column("gal_like", "abs(dec) < 20").with_column("mag2", "mag * 2").where("gal_like AND mag2 < 34")
    got = w.select(["id", "mag2"]).to_pandas().sort_values("id").reset_index(drop=True)
    exp = df[(df.dec.abs() < 20) & (df.mag * 2 < 34)]
    np.testing.assert_array_equal(got["id"], np.sort(exp["id"].to_numpy()))
    np.testing.assert_allclose(got["mag2"], exp.sort_values("id")["mag"].to_numpy() * 2)
    assert w.map_partitions(len).sum() == len(exp)
    out = w.write("derived", root=tmp_path)
    assert set(out.columns) >= {"gal_like", "mag2"} and len(out) == len(exp)
    with pytest.raises(lodestar.LodestarError):
        cat.with_column("bad", "no_such_column + 1")
    with pytest.raises(ValueError, match="already has a column"):
        cat.with_column("mag", "1")
