"""A real Dask cluster for tests: a `dask scheduler` and worker processes on
127.0.0.1 (free ports), a `distributed.Client` to it, and a way to `kill -9`
a worker in the middle of a job.

Use the fixtures by importing them into a test module (or list this module in
`pytest_plugins`):

    from dask_harness import dask_cluster, fresh_dask_cluster  # noqa: F401

    def test_same_result(dask_cluster):
        assert dask_cluster.client.submit(sum, [1, 2]).result() == 3

    def test_survives_a_lost_worker(fresh_dask_cluster):
        c = fresh_dask_cluster
        with kill_worker_mid_job(c, after_tasks=5, replace=True) as killer:
            out = c.client.gather(c.client.map(work, range(40)))
        assert killer.event is not None  # a worker really died mid-job

Workers run without a nanny by default, so the process we kill stays dead
(with a nanny it would be restarted at once). They get this directory and the
caller's PYTHONPATH on theirs, so they import the same `lodestar` as the tests
and can unpickle functions defined in test modules. Everything started is
stopped in a `finally` (and at interpreter exit as a last resort).
"""

from __future__ import annotations

import atexit
import json
import math
import os
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from distributed.diagnostics.plugin import SchedulerPlugin

from lodestar import cluster as lcluster

TESTS_DIR = Path(__file__).resolve().parent


