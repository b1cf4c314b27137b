#include "catalog/partition_plan.hpp"

#include <algorithm>
#include <string>

#include "core/healpix_index.hpp"
#include "engine/duckdb_handles.hpp"

namespace lodestar {

namespace {

// The histogram as sorted, distinct pixels with prefix sums of their counts,
// so that the rows of any pixel of a coarser order (a contiguous range of
// finest-order pixels) are a difference of two prefix sums. The ingest's
// histogram (millions of pixels) is already sorted and distinct and is used
// in place: copying it cost more than planning (fresh pages fault on a VM).
class SortedHistogram {
 public:
  SortedHistogram(const std::vector<PixelCount>& histogram, int order) {
    const int64_t npix = healpix_npix(order);
    bool clean = true;
    for (size_t i = 0; i < histogram.size(); ++i) {
      const PixelCount& pc = histogram[i];
      if (pc.count <= 0 || (i > 0 && histogram[i - 1].pixel >= pc.pixel)) clean = false;
      if (pc.count > 0 && (pc.pixel < 0 || pc.pixel >= npix))
        throw Error("histogram pixel " + std::to_string(pc.pixel) + " is not a pixel of order " + std::to_string(order));
    }
    if (!clean) {
      // Other callers may pass any order, duplicates or empty pixels.
      for (const auto& pc : histogram)
        if (pc.count > 0) own_.push_back(pc);
      std::sort(own_.begin(), own_.end(), [](const PixelCount& a, const PixelCount& b) { return a.pixel < b.pixel; });
      size_t out = 0;
      for (size_t i = 0; i < own_.size(); ++i) {
        if (out > 0 && own_[out - 1].pixel == own_[i].pixel)
          own_[out - 1].count += own_[i].count;
        else
          own_[out++] = own_[i];
      }
      own_.resize(out);
    }
    const std::vector<PixelCount>& h = clean ? histogram : own_;
    pixels_ = h.data();
    size_ = h.size();
    prefix_.resize(size_ + 1);
    prefix_[0] = 0;
    for (size_t i = 0; i < size_; ++i) prefix_[i + 1] = prefix_[i] + h[i].count;
  }
  // Rows in finest-order pixels [begin, end).
  int64_t rows_in(int64_t begin, int64_t end) const {
    auto below = [](const PixelCount& pc, int64_t v) { return pc.pixel < v; };
    const PixelCount* lo = std::lower_bound(pixels_, pixels_ + size_, begin, below);
    const PixelCount* hi = std::lower_bound(lo, pixels_ + size_, end, below);
    return prefix_[hi - pixels_] - prefix_[lo - pixels_];
  }

 private:
  std::vector<PixelCount> own_;  // used only when the input needed cleaning
  const PixelCount* pixels_ = nullptr;
  size_t size_ = 0;
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
