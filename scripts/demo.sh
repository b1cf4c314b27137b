#!/usr/bin/env bash
# Lodestar's main job on the embedded defaults (local folder, in-process engine):
# generate a reproducible synthetic sky and answer astronomy queries over it.
set -euo pipefail
cd "$(dirname "$0")/.."
LODESTAR=.venv/bin/lodestar
OUT=${LODESTAR_DEMO_OUT:-out/demo}
ROWS=${LODESTAR_DEMO_ROWS:-1000000}
rm -rf "$OUT"
mkdir -p "$OUT"
ROOT="$OUT/catalogs"

step() { printf '\n== %s\n' "$*"; }
start=$(date +%s%N)

step "Generating a synthetic sky of $ROWS sources (seed 42)"
$LODESTAR generate-sky "$OUT/sky-parquet" --rows "$ROWS" --seed 42

step "Ingesting it as a HATS catalog 'sky' into the catalog root $ROOT"
$LODESTAR ingest "$OUT/sky-parquet/*.parquet" --name sky --root "$ROOT" --pixel-threshold 200000
$LODESTAR catalogs --root "$ROOT"
SKY=sky
SQL="$LODESTAR sql --root $ROOT"

step "Sources per HEALPix pixel at order 2 (the ten densest)"
$SQL "SELECT healpix_nest(2, ra, dec) AS pixel, count(*) AS sources FROM $SKY GROUP BY pixel ORDER BY sources DESC LIMIT 10"

step "Sources within 5 degrees of (ra, dec) = (180, 30)"
$SQL "SELECT count(*) AS sources_in_cone, min(ang_sep(ra, dec, 180, 30)) AS nearest_deg FROM $SKY WHERE cone_contains(ra, dec, 180, 30, 5)"

step "Mean magnitudes and colour"
$SQL "SELECT count(*) AS sources, round(avg(mag_r), 3) AS mean_r, round(avg(mag_g), 3) AS mean_g, round(avg(mag_g - mag_r), 3) AS mean_g_minus_r FROM $SKY"

step "Mean r magnitude by declination band"
$SQL "SELECT floor(dec / 30) * 30 AS dec_band, count(*) AS n, round(avg(mag_r), 3) AS mean_r FROM $SKY GROUP BY dec_band ORDER BY dec_band"

end=$(date +%s%N)
printf '\ndemo finished in %d.%02d s; outputs in %s\n' $(((end - start) / 1000000000)) $(((end - start) / 10000000 % 100)) "$OUT"
