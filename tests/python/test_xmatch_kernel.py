"""The crossmatch kernel (lodestar._core.crossmatch_arrays) against an independent brute force and LSDB's golden files.

Brute force: every left x right pair, separations in long double (Vincenty/atan2 form on long-double unit vectors), then
the kernel's contract applied directly: all pairs within [min_radius, radius], or the k nearest per left row ordered by
distance then right index. Pairs within 1e-9 (relative) of a radius are on the boundary to within rounding and are left
out of the comparison (they are counted, and rare).
"""

import numpy as np
import pytest

from conftest import shared_path

_core = pytest.importorskip("lodestar._core")


def unit(ra, dec):
    ra, dec = np.radians(np.asarray(ra, np.longdouble)), np.radians(np.asarray(dec, np.longdouble))
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def brute_separations_arcsec(ra1, dec1, ra2, dec2, chunk=256):
    ua, b = unit(ra1, dec1), unit(ra2, dec2)[None, :, :]
    out = np.empty((len(ua), b.shape[1]), dtype=np.longdouble)
    for lo in range(0, len(ua), chunk):  # in chunks of left rows: bounded memory for the larger skies
        a = ua[lo:lo + chunk, None, :]
        cross = np.cross(a, b)
        out[lo:lo + chunk] = np.arctan2(np.sqrt((cross * cross).sum(-1)), (a * b).sum(-1))
    return np.degrees(out) * 3600  # long double, shape (n1, n2)


def brute_force(ra1, dec1, ra2, dec2, radius, k=1, all_pairs=False, min_radius=0.0, exclude_self=False):
    """Expected (left, right) pairs and distances, plus a mask of pairs too close to a radius to judge."""
    sep = brute_separations_arcsec(ra1, dec1, ra2, dec2)
    if exclude_self:
        np.fill_diagonal(sep, np.inf)
    near_edge = np.abs(sep - radius) <= 1e-9 * radius
    if min_radius > 0:
        near_edge |= np.abs(sep - min_radius) <= 1e-9 * min_radius
    ok = (sep <= radius) & (sep >= min_radius)
    pairs = []
    for i in range(len(ra1)):
        js = np.nonzero(ok[i])[0]
        js = js[np.lexsort((js, sep[i, js]))]  # by distance, then right index
        if not all_pairs:
            js = js[:k]
        pairs += [(i, j, float(sep[i, j])) for j in js]
    return pairs, near_edge, sep


def check_against_brute_force(ra1, dec1, ra2, dec2, radius, **kw):
    k = kw.pop("n_neighbors", 1)
    li, ri, d = _core.crossmatch_arrays(ra1, dec1, ra2, dec2, radius, n_neighbors=k, **kw)
    expected, near_edge, sep = brute_force(ra1, dec1, ra2, dec2, radius, k=k, all_pairs=kw.get("all_pairs", False),
                                           min_radius=kw.get("min_radius_arcsec", 0.0),
                                           exclude_self=kw.get("exclude_self", False))
    # Contract: ordered by left index, then distance, then right index.
    order = np.lexsort((ri, d, li))
    assert np.array_equal(order, np.arange(li.size)), "result is not ordered by (left, distance, right)"
    edge_rows = set(np.nonzero(near_edge.any(axis=1))[0].tolist())
    assert len(edge_rows) < 0.01 * len(ra1) + 2
    got_rows, want_rows = {}, {}
    for i, j in zip(li.tolist(), ri.tolist()):
        got_rows.setdefault(i, []).append(j)
    for i, j, _ in expected:
        want_rows.setdefault(i, []).append(j)
    assert set(got_rows) - edge_rows == set(want_rows) - edge_rows, "different left rows have matches"
    for i in set(want_rows) - edge_rows:
        got, want = got_rows[i], want_rows[i]
        if got == want:
            continue
        # Only distances equal to within rounding (e.g. points at a pole, whose RA is meaningless) may come out in
        # another order or, at the k-th place, pick another right row of the same distance.
        gd, wd = sep[i, got].astype(np.float64), sep[i, want].astype(np.float64)
        np.testing.assert_allclose(gd, wd, rtol=0, atol=1e-9, err_msg=f"left row {i}: {got} != {want}")
        tie = 1e-9
        cut = wd[-1] if len(want) else np.inf
        firm = lambda js, ds: sorted(j for j, dd in zip(js, ds) if dd < cut - tie)
        assert firm(got, gd) == firm(want, wd), f"left row {i}: {got} != {want}"
        if kw.get("all_pairs", False):
            assert sorted(got) == sorted(want), f"left row {i}"
    # Distances: the kernel's stable formula against the long-double brute force.
    if li.size:
        ref = sep[li, ri].astype(np.float64)
        np.testing.assert_allclose(d, ref, rtol=1e-9, atol=1e-9)
    return li.size


