"""The synthetic ZTF-like survey: reproducible, ZTF-like cadence and errors, consistent tables."""

import numpy as np

from lodestar import datasets


def test_survey_is_reproducible_and_consistent():
    a = datasets.make_survey(n_objects=500, seed=9)
    b = datasets.make_survey(n_objects=500, seed=9)
    assert a.detections.equals(b.detections) and a.truth.equals(b.truth) and a.reference.equals(b.reference)
    c = datasets.make_survey(n_objects=500, seed=10)
    assert not a.detections["mag"].head(100).equals(c.detections["mag"].head(100))
    det = a.detections
    assert set(det.band) == {"g", "r"}
    assert det.object_id.isin(a.objects.object_id).all()
    assert (det.groupby("object_id").mjd.apply(lambda t: np.all(np.diff(t) >= 0))).all()  # sorted by object, time
    per_object = det.groupby("object_id").size()
    assert 150 < per_object.median() < 500  # ~300 detections over 3 years
    # Seasonal gaps: each field has at least a ~2-month stretch without visits every year.
    gaps = np.diff(np.sort(det[det.object_id == det.object_id.iloc[0]].mjd.to_numpy()))
    assert gaps.max() > 60
    # Errors grow with magnitude, 0.01 mag floor.
    bright = det[det.mag < 16].mag_err.median()
    faint = det[det.mag > 20].mag_err.median()
    assert 0.0099 < bright < 0.02 and faint > 0.08
    # Positions jitter by ~70 mas around the object's position.
    obj = a.objects.set_index("object_id").loc[det.object_id]
    dd = (det.dec.to_numpy() - obj.dec.to_numpy()) * 3600
    assert 0.04 < dd.std() < 0.1
    # The reference catalog: most objects, plus extra sources.
    ref = a.reference
    matched = ref.source_id[ref.source_id < 5_000_000_000] // 1000
    assert 0.8 < matched.isin(a.objects.object_id).mean() <= 1 and len(matched) < len(a.objects)
    assert (ref.source_id >= 5_000_000_000).sum() == 50
    dips = a.truth[a.truth.kind == "dip"]
    assert dips.object_id.isin(a.objects.object_id[a.objects.var_class == "dipper"]).all()
    assert dips.depth_frac.between(0.03, 0.5).all() and dips.duration.between(0.5, 100).all()
    # Duration is the FWHM of the asymmetric Gaussian.
    np.testing.assert_allclose(dips.duration, 1.1774100225154747 * (dips.sigma_rise + dips.sigma_fall), rtol=1e-12)
