"""Crossmatch of catalogs: identical pair sets to brute force on adversarial catalogs ingested with small
partitions (with and without a margin cache, partitions of different orders), LSDB's golden answers on the
HATS fixtures, self-match, how='left', write() round trip, real data, and clear errors."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lodestar
from catalog_checks import check_catalog, copy_with_small_row_groups, read_leaves
from conftest import shared_path
from test_search_catalog import adversarial_points, ingest_frame, separation_deg

RADII = [0.1, 1.0, 10.0, 360.0, 3600.0]  # arcsec: 0.1" ... 1 degree


def right_points(left, seed=1):
    """Copies of left rows moved by 0.02"..2 degrees (so every radius has true and near-boundary matches),
    plus an independent adversarial set."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(left), size=len(left) // 2, replace=False)
    shift = 10 ** rng.uniform(np.log10(0.02 / 3600), np.log10(2.0), len(pick))
    angle = rng.uniform(0, 2 * np.pi, len(pick))
    dec = left.dec.to_numpy()[pick] + shift * np.sin(angle)
    ra = left.ra.to_numpy()[pick] + shift * np.cos(angle) / np.maximum(np.cos(np.radians(np.clip(dec, -89.9, 89.9))), 1e-3)
    over = np.abs(dec) > 90  # reflect over the pole
    dec = np.where(over, np.sign(dec) * 180 - dec, dec)
    ra = np.where(over, ra + 180, ra) % 360.0
    other = adversarial_points(n=3000, seed=seed + 10)
    df = pd.DataFrame({"ra": np.concatenate([ra, other.ra]), "dec": np.concatenate([dec, other.dec])})
    df["ra"] = np.where(df.ra >= 360.0, 0.0, df.ra)
    df.insert(0, "id", np.arange(len(df), dtype=np.int64) + 1_000_000)
    df["flux"] = rng.uniform(0, 1, len(df))
    return df