def worker_environment() -> dict[str, str]:
    """Our environment with this directory first on PYTHONPATH (see module doc)."""
    env = dict(os.environ)
    paths = [str(TESTS_DIR)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    # Test processes must never reach for the user's configured scheduler.
    env.pop("LODESTAR_SCHEDULER", None)
    return env


@dataclass
class TestCluster:
    """A running cluster: its recorded processes and a client connected to it."""

    __test__ = False  # not a test class, despite the name

    info: lcluster.ClusterInfo
    client: object  # distributed.Client

    @property
    def address(self) -> str:
        return self.info.address

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of the worker process, as the workers report it."""
        return self.client.run(os.getpid)

    def add_worker(self, timeout: float = 60.0) -> lcluster.ProcessInfo:
        return lcluster.add_worker(self.info, env=worker_environment(), wait=True, timeout=timeout)


@contextmanager
def running_cluster(
    n_workers: int = 2,
    threads_per_worker: int = 1,
    memory_limit: str = "2GB",
    nanny: bool = False,
    state_dir: str | os.PathLike | None = None,
    timeout: float = 120.0,
):
    """Start a scheduler + `n_workers` worker processes on 127.0.0.1, yield a
    TestCluster with a connected Client, and always stop all of them."""
    from distributed import Client

    own_dir = None
    if state_dir is None:
        own_dir = tempfile.TemporaryDirectory(prefix="lodestar-dask-")
        state_dir = own_dir.name
    stop_at_exit = lambda: lcluster.stop(state_dir, timeout=5)  # noqa: E731
    atexit.register(stop_at_exit)  # if the test process is interrupted before finally
    try:
        info = lcluster.start(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            memory_limit=memory_limit,
            state_dir=state_dir,
            nanny=nanny,
            timeout=timeout,
            env=worker_environment(),
        )
        client = Client(info.address, timeout=timeout, set_as_default=False)
        try:
            yield TestCluster(info=info, client=client)
        finally:
            client.close()
    finally:
        lcluster.stop(state_dir, timeout=10)
        atexit.unregister(stop_at_exit)
        if own_dir is not None:
            own_dir.cleanup()


@pytest.fixture(scope="module")
def dask_cluster():
    """A scheduler and 2 single-thread workers shared by the tests of a module.
    Do not kill its workers: use fresh_dask_cluster for that."""
    with running_cluster(n_workers=2) as c:
        yield c


@pytest.fixture
def fresh_dask_cluster():
    """A scheduler and 2 single-thread workers for one test (e.g. a fault test)."""
    with running_cluster(n_workers=2) as c:
        yield c


class _KillWorkerPlugin(SchedulerPlugin):
    """Scheduler plugin (runs inside the scheduler process): counts tasks that
    finish (processing -> memory) and, once `after_tasks` have finished,
    SIGKILLs the process of a worker that is running a task at that moment.
    Only pids in one of `allowed_pgids` (the process groups of the harness's
    own workers) are ever signalled. Writes what it did to `report_path`."""

    idempotent = False

    def __init__(self, after_tasks: int, allowed_pgids: list[int], report_path: str):
        self.name = "lodestar-kill-worker"
        self.after_tasks = after_tasks
        self.allowed_pgids = set(allowed_pgids)
        self.report_path = report_path
        self.finished = 0
        self.fired = False
        self.scheduler = None

    async def start(self, scheduler) -> None:
        self.scheduler = scheduler

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if start == "processing" and finish == "memory":
            self.finished += 1
        if self.fired or self.finished < self.after_tasks or self.scheduler is None:
            return
        workers = list(self.scheduler.workers.values())
        if len(workers) < 2:
            return  # killing the last worker would stall the job, not test recovery
        busy = [ws for ws in workers if ws.processing and ws.pid and self._ours(ws.pid)]
        if not busy:
            return  # try again at the next transition, when a task is running
        victim = max(busy, key=lambda ws: len(ws.processing))
        running = sorted(str(ts.key) for ts in victim.processing)
        os.kill(victim.pid, signal.SIGKILL)
        self.fired = True
        report = {
            "pid": victim.pid,
            "address": victim.address,
            "name": str(victim.name),
            "finished_before": self.finished,
            "running": running,
        }
        tmp = self.report_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(report, f)
        os.replace(tmp, self.report_path)

    def _ours(self, pid: int) -> bool:
        try:
            return os.getpgid(pid) in self.allowed_pgids
        except ProcessLookupError:
            return False


class WorkerKiller:
    """What kill_worker_mid_job did: `event` is None until a worker was
    killed, then {"pid", "address", "name", "finished_before", "running"}
    (the keys of the tasks it was running); `replacement` is the ProcessInfo
    of the worker started in its place, if asked for."""

    def __init__(self) -> None:
        self.event: dict | None = None
        self.replacement: lcluster.ProcessInfo | None = None
        self.error: BaseException | None = None


@contextmanager
def kill_worker_mid_job(
    test_cluster: TestCluster,
    after_tasks: int | None = None,
    fraction: float | None = None,
    total_tasks: int | None = None,
    replace: bool = False,
    timeout: float = 120.0,
):
    """Arm a `kill -9` of one worker for the job run inside the `with` block:
    the worker dies once `after_tasks` tasks have finished (or
    ceil(fraction * total_tasks)), choosing one that is running a task right
    then. With `replace=True` a new worker process is started as soon as the
    kill happened. Start the job inside the block (tasks are counted from the
    moment it is entered)."""
    if after_tasks is None:
        if fraction is None or total_tasks is None or not 0 <= fraction < 1:
            raise ValueError("give after_tasks, or fraction in [0, 1) together with total_tasks")
        after_tasks = math.ceil(fraction * total_tasks)
    if after_tasks < 0:
        raise ValueError(f"after_tasks must be >= 0, got {after_tasks}")
    client = test_cluster.client
    state = Path(test_cluster.info.state_dir)
    report = state / f"kill-{time.monotonic_ns()}.json"
    pgids = [p.pid for p in test_cluster.info.workers if p.alive()]  # each worker leads its own group
    plugin = _KillWorkerPlugin(after_tasks, pgids, str(report))
    client.register_plugin(plugin, name=plugin.name)
    killer = WorkerKiller()
    done = threading.Event()

    def watch() -> None:
        # Waits for the plugin's report, makes sure the process is really
        # gone (and reaped), then optionally starts a replacement.
        try:
            while not report.exists():
                if done.wait(0.02):
                    return
            killer.event = json.loads(report.read_text())
            deadline = time.monotonic() + timeout
            victim = next((p for p in test_cluster.info.workers if p.pid == killer.event["pid"]), None)
            while victim is not None and victim.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            lcluster._reap()
            if replace:
                killer.replacement = test_cluster.add_worker(timeout=timeout)
        except BaseException as e:  # noqa: BLE001 - reported to the test below
            killer.error = e

    thread = threading.Thread(target=watch, name="kill-worker-watch", daemon=True)
    thread.start()
    try:
        yield killer
    finally:
        if replace and report.exists():
            thread.join(timeout)  # let the replacement finish registering
        done.set()
        thread.join(timeout)
        try:
            client.unregister_scheduler_plugin(plugin.name)
        except Exception:  # noqa: BLE001 - the scheduler may already be gone
            pass
        report.unlink(missing_ok=True)
    if killer.error is not None:
        raise killer.error
