// HEALPix NESTED indices as HATS uses them: pixel numbers at a given order and
// the `_healpix_29` spatial index. Backed by HEALPix C++ (Debian's
// libhealpix-cxx), the same code healpy wraps, so results agree bit for bit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lodestar {

inline constexpr int kMaxHealpixOrder = 29;

// A half-open interval [begin, end) of NESTED pixel indices at some order.
struct PixelRange {
  int64_t begin;
  int64_t end;
};

std::optional<std::string> check_order(int64_t order);

// NESTED pixel of (ra, dec) in degrees at `order`. Caller validates inputs.
int64_t healpix_nest(int order, double ra_deg, double dec_deg);

inline int64_t healpix29(double ra_deg, double dec_deg) { return healpix_nest(kMaxHealpixOrder, ra_deg, dec_deg); }

// Parent of `index` (at from_order) at the coarser to_order (to_order <= from_order).
inline int64_t healpix_parent(int64_t index, int from_order, int to_order) { return index >> (2 * (from_order - to_order)); }

// Number of pixels at an order: 12 * 4^order.
inline int64_t healpix_npix(int order) { return int64_t{12} << (2 * order); }

// Pixel ranges at `order` of every pixel that may overlap the disk (inclusive
// query: false positives possible, false negatives never).
std::vector<PixelRange> disc_coverage(int order, double ra_deg, double dec_deg, double radius_deg);

// Pixel ranges at `order` of every pixel that may overlap the convex polygon
// whose vertices (ra, dec in degrees) are given in order.
std::vector<PixelRange> polygon_coverage(int order, const std::vector<std::pair<double, double>>& vertices);

// The union of `ranges` as sorted, disjoint ranges (touching ones joined).
std::vector<PixelRange> merge_ranges(std::vector<PixelRange> ranges);

// Express a range at `order` as a `_healpix_29` interval.
inline PixelRange to_order29(PixelRange r, int order) {
  const int shift = 2 * (kMaxHealpixOrder - order);
  return {r.begin << shift, r.end << shift};
}

}  // namespace lodestar