def brute_pairs(left, right, radius_arcsec, self_match=False):
    """All pairs within the radius: astropy search_around_sky for candidates (slightly widened), separations
    recomputed in long double. Returns (pairs frame with lid, rid, sep_arcsec; ambiguous (lid, rid) set)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord, search_around_sky

    a = SkyCoord(left.ra.to_numpy() * u.deg, left.dec.to_numpy() * u.deg)
    b = SkyCoord(right.ra.to_numpy() * u.deg, right.dec.to_numpy() * u.deg)
    i, j, _, _ = search_around_sky(a, b, radius_arcsec * (1 + 1e-6) * u.arcsec + 1e-9 * u.arcsec)
    sep = np.array([separation_deg(right.ra.to_numpy()[jj:jj + 1], right.dec.to_numpy()[jj:jj + 1], left.ra.to_numpy()[ii],
                                   left.dec.to_numpy()[ii])[0] for ii, jj in zip(i, j)]) * 3600.0 if len(i) < 2000 else \
        _vector_sep(left, right, i, j)
    pairs = pd.DataFrame({"lid": left.id.to_numpy()[i], "rid": right.id.to_numpy()[j], "sep": sep})
    if self_match:
        pairs = pairs[pairs.lid != pairs.rid]
    ambiguous = np.abs(pairs.sep - radius_arcsec) <= 1e-8 * radius_arcsec + 1e-10
    amb = set(zip(pairs.lid[ambiguous], pairs.rid[ambiguous]))
    return pairs[(pairs.sep <= radius_arcsec) | ambiguous].reset_index(drop=True), amb


def _vector_sep(left, right, i, j):
    ra1, dec1 = np.radians(left.ra.to_numpy()[i].astype(np.longdouble)), np.radians(left.dec.to_numpy()[i].astype(np.longdouble))
    ra2, dec2 = np.radians(right.ra.to_numpy()[j].astype(np.longdouble)), np.radians(right.dec.to_numpy()[j].astype(np.longdouble))
    dra = ra2 - ra1
    num = np.hypot(np.cos(dec2) * np.sin(dra), np.cos(dec1) * np.sin(dec2) - np.sin(dec1) * np.cos(dec2) * np.cos(dra))
    den = np.sin(dec1) * np.sin(dec2) + np.cos(dec1) * np.cos(dec2) * np.cos(dra)
    return (np.degrees(np.arctan2(num, den)) * 3600.0).astype(np.float64)


def assert_pair_sets_equal(got, want, ambiguous, lid="id", rid="id_right"):
    g = set(zip(got[lid].to_numpy().tolist(), got[rid].to_numpy().tolist()))
    assert len(g) == len(got), "a pair was reported twice"
    w = set(zip(want.lid.tolist(), want.rid.tolist()))
    assert len(ambiguous) <= max(3, len(w) // 1000), "too many pairs on the boundary to within rounding"
    missing, extra = (w - g) - ambiguous, (g - w) - ambiguous
    assert not missing and not extra, f"{len(missing)} pairs missing (e.g. {sorted(missing)[:3]}), {len(extra)} extra (e.g. {sorted(extra)[:3]})"


def assert_nearest_equal(got, want, k, lid="id", rid="id_right"):
    """k nearest per left row: the same distances (ties between duplicates may pick different rows)."""
    want = want.sort_values(["lid", "sep"]).groupby("lid").head(k)
    w = want.groupby("lid").sep.apply(lambda s: np.round(np.sort(s.to_numpy()), 6).tolist()).to_dict()
    g = got.groupby(lid)["_dist_arcsec"].apply(lambda s: np.round(np.sort(s.to_numpy()), 6).tolist()).to_dict()
    assert set(g) == set(w), f"left rows with matches differ: {len(set(g) ^ set(w))}"
    bad = [key for key in w if not np.allclose(g[key], w[key], rtol=1e-8, atol=1e-6)]
    assert not bad, f"{len(bad)} left rows have different nearest distances, e.g. {bad[:3]}"


@pytest.fixture(autouse=True, params=["in_memory", "per_partition"])
def execution_mode(request, monkeypatch):
    """Every test runs both ways: both sides read once and sliced in memory (the in-process default for catalogs
    within IN_MEMORY_BYTES) and one task per left partition reading its neighbourhood (Dask, bigger catalogs)."""
    monkeypatch.setenv("LODESTAR_XMATCH_IN_MEMORY_BYTES", str(10**15) if request.param == "in_memory" else "0")
    return request.param


def assert_margin_use(res, mode, used):
    if mode == "in_memory":
        assert res.stats.get("in_memory") and res.stats["tasks_using_margin"] == 0, res.stats
    else:
        assert not res.stats.get("in_memory") and (res.stats["tasks_using_margin"] > 0) == used, res.stats


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    root = tmp_path_factory.mktemp("xmatch_root")
    left = adversarial_points(n=4000, seed=0)
    right = right_points(left)
    cats = {
        "left": ingest_frame(left, "left", root, threshold=120),
        "right": ingest_frame(right, "right", root, threshold=120),
        "right_coarse": ingest_frame(right, "right_coarse", root, threshold=3000, highest_order=3),
    }
    assert len(cats["left"].partitions) > 30 and len(cats["right"].partitions) > 30
    orders_l = set(cats["left"].partitions.Norder)
    assert len(orders_l) > 1, "partitions of several orders expected"
    return root, cats, left, right


@pytest.mark.parametrize("radius", RADII)
def test_all_pairs_equal_brute_force(sides, radius):
    _, cats, left, right = sides
    want, amb = brute_pairs(left, right, radius)
    assert len(want) > 50
    for right_cat in (cats["right"], cats["right_coarse"]):
        res = cats["left"].crossmatch(right_cat, radius_arcsec=radius, all_pairs=True)
        got = res.to_pandas()
        assert_pair_sets_equal(got, want, amb)
        assert res.count() == len(got)
        # The reported distance is the true separation.
        merged = got.merge(want, left_on=["id", "id_right"], right_on=["lid", "rid"])
        np.testing.assert_allclose(merged["_dist_arcsec"], merged["sep"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("radius, k", [(1.0, 1), (360.0, 1), (3600.0, 3), (10.0, 2)])
def test_nearest_neighbours_equal_brute_force(sides, radius, k):
    _, cats, left, right = sides
    want, _ = brute_pairs(left, right, radius)
    got = cats["left"].crossmatch(cats["right"], radius_arcsec=radius, n_neighbors=k).to_pandas()
    assert got.groupby("id").size().max() <= k
    assert_nearest_equal(got, want, k)


@pytest.mark.parametrize("kwargs", [dict(radius_arcsec=10.0), dict(radius_arcsec=3600.0, n_neighbors=3),
                                    dict(radius_arcsec=3600.0, all_pairs=True, min_radius_arcsec=100.0)])
def test_count_equals_brute_force(sides, kwargs, execution_mode):
    """count() is computed without the pairs (C++ counts them): it equals brute force's number of pairs."""
    _, cats, left, right = sides
    want, amb = brute_pairs(left, right, kwargs["radius_arcsec"])
    want = want[want.sep >= kwargs.get("min_radius_arcsec", 0.0)]
    k = None if kwargs.get("all_pairs") else kwargs.get("n_neighbors", 1)
    expected = len(want) if k is None else int(want.groupby("lid").size().clip(upper=k).sum())
    assert expected > 50
    res = cats["left"].crossmatch(cats["right"], **kwargs)
    # A pair on the radius to within rounding may go either way.
    assert abs(res.count() - expected) <= len(amb)
    assert res.count() == len(res.to_pandas())


