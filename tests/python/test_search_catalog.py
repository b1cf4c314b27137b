"""Searches on catalogs (cone, box, polygon, id, pixel, AXS aliases) equal brute force over all rows, on an
adversarial catalog ingested with many small partitions and on the HATS fixtures; bad arguments fail clearly."""

import healpy as hp
import numpy as np
import pandas as pd
import pytest

import lodestar
from conftest import shared_path


def adversarial_points(n=6000, seed=0):
    """Uniform sky plus the hard places: within 1 degree of both poles, across RA 0/360, exactly on HEALPix
    pixel edges and corners (orders 1..4), exact duplicates and a dense cluster."""
    rng = np.random.default_rng(seed)
    parts = []
    u = n // 3
    parts.append((rng.uniform(0, 360, u), np.degrees(np.arcsin(rng.uniform(-1, 1, u)))))
    k = n // 10
    parts.append((rng.uniform(0, 360, k), 90.0 - rng.uniform(0, 1, k)))
    parts.append((rng.uniform(0, 360, k), -90.0 + rng.uniform(0, 1, k)))
    parts.append((rng.uniform(-1, 1, k) % 360.0, rng.uniform(-60, 60, k)))
    # On pixel boundaries: points along the edges of random pixels (healpy's boundaries are exact edge points).
    for order in (1, 2, 3, 4):
        pix = rng.choice(12 * 4**order, size=8, replace=False)
        vec = hp.boundaries(2**order, pix, step=6, nest=True)  # (npix, 3, 4*step)
        lon, lat = hp.vec2ang(np.moveaxis(vec, 1, -1).reshape(-1, 3), lonlat=True)
        parts.append((lon % 360.0, lat))
    # A dense cluster (many neighbours within arcseconds) and exact duplicates.
    c = n // 20
    parts.append(((45.0 + rng.normal(0, 2e-3, c)) % 360.0, 30.0 + rng.normal(0, 2e-3, c)))
    ra = np.concatenate([p[0] for p in parts])
    dec = np.clip(np.concatenate([p[1] for p in parts]), -90.0, 90.0)
    dup = rng.choice(len(ra), size=n // 50, replace=False)
    ra, dec = np.concatenate([ra, ra[dup]]), np.concatenate([dec, dec[dup]])
    ra = np.where(ra >= 360.0, 0.0, ra)
    return pd.DataFrame({"id": np.arange(len(ra), dtype=np.int64), "ra": ra, "dec": dec,
                         "mag": rng.uniform(10, 20, len(ra)).round(3)})


def ingest_frame(df, name, root, threshold=150, highest_order=7):
    src = root / f"{name}.parquet"
    df.to_parquet(src, index=False)
    return lodestar.ingest(src, name, root=root, pixel_threshold=threshold, highest_order=highest_order, progress=False)


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory):
    root = tmp_path_factory.mktemp("search_root")
    df = adversarial_points()
    cat = ingest_frame(df, "adv", root)
    assert len(cat.partitions) > 30, "the test needs many partitions"
    return cat, df


def separation_deg(ra, dec, ra0, dec0):
    """Independent brute force: Vincenty formula in numpy long double."""
    ra, dec = np.radians(np.asarray(ra, dtype=np.longdouble)), np.radians(np.asarray(dec, dtype=np.longdouble))
    ra0, dec0 = np.radians(np.longdouble(ra0)), np.radians(np.longdouble(dec0))
    dra = ra - ra0
    num = np.hypot(np.cos(dec) * np.sin(dra), np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(dra))
    den = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(dra)
    return np.degrees(np.arctan2(num, den)).astype(np.float64)


