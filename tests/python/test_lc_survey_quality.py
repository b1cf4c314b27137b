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
    """The non-periodic event of the dip's star overlapping the dip's +-2 sigma span; of several (a long dip the
    detector split, or a neighbouring dip's event reaching into the span), the one whose run is nearest the
    dip's minimum (holds it, else the smallest time from it)."""
    c = candidates[candidates.object_id == dip.object_id]
    c = c[(c.end >= dip.t0 - 2 * dip.sigma_rise) & (c.start <= dip.t0 + 2 * dip.sigma_fall)]
    if not len(c):
        return None
    distance = np.maximum(0.0, np.maximum(c.start.to_numpy() - dip.t0, dip.t0 - c.end.to_numpy()))
    return c.iloc[int(np.argmin(distance))]


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
    # The periodicity test does its job: eclipsing binaries with events are set aside (measured 99.4%).
    assert eb_flagged.periodic.mean() > 0.95
    # And rarely sets a real dipper aside.
    dippers = events[events.object_id.isin(objects.object_id[objects.var_class == "dipper"])]
    assert dippers.periodic.mean() < 0.1


def flank_points(dip, det):
    """Detections where this injected dip is >= 5x the photometric error, before and after its minimum
    (the issue's "points in the dip", split by side)."""
    deficit_mag = -2.5 * np.log10(datasets.dip_flux_factor(det.mjd.to_numpy(), dip.t0, dip.depth_frac, dip.sigma_rise, dip.sigma_fall))
    strong = deficit_mag >= 5 * det.mag_err.to_numpy()
    t = det.mjd.to_numpy()
    before = t < dip.t0
    # Any detection at all within 3 sigma on each side (none: that flank of the dip was never observed).
    any_before = np.sum(before & (t > dip.t0 - 3 * dip.sigma_rise))
    any_after = np.sum(~before & (t < dip.t0 + 3 * dip.sigma_fall))
    return int(np.sum(strong & before)), int(np.sum(strong & ~before)), bool(any_before == 0 or any_after == 0)


def depth_table(survey, events):
    """One row per detectable dip found by the search (the recall test's population, all stars, one- and
    two-dip): the fitted amplitude of its matching event over the true depth (a failed fit counts as a miss)."""
    dips = detectable_dips(survey)
    all_dips = survey.truth[survey.truth.kind == "dip"]
    det = survey.detections[survey.detections.object_id.isin(dips.object_id)]
    det_by_star = dict(tuple(det.groupby("object_id")))
    candidates = events[~events.periodic]
    rows = []
    for d in dips.itertuples():
        c = matching_candidate(candidates, d)
        if c is None:
            continue
        star = all_dips[all_dips.object_id == d.object_id]
        n_before, n_after, flank_unobserved = flank_points(d, det_by_star[d.object_id])
        fitted = c.fit_status == 0
        rows.append({"object_id": d.object_id, "fit_ok": fitted, "ratio": c.amplitude / d.depth_frac if fitted else np.nan,
                     "two_dips": len(star) > 1,
                     "n_before": n_before, "n_after": n_after, "flank_unobserved": flank_unobserved,
                     "widths_tied": bool(c.widths_tied)})
    t = pd.DataFrame(rows)
    t["within"] = np.abs(t.ratio - 1) < 0.2  # NaN (failed fit) compares False
    t["bracketed"] = (t.n_before >= 1) & (t.n_after >= 1)
    return t


def test_fitted_depths_match_truth(survey, events):
    t = depth_table(survey, events)
    b = t[t.bracketed]
    print(f"depth within 20% of truth: {t.within.mean():.3f} of {len(t)} found detectable dips "
          f"(fit succeeded for {t.fit_ok.mean():.3f})")
    print(f"  minimum bracketed (>= 1 detection >= 5 sigma deep on each side): {b.within.mean():.3f} of {len(b)}; "
          f"one side unobserved: {t[~t.bracketed].within.mean():.3f} of {(~t.bracketed).sum()}")
    u = t[t.flank_unobserved]
    print(f"  of those, no detection at all within 3 sigma on one side: {u.within.mean():.3f} of {len(u)}; "
          f"all but those: {t[~t.flank_unobserved].within.mean():.3f} of {(~t.flank_unobserved).sum()}")
    print(f"  one-dip stars {t[~t.two_dips].within.mean():.3f} of {(~t.two_dips).sum()}, two-dip stars {t[t.two_dips].within.mean():.3f} "
          f"of {t.two_dips.sum()}; median ratio {t.ratio.median():.3f}")
    assert len(t) > 300
    assert t.fit_ok.mean() >= 0.97
    # Where the data bracket the minimum the depth is measured: the criterion holds there.
    assert b.within.mean() >= 0.90
    # Also on every dip but those with a flank never observed (no detection within 3 sigma on one side).
    assert t[~t.flank_unobserved].within.mean() >= 0.90
    # And on the whole recall population, dips into a seasonal gap included (measured 90.6%: 336 of 371; the
    # held-out seeds 43 and 44 give 89.1% and 88.4%, docs/lightcurves.md).
    assert t.within.mean() >= 0.90
    assert abs(t.ratio.median() - 1) < 0.05


def ranked_candidates(survey, events):
    """The candidate list an astronomer reads: non-periodic events by score, one per star, each labelled with
    the truth: "dip" (overlaps an injected dip's +-2 sigma span), "dipper, off the dip", or the star's class."""
    cand = events[~events.periodic].sort_values("score", ascending=False, kind="stable").drop_duplicates("object_id")
    classes = survey.objects.set_index("object_id").var_class
    dips = survey.truth[survey.truth.kind == "dip"]
    dips_by_star = dict(tuple(dips.groupby("object_id")))
    labels = []
    for e in cand.itertuples():
        cls = classes[e.object_id]
        if cls != "dipper":
            labels.append(cls)
            continue
        d = dips_by_star[e.object_id]
        on_dip = ((e.end >= d.t0 - 2 * d.sigma_rise) & (e.start <= d.t0 + 2 * d.sigma_fall)).any()
        labels.append("dip" if on_dip else "dipper, off the dip")
    return cand.assign(label=labels).reset_index(drop=True)


def test_top_candidates_are_injected_dips_not_eclipsing_binaries(survey, events):
    """The top of the ranked list is what an astronomer looks at. Eclipsing binaries whose most significant run
    joins an eclipse to an outlier on another night (3 detections, fitted at full depth) used to rank 2nd, 3rd, 9th
    and 10th; the night-group periodicity references flag them (docs/lightcurves.md)."""
    ranked = ranked_candidates(survey, events)
    top = ranked.head(100)
    print("top 20:", top.head(20).label.value_counts().to_dict(), "top 100:", top.label.value_counts().to_dict())
    eb_ranks = (ranked.index[ranked.label == "eclipsing_binary"] + 1).tolist()
    print("ranks of eclipsing binaries among", len(ranked), "candidates:", eb_ranks)
    assert (top.head(20).label == "dip").all()
    assert (top.label != "eclipsing_binary").all()
    assert (top.label == "dip").mean() >= 0.98


def test_no_successful_fit_is_a_degenerate_dip(events):
    """A fit reported as a success is a dip: some depth, and widths off their 1e-3-day bound (a collapsed model
    is refitted or reported failed); such failures stay rare."""
    ok = events[events.fit_status == 0]
    assert len(ok) > 1000
    assert (ok.amplitude >= 1e-3).all()
    assert (np.minimum(ok.sigma_rise, ok.sigma_fall) > 1.01e-3).all()
    assert (events.fit_status == 3).sum() < 0.01 * len(events)
