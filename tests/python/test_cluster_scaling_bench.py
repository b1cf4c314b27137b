"""bench/scaling.py: the paper's equations (1)-(2) and the distributed sum(ra) it times."""

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import bench_module, run_cli
from dask_harness import dask_cluster  # noqa: F401


@pytest.fixture(scope="module")
def scaling():
    with bench_module("scaling.py", "bench_scaling") as module:
        yield module


def _run(best_s, rows, cpu_s=1.0):
    return {"best_s": best_s, "cpu_s": cpu_s, "result": {"rows": rows, "sum": 0.0}}


def test_speedup_and_scaled_speedup_follow_the_paper(scaling):
    # Strong: the same 1000 rows in 10 s, 6 s, 4 s. Weak: 1000 rows per worker in 10 s, 11 s, 12.5 s.
    runs = {
        1: {"strong": _run(10.0, 3000), "weak": _run(10.0, 1000)},
        2: {"strong": _run(6.0, 3000), "weak": _run(11.0, 2000)},
        3: {"strong": _run(4.0, 3000), "weak": _run(12.5, 3000)},
    }
    table = scaling.scaling_table(runs, ref=1)
    assert table[2]["speedup"] == pytest.approx(10 / 6)  # eq. (1): t_ref / t_N
    assert table[3]["speedup"] == pytest.approx(2.5)
    assert table[2]["scaled_speedup"] == pytest.approx(10 / 11 * 2)  # eq. (2): t_ref / t_N * P_N / P_ref
    assert table[3]["scaled_speedup"] == pytest.approx(10 / 12.5 * 3)
    assert table[3]["weak_efficiency"] == pytest.approx(0.8)
    assert table[1]["speedup"] == table[1]["scaled_speedup"] == 1.0
    # A reference of 2 workers, as the paper used 16.
    table2 = scaling.scaling_table(runs, ref=2)
    assert table2[3]["speedup"] == pytest.approx(6 / 4)
    assert table2[3]["weak_efficiency"] == pytest.approx((11 / 12.5 * 3000 / 2000) / 1.5)


def test_weak_scaling_subsets_grow_with_workers(scaling):
    files = [f"f{i}" for i in range(10)]
    assert [len(scaling.subset(files, n, 4)) for n in (1, 2, 3, 4)] == [2, 5, 7, 10]
    assert scaling.subset(files[:1], 1, 4) == ["f0"]  # never empty


def test_lodestar_sum_ra_on_a_real_cluster_matches_numpy(scaling, dask_cluster, tmp_path):
    sky = tmp_path / "sky"
    assert run_cli("generate-sky", str(sky), "--rows", "30000", "--rows-per-file", "7000", "--no-progress").returncode == 0
    files = sorted(str(p) for p in sky.glob("*.parquet"))
    ra = np.concatenate([pq.read_table(f, columns=["ra"])["ra"].to_numpy() for f in files])
    expected = math.fsum(ra)
    got = scaling.lodestar_sum_ra(dask_cluster.client, files)
    assert got["rows"] == 30000 == len(ra)
    assert got["sum"] == pytest.approx(expected, rel=1e-12)
    # Pinned to one worker (the benchmark's n-worker runs): same answer.
    one = sorted(dask_cluster.client.scheduler_info(n_workers=-1)["workers"])[:1]
    assert scaling.lodestar_sum_ra(dask_cluster.client, files, workers=one)["sum"] == pytest.approx(expected, rel=1e-12)
    in_process = scaling.lodestar_sum_ra_in_process(files, threads=2)
    assert in_process["rows"] == 30000 and in_process["sum"] == pytest.approx(expected, rel=1e-12)
