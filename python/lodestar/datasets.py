"""A synthetic ZTF-like survey for testing and benchmarking light-curve work.

`make_survey()` builds, reproducibly from a seed and with vectorized numpy, a
patch of sky observed like ZTF: g and r visits on nightly-ish cadence with
weather losses and seasonal gaps, a magnitude-dependent error model, per-epoch
limiting magnitudes, outliers, variable stars (RR Lyrae-like periodic,
detached eclipsing binaries, damped random walks) and injected aperiodic
asymmetric dimming events (Boyajian-star-like dips). The truth table says what
was injected where; a Gaia-like reference catalog covers the same sky.

Band codes used by the C++ kernels: 0 = g, 1 = r, 2 = i (`BAND_CODES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

BAND_CODES = {"g": 0, "r": 1, "i": 2}
MJD_START = 58194.0  # ZTF survey start, 2018-03-20
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))  # 2.3548

CLASSES = ("constant", "periodic", "eclipsing_binary", "drw", "dipper")


@dataclass
class Survey:
    objects: pd.DataFrame  # object_id, ra, dec, field, mean_g, mean_r, var_class
    detections: pd.DataFrame  # object_id, ra, dec, mjd, band, mag, mag_err, flags; sorted by object_id, mjd
    truth: pd.DataFrame  # one row per injected dip or variable star (kind column), NaN where a parameter does not apply
    reference: pd.DataFrame  # Gaia-like: source_id, ra, dec, g_mag
    params: dict = field(default_factory=dict)


def dip_flux_factor(t, t0, depth_frac, sigma_rise, sigma_fall):
    """Relative flux of an asymmetric Gaussian dip: 1 - A exp(-(t-t0)^2 / (2 sigma^2)),
    sigma = sigma_rise before t0 and sigma_fall after (the model the detector fits)."""
    s = np.where(t < t0, sigma_rise, sigma_fall)
    return 1.0 - depth_frac * np.exp(-0.5 * ((t - t0) / s) ** 2)


def magnitude_error(mag, m5):
    """ZTF-like photometric error: a 0.01 mag floor plus photon noise that reaches 0.2 mag (5 sigma) at the epoch's limit m5."""
    return np.sqrt(0.01**2 + (0.2 * 10.0 ** (0.4 * (mag - m5))) ** 2)


def _field_cadence(rng, field_ra, years, night_probability):
    """Epoch times, band codes and 5-sigma limiting magnitudes of one field."""
    nights = MJD_START + np.arange(int(np.ceil(years * 365.25)))
    # The field is observable within ~4 months of opposition (the Sun is at RA ~ 0 near MJD 58197, the March equinox).
    opposition = 58197.0 + 182.6 + field_ra / 360.0 * 365.25
    phase = 2 * np.pi * (nights - opposition) / 365.25
    in_season = np.cos(phase) > np.cos(2 * np.pi * 120 / 365.25)
    observed = nights[in_season & (rng.random(nights.size) < night_probability)]  # weather and scheduling losses
    n_visits = 1 + (rng.random(observed.size) < 0.45) + (rng.random(observed.size) < 0.1)
    night_of_visit = np.repeat(observed, n_visits)
    visit_rank = np.arange(night_of_visit.size) - np.repeat(np.cumsum(n_visits) - n_visits, n_visits)
    first_band = np.repeat(rng.integers(0, 2, observed.size), n_visits)
    band = ((first_band + visit_rank) % 2).astype(np.int8)  # alternate g and r within a night
    # Visits of a night are ~30-120 minutes apart, starting within the first hours of the night.
    start = np.repeat(0.1 + 0.1 * rng.random(observed.size), n_visits)
    times = night_of_visit + start + visit_rank * (0.02 + 0.06 * rng.random(night_of_visit.size))
    m5 = np.where(band == 0, 20.8, 20.6) + rng.normal(0.0, 0.3, times.size)  # seeing, moon
    return times, band, m5


