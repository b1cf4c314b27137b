"""The same operations on a real Dask cluster (a dask-scheduler and two
dask-worker processes on 127.0.0.1) give exactly the in-process results, and
survive a worker killed with SIGKILL in the middle of a job."""

import numpy as np
import pandas as pd
import pytest

import lodestar
from catalog_checks import check_catalog, multiset
from dask_harness import dask_cluster, fresh_dask_cluster, kill_worker_mid_job  # noqa: F401


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    rng = np.random.default_rng(11)
    n = 80_000
    df = pd.DataFrame({"id": np.arange(n), "ra": rng.uniform(0, 360, n), "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
                       "mag": rng.normal(18, 1, n)})
    df.to_parquet(root / "in.parquet", index=False)
    cat = lodestar.ingest(root / "in.parquet", "sky", root=root, pixel_threshold=2500, highest_order=6, progress=False)
    assert len(cat.partitions) >= 40
    return root, cat, df


def sorted_frame(df: pd.DataFrame, key="id") -> pd.DataFrame:
    return df.sort_values(key).reset_index(drop=True)


def test_scan_and_search_equal_in_process(dask_cluster, sky):
    _, cat, _ = sky
    client = dask_cluster.client
    q = cat.where("mag < 17.5").select(["id", "ra", "dec", "mag"])
    pd.testing.assert_frame_equal(sorted_frame(q.to_pandas(client=client)), sorted_frame(q.to_pandas()))
    cone = cat.cone_search(45, -30, 8 * 3600)
    local = sorted_frame(cone.to_pandas())
    assert len(local) > 100
    pd.testing.assert_frame_equal(sorted_frame(cone.to_pandas(client=client)), local)
    sizes = cat.map_partitions(len, client=client)
    assert sizes.tolist() == cat.map_partitions(len).tolist()
    dd = cat.to_dask()
    assert int(dd["id"].count().compute(scheduler=client.get)) == len(cat)


def test_written_catalog_equals_in_process(dask_cluster, sky, tmp_path):
    _, cat, df = sky
    client = dask_cluster.client
    a = cat.where("dec > 0").write("north_local", root=tmp_path)
    b = cat.where("dec > 0").write("north_dask", root=tmp_path, client=client)
    ra = check_catalog(tmp_path / "north_local")
    rb = check_catalog(tmp_path / "north_dask")
    assert multiset(ra, ["id", "ra", "dec", "mag"]) == multiset(rb, ["id", "ra", "dec", "mag"])
    assert len(a) == len(b) == (df.dec > 0).sum()


def test_lodestar_scheduler_environment_variable(dask_cluster, sky, monkeypatch):
    _, cat, _ = sky
    from lodestar.executor import DaskExecutor, get_executor

    monkeypatch.setenv("LODESTAR_SCHEDULER", dask_cluster.address)
    ex = get_executor()
    assert isinstance(ex, DaskExecutor)
    assert cat.map_partitions(len, executor=ex).sum() == len(cat)


