"""Peer: STILTS `tmatch2` (Debian package `stilts`, Java).

`stilts tmatch2 in1=left.fits in2=right.fits matcher=sky values1='ra dec' values2='ra dec' params=<arcsec>`
with `find=all` (all pairs within the radius) and `find=best1` (each left row's best, i.e. nearest, right
row: the nearest-neighbour count), `omode=count` so only the matched row count is produced (no output file
written). The measured time is the whole command, JVM included; the JVM's own start-up (`stilts -version`)
is reported separately as `jvm_start_seconds` so it can be subtracted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from . import DEFAULT_RADIUS_ARCSEC, stopwatch, unavailable

_ROWS = re.compile(r"rows:\s*(\d+)")


def _command(java_heap: str | None) -> list[str]:
    return ["stilts", *([f"-Xmx{java_heap}"] if java_heap else [])]


def version() -> str | None:
    if shutil.which("stilts") is None:
        return None
    out = subprocess.run(["stilts", "-version"], capture_output=True, text=True).stdout
    m = re.search(r"STILTS version (\S+)", out)
    jvm = re.search(r"JVM: (.*)", out)
    return (m.group(1) if m else "?") + (f" ({jvm.group(1).strip()})" if jvm else "")


def jvm_start_seconds(java_heap: str | None = "8g") -> float:
    with stopwatch() as t:
        subprocess.run([*_command(java_heap), "-version"], capture_output=True, check=True)
    return t()


def _tmatch2_count(left: Path, right: Path, radius_arcsec: float, find: str, java_heap: str | None) -> tuple[int, float]:
    argv = [*_command(java_heap), "tmatch2", f"in1={left}", f"in2={right}", "matcher=sky", "values1=ra dec", "values2=ra dec",
            f"params={radius_arcsec!r}", f"find={find}", "omode=count"]
    with stopwatch() as t:
        proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"stilts tmatch2 failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    m = _ROWS.search(proc.stdout)
    if not m:
        raise RuntimeError(f"stilts tmatch2 printed no row count: {proc.stdout.strip()[-300:]!r}")
    return int(m.group(1)), t()


def crossmatch(left_fits: Path | str, right_fits: Path | str, radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
               java_heap: str | None = "8g") -> dict:
    if shutil.which("stilts") is None:
        return unavailable("STILTS is not installed: apt-get install -y stilts")
    pairs_all, seconds = _tmatch2_count(Path(left_fits), Path(right_fits), radius_arcsec, "all", java_heap)
    pairs_nearest, nearest_seconds = _tmatch2_count(Path(left_fits), Path(right_fits), radius_arcsec, "best1", java_heap)
    return {"seconds": seconds, "pairs_all": pairs_all, "nearest_seconds": nearest_seconds, "pairs_nearest": pairs_nearest,
            "jvm_start_seconds": jvm_start_seconds(java_heap), "version": version()}
