#include "xmatch/catalog_crossmatch.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>

#include "engine/duckdb_handles.hpp"
#include "xmatch/sky_region.hpp"

namespace lodestar {
namespace {

constexpr int kNeighbourhoodSteps = 4;  // boundary sub-pixels at most this many orders below the partition

// An order whose pixels are about the size of a disc of radius_deg (search.coverage_order).
int coverage_order(double radius_deg) {
  const double size0 = 58.6;  // mean pixel size at order 0, degrees
  return static_cast<int>(
      std::min<double>(kMaxHealpixOrder - 1, std::max(0.0, std::floor(std::log2(size0 / std::max(radius_deg, 1e-9))))));
}

std::vector<PixelRange> merge(std::vector<PixelRange> r) {
  std::sort(r.begin(), r.end(),
            [](const PixelRange& a, const PixelRange& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  std::vector<PixelRange> out;
  for (const PixelRange& x : r) {
    if (!out.empty() && x.begin <= out.back().end)
      out.back().end = std::max(out.back().end, x.end);
    else
      out.push_back(x);
  }
  return out;
}

// Rows [begin, end) of a sorted column within [lo, hi).
std::pair<size_t, size_t> rows_in(const SortedColumns& c, int64_t lo, int64_t hi) {
  const int64_t* b = std::lower_bound(c.healpix29, c.healpix29 + c.n, lo);
  const int64_t* e = std::lower_bound(b, c.healpix29 + c.n, hi);
  return {static_cast<size_t>(b - c.healpix29), static_cast<size_t>(e - c.healpix29)};
}

struct PartitionWork {
  std::vector<size_t> span_begin, span_offset;  // right spans and where each starts in the gathered rows
  std::vector<double> ra, dec;                  // the gathered right rows
};

// Runs `match(part_index, left_begin, n_left, work)` for every partition with
// left rows, on up to `threads` threads; the right rows of the partition's
// neighbourhood are in `work` (gathered from contiguous spans).
template <typename Match>
void for_each_partition(const SortedColumns& left, const SortedColumns& right, const std::vector<Partition>& parts,
                        double radius_deg, int threads, Match&& match) {
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&] {
    PartitionWork w;
    try {
      for (size_t i = next++; i < parts.size() && !failure; i = next++) {
        const Partition& p = parts[i];
        const int shift = 2 * (kMaxHealpixOrder - p.order);
        const auto [a, b] = rows_in(left, p.pixel << shift, (p.pixel + 1) << shift);
        if (a == b) continue;
        w.span_begin.clear(), w.span_offset.clear(), w.ra.clear(), w.dec.clear();
        for (const PixelRange& r : partition_neighbourhood29(p.order, p.pixel, radius_deg)) {
          const auto [rb, re] = rows_in(right, r.begin, r.end);
          if (rb == re) continue;
          w.span_begin.push_back(rb);
          w.span_offset.push_back(w.ra.size());
          w.ra.insert(w.ra.end(), right.ra + rb, right.ra + re);
          w.dec.insert(w.dec.end(), right.dec + rb, right.dec + re);
        }
        match(i, a, b - a, w);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
  };
  const int n = std::max(1, std::min<int>(threads, static_cast<int>(parts.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

void check_sorted(const SortedColumns& c, const char* side) {
  for (size_t i = 1; i < c.n; ++i)
    if (c.healpix29[i] < c.healpix29[i - 1])
      throw Error(std::string(side) + " rows are not sorted by _healpix_29 (row " + std::to_string(i) + ")");
}

}  // namespace

std::vector<PixelRange> partition_neighbourhood29(int order, int64_t pixel, double radius_deg) {
  const int at_order =
      std::min(kMaxHealpixOrder, std::max(order, std::min(order + kNeighbourhoodSteps, coverage_order(radius_deg))));
  const int shift = 2 * (kMaxHealpixOrder - at_order);
  std::vector<PixelRange> pieces{to_order29({pixel, pixel + 1}, order)};
  const int d = at_order - order;
  const int64_t side = int64_t{1} << d;
  for (int64_t local = 0; local < side * side; ++local) {
    // NESTED sub-index: x in the even bits, y in the odd bits.
    int64_t x = 0, y = 0;
    for (int bit = 0; bit < d; ++bit) {
      x |= ((local >> (2 * bit)) & 1) << bit;
      y |= ((local >> (2 * bit + 1)) & 1) << bit;
    }
    if (x != 0 && y != 0 && x != side - 1 && y != side - 1) continue;  // not on the boundary
    for (const PixelRange& r : pixel_neighbourhood(at_order, (pixel << (2 * d)) + local, radius_deg, at_order))
      pieces.push_back({r.begin << shift, r.end << shift});
  }
  return merge(std::move(pieces));
}

CrossmatchResult crossmatch_partitions(const SortedColumns& left, const SortedColumns& right, const std::vector<Partition>& parts,
                                       const CrossmatchOptions& options, int threads) {
  check_crossmatch_options(options);
  check_sorted(left, "left"), check_sorted(right, "right");
  std::vector<CrossmatchResult> results(parts.size());
  for_each_partition(
      left, right, parts, options.radius_arcsec / 3600.0, threads, [&](size_t i, size_t a, size_t n, const PartitionWork& w) {
        CrossmatchResult r = crossmatch_kernel(left.ra + a, left.dec + a, n, w.ra.data(), w.dec.data(), w.ra.size(), options);
        for (auto& li : r.left_index) li += static_cast<int64_t>(a);
        for (auto& ri : r.right_index) {  // gathered position -> right row
          const size_t k = static_cast<size_t>(
              std::upper_bound(w.span_offset.begin(), w.span_offset.end(), static_cast<size_t>(ri)) - w.span_offset.begin() - 1);
          ri = static_cast<int64_t>(w.span_begin[k] + (static_cast<size_t>(ri) - w.span_offset[k]));
        }
        results[i] = std::move(r);
      });
  CrossmatchResult out;
  size_t total = 0;
  for (const auto& r : results) total += r.size();
  out.left_index.reserve(total), out.right_index.reserve(total), out.dist_arcsec.reserve(total);
  for (const auto& r : results) {
    out.left_index.insert(out.left_index.end(), r.left_index.begin(), r.left_index.end());
    out.right_index.insert(out.right_index.end(), r.right_index.begin(), r.right_index.end());
    out.dist_arcsec.insert(out.dist_arcsec.end(), r.dist_arcsec.begin(), r.dist_arcsec.end());
  }
  return out;
}

uint64_t count_partitions(const SortedColumns& left, const SortedColumns& right, const std::vector<Partition>& parts,
                          const CrossmatchOptions& options, int threads) {
  check_crossmatch_options(options);
  check_sorted(left, "left"), check_sorted(right, "right");
  std::atomic<uint64_t> count{0};
  for_each_partition(left, right, parts, options.radius_arcsec / 3600.0, threads,
                     [&](size_t, size_t a, size_t n, const PartitionWork& w) {
                       count += crossmatch_count(left.ra + a, left.dec + a, n, w.ra.data(), w.dec.data(), w.ra.size(), options);
                     });
  return count;
}

}  // namespace lodestar
