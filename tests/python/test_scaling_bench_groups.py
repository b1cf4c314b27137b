"""bench/scaling.py's grouped Dask tasks: every file in exactly one task, the
same sum as one task per file and as numpy."""

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import bench_module, run_cli
from dask_harness import dask_cluster  # noqa: F401


@pytest.fixture(scope="module")
def scaling():
    with bench_module("scaling.py", "bench_scaling_groups") as module:
        yield module


@pytest.mark.parametrize("n_files, workers, per_worker, tasks", [(50, 2, 2, 4), (3, 2, 2, 3), (1, 2, 4, 1), (7, 1, 1, 1), (10, 3, 1, 3)])
def test_task_groups_cover_every_file_once_in_order(scaling, n_files, workers, per_worker, tasks):
    files = [f"f{i}" for i in range(n_files)]
    groups = scaling.task_groups(files, workers, per_worker)
    assert len(groups) == tasks
    assert [f for g in groups for f in g] == files
    assert max(map(len, groups)) - min(map(len, groups)) <= 1  # balanced


def test_grouped_sum_on_a_real_cluster_matches_numpy(scaling, dask_cluster, tmp_path):
    sky = tmp_path / "sky"
    assert run_cli("generate-sky", str(sky), "--rows", "30000", "--rows-per-file", "4000", "--no-progress").returncode == 0
    files = sorted(str(p) for p in sky.glob("*.parquet"))
    expected = math.fsum(np.concatenate([pq.read_table(f, columns=["ra"])["ra"].to_numpy() for f in files]))
    workers = sorted(dask_cluster.client.scheduler_info(n_workers=-1)["workers"])
    got = scaling.lodestar_sum_ra(dask_cluster.client, files, workers, tasks_per_worker=2)
    assert got["tasks"] == 4 and got["rows"] == 30000
    assert got["sum"] == pytest.approx(expected, rel=1e-12)
    per_file = scaling.lodestar_sum_ra(dask_cluster.client, files, workers)
    assert per_file["tasks"] == len(files) and per_file["sum"] == pytest.approx(expected, rel=1e-12)
