// Choosing HATS partitions from a row-count histogram, as hats-import does:
// sum the histogram up the HEALPix tree, then top-down take every non-empty
// pixel whose count is within the threshold and whose ancestors were not taken.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace lodestar {

struct PixelCount {
  int64_t pixel;
  int64_t count;
};

struct PlannedPartition {
  int order;
  int64_t pixel;
  int64_t rows;
};

// `histogram`: non-empty pixels at `highest_order` (any order), counts > 0.
// Throws Error when a single pixel at highest_order exceeds the threshold.
// Result is in breadth-first HATS order.
std::vector<PlannedPartition> plan_partitions(const std::vector<PixelCount>& histogram, int highest_order, int64_t pixel_threshold);

}  // namespace lodestar
