#include "catalog/catalog_sql.hpp"

#include <algorithm>

#include "engine/engine.hpp"

namespace lodestar {

const std::vector<std::string>& legacy_partition_columns() {
  static const std::vector<std::string> cols = {"Norder", "Dir", "Npix", "margin_Norder", "margin_Dir", "margin_Npix"};
  return cols;
}

namespace {

std::string schema_source(const HatsCatalog& catalog) {
  if (auto meta = catalog.common_metadata_file()) return *meta;
  const auto files = catalog.all_files();
  if (files.empty()) throw Error("catalog " + catalog.path() + " has no partitions and no dataset/_common_metadata: its schema is unknown");
  return files.front();
}

std::vector<ColumnInfo> describe(duckdb_connection con, const std::string& file) {
  QueryResult r = run_query(con, "DESCRIBE SELECT * FROM read_parquet(" + sql_string_literal(file) + ", hive_partitioning=false)");
  std::vector<ColumnInfo> cols;
  const idx_t n = duckdb_row_count(r.raw());
  for (idx_t i = 0; i < n; ++i) {
    char* name = duckdb_value_varchar(r.raw(), 0, i);
    char* type = duckdb_value_varchar(r.raw(), 1, i);
    cols.push_back({name, type});
    duckdb_free(name);
    duckdb_free(type);
  }
  return cols;
}

bool is_legacy(const std::string& name) {
  const auto& legacy = legacy_partition_columns();
  return std::find(legacy.begin(), legacy.end(), name) != legacy.end();
}

}  // namespace

std::vector<ColumnInfo> catalog_schema(duckdb_connection con, const HatsCatalog& catalog) {
  std::vector<ColumnInfo> cols;
  try {
    cols = describe(con, schema_source(catalog));
  } catch (const Error& e) {
    throw Error("cannot read the schema of catalog " + catalog.path() + ": " + e.what());
  }
  cols.erase(std::remove_if(cols.begin(), cols.end(), [](const ColumnInfo& c) { return is_legacy(c.name); }), cols.end());
  return cols;
}

std::string read_leaves_sql(duckdb_connection con, const HatsCatalog& catalog, const std::vector<std::string>& files) {
  const auto schema = catalog_schema(con, catalog);
  std::string select;
  for (const auto& c : schema) select += (select.empty() ? "" : ", ") + sql_identifier(c.name);
  if (files.empty()) {
    // _common_metadata has the schema and no rows; else an always-false filter on a leaf.
    const std::string source = catalog.common_metadata_file() ? *catalog.common_metadata_file() : catalog.all_files().front();
    return "(SELECT " + select + " FROM read_parquet(" + sql_string_literal(source) + ", hive_partitioning=false) WHERE false)";
  }
  std::string list;
  for (const auto& f : files) list += (list.empty() ? "" : ", ") + sql_string_literal(f);
  // DuckDB matches the leaves' columns by name, so leaves whose columns are
  // ordered differently (e.g. _healpix_29 first in one writer, last in
  // another) read correctly without union_by_name, which would read every
  // leaf's footer while binding (one more request per leaf on S3). A leaf
  // lacking a column is an error naming that file.
  return "(SELECT " + select + " FROM read_parquet([" + list + "], hive_partitioning=false))";
}

void register_catalog_view(duckdb_connection con, const std::string& view_name, const HatsCatalog& catalog) {
  run_query(con, "CREATE OR REPLACE VIEW " + sql_identifier(view_name) + " AS SELECT * FROM " +
                     read_leaves_sql(con, catalog, catalog.all_files()));
}

std::vector<std::string> register_root_views(duckdb_connection con, const CatalogRoot& root) {
  std::vector<std::string> names;
  for (const auto& name : root.list()) {
    register_catalog_view(con, name, root.load(name));
    names.push_back(name);
  }
  return names;
}

}  // namespace lodestar
