// Zones crossmatch (Gray, Nieto-Santisteban & Szalay 2006) on a grid of
// cells, exact by chord^2.
//
// The right side is bucketed into declination zones and each zone into RA
// cells by counting sorts (no comparison sort): rows of one cell are
// contiguous and the cells of one zone are in RA order. For a left row, the
// right zones within `radius` in Dec and, in each, the cells overlapping the
// RA window [ra - alpha, ra + alpha] (alpha = asin(sin r / cos dec), bounded
// over the left row's zone, wrapping through RA 0/360) are a few contiguous
// ranges of rows; every row in them is tested exactly with
// chord^2 <= chord^2(radius) on unit vectors. The left rows are put in the
// same (zone, cell) order first, so the sweep walks the right side in order,
// and the output is put back in left order at the end.
// Why no pair is lost, and measurements: docs/crossmatch.md.
#include "xmatch/crossmatch_kernel.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>

#include "core/sky_angles.hpp"
#include "engine/duckdb_handles.hpp"
#include "xmatch/degree_trig.hpp"

namespace lodestar {
namespace xmatch_detail {

// Unit vectors in place: x holds RA wrapped into [0, 360) and z Dec on entry.
// Compiled twice (AVX2 and baseline x86-64, picked at load time): the same
// IEEE operations either way (no FMA contraction), so the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void unit_vectors_in_place(double* x, double* y, double* z, size_t n) {
  unit_vectors_deg(x, z, n, x, y, z);
}

}  // namespace xmatch_detail

namespace {

using xmatch_detail::unit_vectors_in_place;

// The Dec and RA windows are widened by this much (relative and absolute,
// degrees) beyond the radius: rounding in the window arithmetic then can only
// add candidates, which the exact chord test discards, never drop one whose
// chord^2 passes (chord^2 itself is accurate to ~1e-9 relative at 0.1").
constexpr double kWindowRelativeSlack = 1e-7;
constexpr double kWindowAbsoluteSlackDeg = 1e-11;
// RA histogram used to find the empty RA gap of the right side (speed only).
constexpr int kRaBins = 1024;
// Row and cell positions are 32-bit (cells are at most ~2 per row).
constexpr size_t kMaxRows = size_t{1} << 30;
// Rows the sweep tests at a time; the right columns carry this many rows of padding.
constexpr size_t kScanBlock = 4;

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

// First bad row, only searched for when the vectorized check failed.
void check_rows(const double* ra, const double* dec, size_t n, const char* side) {
  bool ok = true;
  for (size_t i = 0; i < n; ++i) ok &= (ra[i] - ra[i] == 0.0) & (dec[i] >= -90.0) & (dec[i] <= 90.0);  // NaN fails all
  if (ok) return;
  for (size_t i = 0; i < n; ++i)
    if (auto p = check_position(ra[i], dec[i])) throw Error(std::string(side) + " row " + std::to_string(i) + ": " + *p);
}

// floor(q) for q within [lo, hi] after clamping, without a libm call
// (baseline x86-64 has no rounding instruction). Monotone in q.
[[gnu::always_inline]] inline int64_t clamped_floor(double q, double lo, double hi) {
  q = std::clamp(q, lo, hi);
  const int64_t t = static_cast<int64_t>(q);  // truncation
  return t - (static_cast<double>(t) > q);
}

// RA measured from `origin`, in [0, 360). Both sides use the same origin, so
// differences of u are differences of RA modulo 360 (to ~1e-13 degrees).
inline double ra_from(double ra_wrapped, double origin) {
  double u = ra_wrapped - origin;
  u += u < 0.0 ? 360.0 : 0.0;  // a select, not a branch: half the rows of a field across RA 0 take it
  return u >= 360.0 ? 0.0 : u;
}

// Scratch memory reused across calls on one thread: fresh pages cost more than
// the kernel's own work (page faults and zeroing), so large buffers are kept,
// uninitialized, up to kKeepScratchBytes per thread.
constexpr size_t kKeepScratchBytes = size_t{512} << 20;

template <typename T>
class Buffer {
 public:
  T* get(size_t n) {  // contents unspecified
    if (n > capacity_) data_.reset(new T[n]), capacity_ = n;
    return data_.get();
  }
  size_t bytes() const { return capacity_ * sizeof(T); }
  void release() { data_.reset(), capacity_ = 0; }

