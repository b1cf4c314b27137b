// The `lodestar` command-line tool. Subcommands register themselves (see
// commands.hpp); Python-level commands are added by the Python front end.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "lodestar_version.hpp"

namespace lodestar::cli {

std::vector<CommandSpec>& command_registry() {
  static std::vector<CommandSpec> registry;
  return registry;
}

bool progress_wanted() { return isatty(STDERR_FILENO) != 0; }

}  // namespace lodestar::cli

namespace {

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
    "All angles are in degrees. Out-of-domain input (|dec| > 90, NaN, order outside 0..29) is an SQL error.\n"
    "Run `lodestar COMMAND --help` for each command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace lodestar::cli;
  CLI::App app{kDescription, "lodestar"};
  app.set_version_flag("--version", std::string("lodestar ") + LODESTAR_VERSION + " (DuckDB " + LODESTAR_DUCKDB_VERSION + ")");
  app.require_subcommand(1);
  app.fallthrough();  // global options (--threads, --memory-limit) may also follow the subcommand
  GlobalOptions globals;
  app.add_option("--threads", globals.threads, "Worker threads for the engine (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--memory-limit", globals.memory_limit, "Engine memory limit, e.g. 2GB (default: DuckDB's, 80% of RAM)");

  auto specs = command_registry();
  std::stable_sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  std::map<CLI::App*, Action> actions;
  for (const auto& spec : specs) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.description);
    actions[sub] = spec.setup(*sub, globals);
  }

  CLI11_PARSE(app, argc, argv);
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const std::exception& e) {
    std::cerr << "lodestar: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
