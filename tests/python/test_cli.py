"""The `lodestar` command: documentation-like help, SQL, errors, data generation."""

from conftest import run_cli


def test_help_reads_like_documentation():
    out = run_cli("--help")
    assert out.returncode == 0
    for text in ("ang_sep(ra1, dec1, ra2, dec2)", "healpix29", "sql", "generate-sky"):
        assert text in out.stdout
    sql_help = run_cli("sql", "--help")
    assert sql_help.returncode == 0
    assert "cone_contains" in sql_help.stdout and "--max-rows" in sql_help.stdout


def test_sql_prints_table_and_timing():
    out = run_cli("sql", "SELECT healpix_nest(0, 45, 60) AS pix, ang_sep(0, 0, 0, 1) AS sep")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split("|")[0].strip() == "pix"
    assert lines[2].split("|")[0].strip() == "0"
    assert lines[-1].startswith("(1 row, ")


def test_sql_csv():
    out = run_cli("sql", "--csv", "SELECT i, i * 2 AS twice FROM range(3) t(i)")
    assert out.stdout.splitlines() == ["i,twice", "0,0", "1,2", "2,4"]


def test_sql_errors_exit_nonzero_with_message():
    out = run_cli("sql", "SELECT ang_sep(0, 95, 0, 0)")
    assert out.returncode == 1
    assert "lodestar: error:" in out.stderr and "declination must be within [-90, 90]" in out.stderr
    out = run_cli("sql", "SELEC 1")
    assert out.returncode == 1 and "syntax error" in out.stderr
    out = run_cli("no-such-command")
    assert out.returncode != 0


def test_generate_sky_is_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("generate-sky", str(a), "--rows", "20000", "--rows-per-file", "7000", "--seed", "3").returncode == 0
    assert run_cli("generate-sky", str(b), "--rows", "20000", "--seed", "3").returncode == 0
    # Same rows, whatever the file split: the symmetric difference is empty.
    diff = (
        f"SELECT (SELECT count(*) FROM '{a}/*.parquet') AS n, count(*) AS differing FROM ("
        f"(SELECT * FROM '{a}/*.parquet' EXCEPT SELECT * FROM '{b}/*.parquet') UNION ALL "
        f"(SELECT * FROM '{b}/*.parquet' EXCEPT SELECT * FROM '{a}/*.parquet'))"
    )
    assert run_cli("sql", "--csv", diff).stdout.splitlines()[1] == "20000,0"
    again = run_cli("generate-sky", str(a), "--rows", "10")
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
