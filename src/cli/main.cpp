// The `lodestar` command-line tool: the engine's SQL and data commands.
// Python-level commands (ingest with tqdm, Dask cluster control, the
// platform) are added by the Python front end, which dispatches the rest here.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/progress_bar.hpp"
#include "cli/table_printer.hpp"
#include "engine/engine.hpp"
#include "engine/synthetic_writer.hpp"
#include "lodestar_version.hpp"

namespace {

using namespace lodestar;

constexpr const char* kDescription =
    "Lodestar: an analysis engine for large astronomical catalogs.\n"
    "\n"
    "Catalogs are HEALPix-partitioned Parquet (HATS). SQL runs on an embedded DuckDB with astronomy\n"
    "functions built in:\n"
    "  ang_sep(ra1, dec1, ra2, dec2)            great-circle separation in degrees\n"
    "  healpix_nest(order, ra, dec)             NESTED HEALPix pixel at order 0..29\n"
    "  healpix29(ra, dec)                       the HATS _healpix_29 spatial index\n"
    "  healpix_parent(index, from_order, to)    parent pixel at a coarser order\n"
    "  cone_contains(ra, dec, ra0, dec0, r)     true when (ra, dec) is within r degrees of (ra0, dec0)\n"
    "All angles are in degrees. Out-of-domain input (|dec| > 90, NaN, order outside 0..29) is an SQL error.\n";

struct GlobalOptions {
  int threads = 0;
  std::string memory_limit;
};

EngineOptions engine_options(const GlobalOptions& g) {
  EngineOptions o;
  o.threads = g.threads;
  o.memory_limit = g.memory_limit;
  return o;
}

int run_sql(const GlobalOptions& g, const std::string& query, int64_t max_rows, bool csv, bool quiet) {
  Engine engine(engine_options(g));
  const auto start = std::chrono::steady_clock::now();
  QueryResult result = engine.query(query);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cli::TableFormat format;
  format.max_rows = max_rows;
  format.csv = csv;
  const int64_t rows = cli::print_result(result, format, std::cout);
  if (!quiet && !csv) std::printf("(%lld %s, %.3f s)\n", static_cast<long long>(rows), rows == 1 ? "row" : "rows", seconds);
  return 0;
}

int run_generate_sky(const GlobalOptions& g, const std::string& out, int64_t rows, int64_t rows_per_file, uint64_t seed, bool progress) {
  Engine engine(engine_options(g));
  SyntheticWriteOptions options;
  options.rows = rows;
  options.rows_per_file = rows_per_file;
  options.spec.seed = seed;
  cli::ProgressBar bar("generate", rows, progress && isatty(STDERR_FILENO));
  options.on_progress = [&](int64_t done) { bar.update(done); };
  const auto start = std::chrono::steady_clock::now();
  write_synthetic_sky(engine, out, options);
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << rows << " synthetic sources (seed " << seed << ") to " << out << " in " << seconds << " s\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "lodestar"};
  app.set_version_flag("--version", std::string("lodestar ") + LODESTAR_VERSION + " (DuckDB " + LODESTAR_DUCKDB_VERSION + ")");
  app.require_subcommand(1);
  GlobalOptions g;
  app.add_option("--threads", g.threads, "Worker threads for the engine (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--memory-limit", g.memory_limit, "Engine memory limit, e.g. 2GB (default: DuckDB's, 80% of RAM)");

  std::string query;
  int64_t max_rows = 40;
  bool csv = false, quiet = false;
  auto* sql = app.add_subcommand("sql",
                                 "Run SQL on the embedded engine and print the result.\n\n"
                                 "Parquet files can be queried by path, e.g.\n"
                                 "  lodestar sql \"SELECT healpix_nest(3, ra, dec) AS pix, count(*) FROM 'sky/*.parquet' GROUP BY pix\"\n"
                                 "  lodestar sql \"SELECT count(*) FROM 'sky/*.parquet' WHERE cone_contains(ra, dec, 10.68, 41.27, 1.0)\"");
  sql->add_option("query", query, "SQL text (one or more statements; the last one's result is printed)")->required();
  sql->add_option("--max-rows", max_rows, "Rows to show in the table (head and tail)")->check(CLI::PositiveNumber);
  sql->add_flag("--csv", csv, "Print every row as CSV instead of a table");
  sql->add_flag("--quiet", quiet, "Do not print the row count and timing line");

  std::string out;
  int64_t rows = 1'000'000, rows_per_file = 1'000'000;
  uint64_t seed = 42;
  bool no_progress = false;
  auto* gen = app.add_subcommand("generate-sky",
                                 "Write a reproducible synthetic sky catalog (uniform sky plus clusters; columns source_id, ra,\n"
                                 "dec, mag_g, mag_r, mag_err) as Parquet files in a new folder. Same seed, same rows.");
  gen->add_option("out", out, "Output folder (must not exist)")->required();
  gen->add_option("--rows", rows, "Number of sources")->check(CLI::NonNegativeNumber);
  gen->add_option("--rows-per-file", rows_per_file, "Rows per Parquet file")->check(CLI::PositiveNumber);
  gen->add_option("--seed", seed, "Random seed");
  gen->add_flag("--no-progress", no_progress, "Do not draw a progress bar");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*sql) return run_sql(g, query, max_rows, csv, quiet);
    if (*gen) return run_generate_sky(g, out, rows, rows_per_file, seed, !no_progress);
  } catch (const std::exception& e) {
    std::cerr << "lodestar: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
