// Python binding of the search shapes and the crossmatch kernel: numpy in,
// numpy out, the GIL released around the C++ work.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/sky_angles.hpp"
#include "engine/duckdb_handles.hpp"
#include "python/bindings.hpp"
#include "python/numpy_ranges.hpp"
#include "xmatch/catalog_crossmatch.hpp"
#include "xmatch/crossmatch_kernel.hpp"
#include "xmatch/sky_region.hpp"

namespace py = pybind11;
using namespace lodestar;
using lodestar::python::ranges_to_numpy;

namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

Array<double> as_1d(const Array<double>& a, const char* name) {
  if (a.ndim() != 1)
    throw Error(std::string(name) + " must be a one-dimensional array, got " + std::to_string(a.ndim()) + " dimensions");
  return a;
}

void check_same_length(const Array<double>& ra, const Array<double>& dec, const char* ra_name, const char* dec_name) {
  if (ra.size() != dec.size())
    throw Error(std::string(ra_name) + " and " + dec_name + " must have the same length, got " + std::to_string(ra.size()) +
                " and " + std::to_string(dec.size()));
}

// Moves a vector into a numpy array without copying.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(owned->size()), owned->data(), free_when_done);
}

py::array_t<bool> region_contains(const std::string& kind, const std::vector<double>& params, Array<double> ra,
                                  Array<double> dec) {
  ra = as_1d(ra, "ra"), dec = as_1d(dec, "dec");
  check_same_length(ra, dec, "ra", "dec");
  auto region = make_region(kind, params);
  const double* r = ra.data();
  const double* d = dec.data();
  const size_t n = static_cast<size_t>(ra.size());
  for (size_t i = 0; i < n; ++i)
    if (auto p = check_position(r[i], d[i])) throw Error("row " + std::to_string(i) + ": " + *p);
  py::array_t<bool> out(static_cast<py::ssize_t>(n));
  {
    py::gil_scoped_release unlocked;
    region->contains(r, d, n, reinterpret_cast<uint8_t*>(out.mutable_data()));
  }
  return out;
}

py::array_t<int64_t> region_coverage(const std::string& kind, const std::vector<double>& params, int order) {
  auto region = make_region(kind, params);
  std::vector<PixelRange> ranges;
  {
    py::gil_scoped_release unlocked;
    ranges = region->coverage(order);
  }
  return ranges_to_numpy(ranges);
}

CrossmatchOptions crossmatch_options(double radius_arcsec, int64_t n_neighbors, bool all_pairs, double min_radius_arcsec,
                                     bool exclude_self) {
  CrossmatchOptions o;
  o.radius_arcsec = radius_arcsec;
  o.n_neighbors = n_neighbors;
  o.all_pairs = all_pairs;
  o.min_radius_arcsec = min_radius_arcsec;
  o.exclude_self = exclude_self;
  return o;
}

void check_positions(Array<double>& ra1, Array<double>& dec1, Array<double>& ra2, Array<double>& dec2) {
  ra1 = as_1d(ra1, "ra1"), dec1 = as_1d(dec1, "dec1"), ra2 = as_1d(ra2, "ra2"), dec2 = as_1d(dec2, "dec2");
  check_same_length(ra1, dec1, "ra1", "dec1");
  check_same_length(ra2, dec2, "ra2", "dec2");
}

py::tuple crossmatch_arrays(Array<double> ra1, Array<double> dec1, Array<double> ra2, Array<double> dec2, double radius_arcsec,
                            int64_t n_neighbors, bool all_pairs, double min_radius_arcsec, bool exclude_self,
                            bool left_in_sky_order) {
  check_positions(ra1, dec1, ra2, dec2);
  CrossmatchOptions o = crossmatch_options(radius_arcsec, n_neighbors, all_pairs, min_radius_arcsec, exclude_self);
  o.left_in_sky_order = left_in_sky_order;
  CrossmatchResult r;
  {
    py::gil_scoped_release unlocked;
    r = crossmatch_kernel(ra1.data(), dec1.data(), static_cast<size_t>(ra1.size()), ra2.data(), dec2.data(),
                          static_cast<size_t>(ra2.size()), o);
  }
  return py::make_tuple(to_numpy(std::move(r.left_index)), to_numpy(std::move(r.right_index)),
                        to_numpy(std::move(r.dist_arcsec)));
}

