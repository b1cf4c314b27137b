// The SQL table function xmatch(left, right, radius_arcsec [, n_neighbors := k] [, all_pairs := b] [, root := dir]):
// crossmatches two HATS catalogs from `lodestar sql`. Output: every left column,
// every right column (a clashing name gets the suffix `_right`), then
// _dist_arcsec.
//
// Exact and complete without margin caches: for each left partition the right
// rows come from every right partition overlapping the pixel's neighbourhood
// (pixel_neighbourhood at the radius), so no pair is lost at a partition edge.
// Memory stays bounded to one left partition and its neighbourhood: the rows
// are materialized in a private engine (the calling connection is busy running
// this very query, so nested queries cannot use it), matched with
// crossmatch_kernel, then joined back to full rows and streamed out.
#include <duckdb.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog_root.hpp"
#include "catalog/catalog_sql.hpp"
#include "catalog/hats_catalog.hpp"
#include "engine/engine.hpp"
#include "engine/sql_function_builder.hpp"
#include "engine/sql_text.hpp"
#include "xmatch/crossmatch_kernel.hpp"
#include "xmatch/sky_region.hpp"

namespace lodestar {
namespace {

constexpr const char* kFunction = "xmatch";
constexpr const char* kRootSetting = "lodestar_root";
constexpr double kArcsecPerDeg = 3600.0;
// Above this many neighbourhood ranges the row filter is left to the kernel
// alone (a huge OR list costs more than it saves).
constexpr size_t kMaxFilterRanges = 256;

struct XmatchBind {
  std::unique_ptr<Engine> engine;  // private: runs the nested per-partition queries
  std::unique_ptr<HatsCatalog> left, right;
  CrossmatchOptions options;
  std::vector<std::string> left_columns, right_columns, right_output_names;
};

struct XmatchState {
  Connection con;
  size_t next_partition = 0;
  std::optional<QueryResult> gathered;  // the current partition's output rows
  std::unique_ptr<DataChunk> chunk;  // kept alive while the output references its vectors
};

struct Value {
  duckdb_value v;
  explicit Value(duckdb_value value) : v(value) {}
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
  ~Value() {
    if (v) duckdb_destroy_value(&v);
  }
  bool present() const { return v != nullptr && !duckdb_is_null_value(v); }
  std::string text() const {
    char* s = duckdb_get_varchar(v);
    std::string out = s ? s : "";
    duckdb_free(s);
    return out;
  }
};

// A catalog argument: a path when it contains '/', else a name in the root.
HatsCatalog open_catalog(const std::string& arg, const std::string& root, const char* which) {
  if (arg.empty()) throw Error(std::string(which) + " catalog name is empty; expected a catalog name or path");
  if (arg.find('/') != std::string::npos) {
    if (!HatsCatalog::is_catalog_dir(arg)) throw Error(std::string(which) + " catalog path " + arg + " is not a HATS catalog folder");
    return HatsCatalog::open(arg);
  }
  return CatalogRoot(root).load(arg);
}

// The catalog root when no `root :=` is given: the `lodestar_root` setting
// (SET lodestar_root = '...', e.g. by `lodestar sql --root`), else the default root.
std::string root_setting(duckdb_bind_info info) {
  duckdb_client_context context = nullptr;
  duckdb_table_function_get_client_context(info, &context);
  const Value setting(duckdb_client_context_get_config_option(context, kRootSetting, nullptr));
  duckdb_destroy_client_context(&context);
  const std::string root = setting.present() ? setting.text() : "";
  return root.empty() ? default_catalog_root() : root;
}

// Column names and types of a catalog, as DuckDB reads its leaves.
QueryResult schema_of(duckdb_connection con, const HatsCatalog& catalog) {
  return run_query(con, "SELECT * FROM " + read_leaves_sql(con, catalog, {}) + " LIMIT 0");
}

void bind(duckdb_bind_info info) {
  try {
    auto data = std::make_unique<XmatchBind>();
    const Value left_arg(duckdb_bind_get_parameter(info, 0));
    const Value right_arg(duckdb_bind_get_parameter(info, 1));
    const Value radius_arg(duckdb_bind_get_parameter(info, 2));
    if (!left_arg.present() || !right_arg.present() || !radius_arg.present())
      throw Error("left catalog, right catalog and radius_arcsec must not be NULL");
    const Value root_arg(duckdb_bind_get_named_parameter(info, "root"));
    const Value k_arg(duckdb_bind_get_named_parameter(info, "n_neighbors"));
    const Value all_arg(duckdb_bind_get_named_parameter(info, "all_pairs"));

    data->options.radius_arcsec = duckdb_get_double(radius_arg.v);
    if (!(data->options.radius_arcsec > 0))
      throw Error("radius_arcsec must be > 0 (arcseconds), got " + radius_arg.text());
    if (k_arg.present()) data->options.n_neighbors = duckdb_get_int64(k_arg.v);
    if (all_arg.present()) data->options.all_pairs = duckdb_get_bool(all_arg.v);
    check_crossmatch_options(data->options);

    const std::string root = root_arg.present() ? root_arg.text() : root_setting(info);
    data->left = std::make_unique<HatsCatalog>(open_catalog(left_arg.text(), root, "left"));
    data->right = std::make_unique<HatsCatalog>(open_catalog(right_arg.text(), root, "right"));

    EngineOptions engine_options;
    engine_options.threads = 1;  // the outer query already owns the cores; one partition at a time
    data->engine = std::make_unique<Engine>(engine_options);
    Connection con = data->engine->connect();

    QueryResult left_schema = schema_of(con.get(), *data->left);
    QueryResult right_schema = schema_of(con.get(), *data->right);
    std::set<std::string> taken;
    for (idx_t c = 0; c < left_schema.column_count(); ++c) {
      const std::string name = left_schema.column_name(c);
      LogicalType type(duckdb_column_logical_type(left_schema.raw(), c));
      duckdb_bind_add_result_column(info, name.c_str(), type.get());
      data->left_columns.push_back(name);
      taken.insert(name);
    }
    taken.insert("_dist_arcsec");
    for (idx_t c = 0; c < right_schema.column_count(); ++c) {
      const std::string name = right_schema.column_name(c);
      std::string out = taken.count(name) ? name + "_right" : name;
      while (taken.count(out)) out += "_right";
      taken.insert(out);
      LogicalType type(duckdb_column_logical_type(right_schema.raw(), c));
      duckdb_bind_add_result_column(info, out.c_str(), type.get());
      data->right_columns.push_back(name);
      data->right_output_names.push_back(out);
    }
    LogicalType dist(DUCKDB_TYPE_DOUBLE);
    duckdb_bind_add_result_column(info, "_dist_arcsec", dist.get());
    duckdb_bind_set_bind_data(info, data.release(), [](void* p) { delete static_cast<XmatchBind*>(p); });
  } catch (const std::exception& e) {
    const std::string message = std::string(kFunction) + ": " + e.what();
    duckdb_bind_set_error(info, message.c_str());
  }
}

void init(duckdb_init_info info) {
  try {
    auto* data = static_cast<XmatchBind*>(duckdb_init_get_bind_data(info));
    auto state = std::make_unique<XmatchState>();
    state->con = data->engine->connect();
    duckdb_init_set_max_threads(info, 1);
    duckdb_init_set_init_data(info, state.release(), [](void* p) { delete static_cast<XmatchState*>(p); });
  } catch (const std::exception& e) {
    const std::string message = std::string(kFunction) + ": " + e.what();
    duckdb_init_set_error(info, message.c_str());
  }
}

// (ra, dec) of table `t` in __i order; throws on a NULL position.
void read_positions(duckdb_connection con, const std::string& table, const std::string& ra, const std::string& dec,
                    std::vector<double>& ra_out, std::vector<double>& dec_out) {
  QueryResult r = run_query(con, "SELECT " + sql_identifier(ra) + "::DOUBLE, " + sql_identifier(dec) + "::DOUBLE FROM " + table +
                                     " ORDER BY __i");
  ra_out.clear();
  dec_out.clear();
  for (;;) {
    DataChunk chunk(duckdb_fetch_chunk(*r.raw()));
    if (!chunk) break;
    const idx_t n = duckdb_data_chunk_get_size(chunk.get());
    const auto ra_col = sql::column<double>(chunk.get(), 0);
    const auto dec_col = sql::column<double>(chunk.get(), 1);
    for (idx_t i = 0; i < n; ++i) {
      if (!ra_col.valid(i) || !dec_col.valid(i))
        throw Error("row with a NULL position (" + ra + ", " + dec + ") in " + (table == "__xl" ? "left" : "right") + " catalog");
      ra_out.push_back(ra_col.values[i]);
      dec_out.push_back(dec_col.values[i]);
    }
  }
}

// Materializes one left partition and its right neighbourhood, matches them and
// runs the query gathering the output rows. Returns false when the partition
// has no pairs.
bool match_partition(const XmatchBind& data, XmatchState& state, const Partition& part) {
  duckdb_connection con = state.con.get();
  const double radius_deg = data.options.radius_arcsec / kArcsecPerDeg;
  const int at_order = std::min(29, std::max(part.order, data.right->max_order()));
  std::vector<PixelRange> near = pixel_neighbourhood(part.order, part.pixel, radius_deg, at_order);
  for (auto& r : near) r = to_order29(r, at_order);

  std::vector<std::string> right_files;
  for (const auto& rp : data.right->partitions()) {
    const PixelRange r29 = rp.range29();
    const bool overlaps = std::any_of(near.begin(), near.end(), [&](const PixelRange& n) { return n.begin < r29.end && r29.begin < n.end; });
    if (overlaps) right_files.insert(right_files.end(), rp.files.begin(), rp.files.end());
  }
  if (right_files.empty()) return false;

  // Right rows: filtered to the neighbourhood by the spatial index when the
  // catalog has one (the kernel filters exactly by distance either way).
  std::string right_filter;
  const std::string hp = data.right->healpix_column();
  const bool has_hp = std::find(data.right_columns.begin(), data.right_columns.end(), hp) != data.right_columns.end();
  if (has_hp && near.size() <= kMaxFilterRanges) {
    for (const auto& n : near)
      right_filter += std::string(right_filter.empty() ? " WHERE " : " OR ") + "(" + sql_identifier(hp) + " >= " + std::to_string(n.begin) +
                      " AND " + sql_identifier(hp) + " < " + std::to_string(n.end) + ")";
  }
  run_query(con, "CREATE OR REPLACE TEMP TABLE __xl AS SELECT row_number() OVER () - 1 AS __i, * FROM " +
                     read_leaves_sql(con, *data.left, part.files));
  run_query(con, "CREATE OR REPLACE TEMP TABLE __xr AS SELECT row_number() OVER () - 1 AS __i, * FROM (SELECT * FROM " +
                     read_leaves_sql(con, *data.right, right_files) + right_filter + ")");

  std::vector<double> lra, ldec, rra, rdec;
  read_positions(con, "__xl", data.left->ra_column(), data.left->dec_column(), lra, ldec);
  read_positions(con, "__xr", data.right->ra_column(), data.right->dec_column(), rra, rdec);
  if (lra.empty() || rra.empty()) return false;
  const CrossmatchResult pairs = crossmatch_kernel(lra.data(), ldec.data(), lra.size(), rra.data(), rdec.data(), rra.size(), data.options);
  if (pairs.size() == 0) return false;

  run_query(con, "CREATE OR REPLACE TEMP TABLE __xp (k BIGINT, li BIGINT, ri BIGINT, d DOUBLE)");
  {
    duckdb_appender appender = nullptr;
    if (duckdb_appender_create(con, nullptr, "__xp", &appender) == DuckDBError) {
      duckdb_appender_destroy(&appender);
      throw Error("could not create the pair table");
    }
    bool ok = true;
    for (size_t i = 0; i < pairs.size() && ok; ++i) {
      ok = duckdb_append_int64(appender, static_cast<int64_t>(i)) == DuckDBSuccess &&
           duckdb_append_int64(appender, pairs.left_index[i]) == DuckDBSuccess &&
           duckdb_append_int64(appender, pairs.right_index[i]) == DuckDBSuccess &&
           duckdb_append_double(appender, pairs.dist_arcsec[i]) == DuckDBSuccess && duckdb_appender_end_row(appender) == DuckDBSuccess;
    }
    ok = ok && duckdb_appender_close(appender) == DuckDBSuccess;
    duckdb_appender_destroy(&appender);
    if (!ok) throw Error("could not store the matched pairs");
  }
  std::string right_select;
  for (size_t c = 0; c < data.right_columns.size(); ++c)
    right_select += ", r." + sql_identifier(data.right_columns[c]) + " AS " + sql_identifier(data.right_output_names[c]);
  std::string left_select;
  for (const auto& n : data.left_columns) left_select += std::string(left_select.empty() ? "" : ", ") + "l." + sql_identifier(n);
  // Kernel order (left row, distance, right row) is kept through the joins by k.
  state.gathered.emplace(run_query(con, "SELECT " + left_select + right_select +
                                      ", p.d AS _dist_arcsec FROM __xp p JOIN __xl l ON l.__i = p.li JOIN __xr r ON r.__i = p.ri ORDER BY p.k"));
  return true;
}

void produce(duckdb_function_info info, duckdb_data_chunk output) {
  try {
    const auto* data = static_cast<const XmatchBind*>(duckdb_function_get_bind_data(info));
    auto* state = static_cast<XmatchState*>(duckdb_function_get_init_data(info));
    for (;;) {
      if (state->gathered) {
        auto chunk = std::make_unique<DataChunk>(duckdb_fetch_chunk(*state->gathered->raw()));
        if (*chunk && duckdb_data_chunk_get_size(chunk->get()) > 0) {
          const idx_t columns = duckdb_data_chunk_get_column_count(chunk->get());
          for (idx_t c = 0; c < columns; ++c)
            duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(output, c), duckdb_data_chunk_get_vector(chunk->get(), c));
          duckdb_data_chunk_set_size(output, duckdb_data_chunk_get_size(chunk->get()));
          state->chunk = std::move(chunk);
          return;
        }
        state->gathered.reset();
      }
      if (state->next_partition >= data->left->partitions().size()) {
        duckdb_data_chunk_set_size(output, 0);
        return;
      }
      match_partition(*data, *state, data->left->partitions()[state->next_partition++]);
    }
  } catch (const std::exception& e) {
    const std::string message = std::string(kFunction) + ": " + e.what();
    duckdb_function_set_error(info, message.c_str());
  }
}

}  // namespace

