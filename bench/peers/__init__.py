"""The peers Lodestar is benchmarked against, each behind plain functions.

Every peer function returns a dict with at least ``seconds`` (wall time of the measured step, float) and
``version`` (the peer's version string), plus what it counted: ``pairs_nearest`` / ``pairs_all`` for
crossmatches, ``rows`` for ingests and ``result`` for aggregates. A peer that cannot run here returns
``unavailable(reason)`` instead of raising, so one broken peer never stops a benchmark run.

Crossmatch counts, for a left catalog L and right catalog R and radius r:
* ``pairs_all``     — number of (l, r) pairs with separation <= r (what q3c_join, STILTS find=all,
                      astropy search_around_sky return);
* ``pairs_nearest`` — number of left rows with at least one right row within r, i.e. pairs after keeping
                      only each left row's nearest right neighbour (what LSDB's default crossmatch and
                      ACID's default XMATCH return).
"""

from __future__ import annotations

import contextlib
import time
import traceback
from typing import Any, Callable

DEFAULT_RADIUS_ARCSEC = 1.0  # crossmatch radius used by every peer (true counterparts are 0.4" away)
MARGIN_ARCSEC = 5.0  # HATS margin-cache threshold (must be >= the crossmatch radius)


def unavailable(reason: str, **extra: Any) -> dict:
    """The result of a peer that cannot run here, with the reason a person can act on."""
    return {"unavailable": reason, "seconds": None, **extra}


def is_unavailable(result: dict) -> bool:
    return bool(result.get("unavailable"))


@contextlib.contextmanager
def stopwatch():
    """`with stopwatch() as t: ...` then t() -> elapsed seconds (wall clock, perf_counter)."""
    start = time.perf_counter()
    end: list[float] = []
    try:
        yield lambda: (end[0] if end else time.perf_counter()) - start
    finally:
        end.append(time.perf_counter())


def guarded(fn: Callable[..., dict], *args: Any, **kwargs: Any) -> dict:
    """Call a peer function; turn any exception into an 'unavailable' result naming the error."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a failing peer must not stop the whole run
        tail = traceback.format_exc().strip().splitlines()[-3:]
        return unavailable(f"{type(exc).__name__}: {exc}", traceback_tail=tail)


def percentile_ms(samples_s: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(samples_s) * 1000.0, q))


def agreement(results: dict[str, dict], key: str) -> dict:
    """Which peers reported `key` and whether they all gave the same number."""
    values = {peer: r[key] for peer, r in results.items() if isinstance(r, dict) and r.get(key) is not None}
    distinct = sorted(set(values.values()))
    return {"key": key, "values": values, "agree": len(distinct) <= 1, "distinct": distinct}