uint64_t count_pairs(Array<double> ra1, Array<double> dec1, Array<double> ra2, Array<double> dec2, double radius_arcsec,
                     int64_t n_neighbors, bool all_pairs, double min_radius_arcsec, bool exclude_self, bool left_in_sky_order) {
  check_positions(ra1, dec1, ra2, dec2);
  CrossmatchOptions o = crossmatch_options(radius_arcsec, n_neighbors, all_pairs, min_radius_arcsec, exclude_self);
  o.left_in_sky_order = left_in_sky_order;
  py::gil_scoped_release unlocked;
  return lodestar::crossmatch_count(ra1.data(), dec1.data(), static_cast<size_t>(ra1.size()), ra2.data(), dec2.data(),
                                    static_cast<size_t>(ra2.size()), o);
}

// One side's chunks (numpy views of Arrow's chunks: no copy), checked alike.
ChunkedColumns chunked_columns(const std::vector<Array<double>>& ra, const std::vector<Array<double>>& dec,
                               const std::optional<std::vector<Array<int64_t>>>& hp, const char* side) {
  if (ra.size() != dec.size() || (hp && hp->size() != ra.size()))
    throw Error(std::string(side) + ": ra, dec and _healpix_29 must come in the same number of chunks");
  ChunkedColumns c;
  size_t row = 0;
  for (size_t k = 0; k < ra.size(); ++k) {
    const auto n = ra[k].size();
    if (ra[k].ndim() != 1 || dec[k].ndim() != 1 || dec[k].size() != n || (hp && ((*hp)[k].ndim() != 1 || (*hp)[k].size() != n)))
      throw Error(std::string(side) + ": chunk " + std::to_string(k) + " of ra, dec and _healpix_29 differ in length");
    c.chunks.push_back({ra[k].data(), dec[k].data(), hp ? (*hp)[k].data() : nullptr, static_cast<size_t>(n), row});
    row += static_cast<size_t>(n);
  }
  return c;
}

// Both catalogs in memory, every left partition matched against its
// neighbourhood, in C++ on `threads` threads.
py::object crossmatch_sorted_catalogs(const std::vector<Array<double>>& lra, const std::vector<Array<double>>& ldec,
                                      const std::optional<std::vector<Array<int64_t>>>& lhp,
                                      const std::vector<Array<double>>& rra, const std::vector<Array<double>>& rdec,
                                      const std::vector<Array<int64_t>>& rhp, const std::vector<int>& orders,
                                      const std::vector<int64_t>& pixels, double radius_arcsec, int64_t n_neighbors,
                                      bool all_pairs, double min_radius_arcsec, int threads, bool count_only,
                                      const std::optional<std::vector<int64_t>>& left_bounds) {
  ChunkedColumns left = chunked_columns(lra, ldec, lhp, "left"), right = chunked_columns(rra, rdec, rhp, "right");
  if (orders.size() != pixels.size()) throw Error("orders and pixels must have the same length");
  if (!lhp && (!left_bounds || left_bounds->size() != orders.size() + 1))
    throw Error("left rows without _healpix_29 need left_bounds: one more entry than partitions");
  std::vector<LeftPartition> parts;
  for (size_t i = 0; i < orders.size(); ++i) {
    parts.push_back({orders[i], pixels[i]});
    if (!lhp) {
      if ((*left_bounds)[i] < 0 || (*left_bounds)[i + 1] < (*left_bounds)[i])
        throw Error("left_bounds must be non-decreasing from 0");
      parts.back().left_begin = static_cast<size_t>((*left_bounds)[i]);
      parts.back().left_end = static_cast<size_t>((*left_bounds)[i + 1]);
    }
  }
  const CrossmatchOptions o = crossmatch_options(radius_arcsec, n_neighbors, all_pairs, min_radius_arcsec, false);
  if (count_only) {
    uint64_t n = 0;
    {
      py::gil_scoped_release unlocked;
      n = count_partitions(std::move(left), std::move(right), parts, o, threads);
    }
    return py::int_(n);
  }
  CrossmatchResult r;
  {
    py::gil_scoped_release unlocked;
    r = crossmatch_partitions(std::move(left), std::move(right), parts, o, threads);
  }
  return py::make_tuple(to_numpy(std::move(r.left_index)), to_numpy(std::move(r.right_index)),
                        to_numpy(std::move(r.dist_arcsec)));
}

}  // namespace

