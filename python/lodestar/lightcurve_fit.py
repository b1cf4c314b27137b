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


MIN_WIDTH_DAYS = 1e-3  # widths are bounded to [MIN_WIDTH_DAYS, 2 x the time span], as in C++
ISOLATION_SIGMA = 3.0
CAUCHY_SCALE, CLIP_SIGMA, MIN_CORE_POINTS, MIN_FLANK_POINTS, FLANK_SIGMA, TIED_CHI2_TOLERANCE = 3.0, 5.0, 2, 1, 3.0, 9.0


def fit_dip_scipy(time, mag, mag_err, t0_guess, amplitude_guess=None, sigma_guess=1.0, baseline_mag=None, flux=False,
                  sigma_rise_guess=None, sigma_fall_guess=None, f0_guess=1.0, loss="linear", tie_widths=False, max_nfev=2000):
    """Fit the dip model; returns a dict with f0, amplitude, t0, sigma_rise, sigma_fall, their *_err,
    chi2_dip, chi2_flat, delta_chi2 and success. With flux=True, `mag`/`mag_err` are relative flux and its error.
    sigma_rise_guess / sigma_fall_guess default to sigma_guess. loss="cauchy" minimizes the Cauchy loss of the
    normalized residuals (scale CAUCHY_SCALE; chi2_dip is still plain chi^2), tie_widths fits one width for
    both sides (started from the geometric mean of the guesses), like the C++ DipFitOptions."""
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
    sr0 = sigma_guess if sigma_rise_guess is None else sigma_rise_guess
    sf0 = sigma_guess if sigma_fall_guess is None else sigma_fall_guess
    log_lo, log_hi = np.log(MIN_WIDTH_DAYS), np.log(max(2.0 * (t.max() - t.min()), 10 * MIN_WIDTH_DAYS))
    # Log widths, like the C++ fit, so the problem is equally well scaled.
    logs = [np.log(np.sqrt(sr0 * sf0))] if tie_widths else [np.log(sr0), np.log(sf0)]
    x0 = [f0_guess, amplitude_guess, t0_guess, *logs]
    lower = [-np.inf, 0.0, t.min()] + [log_lo] * len(logs)
    upper = [np.inf, 1.0, t.max()] + [log_hi] * len(logs)
    x0[1] = float(np.clip(x0[1], 1e-6, 1 - 1e-6))
    x0[2] = float(np.clip(x0[2], t.min(), t.max()))
    for k in range(3, len(x0)):
        x0[k] = float(np.clip(x0[k], log_lo + 1e-9, log_hi - 1e-9))

    def widths(p):
        return (np.exp(p[3]), np.exp(p[3])) if tie_widths else (np.exp(p[3]), np.exp(p[4]))

    def resid(p):
        return (dip_model(t, p[0], p[1], p[2], *widths(p)) - y) / e

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # trial steps may visit tiny widths
        r = least_squares(resid, x0, bounds=(lower, upper), method="trf", x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=max_nfev,
                          loss=loss, f_scale=CAUCHY_SCALE)
    res = resid(r.x)
    chi2 = float(np.sum(res**2))
    npar = len(x0)
    dof = t.size - npar
    J = r.jac
    try:
        cov = np.linalg.inv(J.T @ J) * max(1.0, chi2 / dof)
        errs = np.sqrt(np.diag(cov))
    except np.linalg.LinAlgError:
        errs = np.full(npar, np.nan)
    w = 1 / e**2
    flat = np.sum(w * y) / np.sum(w)
    chi2_flat = float(np.sum(((y - flat) / e) ** 2))
    sr, sf = widths(r.x)
    sr_err = sr * errs[3]
    sf_err = sr_err if tie_widths else sf * errs[4]
    return {
        "f0": r.x[0], "f0_err": errs[0], "amplitude": r.x[1], "amplitude_err": errs[1], "t0": r.x[2], "t0_err": errs[2],
        "sigma_rise": sr, "sigma_rise_err": sr_err, "sigma_fall": sf, "sigma_fall_err": sf_err,
        "chi2_dip": chi2, "chi2_flat": chi2_flat, "delta_chi2": chi2_flat - chi2, "success": bool(r.success), "widths_tied": tie_widths,
    }


def _median3(f):
    m = f.copy()
    if f.size >= 3:
        m[1:-1] = np.median(np.stack([f[:-2], f[1:-1], f[2:]]), axis=0)
    return m


def _spikes(f, e):
    """Isolated spikes (event_fit.cpp, mark_spikes): points with a time neighbour on each side more than
    CLIP_SIGMA errors from the median of themselves and those neighbours."""
    return np.abs(f - _median3(f)) > CLIP_SIGMA * e


