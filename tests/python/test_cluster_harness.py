"""The distributed test harness itself: a real 2-worker cluster, and a worker
killed with SIGKILL in the middle of a job that still completes correctly."""

import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import run_cli
from dask_harness import dask_cluster, fresh_dask_cluster, kill_worker_mid_job  # noqa: F401


def slow_square(i: int) -> int:
    time.sleep(0.05)  # long enough that the kill lands while tasks are running
    return i * i


def test_cluster_has_two_single_thread_workers_on_localhost(dask_cluster):
    client = dask_cluster.client
    workers = client.scheduler_info(n_workers=-1)["workers"]
    assert len(workers) == 2
    assert all(a.startswith("tcp://127.0.0.1:") and w["nthreads"] == 1 for a, w in workers.items())
    # The workers are the processes the harness started (no nanny in between).
    assert sorted(dask_cluster.worker_pids().values()) == sorted(p.pid for p in dask_cluster.info.workers)
    assert client.gather(client.map(slow_square, range(20))) == [i * i for i in range(20)]


def test_workers_import_lodestar_and_run_sql(dask_cluster):
    def remote_sum(n):
        import lodestar as ls

        return float(ls.connect(threads=1).sql(f"SELECT sum(i) AS s FROM range({n}) t(i)")["s"][0])

    assert dask_cluster.client.submit(remote_sum, 1000).result() == 999 * 1000 / 2


def test_kill_worker_mid_job_job_still_completes(fresh_dask_cluster):
    c = fresh_dask_cluster
    n = 60
    with kill_worker_mid_job(c, fraction=0.25, total_tasks=n) as killer:
        results = c.client.gather(c.client.map(slow_square, range(n)))
    assert results == [i * i for i in range(n)]
    event = killer.event
    assert event is not None, "no worker was killed"
    assert event["finished_before"] >= 15 and event["running"], event  # killed mid-job, while running a task
    assert event["pid"] in [p.pid for p in c.info.workers]
    dead = next(p for p in c.info.workers if p.pid == event["pid"])
    assert not dead.alive()
    # The job finished on the one remaining worker.
    deadline = time.monotonic() + 30
    while len(c.client.scheduler_info(n_workers=-1)["workers"]) != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(c.client.scheduler_info(n_workers=-1)["workers"]) != [event["address"]]
    assert len(c.client.scheduler_info(n_workers=-1)["workers"]) == 1


def test_kill_worker_with_replacement(fresh_dask_cluster):
    c = fresh_dask_cluster
    n = 60
    with kill_worker_mid_job(c, after_tasks=10, replace=True) as killer:
        results = c.client.gather(c.client.map(slow_square, range(n), key=[f"sq-{i}" for i in range(n)]))
    assert results == [i * i for i in range(n)]
    assert killer.event is not None and killer.replacement is not None
    names = {w["name"] for w in c.client.scheduler_info(n_workers=-1)["workers"].values()}
    assert killer.replacement.name in names and killer.event["name"] not in names
    assert len(names) == 2
    # The replacement is a real worker: it runs work.
    replacement_addr = next(
        a for a, w in c.client.scheduler_info(n_workers=-1)["workers"].items() if w["name"] == killer.replacement.name
    )
    assert c.client.submit(slow_square, 7, workers=[replacement_addr]).result() == 49


def _sum_ra_file(path: str) -> tuple[str, float, int]:
    import lodestar as ls

    time.sleep(0.05)
    df = ls.connect(threads=1).sql(f"SELECT sum(ra) AS s, count(*) AS n FROM read_parquet('{path}')")
    return path, float(df["s"][0]), int(df["n"][0])


def test_lodestar_sum_survives_kill_9(fresh_dask_cluster, tmp_path):
    sky = tmp_path / "sky"
    gen = run_cli("generate-sky", str(sky), "--rows", "200000", "--rows-per-file", "5000", "--no-progress")
    assert gen.returncode == 0, gen.stderr
    files = sorted(str(p) for p in sky.glob("*.parquet"))
    assert len(files) == 40
    c = fresh_dask_cluster
    with kill_worker_mid_job(c, fraction=0.5, total_tasks=len(files)) as killer:
        parts = c.client.gather(c.client.map(_sum_ra_file, files))
    assert killer.event is not None
    # Every file exactly once, and the per-file sums equal numpy's over the same files.
    assert sorted(p for p, _, _ in parts) == files
    assert sum(n for _, _, n in parts) == 200_000
    for path, s, _ in parts:
        ra = pq.read_table(path, columns=["ra"])["ra"].to_numpy()
        assert s == pytest.approx(float(np.sum(ra)), rel=1e-12)


def test_kill_helper_rejects_bad_arguments(dask_cluster):
    with pytest.raises(ValueError, match="after_tasks, or fraction"):
        with kill_worker_mid_job(dask_cluster, fraction=1.5, total_tasks=10):
            pass
    with pytest.raises(ValueError, match="after_tasks must be >= 0"):
        with kill_worker_mid_job(dask_cluster, after_tasks=-1):
            pass


def test_harness_leaves_no_process_behind():
    from dask_harness import running_cluster

    with running_cluster(n_workers=2) as c:
        procs = list(c.info.processes)
        assert len(procs) == 3 and all(p.alive() for p in procs)
        state = Path(c.info.state_dir)
    assert not any(p.alive() for p in procs)  # alive() is False for exited (and zombie) processes
    assert not state.exists()