def offset(ra, dec, sep_deg, az):
    """Exact spherical offset of (ra, dec) by sep_deg at position angle az (radians)."""
    d0, s = np.radians(dec), np.radians(sep_deg)
    d1 = np.arcsin(np.clip(np.sin(d0) * np.cos(s) + np.cos(d0) * np.sin(s) * np.cos(az), -1, 1))
    a1 = np.radians(ra) + np.arctan2(np.sin(az) * np.sin(s) * np.cos(d0), np.cos(s) - np.sin(d0) * np.sin(d1))
    return np.degrees(a1) % 360.0, np.degrees(d1)


def adversarial_sky(kind, radius_arcsec, n=600, seed=0):
    """Left points and right points within a few radii of them, in a hard place of the sky."""
    rng = np.random.default_rng(seed)
    r_deg = radius_arcsec / 3600.0
    if kind == "north_pole":
        ra1, dec1 = rng.uniform(0, 360, n), 90.0 - rng.uniform(0, 1, n) ** 3  # many within arcsec of the pole
        dec1[:5] = 90.0
    elif kind == "south_pole":
        ra1, dec1 = rng.uniform(0, 360, n), -90.0 + rng.uniform(0, 1, n) ** 3
        dec1[:5] = -90.0
    elif kind == "ra_wrap":
        ra1 = np.where(rng.uniform(size=n) < 0.5, rng.uniform(0, 3 * r_deg + 1e-9, n), 360.0 - rng.uniform(0, 3 * r_deg + 1e-9, n))
        ra1[:3] = [0.0, 359.9999999999999, 360.0 - 1e-13]
        dec1 = rng.uniform(-60, 60, n)
    elif kind == "cluster":  # a dense cluster: every point has many neighbours
        ra1, dec1 = offset(np.full(n, 150.0), np.full(n, 2.0), r_deg * 2 * np.sqrt(rng.uniform(size=n)), rng.uniform(0, 2 * np.pi, n))
    else:
        raise ValueError(kind)
    m = 2 * n
    pick = rng.integers(0, n, m)
    ra2, dec2 = offset(ra1[pick], dec1[pick], r_deg * rng.uniform(0, 2.0, m), rng.uniform(0, 2 * np.pi, m))
    # Duplicates on both sides: exact copies of left points (distance 0) and repeated right rows (ties).
    ra2[:20], dec2[:20] = ra1[:20], dec1[:20]
    ra2[20:40], dec2[20:40] = ra2[40:60], dec2[40:60]
    ra1[-10:], dec1[-10:] = ra1[:10], dec1[:10]
    return ra1, dec1, ra2 % 360.0, np.clip(dec2, -90, 90)


KINDS = ["north_pole", "south_pole", "ra_wrap", "cluster"]


