"""A catalog root for the notebook and browser tests, built with Lodestar's own API:
a synthetic ZTF-like survey (lodestar.datasets.make_survey, with injected dimming events
whose truth is known) ingested as the catalogs the example notebooks load by name."""

from __future__ import annotations

import tempfile
from pathlib import Path

# The catalog names the shipped notebooks use (and `lodestar demo-data` must provide).
OBJECTS, DETECTIONS, REFERENCE = "ztf_objects", "ztf_detections", "gaia"


def missing_api() -> list[str]:
    """Parts of the Lodestar API the notebooks need that this build does not have yet."""
    import lodestar

    missing = [name for name in ("Catalogs", "ingest", "open_catalog") if not hasattr(lodestar, name)]
    try:
        import lodestar.datasets  # noqa: F401
    except ImportError:
        missing.append("datasets.make_survey")
    if hasattr(lodestar, "Catalog"):
        missing += [f"Catalog.{m}" for m in ("crossmatch", "map_partitions", "cone_search", "plot_skymap", "sql") if not hasattr(lodestar.Catalog, m)]
    return missing


def build_demo_root(root: Path, n_objects: int = 3000, seed: int = 11):
    """Ingest objects, detections and the Gaia-like reference into `root`; return the survey."""
    import lodestar
    from lodestar.datasets import make_survey

    survey = make_survey(n_objects=n_objects, seed=seed, n_fields=4, years=2.0, class_fractions={"dipper": 0.05})
    objects = survey.objects.drop(columns=["var_class"])  # the answer stays in the test
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in ((OBJECTS, objects), (DETECTIONS, survey.detections), (REFERENCE, survey.reference)):
            path = Path(tmp) / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            lodestar.ingest(str(path), name, root=str(root), pixel_threshold=200_000, highest_order=7, overwrite=True, progress=False)
    return survey
