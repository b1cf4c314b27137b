#include "engine/sql_functions.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/healpix_index.hpp"
#include "core/sky_angles.hpp"
#include "engine/duckdb_handles.hpp"
#include "engine/sql_function_builder.hpp"

namespace lodestar {
namespace {

using namespace lodestar::sql;

std::optional<std::string> check_named_position(double ra, double dec, const char* ra_name, const char* dec_name) {
  if (auto problem = check_position(ra, dec)) {
    const bool ra_bad = !std::isfinite(ra);
    return std::string(ra_bad ? ra_name : dec_name) + ": " + *problem;
  }
  return std::nullopt;
}

// Accepts a DOUBLE order only when it is an integral value in range, so that
// healpix_nest(NaN, ...) is an error rather than a silent cast.
std::optional<std::string> check_order_value(double order) {
  if (!std::isfinite(order) || order != std::floor(order)) return "HEALPix order must be an integer within [0, 29], got " + std::to_string(order);
  return check_order(static_cast<int64_t>(order));
}

void ang_sep_kernel(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  auto ra1 = column<double>(input, 0), dec1 = column<double>(input, 1);
  auto ra2 = column<double>(input, 2), dec2 = column<double>(input, 3);
  Output<double> out(output);
  for (idx_t i = 0; i < n; ++i) {
    if (!all_valid(i, ra1, dec1, ra2, dec2)) {
      out.set_null(i);
      continue;
    }
    if (auto p = check_named_position(ra1.values[i], dec1.values[i], "ra1", "dec1")) return fail(info, "ang_sep", *p);
    if (auto p = check_named_position(ra2.values[i], dec2.values[i], "ra2", "dec2")) return fail(info, "ang_sep", *p);
    out.values[i] = angular_separation_deg(ra1.values[i], dec1.values[i], ra2.values[i], dec2.values[i]);
  }
}

template <typename OrderT>
void healpix_nest_kernel(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  auto order = column<OrderT>(input, 0);
  auto ra = column<double>(input, 1), dec = column<double>(input, 2);
  Output<int64_t> out(output);
  for (idx_t i = 0; i < n; ++i) {
    if (!all_valid(i, order, ra, dec)) {
      out.set_null(i);
      continue;
    }
    std::optional<std::string> bad;
    if constexpr (std::is_floating_point_v<OrderT>) {
      bad = check_order_value(order.values[i]);
    } else {
      bad = check_order(order.values[i]);
    }
    if (bad) return fail(info, "healpix_nest", *bad);
    if (auto p = check_named_position(ra.values[i], dec.values[i], "ra", "dec")) return fail(info, "healpix_nest", *p);
    out.values[i] = healpix_nest(static_cast<int>(order.values[i]), ra.values[i], dec.values[i]);
  }
}

void healpix29_kernel(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  auto ra = column<double>(input, 0), dec = column<double>(input, 1);
  Output<int64_t> out(output);
  for (idx_t i = 0; i < n; ++i) {
    if (!all_valid(i, ra, dec)) {
      out.set_null(i);
      continue;
    }
    if (auto p = check_named_position(ra.values[i], dec.values[i], "ra", "dec")) return fail(info, "healpix29", *p);
    out.values[i] = healpix29(ra.values[i], dec.values[i]);
  }
}

void healpix_parent_kernel(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  auto index = column<int64_t>(input, 0), from = column<int64_t>(input, 1), to = column<int64_t>(input, 2);
  Output<int64_t> out(output);
  for (idx_t i = 0; i < n; ++i) {
    if (!all_valid(i, index, from, to)) {
      out.set_null(i);
      continue;
    }
    if (auto p = check_order(from.values[i])) return fail(info, "healpix_parent", "from_order: " + *p);
    if (auto p = check_order(to.values[i])) return fail(info, "healpix_parent", "to_order: " + *p);
    if (to.values[i] > from.values[i])
      return fail(info, "healpix_parent",
                  "to_order (" + std::to_string(to.values[i]) + ") must not exceed from_order (" + std::to_string(from.values[i]) + ")");
    const int fo = static_cast<int>(from.values[i]);
    if (index.values[i] < 0 || index.values[i] >= healpix_npix(fo))
      return fail(info, "healpix_parent",
                  "index " + std::to_string(index.values[i]) + " is not a pixel of order " + std::to_string(fo) + " (valid: 0.." +
                      std::to_string(healpix_npix(fo) - 1) + ")");
    out.values[i] = healpix_parent(index.values[i], fo, static_cast<int>(to.values[i]));
  }
}

void cone_contains_kernel(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  auto ra = column<double>(input, 0), dec = column<double>(input, 1);
  auto ra0 = column<double>(input, 2), dec0 = column<double>(input, 3), radius = column<double>(input, 4);
  Output<bool> out(output);
  // Cache the chord threshold: the radius is almost always a constant.
  double cached_radius = std::nan(""), cached_chord2 = 0.0;
  for (idx_t i = 0; i < n; ++i) {
    if (!all_valid(i, ra, dec, ra0, dec0, radius)) {
      out.set_null(i);
      continue;
    }
    const double r = radius.values[i];
    if (!std::isfinite(r) || r < 0.0 || r > 180.0)
      return fail(info, "cone_contains", "radius_deg must be within [0, 180] degrees, got " + std::to_string(r));
    if (auto p = check_named_position(ra.values[i], dec.values[i], "ra", "dec")) return fail(info, "cone_contains", *p);
    if (auto p = check_named_position(ra0.values[i], dec0.values[i], "ra0", "dec0")) return fail(info, "cone_contains", *p);
    if (r != cached_radius) {
      cached_radius = r;
      cached_chord2 = chord2_for_radius_deg(r);
    }
    const UnitVector a = unit_vector(ra.values[i], dec.values[i]);
    const UnitVector b = unit_vector(ra0.values[i], dec0.values[i]);
    out.values[i] = chord2(a, b) <= cached_chord2;
  }
}

}  // namespace

}  // namespace lodestar

