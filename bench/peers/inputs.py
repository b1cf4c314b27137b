"""Deterministic benchmark inputs, written once to a work folder and reused.

Every peer (and Lodestar) reads the same files, so their answers can be compared:

* crossmatch cases, each a (left, right) pair of catalogs with columns id, ra, dec, mag:
  - ``sky``:   left = N points uniform on the sphere; right = N points of which 80% are copies of
               left points moved by ``SHIFT_ARCSEC`` in a random direction and 20% are fresh random points.
  - ``dense``: the same recipe inside a 1-degree-radius field (so chance neighbours within the match
               radius are common and "nearest" and "all pairs" counts differ).
  Each side is written as Parquet (DuckDB, LSDB, astropy, q3c), FITS (STILTS) and CSV (hats-import).
* ingest case: one CSV of N rows (id, ra, dec, mag_g, mag_r, mag_err).

Files land in ``<work>/inputs/<case>_<N>/``; a ``manifest.json`` written last marks a complete set, so an
interrupted generation is redone rather than reused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SEED = 20240611
SHIFT_ARCSEC = 0.4  # offset of the true counterparts
MATCH_FRACTION = 0.8  # share of right-side points that are moved copies of left points
DENSE_CENTER = (150.0, 2.0)  # (ra, dec) of the dense field, degrees
DENSE_RADIUS_DEG = 1.0
DENSE_SIZE = 1_000_000  # dense-field size per side (capped at N)
FORMAT_VERSION = 1  # bump when the recipe changes so cached inputs are regenerated


def size_label(n: int) -> str:
    """1000000 -> '1e6', 2500 -> '2500': short, unambiguous folder names."""
    exp = int(np.log10(n)) if n > 0 else 0
    return f"1e{exp}" if n == 10**exp else str(n)


def parse_size(text: str) -> int:
    """'1e6', '1000000', '2.5e5' -> int; a clear error for anything else."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"size must be a number like 1e6 or 1000000, got {text!r}") from None
    if value < 1 or value != int(value):
        raise ValueError(f"size must be a positive whole number of rows, got {text!r}")
    return int(value)


@dataclass(frozen=True)
class CrossmatchCase:
    """Paths of one generated crossmatch case."""

    name: str  # 'sky' or 'dense'
    n: int  # rows per side
    folder: Path

    def path(self, side: str, fmt: str) -> Path:
        return self.folder / f"{side}.{fmt}"

    @property
    def manifest(self) -> dict:
        return json.loads((self.folder / "manifest.json").read_text())


@dataclass(frozen=True)
class IngestCase:
    n: int
    csv: Path


# ----------------------------------------------------------------------------------------------- geometry


def random_sphere(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform on the unit sphere (ra, dec in degrees)."""
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    return ra, dec


def random_cap(rng: np.random.Generator, n: int, center: tuple[float, float], radius_deg: float):
    """n points uniform inside a spherical cap around center."""
    cos_r = np.cos(np.radians(radius_deg))
    # uniform in solid angle: cos(theta) uniform in [cos_r, 1], position angle uniform
    theta = np.arccos(rng.uniform(cos_r, 1.0, n))
    pa_ = rng.uniform(0.0, 2 * np.pi, n)
    return offset(center[0], center[1], np.degrees(theta), pa_)


def offset(ra_deg, dec_deg, sep_deg, pa_rad):
    """Move points by sep along position angle pa (exact spherical formula, as astropy's directional_offset_by)."""
    ra, dec, sep = np.radians(ra_deg), np.radians(dec_deg), np.radians(sep_deg)
    sin_dec2 = np.sin(dec) * np.cos(sep) + np.cos(dec) * np.sin(sep) * np.cos(pa_rad)
    dec2 = np.arcsin(np.clip(sin_dec2, -1.0, 1.0))
    dra = np.arctan2(np.sin(pa_rad) * np.sin(sep) * np.cos(dec), np.cos(sep) - np.sin(dec) * sin_dec2)
    ra2 = np.mod(np.degrees(ra + dra), 360.0)
    return ra2, np.degrees(dec2)


def make_pair(rng: np.random.Generator, n: int, sampler) -> tuple[pa.Table, pa.Table, int]:
    """(left, right, n_true_matches): right holds moved copies of a random 80% of left plus fresh points."""
    left_ra, left_dec = sampler(n)
    n_copies = int(round(MATCH_FRACTION * n))
    source = rng.choice(n, size=n_copies, replace=False)
    copy_ra, copy_dec = offset(left_ra[source], left_dec[source], SHIFT_ARCSEC / 3600.0, rng.uniform(0, 2 * np.pi, n_copies))
    fresh_ra, fresh_dec = sampler(n - n_copies)
    right_ra = np.concatenate([copy_ra, fresh_ra])
    right_dec = np.concatenate([copy_dec, fresh_dec])
    order = rng.permutation(n)  # so copies are not all at the front of the file
    left = pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "ra": left_ra,
            "dec": left_dec,
            "mag": rng.uniform(14.0, 24.0, n).astype(np.float32),
        }
    )
    right = pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64) + 10_000_000_000),  # disjoint from left ids
            "ra": right_ra[order],
            "dec": right_dec[order],
            "mag": rng.uniform(14.0, 24.0, n).astype(np.float32),
        }
    )
    return left, right, n_copies


