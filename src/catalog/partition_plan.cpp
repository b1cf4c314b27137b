#include "catalog/partition_plan.hpp"

#include <algorithm>
#include <string>

#include "core/healpix_index.hpp"
#include "engine/duckdb_handles.hpp"

namespace lodestar {

namespace {

// The histogram as sorted, distinct pixels with prefix sums of their counts,
// so that the rows of any pixel of a coarser order (a contiguous range of
// finest-order pixels) are a difference of two prefix sums.
class SortedHistogram {
 public:
  SortedHistogram(const std::vector<PixelCount>& histogram, int order) {
    std::vector<PixelCount> h;
    h.reserve(histogram.size());
    for (const auto& pc : histogram) {
      if (pc.count <= 0) continue;
      if (pc.pixel < 0 || pc.pixel >= healpix_npix(order))
        throw Error("histogram pixel " + std::to_string(pc.pixel) + " is not a pixel of order " + std::to_string(order));
      h.push_back(pc);
    }
    // The ingest passes a sorted histogram; other callers need not.
    if (!std::is_sorted(h.begin(), h.end(), [](const PixelCount& a, const PixelCount& b) { return a.pixel < b.pixel; }))
      std::sort(h.begin(), h.end(), [](const PixelCount& a, const PixelCount& b) { return a.pixel < b.pixel; });
    pixels_.reserve(h.size());
    prefix_.reserve(h.size() + 1);
    prefix_.push_back(0);
    for (const auto& pc : h) {
      if (!pixels_.empty() && pixels_.back() == pc.pixel) {
        prefix_.back() += pc.count;
        continue;
      }
      pixels_.push_back(pc.pixel);
      prefix_.push_back(prefix_.back() + pc.count);
    }
  }
  // Rows in finest-order pixels [begin, end).
  int64_t rows_in(int64_t begin, int64_t end) const {
    const auto lo = std::lower_bound(pixels_.begin(), pixels_.end(), begin) - pixels_.begin();
    const auto hi = std::lower_bound(pixels_.begin() + lo, pixels_.end(), end) - pixels_.begin();
    return prefix_[hi] - prefix_[lo];
  }

 private:
  std::vector<int64_t> pixels_;
  std::vector<int64_t> prefix_;  // prefix_[i]: rows in pixels_[0..i)
};

struct Planner {
  const SortedHistogram& histogram;
  int highest_order;
  int64_t threshold;
  std::vector<PlannedPartition> plan;

  // Top-down: a pixel whose rows fit becomes a partition and its descendants
  // are not visited (so no ancestor of a partition is ever taken). Children
  // are visited in pixel order, so partitions come out breadth-first sorted.
  void visit(int order, int64_t pixel) {
    const int shift = 2 * (highest_order - order);
    const int64_t n = histogram.rows_in(pixel << shift, (pixel + 1) << shift);
    if (n == 0) return;
    if (n <= threshold) {
      plan.push_back({order, pixel, n});
      return;
    }
    if (order == highest_order)
      throw Error("HEALPix pixel " + std::to_string(pixel) + " at highest_order " + std::to_string(order) + " holds " +
                  std::to_string(n) + " rows, more than pixel_threshold=" + std::to_string(threshold) +
                  "; raise highest_order or pixel_threshold");
    for (int64_t child = 4 * pixel; child < 4 * pixel + 4; ++child) visit(order + 1, child);
  }
};

}  // namespace

std::vector<PlannedPartition> plan_partitions(const std::vector<PixelCount>& histogram, int highest_order,
                                              int64_t pixel_threshold) {
  if (check_order(highest_order)) throw Error("highest_order must be within [0, 29], got " + std::to_string(highest_order));
  if (pixel_threshold <= 0) throw Error("pixel_threshold must be > 0, got " + std::to_string(pixel_threshold));
  const SortedHistogram sorted(histogram, highest_order);
  Planner planner{sorted, highest_order, pixel_threshold, {}};
  for (int64_t base = 0; base < 12; ++base) planner.visit(0, base);
  return std::move(planner.plan);
}

}  // namespace lodestar