def dip_start(t, f, e, t_min, start, end, t_before, t_after):
    """The C++ dip_start (event_fit.hpp): trial positions (t_min, the minimum of the 3-point running median flux
    within [start, end] and over all points) x widths ({1/4 .. 4} x half the distance to the detections around
    the run), flat level and depth by weighted linear least squares, the trial of least chi^2 with each term
    capped at CLIP_SIGMA^2 (trials with < 2 detections within 1 sigma, or none on one side, skipped). When there
    are spikes each trial is also solved without them. Returns (guess, spike_free), each (f0, A, t0, sigma_rise,
    sigma_fall); spike_free is None when there are no spikes (or no trial without them)."""
    best = (1.0, 0.1, t_min, max(0.5 * (t_min - t_before), 0.05), max(0.5 * (t_after - t_min), 0.05))
    if t.size == 0:
        return best, None
    spike = _spikes(f, e)
    # Weights of all points and, when there are spikes, of the points without them, with their sums: fixed
    # for every trial.
    weights = [1 / e**2] + ([np.where(spike, 0.0, 1 / e**2)] if spike.any() else [])
    sums = [(w.sum(), (w * f).sum()) for w in weights]
    bests, best_losses = [best, None], [np.inf, np.inf]
    sm = _median3(f)
    centres = [t_min]
    inside = (t >= start) & (t <= end)
    c1 = t[inside][np.argmin(sm[inside])] if inside.any() else np.nan
    c2 = t[np.argmin(sm)]
    if np.isfinite(c1) and c1 != t_min:
        centres.append(c1)
    if c2 != t_min and c2 != c1:
        centres.append(c2)
    for t0 in centres:
        base_r, base_f = max(0.5 * abs(t0 - t_before), 0.05), max(0.5 * abs(t_after - t0), 0.05)
        dt = t - t0
        for kr in (0.25, 0.5, 1.0, 2.0, 4.0):
            for kf in (0.25, 0.5, 1.0, 2.0, 4.0):
                s = np.where(dt < 0, base_r * kr, base_f * kf)
                x = 0.5 * (dt / s) ** 2
                g = np.where(x > 40.0, 0.0, np.exp(-np.minimum(x, 40.0)))
                core = x <= 0.5
                n_rise, n_fall = np.sum(core & (dt < 0)), np.sum(core & (dt >= 0))
                if n_rise + n_fall < MIN_CORE_POINTS or n_rise == 0 or n_fall == 0:
                    continue
                for part, (w, (sw, swy)) in enumerate(zip(weights, sums)):
                    swg, swgg, swyg = (w * g).sum(), (w * g * g).sum(), (w * f * g).sum()
                    det = sw * swgg - swg * swg
                    if not det > 1e-12 * sw * swgg:
                        continue
                    f0 = (swy * swgg - swg * swyg) / det
                    b = (swy * swg - sw * swyg) / det
                    if not (f0 > 0 and b > 0):
                        continue
                    r = (f0 - b * g - f) / e  # ranked over all points in both cases
                    loss = np.sum(np.minimum(r * r, CLIP_SIGMA**2))
                    if loss < best_losses[part]:
                        best_losses[part] = loss
                        bests[part] = (f0, float(np.clip(b / f0, 1e-3, 0.95)), t0, base_r * kr, base_f * kf)
    best = bests[0]
    if not np.isfinite(best_losses[0]):
        best = (best[0], 0.1, *best[2:])
    return best, bests[1]


def _degenerate(res) -> bool:
    """A converged fit that is no dip: no depth left, or a width on its lower bound (as in C++)."""
    return res["success"] and (res["amplitude"] < 1e-3 or min(res["sigma_rise"], res["sigma_fall"]) <= 1.01 * MIN_WIDTH_DAYS)


def _unconstrained(res) -> bool:
    """A converged fit whose own uncertainty leaves the depth unconstrained (amplitude_err above the amplitude)."""
    return res["success"] and not (res["amplitude_err"] <= res["amplitude"])


def _fit_from(t, f, e, f0, a, t0, sr, sf, **kw):
    return fit_dip_scipy(t, f, e, t0_guess=t0, amplitude_guess=a, f0_guess=f0, sigma_rise_guess=sr, sigma_fall_guess=sf, flux=True,
                         **kw)


def fit_event_scipy(t, f, e, t_min, start, end, t_before, t_after):
    """The C++ event fit (event_fit.hpp, fit_dip_clipped) with scipy: dip_start, a Cauchy-loss fit to locate the
    dip, removal of isolated points > CLIP_SIGMA errors from it (at most max(2, n // 10)), the plain least-squares fit,
    one width for both sides when a flank of the dip holds fewer than MIN_FLANK_POINTS detections >= FLANK_SIGMA
    deep (kept unless its chi^2 is TIED_CHI2_TOLERANCE worse), and refits from the start when the result leaves the
    depth unconstrained or is no dip (a degenerate fit that nothing replaces is reported as failed); when that
    leaves no constrained dip, or one held up by a single point, and there are spikes, steps 1-4 once more on the
    points without the spikes from dip_start's spike-free trial, kept when constrained and its capped chi^2 over all
    points is within TIED_CHI2_TOLERANCE. Returns fit_dip_scipy's dict plus n_clipped."""
    t, f, e = (np.asarray(x, dtype=float) for x in (t, f, e))
    guess, spike_free = dip_start(t, f, e, t_min, start, end, t_before, t_after)
    t_all, f_all, e_all = t, f, e
    res, t, f, e = _fit_event_once(t, f, e, guess)
    if _unconstrained(res) or _degenerate(res):
        res = _refit_from_guess(t, f, e, guess, res)
    if spike_free is None or not (not res["success"] or _unconstrained(res) or _on_one_point(res, t)):
        return res
    # Step 6 (as in C++): fit again without the spikes, from the trial solved without them.
    keep = ~_spikes(f_all, e_all)
    alt, t2, _, _ = _fit_event_once(t_all[keep], f_all[keep], e_all[keep], spike_free)
    alt["n_clipped"] += int((~keep).sum())
    if not alt["success"] or _degenerate(alt) or _unconstrained(alt) or _on_one_point(alt, t2):
        return res
    if res["success"] and _capped_chi2(alt, t_all, f_all, e_all) - _capped_chi2(res, t_all, f_all, e_all) >= TIED_CHI2_TOLERANCE:
        return res
    return alt