def test_coarse_left_fine_right_align(sides):
    """The coarse catalog on the left, the fine one on the right: partitions of different orders align."""
    _, cats, left, right = sides
    want, amb = brute_pairs(right, left, 360.0)
    got = cats["right_coarse"].crossmatch(cats["left"], radius_arcsec=360.0, all_pairs=True).to_pandas()
    assert_pair_sets_equal(got, want, amb)


def test_min_radius(sides):
    _, cats, left, right = sides
    want, amb = brute_pairs(left, right, 3600.0)
    want = want[want.sep >= 100.0]
    got = cats["left"].crossmatch(cats["right"], radius_arcsec=3600.0, min_radius_arcsec=100.0, all_pairs=True).to_pandas()
    assert (got["_dist_arcsec"] >= 100.0).all()
    assert_pair_sets_equal(got, want, amb | set(zip(want.lid[np.abs(want.sep - 100) < 1e-6], want.rid[np.abs(want.sep - 100) < 1e-6])))


@pytest.fixture(scope="module")
def right_margin(sides):
    """A margin cache of the right catalog built by hats-import (an independent writer), threshold 0.1 degree
    (hats-import needs the margin order above the deepest partition order, 7 here)."""
    pytest.importorskip("hats_import")
    from dask.distributed import Client
    from hats_import.margin_cache.margin_cache_arguments import MarginCacheArguments
    from hats_import.pipeline import pipeline_with_client

    root, cats, _, _ = sides
    tmp = root / "margin_tmp"
    with Client(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as client:
        args = MarginCacheArguments(input_catalog_path=root / "right", output_path=root, output_artifact_name="right_margin",
                                    margin_threshold=360.0, tmp_dir=tmp, resume=False, progress_bar=False)
        pipeline_with_client(args, client)
    shutil.rmtree(tmp, ignore_errors=True)
    return lodestar.open_catalog(root / "right_margin")


@pytest.mark.parametrize("radius", [1.0, 60.0, 360.0])
def test_with_a_margin_cache_equal_brute_force(sides, right_margin, radius, execution_mode):
    _, cats, left, right = sides
    want, amb = brute_pairs(left, right, radius)
    res = cats["left"].crossmatch(cats["right"], radius_arcsec=radius, all_pairs=True, right_margin=right_margin)
    got = res.to_pandas()
    assert_margin_use(res, execution_mode, used=True)
    assert_pair_sets_equal(got, want, amb)
    got = cats["left"].crossmatch(cats["right"], radius_arcsec=radius, n_neighbors=2, right_margin=right_margin).to_pandas()
    assert_nearest_equal(got, want, 2)


def test_margin_below_the_radius_is_not_used(sides, right_margin, execution_mode):
    _, cats, left, right = sides
    want, amb = brute_pairs(left, right, 1000.0)
    res = cats["left"].crossmatch(cats["right"], radius_arcsec=1000.0, all_pairs=True, right_margin=right_margin)
    got = res.to_pandas()
    assert_margin_use(res, execution_mode, used=False)
    assert execution_mode == "in_memory" or "below the radius" in res.stats["margin"]
    assert_pair_sets_equal(got, want, amb)


def test_plans_on_both_sides(sides):
    """where/select/searches on either side (read by the engine, not the plain-leaf reader) equal brute force on
    the filtered rows."""
    _, cats, left, right = sides
    lsel = left[left.dec > -30].reset_index(drop=True)
    rsel = right[right.flux < 0.7].reset_index(drop=True) if "flux" in right else right
    lcat = cats["left"].where("dec > -30")
    rcat = cats["right"].where("flux < 0.7") if "flux" in right else cats["right"]
    want, amb = brute_pairs(lsel, rsel, 360.0)
    assert len(want) > 50
    got = lcat.crossmatch(rcat.select(["id", "ra", "dec"]), radius_arcsec=360.0, all_pairs=True).to_pandas()
    assert list(got.columns[-4:]) == ["id_right", "ra_right", "dec_right", "_dist_arcsec"]
    assert_pair_sets_equal(got, want, amb)
    # A search on the right: only its rows can match.
    box = cats["right"].box_search(ra=(300.0, 60.0), dec=(-90.0, 90.0))
    rbox = right[(right.ra >= 300.0) | (right.ra <= 60.0)].reset_index(drop=True)
    want, amb = brute_pairs(left, rbox, 360.0)
    got = cats["left"].crossmatch(box, radius_arcsec=360.0, all_pairs=True).to_pandas()
    assert_pair_sets_equal(got, want, amb)


def test_self_match(sides):
    _, cats, left, _ = sides
    cat = cats["left"]
    with pytest.raises(ValueError, match="self_match=True"):
        cat.crossmatch(cat, radius_arcsec=1.0)
    with pytest.raises(ValueError, match="same catalog"):
        cat.crossmatch(cats["right"], radius_arcsec=1.0, self_match=True)
    want, amb = brute_pairs(left, left, 360.0, self_match=True)
    got = cat.crossmatch(cat, radius_arcsec=360.0, all_pairs=True, self_match=True).to_pandas()
    assert len(want) > 100  # duplicates and the cluster match each other
    assert_pair_sets_equal(got, want, amb)
    got = cat.crossmatch(cat, radius_arcsec=360.0, n_neighbors=2, self_match=True).to_pandas()
    assert (got["id"] != got["id_right"]).all()
    assert_nearest_equal(got, want, 2)


def test_how_left_keeps_unmatched_rows(sides):
    _, cats, left, right = sides
    want, _ = brute_pairs(left, right, 1.0)
    got = cats["left"].crossmatch(cats["right"], radius_arcsec=1.0, how="left").to_pandas()
    assert sorted(got["id"]) == sorted(left["id"])  # every left row once (nearest mode)
    unmatched = got["_dist_arcsec"].isna()
    assert set(got["id"][~unmatched]) == set(want.lid)
    assert got.loc[unmatched, "id_right"].isna().all() and got.loc[unmatched, "flux"].isna().all()


def test_no_sky_overlap_is_empty(tmp_path):
    a = pd.DataFrame({"id": [1, 2], "ra": [10.0, 11.0], "dec": [10.0, 11.0]})
    b = pd.DataFrame({"id": [3, 4], "ra": [200.0, 201.0], "dec": [-40.0, -41.0]})
    ca, cb = ingest_frame(a, "a", tmp_path), ingest_frame(b, "b", tmp_path)
    got = ca.crossmatch(cb, radius_arcsec=10.0).to_pandas()
    assert len(got) == 0 and list(got.columns) == ["id", "ra", "dec", "_healpix_29", "id_right", "ra_right", "dec_right",
                                                   "_healpix_29_right", "_dist_arcsec"]
    assert ca.crossmatch(cb, radius_arcsec=10.0).count() == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"radius_arcsec": 0}, "radius must be > 0"),
    ({"radius_arcsec": -1}, "radius must be > 0"),
    ({"radius_arcsec": float("nan")}, "radius must be > 0"),
    ({"radius_arcsec": 200 * 3600.0}, "at most 180 degrees"),
    ({"radius_arcsec": 1.0, "min_radius_arcsec": 2.0}, "min_radius_arcsec"),
    ({"radius_arcsec": 1.0, "n_neighbors": 0}, "n_neighbors"),
    ({"radius_arcsec": 1.0, "how": "outer"}, "how must be"),
    ({"radius_arcsec": 1.0, "suffixes": ("", "")}, "duplicate column names"),
])
def test_bad_arguments_fail_clearly(sides, kwargs, message):
    _, cats, _, _ = sides
    with pytest.raises(ValueError, match=message):
        cats["left"].crossmatch(cats["right"], **kwargs).count()


