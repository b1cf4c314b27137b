"""The Python SQL API: results as pandas with numpy dtypes, clear errors."""

import numpy as np
import pandas as pd
import pytest

import lodestar


def test_sql_returns_numpy_dtypes(con):
    df = con.sql(
        "SELECT i::BIGINT AS i, i * 0.5 AS x, (i % 7)::INTEGER AS k, i % 2 = 0 AS even, healpix29(i % 360, 0) AS h "
        "FROM range(10000) t(i)"
    )
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 10000
    assert df["i"].dtype == np.int64
    assert df["x"].dtype == np.float64
    assert df["k"].dtype == np.int32
    assert df["even"].dtype == np.bool_
    assert df["h"].dtype == np.int64
    # The numeric columns are plain numpy arrays, not object arrays of Python numbers.
    assert isinstance(df["x"].to_numpy(), np.ndarray) and df["x"].to_numpy().dtype != object
    np.testing.assert_array_equal(df["i"].to_numpy(), np.arange(10000))


def test_module_level_sql_uses_default_engine():
    df = lodestar.sql("SELECT ang_sep(0, 0, 0, 1) AS d")
    assert df["d"].iloc[0] == pytest.approx(1.0, abs=1e-12)


def test_nulls_become_nan_and_none(con):
    df = con.sql("SELECT CASE WHEN i = 1 THEN NULL ELSE i * 1.5 END AS x, ang_sep(NULL, 0, 0, 0) AS d FROM range(3) t(i)")
    assert np.isnan(df["x"].iloc[1]) and df["x"].iloc[2] == 3.0
    assert df["d"].isna().all()


def test_decimals_become_correctly_rounded_floats(con):
    df = con.sql("SELECT 15.1 AS a, -0.3 AS b, i * 0.1 AS c, sum(i) OVER () AS s FROM range(1000) t(i)")
    assert df["a"].dtype == np.float64 and df["a"].iloc[0] == 15.1 and df["b"].iloc[0] == -0.3
    np.testing.assert_array_equal(df["c"].to_numpy(), [float(f"{i}e-1") for i in range(1000)])
    assert df["s"].dtype == np.int64 and df["s"].iloc[0] == 499500


def test_nested_types_survive(con):
    df = con.sql("SELECT {'mjd': [1.0, 2.0]::DOUBLE[], 'mag': [15.1, 15.3]::DOUBLE[]} AS lc")
    lc = df["lc"].iloc[0]
    assert list(lc["mjd"]) == [1.0, 2.0] and list(lc["mag"]) == [15.1, 15.3]


@pytest.mark.parametrize(
    "query, message",
    [
        ("SELEC 1", "syntax error"),
        ("SELECT ang_sep(0, 100, 0, 0)", "dec1: declination must be within [-90, 90] degrees, got 100"),
        ("SELECT healpix29('nan'::DOUBLE, 0)", "right ascension must be a finite number"),
        ("SELECT healpix29(0, '-inf'::DOUBLE)", "declination must be within"),
        ("SELECT healpix_nest(31, 0, 0)", "order must be within [0, 29], got 31"),
        ("SELECT healpix_nest('nan'::DOUBLE, 0, 0)", "order must be an integer"),
        ("SELECT cone_contains(0, 0, 0, 0, 200)", "radius_deg must be within [0, 180]"),
        ("SELECT ang_sep(1, 2)", "ang_sep"),
        ("SELECT * FROM 'no/such/file.parquet'", "no/such/file.parquet"),
    ],
)
def test_errors_name_the_problem(con, query, message):
    with pytest.raises(lodestar.LodestarError) as info:
        con.sql(query)
    assert message in str(info.value)
    # The connection survives an error.
    assert con.sql("SELECT 1 AS one")["one"].iloc[0] == 1


def test_connect_options():
    c = lodestar.connect(threads=1, memory_limit="1GB")
    assert c.threads == 1
    assert c.sql("SELECT current_setting('threads') AS t")["t"].iloc[0] == 1
    with pytest.raises(lodestar.LodestarError, match="memory_limit"):
        lodestar.connect(memory_limit="lots")


def test_engine_is_shared_across_python_threads(con):
    from concurrent.futures import ThreadPoolExecutor

    def work(k):
        return con.sql(f"SELECT sum(i) AS s FROM range({k}) t(i)")["s"].iloc[0]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(1000, 1040)))
    assert results == [k * (k - 1) // 2 for k in range(1000, 1040)]
