#include "catalog/margin_coverage.hpp"

#include <healpix_cxx/healpix_base.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/duckdb_handles.hpp"

namespace lodestar {
namespace {

using Base = T_Healpix_Base<int64>;
constexpr double kDegToRad = M_PI / 180.0;

}  // namespace

std::vector<PixelRange> margin_coverage29(int order, int64_t pixel, double radius_deg, int at_order) {
  if (auto p = check_order(order)) throw Error(*p);
  if (auto p = check_order(at_order)) throw Error(*p);
  if (at_order < order)
    throw Error("margin order " + std::to_string(at_order) + " must be >= the pixel's order " + std::to_string(order));
  if (at_order - order > 14) throw Error("margin order must be at most 14 orders below the pixel (4 * 2^14 boundary pixels)");
  if (pixel < 0 || pixel >= healpix_npix(order))
    throw Error("pixel " + std::to_string(pixel) + " is not a pixel of order " + std::to_string(order));
  if (!std::isfinite(radius_deg) || radius_deg <= 0.0 || radius_deg > 90.0)
    throw Error("margin radius must be within (0, 90] degrees, got " + std::to_string(radius_deg));

  const Base coarse(order, NEST), fine(at_order, NEST);
  int x = 0, y = 0, face = 0;
  coarse.pix2xyf(pixel, x, y, face);
  const int64_t n = int64_t{1} << (at_order - order);
  const int64_t x0 = x * n, y0 = y * n;

  // A point outside P within r of P is within r of P's boundary, hence within
  // r + (fine pixel radius) of the centre of a fine boundary pixel of P; 1%
  // slack absorbs rounding (the bound HEALPix's own inclusive queries use).
  const double reach = fine.max_pixrad() * 1.01 + radius_deg * kDegToRad;
  std::vector<PixelRange> ranges;
  rangeset<int64> found;
  const auto add_disc_of = [&](int64_t ix, int64_t iy) {
    const int64_t b = fine.xyf2pix(static_cast<int>(ix), static_cast<int>(iy), face);
    fine.query_disc_inclusive(fine.pix2ang(b), reach, found, 4);
    for (tsize i = 0; i < found.nranges(); ++i) ranges.push_back({found.ivbegin(i), found.ivend(i)});
  };
  for (int64_t i = 0; i < n; ++i) {
    add_disc_of(x0 + i, y0);
    add_disc_of(x0 + i, y0 + n - 1);
    if (i > 0 && i < n - 1) {
      add_disc_of(x0, y0 + i);
      add_disc_of(x0 + n - 1, y0 + i);
    }
  }
  ranges = merge_ranges(std::move(ranges));

  // Minus P itself, then at order 29.
  const int64_t own_lo = pixel * n * n, own_hi = (pixel + 1) * n * n;
  std::vector<PixelRange> out;
  for (const auto& r : ranges) {
    if (r.end <= own_lo || r.begin >= own_hi) {
      out.push_back(r);
      continue;
    }
    if (r.begin < own_lo) out.push_back({r.begin, own_lo});
    if (r.end > own_hi) out.push_back({own_hi, r.end});
  }
  for (auto& r : out) r = to_order29(r, at_order);
  return out;
}

}  // namespace lodestar