def assert_same_ids(got_ids, want_mask, df, ambiguous=None):
    """The search returned exactly the brute-force rows, except rows within rounding of the boundary."""
    got = np.zeros(len(df), dtype=bool)
    got[np.asarray(got_ids, dtype=np.int64)] = True
    assert len(got_ids) == got.sum(), "a row was returned twice"
    differ = got != want_mask
    if ambiguous is not None:
        assert ambiguous.sum() <= 5, "too many rows on the boundary to within rounding"
        differ &= ~ambiguous
    assert not differ.any(), f"{differ.sum()} rows differ from brute force, e.g. ids {np.flatnonzero(differ)[:5]}"


CONES = [(0.0, 89.7, 3600.0), (200.0, -89.95, 900.0), (0.2, 10.0, 7200.0), (359.9, -45.0, 1800.0),
         (45.0, 30.0, 5.0), (45.0, 30.0, 60.0), (100.0, 0.0, 180 * 3600.0), (300.0, 41.8103, 10800.0)]


@pytest.mark.parametrize("cone", CONES)
def test_cone_search_equals_brute_force(adversarial, cone):
    cat, df = adversarial
    ra0, dec0, r = cone
    got = cat.cone_search(ra0, dec0, r).to_pandas()
    sep = separation_deg(df.ra, df.dec, ra0, dec0)
    want = sep <= r / 3600.0
    assert_same_ids(got["id"], want, df, ambiguous=np.abs(sep - r / 3600.0) <= 1e-9 * max(1.0, r / 3600.0))
    assert want.sum() > 0
    assert cat.cone(ra0, dec0, r).count() == len(got)


def test_cones_on_base_pixel_corners_equal_brute_force(adversarial):
    """Small cones where HEALPix base pixels meet: their coverage ranges lie in several base pixels, far apart in
    `_healpix_29`, so the single BETWEEN span the search adds for the Parquet scan is wide. Still exact."""
    cat, df = adversarial
    total = 0
    for ra0, dec0 in [(0.0, 41.8103149), (90.0, 41.8103149), (45.0, 0.0), (0.0, 0.0), (135.0, -41.8103149), (0.0, 90.0),
                      (0.0, -90.0), (315.0, 0.0)]:
        got = cat.cone_search(ra0, dec0, 900.0).to_pandas()
        sep = separation_deg(df.ra, df.dec, ra0, dec0)
        want = sep <= 0.25
        assert_same_ids(got["id"], want, df, ambiguous=np.abs(sep - 0.25) <= 1e-9)
        total += int(want.sum())
    assert total > 0
    where = cat.cone_search(45.0, 0.0, 60.0)._where_sql()
    assert where.count("BETWEEN") >= 2  # the coverage's ranges, and the one span before the exact test


def test_cone_search_prunes_partitions(adversarial):
    cat, _ = adversarial
    small = cat.cone_search(45.0, 30.0, 60.0)
    assert 0 < len(small.partitions) < len(cat.partitions) / 5


def box_brute(df, ra_lo, ra_hi, dec_lo, dec_hi):
    width = (ra_hi - ra_lo) % 360.0 or 360.0
    in_ra = ((df.ra.to_numpy() - ra_lo) % 360.0 <= width) | (np.abs(df.dec.to_numpy()) == 90.0)
    return in_ra & (df.dec.to_numpy() >= dec_lo) & (df.dec.to_numpy() <= dec_hi)


BOXES = [((350.0, 10.0), (-20.0, 20.0)), ((10.0, 350.0), (88.0, 90.0)), ((0.0, 360.0), (-90.0, -89.2)),
         ((40.0, 50.0), (29.0, 31.0)), ((123.4, 124.1), (-89.99, 89.99)), ((359.5, 0.5), (-60.0, 60.0))]


@pytest.mark.parametrize("box", BOXES)
def test_box_search_equals_brute_force(adversarial, box):
    cat, df = adversarial
    (ra_lo, ra_hi), (dec_lo, dec_hi) = box
    got = cat.box_search(ra=(ra_lo, ra_hi), dec=(dec_lo, dec_hi)).to_pandas()
    want = box_brute(df, ra_lo, ra_hi, dec_lo, dec_hi)
    assert want.sum() > 0
    assert_same_ids(got["id"], want, df)