LODESTAR_SQL_FUNCTIONS(xmatch_table) {
  {
    duckdb_config_option option = duckdb_create_config_option();
    duckdb_config_option_set_name(option, kRootSetting);
    LogicalType text(DUCKDB_TYPE_VARCHAR);
    duckdb_config_option_set_type(option, text.get());
    duckdb_value empty = duckdb_create_varchar("");
    duckdb_config_option_set_default_value(option, empty);
    duckdb_destroy_value(&empty);
    duckdb_config_option_set_description(option, "Catalog root where xmatch() resolves catalog names (empty: $LODESTAR_ROOT, else ~/.lodestar/catalogs)");
    const bool ok = duckdb_register_config_option(con, option) == DuckDBSuccess;
    duckdb_destroy_config_option(&option);
    if (!ok) throw Error("could not register the lodestar_root setting");
  }
  duckdb_table_function f = duckdb_create_table_function();
  duckdb_table_function_set_name(f, kFunction);
  LogicalType varchar(DUCKDB_TYPE_VARCHAR), dbl(DUCKDB_TYPE_DOUBLE), bigint(DUCKDB_TYPE_BIGINT), boolean(DUCKDB_TYPE_BOOLEAN);
  duckdb_table_function_add_parameter(f, varchar.get());
  duckdb_table_function_add_parameter(f, varchar.get());
  duckdb_table_function_add_parameter(f, dbl.get());
  duckdb_table_function_add_named_parameter(f, "root", varchar.get());
  duckdb_table_function_add_named_parameter(f, "n_neighbors", bigint.get());
  duckdb_table_function_add_named_parameter(f, "all_pairs", boolean.get());
  duckdb_table_function_set_bind(f, bind);
  duckdb_table_function_set_init(f, init);
  duckdb_table_function_set_function(f, produce);
  const bool ok = duckdb_register_table_function(con, f) == DuckDBSuccess;
  duckdb_destroy_table_function(&f);
  if (!ok) throw Error("could not register SQL table function xmatch");
}

}  // namespace lodestar
