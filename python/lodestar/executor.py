"""Where per-partition work runs: in-process threads (the embedded default) or
a Dask distributed cluster — same API, same results.

Operations build a list of tasks (one per partition, or per aligned partition
pair) and call `get_executor(client).map(fn, tasks)`; `fn` must be a module-level
function whose arguments are small and picklable (file paths, SQL, numbers):
workers read partitions from the shared catalog root themselves and only
results travel back. The C++ kernels release the GIL, so threads scale.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Sequence


class Executor:
    name = "executor"

    def map(self, fn: Callable, tasks: Sequence[Any], desc: str | None = None, progress: bool | None = None) -> list:
        raise NotImplementedError


def _progress_wanted(progress: bool | None, n: int) -> bool:
    if progress is not None:
        return progress and n > 1
    return n > 4 and sys.stderr.isatty()


class ThreadExecutor(Executor):
    """A thread pool in this process (default size: the machine's cores, or LODESTAR_THREADS)."""

    name = "threads"

    def __init__(self, threads: int | None = None):
        self.threads = threads or int(os.environ.get("LODESTAR_THREADS", "0") or 0) or os.cpu_count() or 1

    def map(self, fn, tasks, desc=None, progress=None):
        tasks = list(tasks)
        if len(tasks) <= 1 or self.threads == 1:
            return [fn(t) for t in _maybe_tqdm(tasks, desc, _progress_wanted(progress, len(tasks)))]
        with ThreadPoolExecutor(self.threads) as pool:
            futures = [pool.submit(fn, t) for t in tasks]
            bar = _maybe_bar(len(tasks), desc, _progress_wanted(progress, len(tasks)))
            results = []
            for f in futures:
                results.append(f.result())
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            return results

    def __repr__(self):
        return f"<lodestar.ThreadExecutor threads={self.threads}>"


class DaskExecutor(Executor):
    """Tasks on a Dask distributed cluster. Failed tasks (e.g. a lost worker)
    are retried by Dask; tasks must be idempotent (they are: they only read, or
    write their own partition file under a temporary name)."""

    name = "dask"

    def __init__(self, client, retries: int = 3):
        self.client = client
        self.retries = retries

    def map(self, fn, tasks, desc=None, progress=None):
        tasks = list(tasks)
        if not tasks:
            return []
        futures = self.client.map(fn, tasks, pure=False, retries=self.retries)
        if _progress_wanted(progress, len(tasks)):
            from distributed import as_completed

            bar = _maybe_bar(len(tasks), desc, True)
            for _ in as_completed(futures):
                bar.update(1)
            bar.close()
        return self.client.gather(futures)

    def __repr__(self):
        return f"<lodestar.DaskExecutor {self.client.scheduler.address}>"


def _maybe_bar(total: int, desc: str | None, show: bool):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc or "partitions", unit="part", leave=False)


def _maybe_tqdm(items, desc, show):
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc or "partitions", unit="part", leave=False)


_scheduler_clients: dict[str, Any] = {}


def get_executor(client=None, executor: Executor | None = None) -> Executor:
    """The executor for an operation: an explicit executor; else a Dask client
    passed as `client=`; else LODESTAR_SCHEDULER=tcp://host:port; else threads."""
    if executor is not None:
        return executor
    if client is not None:
        return DaskExecutor(client)
    address = os.environ.get("LODESTAR_SCHEDULER")
    if address:
        if address not in _scheduler_clients:
            from distributed import Client

            _scheduler_clients[address] = Client(address, set_as_default=False)
        return DaskExecutor(_scheduler_clients[address])
    return ThreadExecutor()