def grid_sky(kind, radius_arcsec, n=1500, seed=0):
    """Larger skies that exercise the kernel's zone x RA-cell grid: hundreds of zones and cells, the RA origin moved
    into an empty RA gap, left rows in that gap and beyond the right side's Dec range, degenerate extents."""
    rng = np.random.default_rng(seed)
    r_deg = radius_arcsec / 3600.0
    w = max(0.05, 40 * r_deg)  # field size: many cells per zone at every radius
    if kind == "seam_field":  # a field across RA 0: the gap is on the far side of the sphere
        ra1, dec1 = rng.uniform(-w, w, n) % 360.0, rng.uniform(-w, w, n) + 10.0
    elif kind == "two_fields":  # two fields, two gaps; some left rows sit in a gap
        half = n // 2
        ra1 = np.r_[rng.uniform(-w, w, half) % 360.0, rng.uniform(200 - w, 200 + w, n - half)]
        dec1 = np.r_[rng.uniform(-30 - w, -30 + w, half), rng.uniform(40 - w, 40 + w, n - half)]
    elif kind == "polar_cap":  # zones near the pole scan whole zones, others use windows; the RA seam too
        ra1 = rng.uniform(0, 360, n)
        dec1 = 90.0 - min(5.0, 30 * w) * np.sqrt(rng.uniform(size=n))
    elif kind == "dec_strip":  # a thin Dec strip round the whole sky (few zones, very many cells)
        ra1, dec1 = rng.uniform(0, 360, n), rng.uniform(-w / 20, w / 20, n) - 45.0
    elif kind == "same_ra":  # RA extent zero: one cell per zone
        ra1, dec1 = np.full(n, 359.5), rng.uniform(-w, w, n)
    elif kind == "same_dec":  # one zone
        ra1, dec1 = rng.uniform(0, w, n), np.full(n, 60.0)
    else:
        raise ValueError(kind)
    m = 2 * n
    pick = rng.integers(0, n, m)
    ra2, dec2 = offset(ra1[pick], dec1[pick], r_deg * rng.uniform(0, 1.5, m), rng.uniform(0, 2 * np.pi, m))
    if kind in ("same_ra", "same_dec"):  # keep the degenerate coordinate exactly
        ra2 = np.where(np.arange(m) % 2 == 0, ra1[pick], ra2)
        dec2 = np.where(np.arange(m) % 2 == 1, dec1[pick], dec2)
        if kind == "same_ra":
            ra2 = ra1[pick]
        else:
            dec2 = dec1[pick]
    ra2[:20], dec2[:20] = ra1[:20], dec1[:20]
    # Left rows the right side cannot reach or only just: in an RA gap, past the Dec range, at a window's edge.
    ra1[-30:-20], dec1[-30:-20] = (ra1[-30:-20] + 100.0) % 360.0, dec1[-30:-20]
    dec1[-20:-10] = np.clip(dec2.max() + rng.uniform(0, 2 * r_deg, 10), -90, 90)
    return ra1, dec1, ra2 % 360.0, np.clip(dec2, -90, 90)


GRID_KINDS = ["seam_field", "two_fields", "polar_cap", "dec_strip", "same_ra", "same_dec"]


@pytest.mark.parametrize("kind", GRID_KINDS)
@pytest.mark.parametrize("radius", [0.1, 1.0, 60.0, 3600.0])
def test_grid_skies_equal_brute_force(kind, radius):
    sky = grid_sky(kind, radius, seed=hash((kind, radius)) % 1000)
    assert check_against_brute_force(*sky, radius, all_pairs=True) > 1000
    assert check_against_brute_force(*sky, radius, n_neighbors=1) > 1000
    assert check_against_brute_force(*sky, radius, n_neighbors=3, min_radius_arcsec=0.2 * radius) > 500


@pytest.mark.parametrize("kind", ["seam_field", "polar_cap"])
def test_grid_skies_exclude_self(kind):
    _, _, ra, dec = grid_sky(kind, 60.0, n=1000, seed=7)  # the right side: offset copies, so close neighbours
    assert check_against_brute_force(ra, dec, ra, dec, 60.0, all_pairs=True, exclude_self=True) > 300
    assert check_against_brute_force(ra, dec, ra, dec, 60.0, n_neighbors=1, exclude_self=True) > 300


def test_input_order_does_not_change_the_answer():
    """Rows already in sky order (as HATS partitions deliver them) and shuffled rows give the same pairs."""
    ra1, dec1, ra2, dec2 = grid_sky("two_fields", 1.0, n=4000, seed=11)
    got = _core.crossmatch_arrays(ra1, dec1, ra2, dec2, 1.0, all_pairs=True)
    o1, o2 = np.lexsort((ra1, np.floor(dec1 * 100))), np.lexsort((ra2, np.floor(dec2 * 100)))
    li, ri, d = _core.crossmatch_arrays(ra1[o1], dec1[o1], ra2[o2], dec2[o2], 1.0, all_pairs=True)
    mapped = sorted(zip(o1[li].tolist(), o2[ri].tolist()))
    assert mapped == sorted(zip(got[0].tolist(), got[1].tolist()))
    assert len(mapped) > 4000