def make_survey(
    n_objects: int = 20000,
    seed: int = 42,
    years: float = 3.0,
    n_fields: int = 8,
    night_probability: float = 0.35,
    class_fractions: dict | None = None,
    outlier_fraction: float = 0.002,
    reference_missing_fraction: float = 0.05,
    reference_extra_fraction: float = 0.1,
    ra_center: float = 150.0,
    dec_center: float = 30.0,
) -> Survey:
    """A reproducible ZTF-like survey; see the module docstring. `class_fractions`
    maps variability class -> fraction (the rest is "constant")."""
    rng = np.random.default_rng(seed)
    fractions = {"periodic": 0.03, "eclipsing_binary": 0.03, "drw": 0.03, "dipper": 0.05}
    fractions.update(class_fractions or {})
    if sum(fractions.values()) > 1:
        raise ValueError("class_fractions must sum to at most 1")

    # --- objects: fields of 3.5 x 3.5 degrees side by side in RA
    field_of = rng.integers(0, n_fields, n_objects)
    field_width = 3.5
    cosd = np.cos(np.radians(dec_center))
    field_ra = ra_center + (np.arange(n_fields) - (n_fields - 1) / 2) * field_width / cosd
    ra = (field_ra[field_of] + (rng.random(n_objects) - 0.5) * field_width / cosd) % 360.0
    dec = dec_center + (rng.random(n_objects) - 0.5) * field_width
    mean_r = 20.7 - 6.5 * rng.random(n_objects) ** 0.6  # more faint stars than bright ones, 14.2..20.7
    mean_g = mean_r + rng.normal(0.6, 0.25, n_objects)
    object_id = np.arange(n_objects, dtype=np.int64) + 1_000_000
    u = rng.random(n_objects)
    var_class = np.full(n_objects, "constant", dtype=object)
    edge = 0.0
    for name in ("periodic", "eclipsing_binary", "drw", "dipper"):
        var_class[(u >= edge) & (u < edge + fractions[name])] = name
        edge += fractions[name]

    # --- per-class parameters (drawn for every object, used where the class applies: keeps the RNG stream simple)
    period_rr = np.where(rng.random(n_objects) < 0.7, rng.uniform(0.35, 0.9, n_objects), 10 ** rng.uniform(0, 1.7, n_objects))
    amp_rr = rng.uniform(0.1, 0.6, n_objects)
    phase_rr = rng.random(n_objects)
    period_eb = 10 ** rng.uniform(0.0, 2.0, n_objects)  # 1..100 days
    eclipse_frac = rng.uniform(0.02, 0.06, n_objects)  # eclipse FWHM as a fraction of the period
    depth_eb1 = rng.uniform(0.1, 0.6, n_objects)
    depth_eb2 = depth_eb1 * rng.uniform(0.0, 0.6, n_objects)
    phase_eb = rng.random(n_objects)
    drw_sigma = rng.uniform(0.03, 0.15, n_objects)
    drw_tau = 10 ** rng.uniform(1.3, 2.5, n_objects)  # 20..300 days
    span = years * 365.25
    n_dips = 1 + (rng.random(n_objects) < 0.3)
    dip_t0 = MJD_START + rng.random((n_objects, 2)) * span
    dip_depth = 10 ** rng.uniform(np.log10(0.03), np.log10(0.5), (n_objects, 2))
    dip_duration = 10 ** rng.uniform(np.log10(0.5), 2.0, (n_objects, 2))  # FWHM, days
    rise_share = rng.uniform(0.2, 0.8, (n_objects, 2))
    dip_sigma_rise = rise_share * dip_duration / (FWHM_PER_SIGMA / 2)
    dip_sigma_fall = (1 - rise_share) * dip_duration / (FWHM_PER_SIGMA / 2)
    # (FWHM = 1.1774 (sigma_rise + sigma_fall) = duration.)

    det_parts = []
    dip_points = np.zeros((n_objects, 2), dtype=np.int64)
    for f in range(n_fields):
        members = np.flatnonzero(field_of == f)
        if members.size == 0:
            continue
        t, band, m5 = _field_cadence(rng, field_ra[f], years, night_probability)
        T = t[None, :]
        mag = np.where(band[None, :] == 0, mean_g[members, None], mean_r[members, None])
        gscale = np.where(band == 0, 1.3, 1.0)[None, :]  # variability is larger in g
        cls = var_class[members]

        sel = cls == "periodic"
        if sel.any():
            idx = members[sel]
            ph = 2 * np.pi * ((T - MJD_START) / period_rr[idx, None] + phase_rr[idx, None])
            shape = np.cos(ph) + 0.4 * np.cos(2 * ph + 0.6) + 0.2 * np.cos(3 * ph + 1.2)  # RR Lyrae-like asymmetric shape
            mag[sel] += amp_rr[idx, None] * gscale * shape / 1.6
        sel = cls == "eclipsing_binary"
        if sel.any():
            idx = members[sel]
            ph = ((T - MJD_START) / period_eb[idx, None] + phase_eb[idx, None]) % 1.0
            w = eclipse_frac[idx, None] / FWHM_PER_SIGMA
            d1 = np.minimum(ph, 1 - ph)
            d2 = np.abs(ph - 0.5)
            flux = 1 - depth_eb1[idx, None] * np.exp(-0.5 * (d1 / w) ** 4) - depth_eb2[idx, None] * np.exp(-0.5 * (d2 / w) ** 4)
            mag[sel] += -2.5 * np.log10(np.maximum(flux, 0.05))
        sel = cls == "drw"
        if sel.any():
            idx = members[sel]
            x = rng.normal(0, 1, idx.size) * drw_sigma[idx]
            out = np.empty((idx.size, t.size))
            prev = t[0]
            for e in range(t.size):  # exact Ornstein-Uhlenbeck update between epochs, vectorized over stars
                a = np.exp(-(t[e] - prev) / drw_tau[idx])
                x = a * x + drw_sigma[idx] * np.sqrt(np.maximum(0.0, 1 - a * a)) * rng.normal(0, 1, idx.size)
                out[:, e] = x
                prev = t[e]
            mag[sel] += out * gscale
        sel = cls == "dipper"
        dip_dmag = None
        if sel.any():
            idx = members[sel]
            dip_dmag = np.zeros((idx.size, 2, t.size))
            for k in range(2):
                active = (n_dips[idx] > k)[:, None]
                fl = dip_flux_factor(T, dip_t0[idx, k, None], dip_depth[idx, k, None], dip_sigma_rise[idx, k, None], dip_sigma_fall[idx, k, None])
                dip_dmag[:, k, :] = np.where(active, -2.5 * np.log10(fl), 0.0)
            mag[sel] += dip_dmag.sum(axis=1)

        err = magnitude_error(mag, m5[None, :])
        observed = mag + err * rng.normal(0, 1, mag.shape)
        detected = (observed < m5[None, :]) & (rng.random(mag.shape) < 0.93)  # limit, chip gaps and bad pixels
        outlier = detected & (rng.random(mag.shape) < outlier_fraction)
        observed = np.where(outlier, observed + rng.choice([-1, 1], mag.shape) * rng.uniform(0.3, 2.0, mag.shape), observed)
        flags = np.where(outlier & (rng.random(mag.shape) < 0.5), 1, 0).astype(np.int16)  # half the outliers are flagged

        if dip_dmag is not None:
            # Detections where the injected dip is >= 5 x the photometric error (the quality tests' "detectable").
            strong = (dip_dmag >= 5 * err[sel][:, None, :]) & detected[sel][:, None, :]
            dip_points[members[sel]] = strong.sum(axis=2)

        rows, cols = np.nonzero(detected)
        obj = members[rows]
        det_parts.append(
            pd.DataFrame(
                {
                    "object_id": object_id[obj],
                    "ra": ra[obj],
                    "dec": dec[obj],
                    "mjd": t[cols],
                    "band": np.where(band[cols] == 0, "g", "r"),
                    "mag": observed[rows, cols],
                    "mag_err": err[rows, cols],
                    "flags": flags[rows, cols],
                }
            )
        )

    detections = pd.concat(det_parts, ignore_index=True)
    # Per-epoch astrometric jitter (~70 mas), then object/time order.
    jitter = 0.07 / 3600.0
    detections["ra"] = (detections["ra"] + rng.normal(0, jitter, len(detections)) / np.cos(np.radians(detections["dec"]))) % 360.0
    detections["dec"] = detections["dec"] + rng.normal(0, jitter, len(detections))
    detections = detections.sort_values(["object_id", "mjd"], kind="stable").reset_index(drop=True)

    objects = pd.DataFrame(
        {"object_id": object_id, "ra": ra, "dec": dec, "field": field_of.astype(np.int16), "mean_g": mean_g, "mean_r": mean_r,
         "var_class": var_class.astype(str)}
    )

    truth = _truth_table(object_id, var_class, n_dips, dip_t0, dip_depth, dip_duration, dip_sigma_rise, dip_sigma_fall, dip_points,
                         period_rr, amp_rr, period_eb, eclipse_frac, depth_eb1, depth_eb2, drw_sigma, drw_tau)
    reference = _reference_catalog(rng, object_id, ra, dec, mean_g, mean_r, reference_missing_fraction, reference_extra_fraction,
                                   field_ra, field_width, dec_center)
    params = dict(n_objects=n_objects, seed=seed, years=years, n_fields=n_fields, night_probability=night_probability,
                  class_fractions=fractions, outlier_fraction=outlier_fraction)
    return Survey(objects=objects, detections=detections, truth=truth, reference=reference, params=params)


