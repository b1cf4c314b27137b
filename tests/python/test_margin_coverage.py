"""Margin coverage of a partition pixel (`margin_coverage29`, used by margin
caches): every point within the threshold of the pixel is covered, and the
coverage stays close to the pixel's boundary — checked against healpy's own
pixel boundaries, densely sampled."""

import healpy as hp
import numpy as np
import pytest

import lodestar
from lodestar import _core
from lodestar.margins import margin_order, margin_ranges29


def in_ranges(values: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    i = np.searchsorted(ranges[:, 0], values, side="right") - 1
    return (i >= 0) & (values < ranges[np.maximum(i, 0), 1])


def distance_to_pixel_deg(order, pixel, ra, dec, step=1500):
    """Angular distance from each point to the pixel (0 inside), from the
    pixel's true boundary sampled at `step` points per edge. Returns the
    distances and the sampling's worst-case overestimate."""
    nside = 2**order
    edge = hp.boundaries(nside, pixel, step=step, nest=True).T  # (4*step, 3) unit vectors on the edges
    spacing = np.max(np.arccos(np.clip(np.sum(edge * np.roll(edge, -1, axis=0), axis=1), -1, 1)))
    pts = hp.ang2vec(ra, dec, lonlat=True)
    inside = hp.ang2pix(nside, ra, dec, nest=True, lonlat=True) == pixel
    best = np.full(len(ra), np.inf)
    for chunk in np.array_split(np.arange(len(edge)), 16):
        cos = np.clip(pts @ edge[chunk].T, -1, 1)
        best = np.minimum(best, np.arccos(cos.max(axis=1)))
    d = np.degrees(np.where(inside, 0.0, best))
    return d, np.degrees(spacing / 2)


@pytest.mark.parametrize("order,pixel", [(3, 0), (3, 300), (2, 95), (4, 1536)])
@pytest.mark.parametrize("radius_deg", [0.05, 0.5])
def test_margin_covers_every_point_within_the_threshold_and_little_more(order, pixel, radius_deg):
    rng = np.random.default_rng(order * 1000 + pixel)
    ra_c, dec_c = hp.pix2ang(2**order, pixel, nest=True, lonlat=True)
    # Points in a disc around the pixel reaching well past the margin (and across poles and the RA seam).
    span = np.degrees(hp.max_pixrad(2**order)) + 3 * radius_deg
    n = 60_000
    cos_span = np.cos(np.radians(span))
    z = rng.uniform(cos_span, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    local = np.stack([np.sqrt(1 - z**2) * np.cos(phi), np.sqrt(1 - z**2) * np.sin(phi), z], axis=1)
    rot = hp.Rotator(rot=[ra_c, dec_c - 90.0, 0], deg=True, inv=True)  # local north pole -> pixel centre
    v = rot(local.T).T
    ra, dec = hp.vec2ang(v, lonlat=True)
    ra = np.mod(ra, 360.0)

    dist, slack = distance_to_pixel_deg(order, pixel, ra, dec)
    at = margin_order(order, radius_deg)
    ranges = margin_ranges29(order, pixel, radius_deg)
    covered = in_ranges(lodestar.healpix_nest(29, ra, dec), ranges)
    outside = dist > 0
    must = outside & (dist <= radius_deg - slack)
    assert must.sum() > 100
    assert covered[must].all(), f"{(~covered[must]).sum()} points within {radius_deg} deg of the pixel are missed"
    assert not covered[~outside].any()  # the pixel's own rows are never in its margin
    # Tight: nothing farther than the threshold plus ~2 fine-pixel radii.
    fine_pixrad = np.degrees(hp.max_pixrad(2**at))
    assert dist[covered].max() <= radius_deg + 2.05 * fine_pixrad + slack


def test_margin_coverage_rejects_bad_arguments():
    with pytest.raises(lodestar.LodestarError, match="must be >="):
        _core.margin_coverage29(5, 0, 0.1, 4)
    with pytest.raises(lodestar.LodestarError, match="not a pixel"):
        _core.margin_coverage29(2, 12 * 16, 0.1, 5)
    with pytest.raises(lodestar.LodestarError, match="radius"):
        _core.margin_coverage29(2, 0, 0.0, 5)