RADII = [0.1, 1.0, 30.0, 3600.0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("radius", RADII)
def test_all_pairs_equal_brute_force(kind, radius):
    sky = adversarial_sky(kind, radius)
    assert check_against_brute_force(*sky, radius, all_pairs=True) > 600


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("radius", RADII)
@pytest.mark.parametrize("k", [1, 3])
def test_k_nearest_equal_brute_force(kind, radius, k):
    sky = adversarial_sky(kind, radius, seed=1)
    assert check_against_brute_force(*sky, radius, n_neighbors=k) > 300


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("radius", [1.0, 3600.0])
def test_min_radius_equal_brute_force(kind, radius):
    sky = adversarial_sky(kind, radius, seed=2)
    assert check_against_brute_force(*sky, radius, all_pairs=True, min_radius_arcsec=0.4 * radius) > 100
    assert check_against_brute_force(*sky, radius, n_neighbors=2, min_radius_arcsec=0.4 * radius) > 100


@pytest.mark.parametrize("kind", ["north_pole", "cluster"])
def test_exclude_self_equal_brute_force(kind):
    ra, dec, _, _ = adversarial_sky(kind, 30.0, seed=3)
    assert check_against_brute_force(ra, dec, ra, dec, 30.0, all_pairs=True, exclude_self=True) > 100
    assert check_against_brute_force(ra, dec, ra, dec, 30.0, n_neighbors=2, exclude_self=True) > 100


def test_whole_sphere_radii():
    rng = np.random.default_rng(5)
    ra1, dec1 = rng.uniform(0, 360, 200), np.degrees(np.arcsin(rng.uniform(-1, 1, 200)))
    ra2, dec2 = rng.uniform(0, 360, 300), np.degrees(np.arcsin(rng.uniform(-1, 1, 300)))
    for radius_deg in [10.0, 95.0, 180.0]:
        n = check_against_brute_force(ra1, dec1, ra2, dec2, radius_deg * 3600, all_pairs=True)
        if radius_deg == 180.0:
            assert n == 200 * 300
    # Antipodal points are 180 degrees apart, reported accurately.
    li, ri, d = _core.crossmatch_arrays([10.0], [20.0], [190.0], [-20.0], 180 * 3600.0)
    assert li.tolist() == [0] and abs(d[0] - 648000.0) < 1e-6


def test_empty_sides():
    for a, b in [([], [1.0]), ([1.0], [])]:
        li, ri, d = _core.crossmatch_arrays(a, a, b, b, 1.0)
        assert li.size == ri.size == d.size == 0 and li.dtype == np.int64 and d.dtype == np.float64


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"radius_arcsec": 0.0}, "radius_arcsec"),
        ({"radius_arcsec": -1.0}, "radius_arcsec"),
        ({"radius_arcsec": 180 * 3600.0 + 1}, "radius_arcsec"),
        ({"radius_arcsec": float("nan")}, "radius_arcsec"),
        ({"radius_arcsec": 1.0, "n_neighbors": 0}, "n_neighbors"),
        ({"radius_arcsec": 1.0, "min_radius_arcsec": 1.0}, "min_radius_arcsec"),
        ({"radius_arcsec": 1.0, "min_radius_arcsec": -0.5}, "min_radius_arcsec"),
    ],
)
def test_bad_options_raise_clear_errors(kwargs, message):
    import lodestar

    with pytest.raises(lodestar.LodestarError, match=message):
        _core.crossmatch_arrays([1.0], [2.0], [1.0], [2.0], **kwargs)


def test_bad_rows_raise_clear_errors():
    import lodestar

    with pytest.raises(lodestar.LodestarError, match="ra1 and dec1 must have the same length"):
        _core.crossmatch_arrays([1.0, 2.0], [2.0], [1.0], [2.0], 1.0)
    with pytest.raises(lodestar.LodestarError, match="left row 1: declination"):
        _core.crossmatch_arrays([1.0, 2.0], [2.0, float("nan")], [1.0], [2.0], 1.0)
    with pytest.raises(lodestar.LodestarError, match="right row 0: right ascension"):
        _core.crossmatch_arrays([1.0], [2.0], [float("inf")], [2.0], 1.0)
    with pytest.raises(lodestar.LodestarError, match="declination must be within"):
        _core.crossmatch_arrays([1.0], [91.0], [1.0], [2.0], 1.0)
    with pytest.raises(lodestar.LodestarError, match="exclude_self"):
        _core.crossmatch_arrays([1.0], [2.0], [1.0, 2.0], [2.0, 3.0], 1.0, exclude_self=True)


