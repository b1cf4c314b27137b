// SQL access to catalogs: the read_parquet() expression over a catalog's leaf
// files, and views that let `SELECT ... FROM <catalog name>` work.
#pragma once

#include <duckdb.h>

#include <string>
#include <vector>

#include "catalog/catalog_root.hpp"
#include "catalog/hats_catalog.hpp"
#include "engine/sql_text.hpp"

namespace lodestar {

// Legacy hive columns a HATS v1.0 reader ignores.
const std::vector<std::string>& legacy_partition_columns();

struct ColumnInfo {
  std::string name;
  std::string type;  // DuckDB type name
};

// Schema of a catalog from _common_metadata (or its first leaf), without
// legacy partition columns.
std::vector<ColumnInfo> catalog_schema(duckdb_connection con, const HatsCatalog& catalog);

// A FROM-clause expression reading `files` (all leaves of one catalog), with
// the catalog's schema; hive partitioning off so Norder=/Dir= path parts do
// not become columns. With no files, an empty relation of the same schema.
std::string read_leaves_sql(duckdb_connection con, const HatsCatalog& catalog, const std::vector<std::string>& files);

// CREATE OR REPLACE VIEW <view_name> over all of the catalog's rows.
void register_catalog_view(duckdb_connection con, const std::string& view_name, const HatsCatalog& catalog);

// One view per catalog of the root, named like the catalog. Returns the names.
std::vector<std::string> register_root_views(duckdb_connection con, const CatalogRoot& root);

}  // namespace lodestar