def _truth_table(object_id, var_class, n_dips, t0, depth, duration, s_rise, s_fall, dip_points, period_rr, amp_rr, period_eb,
                 eclipse_frac, depth_eb1, depth_eb2, drw_sigma, drw_tau) -> pd.DataFrame:
    parts = []
    dippers = np.flatnonzero(var_class == "dipper")
    for k in range(2):
        idx = dippers[n_dips[dippers] > k]
        parts.append(pd.DataFrame({
            "object_id": object_id[idx], "kind": "dip", "t0": t0[idx, k], "depth_frac": depth[idx, k], "duration": duration[idx, k],
            "sigma_rise": s_rise[idx, k], "sigma_fall": s_fall[idx, k], "band": "g,r", "n_points_5sigma": dip_points[idx, k]}))
    idx = np.flatnonzero(var_class == "periodic")
    parts.append(pd.DataFrame({"object_id": object_id[idx], "kind": "periodic", "period": period_rr[idx], "amplitude_mag": amp_rr[idx],
                               "band": "g,r"}))
    idx = np.flatnonzero(var_class == "eclipsing_binary")
    parts.append(pd.DataFrame({"object_id": object_id[idx], "kind": "eclipsing_binary", "period": period_eb[idx],
                               "duration": eclipse_frac[idx] * period_eb[idx], "depth_frac": depth_eb1[idx],
                               "secondary_depth_frac": depth_eb2[idx], "band": "g,r"}))
    idx = np.flatnonzero(var_class == "drw")
    parts.append(pd.DataFrame({"object_id": object_id[idx], "kind": "drw", "amplitude_mag": drw_sigma[idx], "tau": drw_tau[idx],
                               "band": "g,r"}))
    truth = pd.concat(parts, ignore_index=True)
    cols = ["object_id", "kind", "band", "t0", "depth_frac", "duration", "sigma_rise", "sigma_fall", "n_points_5sigma", "period",
            "amplitude_mag", "secondary_depth_frac", "tau"]
    for c in cols:
        if c not in truth:
            truth[c] = np.nan
    truth["n_points_5sigma"] = truth["n_points_5sigma"].fillna(0).astype(np.int64)
    return truth[cols].sort_values(["object_id", "t0"], kind="stable").reset_index(drop=True)