def test_missing_coordinate_column_fails_clearly(sides, tmp_path):
    root, cats, _, _ = sides
    broken = tmp_path / "broken"
    shutil.copytree(root / "right", broken)
    props = (broken / "hats.properties").read_text().replace("hats_col_ra=ra", "hats_col_ra=ra_missing")
    (broken / "hats.properties").write_text(props)
    try:
        cat = lodestar.open_catalog(broken)
    except lodestar.LodestarError as exc:  # the reader may already refuse it: fine, as long as it says why
        assert "ra_missing" in str(exc)
        return
    with pytest.raises(ValueError, match="no coordinate column 'ra_missing'"):
        cats["left"].crossmatch(cat, radius_arcsec=1.0)


# --- LSDB's golden answers ---------------------------------------------------------------------------------------

GOLDEN = [  # file, left, radius (deg), k, min radius (deg)
    ("xmatch_correct.csv", "small_sky", 0.01, 1, 0.0),
    ("xmatch_correct_0_005.csv", "small_sky", 0.005, 1, 0.0),
    ("xmatch_correct_002_005.csv", "small_sky", 0.005, 1, 0.002),
    ("xmatch_correct_3n_2t.csv", "small_sky", 2.0, 3, 0.0),
    ("xmatch_correct_05_2_3n_margin.csv", "small_sky", 2.0, 3, 0.5),
    ("xmatch_correct_3n_2t_negative.csv", "small_sky_left_xmatch", 2.0, 3, 0.0),
]


