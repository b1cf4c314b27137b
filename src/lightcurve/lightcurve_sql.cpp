// SQL functions over light curves stored as list columns:
//   lc_features(time DOUBLE[], mag DOUBLE[], mag_err DOUBLE[]) -> STRUCT(n_obs BIGINT, mean DOUBLE, ...)
// All bands of the row are taken together (pass one band's lists to get per-band features).
// NULL list -> NULL struct; NULL or NaN magnitudes are skipped; a NULL time or a missing/non-positive
// error next to a real magnitude is an error naming the row and element.
#include <duckdb.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "engine/duckdb_handles.hpp"
#include "engine/sql_function_builder.hpp"
#include "lightcurve/features.hpp"

namespace lodestar::lightcurve {
namespace {

using namespace lodestar::sql;

struct ListColumn {
  const duckdb_list_entry* entries;
  const uint64_t* validity;
  const double* child;
  const uint64_t* child_validity;
  explicit ListColumn(duckdb_vector v)
      : entries(static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(v))), validity(duckdb_vector_get_validity(v)) {
    duckdb_vector c = duckdb_list_vector_get_child(v);
    child = static_cast<const double*>(duckdb_vector_get_data(c));
    child_validity = duckdb_vector_get_validity(c);
  }
  bool valid(idx_t row) const {
    return validity == nullptr || duckdb_validity_row_is_valid(const_cast<uint64_t*>(validity), row);
  }
  bool element_valid(idx_t k) const {
    return child_validity == nullptr || duckdb_validity_row_is_valid(const_cast<uint64_t*>(child_validity), k);
  }
  // Element j of the row's list, NaN when NULL.
  double at(idx_t row, idx_t j) const {
    const idx_t k = entries[row].offset + j;
    return element_valid(k) ? child[k] : NAN;
  }
};

void lc_features_kernel(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  ListColumn time(duckdb_data_chunk_get_vector(input, 0)), mag(duckdb_data_chunk_get_vector(input, 1)),
      err(duckdb_data_chunk_get_vector(input, 2));
  auto* n_obs = static_cast<int64_t*>(duckdb_vector_get_data(duckdb_struct_vector_get_child(output, 0)));
  std::vector<double*> cols;
  for (idx_t c = 0; c < kFeatureNames.size(); ++c)
    cols.push_back(static_cast<double*>(duckdb_vector_get_data(duckdb_struct_vector_get_child(output, c + 1))));
  uint64_t* out_validity = nullptr;

  std::vector<double> t, m, e, st, sm, se, scratch;
  std::vector<size_t> order;
  for (idx_t row = 0; row < n; ++row) {
    if (!time.valid(row) || !mag.valid(row) || !err.valid(row)) {
      if (!out_validity) {
        duckdb_vector_ensure_validity_writable(output);
        out_validity = duckdb_vector_get_validity(output);
      }
      duckdb_validity_set_row_invalid(out_validity, row);
      n_obs[row] = 0;
      for (double* col : cols) col[row] = NAN;
      continue;
    }
    const idx_t len = time.entries[row].length;
    if (mag.entries[row].length != len || err.entries[row].length != len)
      return fail(info, "lc_features",
                  "row " + std::to_string(row) + ": time, mag and mag_err lists must have the same length, got " +
                      std::to_string(len) + ", " + std::to_string(mag.entries[row].length) + ", " +
                      std::to_string(err.entries[row].length));
    t.clear(), m.clear(), e.clear();
    for (idx_t j = 0; j < len; ++j) {
      const double mj = mag.at(row, j);
      if (!std::isfinite(mj)) continue;  // missing measurement
      const double tj = time.at(row, j), ej = err.at(row, j);
      const std::string where = "row " + std::to_string(row) + ", element " + std::to_string(j) + ": ";
      if (!std::isfinite(tj)) return fail(info, "lc_features", where + "time must be a finite value where mag is given");
      if (!(std::isfinite(ej) && ej > 0.0))
        return fail(info, "lc_features",
                    where + "mag_err must be positive and finite where mag is given, got " + std::to_string(ej));
      t.push_back(tj), m.push_back(mj), e.push_back(ej);
    }
    order.resize(t.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t[a] < t[b]; });
    st.clear(), sm.clear(), se.clear();
    for (size_t k : order) st.push_back(t[k]), sm.push_back(m[k]), se.push_back(e[k]);
    const Features f = compute_features(st.data(), sm.data(), se.data(), st.size(), scratch);
    n_obs[row] = f.n_obs;
    const auto values = feature_values(f);
    for (size_t c = 0; c < values.size(); ++c) cols[c][row] = values[c];
  }
}

}  // namespace
}  // namespace lodestar::lightcurve

LODESTAR_SQL_FUNCTIONS(lightcurve) {
  using namespace lodestar;
  using lodestar::lightcurve::kFeatureNames;
  LogicalType dbl(DUCKDB_TYPE_DOUBLE), big(DUCKDB_TYPE_BIGINT);
  LogicalType list(duckdb_create_list_type(dbl.get()));
  std::vector<duckdb_logical_type> member_types{big.get()};
  std::vector<const char*> member_names{"n_obs"};
  for (const char* name : kFeatureNames) member_types.push_back(dbl.get()), member_names.push_back(name);
  LogicalType features(duckdb_create_struct_type(member_types.data(), member_names.data(), member_types.size()));
  sql::FunctionSet f("lc_features");
  sql::add_function(f, {list.get(), list.get(), list.get()}, features.get(), lodestar::lightcurve::lc_features_kernel);
  f.register_in(con);
}
