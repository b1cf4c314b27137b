"""Lodestar's main job, end to end on the embedded defaults (the seed's workflow):
generate a ZTF-like survey, ingest it, build light curves, crossmatch with the
Gaia-like reference, search every light curve for dimming events, and report
the top candidates, the recall against the injected truth, a sky map and
light-curve plots with the fitted model.

    python -m lodestar.workflow --out out/demo --scale 1.0 [--root DIR]
    lodestar demo --out out/demo
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

# Catalog names (the notebooks load these by name; `lodestar demo-data` provides them).
OBJECTS, DETECTIONS, REFERENCE, LIGHTCURVES = "ztf_objects", "ztf_detections", "gaia", "ztf_lightcurves"
BASE_OBJECTS = 20000


class Timer:
    def __init__(self, quiet: bool = False):
        self.steps: list[tuple[str, float]] = []
        self.quiet = quiet

    def __call__(self, label: str):
        timer = self

        class _Step:
            def __enter__(self):
                self.t0 = time.perf_counter()
                if not timer.quiet:
                    print(f"==> {label} ...", flush=True)
                return self

            def __exit__(self, *exc):
                dt = time.perf_counter() - self.t0
                timer.steps.append((label, dt))
                if not timer.quiet and exc[0] is None:
                    print(f"    {label}: {dt:.1f} s", flush=True)

        return _Step()


def ingest_survey(survey, root: str | os.PathLike, work: str | os.PathLike, hide_truth: bool = True, progress: bool = False,
                  detections_per_partition: int = 1_000_000):
    """Ingest the survey's objects, detections and reference as catalogs of `root`. Returns (objects, detections, reference)."""
    import lodestar

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    objects = survey.objects.drop(columns=["var_class"]) if hide_truth else survey.objects
    out = []
    for name, frame, threshold in ((OBJECTS, objects, 200_000), (DETECTIONS, survey.detections, detections_per_partition),
                                   (REFERENCE, survey.reference, 200_000)):
        path = work / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        out.append(lodestar.ingest(str(path), name, root=str(root), pixel_threshold=threshold, highest_order=8, overwrite=True,
                                   progress=progress))
        path.unlink()
    return tuple(out)


def detectable_dips(truth: pd.DataFrame) -> pd.DataFrame:
    """Injected dips deeper than 5x the photometric noise at >= 3 detections (the issue's recall definition)."""
    return truth[(truth.kind == "dip") & (truth.n_points_5sigma >= 3)]


def match_events_to_dips(events: pd.DataFrame, dips: pd.DataFrame, id_col: str = "object_id") -> pd.Series:
    """For each dip, whether an event of its star overlaps the dip's +-2 sigma span."""
    by_obj = {k: g for k, g in events.groupby(id_col)}
    found = []
    for d in dips.itertuples():
        c = by_obj.get(d.object_id)
        found.append(c is not None and bool(((c.end >= d.t0 - 2 * d.sigma_rise) & (c.start <= d.t0 + 2 * d.sigma_fall)).any()))
    return pd.Series(found, index=dips.index)


def quality(events: pd.DataFrame, survey) -> dict:
    """Recall, false-positive rate and depth accuracy of non-periodic events against the truth table."""
    dips = detectable_dips(survey.truth)
    found = match_events_to_dips(events, dips)
    non_dippers = survey.objects.object_id[survey.objects.var_class != "dipper"]
    ebs = survey.objects.object_id[survey.objects.var_class == "eclipsing_binary"]
    fp = events.object_id[events.object_id.isin(non_dippers)].nunique()
    # Depth accuracy on stars with one dip whose candidate was fitted.
    single = dips[~dips.object_id.duplicated(keep=False)]
    ok = events[events.fit_status == 0]
    best = ok.sort_values("score", ascending=False).drop_duplicates("object_id").set_index("object_id")
    ratios = []
    for d in single.itertuples():
        if d.object_id in best.index:
            e = best.loc[d.object_id]
            if e.end >= d.t0 - 2 * d.sigma_rise and e.start <= d.t0 + 2 * d.sigma_fall:
                ratios.append(e.amplitude / d.depth_frac)
    ratios = np.asarray(ratios)
    return {
        "detectable_dips": int(len(dips)),
        "recall": float(found.mean()) if len(dips) else float("nan"),
        "false_positive_rate": fp / max(1, len(non_dippers)),
        "false_positive_objects": int(fp),
        "eclipsing_binaries_as_candidates": int(events.object_id.isin(ebs).sum()),
        "depth_within_20pct": float(np.mean(np.abs(ratios - 1) < 0.2)) if ratios.size else float("nan"),
        "depth_fitted": int(ratios.size),
        "depth_median_ratio": float(np.median(ratios)) if ratios.size else float("nan"),
    }


