#include "lightcurve/features.hpp"

#include <algorithm>
#include <cmath>

namespace lodestar::lightcurve {

double median_of_sorted(const double* s, size_t n) {
  if (n == 0) return NAN;
  return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

double percentile_of_sorted(const double* s, size_t n, double q) {
  if (n == 0) return NAN;
  const double h = (static_cast<double>(n) - 1.0) * q;
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= n) return s[n - 1];
  return s[lo] + (h - static_cast<double>(lo)) * (s[lo + 1] - s[lo]);
}

std::array<double, 10> feature_values(const Features& f) {
  return {f.mean,      f.median,   f.weighted_mean, f.std,          f.robust_scatter,
          f.amplitude, f.skewness, f.von_neumann,   f.chi2_reduced, f.slope};
}

Features compute_features(const double* t, const double* m, const double* e, size_t n, std::vector<double>& scratch) {
  Features f;
  f.n_obs = static_cast<int64_t>(n);
  if (n == 0) return f;
  const double dn = static_cast<double>(n);

  double sum = 0.0, sw = 0.0, swm = 0.0, swt = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double w = 1.0 / (e[i] * e[i]);
    sum += m[i];
    sw += w;
    swm += w * m[i];
    swt += w * t[i];
  }
  f.mean = sum / dn;
  f.weighted_mean = swm / sw;

  scratch.assign(m, m + n);
  std::sort(scratch.begin(), scratch.end());
  f.median = median_of_sorted(scratch.data(), n);
  if (n < 2) return f;
  f.amplitude = 0.5 * (percentile_of_sorted(scratch.data(), n, 0.95) - percentile_of_sorted(scratch.data(), n, 0.05));
  for (auto& v : scratch) v = std::fabs(v - f.median);
  std::sort(scratch.begin(), scratch.end());
  f.robust_scatter = 1.4826 * median_of_sorted(scratch.data(), n);

  // Central moments about the mean (two-pass for accuracy).
  double m2 = 0.0, m3 = 0.0, chi2 = 0.0, dd = 0.0;
  const double tw = swt / sw;
  double sxx = 0.0, sxy = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double d = m[i] - f.mean;
    m2 += d * d;
    m3 += d * d * d;
    const double r = (m[i] - f.weighted_mean) / e[i];
    chi2 += r * r;
    if (i + 1 < n) dd += (m[i + 1] - m[i]) * (m[i + 1] - m[i]);
    const double w = 1.0 / (e[i] * e[i]);
    sxx += w * (t[i] - tw) * (t[i] - tw);
    sxy += w * (t[i] - tw) * (m[i] - f.weighted_mean);
  }
  const double var = m2 / (dn - 1.0);
  f.std = std::sqrt(var);
  if (n >= 3 && m2 > 0.0) f.skewness = (m3 / dn) / std::pow(m2 / dn, 1.5);
  if (var > 0.0) f.von_neumann = dd / (dn - 1.0) / var;
  f.chi2_reduced = chi2 / (dn - 1.0);
  if (sxx > 0.0) f.slope = sxy / sxx;
  return f;
}

std::vector<FeatureRow> compute_features_per_band(const LightCurveColumns& lc) {
  validate(lc);
  std::vector<FeatureRow> rows;
  std::vector<int64_t> order;
  std::vector<double> t, m, e, scratch;
  for (size_t obj = 0; obj < lc.n_objects(); ++obj) {
    bool present[kNumBands] = {};
    for (int64_t j = lc.offsets[obj]; j < lc.offsets[obj + 1]; ++j) present[lc.band[j]] = true;
    usable_detections_in_time_order(lc, obj, order);
    for (int b = 0; b < kNumBands; ++b) {
      if (!present[b]) continue;
      t.clear(), m.clear(), e.clear();
      for (int64_t j : order) {
        if (lc.band[j] != b) continue;
        t.push_back(lc.time[j]);
        m.push_back(lc.mag[j]);
        e.push_back(lc.mag_err[j]);
      }
      rows.push_back(
          {static_cast<int64_t>(obj), static_cast<int8_t>(b), compute_features(t.data(), m.data(), e.data(), t.size(), scratch)});
    }
  }
  return rows;
}

}  // namespace lodestar::lightcurve
