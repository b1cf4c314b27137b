"""The xmatch() SQL table function from `lodestar sql`: same pairs as the Python crossmatch, clear errors."""

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

import lodestar


def _write_points(path, ra, dec, prefix):
    pd.DataFrame({f"{prefix}_id": np.arange(len(ra), dtype=np.int64), "ra": ra, "dec": dec, "mag": np.linspace(10, 20, len(ra))}).to_parquet(path)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Two catalogs over a patch spanning many partitions: b holds near-duplicates (0.5") of a third of a plus random points."""
    root = tmp_path_factory.mktemp("xmatch_sql")
    rng = np.random.default_rng(7)
    n = 4000
    ra_a = rng.uniform(40, 60, n)
    dec_a = rng.uniform(-10, 10, n)
    near = rng.choice(n, n // 3, replace=False)
    angle = rng.uniform(0, 2 * np.pi, len(near))
    offset_deg = 0.5 / 3600
    ra_near = ra_a[near] + offset_deg * np.cos(angle) / np.cos(np.radians(dec_a[near]))
    dec_near = dec_a[near] + offset_deg * np.sin(angle)
    ra_b = np.concatenate([ra_near, rng.uniform(40, 60, n)])
    dec_b = np.concatenate([dec_near, rng.uniform(-10, 10, n)])
    _write_points(root / "a.parquet", ra_a, dec_a, "a")
    _write_points(root / "b.parquet", ra_b, dec_b, "b")
    lodestar.ingest(root / "a.parquet", "a", root=root, pixel_threshold=500, highest_order=6, progress=False)
    lodestar.ingest(root / "b.parquet", "b", root=root, pixel_threshold=500, highest_order=6, progress=False)
    return root


def _sql_rows(root, query):
    result = run_cli("sql", "--root", str(root), "--csv", f"SET lodestar_root = '{root}'; {query}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    return lines[0].split(","), [line.split(",") for line in lines[1:]]


def test_count_matches_python_crossmatch(root):
    cats = lodestar.Catalogs(root)
    expected = len(cats.load("a").crossmatch(cats.load("b"), radius_arcsec=1.0).to_pandas())
    assert expected >= 4000 // 3 * 0.9  # the near-duplicates are found, so the comparison means something
    _, rows = _sql_rows(root, "SELECT count(*) FROM xmatch('a', 'b', 1.0)")
    assert int(rows[0][0]) == expected


def test_pairs_match_python_crossmatch(root):
    cats = lodestar.Catalogs(root)
    expected = cats.load("a").crossmatch(cats.load("b"), radius_arcsec=2.0, n_neighbors=2).to_pandas()
    header, rows = _sql_rows(root, "SELECT a_id, b_id, _dist_arcsec FROM xmatch('a', 'b', 2.0, n_neighbors := 2) ORDER BY a_id, b_id")
    assert header == ["a_id", "b_id", "_dist_arcsec"]
    got = pd.DataFrame(rows, columns=header).astype({"a_id": np.int64, "b_id": np.int64, "_dist_arcsec": float})
    left_id = next(c for c in expected.columns if c.startswith("a_id"))
    right_id = next(c for c in expected.columns if c.startswith("b_id"))
    want = expected[[left_id, right_id]].astype(np.int64).sort_values([left_id, right_id]).to_numpy()
    np.testing.assert_array_equal(got[["a_id", "b_id"]].to_numpy(), want)
    assert (got["_dist_arcsec"] <= 2.0).all()


def test_all_pairs_and_root_parameter(root):
    # Brute force over the cross product of the raw files (no partitioning) gives the truth.
    a = pd.read_parquet(root / "a.parquet")
    b = pd.read_parquet(root / "b.parquet")
    ra1, dec1 = np.radians(a["ra"].to_numpy())[:, None], np.radians(a["dec"].to_numpy())[:, None]
    ra2, dec2 = np.radians(b["ra"].to_numpy())[None, :], np.radians(b["dec"].to_numpy())[None, :]
    hav = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    sep_arcsec = np.degrees(2 * np.arcsin(np.sqrt(hav))) * 3600
    expected = int((sep_arcsec <= 60.0).sum())
    result = run_cli("sql", "--csv", f"SELECT count(*) FROM xmatch('a', 'b', 60.0, all_pairs := true, root := '{root}')")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[1]) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT * FROM xmatch('a', 'missing', 1.0)", "missing"),
        ("SELECT * FROM xmatch('a', 'b', 0.0)", "radius_arcsec must be > 0"),
        ("SELECT * FROM xmatch('a', 'b', -3)", "radius_arcsec must be > 0"),
    ],
)
def test_bad_input_is_a_clear_error(root, query, message):
    result = run_cli("sql", "--root", str(root), f"SET lodestar_root = '{root}'; {query}")
    assert result.returncode != 0
    assert message in result.stderr