def test_region_is_the_axs_box(adversarial):
    cat, df = adversarial
    got = cat.region(350.0, 20.0, 10.0, -20.0).to_pandas()  # AXS corner order: (ra1, dec1, ra2, dec2)
    assert_same_ids(got["id"], box_brute(df, 350.0, 10.0, -20.0, 20.0), df)


def polygon_brute(df, vertices):
    """Inside a convex polygon: on the inner side of every edge's great circle (orientation from the centroid)."""
    v = np.radians(np.asarray(vertices, dtype=float))
    xyz = np.stack([np.cos(v[:, 1]) * np.cos(v[:, 0]), np.cos(v[:, 1]) * np.sin(v[:, 0]), np.sin(v[:, 1])], axis=1)
    centre = xyz.sum(axis=0)
    ra, dec = np.radians(df.ra.to_numpy()), np.radians(df.dec.to_numpy())
    p = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)
    inside = np.ones(len(df), dtype=bool)
    loose = np.ones(len(df), dtype=bool)  # inside to within 1e-12 rad: rows where the two differ are ambiguous
    for i in range(len(xyz)):
        n = np.cross(xyz[i], xyz[(i + 1) % len(xyz)])
        n /= np.linalg.norm(n)
        if n @ centre < 0:
            n = -n
        s = p @ n
        inside &= s >= 1e-12
        loose &= s >= -1e-12
    return inside, loose & ~inside


POLYGONS = [
    [(350.0, -10.0), (10.0, -10.0), (10.0, 10.0), (350.0, 10.0)],  # across RA 0/360
    [(0.0, 85.0), (90.0, 85.0), (180.0, 85.0), (270.0, 85.0)],  # around the north pole
    [(10.0, -80.0), (130.0, -80.0), (250.0, -80.0)],  # around the south pole, clockwise or not
    [(44.9, 29.9), (45.1, 29.9), (45.1, 30.1), (44.9, 30.1)],  # the dense cluster
]


@pytest.mark.parametrize("vertices", POLYGONS)
def test_polygon_search_equals_brute_force(adversarial, vertices):
    cat, df = adversarial
    got = cat.polygon_search(vertices).to_pandas()
    want, near = polygon_brute(df, vertices)
    assert want.sum() > 0
    assert_same_ids(got["id"], want, df, ambiguous=near)
    # Either orientation is the same polygon.
    assert cat.polygon_search(vertices[::-1]).count() == len(got)


def test_id_and_pixel_search_equal_brute_force(adversarial):
    cat, df = adversarial
    ids = [5, 17, 17, 400, 10**9]
    got = cat.id_search("id", ids).to_pandas()
    assert sorted(got["id"]) == sorted(set(ids) & set(df["id"]))
    assert cat.id_search("id", []).count() == 0
    for order in (0, 3, 7, 10):
        pix_all = hp.ang2pix(2**order, df.ra.to_numpy(), df.dec.to_numpy(), nest=True, lonlat=True)
        chosen = np.unique(pix_all[::97])[:12]
        got = cat.pixel_search(order, chosen).to_pandas()
        assert_same_ids(got["id"], np.isin(pix_all, chosen), df)


def test_searches_chain_with_select_and_where(adversarial):
    cat, df = adversarial
    got = (cat.box_search(ra=(350.0, 10.0), dec=(-60.0, 60.0)).select(["id", "mag"]).where("mag < 15")
           .cone_search(0.0, 0.0, 30 * 3600.0).to_pandas())
    assert list(got.columns) == ["id", "mag"]
    want = (box_brute(df, 350.0, 10.0, -60.0, 60.0) & (df.mag.to_numpy() < 15)
            & (separation_deg(df.ra, df.dec, 0.0, 0.0) <= 30.0))
    assert want.sum() > 10
    assert_same_ids(got["id"], want, df)


