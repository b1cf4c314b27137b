// Row counts per HEALPix pixel at one order, tallied by many threads at once:
// the ingest counts its histogram while DuckDB reads and sorts the input, so
// the partition plan is ready the moment the sorted rows start to flow, with
// no second pass over them.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "catalog/partition_plan.hpp"

namespace lodestar {

class PixelCounter {
 public:
  // Orders up to this one tally into dense arrays (12·4^10 pixels, 50 MB of
  // 32-bit counts per counting thread); deeper orders into sorted lists,
  // whose size follows the rows rather than the sky.
  static constexpr int kDenseMaxOrder = 10;

  // `fold_after_rows`: a tally is folded into the shared list after this many
  // rows, so 32-bit dense counts cannot overflow (lowered by tests only).
  explicit PixelCounter(int order, uint64_t fold_after_rows = uint32_t{0xFFFFFFFF});
  ~PixelCounter();
  PixelCounter(const PixelCounter&) = delete;
  PixelCounter& operator=(const PixelCounter&) = delete;

  // One thread's private tally: take one for a batch of rows, give it back after.
  class Tally;
  Tally* acquire();
  void release(Tally* tally);
  static void add(Tally* tally, int64_t pixel);
  static void add_invalid(Tally* tally);

  // Merged counts of every pixel with rows, sorted by pixel; call once, when
  // no thread is counting any more.
  std::vector<PixelCount> counts();
  int64_t invalid_rows() const;  // valid after counts()

 private:
  void fold(Tally& t);  // caller holds mutex_
  static std::vector<PixelCount> sum_dense(const std::vector<Tally*>& dense);

  int order_;
  uint64_t fold_after_rows_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Tally>> tallies_;
  std::vector<Tally*> free_;
  std::vector<PixelCount> folded_;  // sorted by pixel
  int64_t invalid_ = 0;
};

}  // namespace lodestar
