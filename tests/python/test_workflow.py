"""The main job end to end (lodestar.workflow / `lodestar demo`) on a reduced survey:
every step runs, the outputs are written, and the dimming search through the
catalog API meets the issue's quality bars against the injected truth."""

import json

import pytest

from conftest import run_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from lodestar.workflow import run

    out = tmp_path_factory.mktemp("demo")
    return out, run(out=out, scale=0.4, quiet=True, plots=3)


def test_outputs_written(demo):
    out, summary = demo
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert (out / "skymap.png").stat().st_size > 10_000
    assert len(summary["plots"]) == 3 and all((out / p.split("/")[-1]).stat().st_size > 10_000 for p in summary["plots"])
    assert summary["light_curves"] == summary["objects"] == 8000
    for step in ("build light curves", "dimming search", "crossmatch objects with the reference"):
        assert step in summary["timings_s"]
    assert (out / "catalogs" / "ztf_lightcurves" / "hats.properties").exists()


def test_crossmatch_with_reference(demo):
    _, summary = demo
    xm = summary["crossmatch"]
    if xm is None:
        pytest.skip("Catalog.crossmatch is not available in this build")
    # 95% of objects brighter than G = 21 have a reference counterpart 50 mas away.
    assert 0.85 * summary["objects"] < xm["matches"] <= summary["objects"]


def test_quality_bars(demo):
    """Issue 5: recall >= 90% for dips > 5x noise with >= 3 points; false positives < 1% of non-dipping stars
    (eclipsing binaries included); fitted depths within 20% (most fitted single dips; the well-sampled subset
    is held to 90% in test_lc_survey_quality.py)."""
    _, summary = demo
    q = summary["quality"]
    print(q)
    assert q["detectable_dips"] > 100
    assert q["recall"] >= 0.90
    assert q["false_positive_rate"] < 0.01
    assert q["depth_within_20pct"] >= 0.75 and abs(q["depth_median_ratio"] - 1) < 0.05


def test_demo_cli_rejects_bad_scale(tmp_path):
    r = run_cli("demo", "--out", str(tmp_path), "--scale", "0")
    assert r.returncode == 2 and "--scale must be > 0" in r.stderr


def test_demo_data_cli(tmp_path):
    r = run_cli("demo-data", str(tmp_path), "--objects", "300")
    assert r.returncode == 0, r.stderr
    import lodestar

    names = set(lodestar.Catalogs(tmp_path).list())
    assert {"ztf_objects", "ztf_detections", "gaia", "ztf_lightcurves"} <= names
    assert "var_class" not in lodestar.Catalogs(tmp_path).load("ztf_objects").columns  # the answers stay hidden
