"""Catalog roots on S3 against a real S3-compatible server that checks SigV4
signatures (moto's server, started on 127.0.0.1 by s3_harness): ingest, open by
name, searches, crossmatch and writes give the same results as a local root;
LSDB opens what Lodestar wrote; reads fetch only the column chunks they need;
injected faults change nothing; interrupted uploads leave nothing visible."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import lodestar
from lodestar import _core, storage
from catalog_checks import multiset
from conftest import run_cli
from s3_harness import BUCKET, S3Proxy, S3Server

pytest.importorskip("moto")
pytest.importorskip("s3fs")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = S3Server(str(tmp_path_factory.mktemp("moto") / "moto.log"))
    yield srv
    srv.stop()


@pytest.fixture
def s3env(server, monkeypatch):
    """The AWS environment pointing at the server directly; metadata caches reset around each test."""

    def use(endpoint=None, **overrides):
        for k, v in {**server.env(endpoint), **overrides}.items():
            monkeypatch.setenv(k, v)
        _core.forget_catalog("")

    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(k, raising=False)
    use()
    yield use
    _core.forget_catalog("")


@pytest.fixture
def proxy(server):
    proxies = []

    def make(**kw):
        p = S3Proxy(server.port, **kw)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.stop()


def make_sky(path, n=30_000, seed=3, shift_from=None):
    """Random sky (uniform on the sphere) with ids and magnitudes, as CSV;
    or, with shift_from, 80% copies of those points moved by ~0.4 arcsec."""
    rng = np.random.default_rng(seed)
    if shift_from is None:
        ra = rng.uniform(0, 360, n)
        dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    else:
        base = pd.read_csv(shift_from)
        k = int(0.8 * n)
        pick = rng.choice(len(base), k, replace=False)
        ra = np.concatenate([(base.ra.values[pick] + 0.4 / 3600 / np.maximum(np.cos(np.radians(base.dec.values[pick])), 1e-3)) % 360,
                             rng.uniform(0, 360, n - k)])
        dec = np.concatenate([np.clip(base.dec.values[pick], -90, 90), np.degrees(np.arcsin(rng.uniform(-1, 1, n - k)))])
    df = pd.DataFrame({"id": np.arange(n), "ra": ra, "dec": dec, "mag": rng.normal(16, 2, n).round(4)})
    df.to_csv(path, index=False)
    return df


def s3root(name: str) -> str:
    return f"s3://{BUCKET}/{name}"


def sorted_frame(df: pd.DataFrame, by) -> pd.DataFrame:
    return df.sort_values(by).reset_index(drop=True)


def test_workflow_on_s3_equals_local_root(tmp_path, server, s3env):
    left_csv, right_csv = tmp_path / "left.csv", tmp_path / "right.csv"
    left_df = make_sky(left_csv)
    make_sky(right_csv, n=20_000, seed=4, shift_from=left_csv)
    local, remote = str(tmp_path / "root"), s3root("workflow")
    opts = dict(pixel_threshold=4000, highest_order=6, progress=False)
    for root in (local, remote):
        lodestar.ingest(str(left_csv), "left", root=root, **opts)
        lodestar.ingest(str(right_csv), "right", root=root, margin_arcsec=10, **opts)

    cats_l, cats_r = lodestar.Catalogs(local), lodestar.Catalogs(remote)
    assert cats_r.list() == cats_l.list() == ["left", "right"]
    a_l, a_r = cats_l.load("left"), cats_r.load("left")
    assert len(a_r) == len(a_l) == len(left_df)
    assert a_r.columns == a_l.columns
    assert a_r.partitions[["Norder", "Npix"]].equals(a_l.partitions[["Norder", "Npix"]])
    assert multiset(a_r.to_pandas(), ["id", "ra", "dec", "mag"]) == multiset(left_df, ["id", "ra", "dec", "mag"])

    # Searches: the same rows from both roots (and the cone equals brute force).
    cone_l = a_l.cone_search(ra=40.0, dec=-20.0, radius_arcsec=4 * 3600).to_pandas()
    cone_r = a_r.cone_search(ra=40.0, dec=-20.0, radius_arcsec=4 * 3600).to_pandas()
    brute = left_df[lodestar.ang_sep(left_df.ra.values, left_df.dec.values, np.full(len(left_df), 40.0), np.full(len(left_df), -20.0)) <= 4.0]
    assert sorted(cone_r.id) == sorted(cone_l.id) == sorted(brute.id) and len(brute) > 10
    box_r = a_r.box_search(ra=(350, 10), dec=(-5, 5)).to_pandas()
    assert sorted(box_r.id) == sorted(a_l.box_search(ra=(350, 10), dec=(-5, 5)).to_pandas().id)

    # Crossmatch with the right side's margin cache (a collection on S3 too).
    b_r = cats_r.load("right")
    assert b_r.margin is not None and storage.is_remote(b_r.margin.path)
    x_l = a_l.crossmatch(cats_l.load("right"), radius_arcsec=1.0).to_pandas()
    x_r = a_r.crossmatch(b_r, radius_arcsec=1.0).to_pandas()
    assert len(x_r) == len(x_l) >= 15_000
    key = ["id_left", "id_right"] if "id_left" in x_r.columns else list(x_r.columns[:2])
    pd.testing.assert_frame_equal(sorted_frame(x_r, key), sorted_frame(x_l, key))

    # Writes: a derived catalog and a crossmatch result, published on S3 and loaded by name.
    a_r.where("mag < 15").write("bright")
    a_l.where("mag < 15").write("bright")
    assert "bright" in cats_r.list()
    keys = server.keys("workflow/bright/")
    assert "workflow/bright/dataset/_metadata" in keys and "workflow/bright/skymap.fits" in keys
    with storage.open_file(f"{remote}/bright/dataset/_metadata") as f:
        assert pq.read_metadata(f).num_rows == len(cats_r.load("bright")) == (left_df.mag < 15).sum()
    assert multiset(cats_r.load("bright").to_pandas(), ["id", "ra", "dec", "mag"]) == \
        multiset(cats_l.load("bright").to_pandas(), ["id", "ra", "dec", "mag"])
    a_r.crossmatch(b_r, radius_arcsec=1.0).write("left_x_right", root=remote)
    got = cats_r.load("left_x_right").to_pandas()
    pd.testing.assert_frame_equal(sorted_frame(got[x_l.columns], key), sorted_frame(x_l, key), check_dtype=False)

    # SQL over every catalog of the S3 root by name.
    n = cats_r.sql('SELECT count(*) AS n FROM "left" JOIN bright USING (id)')["n"][0]
    assert n == (left_df.mag < 15).sum()

    # Nothing left behind: no staging objects, no unfinished uploads.
    assert not [k for k in server.keys("workflow/") if "/.lodestar-staging/" in k]
    assert server.multipart_uploads("workflow/") == []


def test_existing_name_refused_and_overwrite_replaces(tmp_path, server, s3env):
    csv = tmp_path / "a.csv"
    make_sky(csv, n=3000)
    root = s3root("overwrite")
    lodestar.ingest(str(csv), "a", root=root, progress=False, pixel_threshold=1000)
    with pytest.raises(lodestar.LodestarError, match="already exists"):
        lodestar.ingest(str(csv), "a", root=root, progress=False)
    assert len(lodestar.Catalogs(root).load("a")) == 3000
    small = tmp_path / "b.csv"
    make_sky(small, n=500, seed=9)
    lodestar.ingest(str(small), "a", root=root, progress=False, overwrite=True)
    assert len(lodestar.Catalogs(root).load("a")) == 500
    # The replaced catalog's leaves are gone: only the new partitions remain.
    cat = lodestar.Catalogs(root).load("a")
    leaves = [k for k in server.keys("overwrite/a/dataset/") if k.endswith(".parquet")]
    assert len(leaves) == len(cat.partitions)


def test_lsdb_opens_a_catalog_lodestar_wrote_on_s3(tmp_path, server, s3env):
    lsdb = pytest.importorskip("lsdb")
    from upath import UPath

    csv = tmp_path / "a.csv"
    df = make_sky(csv, n=5000)
    root = s3root("interop")
    lodestar.ingest(str(csv), "stars", root=root, progress=False, pixel_threshold=1500)
    path = UPath(f"{root}/stars", endpoint_url=server.endpoint, key=server.key_id, secret=server.secret)
    from hats.io.validation import is_valid_catalog

    assert is_valid_catalog(path, strict=True)
    a = lodestar.Catalogs(root).load("stars")
    a.where("mag < 16").write("derived")  # written on S3 by the engine, not uploaded from a local ingest
    assert is_valid_catalog(UPath(f"{root}/derived", endpoint_url=server.endpoint, key=server.key_id, secret=server.secret), strict=True)
    got = lsdb.open_catalog(path).compute().reset_index(drop=True)
    assert multiset(got, ["id", "ra", "dec", "mag"]) == multiset(df, ["id", "ra", "dec", "mag"])


def test_sum_of_ra_fetches_only_the_ra_chunks_and_footers(tmp_path, server, s3env, proxy):
    csv = tmp_path / "a.csv"
    df = make_sky(csv, n=200_000, seed=5)
    root = s3root("bytes")
    lodestar.ingest(str(csv), "stars", root=root, progress=False, pixel_threshold=40_000)
    # What the query needs, from the leaves' own Parquet metadata: every ra column chunk, plus each footer.
    needed = 0
    s3 = storage.filesystem()
    leaves = [k for k in server.keys("bytes/stars/dataset/") if k.endswith(".parquet")]
    for key in leaves:
        with s3.open(f"{BUCKET}/{key}") as f:
            meta = pq.ParquetFile(f).metadata
        col = meta.schema.names.index("ra")
        needed += sum(meta.row_group(i).column(col).total_compressed_size for i in range(meta.num_row_groups))
        needed += meta.serialized_size + 8
    whole = sum(s3.size(f"{BUCKET}/{k}") for k in leaves)

    p = proxy()
    s3env(endpoint=p.endpoint)
    con = lodestar.connect(threads=2)
    cat = lodestar.open_catalog(f"{root}/stars", connection=con)
    p.reset_stats()
    got = cat.sql("SELECT sum(ra) AS s FROM stars")["s"][0]
    assert got == pytest.approx(df.ra.sum(), rel=1e-12)
    fetched = sum(n for m, path, _, n in p.stats.requests if m == "GET" and ".parquet" in path)
    print(f"sum(ra): fetched {fetched:,} bytes of leaves; ra chunks + footers {needed:,}; whole leaves {whole:,}")
    assert fetched <= 1.2 * needed, (fetched, needed, whole)
    assert fetched < 0.5 * whole


def test_injected_faults_change_no_result(tmp_path, server, s3env, proxy):
    left_csv, right_csv = tmp_path / "l.csv", tmp_path / "r.csv"
    make_sky(left_csv, n=8000, seed=11)
    make_sky(right_csv, n=6000, seed=12, shift_from=left_csv)
    local = str(tmp_path / "root")
    opts = dict(pixel_threshold=2000, highest_order=5, progress=False)
    lodestar.ingest(str(left_csv), "l", root=local, **opts)
    lodestar.ingest(str(right_csv), "r", root=local, **opts)
    cl, cr = lodestar.Catalogs(local).load("l"), lodestar.Catalogs(local).load("r")
    expect_cone = sorted(cl.cone_search(ra=100, dec=30, radius_arcsec=8 * 3600).to_pandas().id)
    expect_x = cl.crossmatch(cr, radius_arcsec=1.0).to_pandas()

    p = proxy(fault_rate=0.2, seed=1)
    s3env(endpoint=p.endpoint)
    root = s3root("faults")
    lodestar.ingest(str(left_csv), "l", root=root, **opts)
    lodestar.ingest(str(right_csv), "r", root=root, **opts)
    con = lodestar.connect(threads=2)
    cats = lodestar.Catalogs(root, connection=con)
    assert cats.list() == ["l", "r"]
    rl, rr = cats.load("l"), cats.load("r")
    assert multiset(rl.to_pandas(), ["id", "ra", "dec", "mag"]) == multiset(cl.to_pandas(), ["id", "ra", "dec", "mag"])
    assert sorted(rl.cone_search(ra=100, dec=30, radius_arcsec=8 * 3600).to_pandas().id) == expect_cone
    x = rl.crossmatch(rr, radius_arcsec=1.0)
    key = list(expect_x.columns[:2])
    pd.testing.assert_frame_equal(sorted_frame(x.to_pandas(), key), sorted_frame(expect_x, key))
    x.write("l_x_r")
    written = cats.load("l_x_r").to_pandas()[expect_x.columns]
    pd.testing.assert_frame_equal(sorted_frame(written, key), sorted_frame(expect_x, key), check_dtype=False)
    print(f"{p.stats.faults} faults injected in {p.stats.count()} requests")
    assert p.stats.faults >= 20


def test_interrupted_upload_leaves_nothing_visible(tmp_path, server, s3env, proxy):
    csv = tmp_path / "a.csv"
    make_sky(csv, n=20_000, seed=21)
    root = s3root("interrupted")
    # Ingest: the connection drops after a few uploads.
    p = proxy(refuse_writes_after=4)
    s3env(endpoint=p.endpoint, LODESTAR_S3_RETRIES="2")
    with pytest.raises(lodestar.LodestarError):
        lodestar.ingest(str(csv), "cut", root=root, progress=False, pixel_threshold=2000)
    s3env()
    assert "cut" not in lodestar.Catalogs(root).list()
    assert server.keys("interrupted/cut/") == []
    assert server.keys("interrupted/.lodestar-staging/") == []
    assert server.multipart_uploads("interrupted/") == []
    # The rerun succeeds with every row.
    assert len(lodestar.ingest(str(csv), "cut", root=root, progress=False, pixel_threshold=2000)) == 20_000


def test_interrupted_multipart_write_is_aborted(tmp_path, server, s3env, proxy, monkeypatch):
    """A leaf big enough for a multipart upload (parts of 5 MiB), cut off mid-way:
    no catalog, no staging objects, no unfinished multipart upload remain."""
    root = s3root("multipart")
    n = 1_500_000
    rng = np.random.default_rng(2)
    big = tmp_path / "big.parquet"
    pq.write_table(pd.DataFrame({"ra": rng.uniform(0, 10, n), "dec": rng.uniform(0, 10, n), "noise": rng.normal(size=n)})
                   .pipe(lambda d: __import__("pyarrow").Table.from_pandas(d)), big)
    local = str(tmp_path / "root")
    src = lodestar.ingest(str(big), "big", root=local, progress=False, pixel_threshold=10_000_000, highest_order=0)
    p = proxy(refuse_writes_after=2)
    s3env(endpoint=p.endpoint, LODESTAR_S3_RETRIES="1", LODESTAR_S3_PART_SIZE_MB="5")
    with pytest.raises(Exception):
        src.write("copy", root=root)
    # The engine had started a multipart upload (POST ?uploads) and uploaded parts before the cut.
    assert any(m == "POST" and "uploads" in path for m, path, *_ in p.stats.requests), p.stats.requests
    assert sum(1 for m, path, *_ in p.stats.requests if m == "PUT" and "partNumber=" in path) >= 2
    s3env()
    assert "copy" not in lodestar.Catalogs(root).list()
    assert server.keys("multipart/") == []
    assert server.multipart_uploads("multipart/") == []


def test_wrong_credentials_fail_fast_with_a_clear_message(tmp_path, server, s3env, proxy):
    csv = tmp_path / "a.csv"
    make_sky(csv, n=1000)
    root = s3root("creds")
    lodestar.ingest(str(csv), "a", root=root, progress=False)
    p = proxy()
    s3env(endpoint=p.endpoint, AWS_SECRET_ACCESS_KEY="not-the-secret")
    with pytest.raises(lodestar.LodestarError, match="(?i)signature|credentials|denied|403") as e:
        lodestar.Catalogs(root).list()
    assert "environment" in str(e.value)
    assert p.stats.count() <= 6, p.stats.requests  # a refused signature is not retried into a storm
    with pytest.raises(lodestar.LodestarError, match="(?i)signature|denied|403"):
        lodestar.ingest(str(csv), "b", root=root, progress=False)


def test_missing_bucket_and_missing_catalog_are_clear(server, s3env):
    with pytest.raises(lodestar.LodestarError, match="(?i)bucket"):
        lodestar.Catalogs("s3://no-such-bucket/x").list()
    with pytest.raises(lodestar.LodestarError, match="no catalog named 'nope'"):
        lodestar.Catalogs(s3root("empty-root")).load("nope")


def test_credentials_from_a_profile_file(tmp_path, server, s3env, monkeypatch):
    csv = tmp_path / "a.csv"
    make_sky(csv, n=700)
    creds = tmp_path / "credentials"
    creds.write_text(f"[astro]\naws_access_key_id = {server.key_id}\naws_secret_access_key = {server.secret}\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_PROFILE", "astro")
    _core.forget_catalog("")
    root = s3root("profile")
    lodestar.ingest(str(csv), "p", root=root, progress=False)
    assert len(lodestar.Catalogs(root).load("p")) == 700


def test_cli_lists_describes_and_queries_an_s3_root(tmp_path, server, s3env):
    csv = tmp_path / "a.csv"
    df = make_sky(csv, n=2000)
    root = s3root("cli")
    r = run_cli("ingest", str(csv), "--name", "stars", "--root", root, "--no-progress")
    assert r.returncode == 0, r.stderr
    env = dict(os.environ)
    r = run_cli("catalogs", "--root", root, env=env)
    assert r.returncode == 0 and "stars" in r.stdout, r.stderr
    r = run_cli("info", "stars", "--root", root, env=env)
    assert r.returncode == 0 and "rows         2000" in r.stdout, r.stderr
    r = run_cli("sql", "--root", root, "SELECT count(*) AS n FROM stars WHERE mag < 16", env=env)
    assert r.returncode == 0 and str(int((df.mag < 16).sum())) in r.stdout, r.stderr


def test_dask_workers_read_and_write_s3_catalogs_themselves(tmp_path, server, s3env):
    """Two dask-worker processes get the AWS settings from their environment,
    read partitions from S3 and write leaves to the staging prefix; results
    equal the in-process ones."""
    from dask_harness import running_cluster

    csv = tmp_path / "a.csv"
    make_sky(csv, n=12_000, seed=31)
    root = s3root("dask")
    cat = lodestar.ingest(str(csv), "stars", root=root, progress=False, pixel_threshold=1500)
    cone = cat.cone_search(ra=200, dec=10, radius_arcsec=10 * 3600)
    with running_cluster(n_workers=2) as c:
        pd.testing.assert_frame_equal(sorted_frame(cone.to_pandas(client=c.client), "id"), sorted_frame(cone.to_pandas(), "id"))
        cat.where("mag > 17").write("faint_dask", client=c.client)
    cat.where("mag > 17").write("faint_local")
    cats = lodestar.Catalogs(root)
    assert multiset(cats.load("faint_dask").to_pandas(), ["id", "ra", "dec", "mag"]) == \
        multiset(cats.load("faint_local").to_pandas(), ["id", "ra", "dec", "mag"])
    assert not [k for k in server.keys("dask/") if "/.lodestar-staging/" in k]


def test_read_only_user_reads_but_cannot_write(tmp_path, server, s3env):
    csv = tmp_path / "a.csv"
    df = make_sky(csv, n=1500)
    root = s3root("readonly")
    lodestar.ingest(str(csv), "a", root=root, progress=False)
    key, secret = server.create_user("reader", ["s3:GetObject", "s3:ListBucket", "s3:HeadObject"])
    s3env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    cat = lodestar.Catalogs(root).load("a")
    assert multiset(cat.to_pandas(), ["id", "ra", "dec", "mag"]) == multiset(df, ["id", "ra", "dec", "mag"])
    with pytest.raises(lodestar.LodestarError, match="(?i)access denied|AccessDenied|403"):
        cat.where("mag < 15").write("b")
    with pytest.raises(lodestar.LodestarError, match="(?i)access denied|AccessDenied|403"):
        lodestar.ingest(str(csv), "c", root=root, progress=False)
    s3env()
    assert lodestar.Catalogs(root).list() == ["a"]


def test_stale_staging_of_dead_writes_is_removed(server, s3env):
    root = s3root("stale")
    storage.write_bytes(f"{root}/.lodestar-staging/old-1-abc/catalog/dataset/Norder=0/Dir=0/Npix=1.parquet", b"x")
    storage.write_bytes(f"{root}/keep/hats.properties", b"#HATS catalog\n")
    assert storage.remove_stale_staging(root, older_than_s=3600) == 0  # fresh: may belong to a live write
    assert storage.remove_stale_staging(root, older_than_s=0) == 1
    assert server.keys("stale/") == ["stale/keep/hats.properties"]
