"""Bad CSR input to the light-curve bindings: handled or rejected with a LodestarError naming object and problem."""

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from lodestar import LodestarError, _core, datasets

KERNELS = [_core.lightcurve_features, _core.find_dimming_events]


def good():
    n = 30
    return dict(offsets=np.array([0, 10, 20, 30]), time=59000.0 + np.arange(n), mag=15 + 0.01 * (np.arange(n) % 3),
                mag_err=np.full(n, 0.01), band=np.arange(n) % 2)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(
    "change, message",
    [
        (dict(offsets=np.array([0, 20, 10, 30])), "non-decreasing, but object 1"),
        (dict(offsets=np.array([0, 10, 20])), r"must end at the number of detections \(30\)"),
        (dict(offsets=np.array([], dtype=np.int64)), "empty"),
        (dict(mag=np.ones(29)), "same length"),
        ("err12=0", "object 1, detection 12: mag_err must be positive"),
        ("err25=-1", "object 2, detection 25: mag_err must be positive"),
        ("band3=7", r"detection 3: unknown band code 7 \(expected 0 = g, 1 = r, 2 = i\)"),
        ("band3=300", "detection 3: unknown band code 300"),
        ("time4=nan", "object 0, detection 4: time must be finite"),
    ],
)
def test_rejected_with_clear_message(kernel, change, message):
    a = good()
    if isinstance(change, dict):
        a.update(change)
    else:
        what, value = change.split("=")
        col = {"err": "mag_err", "band": "band", "time": "time"}[what.rstrip("0123456789")]
        a[col] = a[col].astype(float if col != "band" else np.int64)
        a[col][int(what.lstrip("errbandtime"))] = float(value)
    with pytest.raises(LodestarError, match=message):
        kernel(a["offsets"], a["time"], a["mag"], a["mag_err"], a["band"])


def test_tiny_empty_and_all_nan_are_fine():
    offsets = np.array([0, 0, 1, 3])
    t, m, e, b = np.array([1.0, 1, 2]), np.array([15.0, np.nan, np.nan]), np.array([0.1, 0.1, 0.1]), np.zeros(3, np.int8)
    ev = _core.find_dimming_events(offsets, t, m, e, b)
    assert len(ev["object_index"]) == 0 and set(ev) >= {"object_index", "amplitude", "periodic", "score"}
    f = _core.lightcurve_features(np.array([0]), np.array([]), np.array([]), np.array([]), np.array([], np.int8))
    assert len(f["object_index"]) == 0


def test_unsorted_input_gives_the_sorted_answer():
    rng = np.random.default_rng(1)
    t = 59000 + np.arange(0, 300, 0.7)
    flux = 1 - 0.3 * np.exp(-0.5 * ((t - 59100) / np.where(t < 59100, 4, 7)) ** 2)
    m = 15 - 2.5 * np.log10(flux) + rng.normal(0, 0.01, t.size)
    e = np.full(t.size, 0.01)
    b = np.zeros(t.size, np.int8)
    off = np.array([0, t.size])
    a = _core.find_dimming_events(off, t, m, e, b)
    perm = rng.permutation(t.size)
    z = _core.find_dimming_events(off, t[perm], m[perm], e[perm], b[perm])
    assert len(a["start"]) == 1
    for k in ("start", "end", "n_points", "amplitude", "t0", "score"):
        assert a[k][0] == pytest.approx(z[k][0], rel=1e-9), k
    assert abs(a["amplitude"][0] - 0.3) < 5 * a["amplitude_err"][0]


def test_bad_parameters_are_rejected():
    a = good()
    with pytest.raises(LodestarError, match="k_sigma must be a positive number"):
        _core.find_dimming_events(a["offsets"], a["time"], a["mag"], a["mag_err"], a["band"], k_sigma=0)


def test_detections_to_csr_rejects_unknown_band_names():
    df = pd.DataFrame({"object_id": [1, 1], "mjd": [1.0, 2.0], "band": ["g", "z"], "mag": [15.0, 15.0], "mag_err": [0.1, 0.1]})
    with pytest.raises(ValueError, match="unknown band names"):
        datasets.detections_to_csr(df)


def test_generate_survey_command(tmp_path):
    out = tmp_path / "survey"
    r = run_cli("generate-survey", str(out), "--objects", "300", "--seed", "3", "--years", "1")
    assert r.returncode == 0, r.stderr
    det = pd.read_parquet(out / "detections.parquet")
    again = datasets.make_survey(n_objects=300, seed=3, years=1)
    pd.testing.assert_frame_equal(det, again.detections)  # reproducible from the seed
    for name in ("objects", "truth", "reference"):
        assert len(pd.read_parquet(out / f"{name}.parquet")) > 0
    bad = run_cli("generate-survey", str(out), "--objects", "0")
    assert bad.returncode == 2 and "--objects must be at least 1" in bad.stderr