def plot_light_curve(lc: dict, event: pd.Series, path: str | os.PathLike, title: str) -> None:
    """Magnitudes per band with the fitted dip model (per-band baseline - 2.5 log10 F(t)), saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .lightcurve_fit import dip_model

    t, mag, err = (np.asarray(lc[k], dtype=float) for k in ("mjd", "mag", "mag_err"))
    band = np.asarray(lc.get("band", ["g"] * len(t)))
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [2, 1]})
    w = max(3 * (event.sigma_rise + event.sigma_fall), event.duration * 2, 10.0) if np.isfinite(event.sigma_rise) else 30.0
    for ax, zoom in zip(axes, (False, True)):
        for b, color in (("g", "tab:green"), ("r", "tab:red"), ("i", "tab:purple")):
            sel = band == b
            if zoom:
                sel &= np.abs(t - event.t_min) < w
            if not sel.any():
                continue
            ax.errorbar(t[sel], mag[sel], err[sel], fmt=".", ms=3, color=color, alpha=0.6, label=b, lw=0.5)
            if event.fit_status == 0:
                base = np.nanmedian(mag[band == b])
                tt = np.linspace(t[sel].min(), t[sel].max(), 2000) if zoom else np.sort(t[band == b])
                if not zoom:
                    tt = np.linspace(tt.min(), tt.max(), 6000)
                f = dip_model(tt, event.f0, event.amplitude, event.t0, event.sigma_rise, event.sigma_fall)
                ax.plot(tt, base - 2.5 * np.log10(np.clip(f, 1e-3, None)), color=color, lw=1)
        ax.invert_yaxis()
        ax.set_xlabel("MJD")
        ax.set_ylabel("mag")
    axes[0].set_title(title, fontsize=9)
    axes[1].set_title(f"dip at MJD {event.t_min:.1f}: depth {event.amplitude:.0%}" if event.fit_status == 0 else "dip", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(out: str | os.PathLike = "out/demo", scale: float = 1.0, root: str | os.PathLike | None = None, seed: int = 42,
        top: int = 10, plots: int = 6, progress: bool | None = None, quiet: bool = False) -> dict:
    """Run the main job; returns a summary dict (also written to OUT/summary.json)."""
    import lodestar
    from lodestar.datasets import make_survey
    from lodestar.lightcurves import build_light_curves

    if not scale > 0:
        raise ValueError(f"--scale must be > 0, got {scale}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(root) if root is not None else out / "catalogs"
    say = (lambda *a: None) if quiet else print
    bars = sys.stderr.isatty() if progress is None else progress
    timer = Timer(quiet)
    n_objects = max(100, int(round(BASE_OBJECTS * scale)))

    with timer(f"generate survey ({n_objects:,} objects, seed {seed})"):
        survey = make_survey(n_objects=n_objects, seed=seed)
    say(f"    {len(survey.detections):,} detections, {len(survey.reference):,} reference sources, "
        f"{(survey.truth.kind == 'dip').sum():,} injected dips")
    with timer("ingest detections, objects and reference"):
        objects, detections, reference = ingest_survey(survey, root, out / ".work", progress=bars)
    say(f"    catalogs in {root}: {', '.join(f'{c.name} ({len(c):,} rows, {len(c.partitions)} partitions)' for c in (objects, detections, reference))}")
    with timer("build light curves"):
        lcs = build_light_curves(detections, object_id="object_id", name=LIGHTCURVES, root=root, objects=objects, overwrite=True,
                                 progress=bars)
    say(f"    {LIGHTCURVES}: {len(lcs):,} light curves in {len(lcs.partitions)} partitions")

    xmatch_summary = None
    with timer("crossmatch objects with the reference"):
        if hasattr(lodestar.Catalog, "crossmatch"):
            xm = objects.select(["object_id", "ra", "dec", "mean_r"]).crossmatch(reference, radius_arcsec=1.0)
            matches = xm.to_pandas() if hasattr(xm, "to_pandas") else xm
            xmatch_summary = {"matches": int(len(matches)), "objects": int(len(objects)), "reference": int(len(reference))}
            say(f"    {len(matches):,} matches within 1 arcsec ({len(matches) / len(objects):.1%} of objects)")
        else:
            matches = None
            say("    SKIPPED: Catalog.crossmatch is not available in this build")

    with timer("dimming search"):
        events = lcs.find_dimming_events(k_sigma=3.0, progress=bars)
    n_det = events.attrs.get("detections", 0)
    say(f"    {len(events):,} non-periodic events in {events.object_id.nunique():,} objects "
        f"({events.attrs.get('light_curves', 0):,} light curves, {n_det:,} detections)")

    with timer("quality against the truth table"):
        q = quality(events, survey)
    say(f"    recall {q['recall']:.1%} of {q['detectable_dips']} detectable dips (>5x noise, >=3 points); "
        f"false positives {q['false_positive_rate']:.2%} of non-dipping stars; "
        f"depth within 20% for {q['depth_within_20pct']:.0%} of {q['depth_fitted']} fitted single dips")

    cand = events.drop_duplicates("object_id").head(top).copy()
    classes = survey.objects.set_index("object_id").var_class
    cand["true_class"] = classes.reindex(cand.object_id).to_numpy()
    if matches is not None and "object_id" in matches and "source_id" in matches:
        gaia = matches.drop_duplicates("object_id").set_index("object_id")["source_id"]
        cand["gaia_source_id"] = gaia.reindex(cand.object_id).to_numpy()
    if not quiet:
        cols = [c for c in ("object_id", "ra", "dec", "t0", "amplitude", "duration", "n_points", "score", "true_class", "gaia_source_id")
                if c in cand]
        print(f"\nTop {len(cand)} dimming candidates (by score = sqrt(delta chi2) of the dip fit):")
        with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
            print(cand[cols].to_string(index=False))
        print()

    with timer("plots"):
        objects.plot_skymap(order=7, path=out / "skymap.png", title=f"{OBJECTS}: objects per pixel (order 7)")
        import matplotlib.pyplot as plt

        plt.close("all")
        paths = []
        show = cand.head(plots)
        if len(show):
            ids = ", ".join(str(int(i)) for i in show.object_id)
            rows = lcs.where(f"object_id IN ({ids})").select(["object_id", "lc"]).to_arrow().to_pylist()
            by_id = {r["object_id"]: r["lc"] for r in rows}
            for rank, e in enumerate(show.itertuples(), 1):
                p = out / f"candidate_{rank:02d}_{int(e.object_id)}.png"
                plot_light_curve(by_id[e.object_id], pd.Series(e._asdict()), p,
                                 f"#{rank} object {int(e.object_id)} (ra {e.ra:.4f}, dec {e.dec:.4f}), score {e.score:.1f}")
                paths.append(str(p))
    say(f"    wrote {out / 'skymap.png'} and {len(paths)} light-curve plots")

    total = sum(dt for _, dt in timer.steps)
    summary = {"objects": n_objects, "detections": int(len(survey.detections)), "light_curves": int(len(lcs)), "events": int(len(events)),
               "quality": q, "crossmatch": xmatch_summary, "timings_s": {k: round(v, 2) for k, v in timer.steps}, "total_s": round(total, 1),
               "root": str(root), "top_candidates": cand.object_id.astype(int).tolist(), "plots": paths}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    cand.to_csv(out / "top_candidates.csv", index=False)
    if not quiet:
        print("Timings:")
        for k, v in timer.steps:
            print(f"  {k:<48} {v:7.1f} s")
        print(f"  {'total':<48} {total:7.1f} s")
        print(f"Outputs in {out}/ (summary.json, top_candidates.csv, skymap.png, candidate_*.png)")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lodestar demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    ap.add_argument("--scale", type=float, default=1.0, help=f"survey size multiplier (1.0 = {BASE_OBJECTS:,} objects)")
    ap.add_argument("--root", default=None, help="catalog root to ingest into (default OUT/catalogs)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--top", type=int, default=10, help="candidates to print (default 10)")
    ap.add_argument("--plots", type=int, default=6, help="light-curve plots to write (default 6)")
    args = ap.parse_args(argv)
    if not args.scale > 0:
        print(f"lodestar demo: --scale must be > 0, got {args.scale}", file=sys.stderr)
        return 2
    run(out=args.out, scale=args.scale, root=args.root, seed=args.seed, top=args.top, plots=args.plots)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
