// SQL functions of the search shapes (NULL in -> NULL out, bad shapes are an
// SQL error naming what was wrong):
//   box_contains(ra, dec, ra_lo, ra_hi, dec_lo, dec_hi) -> BOOLEAN
//   polygon_contains(ra, dec, vertices DOUBLE[]) -> BOOLEAN, vertices flattened [ra1, dec1, ra2, dec2, ...]
// The shape is rebuilt only when its parameters change from one row to the
// next (they are almost always constants).
#include <duckdb.h>

#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "engine/duckdb_handles.hpp"
#include "engine/sql_function_builder.hpp"
#include "xmatch/sky_region.hpp"

namespace lodestar {
namespace {

using namespace lodestar::sql;

std::optional<std::string> check_point(double ra, double dec) {
  if (auto p = check_position(ra, dec)) return std::string(std::isfinite(ra) ? "dec" : "ra") + ": " + *p;
  return std::nullopt;
}

void box_contains_kernel(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  auto ra = column<double>(input, 0), dec = column<double>(input, 1);
  auto ra_lo = column<double>(input, 2), ra_hi = column<double>(input, 3);
  auto dec_lo = column<double>(input, 4), dec_hi = column<double>(input, 5);
  Output<bool> out(output);
  std::optional<Box> box;
  std::array<double, 4> key{};
  for (idx_t i = 0; i < n; ++i) {
    if (!all_valid(i, ra, dec, ra_lo, ra_hi, dec_lo, dec_hi)) {
      out.set_null(i);
      continue;
    }
    if (auto p = check_point(ra.values[i], dec.values[i])) return fail(info, "box_contains", *p);
    const std::array<double, 4> params{ra_lo.values[i], ra_hi.values[i], dec_lo.values[i], dec_hi.values[i]};
    if (!box || params != key) {
      try {
        box.emplace(params[0], params[1], params[2], params[3]);
      } catch (const Error& e) {
        return fail(info, "box_contains", e.what());
      }
      key = params;
    }
    uint8_t in = 0;
    box->contains(&ra.values[i], &dec.values[i], 1, &in);
    out.values[i] = in != 0;
  }
}

void polygon_contains_kernel(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  auto ra = column<double>(input, 0), dec = column<double>(input, 1);
  duckdb_vector list = duckdb_data_chunk_get_vector(input, 2);
  const auto* entries = static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(list));
  const uint64_t* list_validity = duckdb_vector_get_validity(list);
  duckdb_vector child = duckdb_list_vector_get_child(list);
  const auto* values = static_cast<const double*>(duckdb_vector_get_data(child));
  uint64_t* child_validity = duckdb_vector_get_validity(child);
  Output<bool> out(output);
  std::optional<Polygon> polygon;
  std::vector<double> key, params;
  for (idx_t i = 0; i < n; ++i) {
    const bool list_valid = list_validity == nullptr || duckdb_validity_row_is_valid(const_cast<uint64_t*>(list_validity), i);
    if (!all_valid(i, ra, dec) || !list_valid) {
      out.set_null(i);
      continue;
    }
    if (auto p = check_point(ra.values[i], dec.values[i])) return fail(info, "polygon_contains", *p);
    params.clear();
    for (idx_t j = 0; j < entries[i].length; ++j) {
      const idx_t k = entries[i].offset + j;
      if (child_validity && !duckdb_validity_row_is_valid(child_validity, k))
        return fail(info, "polygon_contains", "vertices: element " + std::to_string(j) + " is NULL");
      params.push_back(values[k]);
    }
    if (!polygon || params != key) {
      try {
        auto region = make_region("polygon", params);
        polygon.emplace(*dynamic_cast<Polygon*>(region.get()));
      } catch (const Error& e) {
        return fail(info, "polygon_contains", std::string("vertices: ") + e.what());
      }
      key = params;
    }
    uint8_t in = 0;
    polygon->contains(&ra.values[i], &dec.values[i], 1, &in);
    out.values[i] = in != 0;
  }
}

}  // namespace
}  // namespace lodestar

LODESTAR_SQL_FUNCTIONS(regions) {
  using namespace lodestar::sql;
  constexpr auto D = DUCKDB_TYPE_DOUBLE;
  FunctionSet box("box_contains");
  add_function(box, {D, D, D, D, D, D}, DUCKDB_TYPE_BOOLEAN, lodestar::box_contains_kernel);
  box.register_in(con);

  lodestar::LogicalType dbl(D), boolean(DUCKDB_TYPE_BOOLEAN);
  lodestar::LogicalType list(duckdb_create_list_type(dbl.get()));
  FunctionSet polygon("polygon_contains");
  add_function(polygon, {dbl.get(), dbl.get(), list.get()}, boolean.get(), lodestar::polygon_contains_kernel);
  polygon.register_in(con);
}
