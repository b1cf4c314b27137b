"""Peer: astropy `SkyCoord.search_around_sky` on in-memory arrays (the usual notebook crossmatch).

Reads the Parquet inputs (not timed), then times building the SkyCoords plus search_around_sky, which returns
every pair within the radius; the nearest-neighbour count (left rows with >= 1 match) is derived from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import DEFAULT_RADIUS_ARCSEC, stopwatch, unavailable


def crossmatch(left_parquet: Path | str, right_parquet: Path | str, radius_arcsec: float = DEFAULT_RADIUS_ARCSEC) -> dict:
    try:
        import astropy
        import astropy.units as u
        from astropy.coordinates import SkyCoord
    except ImportError as exc:
        return unavailable(f"astropy is not installed ({exc}); pip install astropy")
    import pyarrow.parquet as pq

    left = pq.read_table(left_parquet, columns=["ra", "dec"])
    right = pq.read_table(right_parquet, columns=["ra", "dec"])
    lra, ldec = left["ra"].to_numpy(), left["dec"].to_numpy()
    rra, rdec = right["ra"].to_numpy(), right["dec"].to_numpy()
    with stopwatch() as t:
        a = SkyCoord(lra * u.deg, ldec * u.deg, frame="icrs")
        b = SkyCoord(rra * u.deg, rdec * u.deg, frame="icrs")
        # b.search_around_sky(a, r) returns (indices into a, indices into b, separations, distances)
        idx_left, _idx_right, _sep, _dist = b.search_around_sky(a, radius_arcsec * u.arcsec)
    return {
        "seconds": t(),
        "pairs_all": int(len(idx_left)),
        "pairs_nearest": int(np.unique(idx_left).size),
        "version": astropy.__version__,
    }