def test_killed_worker_during_a_catalog_write(fresh_dask_cluster, sky, tmp_path):
    """kill -9 one worker mid-write: the job completes on the other, and the
    catalog equals the in-process one with no duplicate or missing rows."""
    _, cat, df = sky
    c = fresh_dask_cluster
    n_tasks = len(cat.partitions)
    with kill_worker_mid_job(c, fraction=0.3, total_tasks=n_tasks) as killer:
        out = cat.write("killed", root=tmp_path, client=c.client)
    assert killer.event is not None, "no worker was killed"
    rows = check_catalog(tmp_path / "killed")
    assert len(rows) == len(df) == len(out)
    assert multiset(rows, ["id", "ra", "dec", "mag"]) == multiset(df, ["id", "ra", "dec", "mag"])
    # No stray temporary files from the killed task were published.
    assert not [p for p in (tmp_path / "killed").rglob(".*")]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two catalogs with many partitions: right = shifted copies of left plus noise."""
    root = tmp_path_factory.mktemp("xdist")
    rng = np.random.default_rng(5)
    n = 30_000
    ra, dec = rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    left = pd.DataFrame({"lid": np.arange(n), "ra": ra, "dec": dec})
    shift = 0.5 / 3600
    right = pd.DataFrame({"rid": np.arange(n), "ra": (ra + shift / np.maximum(np.cos(np.radians(dec)), 1e-3)) % 360,
                          "dec": np.clip(dec + rng.normal(0, shift, n), -90, 90)})
    left.to_parquet(root / "l.parquet", index=False)
    right.to_parquet(root / "r.parquet", index=False)
    a = lodestar.ingest(root / "l.parquet", "left", root=root, pixel_threshold=1000, highest_order=6, progress=False)
    b = lodestar.ingest(root / "r.parquet", "right", root=root, pixel_threshold=1500, highest_order=6, progress=False)
    return root, a, b


def test_crossmatch_equal_in_process_and_survives_a_killed_worker(fresh_dask_cluster, pair, tmp_path):
    _, a, b = pair
    c = fresh_dask_cluster
    local = a.crossmatch(b, radius_arcsec=2.0).to_pandas()
    assert len(local) > 25_000
    remote = a.crossmatch(b, radius_arcsec=2.0, client=c.client).to_pandas()
    key = ["lid", "rid"]
    pd.testing.assert_frame_equal(local.sort_values(key).reset_index(drop=True), remote.sort_values(key).reset_index(drop=True))
    # kill -9 a worker in the middle of a crossmatch that writes a catalog
    n_tasks = len(a.partitions)
    with kill_worker_mid_job(c, fraction=0.3, total_tasks=n_tasks) as killer:
        written = a.crossmatch(b, radius_arcsec=2.0, client=c.client).write("xm", root=tmp_path)
    assert killer.event is not None, "no worker was killed"
    rows = check_catalog(tmp_path / "xm")
    assert len(rows) == len(local) == len(written)
    assert multiset(rows, key) == multiset(local, key)  # no duplicate or missing pairs
    assert not [p for p in (tmp_path / "xm").rglob(".*")]


@pytest.fixture(scope="module")
def light_curves(tmp_path_factory):
    from lodestar.datasets import make_survey

    root = tmp_path_factory.mktemp("lcdist")
    survey = make_survey(n_objects=1500, seed=3)
    survey.detections.to_parquet(root / "det.parquet", index=False)
    det = lodestar.ingest(root / "det.parquet", "det", root=root, pixel_threshold=40_000, progress=False)
    lcs = lodestar.build_light_curves(det, object_id="object_id", name="lcs", root=root, pixel_threshold=100)
    assert len(lcs.partitions) >= 8
    return lcs


def test_light_curve_features_and_dimming_search_on_dask_with_a_killed_worker(fresh_dask_cluster, light_curves):
    lcs = light_curves
    c = fresh_dask_cluster
    key = ["object_id", "band"]
    f_local = lcs.light_curve_features().sort_values(key).reset_index(drop=True)
    f_remote = lcs.light_curve_features(client=c.client).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(f_local, f_remote)
    ev_local = lcs.find_dimming_events(progress=False)
    assert len(ev_local) > 0
    n_tasks = len(lcs.partitions)
    with kill_worker_mid_job(c, fraction=0.3, total_tasks=n_tasks) as killer:
        ev_remote = lcs.find_dimming_events(client=c.client, progress=False)
    assert killer.event is not None, "no worker was killed"
    cols = [col for col in ev_local.columns if ev_local[col].dtype != object]
    order = ["object_id", "t0"] if "t0" in ev_local.columns else ["object_id"]
    pd.testing.assert_frame_equal(ev_local[cols].sort_values(order).reset_index(drop=True),
                                  ev_remote[cols].sort_values(order).reset_index(drop=True))