# ---------------------------------------------------------------- LSDB golden files


def read_hats(name):
    """All rows of a HATS catalog: id, ra, dec from its Parquet leaves (partition columns ignored)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    leaves = sorted(shared_path("hats-fixtures", name, "dataset").rglob("Npix=*.parquet"))
    assert leaves, f"no partitions under {name}"
    table = pa.concat_tables([pq.read_table(p, columns=["id", "ra", "dec"]) for p in leaves])
    return table["id"].to_numpy(), table["ra"].to_numpy(), table["dec"].to_numpy()


GOLDEN = [
    # file, left catalog, radius (deg), n_neighbors, min radius (deg)
    ("xmatch_correct.csv", "small_sky", 0.01, 1, 0.0),
    ("xmatch_correct_0_005.csv", "small_sky", 0.005, 1, 0.0),
    ("xmatch_correct_002_005.csv", "small_sky", 0.005, 1, 0.002),
    ("xmatch_correct_3n_2t.csv", "small_sky", 2.0, 3, 0.0),
    ("xmatch_correct_05_2_3n_margin.csv", "small_sky", 2.0, 3, 0.5),
    ("xmatch_correct_3n_2t_negative.csv", "small_sky_left_xmatch", 2.0, 3, 0.0),
]


@pytest.mark.parametrize("name, left, radius_deg, k, min_deg", GOLDEN)
def test_reproduces_lsdb_golden_files(name, left, radius_deg, k, min_deg):
    import pandas as pd

    expected = pd.read_csv(shared_path("hats-fixtures", "raw", "xmatch_expected", name))
    lid, lra, ldec = read_hats(left)
    rid, rra, rdec = read_hats("small_sky_xmatch")
    li, ri, d = _core.crossmatch_arrays(lra, ldec, rra, rdec, radius_deg * 3600, n_neighbors=k, min_radius_arcsec=min_deg * 3600)
    got = pd.DataFrame({"ss_id": lid[li], "xmatch_id": rid[ri], "dist": d / 3600.0})
    want = pd.DataFrame({"ss_id": expected["ss_id"].astype(np.int64), "xmatch_id": expected["xmatch_id"].astype(np.int64),
                         "dist": expected["dist"]})
    got = got.sort_values(["ss_id", "xmatch_id"]).reset_index(drop=True)
    want = want.sort_values(["ss_id", "xmatch_id"]).reset_index(drop=True)
    assert len(got) == len(want) and len(want) > 25
    assert got["ss_id"].tolist() == want["ss_id"].tolist()
    assert got["xmatch_id"].tolist() == want["xmatch_id"].tolist()
    np.testing.assert_allclose(got["dist"], want["dist"], rtol=0, atol=1e-9)


def test_matches_astropy_search_around_sky():
    from astropy import units as u
    from astropy.coordinates import SkyCoord, search_around_sky

    rng = np.random.default_rng(9)
    ra1, dec1 = rng.uniform(0, 360, 3000), np.degrees(np.arcsin(rng.uniform(-1, 1, 3000)))
    ra2, dec2 = offset(ra1, dec1, rng.uniform(0, 2e-3, 3000), rng.uniform(0, 2 * np.pi, 3000))
    li, ri, d = _core.crossmatch_arrays(ra1, dec1, ra2, dec2, 3.6, all_pairs=True)
    i1, i2, sep, _ = search_around_sky(SkyCoord(ra1 * u.deg, dec1 * u.deg), SkyCoord(ra2 * u.deg, dec2 * u.deg), 3.6 * u.arcsec)
    assert set(zip(li.tolist(), ri.tolist())) == set(zip(i1.tolist(), i2.tolist()))
    assert li.size > 1000
