// `lodestar catalogs` and `lodestar info NAME`: what the catalog root holds.
#include <cstdio>
#include <iostream>
#include <memory>

#include "catalog/catalog_root.hpp"
#include "catalog/catalog_sql.hpp"
#include "cli/commands.hpp"
#include "engine/remote_access.hpp"

namespace lodestar::cli {
namespace {

std::string root_or_default(const std::string& root) { return root.empty() ? default_catalog_root() : root; }

int run_catalogs(const std::string& root_path) {
  CatalogRoot root(root_or_default(root_path));
  const auto names = root.list();
  if (names.empty()) {
    std::cout << "no catalogs in " << root.path() << "\n";
    return 0;
  }
  std::printf("%-32s %-8s %14s %10s %s\n", "name", "type", "rows", "partitions", "margin");
  for (const auto& name : names) {
    const HatsCatalog c = root.load(name);
    std::printf("%-32s %-8s %14lld %10zu %s\n", name.c_str(), c.type().c_str(), static_cast<long long>(c.total_rows()),
                c.partitions().size(), c.margin_path() ? "yes" : "-");
  }
  std::cout << "(" << names.size() << " catalogs in " << root.path() << ")\n";
  return 0;
}

int run_info(const GlobalOptions& g, const std::string& root_path, const std::string& name) {
  CatalogRoot root(root_or_default(root_path));
  const HatsCatalog c = root.load(name);
  std::cout << "catalog      " << name << "  (" << c.path() << ")\n";
  std::cout << "type         " << c.type() << "\n";
  std::cout << "rows         " << c.total_rows() << "\n";
  std::cout << "partitions   " << c.partitions().size() << " (orders ";
  int lo = 29, hi = 0;
  for (const auto& p : c.partitions()) lo = std::min(lo, p.order), hi = std::max(hi, p.order);
  std::cout << lo << ".." << hi << ")\n";
  std::cout << "coordinates  " << c.ra_column() << ", " << c.dec_column() << "; index " << c.healpix_column() << "\n";
  if (c.margin_path()) std::cout << "margin       " << *c.margin_path() << "\n";
  Engine engine(g.engine_options());
  if (is_remote(c.path())) engine.ensure_remote_access();
  Connection con = engine.connect();
  std::cout << "columns\n";
  for (const auto& col : catalog_schema(con.get(), c)) std::printf("  %-30s %s\n", col.name.c_str(), col.type.c_str());
  std::cout << "properties\n";
  for (const auto& [k, v] : c.properties().entries()) std::cout << "  " << k << " = " << v << "\n";
  return 0;
}

struct CatalogsOptions {
  std::string root;
};
struct InfoOptions {
  std::string root, name;
};

const CommandRegistrar catalogs_registrar("catalogs", "List the catalogs of the catalog root (names, types, rows, partitions).",
                                          20, [](CLI::App& app, const GlobalOptions&) -> Action {
                                            auto o = std::make_shared<CatalogsOptions>();
                                            app.add_option("--root", o->root,
                                                           "Catalog root (default: $LODESTAR_ROOT, else ~/.lodestar/catalogs)");
                                            return [o] { return run_catalogs(o->root); };
                                          });

const CommandRegistrar info_registrar("info", "Describe one catalog of the root: rows, partitions, columns and properties.", 21,
                                      [](CLI::App& app, const GlobalOptions& g) -> Action {
                                        auto o = std::make_shared<InfoOptions>();
                                        app.add_option("name", o->name, "Catalog name")->required();
                                        app.add_option("--root", o->root,
                                                       "Catalog root (default: $LODESTAR_ROOT, else ~/.lodestar/catalogs)");
                                        return [o, &g] { return run_info(g, o->root, o->name); };
                                      });

}  // namespace
}  // namespace lodestar::cli
