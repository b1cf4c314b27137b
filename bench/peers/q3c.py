"""Peer: PostgreSQL 15 + the Q3C extension (Debian `postgresql-15` + `postgresql-15-q3c`).

The benchmark runs its own throw-away server: `initdb` in a fresh temp folder, listening only on a private
unix socket in that folder (`listen_addresses=''`: no TCP at all), as the unprivileged `postgres` user when
we are root (initdb refuses root). It is always stopped and the folder deleted afterwards (try/finally plus an
atexit hook for interpreter exits). Durability is switched off (fsync, full_page_writes, synchronous_commit):
this is a scratch database and the benchmark measures queries, not the disk.

Timings come from psql's `\\timing` (client-side round trip of each statement on one connection), so the
cost of starting psql is not counted. Setup steps (initdb + start, COPY, index + CLUSTER + ANALYZE) are
reported separately from the measured queries.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import DEFAULT_RADIUS_ARCSEC, percentile_ms, stopwatch, unavailable

SERVER_USER = "postgres"  # created by Debian's postgresql-common
_TIME_LINE = re.compile(r"^Time: ([0-9.]+) ms")


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<v>/bin whose server has the q3c extension installed."""
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        version = Path(bindir).parent.name
        if glob.glob(f"/usr/share/postgresql/{version}/extension/q3c.control") and Path(bindir, "initdb").exists():
            return Path(bindir)
    return None


def availability() -> str | None:
    """None when a q3c server can be run here, else the reason it cannot."""
    if find_bindir() is None:
        return "PostgreSQL with Q3C is not installed: apt-get install -y postgresql-15 postgresql-15-q3c"
    if shutil.which("psql") is None:
        return "psql is not installed: apt-get install -y postgresql-client-15"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run the server as (initdb refuses root)"
        if shutil.which("runuser") is None:
            return "running as root and runuser (util-linux) is missing to drop to the postgres user"
    return None