namespace lodestar::sql {

void add_function(FunctionSet& set, const std::vector<duckdb_logical_type>& params, duckdb_logical_type ret,
                  duckdb_scalar_function_t kernel) {
  duckdb_scalar_function fn = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(fn, set.name().c_str());
  for (duckdb_logical_type p : params) duckdb_scalar_function_add_parameter(fn, p);
  duckdb_scalar_function_set_return_type(fn, ret);
  duckdb_scalar_function_set_function(fn, kernel);
  const bool ok = duckdb_add_scalar_function_to_set(set.get(), fn) == DuckDBSuccess;
  duckdb_destroy_scalar_function(&fn);
  if (!ok) throw Error("could not add an overload to SQL function " + set.name());
}

void add_function(FunctionSet& set, const std::vector<duckdb_type>& params, duckdb_type ret, duckdb_scalar_function_t kernel) {
  std::vector<LogicalType> owned;
  owned.reserve(params.size());  // no reallocation: `types` points into it
  std::vector<duckdb_logical_type> types;
  for (duckdb_type p : params) types.push_back(owned.emplace_back(p).get());
  LogicalType r(ret);
  add_function(set, types, r.get(), kernel);
}

std::vector<std::pair<const char*, RegisterFunctions>>& function_groups() {
  static std::vector<std::pair<const char*, RegisterFunctions>> groups;
  return groups;
}

void register_all_functions(duckdb_connection con) {
  for (const auto& [name, fn] : function_groups()) fn(con);
}

}  // namespace lodestar::sql

namespace lodestar {

void register_sql_functions(duckdb_connection con) {
  constexpr auto D = DUCKDB_TYPE_DOUBLE;
  constexpr auto I = DUCKDB_TYPE_BIGINT;

  FunctionSet ang_sep("ang_sep");
  add_function(ang_sep, {D, D, D, D}, D, ang_sep_kernel);
  ang_sep.register_in(con);

  FunctionSet nest("healpix_nest");
  add_function(nest, {I, D, D}, I, healpix_nest_kernel<int64_t>);
  add_function(nest, {D, D, D}, I, healpix_nest_kernel<double>);
  nest.register_in(con);

  FunctionSet h29("healpix29");
  add_function(h29, {D, D}, I, healpix29_kernel);
  h29.register_in(con);

  FunctionSet parent("healpix_parent");
  add_function(parent, {I, I, I}, I, healpix_parent_kernel);
  parent.register_in(con);

  FunctionSet cone("cone_contains");
  add_function(cone, {D, D, D, D, D}, DUCKDB_TYPE_BOOLEAN, cone_contains_kernel);
  cone.register_in(con);

  // Functions of the other layers (regions, light curves, ...).
  sql::register_all_functions(con);
}

}  // namespace lodestar
