"""Smoke test of the benchmark peers (bench/peers): on a tiny generated crossmatch case, every installed peer
runs and finds exactly the pairs a brute-force numpy search finds. Peers that are not installed are skipped
with the reason. Timings are never checked here (they belong to bench/run_peers.py)."""

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from peers import (  # noqa: E402
    DEFAULT_RADIUS_ARCSEC,
    acid_peer,
    astropy_sky,
    duckdb_copy,
    hats_import,
    inputs,
    is_unavailable,
    lsdb_peer,
    q3c,
    stilts,
)

N = 2000  # rows per side: small enough for the whole file to stay well under two minutes


def unit_vectors(ra, dec):
    ra, dec = np.radians(ra), np.radians(dec)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return inputs.crossmatch_case(tmp_path_factory.mktemp("bench-peers"), "dense", N)


@pytest.fixture(scope="module")
def truth(case):
    """Pair counts by brute force over all N x N separations (chord length on the unit sphere)."""
    import pyarrow.parquet as pq

    left = pq.read_table(case.path("left", "parquet")).to_pandas()
    right = pq.read_table(case.path("right", "parquet")).to_pandas()
    a, b = unit_vectors(left.ra.values, left.dec.values), unit_vectors(right.ra.values, right.dec.values)
    chord = 2 * np.sin(np.radians(DEFAULT_RADIUS_ARCSEC / 3600.0) / 2)
    within = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2) <= chord**2
    return {"pairs_all": int(within.sum()), "pairs_nearest": int(within.any(axis=1).sum()), "sum_ra": float(right.ra.sum()),
            "true_matches": case.manifest["true_matches"]}


@pytest.fixture(scope="module")
def hats_catalogs(case, tmp_path_factory):
    pytest.importorskip("hats_import", reason="hats-import is not installed (pip install hats-import)")
    out = tmp_path_factory.mktemp("bench-peers-hats")
    with hats_import.dask_client(n_workers=1, processes=False) as (client, _):  # in-process: starts in well under 1 s
        # only the right side needs a margin cache for a left x right crossmatch
        cats = {side: hats_import.import_catalog(case.path(side, "parquet"), out, side, client=client, pixel_threshold=1000,
                                                 margin_arcsec=5.0 if side == "right" else None)
                for side in ("left", "right")}
    for side, result in cats.items():
        assert not is_unavailable(result), result
        assert result["rows"] == N
        assert result["partitions"] > 1  # the threshold really split the field
    return cats


def check_counts(result, truth, *keys):
    assert not is_unavailable(result), result["unavailable"]
    assert result["seconds"] is not None and result["seconds"] >= 0
    assert result["version"]
    for key in keys:
        assert result[key] == truth[key], (key, result[key], truth[key])


def test_inputs_are_deterministic_and_hold_the_planted_matches(case, truth, tmp_path):
    again = inputs.crossmatch_case(tmp_path, "dense", N)
    assert again.path("right", "parquet").read_bytes() == case.path("right", "parquet").read_bytes()
    # every moved copy is 0.4" from its source, well inside 1": all are found, plus any chance neighbours
    assert truth["pairs_nearest"] >= truth["true_matches"] == int(0.8 * N)
    assert truth["pairs_all"] >= truth["pairs_nearest"]


def test_astropy(case, truth):
    pytest.importorskip("astropy", reason="astropy is not installed")
    check_counts(astropy_sky.crossmatch(case.path("left", "parquet"), case.path("right", "parquet")), truth,
                 "pairs_all", "pairs_nearest")


def test_lsdb(hats_catalogs, truth):
    pytest.importorskip("lsdb", reason="lsdb is not installed (pip install lsdb)")
    left, right = hats_catalogs["left"], hats_catalogs["right"]
    check_counts(lsdb_peer.crossmatch(left["catalog"], right["catalog"], right["margin"]), truth, "pairs_nearest", "pairs_all")
    assert lsdb_peer.sum_ra(right["catalog"])["result"] == pytest.approx(truth["sum_ra"], rel=1e-12)


def test_acid(hats_catalogs, truth):
    pytest.importorskip("acid", reason="ACID is not installed (pip install pyacid)")
    left, right = hats_catalogs["left"], hats_catalogs["right"]
    check_counts(acid_peer.crossmatch(left["catalog"], right["catalog"], right["margin"]), truth, "pairs_nearest", "pairs_all")
    assert acid_peer.sum_ra(right["catalog"])["result"] == pytest.approx(truth["sum_ra"], rel=1e-12)


def test_duckdb(hats_catalogs, case, truth, tmp_path):
    pytest.importorskip("duckdb", reason="the duckdb Python package is not installed")
    summed = duckdb_copy.sum_ra(hats_import.leaf_files(hats_catalogs["right"]["catalog"]))
    assert summed["rows"] == N
    assert summed["result"] == pytest.approx(truth["sum_ra"], rel=1e-12)
    copied = duckdb_copy.csv_to_parquet(case.path("left", "csv"), tmp_path / "left.parquet")
    assert copied["rows"] == N


def test_q3c(case, truth):
    reason = q3c.availability()
    if reason:
        pytest.skip(f"q3c peer unavailable: {reason}")
    cones = inputs.random_cones(3, field=(*inputs.DENSE_CENTER, 0.9))
    result = q3c.crossmatch(case.path("left", "csv"), case.path("right", "csv"), cones=cones)
    check_counts(result, truth, "pairs_all", "pairs_nearest")
    # cone counts against brute force on the right catalog
    import pyarrow.parquet as pq

    right = pq.read_table(case.path("right", "parquet")).to_pandas()
    points = unit_vectors(right.ra.values, right.dec.values)
    chord = 2 * np.sin(np.radians(60.0 / 3600.0) / 2)
    expected = sum(int((((points - unit_vectors(ra, dec)) ** 2).sum(axis=1) <= chord**2).sum()) for ra, dec in cones)
    assert result["cone"]["rows"] == expected


def test_q3c_server_is_private_and_cleaned_up():
    reason = q3c.availability()
    if reason:
        pytest.skip(f"q3c peer unavailable: {reason}")
    with q3c.Q3cServer() as server:
        folder = server.folder
        (rows, _ms), = server.sql("SELECT coalesce(nullif(current_setting('listen_addresses'), ''), '<none>');")
        assert rows == ["<none>"]  # unix socket only, no TCP
        assert list(server.socket_dir.glob(".s.PGSQL.*"))
    assert not folder.exists(), "the private PostgreSQL folder was not removed"


def test_stilts(case, truth):
    import shutil

    if shutil.which("stilts") is None:
        pytest.skip("stilts peer unavailable: STILTS is not installed (apt-get install -y stilts)")
    check_counts(stilts.crossmatch(case.path("left", "fits"), case.path("right", "fits"), java_heap="1g"), truth,
                 "pairs_all", "pairs_nearest")