class Q3cServer:
    """A private PostgreSQL server with the q3c extension, in its own temp folder. Use as a context manager."""

    def __init__(self, work_mem: str = "256MB", shared_buffers: str = "1GB", parallel_workers: int = 2):
        self.bindir = find_bindir()
        self.settings = {
            "listen_addresses": "''",
            "fsync": "off",
            "full_page_writes": "off",
            "synchronous_commit": "off",
            "work_mem": work_mem,
            "maintenance_work_mem": "1GB",
            "shared_buffers": shared_buffers,
            "max_parallel_workers_per_gather": str(parallel_workers),
            "max_wal_size": "8GB",
        }
        self.folder: Path | None = None
        self.started = False
        self.setup_seconds = 0.0

    # -------------------------------------------------------------------------------- process control
    def _as_server_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", SERVER_USER, "--", *argv] if os.geteuid() == 0 else argv

    def _run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        proc = subprocess.run(self._as_server_user(argv), capture_output=True, text=True, **kwargs)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def start(self) -> "Q3cServer":
        reason = availability()
        if reason:
            raise RuntimeError(reason)
        with stopwatch() as t:
            self.folder = Path(tempfile.mkdtemp(prefix="lodestar-q3c-"))
            atexit.register(self.stop)
            if os.geteuid() == 0:
                user = pwd.getpwnam(SERVER_USER)
                os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.data = self.folder / "data"
            self.socket_dir = self.folder / "socket"
            self._run(["mkdir", str(self.socket_dir)])
            self._run([str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", SERVER_USER, "--no-sync",
                       "-E", "UTF8", "--locale=C"])
            options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
            options += f" -k {self.socket_dir}"
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                       "-o", options, "start"])
            self.started = True
            self.sql("CREATE EXTENSION q3c")
        self.setup_seconds = t()
        return self

    def stop(self) -> None:
        if self.folder is None:
            return
        try:
            if self.started:
                subprocess.run(self._as_server_user([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                                                     "stop"]), capture_output=True, text=True, timeout=60)
                self.started = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
            try:
                atexit.unregister(self.stop)
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> "Q3cServer":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -------------------------------------------------------------------------------- SQL
    def psql_argv(self) -> list[str]:
        return ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir), "-U", SERVER_USER, "postgres"]

    def sql(self, script: str, stdin_path: Path | None = None) -> list[tuple[list[str], float | None]]:
        """Run statements on one connection; return [(result lines, milliseconds)] per timed statement."""
        full = "\\timing on\n" + script
        if stdin_path is not None:
            with open(stdin_path, "rb") as data:
                # COPY ... FROM STDIN reads the data after the script: pass both through -c and stdin
                proc = subprocess.run(self._as_server_user(self.psql_argv() + ["-c", "\\timing on", "-c", script]), stdin=data,
                                      capture_output=True, text=True)
        else:
            proc = subprocess.run(self._as_server_user(self.psql_argv()), input=full, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed: {proc.stderr.strip()}")
        out: list[tuple[list[str], float | None]] = []
        lines: list[str] = []
        for line in proc.stdout.splitlines():
            m = _TIME_LINE.match(line)
            if m:
                out.append((lines, float(m.group(1))))
                lines = []
            elif line.strip() and line.strip() != "Timing is on.":
                lines.append(line)
        return out

    def load(self, table: str, csv_path: Path | str) -> None:
        self.sql(f"CREATE TABLE {table} (id bigint, ra double precision, dec double precision, mag real)")
        self.sql(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)", stdin_path=Path(csv_path))

    def index(self, table: str) -> None:
        self.sql(f"CREATE INDEX {table}_q3c ON {table} (q3c_ang2ipix(ra, dec));\n"
                 f"CLUSTER {table} USING {table}_q3c;\nANALYZE {table};")


def version() -> str | None:
    bindir = find_bindir()
    if bindir is None:
        return None
    pg = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    q3c = glob.glob(f"/usr/share/postgresql/{bindir.parent.name}/extension/q3c--*.sql")
    newest = sorted((Path(p).stem.split("--")[-1] for p in q3c), key=lambda v: tuple(int(x) for x in v.split(".")))
    return f"{pg}; q3c {newest[-1] if newest else '?'}"


def crossmatch(left_csv: Path | str, right_csv: Path | str, radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
               cones: np.ndarray | None = None, cone_radius_arcsec: float = 60.0) -> dict:
    """Load both tables, index them, time q3c_join (all pairs and nearest count) and cone latency."""
    reason = availability()
    if reason:
        return unavailable(reason)
    radius_deg = radius_arcsec / 3600.0
    result: dict = {"version": version()}
    with Q3cServer() as server:
        result["server_start_seconds"] = server.setup_seconds
        with stopwatch() as t_load:
            server.load("l", left_csv)
            server.load("r", right_csv)
        with stopwatch() as t_index:
            server.index("l")
            server.index("r")
        result["load_seconds"] = t_load()
        result["index_seconds"] = t_index()
        # q3c_join(ra1, dec1, ra2, dec2, r) uses the index on the second pair's table
        all_sql = f"SELECT count(*) FROM l, r WHERE q3c_join(l.ra, l.dec, r.ra, r.dec, {radius_deg!r});"
        near_sql = (f"SELECT count(*) FROM l WHERE EXISTS (SELECT 1 FROM r WHERE q3c_join(l.ra, l.dec, r.ra, r.dec, {radius_deg!r}));")
        (rows_all, ms_all), (rows_near, ms_near) = server.sql(all_sql + "\n" + near_sql)
        result.update(seconds=ms_all / 1000.0, pairs_all=int(rows_all[0]), nearest_seconds=ms_near / 1000.0,
                      pairs_nearest=int(rows_near[0]))
        if cones is not None and len(cones):
            rad = cone_radius_arcsec / 3600.0
            script = "\n".join(f"SELECT count(*) FROM r WHERE q3c_radial_query(ra, dec, {ra!r}, {dec!r}, {rad!r});"
                               for ra, dec in np.asarray(cones, dtype=float).tolist())
            timed = server.sql(script)
            samples = [ms / 1000.0 for _, ms in timed]
            result["cone"] = {"cones": len(samples), "rows": sum(int(r[0]) for r, _ in timed),
                              "p50_ms": percentile_ms(samples, 50), "p95_ms": percentile_ms(samples, 95)}
    return result
