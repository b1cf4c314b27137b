#include "core/healpix_index.hpp"

#include <healpix_base.h>
#include <pointing.h>
#include <rangeset.h>

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <sstream>

#include "core/sky_angles.hpp"

namespace lodestar {
namespace {

using Base = T_Healpix_Base<int64>;

// One immutable Healpix_Base per order, built once; construction is cheap but
// not free, and the per-row SQL kernels call this millions of times.
const Base& base_for(int order) {
  static const std::array<std::unique_ptr<Base>, kMaxHealpixOrder + 1> bases = [] {
    std::array<std::unique_ptr<Base>, kMaxHealpixOrder + 1> b;
    for (int o = 0; o <= kMaxHealpixOrder; ++o) b[o] = std::make_unique<Base>(o, NEST);
    return b;
  }();
  return *bases[order];
}

// Same conversion healpy applies for lonlat=True, so indices match exactly.
pointing to_pointing(double ra_deg, double dec_deg) { return pointing(kPi / 2.0 - dec_deg * kDegToRad, ra_deg * kDegToRad); }

std::vector<PixelRange> to_ranges(const rangeset<int64>& set) {
  std::vector<PixelRange> out;
  out.reserve(set.nranges());
  for (tsize i = 0; i < set.nranges(); ++i) out.push_back({set.ivbegin(i), set.ivend(i)});
  return out;
}

}  // namespace

std::optional<std::string> check_order(int64_t order) {
  if (order < 0 || order > kMaxHealpixOrder) {
    std::ostringstream msg;
    msg << "HEALPix order must be within [0, 29], got " << order;
    return msg.str();
  }
  return std::nullopt;
}

std::vector<PixelRange> merge_ranges(std::vector<PixelRange> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const PixelRange& a, const PixelRange& b) { return a.begin < b.begin; });
  std::vector<PixelRange> out;
  for (const PixelRange& r : ranges) {
    if (!out.empty() && r.begin <= out.back().end)
      out.back().end = std::max(out.back().end, r.end);
    else
      out.push_back(r);
  }
  return out;
}

int64_t healpix_nest(int order, double ra_deg, double dec_deg) { return base_for(order).ang2pix(to_pointing(ra_deg, dec_deg)); }

std::vector<PixelRange> disc_coverage(int order, double ra_deg, double dec_deg, double radius_deg) {
  rangeset<int64> set;
  // fact=4 trims most false positives at negligible cost (HEALPix C++ advice).
  base_for(order).query_disc_inclusive(to_pointing(ra_deg, dec_deg), radius_deg * kDegToRad, set, 4);
  return to_ranges(set);
}

std::vector<PixelRange> polygon_coverage(int order, const std::vector<std::pair<double, double>>& vertices) {
  std::vector<pointing> points;
  points.reserve(vertices.size());
  for (const auto& [ra, dec] : vertices) points.push_back(to_pointing(ra, dec));
  rangeset<int64> set;
  base_for(order).query_polygon_inclusive(points, set, 4);
  return to_ranges(set);
}

}  // namespace lodestar
