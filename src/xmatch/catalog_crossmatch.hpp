// Crossmatch of two catalogs held in memory, each as columns sorted by
// `_healpix_29`: every left partition is matched against the right rows of
// its neighbourhood (the partition's pixel and every point within the radius
// of it), partitions spread over threads, all in C++. The same rows and the
// same completeness argument as the partition tasks that read leaves and
// margins (python/lodestar/crossmatch.py); this path only saves the per-task
// work of a Python loop: index arrays, gathers and the interpreter lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/healpix_index.hpp"
#include "xmatch/crossmatch_kernel.hpp"

namespace lodestar {

struct SortedColumns {
  const double* ra;
  const double* dec;
  const int64_t* healpix29;  // non-decreasing
  size_t n;
};

struct Partition {
  int order;
  int64_t pixel;
};

// Order-29 ranges, sorted and merged, covering every point within radius_deg
// of pixel (order, pixel): the pixel itself and the neighbourhoods of its
// boundary sub-pixels at most 4 orders below (as neighbourhood29 in Python).
std::vector<PixelRange> partition_neighbourhood29(int order, int64_t pixel, double radius_deg);

// The kernel's pairs for every partition, concatenated in `parts` order, with
// left and right indices into the given columns. Throws lodestar::Error.
CrossmatchResult crossmatch_partitions(const SortedColumns& left, const SortedColumns& right, const std::vector<Partition>& parts,
                                       const CrossmatchOptions& options, int threads);

// The number of those pairs.
uint64_t count_partitions(const SortedColumns& left, const SortedColumns& right, const std::vector<Partition>& parts,
                          const CrossmatchOptions& options, int threads);

}  // namespace lodestar
