"""Runs every Lodestar benchmark in turn (not part of CI): `make bench`.

Each benchmark prints its table (Lodestar against the named peers, measured in
the same run) and writes JSON under bench/results/. Sizes: pass --quick for a
smoke-sized run, or edit the per-benchmark arguments below.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS = [
    ("catalogs (ingest, sum(ra))", ["catalogs.py", "--ingest-rows", "1e6", "--scan-rows", "1e8"]),
    ("crossmatch and cone search", ["crossmatch.py"]),
    ("crossmatch kernel", ["xmatch_kernel.py"]),
    ("light-curve kernels", ["lightcurve_kernels.py"]),
    ("dimming search through catalogs", ["dimming.py"]),
    ("scaling on Dask (Figure 7) and Spark", ["scaling.py"]),
]

QUICK = {"catalogs.py": ["--ingest-rows", "2e5", "--scan-rows", "2e6"]}


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    failures = []
    for title, (script, *args) in BENCHMARKS:
        path = HERE / script
        if not path.exists():
            print(f"\n#### {title}: {script} is missing, skipped")
            continue
        if quick and script in QUICK:
            args = QUICK[script]
        print(f"\n#### {title}: {script} {' '.join(args)}", flush=True)
        t = time.time()
        rc = subprocess.call([sys.executable, str(path), *args])
        print(f"#### {title}: exit {rc} after {time.time() - t:.0f} s", flush=True)
        if rc != 0:
            failures.append(script)
    if failures:
        print(f"\nbenchmarks that failed: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
