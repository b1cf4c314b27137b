"""`lodestar cluster up|down|status` and lodestar.cluster with real processes on 127.0.0.1."""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from dask_harness import worker_environment

from lodestar import cluster as lcluster


def _gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def _wait_gone(pids, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_gone(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def test_cli_up_status_compute_down(tmp_path):
    state = tmp_path / "cluster"
    env = worker_environment()
    try:
        up = run_cli(
            "cluster",
            "up",
            "--workers",
            "2",
            "--threads",
            "1",
            "--memory-limit",
            "1GB",
            "--dir",
            str(state),
            env=env,
            timeout=180,
        )
        assert up.returncode == 0, up.stderr + up.stdout
        assert "export LODESTAR_SCHEDULER=tcp://127.0.0.1:" in up.stdout

        st = run_cli("cluster", "status", "--json", "--dir", str(state), env=env)
        assert st.returncode == 0, st.stderr
        status = json.loads(st.stdout)
        assert status["running"] and status["workers_registered"] == 2
        assert status["address"].startswith("tcp://127.0.0.1:")
        assert sorted(p["name"] for p in status["processes"]) == ["scheduler", "worker-0", "worker-1"]
        assert all(p["alive"] for p in status["processes"])
        pids = [p["pid"] for p in status["processes"]]

        human = run_cli("cluster", "status", "--dir", str(state), env=env)
        assert "2 workers registered" in human.stdout and "worker-1" in human.stdout

        # A real computation on it; every worker listens on 127.0.0.1 with 1 thread and the asked memory limit.
        from distributed import Client

        with Client(status["address"], timeout=60, set_as_default=False) as client:
            workers = client.scheduler_info(n_workers=-1)["workers"]
            assert len(workers) == 2
            for addr, w in workers.items():
                assert addr.startswith("tcp://127.0.0.1:")
                assert w["nthreads"] == 1
                assert w["memory_limit"] == 10**9
            data = np.arange(1, 100_001, dtype=np.int64)
            chunks = np.array_split(data, 8)
            futures = client.map(lambda a: int((a * a).sum()), chunks)
            assert client.submit(sum, futures).result() == int((data * data).sum())
            ran_on = {client.who_has(f)[f.key][0] for f in futures}
            assert ran_on <= set(workers)

        down = run_cli("cluster", "down", "--dir", str(state), env=env)
        assert down.returncode == 0 and "cluster stopped" in down.stdout
        assert _wait_gone(pids), "cluster processes still alive after `lodestar cluster down`"
        assert not (state / "cluster.json").exists()

        # down again: nothing to do, not an error; status says nothing is running.
        again = run_cli("cluster", "down", "--dir", str(state), env=env)
        assert again.returncode == 0 and "no cluster running" in again.stdout
        st2 = run_cli("cluster", "status", "--dir", str(state), env=env)
        assert st2.returncode == 1 and "no cluster running" in st2.stdout
    finally:
        lcluster.stop(state)


def test_second_up_on_running_cluster_is_refused_and_stale_state_is_replaced(tmp_path):
    state = tmp_path / "cluster"
    try:
        info = lcluster.start(n_workers=1, state_dir=state, env=worker_environment(), timeout=120)
        with pytest.raises(lcluster.ClusterError, match="already running"):
            lcluster.start(n_workers=1, state_dir=state, env=worker_environment())
        # The refusal did not disturb the running cluster.
        assert lcluster.status(state)["workers_registered"] == 1

        # Every process dies behind our back (kill -9 of the groups): the state is stale, not "running".
        for p in info.processes:
            os.killpg(p.pid, 9)
        assert _wait_gone([p.pid for p in info.processes])
        lcluster._reap()
        assert lcluster.status(state)["running"] is False
        info2 = lcluster.start(n_workers=1, state_dir=state, env=worker_environment(), timeout=120)
        assert info2.address != "" and lcluster.status(state)["workers_registered"] == 1
    finally:
        lcluster.stop(state)
    assert lcluster.stop(state) is False  # idempotent


def test_cli_rejects_bad_arguments(tmp_path):
    bad = run_cli("cluster", "up", "--workers", "0", "--dir", str(tmp_path / "c"))
    assert bad.returncode == 2 and "--workers and --threads must be at least 1" in bad.stderr
    assert not (tmp_path / "c" / "cluster.json").exists()
    nothing = run_cli("cluster", "explode")
    assert nothing.returncode == 2 and "invalid choice" in nothing.stderr
    with pytest.raises(lcluster.ClusterError, match="n_workers must be a positive integer"):
        lcluster.start(n_workers=-1, state_dir=tmp_path / "d")


def test_corrupt_state_file_is_a_clear_error(tmp_path):
    (tmp_path / "cluster.json").write_text("{not json")
    with pytest.raises(lcluster.ClusterError, match="not a Lodestar cluster state file"):
        lcluster.status(tmp_path)


def test_worker_that_cannot_start_is_reported_with_its_log(tmp_path):
    # An invalid memory limit makes `dask worker` exit during start-up: start() must say so and clean up.
    with pytest.raises(lcluster.ClusterError, match="exited during start-up|did not register"):
        lcluster.start(n_workers=1, memory_limit="lots", state_dir=tmp_path, env=worker_environment(), timeout=60)
    assert not (tmp_path / "cluster.json").exists()
