#include "catalog/partition_plan.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <unordered_set>

#include "catalog/hats_catalog.hpp"
#include "engine/duckdb_handles.hpp"

namespace lodestar {

std::vector<PlannedPartition> plan_partitions(const std::vector<PixelCount>& histogram, int highest_order, int64_t pixel_threshold) {
  if (check_order(highest_order)) throw Error("highest_order must be within [0, 29], got " + std::to_string(highest_order));
  if (pixel_threshold <= 0) throw Error("pixel_threshold must be > 0, got " + std::to_string(pixel_threshold));
  // counts[k]: non-empty pixels at order k with their row counts.
  std::vector<std::map<int64_t, int64_t>> counts(highest_order + 1);
  for (const auto& pc : histogram) {
    if (pc.count <= 0) continue;
    counts[highest_order][pc.pixel] += pc.count;
  }
  for (int k = highest_order; k > 0; --k)
    for (const auto& [pix, n] : counts[k]) counts[k - 1][pix >> 2] += n;

  std::vector<PlannedPartition> plan;
  // taken[k]: pixels at order k chosen as partitions (so descendants are skipped).
  std::vector<std::unordered_set<int64_t>> taken(highest_order + 1);
  auto ancestor_taken = [&](int k, int64_t pix) {
    for (int j = 0; j < k; ++j)
      if (taken[j].count(pix >> (2 * (k - j)))) return true;
    return false;
  };
  for (int k = 0; k <= highest_order; ++k) {
    for (const auto& [pix, n] : counts[k]) {
      if (ancestor_taken(k, pix)) continue;
      if (n <= pixel_threshold) {
        taken[k].insert(pix);
        plan.push_back({k, pix, n});
      } else if (k == highest_order) {
        throw Error("HEALPix pixel " + std::to_string(pix) + " at highest_order " + std::to_string(k) + " holds " + std::to_string(n) +
                    " rows, more than pixel_threshold=" + std::to_string(pixel_threshold) +
                    "; raise highest_order or pixel_threshold");
      }
    }
  }
  std::sort(plan.begin(), plan.end(), [](const PlannedPartition& a, const PlannedPartition& b) {
    const int64_t sa = a.pixel << (2 * (29 - a.order)), sb = b.pixel << (2 * (29 - b.order));
    return sa != sb ? sa < sb : a.order < b.order;
  });
  return plan;
}

}  // namespace lodestar