 private:
  std::unique_ptr<T[]> data_;
  size_t capacity_ = 0;
};

// A row on its way into (zone, cell) order.
struct Staged {
  double ra, dec;  // RA wrapped into [0, 360)
  uint32_t row, cell;
};

// Ordered by the reported distance, then right row: the contract's order
// holds on the values the caller sees (two chord^2 values may round to one
// distance).
struct Candidate {
  double dist_arcsec;
  uint32_t right;  // original right row
  bool operator<(const Candidate& o) const {
    return dist_arcsec < o.dist_arcsec || (dist_arcsec == o.dist_arcsec && right < o.right);
  }
};

struct Match {
  uint32_t left, right;
  double dist_arcsec;
};

struct Scratch {
  Buffer<Staged> staged;
  Buffer<uint32_t> cell_start, right_index, left_index, match_start, left_bucket;
  Buffer<double> rx, ry, rz, lx, ly, lz, ldec, lu;
  Buffer<Match> matches, ordered;
  size_t bytes() const {
    return staged.bytes() + cell_start.bytes() + right_index.bytes() + left_index.bytes() + match_start.bytes() +
           left_bucket.bytes() + rx.bytes() + ry.bytes() + rz.bytes() + lx.bytes() + ly.bytes() + lz.bytes() + ldec.bytes() +
           lu.bytes() + matches.bytes() + ordered.bytes();
  }
};

// The right side on a grid: zones of Dec height `height` from dec_lo, each
// cut into n_cells[z] RA cells of equal width over u in [0, extent], where
// u = RA from `origin` and every right row has u <= extent.
struct RightGrid {
  double dec_lo = 0.0, dec_hi = 0.0, inv_height = 1.0, origin = 0.0, extent = 360.0;
  int64_t n_zones = 1;
  std::vector<int64_t> n_cells;                           // per zone
  std::vector<double> cell_scale;                         // per zone: cells per degree of u (0 when the zone is one cell)
  std::vector<uint32_t> cell_base;                        // per zone: its first cell id (size n_zones + 1)
  const uint32_t* cell_start = nullptr;                   // rows of cell c: [cell_start[c], cell_start[c + 1])
  const double *x = nullptr, *y = nullptr, *z = nullptr;  // sorted rows, unit vectors
  const uint32_t* index = nullptr;                        // sorted rows, original row