def test_searches_on_the_fixtures():
    cat = lodestar.open_catalog(shared_path("hats-fixtures", "small_sky_source"))
    df = cat.to_pandas()
    ra, dec = df[cat.ra_column].to_numpy(), df[cat.dec_column].to_numpy()
    got = cat.cone_search(315.0, -66.0, 2.5 * 3600).to_pandas()
    want = separation_deg(ra, dec, 315.0, -66.0) <= 2.5
    assert want.sum() > 100 and len(got) == want.sum()
    assert sorted(got["source_id"]) == sorted(df["source_id"][want])
    got = cat.box_search(ra=(300.0, 320.0), dec=(-70.0, -60.0)).to_pandas()
    want = (ra >= 300) & (ra <= 320) & (dec >= -70) & (dec <= -60)
    assert want.sum() > 100 and sorted(got["source_id"]) == sorted(df["source_id"][want])
    verts = [(300.0, -70.0), (320.0, -70.0), (320.0, -60.0), (300.0, -60.0)]
    inside, near = polygon_brute(df.rename(columns={cat.ra_column: "ra", cat.dec_column: "dec"}), verts)
    got = cat.polygon_search(verts).to_pandas()
    assert inside.sum() > 100 and sorted(got["source_id"]) == sorted(df["source_id"][inside])


@pytest.mark.parametrize("call, message", [
    (lambda c: c.cone_search(0, 0, 0), "radius must be > 0"),
    (lambda c: c.cone_search(0, 0, -1), "radius must be > 0"),
    (lambda c: c.cone_search(0, 0, 181 * 3600.0), "at most 180 degrees"),
    (lambda c: c.cone_search(0, 91, 10), "declination"),
    (lambda c: c.box_search(ra=(0, 10), dec=(-95, 0)), "declination"),
    (lambda c: c.box_search(ra=(0, 10), dec=(10, 0)), "low <= high"),
    (lambda c: c.box_search(ra=(0,), dec=(0, 1)), "(low, high) pair"),
    (lambda c: c.polygon_search([(0, 0), (1, 0)]), "at least 3"),
    (lambda c: c.polygon_search([(0, 0), (1, 0), (2, 0)]), "polygon"),  # collinear
    (lambda c: c.polygon_search([(0, 0), (2, 0), (1, 0.2), (2, 2), (0, 2)]), "polygon"),  # a dent: not convex
    (lambda c: c.polygon_search([(0, 0), (1, 95), (2, 0)]), "declination"),
    (lambda c: c.pixel_search(30, [0]), "order"),
    (lambda c: c.pixel_search(1, [48]), "out of range"),
    (lambda c: c.id_search("no_such_column", [1]), "no column"),
])
def test_bad_search_arguments_fail_clearly(adversarial, call, message):
    cat, _ = adversarial
    with pytest.raises((ValueError, KeyError)) as err:
        call(cat)
    assert message in str(err.value)


def test_cli_search_and_axs_aliases():
    from conftest import run_cli

    cat = str(shared_path("hats-fixtures", "small_sky"))
    df = pd.read_csv(shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv"))
    want = int(((df.ra >= 300) & (df.ra <= 320) & (df.dec >= -70) & (df.dec <= -60)).sum())
    for args in (["search", "box", cat, "--ra", "300", "320", "--dec", "-70", "-60", "--count"],
                 ["region", cat, "300", "-70", "320", "-60", "--count"]):
        out = run_cli(*args)
        assert out.returncode == 0 and int(out.stdout.strip()) == want > 0, out.stderr
    sep = separation_deg(df.ra, df.dec, 310.0, -65.0)
    out = run_cli("cone", cat, "310", "-65", "18000", "--count")
    assert out.returncode == 0 and int(out.stdout.strip()) == int((sep <= 5.0).sum())
    out = run_cli("search", "cone", cat, "310", "-65", "-3")
    assert out.returncode == 2 and "radius must be > 0" in out.stderr
