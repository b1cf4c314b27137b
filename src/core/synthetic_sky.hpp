// A reproducible synthetic sky: every row is a pure function of (seed, row
// number), so any slice can be generated independently, in any order, on any
// thread, and always gives the same catalog.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lodestar {

struct SyntheticSkyColumns {
  std::vector<int64_t> source_id;
  std::vector<double> ra;
  std::vector<double> dec;
  std::vector<double> mag_g;
  std::vector<double> mag_r;
  std::vector<double> mag_err;
  void resize(size_t n);
};

struct SyntheticSkySpec {
  uint64_t seed = 42;
  // Fraction of sources drawn from compact clusters (star-cluster-like
  // overdensities), so HEALPix partitioning sees realistic density contrast.
  double cluster_fraction = 0.2;
  int n_clusters = 64;
};

// Fills `out` with rows [first_row, first_row + count).
void generate_synthetic_sky(const SyntheticSkySpec& spec, int64_t first_row, int64_t count, SyntheticSkyColumns& out);

}  // namespace lodestar