def _reference_catalog(rng, object_id, ra, dec, mean_g, mean_r, missing_fraction, extra_fraction, field_ra, field_width, dec_center):
    g_mag = mean_r + 0.35 * (mean_g - mean_r) - 0.1 + rng.normal(0, 0.02, ra.size)  # Gaia G between g and r
    keep = (rng.random(ra.size) >= missing_fraction) & (g_mag < 21.0)
    offset = 0.05 / 3600.0  # ~50 mas position differences (epoch, proper motion)
    r_ra = (ra[keep] + rng.normal(0, offset, keep.sum()) / np.cos(np.radians(dec[keep]))) % 360.0
    r_dec = dec[keep] + rng.normal(0, offset, keep.sum())
    n_extra = int(extra_fraction * ra.size)
    cosd = np.cos(np.radians(dec_center))
    e_field = rng.integers(0, field_ra.size, n_extra)
    e_ra = (field_ra[e_field] + (rng.random(n_extra) - 0.5) * field_width / cosd) % 360.0
    e_dec = dec_center + (rng.random(n_extra) - 0.5) * field_width
    e_g = rng.uniform(19.0, 21.0, n_extra)
    source_id = np.concatenate([object_id[keep] * 1000 + 7, 5_000_000_000 + np.arange(n_extra)]).astype(np.int64)
    ref = pd.DataFrame({"source_id": source_id, "ra": np.concatenate([r_ra, e_ra]), "dec": np.concatenate([r_dec, e_dec]),
                        "g_mag": np.concatenate([g_mag[keep], e_g])})
    return ref.sort_values("source_id").reset_index(drop=True)


def detections_to_csr(detections: pd.DataFrame):
    """CSR arrays for the C++ light-curve kernels from a detections DataFrame.

    Returns (object_ids, offsets, time, mag, mag_err, band_codes) with rows sorted
    by (object_id, mjd); band_codes use BAND_CODES (0 = g, 1 = r, 2 = i)."""
    d = detections.sort_values(["object_id", "mjd"], kind="stable")
    oid = d["object_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, oid[1:] != oid[:-1]]) if oid.size else np.array([], dtype=np.int64)
    offsets = np.r_[starts, oid.size].astype(np.int64)
    band = d["band"].map(BAND_CODES)
    if band.isna().any():
        raise ValueError(f"unknown band names {sorted(set(d['band'][band.isna()]))}; expected one of {list(BAND_CODES)}")
    return (oid[starts], offsets, d["mjd"].to_numpy(np.float64), d["mag"].to_numpy(np.float64), d["mag_err"].to_numpy(np.float64),
            band.to_numpy(np.int8))
