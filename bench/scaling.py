"""Figure 7 of the ZTF science-platform paper, reproduced for Lodestar on Dask.

The query is the paper's: the sum of the `ra` column over a large Parquet
catalog. It runs
  - strong scaling: the whole catalog with 1..N workers;
  - weak scaling: n/N of the catalog with n workers (data proportional to workers);
on real `dask scheduler` / `dask worker` processes on 127.0.0.1 (one thread
each, one task per Parquet file), and on the paper's own engine, Apache Spark
(pyspark, local mode with 1..N cores), over the same files. Also measured: the
embedded default (one in-process engine with n threads), the cost of one Dask
task (no-op tasks), and the cost of opening an engine.

    speed-up        = t_ref / t_N                      (paper, eq. 1)
    scaled speed-up = t_ref / t_N * P_N / P_ref        (paper, eq. 2)

with t the best of --repeats runs, P the rows scanned, ref = --reference workers.
All engines and points are timed in interleaved rounds (see run_all), and the
CPU time of each engine's processes is recorded next to the wall time: on a
machine shared with other work, CPU seconds per row is the fair comparison.

    PYTHONPATH=build/<you>/python .venv/bin/python bench/scaling.py --rows 50000000 --workers 2

Writes bench/results/scaling.json and bench/results/scaling.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------------------------
# The Lodestar side. Written against the public API of today; when the executor lands this becomes
# `catalog.sql("SELECT sum(ra) ...", client=client)` and only lodestar_sum_ra changes.


def _worker_engine():
    """One engine per worker thread, opened on first use and kept on the Dask
    worker: opening one costs ~20 ms (DuckDB start-up and function
    registration), as much as scanning a million-row partition, so a task must
    not open its own. (Kept on the worker object rather than in a module
    global so that this function can be shipped to workers by value.)"""
    import lodestar
    from distributed import get_worker

    engines = get_worker().__dict__.setdefault("_lodestar_engines", {})
    con = engines.get(threading.get_ident())
    if con is None:
        con = engines[threading.get_ident()] = lodestar.connect(threads=1)
    return con


def _sql_string(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def sum_ra_partition(paths: str | list[str]) -> tuple[float, int, float]:
    """One task: (sum of ra, rows, seconds spent inside the task) over one
    Parquet file or a group of them (one query: the engine streams them)."""
    start = time.perf_counter()
    listing = "[" + ", ".join(_sql_string(p) for p in ([paths] if isinstance(paths, str) else paths)) + "]"
    table = _worker_engine().arrow(f"SELECT sum(ra) AS s, count(*) AS n FROM read_parquet({listing})")
    return float(table["s"][0].as_py()), int(table["n"][0].as_py()), time.perf_counter() - start


def task_groups(files: list[str], n_workers: int, tasks_per_worker: int) -> list[list[str]]:
    """Contiguous groups of files, `tasks_per_worker` per worker (fewer when there
    are fewer files): each task pays Dask's fixed ~1.5 ms and one query's set-up
    once for several partitions instead of once per partition, and a few tasks
    per worker still balance the load."""
    n_tasks = max(1, min(len(files), n_workers * tasks_per_worker))
    bounds = [round(i * len(files) / n_tasks) for i in range(n_tasks + 1)]
    return [files[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def lodestar_sum_ra(client, files: list[str], workers: list[str] | None = None, tasks_per_worker: int | None = None) -> dict:
    """Sum of `ra` over `files` on a Dask cluster: one task per file (or, with
    tasks_per_worker, that many tasks per worker, each over a group of files);
    the workers read their files themselves, only (sum, rows, seconds) travels
    back. `workers`: run only on these worker addresses (the benchmark's way
    of using n of the cluster's workers). Returns {"sum", "rows", "task_seconds", "tasks"}."""
    module = sys.modules.get(__name__)
    if __name__ != "__main__" and module is not None:
        # Imported (not run as a script): ship this module's functions by value,
        # so workers need not have bench/ on their path.
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)

    # A local function: plain pickle refuses it, so Dask falls back to cloudpickle for the graph (which then
    # honours the by-value registration above) instead of pickling sum_ra_partition by module reference.
    def task(paths) -> tuple[float, int, float]:
        return sum_ra_partition(paths)

    placement = {"workers": workers, "allow_other_workers": False} if workers else {}
    units = files if tasks_per_worker is None else task_groups(files, len(workers or [None]), tasks_per_worker)
    parts = client.gather(client.map(task, units, key="sum-ra", pure=False, **placement))
    return {"sum": math.fsum(p[0] for p in parts), "rows": sum(p[1] for p in parts), "task_seconds": sum(p[2] for p in parts),
            "tasks": len(units)}


