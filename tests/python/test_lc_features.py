"""lightcurve_features against numpy/scipy on random light curves (CSR layout)."""

import numpy as np
import pytest
import scipy.stats

import lodestar
from lodestar import _core


def random_csr(rng, n_objects=40):
    sizes = rng.integers(0, 120, n_objects)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = offsets[-1]
    time = rng.uniform(58000, 59000, n)  # unsorted within objects on purpose
    band = rng.integers(0, 3, n).astype(np.int8)
    err = rng.uniform(0.01, 0.1, n)
    mag = 15 + 0.5 * band + err * rng.normal(size=n) + (rng.random(n) < 0.03) * 1.5
    mag[rng.random(n) < 0.05] = np.nan
    return offsets, time, mag, err, band


def reference(t, m, e):
    keep = np.isfinite(m)
    t, m, e = t[keep], m[keep], e[keep]
    order = np.argsort(t, kind="stable")
    t, m, e = t[order], m[order], e[order]
    n = len(m)
    out = {"n_obs": n}
    if n == 0:
        return out
    w = 1 / e**2
    out["mean"] = m.mean()
    out["median"] = np.median(m)
    out["weighted_mean"] = np.average(m, weights=w)
    if n < 3:
        return out
    out["std"] = m.std(ddof=1)
    out["robust_scatter"] = 1.4826 * np.median(np.abs(m - np.median(m)))
    out["amplitude"] = (np.percentile(m, 95) - np.percentile(m, 5)) / 2
    out["skewness"] = scipy.stats.skew(m)
    out["von_neumann"] = np.sum(np.diff(m) ** 2) / (n - 1) / m.var(ddof=1)
    out["chi2_reduced"] = np.sum(((m - out["weighted_mean"]) / e) ** 2) / (n - 1)
    # numpy.polyfit weights multiply residuals, so pass 1/err for 1/err^2 least squares.
    out["slope"] = np.polyfit(t - t.mean(), m, 1, w=1 / e)[0]
    return out


def test_features_match_numpy_scipy():
    rng = np.random.default_rng(3)
    offsets, time, mag, err, band = random_csr(rng)
    got = _core.lightcurve_features(offsets, time, mag, err, band)
    rows = 0
    for i in range(len(offsets) - 1):
        sl = slice(offsets[i], offsets[i + 1])
        for b in range(3):
            sel = band[sl] == b
            if not sel.any():
                continue
            row = np.flatnonzero((got["object_index"] == i) & (got["band"] == b))
            assert len(row) == 1, (i, b)
            rows += 1
            want = reference(time[sl][sel], mag[sl][sel], err[sl][sel])
            assert got["n_obs"][row[0]] == want["n_obs"]
            for name, value in want.items():
                if name != "n_obs":
                    assert got[name][row[0]] == pytest.approx(value, rel=1e-9, abs=1e-12), (i, b, name)
    assert rows == len(got["object_index"])


def test_features_tiny_and_all_nan_give_nan_not_crash():
    offsets = np.array([0, 0, 1, 3], dtype=np.int64)
    time = np.array([1.0, 1.0, 2.0])
    mag = np.array([15.0, np.nan, np.nan])
    err = np.array([0.1, 0.1, 0.1])
    band = np.array([1, 0, 0], dtype=np.int8)
    got = _core.lightcurve_features(offsets, time, mag, err, band)
    assert list(got["object_index"]) == [1, 2]
    assert list(got["n_obs"]) == [1, 0]
    assert got["mean"][0] == 15.0 and np.isnan(got["std"][0]) and np.isnan(got["mean"][1])


def test_lc_features_sql_matches_binding():
    rng = np.random.default_rng(5)
    t = rng.uniform(0, 100, 30)
    m = 15 + rng.normal(0, 0.05, 30)
    e = np.full(30, 0.05)
    con = lodestar.connect(threads=1)
    tl, ml, el = (", ".join(repr(float(x)) for x in a) for a in (t, m, e))
    df = con.sql(f"SELECT f.* FROM (SELECT lc_features([{tl}], [{ml}], [{el}]) AS f)")
    got = _core.lightcurve_features(np.array([0, 30]), t, m, e, np.zeros(30, np.int8))
    for name in ["n_obs", "mean", "median", "std", "robust_scatter", "amplitude", "skewness", "von_neumann", "chi2_reduced", "slope"]:
        assert df[name].iloc[0] == pytest.approx(got[name][0], rel=1e-12), name
