"""Search shapes (lodestar._core.region_*) against astropy/healpy, and their SQL functions."""

import numpy as np
import pytest

_core = pytest.importorskip("lodestar._core")


def sky_points(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    # Adversarial extras: near both poles, across RA 0/360.
    k = n // 4
    dec[:k] = 89.0 + rng.uniform(0, 1, k)
    dec[k:2 * k] = -89.0 - rng.uniform(0, 1, k)
    ra[2 * k:3 * k] = (rng.uniform(-3, 3, k)) % 360.0
    return ra, dec


def covered(ranges, pixels):
    idx = np.searchsorted(ranges[:, 0], pixels, side="right") - 1
    return (idx >= 0) & (pixels < ranges[np.maximum(idx, 0), 1])


def assert_coverage_complete(kind, params, ra, dec, inside):
    import healpy as hp

    for order in [0, 3, 6, 9]:
        ranges = _core.region_coverage(kind, params, order)
        pix = hp.ang2pix(2**order, ra[inside], dec[inside], nest=True, lonlat=True)
        assert covered(ranges, pix).all(), f"{kind} {params}: coverage at order {order} misses contained points"


@pytest.mark.parametrize("cone", [(0.0, 89.5, 1.5), (359.0, -10.0, 3.0), (120.0, -89.9, 0.3), (10.0, 10.0, 100.0)])
def test_cone_matches_astropy(cone):
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    ra, dec = sky_points()
    got = _core.region_contains("cone", list(cone), ra, dec)
    sep = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(cone[0] * u.deg, cone[1] * u.deg)).deg
    clear = np.abs(sep - cone[2]) > 1e-9
    assert np.array_equal(got[clear], (sep <= cone[2])[clear])
    assert got.sum() > 50
    assert_coverage_complete("cone", list(cone), ra, dec, got)


@pytest.mark.parametrize("box", [(355.0, 5.0, -30.0, 30.0), (5.0, 355.0, 85.0, 90.0), (0.0, 360.0, -90.0, -89.5), (40.0, 80.0, -89.7, 89.2)])
def test_box_matches_definition(box):
    ra, dec = sky_points(seed=1)
    ra_lo, ra_hi, dec_lo, dec_hi = box
    got = _core.region_contains("box", list(box), ra, dec)
    width = (ra_hi - ra_lo) % 360.0 or 360.0
    want = ((ra - ra_lo) % 360.0 <= width) & (dec >= dec_lo) & (dec <= dec_hi)
    assert np.array_equal(got, want)
    assert got.sum() > 50
    assert_coverage_complete("box", list(box), ra, dec, got)


def unit(ra, dec):
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


@pytest.mark.parametrize(
    "vertices",
    [
        [(355.0, -5.0), (5.0, -5.0), (5.0, 5.0), (355.0, 5.0)],
        [(0.0, 87.0), (120.0, 87.0), (240.0, 87.0)],
        [(10.0, -88.0), (250.0, -88.0), (130.0, -88.0)],  # clockwise
    ],
)
def test_polygon_matches_great_circle_sides(vertices):
    ra, dec = sky_points(seed=2)
    flat = [c for v in vertices for c in v]
    got = _core.region_contains("polygon", flat, ra, dec)
    u = unit(*np.array(vertices).T)
    normals = np.cross(u, np.roll(u, -1, axis=0))
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    if np.dot(normals[0], u[2]) < 0:
        normals = -normals
    side = unit(ra, dec) @ normals.T
    clear = np.abs(side).min(axis=1) > 1e-12
    assert np.array_equal(got[clear], (side >= 0).all(axis=1)[clear])
    assert got.sum() > 50
    assert_coverage_complete("polygon", flat, ra, dec, got)


def test_bad_regions_raise_clear_errors():
    import lodestar

    for kind, params, message in [
        ("cone", [0, 0, 0], "radius"),
        ("cone", [0, 0], "needs 3 parameters"),
        ("box", [10, 10, 0, 1], "RA range is empty"),
        ("box", [0, 10, 2, 1], "dec_lo must be below dec_hi"),
        ("polygon", [0, 0, 1, 0, 2, 0], "degenerate"),
        ("polygon", [0, 0, 2, 0, 1, 0.2, 2, 2, 0, 2], "not convex"),
        ("polygon", [0, 0, 1], "odd count"),
        ("hexagon", [0], "unknown region kind"),
    ]:
        with pytest.raises(lodestar.LodestarError, match=message):
            _core.region_contains(kind, params, [0.0], [0.0])


def test_pixel_neighbourhood_covers_nearby_points():
    import healpy as hp

    rng = np.random.default_rng(4)
    order, pixel, radius = 4, 1000, 0.5
    ranges = _core.pixel_neighbourhood(order, pixel, radius, 7)
    ra, dec = rng.uniform(0, 360, 400000), np.degrees(np.arcsin(rng.uniform(-1, 1, 400000)))
    # Points of the pixel, and points within `radius` of one of them.
    inside = hp.ang2pix(2**order, ra, dec, nest=True, lonlat=True) == pixel
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    sky, members = SkyCoord(ra * u.deg, dec * u.deg), SkyCoord(ra[inside] * u.deg, dec[inside] * u.deg)
    _, sep, _ = sky.match_to_catalog_sky(members)
    near = sep.deg <= radius
    assert inside.sum() > 20 and near.sum() > inside.sum()
    assert covered(ranges, hp.ang2pix(2**7, ra[near], dec[near], nest=True, lonlat=True)).all()


def test_sql_functions_agree_with_kernel():
    import lodestar

    ra, dec = sky_points(2000, seed=3)
    con = lodestar.connect(threads=1)
    rows = ", ".join(f"({i}, {float(r)!r}, {float(d)!r})" for i, (r, d) in enumerate(zip(ra, dec)))
    poly = [355.0, -5.0, 5.0, -5.0, 5.0, 5.0, 355.0, 5.0]
    df = con.sql(f"""
        SELECT i, box_contains(ra, dec, 350.0, 10.0, 80.0, 90.0) AS b,
               polygon_contains(ra, dec, {poly}::DOUBLE[]) AS p
        FROM (VALUES {rows}) t(i, ra, dec) ORDER BY i""")
    assert np.array_equal(df["b"].to_numpy(bool), _core.region_contains("box", [350.0, 10.0, 80.0, 90.0], ra, dec))
    assert np.array_equal(df["p"].to_numpy(bool), _core.region_contains("polygon", poly, ra, dec))
    assert df["b"].sum() > 5
    nulls = con.sql("SELECT box_contains(NULL, 1, 0, 1, 0, 1) AS b, polygon_contains(1, 1, NULL) AS p")
    assert nulls["b"].isna().all() and nulls["p"].isna().all()
    with pytest.raises(lodestar.LodestarError, match="polygon_contains: vertices: polygon is not convex"):
        con.sql("SELECT polygon_contains(1.0, 1.0, [0, 0, 2, 0, 1, 0.2, 2, 2, 0, 2]::DOUBLE[])")
    with pytest.raises(lodestar.LodestarError, match="box_contains: box dec_lo must be below dec_hi"):
        con.sql("SELECT box_contains(1.0, 1.0, 0.0, 1.0, 5.0, 1.0)")