# ----------------------------------------------------------------------------------------------- writers


def write_fits(table: pa.Table, path: Path) -> None:
    from astropy.table import Table

    Table({name: table.column(name).to_numpy() for name in table.column_names}).write(path, overwrite=True)


def write_all_formats(table: pa.Table, stem: Path) -> None:
    pq.write_table(table, stem.with_suffix(".parquet"), row_group_size=1_000_000)
    pacsv.write_csv(table, stem.with_suffix(".csv"))
    write_fits(table, stem.with_suffix(".fits"))


# ----------------------------------------------------------------------------------------------- public API


def crossmatch_case(work: Path | str, name: str, n: int, seed: int = SEED) -> CrossmatchCase:
    """Generate (or reuse) the crossmatch case `name` ('sky' or 'dense') with n rows per side."""
    if name not in ("sky", "dense"):
        raise ValueError(f"crossmatch case must be 'sky' or 'dense', got {name!r}")
    if name == "dense":
        n = min(n, DENSE_SIZE)
    folder = Path(work) / "inputs" / f"{name}_{size_label(n)}"
    case = CrossmatchCase(name, n, folder)
    manifest = folder / "manifest.json"
    expected = {"format_version": FORMAT_VERSION, "seed": seed, "n": n, "case": name}
    if manifest.exists():
        got = json.loads(manifest.read_text())
        if all(got.get(k) == v for k, v in expected.items()):
            return case
    folder.mkdir(parents=True, exist_ok=True)
    # one stream per case and size: each case is reproducible on its own
    rng = np.random.default_rng([seed, n, 0 if name == "sky" else 1])
    if name == "sky":
        sampler = lambda k: random_sphere(rng, k)  # noqa: E731
    else:
        sampler = lambda k: random_cap(rng, k, DENSE_CENTER, DENSE_RADIUS_DEG)  # noqa: E731
    left, right, n_true = make_pair(rng, n, sampler)
    write_all_formats(left, folder / "left")
    write_all_formats(right, folder / "right")
    info = dict(expected, shift_arcsec=SHIFT_ARCSEC, true_matches=n_true)
    if name == "dense":
        info.update(center=list(DENSE_CENTER), radius_deg=DENSE_RADIUS_DEG)
    manifest.write_text(json.dumps(info, indent=2))
    return case


def ingest_case(work: Path | str, n: int, seed: int = SEED) -> IngestCase:
    """Generate (or reuse) the ingest CSV with n rows: id, ra, dec, mag_g, mag_r, mag_err."""
    folder = Path(work) / "inputs" / f"ingest_{size_label(n)}"
    case = IngestCase(n, folder / "ingest.csv")
    manifest = folder / "manifest.json"
    expected = {"format_version": FORMAT_VERSION, "seed": seed, "n": n, "case": "ingest"}
    if manifest.exists() and json.loads(manifest.read_text()) == expected:
        return case
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, n, 2])
    ra, dec = random_sphere(rng, n)
    mag_g = rng.uniform(15.0, 25.0, n)
    table = pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "ra": ra,
            "dec": dec,
            "mag_g": mag_g,
            "mag_r": mag_g - rng.uniform(0.0, 1.5, n),
            "mag_err": rng.uniform(0.001, 0.2, n),
        }
    )
    pacsv.write_csv(table, case.csv)
    manifest.write_text(json.dumps(expected, indent=2))
    return case


def random_cones(n_cones: int, seed: int = SEED, field: tuple[float, float, float] | None = None) -> np.ndarray:
    """(n_cones, 2) cone centres in degrees: uniform on the sphere, or inside field=(ra, dec, radius_deg)."""
    rng = np.random.default_rng([seed, n_cones, 3])
    if field is None:
        ra, dec = random_sphere(rng, n_cones)
    else:
        ra, dec = random_cap(rng, n_cones, (field[0], field[1]), field[2])
    return np.column_stack([ra, dec])
