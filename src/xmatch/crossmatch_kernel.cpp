// Zones crossmatch (Gray, Nieto-Santisteban & Szalay 2006), exact by chord^2.
//
// Both sides are bucketed into declination zones of height h >= radius and
// sorted by RA inside each zone (counting sort by zone, then a small sort per
// zone). For a group of left rows of one zone, only right zones within
// `radius` in Dec can hold a match, and inside each of them only rows within a
// RA window alpha(radius, max|dec| of the group); because the left rows are
// RA-sorted too, both window ends only move forward (a merge). Every candidate
// is then tested exactly with chord^2 <= chord^2(radius) on unit vectors.
// Why no pair is lost, and measurements against the alternatives: docs/crossmatch.md.
#include "xmatch/crossmatch_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>

#include "core/sky_angles.hpp"
#include "engine/duckdb_handles.hpp"

namespace lodestar {
namespace {

// The Dec and RA windows are widened by this much (relative and absolute,
// degrees) beyond the radius: rounding in the window arithmetic then can only
// add candidates, which the exact chord test discards, never drop one whose
// chord^2 passes (chord^2 itself is accurate to ~1e-10 relative at 0.1").
constexpr double kWindowRelativeSlack = 1e-7;
constexpr double kWindowAbsoluteSlackDeg = 1e-11;

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

double wrap360(double ra) {
  double r = std::fmod(ra, 360.0);
  if (r < 0.0) r += 360.0;
  if (r >= 360.0) r = 0.0;
  return r;
}

// One side, sorted by (zone, RA, original index), as flat columns.
struct SortedSide {
  std::vector<double> ra, x, y, z;  // RA wrapped into [0, 360)
  std::vector<int64_t> index;       // original row
  std::vector<size_t> group_start;  // rows of group g: [group_start[g], group_start[g + 1])
};

// Counting sort of rows by group, then RA order inside each group; rows with
// group < 0 are dropped (they cannot match anything).
SortedSide sort_side(const double* ra, const double* dec, size_t n, const std::vector<int64_t>& group, size_t n_groups) {
  SortedSide s;
  s.group_start.assign(n_groups + 1, 0);
  for (size_t i = 0; i < n; ++i)
    if (group[i] >= 0) ++s.group_start[group[i] + 1];
  std::partial_sum(s.group_start.begin(), s.group_start.end(), s.group_start.begin());
  const size_t m = s.group_start.back();
  std::vector<size_t> cursor(s.group_start.begin(), s.group_start.end() - 1);
  std::vector<std::pair<double, int64_t>> keyed(m);
  for (size_t i = 0; i < n; ++i)
    if (group[i] >= 0) keyed[cursor[group[i]]++] = {wrap360(ra[i]), static_cast<int64_t>(i)};
  for (size_t g = 0; g < n_groups; ++g)
    if (s.group_start[g + 1] - s.group_start[g] > 1) std::sort(keyed.begin() + s.group_start[g], keyed.begin() + s.group_start[g + 1]);
  s.ra.resize(m), s.x.resize(m), s.y.resize(m), s.z.resize(m), s.index.resize(m);
  for (size_t k = 0; k < m; ++k) {
    const int64_t i = keyed[k].second;
    const UnitVector u = unit_vector(ra[i], dec[i]);
    s.ra[k] = keyed[k].first;
    s.x[k] = u[0], s.y[k] = u[1], s.z[k] = u[2];
    s.index[k] = i;
  }
  return s;
}

void check_rows(const double* ra, const double* dec, size_t n, const char* side) {
  for (size_t i = 0; i < n; ++i)
    if (auto p = check_position(ra[i], dec[i])) throw Error(std::string(side) + " row " + std::to_string(i) + ": " + *p);
}

// Ordered by the reported distance, then right row: the contract's order
// holds on the values the caller sees (two chord^2 values may round to one
// distance).
struct Candidate {
  double dist_arcsec;
  int64_t right;  // original right row
  bool operator<(const Candidate& o) const { return dist_arcsec < o.dist_arcsec || (dist_arcsec == o.dist_arcsec && right < o.right); }
};

}  // namespace

void check_crossmatch_options(const CrossmatchOptions& o) {
  const double max_arcsec = 180.0 * 3600.0;
  if (!std::isfinite(o.radius_arcsec) || o.radius_arcsec <= 0.0 || o.radius_arcsec > max_arcsec)
    throw Error("crossmatch radius_arcsec must be within (0, 648000] (at most 180 degrees), got " + fmt(o.radius_arcsec));
  if (o.n_neighbors < 1) throw Error("crossmatch n_neighbors must be at least 1, got " + std::to_string(o.n_neighbors));
  if (!std::isfinite(o.min_radius_arcsec) || o.min_radius_arcsec < 0.0)
    throw Error("crossmatch min_radius_arcsec must be a finite number >= 0, got " + fmt(o.min_radius_arcsec));
  if (o.min_radius_arcsec >= o.radius_arcsec)
    throw Error("crossmatch min_radius_arcsec (" + fmt(o.min_radius_arcsec) + ") must be smaller than radius_arcsec (" +
                fmt(o.radius_arcsec) + ")");
}

CrossmatchResult crossmatch_kernel(const double* left_ra, const double* left_dec, size_t n_left, const double* right_ra,
                                   const double* right_dec, size_t n_right, const CrossmatchOptions& options) {
  check_crossmatch_options(options);
  check_rows(left_ra, left_dec, n_left, "left");
  check_rows(right_ra, right_dec, n_right, "right");
  if (options.exclude_self && n_left != n_right)
    throw Error("crossmatch exclude_self needs the same rows on both sides, got " + std::to_string(n_left) + " left and " +
                std::to_string(n_right) + " right rows");
  CrossmatchResult result;
  if (n_left == 0 || n_right == 0) return result;

  const double radius_deg = options.radius_arcsec / 3600.0;
  const double c2_max = radius_deg >= 180.0 ? std::numeric_limits<double>::infinity() : chord2_for_radius_deg(radius_deg);
  const double c2_min = options.min_radius_arcsec > 0.0 ? chord2_for_radius_deg(options.min_radius_arcsec / 3600.0) : 0.0;
  const double reach = radius_deg * (1.0 + kWindowRelativeSlack) + kWindowAbsoluteSlackDeg;

  // Zones over the right side's Dec range, h >= reach, at most ~n_right zones.
  const auto [dmin_it, dmax_it] = std::minmax_element(right_dec, right_dec + n_right);
  const double dec_lo = *dmin_it, dec_hi = *dmax_it;
  const double height = std::max(reach, (dec_hi - dec_lo) / static_cast<double>(n_right));
  const int64_t n_zones = static_cast<int64_t>(std::floor((dec_hi - dec_lo) / height)) + 1;
  // floor((dec - dec_lo) / h) is monotone in dec, so a Dec interval maps onto
  // a contiguous zone interval computed from its two ends.
  auto zone_of = [&](double dec) {
    const double z = std::floor((dec - dec_lo) / height);
    return static_cast<int64_t>(std::clamp(z, -2.0, static_cast<double>(n_zones + 1)));
  };

  std::vector<int64_t> group(std::max(n_left, n_right));
  for (size_t i = 0; i < n_right; ++i) group[i] = std::min(zone_of(right_dec[i]), n_zones - 1);
  const SortedSide right = sort_side(right_ra, right_dec, n_right, group, static_cast<size_t>(n_zones));

  // Left groups are zones -1..n_zones (index + 1); rows farther than `reach`
  // from the right side's Dec range are dropped.
  group.resize(n_left);
  for (size_t i = 0; i < n_left; ++i) {
    const double d = left_dec[i];
    group[i] = (d + reach < dec_lo || d - reach > dec_hi) ? -1 : std::clamp<int64_t>(zone_of(d), -1, n_zones) + 1;
  }
  const SortedSide left = sort_side(left_ra, left_dec, n_left, group, static_cast<size_t>(n_zones + 2));

  // Matches in processing order, one contiguous block per left row.
  std::vector<int64_t> out_left, out_right;
  std::vector<double> out_dist;
  std::vector<Candidate> cand;
  std::vector<size_t> lo_ptr, hi_ptr;
  const bool keep_all = options.all_pairs;
  const size_t k = static_cast<size_t>(options.n_neighbors);

  auto dist_deg = [&](size_t lpos, size_t rpos, double c2) {
    if (c2 <= 2.0) return separation_deg_from_chord2(c2);  // 2 asin(c/2): well conditioned below 90 deg
    // Beyond 90 deg asin loses precision: atan2(|a x b|, a . b) is exact everywhere.
    const double ax = left.x[lpos], ay = left.y[lpos], az = left.z[lpos];
    const double bx = right.x[rpos], by = right.y[rpos], bz = right.z[rpos];
    const double cx = ay * bz - az * by, cy = az * bx - ax * bz, cz = ax * by - ay * bx;
    return std::atan2(std::sqrt(cx * cx + cy * cy + cz * cz), ax * bx + ay * by + az * bz) * kRadToDeg;
  };

  for (size_t g = 0; g + 1 < left.group_start.size(); ++g) {
    const size_t gb = left.group_start[g], ge = left.group_start[g + 1];
    if (gb == ge) continue;
    // Dec extent of the group's rows, from their unit vectors' z (sin dec)
    // would do too, but the input Dec is exact: take it from the rows.
    double gmin = 90.0, gmax = -90.0, gabs = 0.0;
    for (size_t p = gb; p < ge; ++p) {
      const double d = left_dec[left.index[p]];
      gmin = std::min(gmin, d), gmax = std::max(gmax, d), gabs = std::max(gabs, std::fabs(d));
    }
    const int64_t z_lo = std::max<int64_t>(0, zone_of(gmin - reach));
    const int64_t z_hi = std::min<int64_t>(n_zones - 1, zone_of(gmax + reach));
    if (z_lo > z_hi) continue;
    // RA half-width of the window: a point within r of (ra, dec) differs in
    // RA by at most asin(sin r / cos dec) while |dec| + r < 90.
    double alpha = 180.0;
    if (gabs + reach < 90.0) {
      const double s = std::sin(reach * kDegToRad) / std::cos(gabs * kDegToRad);
      if (s < 1.0) alpha = std::asin(s) * kRadToDeg * (1.0 + kWindowRelativeSlack) + kWindowAbsoluteSlackDeg;
    }
    const bool whole_zone = alpha >= 180.0;
    const size_t nz = static_cast<size_t>(z_hi - z_lo + 1);
    lo_ptr.assign(nz, 0), hi_ptr.assign(nz, 0);
    for (size_t q = 0; q < nz; ++q) lo_ptr[q] = hi_ptr[q] = right.group_start[z_lo + q];

    for (size_t p = gb; p < ge; ++p) {
      const double lx = left.x[p], ly = left.y[p], lz = left.z[p], lra = left.ra[p];
      const int64_t li = left.index[p];
      cand.clear();
      auto scan = [&](size_t b, size_t e) {
        for (size_t j = b; j < e; ++j) {
          const double dx = lx - right.x[j], dy = ly - right.y[j], dz = lz - right.z[j];
          const double c2 = dx * dx + dy * dy + dz * dz;
          if (c2 <= c2_max && c2 >= c2_min && !(options.exclude_self && right.index[j] == li))
            cand.push_back({dist_deg(p, j, c2) * 3600.0, right.index[j]});
        }
      };
      for (size_t q = 0; q < nz; ++q) {
        const size_t zb = right.group_start[z_lo + q], ze = right.group_start[z_lo + q + 1];
        if (zb == ze) continue;
        if (whole_zone) {
          scan(zb, ze);
          continue;
        }
        const double lo = lra - alpha, hi = lra + alpha;
        // Both window ends only move forward: the group's rows come in RA order.
        size_t& a = lo_ptr[q];
        while (a < ze && right.ra[a] < lo) ++a;
        size_t& b = hi_ptr[q];
        if (b < a) b = a;
        while (b < ze && right.ra[b] <= hi) ++b;
        scan(a, b);
        // Windows that cross RA 0/360 continue at the other end of the zone
        // (disjoint from [lo, hi] because alpha < 180).
        const double* zra = right.ra.data();
        if (lo < 0.0) scan(static_cast<size_t>(std::lower_bound(zra + zb, zra + ze, lo + 360.0) - zra), ze);
        if (hi >= 360.0) scan(zb, static_cast<size_t>(std::upper_bound(zra + zb, zra + ze, hi - 360.0) - zra));
      }
      if (cand.empty()) continue;
      size_t keep = cand.size();
      if (!keep_all && cand.size() > k) {
        std::partial_sort(cand.begin(), cand.begin() + k, cand.end());
        keep = k;
      } else if (cand.size() > 1) {
        std::sort(cand.begin(), cand.end());
      }
      for (size_t c = 0; c < keep; ++c) {
        out_left.push_back(li);
        out_right.push_back(cand[c].right);
        out_dist.push_back(cand[c].dist_arcsec);
      }
    }
  }

  // Reorder the per-left blocks by left index (counting sort, stable).
  const size_t m = out_left.size();
  std::vector<size_t> start(n_left + 1, 0);
  for (size_t t = 0; t < m; ++t) ++start[out_left[t] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  result.left_index.resize(m), result.right_index.resize(m), result.dist_arcsec.resize(m);
  for (size_t t = 0; t < m; ++t) {
    const size_t dst = start[out_left[t]]++;
    result.left_index[dst] = out_left[t];
    result.right_index[dst] = out_right[t];
    result.dist_arcsec[dst] = out_dist[t];
  }
  return result;
}

}  // namespace lodestar