  // floor((dec - dec_lo) * (1 / height)) is monotone in dec (a product by a
  // positive constant), so a Dec interval maps onto the contiguous zone
  // interval of its two ends.
  [[gnu::always_inline]] int64_t zone_of(double dec) const {
    return clamped_floor((dec - dec_lo) * inv_height, -2.0, static_cast<double>(n_zones + 1));
  }
  // Monotone in u.
  [[gnu::always_inline]] int64_t cell_of(int64_t zone, double u) const {
    return clamped_floor(u * cell_scale[zone], 0.0, static_cast<double>(n_cells[zone] - 1));
  }
};

// Start of the widest empty run of a circular RA histogram of a sample of the
// rows (at most ~65536), so that u = RA from there spans only the occupied
// part of the circle (a field straddling RA 0 becomes one interval). Speed
// only: correctness never relies on the gap being empty (extent is the
// measured maximum of u).
double ra_origin(const double* ra, size_t n) {
  std::array<uint32_t, kRaBins> hist{};
  const size_t stride = std::max<size_t>(1, n / 65536);  // a sample is enough to find the gap
  for (size_t i = 0; i < n; i += stride)
    ++hist[std::min<int64_t>(kRaBins - 1, static_cast<int64_t>(wrap_ra_360(ra[i]) * (kRaBins / 360.0)))];
  int best_len = 0, best_end = 0, run = 0;
  for (int t = 0; t < 2 * kRaBins; ++t) {  // twice round the circle: runs through bin 0
    run = hist[t % kRaBins] == 0 ? std::min(run + 1, kRaBins) : 0;
    if (run > best_len) best_len = run, best_end = (t + 1) % kRaBins;
  }
  if (best_len < 2 || best_len >= kRaBins) return 0.0;
  // A little before the first occupied bin, so that a row binned there by rounding is not at u ~ 360.
  return wrap_ra_360(best_end * (360.0 / kRaBins) - 1e-9);
}

// Counting sort of staged[zb, ze) (one zone) by cell into the output columns
// at the same positions; `start` gets the zone's m + 1 cell boundaries.
// In cache: a zone holds about sqrt(n) rows.
template <typename Emit>
void sort_zone_by_cell(const Staged* staged, uint32_t zb, uint32_t ze, size_t m, uint32_t* start, std::vector<uint32_t>& cursor,
                       Emit&& emit) {
  std::fill(start + 1, start + m + 1, 0u);
  for (uint32_t t = zb; t < ze; ++t) ++start[staged[t].cell + 1];
  start[0] = zb;
  for (size_t c = 0; c < m; ++c) start[c + 1] += start[c];
  cursor.assign(start, start + m);
  for (uint32_t t = zb; t < ze; ++t) emit(cursor[staged[t].cell]++, staged[t]);
}

RightGrid build_right_grid(const double* ra, const double* dec, size_t n, double reach, Scratch& s) {
  RightGrid g;
  const auto [dmin_it, dmax_it] = std::minmax_element(dec, dec + n);
  g.dec_lo = *dmin_it, g.dec_hi = *dmax_it;
  const double span = g.dec_hi - g.dec_lo;
  g.origin = ra_origin(ra, n);
  double umax = 0.0;
  for (size_t i = 0; i < n; ++i) umax = std::max(umax, ra_from(wrap_ra_360(ra[i]), g.origin));
  g.extent = umax;

  // Cells about as wide as high, sized for ~1 row each but never below the
  // radius; at most ~2 sqrt(n) zones and ~2 cells per row.
  const double cos_widest =
      (g.dec_lo <= 0.0 && g.dec_hi >= 0.0) ? 1.0 : std::max(std::cos(g.dec_lo * kDegToRad), std::cos(g.dec_hi * kDegToRad));
  const double area = std::max(span, reach) * std::max(g.extent * cos_widest, reach);
  const double root_n = std::sqrt(static_cast<double>(n));
  const double side = std::max({reach, std::sqrt(area / static_cast<double>(n)), span / (2.0 * root_n + 1.0)});
  g.inv_height = 1.0 / side;
  g.n_zones = static_cast<int64_t>(std::floor(span * g.inv_height)) + 1;

  // Two counting sorts with few write heads each: by zone (about sqrt(n)
  // buckets), then by cell inside each zone.
  std::vector<uint32_t> zone_start(g.n_zones + 1, 0);
  for (size_t i = 0; i < n; ++i) ++zone_start[std::min(g.zone_of(dec[i]), g.n_zones - 1) + 1];
  g.n_cells.resize(g.n_zones), g.cell_scale.resize(g.n_zones), g.cell_base.resize(g.n_zones + 1);
  g.cell_base[0] = 0;
  for (int64_t zn = 0; zn < g.n_zones; ++zn) {
    const double centre = std::clamp(g.dec_lo + (static_cast<double>(zn) + 0.5) * side, -90.0, 90.0);
    const double fit = std::floor(g.extent * std::cos(centre * kDegToRad) / side);
    const double cap = 2.0 * static_cast<double>(zone_start[zn + 1]) + 1.0;
    const int64_t m = static_cast<int64_t>(std::clamp(fit, 1.0, cap));
    g.n_cells[zn] = m;
    g.cell_scale[zn] = m == 1 ? 0.0 : static_cast<double>(m) / g.extent;
    g.cell_base[zn + 1] = g.cell_base[zn] + static_cast<uint32_t>(m);
  }
  std::partial_sum(zone_start.begin(), zone_start.end(), zone_start.begin());
  Staged* staged = s.staged.get(n);
  {
    std::vector<uint32_t> cursor(zone_start.begin(), zone_start.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      const int64_t zn = std::min(g.zone_of(dec[i]), g.n_zones - 1);
      const double wr = wrap_ra_360(ra[i]);
      staged[cursor[zn]++] = {wr, dec[i], static_cast<uint32_t>(i), static_cast<uint32_t>(g.cell_of(zn, ra_from(wr, g.origin)))};
    }
  }
  uint32_t* cell_start = s.cell_start.get(g.cell_base.back() + 1);
  double *x = s.rx.get(n + kScanBlock), *y = s.ry.get(n + kScanBlock), *z = s.rz.get(n + kScanBlock);
  uint32_t* index = s.right_index.get(n + kScanBlock);
  std::fill(x + n, x + n + kScanBlock, 0.0), std::fill(y + n, y + n + kScanBlock, 0.0), std::fill(z + n, z + n + kScanBlock, 0.0);
  std::fill(index + n, index + n + kScanBlock, 0u);
  std::vector<uint32_t> cursor;
  for (int64_t zn = 0; zn < g.n_zones; ++zn)
    // x holds RA and z Dec until the unit vectors are computed in place.
    sort_zone_by_cell(staged, zone_start[zn], zone_start[zn + 1], static_cast<size_t>(g.n_cells[zn]),
                      cell_start + g.cell_base[zn], cursor,
                      [&](uint32_t p, const Staged& r) { x[p] = r.ra, z[p] = r.dec, index[p] = r.row; });
  cell_start[g.cell_base.back()] = static_cast<uint32_t>(n);
  unit_vectors_in_place(x, y, z, n);
  g.cell_start = cell_start, g.x = x, g.y = y, g.z = z, g.index = index;
  return g;
}

// 2 asin(c / 2) in degrees; for c < 0.01 rad its series to c^7 (the next term
// is 1.2e-4 c^9, below 1e-20 relative), which avoids asin for close pairs.
inline double separation_deg_from_small_chord2(double c2) {
  if (c2 >= 1e-4) return separation_deg_from_chord2(c2);
  const double c = std::sqrt(c2);
  return c * (1.0 + c2 * (1.0 / 24.0 + c2 * (3.0 / 640.0 + c2 * (5.0 / 7168.0)))) * kRadToDeg;
}

// Cell intervals [first, last] of one zone; at most three before merging.
struct CellRanges {
  int64_t first[3], last[3];
  int count = 0;
  void add(int64_t a, int64_t b) { first[count] = a, last[count] = b, ++count; }
  // Sorts and merges overlapping or adjacent intervals: the pieces of a
  // wrapping window are disjoint in RA but may share a cell.
  void merge() {
    for (int i = 1; i < count; ++i)
      for (int j = i; j > 0 && first[j] < first[j - 1]; --j) std::swap(first[j], first[j - 1]), std::swap(last[j], last[j - 1]);
    int out = 0;
    for (int i = 0; i < count; ++i) {
      if (out > 0 && first[i] <= last[out - 1] + 1) {
        last[out - 1] = std::max(last[out - 1], last[i]);
      } else {
        first[out] = first[i], last[out] = last[i], ++out;
      }
    }
    count = out;
  }
};

// The pairs, or with `count` given only their number (added to *count; no distances, no result columns).
CrossmatchResult crossmatch_sorted(const double* left_ra, const double* left_dec, size_t n_left, const double* right_ra,
                                   const double* right_dec, size_t n_right, const CrossmatchOptions& options, Scratch& s,
                                   uint64_t* count = nullptr) {
  const double radius_deg = options.radius_arcsec / 3600.0;
  const double c2_max = radius_deg >= 180.0 ? std::numeric_limits<double>::infinity() : chord2_for_radius_deg(radius_deg);
  const double c2_min = options.min_radius_arcsec > 0.0 ? chord2_for_radius_deg(options.min_radius_arcsec / 3600.0) : 0.0;
  const double reach = radius_deg * (1.0 + kWindowRelativeSlack) + kWindowAbsoluteSlackDeg;

  const RightGrid grid = build_right_grid(right_ra, right_dec, n_right, reach, s);
  const double dec_lo = grid.dec_lo, dec_hi = grid.dec_hi;

  // Left rows by zone (-1 .. n_zones; bucket = zone + 1), rows farther than
  // `reach` from the right side's Dec range dropped; alpha is bounded per left
  // zone by the largest |dec| of its rows.
  const int64_t n_buckets = grid.n_zones + 2;
  auto bucket_of = [&](double d) -> int64_t {
    if (d + reach < dec_lo || d - reach > dec_hi) return -1;
    return std::clamp<int64_t>(grid.zone_of(d), -1, grid.n_zones) + 1;
  };
  std::vector<double> zone_abs_dec(n_buckets, 0.0);
  std::vector<uint32_t> lstart(n_buckets + 1, 0);
  for (size_t i = 0; i < n_left; ++i) {
    const int64_t b = bucket_of(left_dec[i]);
    if (b < 0) continue;
    zone_abs_dec[b] = std::max(zone_abs_dec[b], std::fabs(left_dec[i]));
    ++lstart[b + 1];
  }
  std::partial_sum(lstart.begin(), lstart.end(), lstart.begin());
  const size_t n_kept = lstart[n_buckets];
  std::vector<double> alpha(n_buckets, 180.0);
  // RA half-width of the window: a point within r of (ra, dec) differs in RA
  // by at most asin(sin r / cos dec) while |dec| + r < 90 (else: whole zone).
  for (int64_t t = 0; t < n_buckets; ++t) {
    const double gabs = zone_abs_dec[t];
    if (gabs + reach < 90.0) {
      const double sr = std::sin(reach * kDegToRad) / std::cos(gabs * kDegToRad);
      if (sr < 1.0) alpha[t] = std::asin(sr) * kRadToDeg * (1.0 + kWindowRelativeSlack) + kWindowAbsoluteSlackDeg;
    }
  }
  double *lx = s.lx.get(n_kept), *ly = s.ly.get(n_kept), *lz = s.lz.get(n_kept), *ldec = s.ldec.get(n_kept),
         *lu = s.lu.get(n_kept);
  uint32_t* lindex = s.left_index.get(n_kept);
  // Left rows already in sky order (the caller says so: a partition's rows,
  // sorted by _healpix_29) are swept as they come: neighbouring rows meet
  // neighbouring right cells anyway, so their two counting sorts (a fifth of
  // the kernel) and the final reordering are saved. Otherwise they are put in
  // (zone, right cell) order, so that the sweep walks the right cells in
  // order. x holds RA and z Dec until the unit vectors are computed.
  const bool in_order = options.left_in_sky_order;
  uint32_t* lbucket = in_order ? s.left_bucket.get(n_kept) : nullptr;
  if (in_order) {
    size_t p = 0;
    for (size_t i = 0; i < n_left; ++i) {
      const int64_t b = bucket_of(left_dec[i]);
      if (b < 0) continue;
      const double wr = wrap_ra_360(left_ra[i]);
      lx[p] = wr, lz[p] = ldec[p] = left_dec[i], lu[p] = ra_from(wr, grid.origin), lindex[p] = static_cast<uint32_t>(i);
      lbucket[p++] = static_cast<uint32_t>(b);
    }
  } else {
    Staged* staged = s.staged.get(n_kept);
    {
      std::vector<uint32_t> cursor(lstart.begin(), lstart.end() - 1);
      for (size_t i = 0; i < n_left; ++i) {
        const int64_t b = bucket_of(left_dec[i]);
        if (b < 0) continue;
        const double wr = wrap_ra_360(left_ra[i]);
        const int64_t zn = b - 1;
        const bool inside = zn >= 0 && zn < grid.n_zones;
        staged[cursor[b]++] = {wr, left_dec[i], static_cast<uint32_t>(i),
                               inside ? static_cast<uint32_t>(grid.cell_of(zn, ra_from(wr, grid.origin))) : 0u};
      }
    }
    std::vector<uint32_t> cursor, bounds;
    for (int64_t b = 0; b < n_buckets; ++b) {
      const int64_t zn = b - 1;
      const size_t m = (zn >= 0 && zn < grid.n_zones) ? static_cast<size_t>(grid.n_cells[zn]) : 1;
      bounds.resize(m + 1);
      sort_zone_by_cell(staged, lstart[b], lstart[b + 1], m, bounds.data(), cursor, [&](uint32_t p, const Staged& r) {
        lx[p] = r.ra, lz[p] = ldec[p] = r.dec, lu[p] = ra_from(r.ra, grid.origin), lindex[p] = r.row;
      });
    }
  }
  unit_vectors_in_place(lx, ly, lz, n_kept);

  // Matches in processing order, one contiguous block per left row.
  const bool keep_all = options.all_pairs;
  const bool exclude_self = options.exclude_self;
  const size_t k = static_cast<size_t>(options.n_neighbors);
  const bool nearest_only = !keep_all && k == 1;  // the common case: no candidate list
  size_t match_capacity = std::max<size_t>(n_kept, 1024), n_matches = 0;
  Match* matches = s.matches.get(match_capacity);
  auto emit = [&](uint32_t left, uint32_t right, double dist) {
    if (n_matches == match_capacity) {  // grow, keeping what is there
      Buffer<Match> bigger;
      Match* b = bigger.get(2 * match_capacity);
      std::copy(matches, matches + n_matches, b);
      s.matches = std::move(bigger);
      matches = b, match_capacity *= 2;
    }
    matches[n_matches++] = {left, right, dist};
  };
  std::vector<Candidate> cand;
  std::vector<uint32_t> hits(64);
  const double *rx = grid.x, *ry = grid.y, *rz = grid.z;
  const uint32_t* rindex = grid.index;
  const uint32_t* cell_start = grid.cell_start;
  const double extent = grid.extent;

  // One left row (position p of the sweep) with its RA half-window a.
  auto sweep_row = [&](size_t p, double a) {
    {
      const double dec = ldec[p];
      const int64_t z_lo = std::max<int64_t>(0, grid.zone_of(dec - reach));
      const int64_t z_hi = std::min<int64_t>(grid.n_zones - 1, grid.zone_of(dec + reach));
      const double ax = lx[p], ay = ly[p], az = lz[p], u = lu[p];
      const uint32_t li = lindex[p];
      // Rows passing the exact test are gathered without a branch (about a
      // third of the candidates pass: a branch on it would mispredict), then
      // their distances are computed.
      size_t n_hits = 0;
      auto scan = [&](size_t b, size_t e) {
        if (hits.size() < n_hits + (e - b) + kScanBlock) hits.resize(2 * (n_hits + (e - b) + kScanBlock));
        uint32_t* h = hits.data();
        // In blocks of kScanBlock rows (the arrays are padded): ranges hold
        // one to three rows, and a loop of one block is predictable.
        for (size_t j0 = b; j0 < e; j0 += kScanBlock) {
          for (size_t j = j0; j < j0 + kScanBlock; ++j) {
            const double dx = ax - rx[j], dy = ay - ry[j], dz = az - rz[j];
            const double c2 = dx * dx + dy * dy + dz * dz;
            const bool self = exclude_self && rindex[j] == li;
            h[n_hits] = static_cast<uint32_t>(j);
            n_hits += (c2 <= c2_max) & (c2 >= c2_min) & !self & (j < e);
          }
        }
      };
      for (int64_t zn = z_lo; zn <= z_hi; ++zn) {
        const int64_t m = grid.n_cells[zn];
        const size_t base = grid.cell_base[zn];
        if (a >= 180.0 || m == 1) {
          scan(cell_start[base], cell_start[base + m]);
          continue;
        }
        // The window [u - a, u + a] modulo 360 as u-intervals within [0, extent].
        CellRanges ranges;
        auto piece = [&](double lo, double hi) {
          if (hi < 0.0 || lo > extent) return;
          ranges.add(grid.cell_of(zn, std::max(lo, 0.0)), grid.cell_of(zn, std::min(hi, extent)));
        };
        piece(u - a, u + a);
        if (u - a < 0.0) piece(u - a + 360.0, 360.0);
        if (u + a >= 360.0) piece(0.0, u + a - 360.0);
        if (ranges.count > 1) ranges.merge();
        for (int t = 0; t < ranges.count; ++t) scan(cell_start[base + ranges.first[t]], cell_start[base + ranges.last[t] + 1]);
      }
      if (n_hits == 0) return;
      if (count) {
        *count += keep_all ? n_hits : std::min(n_hits, k);
        return;
      }
      auto candidate = [&](uint32_t j) {
        const double bx = rx[j], by = ry[j], bz = rz[j];
        const double dx = ax - bx, dy = ay - by, dz = az - bz;
        const double c2 = dx * dx + dy * dy + dz * dz;
        double deg;
        if (c2 <= 2.0) {
          deg = separation_deg_from_small_chord2(c2);  // 2 asin(c/2): well conditioned below 90 deg
        } else {
          // Beyond 90 deg asin loses precision: atan2(|a x b|, a . b) is exact everywhere.
          const double cx = ay * bz - az * by, cy = az * bx - ax * bz, cz = ax * by - ay * bx;
          deg = std::atan2(std::sqrt(cx * cx + cy * cy + cz * cz), ax * bx + ay * by + az * bz) * kRadToDeg;
        }
        return Candidate{deg * 3600.0, rindex[j]};
      };
      if (nearest_only) {
        Candidate best = candidate(hits[0]);
        for (size_t h = 1; h < n_hits; ++h) best = std::min(best, candidate(hits[h]));
        emit(li, best.right, best.dist_arcsec);
        return;
      }
      cand.clear();
      for (size_t h = 0; h < n_hits; ++h) cand.push_back(candidate(hits[h]));
      size_t keep = cand.size();
      if (!keep_all && cand.size() > k) {
        std::partial_sort(cand.begin(), cand.begin() + k, cand.end());
        keep = k;
      } else if (cand.size() > 1) {
        std::sort(cand.begin(), cand.end());
      }
      for (size_t c = 0; c < keep; ++c) emit(li, cand[c].right, cand[c].dist_arcsec);
    }
  };
  if (in_order) {
    for (size_t p = 0; p < n_kept; ++p) sweep_row(p, alpha[lbucket[p]]);
  } else {
    for (int64_t bucket = 0; bucket < n_buckets; ++bucket)
      for (size_t p = lstart[bucket]; p < lstart[bucket + 1]; ++p) sweep_row(p, alpha[bucket]);
  }

  if (count) return {};
  // Back in left order (counting sort by left index, stable: each left row's
  // block keeps its (distance, right) order); swept in order, they are.
  const Match* ordered = matches;
  if (!in_order) {
    uint32_t* start = s.match_start.get(n_left + 1);
    std::fill(start, start + n_left + 1, 0u);
    for (size_t t = 0; t < n_matches; ++t) ++start[matches[t].left + 1];
    std::partial_sum(start, start + n_left + 1, start);
    Match* reordered = s.ordered.get(n_matches);
    for (size_t t = 0; t < n_matches; ++t) reordered[start[matches[t].left]++] = matches[t];
    ordered = reordered;
  }
  CrossmatchResult result;
  result.left_index.reserve(n_matches), result.right_index.reserve(n_matches), result.dist_arcsec.reserve(n_matches);
  for (size_t t = 0; t < n_matches; ++t) {
    result.left_index.push_back(ordered[t].left);
    result.right_index.push_back(ordered[t].right);
    result.dist_arcsec.push_back(ordered[t].dist_arcsec);
  }
  return result;
}

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

namespace {

// Throws on bad options or rows; false when a side is empty (no pairs).
bool check_inputs(const double* left_ra, const double* left_dec, size_t n_left, const double* right_ra, const double* right_dec,
                  size_t n_right, const CrossmatchOptions& options) {
  check_crossmatch_options(options);
  check_rows(left_ra, left_dec, n_left, "left");
  check_rows(right_ra, right_dec, n_right, "right");
  if (options.exclude_self && n_left != n_right)
    throw Error("crossmatch exclude_self needs the same rows on both sides, got " + std::to_string(n_left) + " left and " +
                std::to_string(n_right) + " right rows");
  if (n_left >= kMaxRows || n_right >= kMaxRows)
    throw Error("crossmatch takes fewer than 2^30 rows per side in one call, got " + std::to_string(n_left) + " left and " +
                std::to_string(n_right) + " right rows (split the input)");
  return n_left > 0 && n_right > 0;
}

// One thread's scratch memory, released when a call left it above kKeepScratchBytes.
Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

void trim(Scratch& scratch) {
  if (scratch.bytes() > kKeepScratchBytes) scratch = Scratch{};
}

}  // namespace

CrossmatchResult crossmatch_kernel(const double* left_ra, const double* left_dec, size_t n_left, const double* right_ra,
                                   const double* right_dec, size_t n_right, const CrossmatchOptions& options) {
  if (!check_inputs(left_ra, left_dec, n_left, right_ra, right_dec, n_right, options)) return {};
  Scratch& scratch = thread_scratch();
  CrossmatchResult result = crossmatch_sorted(left_ra, left_dec, n_left, right_ra, right_dec, n_right, options, scratch);
  trim(scratch);
  return result;
}

uint64_t crossmatch_count(const double* left_ra, const double* left_dec, size_t n_left, const double* right_ra,
                          const double* right_dec, size_t n_right, const CrossmatchOptions& options) {
  if (!check_inputs(left_ra, left_dec, n_left, right_ra, right_dec, n_right, options)) return 0;
  Scratch& scratch = thread_scratch();
  uint64_t count = 0;
  crossmatch_sorted(left_ra, left_dec, n_left, right_ra, right_dec, n_right, options, scratch, &count);
  trim(scratch);
  return count;
}

}  // namespace lodestar
