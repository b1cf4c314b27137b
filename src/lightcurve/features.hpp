// Summary features of light curves, per object and band (see docs/lightcurves.md
// for the exact definitions; they are chosen to match numpy/scipy conventions).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "lightcurve/light_curve_columns.hpp"

namespace lodestar::lightcurve {

struct Features {
  int64_t n_obs = 0;            // detections with a finite magnitude
  double mean = NAN;            // arithmetic mean of mag
  double median = NAN;          // median of mag (mean of the two middle values for even n)
  double weighted_mean = NAN;   // sum(m / err^2) / sum(1 / err^2)
  double std = NAN;             // sample standard deviation (ddof = 1); NaN for n < 2
  double robust_scatter = NAN;  // 1.4826 * median(|m - median|); NaN for n < 2
  double amplitude = NAN;       // (P95 - P5) / 2, percentiles with linear interpolation (numpy default); NaN for n < 2
  double skewness = NAN;        // biased sample skewness m3 / m2^1.5 (scipy.stats.skew default); NaN for n < 3 or m2 == 0
  double von_neumann = NAN;     // sum((m[i+1]-m[i])^2) / (n-1) / var(ddof=1), in time order; NaN for n < 2 or var == 0
  double chi2_reduced = NAN;    // sum(((m - weighted_mean) / err)^2) / (n - 1); NaN for n < 2
  double slope = NAN;           // weighted (1/err^2) least-squares slope of mag vs time, mag/day; NaN if n < 2 or all times equal
};

// Names of the double-valued features, in struct order (n_obs is separate).
inline constexpr std::array<const char*, 10> kFeatureNames = {
    "mean", "median", "weighted_mean", "std", "robust_scatter", "amplitude", "skewness", "von_neumann", "chi2_reduced", "slope"};
std::array<double, 10> feature_values(const Features& f);

// Features of one set of points. Requirements (not re-checked): times sorted
// ascending, all values finite, errors > 0. `scratch` avoids allocations.
Features compute_features(const double* time, const double* mag, const double* err, size_t n, std::vector<double>& scratch);

struct FeatureRow {
  int64_t object_index;
  int8_t band;
  Features features;
};

// One row per (object, band) for every band that occurs among the object's
// detections (also when all its magnitudes are NaN: n_obs = 0 and NaN features),
// objects in input order, bands ascending. Validates the columns first.
std::vector<FeatureRow> compute_features_per_band(const LightCurveColumns& lc);

// Shared small statistics helpers (sorted input, numpy conventions).
double median_of_sorted(const double* sorted, size_t n);
double percentile_of_sorted(const double* sorted, size_t n, double q);  // q in [0, 1], linear interpolation

}  // namespace lodestar::lightcurve
