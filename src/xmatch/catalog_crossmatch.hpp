// Crossmatch of two catalogs held in memory: every left partition is matched
// against the right rows of its neighbourhood (the partition's pixel and
// every point within the radius of it), partitions spread over threads, all
// in C++. The same rows and the same completeness argument as the partition
// tasks that read leaves and margins (python/lodestar/crossmatch.py); this
// path saves the per-task work of a Python loop (index arrays, gathers, the
// interpreter lock), and reads the columns in place, as Arrow chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/healpix_index.hpp"
#include "xmatch/crossmatch_kernel.hpp"

namespace lodestar {

// One side's columns as chunks (Arrow's row groups), read where they are.
struct ChunkedColumns {
  struct Chunk {
    const double* ra;
    const double* dec;
    const int64_t* healpix29;  // nullptr when the side has no such column
    size_t rows;
    size_t source_row;  // row of the caller's table where the chunk starts
  };
  std::vector<Chunk> chunks;
};

struct LeftPartition {
  int order;
  int64_t pixel;
  size_t left_begin = 0, left_end = 0;  // its left rows, when the left side has no healpix29 column
};

// Order-29 ranges, sorted and merged, covering every point within radius_deg
// of pixel (order, pixel): the pixel itself and the neighbourhoods of its
// boundary sub-pixels at most 4 orders below (as neighbourhood29 in Python).
std::vector<PixelRange> partition_neighbourhood29(int order, int64_t pixel, double radius_deg);

// The kernel's pairs for every partition, concatenated in `parts` order, with
// left and right indices into the caller's tables. The right side (and the
// left when it has healpix29) must be sorted by it once its chunks are put in
// order of their first value: HATS leaves are, whatever order they come in.
// Throws lodestar::Error (rows not sorted, bad positions or options).
CrossmatchResult crossmatch_partitions(ChunkedColumns left, ChunkedColumns right, const std::vector<LeftPartition>& parts,
                                       const CrossmatchOptions& options, int threads);

// The number of those pairs.
uint64_t count_partitions(ChunkedColumns left, ChunkedColumns right, const std::vector<LeftPartition>& parts,
                          const CrossmatchOptions& options, int threads);

}  // namespace lodestar
