// The crossmatch kernel (design example 3): given the left rows of one aligned
// pixel and the right rows of that pixel plus its margin, as columns, return
// the matching pairs. It knows nothing about files, partitions or margins, so
// it is tested against brute force and benchmarked alone, and the catalog
// layer runs it from any thread (one call is single-threaded; it reuses
// per-thread scratch memory between calls, nothing that affects a result).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lodestar {

struct CrossmatchOptions {
  double radius_arcsec = 1.0;      // match when separation <= radius (0 < radius <= 180 deg)
  int64_t n_neighbors = 1;         // keep the k nearest right rows per left row (k >= 1)...
  bool all_pairs = false;          // ...or every pair within the radius (n_neighbors ignored)
  double min_radius_arcsec = 0.0;  // and separation >= min radius (0 <= min < radius)
  bool exclude_self = false;       // left and right are the same rows: skip pairs (i, i)
  // The left rows come in sky order (sorted by _healpix_29, as a partition's
  // are): swept as they are, which is faster. Any order gives the same pairs.
  bool left_in_sky_order = false;
};

// Columnar result ordered by left index, then distance, then right index.
struct CrossmatchResult {
  std::vector<int64_t> left_index;
  std::vector<int64_t> right_index;
  std::vector<double> dist_arcsec;
  size_t size() const { return left_index.size(); }
};

// Throws lodestar::Error naming the bad option.
void check_crossmatch_options(const CrossmatchOptions& options);

// Positions in degrees; RA may be any finite value, |dec| <= 90. Throws
// lodestar::Error naming the first bad row or option.
CrossmatchResult crossmatch_kernel(const double* left_ra, const double* left_dec, size_t n_left, const double* right_ra,
                                   const double* right_dec, size_t n_right, const CrossmatchOptions& options);

// The number of pairs crossmatch_kernel returns for the same input (same checks), without computing them: a
// count needs neither distances nor result columns.
uint64_t crossmatch_count(const double* left_ra, const double* left_dec, size_t n_left, const double* right_ra,
                          const double* right_dec, size_t n_right, const CrossmatchOptions& options);

}  // namespace lodestar
