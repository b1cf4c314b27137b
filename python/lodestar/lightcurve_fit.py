"""Bring-your-own-function version of the dip fit: the same asymmetric Gaussian
dip model as the C++/GSL kernel, fitted with scipy.optimize.least_squares.

    F(t) = F0 * (1 - A * exp(-(t - t0)^2 / (2 sigma^2))),  sigma = sigma_rise for t < t0, sigma_fall after

Input is magnitudes (converted to flux relative to `baseline_mag`, the median
when not given); parameters are bounded like the C++ fit (0 < A < 1, t0 within
the time range, sigma > 0). Uncertainties come from (J^T W J)^-1 scaled by
sqrt(chi2 / dof) when that exceeds 1, as in C++.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares


def dip_model(t, f0, amplitude, t0, sigma_rise, sigma_fall):
    s = np.where(t < t0, sigma_rise, sigma_fall)
    return f0 * (1.0 - amplitude * np.exp(-0.5 * ((t - t0) / s) ** 2))


def mag_to_relative_flux(mag, mag_err, baseline_mag):
    flux = 10.0 ** (-0.4 * (np.asarray(mag) - baseline_mag))
    return flux, flux * 0.4 * np.log(10.0) * np.asarray(mag_err)


def fit_dip_scipy(time, mag, mag_err, t0_guess, amplitude_guess=None, sigma_guess=1.0, baseline_mag=None, flux=False):
    """Fit the dip model; returns a dict with f0, amplitude, t0, sigma_rise, sigma_fall, their *_err,
    chi2_dip, chi2_flat, delta_chi2 and success. With flux=True, `mag`/`mag_err` are relative flux and its error."""
    t = np.asarray(time, dtype=float)
    if flux:
        y, e = np.asarray(mag, dtype=float), np.asarray(mag_err, dtype=float)
    else:
        base = np.median(mag) if baseline_mag is None else baseline_mag
        y, e = mag_to_relative_flux(mag, mag_err, base)
    if t.size <= 5:
        raise ValueError(f"fit_dip_scipy: need more than 5 points for 5 parameters, got {t.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y)) and np.all(e > 0)):
        raise ValueError("fit_dip_scipy: time and mag must be finite and mag_err positive")
    if amplitude_guess is None:
        amplitude_guess = float(np.clip(1 - y.min(), 1e-3, 0.999))
    # Log widths, like the C++ fit, so the problem is equally well scaled.
    x0 = [1.0, amplitude_guess, t0_guess, np.log(sigma_guess), np.log(sigma_guess)]
    lower = [-np.inf, 0.0, t.min(), -np.inf, -np.inf]
    upper = [np.inf, 1.0, t.max(), np.inf, np.inf]
    x0[1] = float(np.clip(x0[1], 1e-6, 1 - 1e-6))
    x0[2] = float(np.clip(x0[2], t.min(), t.max()))

    def resid(p):
        return (dip_model(t, p[0], p[1], p[2], np.exp(p[3]), np.exp(p[4])) - y) / e

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # trial steps may visit tiny widths
        r = least_squares(resid, x0, bounds=(lower, upper), method="trf", x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
    chi2 = float(np.sum(r.fun**2))
    dof = t.size - 5
    J = r.jac
    try:
        cov = np.linalg.inv(J.T @ J) * max(1.0, chi2 / dof)
        errs = np.sqrt(np.diag(cov))
    except np.linalg.LinAlgError:
        errs = np.full(5, np.nan)
    w = 1 / e**2
    flat = np.sum(w * y) / np.sum(w)
    chi2_flat = float(np.sum(((y - flat) / e) ** 2))
    sr, sf = np.exp(r.x[3]), np.exp(r.x[4])
    return {
        "f0": r.x[0], "f0_err": errs[0], "amplitude": r.x[1], "amplitude_err": errs[1], "t0": r.x[2], "t0_err": errs[2],
        "sigma_rise": sr, "sigma_rise_err": sr * errs[3], "sigma_fall": sf, "sigma_fall_err": sf * errs[4],
        "chi2_dip": chi2, "chi2_flat": chi2_flat, "delta_chi2": chi2_flat - chi2, "success": bool(r.success),
    }
