#include "core/synthetic_sky.hpp"

#include <algorithm>
#include <cmath>

#include "core/sky_angles.hpp"

namespace lodestar {
namespace {

// splitmix64: a counter-based generator; hashing (seed, row, stream) gives
// independent, reproducible draws without any sequential state.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform double in (0, 1) for draw `stream` of `row`.
double uniform(uint64_t seed, uint64_t row, uint64_t stream) {
  const uint64_t bits = mix(mix(seed ^ mix(row)) + stream);
  return (static_cast<double>(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double normal(uint64_t seed, uint64_t row, uint64_t stream) {
  // Box-Muller on two independent streams.
  const double u1 = uniform(seed, row, stream), u2 = uniform(seed, row, stream + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

struct Cluster {
  double ra, dec, sigma_deg;
};

Cluster cluster(uint64_t seed, int k) {
  const uint64_t row = ~static_cast<uint64_t>(k);  // a row number no source uses
  const double ra = 360.0 * uniform(seed, row, 100);
  const double dec = std::asin(2.0 * uniform(seed, row, 101) - 1.0) * kRadToDeg;
  const double sigma = 0.2 + 1.8 * uniform(seed, row, 102);
  return {ra, dec, sigma};
}

}  // namespace

void SyntheticSkyColumns::resize(size_t n) {
  source_id.resize(n);
  ra.resize(n);
  dec.resize(n);
  mag_g.resize(n);
  mag_r.resize(n);
  mag_err.resize(n);
}

void generate_synthetic_sky(const SyntheticSkySpec& spec, int64_t first_row, int64_t count, SyntheticSkyColumns& out) {
  out.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t row = static_cast<uint64_t>(first_row + i);
    double ra, dec;
    if (spec.n_clusters > 0 && uniform(spec.seed, row, 0) < spec.cluster_fraction) {
      const int k = static_cast<int>(uniform(spec.seed, row, 1) * spec.n_clusters);
      const Cluster c = cluster(spec.seed, k);
      // Offsets in the tangent plane, clipped to the sphere: fine for a toy sky.
      dec = c.dec + c.sigma_deg * normal(spec.seed, row, 2);
      dec = std::clamp(dec, -90.0, 90.0);
      const double cosd = std::max(std::cos(dec * kDegToRad), 1e-3);
      ra = std::fmod(c.ra + c.sigma_deg * normal(spec.seed, row, 4) / cosd + 720.0, 360.0);
    } else {
      ra = 360.0 * uniform(spec.seed, row, 6);
      dec = std::asin(2.0 * uniform(spec.seed, row, 7) - 1.0) * kRadToDeg;
    }
    // Number counts rising as 10^(0.35 m) between 14 and 22 mag (inverse CDF).
    const double a = 0.35 * std::log(10.0);
    const double lo = std::exp(a * 14.0), hi = std::exp(a * 22.0);
    const double mag_r = std::log(lo + uniform(spec.seed, row, 8) * (hi - lo)) / a;
    const double color = 0.3 + 0.4 * normal(spec.seed, row, 9);
    // A ZTF-like error curve: ~0.01 mag when bright, ~0.2 mag at 21.5.
    const double err = 0.01 + 0.19 * std::pow(10.0, 0.4 * (mag_r - 21.5));
    out.source_id[i] = static_cast<int64_t>(row);
    out.ra[i] = ra;
    out.dec[i] = dec;
    out.mag_r[i] = mag_r + err * normal(spec.seed, row, 11);
    out.mag_g[i] = mag_r + color + err * normal(spec.seed, row, 13);
    out.mag_err[i] = err;
  }
}

}  // namespace lodestar