def _on_one_point(res, t) -> bool:
    """A converged fit with fewer than MIN_CORE_POINTS detections within one width of t0 (as in C++)."""
    return res["success"] and np.sum((t >= res["t0"] - res["sigma_rise"]) & (t <= res["t0"] + res["sigma_fall"])) < MIN_CORE_POINTS


def _capped_chi2(res, t, f, e) -> float:
    r = (f - dip_model(t, res["f0"], res["amplitude"], res["t0"], res["sigma_rise"], res["sigma_fall"])) / e
    return float(np.sum(np.minimum(r * r, CLIP_SIGMA**2)))


def _refit_from_guess(t, f, e, guess, res):
    """Step 5: refits from the start when the result leaves the depth unconstrained or is no dip."""
    retries = []
    for tie in (False, True):
        r = _fit_from(t, f, e, *guess, tie_widths=tie)
        r["n_clipped"] = res["n_clipped"]
        if r["success"] and not _degenerate(r):
            retries.append(r)
    if not _degenerate(res):  # unconstrained: a constrained refit the data do not reject
        ok = [r for r in retries if not _unconstrained(r) and r["chi2_dip"] - res["chi2_dip"] < TIED_CHI2_TOLERANCE]
        return min(ok, key=lambda r: r["chi2_dip"]) if ok else res
    if retries:
        return min(retries, key=lambda r: r["chi2_dip"])
    return dict(res, success=False)


def _fit_event_once(t, f, e, guess):
    """Steps 1-4 of fit_event_scipy; returns the fit and the points it kept."""
    f0, a, t0, sr, sf = guess
    fit = _fit_from

    located = fit(t, f, e, f0, a, t0, sr, sf, loss="cauchy")
    start_at = (located["f0"], float(np.clip(located["amplitude"], 1e-3, 0.999)), located["t0"], max(located["sigma_rise"], 1e-4),
                max(located["sigma_fall"], 1e-4))
    model = dip_model(t, located["f0"], located["amplitude"], located["t0"], located["sigma_rise"], located["sigma_fall"])
    signed = (f - model) / e
    r = np.abs(signed)
    # Isolated outliers only: a time neighbour deviating the same way by ISOLATION_SIGMA makes it real structure.
    sign = np.sign(signed)
    prev_same = np.r_[False, signed[:-1] * sign[1:] >= ISOLATION_SIGMA]
    next_same = np.r_[signed[1:] * sign[:-1] >= ISOLATION_SIGMA, False]
    bad = np.flatnonzero((r > CLIP_SIGMA) & ~prev_same & ~next_same)
    bad = bad[np.argsort(-r[bad], kind="stable")][: max(2, t.size // 10)]
    keep = np.ones(t.size, dtype=bool)
    keep[bad] = False
    t, f, e = t[keep], f[keep], e[keep]
    res = fit(t, f, e, *start_at)
    res["n_clipped"] = int(bad.size)
    deficit = res["f0"] - dip_model(t, res["f0"], res["amplitude"], res["t0"], res["sigma_rise"], res["sigma_fall"])
    deep = deficit >= FLANK_SIGMA * e
    rise, fall = int(np.sum(deep & (t < res["t0"]))), int(np.sum(deep & (t >= res["t0"])))
    open_flank = rise < MIN_FLANK_POINTS or fall < MIN_FLANK_POINTS
    if not open_flank and res["success"]:
        return res, t, f, e
    width = max(res["sigma_rise"] if rise >= fall else res["sigma_fall"], 1e-4)
    tied = fit(t, f, e, res["f0"], float(np.clip(res["amplitude"], 1e-3, 0.999)), res["t0"], width, width, tie_widths=True)
    tied["n_clipped"] = res["n_clipped"]
    if not res["success"]:
        return (tied if tied["success"] else res), t, f, e
    return (tied if tied["success"] and tied["chi2_dip"] - res["chi2_dip"] < TIED_CHI2_TOLERANCE else res), t, f, e
