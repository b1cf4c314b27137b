// `lodestar ingest`: CSV / Parquet / FITS into a HATS catalog of the root.
#include <cstdio>
#include <iostream>
#include <memory>

#include "catalog/catalog_root.hpp"
#include "catalog/ingest.hpp"
#include "cli/commands.hpp"
#include "cli/progress_bar.hpp"

namespace lodestar::cli {
namespace {

struct IngestCliOptions {
  IngestOptions ingest;
  std::vector<std::string> types;  // col=TYPE
  bool no_progress = false;
};

int run_ingest(const GlobalOptions& g, IngestCliOptions& o) {
  IngestOptions& io = o.ingest;
  if (io.root.empty()) io.root = default_catalog_root();
  io.threads = g.threads;
  if (!g.memory_limit.empty()) io.memory_limit = g.memory_limit;
  for (const auto& t : o.types) {
    const auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0) throw Error("--type expects COLUMN=SQLTYPE, got '" + t + "'");
    io.csv_types[t.substr(0, eq)] = t.substr(eq + 1);
  }
  const bool draw = !o.no_progress && progress_wanted();
  std::unique_ptr<ProgressBar> bar;
  std::string phase;
  io.on_progress = [&](const IngestProgress& p) {
    if (!draw) return;
    if (p.phase != phase) {
      if (bar) bar->finish();
      phase = p.phase;
      // Reading: rows are counted as DuckDB scans; writing: against the total.
      bar = std::make_unique<ProgressBar>(phase, p.rows_total > 0 ? p.rows_total : 0, true);
    }
    if (p.rows_total > 0) bar->update(p.rows_done);
    else bar->update_fraction(p.fraction, p.rows_done);
  };
  const IngestReport r = ingest_catalog(io);
  if (bar) bar->finish();
  std::printf("ingested %lld rows into %s: %zu partitions, %.2f s (%.0f rows/s)\n", static_cast<long long>(r.rows), r.path.c_str(),
              r.partitions.size(), r.seconds, r.rows / std::max(r.seconds, 1e-9));
  if (r.dropped_rows > 0) std::printf("dropped %lld rows with missing, NaN or out-of-range coordinates\n", static_cast<long long>(r.dropped_rows));
  for (const auto& note : r.notes) std::printf("note: %s\n", note.c_str());
  return 0;
}

const CommandRegistrar registrar(
    "ingest",
    "Ingest CSV, Parquet or FITS tables (files or globs) into a HATS catalog of the catalog root.\n"
    "The catalog appears only when complete; an existing one is never replaced unless --overwrite.",
    30, [](CLI::App& app, const GlobalOptions& g) -> Action {
      auto o = std::make_shared<IngestCliOptions>();
      app.add_option("inputs", o->ingest.inputs, "Input files or glob patterns (.csv[.gz], .parquet, .fits)")->required();
      app.add_option("--name", o->ingest.name, "Catalog name")->required();
      app.add_option("--root", o->ingest.root, "Catalog root (default: $LODESTAR_ROOT, else ~/.lodestar/catalogs)");
      app.add_option("--ra", o->ingest.ra_column, "Right ascension column (default: recognised: ra, RA, ra_deg, RAJ2000, ...)");
      app.add_option("--dec", o->ingest.dec_column, "Declination column (default: recognised: dec, DEC, dec_deg, DEJ2000, ...)");
      app.add_option("--pixel-threshold", o->ingest.pixel_threshold, "Maximum rows per partition")->capture_default_str();
      app.add_option("--highest-order", o->ingest.highest_order, "Deepest HEALPix order of a partition")->capture_default_str();
      app.add_option("--row-group-rows", o->ingest.row_group_rows, "Rows per Parquet row group in the leaves")->capture_default_str();
      app.add_option("--memory", o->ingest.memory_limit, "Memory budget of the ingest (spills beyond it)")->capture_default_str();
      app.add_option("--type", o->types, "Force a CSV column type, COLUMN=SQLTYPE (repeatable)");
      app.add_flag("--drop-invalid", o->ingest.drop_invalid_coordinates,
                   "Drop rows with missing, NaN or out-of-range coordinates (and report the count) instead of failing");
      app.add_flag("--overwrite", o->ingest.overwrite, "Replace an existing catalog of the same name");
      app.add_flag("--no-progress", o->no_progress, "Do not draw progress bars");
      return [o, &g] { return run_ingest(g, *o); };
    });

}  // namespace
}  // namespace lodestar::cli
