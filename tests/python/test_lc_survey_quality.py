"""Quality of the dimming search on the synthetic ZTF-like survey (fixed seed):
recall of detectable injected dips, false positives on non-dipping stars
(eclipsing binaries included) and accuracy of the fitted depths."""

import numpy as np
import pandas as pd
import pytest

from lodestar import _core, datasets


@pytest.fixture(scope="module")
def survey():
    return datasets.make_survey(n_objects=20000, seed=42)


@pytest.fixture(scope="module")
def events(survey):
    oid, offsets, t, mag, err, band = datasets.detections_to_csr(survey.detections)
    ev = pd.DataFrame(_core.find_dimming_events(offsets, t, mag, err, band))
    ev["object_id"] = oid[ev["object_index"].to_numpy()]
    return ev


def detectable_dips(survey):
    """Injected dips deeper than 5x the photometric error at >= 3 detections."""
    truth = survey.truth
    return truth[(truth.kind == "dip") & (truth.n_points_5sigma >= 3)]


def matching_candidate(candidates, dip):
    """The non-periodic event of the dip's star overlapping the dip's +-2 sigma span."""
    c = candidates[candidates.object_id == dip.object_id]
    c = c[(c.end >= dip.t0 - 2 * dip.sigma_rise) & (c.start <= dip.t0 + 2 * dip.sigma_fall)]
    return c.iloc[0] if len(c) else None


def test_survey_has_what_the_tests_need(survey):
    classes = survey.objects.var_class.value_counts()
    assert classes["eclipsing_binary"] > 300 and classes["dipper"] > 500
    assert len(detectable_dips(survey)) > 200


def test_recall_of_detectable_dips(survey, events):
    dips = detectable_dips(survey)
    candidates = events[~events.periodic]
    found = sum(matching_candidate(candidates, d) is not None for d in dips.itertuples())
    recall = found / len(dips)
    print(f"recall {recall:.3f} of {len(dips)} detectable dips")
    assert recall >= 0.90


def test_false_positive_rate_on_non_dipping_stars(survey, events):
    objects = survey.objects
    non_dippers = objects[objects.var_class != "dipper"]
    candidates = events[~events.periodic & events.object_id.isin(non_dippers.object_id)]
    rate = candidates.object_id.nunique() / len(non_dippers)
    ebs = objects[objects.var_class == "eclipsing_binary"]
    eb_flagged = events[events.object_id.isin(ebs.object_id)]
    print(f"false-positive rate {rate:.4f}; EB events flagged periodic {eb_flagged.periodic.mean():.3f}")
    assert rate < 0.01
    # The periodicity test does its job: most eclipsing binaries with events are set aside.
    assert eb_flagged.periodic.mean() > 0.7
    # And rarely sets a real dipper aside.
    dippers = events[events.object_id.isin(objects.object_id[objects.var_class == "dipper"])]
    assert dippers.periodic.mean() < 0.1


def well_sampled(dip, det):
    """The dip's depth is measurable: a detection near the bottom (within 0.5 sigma of t0) and
    detections on both flanks beyond 1 sigma, inside the +-3 sigma dip."""
    t = det.get(dip.object_id)
    if t is None:
        return False
    near = np.any((t > dip.t0 - 0.5 * dip.sigma_rise) & (t < dip.t0 + 0.5 * dip.sigma_fall))
    rise = np.any((t < dip.t0 - dip.sigma_rise) & (t > dip.t0 - 3 * dip.sigma_rise))
    fall = np.any((t > dip.t0 + dip.sigma_fall) & (t < dip.t0 + 3 * dip.sigma_fall))
    return near and rise and fall


def test_fitted_depths_match_truth(survey, events):
    dips = detectable_dips(survey)
    # One dip per star, so that a second dip cannot leak into the fit window.
    dips = dips[~dips.object_id.duplicated(keep=False)]
    det = survey.detections[survey.detections.object_id.isin(dips.object_id)]
    times = {k: g.to_numpy() for k, g in det.groupby("object_id")["mjd"]}
    candidates = events[~events.periodic & (events.fit_status == 0)]
    ratios_all, ratios_good = [], []
    for d in dips.itertuples():
        c = matching_candidate(candidates, d)
        if c is None:
            continue
        ratios_all.append(c.amplitude / d.depth_frac)
        if well_sampled(d, times):
            ratios_good.append(c.amplitude / d.depth_frac)
    ratios_all, ratios_good = np.array(ratios_all), np.array(ratios_good)
    within_all = np.mean(np.abs(ratios_all - 1) < 0.2)
    within_good = np.mean(np.abs(ratios_good - 1) < 0.2)
    print(f"depth within 20%: {within_all:.3f} of {len(ratios_all)} fitted; {within_good:.3f} of {len(ratios_good)} well-sampled")
    assert len(ratios_good) > 100
    assert within_good >= 0.90
    assert abs(np.median(ratios_all) - 1) < 0.05