LODESTAR_PYTHON_BINDING(xmatch) {
  m.def("crossmatch_sorted_catalogs", &crossmatch_sorted_catalogs, py::arg("left_ra"), py::arg("left_dec"),
        py::arg("left_healpix29"), py::arg("right_ra"), py::arg("right_dec"), py::arg("right_healpix29"), py::arg("orders"),
        py::arg("pixels"), py::arg("radius_arcsec"), py::arg("n_neighbors") = 1, py::arg("all_pairs") = false,
        py::arg("min_radius_arcsec") = 0.0, py::arg("threads") = 1, py::arg("count_only") = false,
        py::arg("left_bounds") = py::none(),
        "Crossmatch two in-memory catalogs given as lists of column chunks, left partition (orders[i], pixels[i]) by "
        "partition: the pair count, or (left_index, right_index, dist_arcsec) concatenated in partition order. The right "
        "rows are sorted by _healpix_29 once their chunks are in order of their first value; the left rows too, or "
        "left_healpix29 is None and partition i's left rows are [left_bounds[i], left_bounds[i + 1])");
  m.def(
      "partition_neighbourhood29",
      [](int order, int64_t pixel, double radius_deg) {
        return ranges_to_numpy(partition_neighbourhood29(order, pixel, radius_deg));
      },
      py::arg("order"), py::arg("pixel"), py::arg("radius_deg"),
      "Merged order-29 ranges covering every point within radius_deg of pixel (order, pixel)");
  m.def("region_contains", &region_contains, py::arg("kind"), py::arg("params"), py::arg("ra"), py::arg("dec"),
        "Exact membership of (ra, dec) in a region: kind 'cone' [ra, dec, radius_deg], 'box' [ra_lo, ra_hi, dec_lo, dec_hi] "
        "or 'polygon' [ra1, dec1, ra2, dec2, ...]; returns a bool array");
  m.def("region_coverage", &region_coverage, py::arg("kind"), py::arg("params"), py::arg("order"),
        "Inclusive NESTED pixel ranges [begin, end) at `order` of a region, as an (n, 2) int64 array");
  m.def(
      "region_describe",
      [](const std::string& kind, const std::vector<double>& params) { return make_region(kind, params)->describe(); },
      py::arg("kind"), py::arg("params"), "Validate a region and describe it");
  m.def(
      "pixel_neighbourhood",
      [](int order, int64_t pixel, double radius_deg, int at_order) {
        return ranges_to_numpy(pixel_neighbourhood(order, pixel, radius_deg, at_order));
      },
      py::arg("order"), py::arg("pixel"), py::arg("radius_deg"), py::arg("at_order"),
      "Inclusive pixel ranges at `at_order` of every point within radius_deg of pixel (order, pixel)");
  m.def("crossmatch_arrays", &crossmatch_arrays, py::arg("ra1"), py::arg("dec1"), py::arg("ra2"), py::arg("dec2"),
        py::arg("radius_arcsec"), py::arg("n_neighbors") = 1, py::arg("all_pairs") = false, py::arg("min_radius_arcsec") = 0.0,
        py::arg("exclude_self") = false, py::arg("left_in_sky_order") = false,
        "Crossmatch two position lists (degrees): returns (left_index, right_index, dist_arcsec), ordered by left index, "
        "then distance, then right index. left_in_sky_order: the left rows are sorted by _healpix_29 (a partition's "
        "rows), swept as they are; faster, the same result");
  m.def("crossmatch_count", &count_pairs, py::arg("ra1"), py::arg("dec1"), py::arg("ra2"), py::arg("dec2"),
        py::arg("radius_arcsec"), py::arg("n_neighbors") = 1, py::arg("all_pairs") = false, py::arg("min_radius_arcsec") = 0.0,
        py::arg("exclude_self") = false, py::arg("left_in_sky_order") = false,
        "The number of pairs crossmatch_arrays returns for the same arguments, counted without computing them");
}
