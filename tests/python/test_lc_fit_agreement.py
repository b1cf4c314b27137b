"""The scipy (bring-your-own-function) dip fit agrees with the C++ GSL fit.
Tolerances (docs/lightcurves.md): each parameter within 2% of its 1-sigma
uncertainty (plus 1e-7 absolute), uncertainties within 1% relative, delta chi^2 within 1e-5 relative."""

import numpy as np
import pytest

from lodestar import _core
from lodestar.lightcurve_fit import dip_model, fit_dip_scipy

PARAMS = ["f0", "amplitude", "t0", "sigma_rise", "sigma_fall"]


def make_dip(rng):
    t = np.sort(rng.uniform(0, 200, rng.integers(60, 250)))
    truth = dict(f0=1.0, amplitude=rng.uniform(0.05, 0.5), t0=rng.uniform(60, 140), sigma_rise=rng.uniform(1, 15),
                 sigma_fall=rng.uniform(1, 15))
    err = rng.uniform(0.005, 0.03, t.size)
    flux = dip_model(t, **truth) + err * rng.normal(size=t.size)
    return t, flux, err, truth


@pytest.mark.parametrize("seed", range(20))
def test_scipy_fit_agrees_with_gsl(seed):
    rng = np.random.default_rng(seed)
    t, flux, err, truth = make_dip(rng)
    guess = dict(f0=1.0, amplitude=0.5 * truth["amplitude"] + 0.02, t0=truth["t0"] + 2.0, sigma_rise=3.0, sigma_fall=3.0)
    gsl = _core.fit_dip(t, flux, err, **guess)
    sp = fit_dip_scipy(t, flux, err, t0_guess=guess["t0"], amplitude_guess=guess["amplitude"], sigma_guess=3.0, flux=True)
    assert gsl["status"] == 0 and sp["success"]
    for p in PARAMS:
        assert abs(gsl[p] - sp[p]) <= 0.02 * gsl[p + "_err"] + 1e-7, (p, gsl[p], sp[p], gsl[p + "_err"])
        assert gsl[p + "_err"] == pytest.approx(sp[p + "_err"], rel=0.01), p
    assert gsl["delta_chi2"] == pytest.approx(sp["delta_chi2"], rel=1e-5)
    # And both recover the truth within their uncertainties (5 sigma).
    for p in PARAMS:
        assert abs(gsl[p] - truth[p]) < 5 * gsl[p + "_err"], p


def test_fit_rejects_bad_input():
    t = np.linspace(0, 10, 20)
    with pytest.raises(_core.LodestarError, match="flux_err positive"):
        _core.fit_dip(t, np.ones(20), np.zeros(20), 1, 0.1, 5, 1, 1)
    with pytest.raises(ValueError, match="more than 5 points"):
        fit_dip_scipy(t[:4], np.ones(4), np.full(4, 0.01), 5.0, flux=True)
