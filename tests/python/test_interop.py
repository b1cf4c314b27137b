"""Interoperability both ways with the real LSDB / hats / hats-import packages."""

import numpy as np
import pandas as pd
import pytest

import lodestar
from catalog_checks import multiset
from conftest import shared_path

lsdb = pytest.importorskip("lsdb")
hats = pytest.importorskip("hats")


def lsdb_rows(path) -> pd.DataFrame:
    df = lsdb.open_catalog(str(path)).compute()
    return df.reset_index(drop=("_healpix_29" in df.columns))


@pytest.mark.parametrize("threshold", [1_000_000, 30])
def test_lodestar_catalog_opens_in_lsdb_and_passes_hats_validation(tmp_path, threshold):
    from hats.io.validation import is_valid_catalog

    csv = shared_path("hats-fixtures", "raw", "small_sky", "small_sky.csv")
    lodestar.ingest(csv, "small_sky", root=tmp_path, pixel_threshold=threshold, progress=False)
    path = tmp_path / "small_sky"
    assert is_valid_catalog(str(path), strict=True)
    got = lsdb_rows(path)
    src = pd.read_csv(csv)
    assert multiset(got, list(src.columns)) == multiset(src, list(src.columns))
    hc = hats.read_hats(str(path))
    assert hc.catalog_info.total_rows == 131 and hc.catalog_info.ra_column == "ra"


def test_hats_import_catalog_opens_in_lodestar_with_same_rows(tmp_path):
    from dask.distributed import Client
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client

    csv = shared_path("hats-fixtures", "raw", "small_sky_source", "small_sky_source.csv")
    args = ImportArguments(
        ra_column="source_ra", dec_column="source_dec", input_file_list=[str(csv)], file_reader="csv",
        output_artifact_name="hi_source", output_path=str(tmp_path), pixel_threshold=3000, highest_healpix_order=4,
        progress_bar=False, drop_empty_siblings=False,  # the classic top-down rule Lodestar implements
    )
    with Client(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as client:
        pipeline_with_client(args, client)
    cat = lodestar.open_catalog(tmp_path / "hi_source")
    src = pd.read_csv(csv)
    got = cat.to_pandas()
    assert len(cat) == len(src) == len(got)
    assert multiset(got, list(src.columns)) == multiset(src, list(src.columns))
    # And Lodestar's own ingest of the same CSV yields the same partitioning rule's row multiset.
    ours = lodestar.ingest(csv, "ours", root=tmp_path / "root", ra="source_ra", dec="source_dec", pixel_threshold=3000,
                           highest_order=4, progress=False)
    theirs_parts = sorted(zip(cat.partitions["Norder"], cat.partitions["Npix"]))
    ours_parts = sorted(zip(ours.partitions["Norder"], ours.partitions["Npix"]))
    assert ours_parts == theirs_parts  # same hats-import partitioning rule
