"""Kill -9 an ingest at several points: no partial catalog is ever visible,
and the rerun publishes exactly the input rows."""

import signal
import subprocess
import time

import pytest

import lodestar
from conftest import lodestar_command, run_cli


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    out = tmp_path_factory.mktemp("kill") / "sky"
    assert run_cli("generate-sky", str(out), "--rows", "1500000", "--rows-per-file", "500000", "--no-progress").returncode == 0
    return out


@pytest.mark.parametrize("delay", [0.2, 0.8, 1.6, 3.0])
def test_killed_ingest_leaves_nothing_visible_and_rerun_succeeds(tmp_path, sky, delay):
    root = tmp_path / "root"
    cmd = [*lodestar_command(), "ingest", str(sky / "*.parquet"), "--name", "sky", "--root", str(root),
           "--pixel-threshold", "100000", "--no-progress", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(delay)
    finished_first = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    visible = lodestar.Catalogs(root).list()
    if finished_first:
        assert visible == ["sky"]  # it finished before the kill: the whole catalog is there
    else:
        assert visible == [], f"a partial catalog became visible after kill at {delay}s"
        assert not (root / "sky").exists()
    # The rerun (replacing a finished one if the kill came too late) succeeds with exact rows.
    rerun = subprocess.run(cmd + ["--overwrite"], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    cat = lodestar.Catalogs(root).load("sky")
    con = lodestar.connect()
    diff = con.sql(
        f"SELECT count(*) AS n FROM ((SELECT * FROM read_parquet('{sky}/*.parquet') EXCEPT ALL "
        f"SELECT * EXCLUDE (_healpix_29) FROM {cat.relation_sql()}) UNION ALL (SELECT * EXCLUDE (_healpix_29) FROM "
        f"{cat.relation_sql()} EXCEPT ALL SELECT * FROM read_parquet('{sky}/*.parquet')))"
    )
    assert diff["n"].iloc[0] == 0 and cat.count() == 1_500_000
    # The killed run's staging folder was cleaned by the rerun.
    assert [p.name for p in root.iterdir()] == ["sky"]