@pytest.mark.parametrize("with_margin", [False, True])
@pytest.mark.parametrize("golden", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_crossmatches(golden, with_margin):
    name, left_name, radius, k, min_radius = golden
    expected = pd.read_csv(shared_path("hats-fixtures", "raw", "xmatch_expected", name))
    left = lodestar.open_catalog(shared_path("hats-fixtures", left_name))
    right = lodestar.open_catalog(shared_path("hats-fixtures", "small_sky_xmatch"))
    margin = shared_path("hats-fixtures", "small_sky_xmatch_margin") if with_margin else None
    got = left.crossmatch(right, radius_arcsec=radius * 3600, n_neighbors=k, min_radius_arcsec=min_radius * 3600,
                          right_margin=margin).to_pandas()
    g = sorted(zip(got["id"], got["id_right"]))
    e = sorted(zip(expected["ss_id"], expected["xmatch_id"].astype(np.int64)))
    assert g == e
    merged = got.merge(expected, left_on=["id", "id_right"], right_on=["ss_id", "xmatch_id"])
    np.testing.assert_allclose(merged["_dist_arcsec"] / 3600.0, merged["dist"], rtol=1e-9, atol=1e-12)


def test_lsdb_without_margin_misses_what_we_find():
    """The no-margin golden file is LSDB's incomplete answer: ours (without a margin too) contains it and is the
    complete one."""
    incomplete = pd.read_csv(shared_path("hats-fixtures", "raw", "xmatch_expected", "xmatch_correct_3n_2t_no_margin.csv"))
    complete = pd.read_csv(shared_path("hats-fixtures", "raw", "xmatch_expected", "xmatch_correct_3n_2t.csv"))
    left = lodestar.open_catalog(shared_path("hats-fixtures", "small_sky"))
    right = lodestar.open_catalog(shared_path("hats-fixtures", "small_sky_xmatch"))
    got = left.crossmatch(right, radius_arcsec=7200, n_neighbors=3).to_pandas()
    assert len(got) == len(complete) > len(incomplete)


@pytest.mark.parametrize("radius", [1800.0, 5400.0])
def test_collection_margin_is_used_and_complete(radius, execution_mode):
    """small_sky_order1 (a collection with a 1-degree margin attached) on the right: its margin serves radii up
    to 1 degree; beyond, neighbours are read. Both equal brute force."""
    left = lodestar.open_catalog(shared_path("hats-fixtures", "small_sky_xmatch"))
    right = lodestar.open_catalog(shared_path("hats-fixtures", "small_sky_order1_collection"))
    assert right.margin is not None
    res = left.crossmatch(right, radius_arcsec=radius, all_pairs=True)
    got = res.to_pandas()
    assert_margin_use(res, execution_mode, used=radius <= 3600.0)
    ldf, rdf = read_leaves(Path(left.path)), read_leaves(Path(right.path))  # an independent reader
    want, amb = brute_pairs(ldf, rdf, radius)
    assert len(want) > 100
    assert_pair_sets_equal(got, want, amb)


# --- write() ---------------------------------------------------------------------------------------------------------


def test_write_round_trip(sides, tmp_path):
    _, cats, left, right = sides
    res = cats["left"].crossmatch(cats["right"], radius_arcsec=360.0, n_neighbors=2)
    expected = res.to_pandas()
    out = res.write("matched", root=tmp_path)
    rows = check_catalog(tmp_path / "matched")
    assert len(rows) == len(expected) == len(out)
    assert sorted(zip(rows["id"], rows["id_right"])) == sorted(zip(expected["id"], expected["id_right"]))
    # Partitioned like the left catalog.
    lparts = set(zip(cats["left"].partitions.Norder, cats["left"].partitions.Npix))
    assert set(zip(rows["__Norder"], rows["__Npix"])) <= lparts
    lsdb = pytest.importorskip("lsdb")
    df = lsdb.open_catalog(tmp_path / "matched").compute()
    assert len(df) == len(expected)
    assert sorted(zip(df["id"], df["id_right"])) == sorted(zip(expected["id"], expected["id_right"]))
    with pytest.raises(FileExistsError):
        res.write("matched", root=tmp_path)


# --- real data --------------------------------------------------------------------------------------------------------


def test_real_stars_hip_tycho2_x_hd(tmp_path):
    hip = shared_path("data", "stars_hip_tycho2.csv.gz")
    hd = shared_path("data", "stars_hd.csv.gz")
    left = lodestar.ingest(hd, "hd", root=tmp_path, pixel_threshold=5000, progress=False)
    right = lodestar.ingest(hip, "hip", root=tmp_path, pixel_threshold=50000, progress=False)
    res = left.crossmatch(right, radius_arcsec=1.0, all_pairs=True)
    got = res.to_pandas()
    ldf, rdf = read_leaves(Path(left.path)), read_leaves(Path(right.path))  # an independent reader
    from astropy import units as u
    from astropy.coordinates import SkyCoord, search_around_sky

    i, j, d, _ = search_around_sky(SkyCoord(ldf.ra.to_numpy() * u.deg, ldf.dec.to_numpy() * u.deg),
                                   SkyCoord(rdf.ra.to_numpy() * u.deg, rdf.dec.to_numpy() * u.deg), 1.0 * u.arcsec)
    assert abs(len(got) - len(i)) <= 2  # only pairs on the boundary to within rounding may differ
    nearest = left.crossmatch(right, radius_arcsec=1.0).to_pandas()
    assert abs(len(nearest) - len(np.unique(i))) <= 2
    # Plausible: most HD stars (V < 8) are in Hipparcos/Tycho-2 (V < 10.5), positions agree to well under 1".
    assert 0.5 * len(ldf) < len(nearest) <= len(ldf)
    assert np.median(nearest["_dist_arcsec"]) < 0.5


def test_cli_crossmatch_prints_matches_and_fails_clearly(tmp_path):
    from conftest import run_cli

    left = str(shared_path("hats-fixtures", "small_sky"))
    right = str(shared_path("hats-fixtures", "small_sky_xmatch"))
    out = run_cli("crossmatch", left, right, "--radius", "7200", "--n-neighbors", "3", "--csv", str(tmp_path / "m.csv"))
    assert out.returncode == 0, out.stderr
    expected = pd.read_csv(shared_path("hats-fixtures", "raw", "xmatch_expected", "xmatch_correct_3n_2t.csv"))
    assert out.stdout.startswith(f"{len(expected)} matches") and "median" in out.stdout
    assert len(pd.read_csv(tmp_path / "m.csv")) == len(expected)
    bad = run_cli("crossmatch", left, left, "--radius", "1")
    assert bad.returncode == 2 and "self_match" in bad.stderr
    bad = run_cli("crossmatch", left, right, "--radius", "-1")
    assert bad.returncode == 2 and "radius must be > 0" in bad.stderr


def test_merge_ranges_equals_a_loop():
    from lodestar.catalog import _merge_ranges
    from lodestar.crossmatch import merge_ranges

    rng = np.random.default_rng(3)
    for n in [0, 1, 2, 5, 50, 500]:
        b = rng.integers(0, 1000, n)
        r = np.stack([b, b + rng.integers(1, 40, n)], axis=1)
        r[: n // 5, 1] = r[: n // 5, 0] + 1000  # long ranges swallowing others
        got = merge_ranges(r)
        assert np.array_equal(got, _merge_ranges(r).reshape(-1, 2)), n
        assert (got[1:, 0] > got[:-1, 1]).all()


def test_partitions_over_the_task_budget_are_matched_in_slices(sides, tmp_path, monkeypatch, execution_mode):
    """Issue 6: a left partition larger than a task's budget (LODESTAR_TASK_BYTES) is matched in slices of its row
    groups, each with only the right rows near it; pairs, nearest neighbours, how='left' and self-match are those of
    whole partitions (and of brute force)."""
    if execution_mode == "in_memory":
        pytest.skip("slicing is for per-partition tasks; the in-memory path reads catalogs within its budget whole")
    from lodestar.partition_slices import slice_bounds

    root, cats, _, right = sides
    # The coarse right catalog (partitions of up to 3000 rows) as a left side whose leaves hold 25-row row groups.
    coarse = lodestar.open_catalog(copy_with_small_row_groups(root / "right_coarse", tmp_path / "coarse_small_groups", 25))

    def run():
        key = ["id", "id_right"]
        return [
            coarse.crossmatch(cats["left"], radius_arcsec=360.0, all_pairs=True).to_pandas().sort_values(key).reset_index(drop=True),
            coarse.crossmatch(cats["left"], radius_arcsec=60.0, n_neighbors=2).to_pandas().sort_values(key).reset_index(drop=True),
            coarse.crossmatch(cats["left"], radius_arcsec=1.0, how="left").to_pandas().sort_values(key).reset_index(drop=True),
            coarse.crossmatch(coarse, radius_arcsec=360.0, all_pairs=True, self_match=True).to_pandas()
            .sort_values(key).reset_index(drop=True),
        ]

    whole = run()
    monkeypatch.setenv("LODESTAR_TASK_BYTES", "3000")
    assert max(len(slice_bounds(list(t.files), t.columns)) for t in coarse.partition_tasks()) >= 5
    sliced = run()
    for a, b in zip(whole, sliced):
        assert len(a) > 50
        pd.testing.assert_frame_equal(a, b)
    want, amb = brute_pairs(right, sides[2], 360.0)
    assert_pair_sets_equal(sliced[0], want, amb)
    assert sliced[1]["id"].nunique() < len(sliced[1])  # some left rows have two neighbours
    assert sliced[2]["id"].nunique() == len(right)  # how='left': every left row once


@pytest.mark.parametrize("radius_arcsec", [0.1, 1.0, 60.0, 3600.0, 36000.0])
def test_cxx_partition_neighbourhood_equals_python(sides, radius_arcsec):
    """The in-memory crossmatch computes each partition's neighbourhood in C++: the same ranges as the Python
    neighbourhood29 the partition tasks use (so both paths read the same right rows)."""
    from lodestar import _core
    from lodestar.crossmatch import neighbourhood29

    _, cats, _, _ = sides
    parts = cats["left"].partitions
    assert len(parts) > 30
    for order, pixel in zip(parts.Norder, parts.Npix):
        want = neighbourhood29(int(order), int(pixel), radius_arcsec / 3600.0)
        got = _core.partition_neighbourhood29(int(order), int(pixel), radius_arcsec / 3600.0)
        assert np.array_equal(np.asarray(got).reshape(-1, 2), want), (order, pixel)


def test_leaves_not_sorted_by_healpix_still_match_exactly(sides, tmp_path, execution_mode):
    """Leaves whose rows are not in _healpix_29 order (not HATS, but readable) on both sides: the in-memory path,
    which reads sorted leaves in place, sorts copies instead; the task path reads them as they are. Brute force either
    way."""
    import pyarrow.parquet as pq

    _, cats, left, right = sides
    shuffled = {}
    for side in ("left", "right"):
        src = Path(cats[side].path)
        dst = tmp_path / f"{side}_shuffled"
        shutil.copytree(src, dst)
        rng = np.random.default_rng(7)
        for leaf in (dst / "dataset").rglob("Npix=*.parquet"):
            t = pq.read_table(leaf)
            pq.write_table(t.take(rng.permutation(t.num_rows)), leaf)
        shuffled[side] = lodestar.open_catalog(dst)
    want, amb = brute_pairs(left, right, 360.0)
    res = shuffled["left"].crossmatch(shuffled["right"], radius_arcsec=360.0, all_pairs=True)
    assert_pair_sets_equal(res.to_pandas(), want, amb)
    assert res.count() == len(res.to_pandas())


def _count_in_child(left, right, queue):
    queue.put(left.crossmatch(right, radius_arcsec=360.0).count())


def test_a_forked_child_crossmatches_too(sides):
    """The in-memory crossmatch keeps threads for the process (C++ workers, leaf readers). A child forked after
    they started has none of them: it must start its own rather than wait for threads that are not there."""
    import multiprocessing

    _, cats, _, _ = sides
    want = cats["left"].crossmatch(cats["right"], radius_arcsec=360.0).count()  # the pools exist from here on
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_count_in_child, args=(cats["left"], cats["right"], queue))
    child.start()
    child.join(120)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child's crossmatch hung")
    assert child.exitcode == 0
    assert queue.get(timeout=10) == want
