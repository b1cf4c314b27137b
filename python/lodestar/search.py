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


def _span_and(catalog, ranges29: np.ndarray, exact: str) -> str:
    """The exact test preceded by one `_healpix_29 BETWEEN first AND last` over the whole coverage: the engine
    pushes that single range down into the Parquet scan (row-group statistics), which it does not do for the OR of
    the coverage's ranges that the catalog adds, so a small region reads a row group or two instead of whole
    partitions (1' cones on a 1e7-row catalog: p50 ~12-24 ms -> ~4 ms). A superset of the ranges: exact."""
    if len(ranges29) == 0:
        return exact
    r = np.asarray(ranges29, dtype=np.int64)
    hp = _q(catalog._meta["healpix_column"])
    return f"{hp} BETWEEN {int(r[:, 0].min())} AND {int(r[:, 1].max()) - 1} AND {exact}"


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
    exact = f"cone_contains({_q(catalog.ra_column)}, {_q(catalog.dec_column)}, {ra!r}, {dec!r}, {radius_deg!r})"
    return catalog.restrict_to(ranges, _span_and(catalog, ranges, exact), f"cone_search({ra}, {dec}, {radius_arcsec}\")")


# --- box, polygon, id and pixel searches ------------------------------------------------------------------------


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _pair(value, what: str) -> tuple[float, float]:
    try:
        lo, hi = value
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a (low, high) pair of degrees, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{what} must be finite degrees, got ({lo}, {hi})")
    return lo, hi


def _validated_region(kind: str, params: list[float]) -> str:
    """Builds the C++ shape once to validate it; its error becomes a ValueError."""
    try:
        return _core.region_describe(kind, params)
    except _core.LodestarError as exc:
        raise ValueError(f"{kind}: {exc}") from None


def box_search(catalog, ra: tuple[float, float], dec: tuple[float, float]):
    """Rows with RA between ra[0] and ra[1] (east, through 0/360 when ra[0] > ra[1];
    a 360-degree span is the full circle) and Dec between dec[0] and dec[1], boundaries included."""
    ra_lo, ra_hi = _pair(ra, "box ra range")
    dec_lo, dec_hi = _pair(dec, "box dec range")
    for d in (dec_lo, dec_hi):
        if not -90.0 <= d <= 90.0:
            raise ValueError(f"box declination must be within [-90, 90] degrees, got {d}")
    if dec_lo > dec_hi:
        raise ValueError(f"box dec range must have low <= high, got ({dec_lo}, {dec_hi})")
    params = [ra_lo, ra_hi, dec_lo, dec_hi]
    _validated_region("box", params)
    ra_span = (ra_hi - ra_lo) % 360.0 if (ra_hi - ra_lo) % 360.0 != 0 or ra_hi == ra_lo else 360.0
    extent = max(dec_hi - dec_lo, ra_span * math.cos(math.radians(min(abs(dec_lo), abs(dec_hi)) if dec_lo * dec_hi > 0 else 0.0)))
    order = coverage_order(max(extent, 1e-6) / 2)
    ranges = to_order29(_core.region_coverage("box", params, order), order)
    exact = (f"box_contains({_q(catalog.ra_column)}, {_q(catalog.dec_column)}, {ra_lo!r}, {ra_hi!r}, {dec_lo!r}, {dec_hi!r})")
    step = f"box_search(ra=({ra_lo}, {ra_hi}), dec=({dec_lo}, {dec_hi}))"
    return catalog.restrict_to(ranges, _span_and(catalog, ranges, exact), step)


def region_search(catalog, ra1: float, dec1: float, ra2: float, dec2: float):
    """AXS `region(ra1, dec1, ra2, dec2)`: the box with RA from ra1 east to ra2 and Dec between dec1 and dec2."""
    d1, d2 = float(dec1), float(dec2)
    return box_search(catalog, (ra1, ra2), (min(d1, d2), max(d1, d2)))


def polygon_search(catalog, vertices):
    """Rows inside a convex spherical polygon with great-circle edges: vertices as
    [(ra, dec), ...] in degrees (either orientation, at least 3), boundary included."""
    try:
        v = np.asarray(vertices, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("polygon vertices must be a sequence of (ra, dec) pairs of degrees") from None
    if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
        raise ValueError(f"polygon vertices must be at least 3 (ra, dec) pairs, got an array of shape {v.shape}")
    for ra, dec in v:
        _check_position(float(ra), float(dec), "polygon vertex")
    params = [float(x) for x in v.reshape(-1)]
    _validated_region("polygon", params)
    # Coverage order from the polygon's size: the largest distance of a vertex from the first one.
    size = float(np.max(_core.ang_sep(np.full(len(v), v[0, 0]), np.full(len(v), v[0, 1]), v[:, 0], v[:, 1])))
    order = coverage_order(max(size, 1e-6) / 2)
    ranges = to_order29(_core.region_coverage("polygon", params, order), order)
    flat = ", ".join(repr(x) for x in params)
    exact = f"polygon_contains({_q(catalog.ra_column)}, {_q(catalog.dec_column)}, [{flat}]::DOUBLE[])"
    return catalog.restrict_to(ranges, _span_and(catalog, ranges, exact), f"polygon_search({len(v)} vertices)")


def _sql_literal(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"id_search values must be finite, got {value!r}")
        return repr(float(value))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ValueError(f"id_search values must be numbers or strings, got {type(value).__name__} {value!r}")


def id_search(catalog, column: str, values):
    """Rows whose `column` equals one of `values` (numbers or strings)."""
    if not isinstance(column, str) or not column:
        raise ValueError("id_search needs a column name")
    if column not in {c for c, _ in _core.catalog_schema(catalog.connection._engine, catalog.path)}:
        raise KeyError(f"catalog {catalog.name!r} has no column {column!r}")
    if isinstance(values, (str, bytes)) or np.isscalar(values):
        values = [values]
    values = list(values.tolist() if isinstance(values, np.ndarray) else values)
    literals = ", ".join(_sql_literal(v) for v in values)
    exact = f"{_q(column)} IN ({literals})" if values else "false"
    return catalog.where(exact)._with(steps=catalog._plan.steps + (f"id_search({column}, {len(values)} values)",))


def pixel_search(catalog, order: int, pixels):
    """Rows in the given NESTED HEALPix pixels at `order` (0..29)."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 0 <= int(order) <= MAX_ORDER:
        raise ValueError(f"pixel order must be an integer within [0, 29], got {order!r}")
    order = int(order)
    pix = np.atleast_1d(np.asarray(pixels))
    if pix.size and not np.issubdtype(pix.dtype, np.integer):
        raise ValueError(f"pixels must be integers, got dtype {pix.dtype}")
    pix = pix.astype(np.int64)
    npix = 12 * 4**order
    bad = pix[(pix < 0) | (pix >= npix)]
    if bad.size:
        raise ValueError(f"pixel {int(bad[0])} is out of range for order {order} (0 <= pixel < {npix})")
    pix = np.unique(pix)
    ranges = to_order29(np.stack([pix, pix + 1], axis=1).reshape(-1, 2), order)
    return catalog.restrict_to(ranges, None, f"pixel_search(order {order}, {len(pix)} pixels)")