def lodestar_sum_ra_in_process(files: list[str], threads: int) -> dict:
    """The embedded default: one in-process engine with `threads` threads."""
    import lodestar

    con = lodestar.connect(threads=threads)
    listing = "[" + ", ".join(_sql_string(f) for f in files) + "]"
    table = con.arrow(f"SELECT sum(ra) AS s, count(*) AS n FROM read_parquet({listing})")
    return {"sum": float(table["s"][0].as_py()), "rows": int(table["n"][0].as_py())}


def _noop(i):
    return i


# ---------------------------------------------------------------------------------------------------------------
# Spark, the seed's engine.


def spark_session(cores: int):
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM binds to localhost only
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(f"lodestar-scaling-{cores}")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.shuffle.partitions", str(cores))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_sum_ra(spark, files: list[str]) -> dict:
    from pyspark.sql import functions as F

    row = spark.read.parquet(*files).agg(F.sum("ra").alias("s"), F.count(F.lit(1)).alias("n")).collect()[0]
    return {"sum": float(row["s"]), "rows": int(row["n"])}


# ---------------------------------------------------------------------------------------------------------------
# Measurement.


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of whole processes (all their threads) from /proc."""
    total = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def measure(fn, cpu_clock) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds of the engine's processes, result) of one run."""
    c0, t0 = cpu_clock(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, cpu_clock() - c0, out


class Series:
    """Timed runs of one engine at one point (n workers, strong or weak)."""

    def __init__(self) -> None:
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.results: list[dict] = []

    def add(self, wall: float, cpu: float, out: dict) -> None:
        if self.results:
            first = self.results[0]
            if out["rows"] != first["rows"] or not math.isclose(out["sum"], first["sum"], rel_tol=1e-12):
                raise RuntimeError(f"result changed between runs: {first} then {out}")
        self.walls.append(wall)
        self.cpus.append(cpu)
        self.results.append(out)

    def summary(self) -> dict:
        best = min(range(len(self.walls)), key=self.walls.__getitem__)
        return {"best_s": self.walls[best], "median_s": statistics.median(self.walls), "times_s": self.walls,
                "cpu_s": min(self.cpus), "cpu_times_s": self.cpus, "result": self.results[best]}  # fmt: skip


def subset(files: list[str], n: int, n_max: int) -> list[str]:
    """The weak-scaling input of n workers: n/n_max of the files (at least one)."""
    return files[: max(1, len(files) * n // n_max)]


def task_overhead_on(client, n_tasks: int, workers: list[str]) -> dict:
    """Per-task cost of Dask itself on these workers: no-op tasks in bulk
    (throughput) and one at a time (round-trip latency)."""
    place = {"workers": workers, "allow_other_workers": False}
    client.gather(client.map(_noop, range(50), pure=False, **place))  # warm up
    t0 = time.perf_counter()
    client.gather(client.map(_noop, range(n_tasks), pure=False, **place))
    bulk = (time.perf_counter() - t0) / n_tasks
    singles = []
    for i in range(50):
        t0 = time.perf_counter()
        client.submit(_noop, i, pure=False, **place).result()
        singles.append(time.perf_counter() - t0)
    return {"tasks": n_tasks, "bulk_s_per_task": bulk, "round_trip_s": statistics.median(singles)}


def engine_open_cost() -> float:
    import lodestar

    t0 = time.perf_counter()
    for _ in range(10):
        lodestar.connect(threads=1)
    return (time.perf_counter() - t0) / 10


def ensure_catalog(path: Path, rows: int, rows_per_file: int, owned: bool = True) -> list[str]:
    """The benchmark's Parquet files, generated when missing. Files this benchmark generated earlier with
    another writer format (their stamp differs; or no stamp, in its own default folder) are generated again;
    a folder given with --data is replaced only when its stamp shows this benchmark generated it."""
    from lodestar import _core

    stamp, key = path.with_name(path.name + ".stamp"), f"{rows} {rows_per_file} {_core.parquet_write_options}"
    stale = stamp.read_text() != key if stamp.exists() else owned
    if path.exists() and stale and (owned or stamp.exists()):
        import shutil

        shutil.rmtree(path)
    if not path.exists():
        print(f"generating {rows:,} rows into {path} ...", flush=True)
        cmd = [
            sys.executable,
            "-m",
            "lodestar.cli",
            "generate-sky",
            str(path),
            "--rows",
            str(rows),
            "--rows-per-file",
            str(rows_per_file),
            "--no-progress",
        ]
        subprocess.run(cmd, check=True)
        stamp.write_text(key)
    files = sorted(str(p) for p in path.glob("*.parquet"))
    if not files:
        raise SystemExit(f"bench/scaling: no Parquet files in {path}")
    return files


def run_all(files: list[str], n_max: int, repeats: int, overhead_tasks: int, with_spark: bool, tasks_per_worker: int = 2) -> dict:
    """Every engine at every point (n = 1..n_max workers, strong and weak),
    interleaved: one warm-up round, then `repeats` rounds that each visit all
    points in turn, so a change of machine load during the benchmark hits
    every engine and point alike instead of biasing one of them.

    Lodestar on Dask: one cluster of n_max single-thread worker processes; the
    n-worker runs use its first n workers (the others stay idle), with
    `tasks_per_worker` tasks per worker over groups of files ("lodestar_dask")
    and, for reference, one task per file ("lodestar_dask_per_file"). Lodestar
    in-process: one engine with n threads. Spark: a fresh local[n] session per
    round (the core count is fixed when a session starts; the JVM, and so its
    JIT, lives on), warmed up with one query before it is timed."""
    from distributed import Client

    from lodestar import cluster

    series: dict[tuple, Series] = {}

    def record(key, rnd, wall, cpu, out):
        if rnd > 0:
            series.setdefault(key, Series()).add(wall, cpu, out)

    with tempfile.TemporaryDirectory(prefix="lodestar-scaling-") as state:
        info = cluster.start(n_workers=n_max, threads_per_worker=1, memory_limit="4GB", nanny=False, state_dir=state, timeout=120)
        try:
            with Client(info.address, timeout=120, set_as_default=False) as client:
                by_name = {w["name"]: a for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
                addresses = [by_name[p.name] for p in info.workers]
                pids = [p.pid for p in info.processes]
                # The CPU of a Dask run: scheduler, workers, and this process (the client submits and gathers).
                dask_cpu = lambda: cpu_seconds(pids) + time.process_time()  # noqa: E731
                points = {}
                for n in range(1, n_max + 1):
                    use, wf = addresses[:n], subset(files, n, n_max)
                    tpw = tasks_per_worker
                    points[("lodestar_dask", n, "strong")] = (lambda use=use: lodestar_sum_ra(client, files, use, tpw), dask_cpu)
                    points[("lodestar_dask", n, "weak")] = (lambda use=use, wf=wf: lodestar_sum_ra(client, wf, use, tpw), dask_cpu)
                    points[("lodestar_dask_per_file", n, "strong")] = (lambda use=use: lodestar_sum_ra(client, files, use), dask_cpu)
                    points[("lodestar_dask_per_file", n, "weak")] = (lambda use=use, wf=wf: lodestar_sum_ra(client, wf, use), dask_cpu)
                    points[("lodestar_in_process", n, "strong")] = (
                        lambda n=n: lodestar_sum_ra_in_process(files, n),
                        time.process_time,
                    )
                    points[("lodestar_in_process", n, "weak")] = (
                        lambda n=n, wf=wf: lodestar_sum_ra_in_process(wf, n),
                        time.process_time,
                    )
                for rnd in range(repeats + 1):
                    for key, (fn, clock) in points.items():
                        record(key, rnd, *measure(fn, clock))
                    if with_spark:
                        for n in range(1, n_max + 1):
                            spark = spark_session(n)
                            try:
                                jvm = spark.sparkContext._gateway.proc.pid
                                spark_sum_ra(spark, files)  # warm-up of this session
                                if rnd > 0:
                                    for kind, fl in (("strong", files), ("weak", subset(files, n, n_max))):
                                        record(
                                            ("spark", n, kind),
                                            rnd,
                                            *measure(lambda s=spark, fl=fl: spark_sum_ra(s, fl), lambda j=jvm: cpu_seconds([j])),
                                        )
                            finally:
                                spark.stop()
                    print(
                        f"round {rnd}/{repeats} done{' (warm-up)' if rnd == 0 else ''}; load average {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                overheads = {n: task_overhead_on(client, overhead_tasks, addresses[:n]) for n in range(1, n_max + 1)}
        finally:
            cluster.stop(state)

    runs: dict[str, dict[int, dict]] = {}
    for (engine, n, kind), ser in series.items():
        runs.setdefault(engine, {}).setdefault(n, {})[kind] = ser.summary()
    for name in ("lodestar_dask", "lodestar_dask_per_file"):
        for n, r in runs[name].items():
            # Dask's share of a run: wall time minus the time the tasks themselves took, spread over n workers.
            tasks = r["strong"]["result"]["tasks"]
            r["scheduling_s_per_task"] = (r["strong"]["best_s"] - r["strong"]["result"]["task_seconds"] / n) / tasks
            r["scheduling_s_per_partition"] = r["scheduling_s_per_task"] * tasks / len(files)
            r["overhead"] = overheads[n]
            r["weak_files"] = len(subset(files, n, n_max))
    return runs


def scaling_table(runs: dict, ref: int) -> dict:
    """Eq. (1) on the strong runs, eq. (2) on the weak runs, throughputs in rows/s."""
    t_ref_strong = runs[ref]["strong"]["best_s"]
    t_ref_weak = runs[ref]["weak"]["best_s"]
    p_ref = runs[ref]["weak"]["result"]["rows"]
    table = {}
    for n, r in runs.items():
        p_n = r["weak"]["result"]["rows"]
        scaled = t_ref_weak / r["weak"]["best_s"] * p_n / p_ref
        table[n] = {
            "speedup": t_ref_strong / r["strong"]["best_s"],
            "scaled_speedup": scaled,
            "weak_efficiency": scaled / (n / ref),
            "strong_rows_per_s": r["strong"]["result"]["rows"] / r["strong"]["best_s"],
            "weak_rows_per_s": p_n / r["weak"]["best_s"],
            # CPU seconds per million rows: insensitive to other load on the machine, unlike wall time.
            "strong_cpu_s_per_mrow": r["strong"]["cpu_s"] / (r["strong"]["result"]["rows"] / 1e6),
        }
    return table


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.5))
    styles = {
        "lodestar_dask": ("Lodestar on Dask (processes)", "o-"),
        "lodestar_dask_per_file": ("Lodestar on Dask, one task per file", "o:"),
        "lodestar_in_process": ("Lodestar in-process (threads)", "s--"),
        "spark": ("Spark local[n]", "^-"),
    }
    n_max = results["parameters"]["workers"]
    ns = list(range(1, n_max + 1))
    ref = results["parameters"]["reference"]
    for key, (label, style) in styles.items():
        if key not in results["scaling"]:
            continue
        table = results["scaling"][key]
        axes[0].plot(ns, [table[str(n)]["speedup"] for n in ns], style, label=label)
        axes[1].plot(ns, [table[str(n)]["scaled_speedup"] for n in ns], style, label=label)
        axes[2].plot(ns, [table[str(n)]["strong_rows_per_s"] / 1e6 for n in ns], style, label=label)
        axes[3].plot(ns, [table[str(n)]["strong_cpu_s_per_mrow"] * 1e3 for n in ns], style, label=label)
    for ax in axes[:2]:
        ax.plot(ns, [n / ref for n in ns], ":", color="grey", label="ideal")
    axes[0].set(
        title=f"Strong scaling: {results['parameters']['rows']:,} rows", xlabel="workers / cores", ylabel="speed-up (eq. 1)"
    )
    axes[1].set(title="Weak scaling: rows ∝ workers", xlabel="workers / cores", ylabel="scaled speed-up (eq. 2)")
    axes[2].set(title="Throughput, whole catalog", xlabel="workers / cores", ylabel="million rows / s")
    axes[3].set(title="CPU cost, whole catalog", xlabel="workers / cores", ylabel="CPU ms per million rows")
    axes[3].set_ylim(bottom=0)
    for ax in axes:
        ax.set_xticks(ns)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("sum(ra) over a Parquet catalog (ZTF science platform, Figure 7)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000_000, help="catalog size (default 5e7)")
    parser.add_argument("--rows-per-file", type=int, default=1_000_000, help="rows per Parquet file = per task (default 1e6)")
    parser.add_argument(
        "--data", type=Path, default=None, help="catalog folder (generated if missing; default out/bench/scaling-sky-<rows>)"
    )
    parser.add_argument("--workers", type=int, default=2, help="N: largest number of workers / Spark cores (default 2)")
    parser.add_argument("--reference", type=int, default=1, help="reference number of workers for eqs. (1)-(2) (default 1)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs per point after one warm-up; the best counts (default 3)"
    )
    parser.add_argument("--overhead-tasks", type=int, default=2000, help="no-op tasks for the per-task overhead (default 2000)")
    parser.add_argument("--no-spark", action="store_true", help="skip Apache Spark")
    parser.add_argument("--tasks-per-worker", type=int, default=2,
                        help="Lodestar on Dask: tasks per worker, each over a group of files (default 2; "
                             "lodestar_dask_per_file is always measured too)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="output folder")
    parser.add_argument("--plot-only", action="store_true", help="redraw scaling.png from an existing scaling.json")
    args = parser.parse_args(argv)
    if args.plot_only:
        plot(json.loads((args.out / "scaling.json").read_text()), args.out / "scaling.png")
        return 0
    if args.workers < 1 or not 1 <= args.reference <= args.workers:
        parser.error("need --workers >= 1 and 1 <= --reference <= --workers")
    if args.rows < 1 or args.rows_per_file < 1 or args.repeats < 1:
        parser.error("--rows, --rows-per-file and --repeats must be positive")

    if not args.no_spark:
        import shutil

        if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
            parser.error("Spark needs Java 17+ (Debian: apt-get install openjdk-17-jre-headless); or pass --no-spark")
        try:
            import pyspark  # noqa: F401
        except ImportError:
            parser.error("Spark peer: `pip install pyspark` into this venv, or pass --no-spark")

    data = args.data or REPO / "out" / "bench" / f"scaling-sky-{args.rows}"
    files = ensure_catalog(data, args.rows, args.rows_per_file, owned=args.data is None)
    if len(files) < args.workers:
        parser.error(f"{len(files)} files cannot keep {args.workers} workers busy: lower --rows-per-file")
    size = sum(os.path.getsize(f) for f in files)
    load_at_start = os.getloadavg()
    print(
        f"{len(files)} files, {size / 1e9:.2f} GB in {data}; load average {load_at_start[0]:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )

    runs = run_all(files, args.workers, args.repeats, args.overhead_tasks, with_spark=not args.no_spark,
                   tasks_per_worker=args.tasks_per_worker)

    # Every engine must have computed the same sum over the same rows.
    truth = runs["lodestar_in_process"][1]["strong"]["result"]
    for name, by_n in runs.items():
        for n, r in by_n.items():
            got = r["strong"]["result"]
            if got["rows"] != truth["rows"] or not math.isclose(got["sum"], truth["sum"], rel_tol=1e-9):
                raise SystemExit(f"bench/scaling: {name} with {n} workers computed {got}, expected {truth}")

    scaling = {name: {str(n): v for n, v in scaling_table(by_n, args.reference).items()} for name, by_n in runs.items()}
    ratios = {}
    if "spark" in runs:
        for n in range(1, args.workers + 1):
            spark_tp = scaling["spark"][str(n)]["strong_rows_per_s"]
            ratios[str(n)] = {
                "lodestar_dask_over_spark": scaling["lodestar_dask"][str(n)]["strong_rows_per_s"] / spark_tp,
                "lodestar_dask_per_file_over_spark": scaling["lodestar_dask_per_file"][str(n)]["strong_rows_per_s"] / spark_tp,
                "lodestar_in_process_over_spark": scaling["lodestar_in_process"][str(n)]["strong_rows_per_s"] / spark_tp,
                "cpu_efficiency_lodestar_dask_over_spark": scaling["spark"][str(n)]["strong_cpu_s_per_mrow"]
                / scaling["lodestar_dask"][str(n)]["strong_cpu_s_per_mrow"],
                "cpu_efficiency_lodestar_in_process_over_spark": scaling["spark"][str(n)]["strong_cpu_s_per_mrow"]
                / scaling["lodestar_in_process"][str(n)]["strong_cpu_s_per_mrow"],
            }
    results = {
        "benchmark": "sum(ra), strong and weak scaling (ZTF science platform paper, Figure 7, eqs. 1-2)",
        "parameters": {
            "rows": truth["rows"],
            "files": len(files),
            "bytes": size,
            "rows_per_file": args.rows_per_file,
            "workers": args.workers,
            "reference": args.reference,
            "repeats": args.repeats,
            "tasks_per_worker": args.tasks_per_worker,
            "data": str(data),
        },  # fmt: skip
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": os.getloadavg(),
        },
        "sum_ra": truth["sum"],
        "scaling": scaling,
        "throughput_ratio_vs_spark": ratios,
        "dask_overhead": {
            str(n): {**r["overhead"], "scheduling_s_per_partition": r["scheduling_s_per_partition"],
                     "scheduling_s_per_task_grouped": runs["lodestar_dask"][n]["scheduling_s_per_task"],
                     "scheduling_s_per_partition_grouped": runs["lodestar_dask"][n]["scheduling_s_per_partition"]}
            for n, r in runs["lodestar_dask_per_file"].items()
        },
        "engine_open_s": engine_open_cost(),
        "runs": {name: {str(n): r for n, r in by_n.items()} for name, by_n in runs.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / "scaling.png")

    print(f"\nsum(ra) = {truth['sum']:.6f} over {truth['rows']:,} rows in {len(files)} files")
    header = ("engine", "n", "strong s", "speed-up", "weak s", "scaled", "eff.", "Mrows/s", "CPU s/Mrow")
    widths = (24, 3, 10, 10, 9, 8, 7, 9, 12)
    print(header[0].ljust(widths[0]) + "".join(h.rjust(w) for h, w in zip(header[1:], widths[1:], strict=True)))
    for name, table in scaling.items():
        for n, row in table.items():
            r = runs[name][int(n)]
            cells = (
                n,
                f"{r['strong']['best_s']:.3f}",
                f"{row['speedup']:.2f}",
                f"{r['weak']['best_s']:.3f}",
                f"{row['scaled_speedup']:.2f}",
                f"{row['weak_efficiency']:.0%}",
                f"{row['strong_rows_per_s'] / 1e6:.1f}",
                f"{row['strong_cpu_s_per_mrow']:.4f}",
            )
            print(name.ljust(widths[0]) + "".join(str(c).rjust(w) for c, w in zip(cells, widths[1:], strict=True)))
    for n, r in ratios.items():
        print(
            f"vs Spark with {n}: throughput Lodestar on Dask {r['lodestar_dask_over_spark']:.1f}x "
            f"(one task per file {r['lodestar_dask_per_file_over_spark']:.1f}x), "
            f"in-process {r['lodestar_in_process_over_spark']:.1f}x; CPU per row "
            f"{r['cpu_efficiency_lodestar_dask_over_spark']:.1f}x / "
            f"{r['cpu_efficiency_lodestar_in_process_over_spark']:.1f}x less"
        )
    for n, o in results["dask_overhead"].items():
        print(
            f"Dask overhead with {n} workers: {o['bulk_s_per_task'] * 1e3:.2f} ms per no-op task in bulk, "
            f"{o['round_trip_s'] * 1e3:.2f} ms round trip, "
            f"{o['scheduling_s_per_partition'] * 1e3:.2f} ms per partition in the query with one task per file, "
            f"{o['scheduling_s_per_partition_grouped'] * 1e3:.2f} ms with grouped tasks"
        )
    print(f"wrote {args.out / 'scaling.json'} and {args.out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
