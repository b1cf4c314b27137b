"""A local Dask cluster made of real processes: one `dask scheduler` and N
`dask worker` processes on 127.0.0.1, for users who want a cluster on one
machine and for tests that must exercise real process boundaries.

    from lodestar import cluster
    info = cluster.start(n_workers=2, threads_per_worker=1, memory_limit="4GB")
    ...  # distributed.Client(info.address), or LODESTAR_SCHEDULER=info.address
    cluster.stop()

State lives in a directory (default `$LODESTAR_CLUSTER_DIR` or
`~/.lodestar/cluster`): `cluster.json` (address, pids, process groups) and one
log file per process. Every process is started in its own session, so stopping
signals whole process groups (a nanny and its worker child go together), and a
pid is only signalled after checking that it is still the process we started
(same start time in /proc), never a recycled pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
STATE_FILE = "cluster.json"

# Processes started by this Python process (pid -> Popen), to reap them.
_children: dict[int, subprocess.Popen] = {}


class ClusterError(RuntimeError):
    """The local cluster could not be started, reached or stopped."""


def default_state_dir() -> Path:
    return Path(os.environ.get("LODESTAR_CLUSTER_DIR") or Path.home() / ".lodestar" / "cluster")


@dataclass
class ProcessInfo:
    """One process we started: enough to find it again and to be sure it is ours."""

    role: str  # "scheduler" or "worker"
    name: str
    pid: int
    start_time: int  # /proc/<pid>/stat field 22: tells a live process from a recycled pid
    log: str

    def alive(self) -> bool:
        return _start_time(self.pid) == self.start_time


@dataclass
class ClusterInfo:
    address: str
    state_dir: str
    threads_per_worker: int
    memory_limit: str
    nanny: bool
    dashboard_address: str | None
    processes: list[ProcessInfo] = field(default_factory=list)

    @property
    def scheduler(self) -> ProcessInfo:
        return next(p for p in self.processes if p.role == "scheduler")

    @property
    def workers(self) -> list[ProcessInfo]:
        return [p for p in self.processes if p.role == "worker"]

    def save(self) -> None:
        path = Path(self.state_dir) / STATE_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)  # readers never see a half-written file

    @classmethod
    def load(cls, state_dir: str | os.PathLike | None = None) -> ClusterInfo | None:
        path = Path(state_dir or default_state_dir()) / STATE_FILE
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            data["processes"] = [ProcessInfo(**p) for p in data.get("processes", [])]
            return cls(**data)
        except (ValueError, TypeError, KeyError) as e:
            raise ClusterError(f"{path} is not a Lodestar cluster state file ({e}); delete it if no cluster is running") from e


def _start_time(pid: int) -> int | None:
    """The kernel's start time of a live process, None when it does not exist
    (or is a zombie: it already exited and only waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def _python_module_command(module: str) -> list[str]:
    # The same interpreter as ours: the workers must import the same lodestar.
    return [sys.executable, "-m", module]


def _spawn(role: str, name: str, argv: list[str], state_dir: Path, env: dict[str, str]) -> ProcessInfo:
    log_path = state_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        # start_new_session: the process leads its own process group, so a
        # Ctrl-C in the user's terminal does not reach it and stop() can
        # signal the group (a nanny and its worker child) as a unit.
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    start = None
    for _ in range(100):  # /proc entry appears immediately; be tolerant anyway
        start = _start_time(proc.pid)
        if start is not None:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    if start is None:
        raise ClusterError(f"{role} {name} exited at once; see {log_path}:\n{_tail(log_path)}")
    _children[proc.pid] = proc  # reaped by _reap() when it exits while we still run
    return ProcessInfo(role=role, name=name, pid=proc.pid, start_time=start, log=str(log_path))


def _tail(path: str | Path, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _validate(n_workers: int, threads_per_worker: int) -> None:
    if not isinstance(n_workers, int) or n_workers < 1:
        raise ClusterError(f"n_workers must be a positive integer, got {n_workers!r}")
    if not isinstance(threads_per_worker, int) or threads_per_worker < 1:
        raise ClusterError(f"threads_per_worker must be a positive integer, got {threads_per_worker!r}")


def worker_command(address: str, name: str, threads: int, memory_limit: str, nanny: bool, state_dir: Path) -> list[str]:
    """The argv of one `dask worker` process bound to 127.0.0.1."""
    return [
        *_python_module_command("distributed.cli.dask_worker"),
        address,
        "--host", HOST,
        "--name", name,
        "--nthreads", str(threads),
        "--memory-limit", str(memory_limit),
        "--nanny" if nanny else "--no-nanny",
        "--no-dashboard",
        "--local-directory", str(state_dir / "work"),
    ]  # fmt: skip


def start(
    n_workers: int = 2,
    threads_per_worker: int = 1,
    memory_limit: str = "auto",
    state_dir: str | os.PathLike | None = None,
    port: int = 0,
    dashboard_port: int | None = None,
    nanny: bool = True,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> ClusterInfo:
    """Start a scheduler and `n_workers` workers on 127.0.0.1 and wait until
    every worker has registered. `port=0` picks a free port. Raises
    ClusterError when a cluster from the same state directory is still running
    or when the processes do not come up (everything started is stopped again).

    memory_limit: per worker, e.g. "4GB", "auto" (RAM / workers) or "0" (none).
    nanny: run each worker under a nanny that restarts it and enforces the
    memory limit; without it the worker process is exactly the pid recorded.
    env: environment of the processes (default: ours).
    """
    _validate(n_workers, threads_per_worker)
    state = Path(state_dir or default_state_dir()).resolve()
    state.mkdir(parents=True, exist_ok=True)
    existing = ClusterInfo.load(state)
    if existing is not None:
        if any(p.alive() for p in existing.processes):
            raise ClusterError(f"a cluster is already running from {state} at {existing.address}; stop it first")
        (state / STATE_FILE).unlink()  # stale: all its processes are gone
    scheduler_file = state / "scheduler-address.json"
    scheduler_file.unlink(missing_ok=True)
    env = dict(os.environ if env is None else env)
    dashboard = ["--dashboard-address", f"{HOST}:{dashboard_port}"] if dashboard_port is not None else ["--no-dashboard"]

    info = ClusterInfo(
        address="",
        state_dir=str(state),
        threads_per_worker=threads_per_worker,
        memory_limit=str(memory_limit),
        nanny=nanny,
        dashboard_address=f"http://{HOST}:{dashboard_port}/status" if dashboard_port is not None else None,
    )
    try:
        argv = [
            *_python_module_command("distributed.cli.dask_scheduler"),
            "--host", HOST,
            "--port", str(port),
            "--scheduler-file", str(scheduler_file),
            *dashboard,
        ]  # fmt: skip
        info.processes.append(_spawn("scheduler", "scheduler", argv, state, env))
        info.save()  # from here on, stop() can clean up even if we die
        info.address = _wait_for_scheduler_file(scheduler_file, info.scheduler, timeout)
        info.save()
        for _ in range(n_workers):
            add_worker(info, env=env, wait=False)
        wait_until_ready(info.address, n_workers, timeout=timeout, processes=info.processes)
    except BaseException:
        stop(state, timeout=10)
        raise
    return info


def add_worker(info: ClusterInfo, env: dict[str, str] | None = None, wait: bool = True, timeout: float = 60.0) -> ProcessInfo:
    """Start one more worker process in a running cluster (e.g. to replace a
    lost one) and record it in the state file."""
    state = Path(info.state_dir)
    taken = {p.name for p in info.processes}
    name = next(f"worker-{i}" for i in range(len(taken) + 1) if f"worker-{i}" not in taken)
    argv = worker_command(info.address, name, info.threads_per_worker, info.memory_limit, info.nanny, state)
    proc = _spawn("worker", name, argv, state, dict(os.environ if env is None else env))
    info.processes.append(proc)
    info.save()
    if wait:
        _wait_for_worker_name(info.address, name, timeout, proc)
    return proc


def _wait_for_scheduler_file(path: Path, scheduler: ProcessInfo, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                return json.loads(path.read_text())["address"]
            except (ValueError, KeyError):
                pass  # being written
        if not scheduler.alive():
            raise ClusterError(
                f"the scheduler exited during start-up; its log {scheduler.log} ends with:\n{_tail(scheduler.log)}"
            )
        time.sleep(0.05)
    raise ClusterError(f"the scheduler did not write {path} within {timeout} s; see {scheduler.log}")


def _scheduler_identity(address: str, timeout: float) -> dict:
    """The scheduler's view of itself (workers, ...), through a short-lived client."""
    from distributed import Client

    with Client(address, timeout=timeout, set_as_default=False) as client:
        return client.scheduler_info(n_workers=-1)


def wait_until_ready(address: str, n_workers: int, timeout: float = 60.0, processes: list[ProcessInfo] | None = None) -> None:
    """Block until the scheduler at `address` has at least `n_workers`
    workers. If one of `processes` dies meanwhile, fail at once with its log."""
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(address, timeout=timeout, set_as_default=False) as client:
        while True:
            have = len(client.scheduler_info(n_workers=-1)["workers"])
            if have >= n_workers:
                return
            for p in processes or []:
                if not p.alive():
                    raise ClusterError(
                        f"{p.name} (pid {p.pid}) exited during start-up; its log {p.log} ends with:\n{_tail(p.log)}"
                    )
            if time.monotonic() > deadline:
                raise ClusterError(f"only {have} of {n_workers} workers registered with {address} within {timeout} s")
            time.sleep(0.1)


def _wait_for_worker_name(address: str, name: str, timeout: float, proc: ProcessInfo) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(address, timeout=timeout, set_as_default=False) as client:
        while name not in {w.get("name") for w in client.scheduler_info(n_workers=-1)["workers"].values()}:
            if not proc.alive():
                raise ClusterError(f"{name} (pid {proc.pid}) exited during start-up; see {proc.log}:\n{_tail(proc.log)}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{name} did not register with {address} within {timeout} s")
            time.sleep(0.1)


def _signal_group(p: ProcessInfo, sig: int) -> None:
    if not p.alive():
        return
    try:
        # Our processes lead their own group (start_new_session): signal the
        # group only if that is still the case, else just the pid.
        if os.getpgid(p.pid) == p.pid:
            os.killpg(p.pid, sig)
        else:
            os.kill(p.pid, sig)
    except ProcessLookupError:
        pass


def stop(state_dir: str | os.PathLike | None = None, timeout: float = 20.0) -> bool:
    """Stop the cluster recorded in `state_dir`: SIGTERM to every process
    group (workers first, then the scheduler), SIGKILL to whatever is left
    after `timeout` seconds, then remove the state file. Returns False when
    there was nothing to stop; calling it twice is harmless."""
    state = Path(state_dir or default_state_dir())
    info = ClusterInfo.load(state)
    if info is None:
        return False
    ordered = info.workers + [p for p in info.processes if p.role != "worker"]
    for p in ordered:
        _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(p.alive() for p in ordered) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.05)
    for p in ordered:
        _signal_group(p, signal.SIGKILL)
    while any(p.alive() for p in ordered) and time.monotonic() < deadline + 5:
        _reap()
        time.sleep(0.05)
    still = [p for p in ordered if p.alive()]
    if still:
        raise ClusterError("could not stop " + ", ".join(f"{p.name} (pid {p.pid})" for p in still))
    (state / STATE_FILE).unlink(missing_ok=True)
    (state / "scheduler-address.json").unlink(missing_ok=True)
    return True


def _reap() -> None:
    """Collect the exited processes this Python process started, so they do
    not linger as zombies (only ours: never waitpid(-1))."""
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            del _children[pid]


def kill_process(p: ProcessInfo, sig: int = signal.SIGKILL) -> bool:
    """Send `sig` to one process of the cluster (not its group), if it is
    still the process we started. Returns whether a signal was sent."""
    if not p.alive():
        return False
    try:
        os.kill(p.pid, sig)
    except ProcessLookupError:
        return False
    return True


def status(state_dir: str | os.PathLike | None = None, timeout: float = 5.0) -> dict:
    """What is running: {"running": bool, "address", "processes": [{name,
    pid, alive}], "workers_registered": int or None (None: the scheduler did
    not answer)}."""
    state = Path(state_dir or default_state_dir())
    info = ClusterInfo.load(state)
    if info is None:
        return {"running": False, "state_dir": str(state), "address": None, "processes": [], "workers_registered": None}
    procs = [{"role": p.role, "name": p.name, "pid": p.pid, "alive": p.alive(), "log": p.log} for p in info.processes]
    registered = None
    if info.address and info.scheduler.alive():
        try:
            registered = len(_scheduler_identity(info.address, timeout)["workers"])
        except Exception:  # noqa: BLE001 - any failure to reach the scheduler means "unknown"
            registered = None
    return {
        "running": any(p["alive"] for p in procs),
        "state_dir": str(state),
        "address": info.address or None,
        "dashboard": info.dashboard_address,
        "threads_per_worker": info.threads_per_worker,
        "memory_limit": info.memory_limit,
        "processes": procs,
        "workers_registered": registered,
    }
