"""healpix_nest / healpix29 in SQL agree exactly with healpy (an independent
binding) on random points, near both poles and on the RA 0/360 seam."""

import healpy as hp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    rng = np.random.default_rng(20261123)
    n = 1_000_000
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    # 1e5 points within 0.5 deg of each pole (uniform in the cap).
    m = 100_000
    cap = 1 - np.cos(np.radians(0.5))
    north = 90 - np.degrees(np.arccos(1 - rng.uniform(0, cap, m)))
    south = -north
    # The seam: RA exactly 0 and exactly 360, on a grid of declinations, plus the poles.
    seam_dec = np.linspace(-90, 90, 2001)
    ra_all = np.concatenate([ra, rng.uniform(0, 360, m), rng.uniform(0, 360, m), np.zeros(2001), np.full(2001, 360.0)])
    dec_all = np.concatenate([dec, north, south, seam_dec, seam_dec])
    path = tmp_path_factory.mktemp("hp") / "points.parquet"
    pq.write_table(pa.table({"ra": ra_all, "dec": dec_all}), path)
    return path, ra_all, dec_all


@pytest.mark.parametrize("order", [0, 10, 29])
def test_healpix_nest_equals_healpy(con, points, order):
    path, ra, dec = points
    df = con.sql(f"SELECT healpix_nest({order}, ra, dec) AS pix FROM '{path}'")
    expected = hp.ang2pix(2**order, ra, dec, nest=True, lonlat=True)
    got = df["pix"].to_numpy()
    assert got.dtype == np.int64
    mismatches = np.flatnonzero(got != expected)
    assert mismatches.size == 0, f"{mismatches.size} mismatches, first at ra={ra[mismatches[0]]}, dec={dec[mismatches[0]]}"


def test_healpix29_is_order_29_and_parents_match(con, points):
    path, ra, dec = points
    df = con.sql(
        f"SELECT healpix29(ra, dec) AS h29, healpix_parent(healpix29(ra, dec), 29, 7) AS p7 FROM '{path}' LIMIT 200000"
    )
    expected29 = hp.ang2pix(2**29, ra[:200000], dec[:200000], nest=True, lonlat=True)
    np.testing.assert_array_equal(df["h29"].to_numpy(), expected29)
    np.testing.assert_array_equal(df["p7"].to_numpy(), hp.ang2pix(2**7, ra[:200000], dec[:200000], nest=True, lonlat=True))


def test_numpy_binding_equals_healpy():
    import lodestar

    rng = np.random.default_rng(5)
    ra = rng.uniform(-10, 370, 50_000)  # RA outside [0, 360) is periodic
    dec = rng.uniform(-90, 90, 50_000)
    np.testing.assert_array_equal(
        lodestar.healpix_nest(12, ra, dec), hp.ang2pix(2**12, ra % 360.0, dec, nest=True, lonlat=True)
    )
    with pytest.raises(ValueError, match="declination"):
        lodestar.healpix_nest(3, np.array([0.0]), np.array([95.0]))
    with pytest.raises(ValueError, match="order"):
        lodestar.healpix_nest(30, np.array([0.0]), np.array([0.0]))
