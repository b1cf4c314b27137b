"""Spatial searches on catalogs. Each search is two stages (LSDB's design):
HEALPix coverage of the region (pixel ranges, which prune partitions and
`_healpix_29` row groups), then the exact per-row test in the engine."""

from __future__ import annotations

import math

import numpy as np

from . import _core

MAX_ORDER = 29


def _check_position(ra: float, dec: float, what: str = "center") -> None:
    if not (math.isfinite(ra) and math.isfinite(dec)):
        raise ValueError(f"{what} coordinates must be finite numbers of degrees, got ({ra}, {dec})")
    if not -90.0 <= dec <= 90.0:
        raise ValueError(f"{what} declination must be within [-90, 90] degrees, got {dec}")


def coverage_order(radius_deg: float) -> int:
    """An order whose pixels are about the size of the region: a handful of ranges."""
    size0 = 58.6  # mean pixel size at order 0, degrees
    return int(min(MAX_ORDER - 1, max(0, math.floor(math.log2(size0 / max(radius_deg, 1e-9))))))


def to_order29(ranges: np.ndarray, order: int) -> np.ndarray:
    return np.asarray(ranges, dtype=np.int64) << (2 * (MAX_ORDER - order))


def cone_search(catalog, ra: float, dec: float, radius_arcsec: float):
    radius_arcsec = float(radius_arcsec)
    if not math.isfinite(radius_arcsec) or radius_arcsec <= 0:
        raise ValueError(f"cone radius must be > 0 arcsec, got {radius_arcsec}")
    radius_deg = radius_arcsec / 3600.0
    if radius_deg > 180.0:
        raise ValueError(f"cone radius must be at most 180 degrees (648000 arcsec), got {radius_arcsec} arcsec")
    ra, dec = float(ra), float(dec)
    _check_position(ra, dec)
    order = coverage_order(radius_deg)
    ranges = to_order29(_core.disc_coverage(order, ra, dec, radius_deg), order)
    q = lambda c: '"' + c.replace('"', '""') + '"'  # noqa: E731
    exact = f"cone_contains({q(catalog.ra_column)}, {q(catalog.dec_column)}, {ra!r}, {dec!r}, {radius_deg!r})"
    return catalog.restrict_to(ranges, exact, f"cone_search({ra}, {dec}, {radius_arcsec}\")")
