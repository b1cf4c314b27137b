// `lodestar sql`: run SQL on the embedded engine and print the result.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "catalog/catalog_root.hpp"
#include "catalog/catalog_sql.hpp"
#include "cli/commands.hpp"
#include "cli/table_printer.hpp"
#include "engine/remote_access.hpp"

namespace lodestar::cli {
namespace {

struct SqlOptions {
  std::string query;
  std::string root;
  int64_t max_rows = 40;
  bool csv = false;
  bool quiet = false;
};

int run_sql(const GlobalOptions& g, const SqlOptions& o) {
  Engine engine(g.engine_options());
  {
    // Every catalog of the root is a view named like the catalog.
    const std::string root = o.root.empty() ? default_catalog_root() : o.root;
    if (is_remote(root)) engine.ensure_remote_access();
    Connection con = engine.connect();
    register_root_views(con.get(), CatalogRoot(root));
    // xmatch('a', 'b', r) resolves catalog names in the same root.
    run_query(con.get(), "SET GLOBAL lodestar_root = " + sql_string_literal(root));
  }
  const auto start = std::chrono::steady_clock::now();
  QueryResult result = engine.query(o.query);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  TableFormat format;
  format.max_rows = o.max_rows;
  format.csv = o.csv;
  const int64_t rows = print_result(result, format, std::cout);
  std::cout.flush();
  if (!o.quiet && !o.csv) std::printf("(%lld %s, %.3f s)\n", static_cast<long long>(rows), rows == 1 ? "row" : "rows", seconds);
  return 0;
}

const CommandRegistrar registrar(
    "sql",
    "Run SQL on the embedded engine and print the result.\n\n"
    "Catalogs of the catalog root are tables named like the catalog; Parquet files can be queried by path, e.g.\n"
    "  lodestar sql \"SELECT count(*), avg(mag_r) FROM sky WHERE cone_contains(ra, dec, 180, 30, 5)\"\n"
    "  lodestar sql \"SELECT * FROM xmatch('gaia', 'ztf', 1.0)\"            (crossmatch two catalogs by name)\n"
    "  lodestar sql \"SELECT healpix_nest(3, ra, dec) AS pix, count(*) FROM 'sky/*.parquet' GROUP BY pix\"\n"
    "  lodestar sql \"SELECT count(*) FROM 'sky/*.parquet' WHERE cone_contains(ra, dec, 10.68, 41.27, 1.0)\"",
    10, [](CLI::App& app, const GlobalOptions& g) -> Action {
      auto o = std::make_shared<SqlOptions>();
      app.add_option("query", o->query, "SQL text (one or more statements; the last one's result is printed)")->required();
      app.add_option("--root", o->root, "Catalog root (default: $LODESTAR_ROOT, else ~/.lodestar/catalogs)");
      app.add_option("--max-rows", o->max_rows, "Rows to show in the table (head and tail)")->check(CLI::PositiveNumber);
      app.add_flag("--csv", o->csv, "Print every row as CSV instead of a table");
      app.add_flag("--quiet", o->quiet, "Do not print the row count and timing line");
      return [o, &g] { return run_sql(g, *o); };
    });

}  // namespace
}  // namespace lodestar::cli
