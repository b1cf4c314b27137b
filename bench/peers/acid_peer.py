"""Peer: ACID ("Astronomical Catalog Inference Driver", PyPI `pyacid`, import name `acid`, by M. Juric).

ACID runs SQL with an `XMATCH(radius_arcsec => r[, mode => 'all'])` join predicate over HATS catalogs on
Polars, with a forkserver worker pool and a scipy cKDTree matcher. The catalogs are registered by path with
their margin caches (`neighbor_path`), exactly the HATS catalogs LSDB reads.

* `crossmatch`: `SELECT count(*) FROM l AS a JOIN r AS b ON XMATCH(radius_arcsec => r)` (nearest neighbour,
  ACID's default mode) and again with `mode => 'all'` (all pairs within the radius).
* `sum_ra`: `SELECT sum(ra) FROM cat`.
The worker pool's start-up is measured by a first `count(*)` query and reported as `warmup_seconds`.
"""

from __future__ import annotations

from pathlib import Path

from . import DEFAULT_RADIUS_ARCSEC, stopwatch, unavailable


def _acid():
    try:
        import acid
    except ImportError as exc:
        return None, unavailable(f"pyacid is not installed ({exc}); pip install pyacid")
    return acid, None


def _scalar(result) -> float:
    frame = result.to_pandas()
    return frame.iloc[0, 0]


def _margin_of(catalog: Path) -> str | None:
    margin = Path(f"{catalog}_margin")
    return str(margin) if margin.exists() else None


def crossmatch(left_catalog: Path | str, right_catalog: Path | str, right_margin: Path | str | None = None,
               radius_arcsec: float = DEFAULT_RADIUS_ARCSEC, workers: int = 2) -> dict:
    acid, missing = _acid()
    if missing:
        return missing
    left_catalog, right_catalog = Path(left_catalog), Path(right_catalog)
    right_margin = str(right_margin) if right_margin else _margin_of(right_catalog)
    if right_margin is None:
        return unavailable("ACID's XMATCH needs the right catalog's margin cache (neighbor_path); none was given or found")
    registry = {
        "l": {"path": str(left_catalog)},
        "r": {"path": str(right_catalog), "neighbor_path": right_margin},
    }
    margin = _margin_of(left_catalog)
    if margin:
        registry["l"]["neighbor_path"] = margin
    radius = float(radius_arcsec)
    with acid.Connection(registry, workers=workers, progress=False) as db:
        with stopwatch() as t_warm:
            _scalar(db.sql("SELECT count(*) AS n FROM l"))
        with stopwatch() as t_near:
            nearest = _scalar(db.sql(f"SELECT count(*) AS n FROM l AS a JOIN r AS b ON XMATCH(radius_arcsec => {radius})"))
        with stopwatch() as t_all:
            all_pairs = _scalar(
                db.sql(f"SELECT count(*) AS n FROM l AS a JOIN r AS b ON XMATCH(radius_arcsec => {radius}, mode => 'all')"))
    return {"seconds": t_near(), "pairs_nearest": int(nearest), "all_pairs_seconds": t_all(), "pairs_all": int(all_pairs),
            "warmup_seconds": t_warm(), "version": acid.__version__}


def sum_ra(catalog: Path | str, workers: int = 2) -> dict:
    acid, missing = _acid()
    if missing:
        return missing
    with acid.Connection({"c": {"path": str(catalog)}}, workers=workers, progress=False) as db:
        with stopwatch() as t_warm:
            _scalar(db.sql("SELECT count(*) AS n FROM c"))
        with stopwatch() as t:
            total = _scalar(db.sql("SELECT sum(ra) AS s FROM c"))
    return {"seconds": t(), "result": float(total), "warmup_seconds": t_warm(), "version": acid.__version__}
