// Light-curve features against straightforward reference code (textbook
// formulas, written independently of the kernel) on random light curves.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/duckdb_handles.hpp"
#include "engine/engine.hpp"
#include "lightcurve/features.hpp"

using namespace lodestar;
using namespace lodestar::lightcurve;

namespace {

struct Csr {
  std::vector<int64_t> offsets{0};
  std::vector<double> time, mag, err;
  std::vector<int8_t> band;
  LightCurveColumns columns() const { return {offsets, time, mag, err, band}; }
  void add(double t, double m, double e, int8_t b) { time.push_back(t), mag.push_back(m), err.push_back(e), band.push_back(b); }
  void end_object() { offsets.push_back(static_cast<int64_t>(time.size())); }
};

double ref_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double ref_percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double h = (v.size() - 1) * q;
  const double lo = std::floor(h), hi = std::ceil(h);
  return v[static_cast<size_t>(lo)] + (h - lo) * (v[static_cast<size_t>(hi)] - v[static_cast<size_t>(lo)]);
}

// Reference for one band: pairs (t, m, e) in arbitrary order.
Features reference(std::vector<std::array<double, 3>> p) {
  std::stable_sort(p.begin(), p.end(), [](auto& a, auto& b) { return a[0] < b[0]; });
  Features f;
  const double n = p.size();
  f.n_obs = p.size();
  std::vector<double> m;
  for (auto& x : p) m.push_back(x[1]);
  f.mean = std::accumulate(m.begin(), m.end(), 0.0) / n;
  double sw = 0, swm = 0;
  for (auto& x : p) sw += 1 / (x[2] * x[2]), swm += x[1] / (x[2] * x[2]);
  f.weighted_mean = swm / sw;
  f.median = ref_median(m);
  double ss = 0, s3 = 0;
  for (double v : m) ss += (v - f.mean) * (v - f.mean), s3 += std::pow(v - f.mean, 3);
  f.std = std::sqrt(ss / (n - 1));
  std::vector<double> dev;
  for (double v : m) dev.push_back(std::fabs(v - f.median));
  f.robust_scatter = 1.4826 * ref_median(dev);
  f.amplitude = (ref_percentile(m, 0.95) - ref_percentile(m, 0.05)) / 2;
  f.skewness = (s3 / n) / std::pow(ss / n, 1.5);
  double dd = 0;
  for (size_t i = 0; i + 1 < m.size(); ++i) dd += (m[i + 1] - m[i]) * (m[i + 1] - m[i]);
  f.von_neumann = (dd / (n - 1)) / (ss / (n - 1));
  double chi2 = 0;
  for (auto& x : p) chi2 += std::pow((x[1] - f.weighted_mean) / x[2], 2);
  f.chi2_reduced = chi2 / (n - 1);
  // Weighted normal equations for m = a + b t, solved with Cramer's rule.
  double S = 0, St = 0, Sm = 0, Stt = 0, Stm = 0;
  const double t0 = p[0][0];  // shift for conditioning
  for (auto& x : p) {
    const double w = 1 / (x[2] * x[2]), t = x[0] - t0;
    S += w, St += w * t, Sm += w * x[1], Stt += w * t * t, Stm += w * t * x[1];
  }
  f.slope = (S * Stm - St * Sm) / (S * Stt - St * St);
  return f;
}

void expect_close(const Features& got, const Features& want) {
  EXPECT_EQ(got.n_obs, want.n_obs);
  const auto g = feature_values(got), w = feature_values(want);
  for (size_t k = 0; k < g.size(); ++k) EXPECT_NEAR(g[k], w[k], 1e-9 * std::max(1.0, std::fabs(w[k]))) << kFeatureNames[k];
}

}  // namespace

TEST(LightCurveFeatures, MatchReferenceOnRandomCurves) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> gauss;
  std::uniform_real_distribution<double> uni(0, 1);
  Csr csr;
  std::vector<std::vector<std::vector<std::array<double, 3>>>> truth;  // object -> band -> points
  for (int obj = 0; obj < 50; ++obj) {
    truth.emplace_back(3);
    const int n = 3 + static_cast<int>(uni(rng) * 200);
    for (int k = 0; k < n; ++k) {
      const double t = 58000 + uni(rng) * 1000;  // unsorted on purpose
      const int8_t b = static_cast<int8_t>(uni(rng) * 3);
      const double e = 0.01 + 0.1 * uni(rng);
      const double m = 15 + b * 0.5 + 0.001 * (t - 58000) * (obj % 3) + e * gauss(rng) + (uni(rng) < 0.05 ? 1.0 : 0.0);
      csr.add(t, m, e, b);
      truth.back()[b].push_back({t, m, e});
    }
    csr.end_object();
  }
  const auto rows = compute_features_per_band(csr.columns());
  size_t r = 0;
  for (int obj = 0; obj < 50; ++obj)
    for (int b = 0; b < 3; ++b) {
      if (truth[obj][b].empty()) continue;
      ASSERT_LT(r, rows.size());
      EXPECT_EQ(rows[r].object_index, obj);
      EXPECT_EQ(rows[r].band, b);
      if (truth[obj][b].size() >= 3) expect_close(rows[r].features, reference(truth[obj][b]));
      ++r;
    }
  EXPECT_EQ(r, rows.size());
}

TEST(LightCurveFeatures, SkipsNaNAndHandlesTinyCurves) {
  Csr csr;
  csr.end_object();         // object 0: no detections -> no rows
  csr.add(1, NAN, NAN, 0);  // object 1: all NaN -> one g row with n_obs 0
  csr.add(2, NAN, 0.1, 0);
  csr.end_object();
  csr.add(1, 15.0, 0.1, 1);  // object 2: one r point
  csr.end_object();
  csr.add(1, 15.0, 0.1, 0);  // object 3: two points plus a NaN
  csr.add(2, NAN, 0.1, 0);
  csr.add(3, 16.0, 0.1, 0);
  csr.end_object();
  const auto rows = compute_features_per_band(csr.columns());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].object_index, 1);
  EXPECT_EQ(rows[0].features.n_obs, 0);
  EXPECT_TRUE(std::isnan(rows[0].features.mean));
  EXPECT_EQ(rows[1].object_index, 2);
  EXPECT_EQ(rows[1].features.n_obs, 1);
  EXPECT_DOUBLE_EQ(rows[1].features.mean, 15.0);
  EXPECT_DOUBLE_EQ(rows[1].features.median, 15.0);
  EXPECT_TRUE(std::isnan(rows[1].features.std));
  EXPECT_TRUE(std::isnan(rows[1].features.slope));
  EXPECT_TRUE(std::isnan(rows[1].features.chi2_reduced));
  EXPECT_EQ(rows[2].features.n_obs, 2);
  EXPECT_DOUBLE_EQ(rows[2].features.mean, 15.5);
  EXPECT_NEAR(rows[2].features.slope, 0.5, 1e-12);
  EXPECT_NEAR(rows[2].features.std, std::sqrt(0.5), 1e-12);
  EXPECT_TRUE(std::isnan(rows[2].features.skewness));
}

TEST(LightCurveFeatures, ConstantCurveHasZeroScatterAndNaNRatios) {
  std::vector<double> t{1, 2, 3, 4}, m{15, 15, 15, 15}, e{0.1, 0.1, 0.1, 0.1}, scratch;
  const Features f = compute_features(t.data(), m.data(), e.data(), 4, scratch);
  EXPECT_EQ(f.std, 0.0);
  EXPECT_EQ(f.robust_scatter, 0.0);
  EXPECT_EQ(f.chi2_reduced, 0.0);
  EXPECT_TRUE(std::isnan(f.skewness));
  EXPECT_TRUE(std::isnan(f.von_neumann));
  EXPECT_NEAR(f.slope, 0.0, 1e-15);
}

TEST(LightCurveFeaturesSql, MatchesKernelAndHandlesNulls) {
  EngineOptions o;
  o.threads = 1;
  Engine engine(o);
  QueryResult r = engine.query(
      "SELECT f.n_obs, f.mean, f.median, f.std, f.slope, f.chi2_reduced FROM (SELECT lc_features([3.0, 1.0, 2.0, 4.0], "
      "[16.0, 15.0, NULL, 17.0], [0.1, 0.1, 0.1, 0.2]) AS f)");
  std::vector<double> t{1, 3, 4}, m{15, 16, 17}, e{0.1, 0.1, 0.2}, scratch;
  const Features want = compute_features(t.data(), m.data(), e.data(), 3, scratch);
  EXPECT_EQ(duckdb_value_int64(r.raw(), 0, 0), 3);
  EXPECT_DOUBLE_EQ(duckdb_value_double(r.raw(), 1, 0), want.mean);
  EXPECT_DOUBLE_EQ(duckdb_value_double(r.raw(), 2, 0), want.median);
  EXPECT_DOUBLE_EQ(duckdb_value_double(r.raw(), 3, 0), want.std);
  EXPECT_DOUBLE_EQ(duckdb_value_double(r.raw(), 4, 0), want.slope);
  EXPECT_DOUBLE_EQ(duckdb_value_double(r.raw(), 5, 0), want.chi2_reduced);

  QueryResult null_row = engine.query("SELECT lc_features(NULL::DOUBLE[], [1.0], [0.1]) IS NULL");
  EXPECT_TRUE(duckdb_value_boolean(null_row.raw(), 0, 0));

  // Many rows (more than one vector): each row's n_obs equals its list length.
  QueryResult many = engine.query(
      "SELECT sum(CASE WHEN lc_features(l, l, [0.1 for x in l]).n_obs = len(l) THEN 1 ELSE 0 END) FROM "
      "(SELECT [x::DOUBLE for x in range(i % 7)] AS l FROM range(5000) t(i))");
  EXPECT_EQ(duckdb_value_int64(many.raw(), 0, 0), 5000);

  auto error_of = [&](const std::string& sql) {
    try {
      engine.query(sql);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of("SELECT lc_features([1.0, 2.0], [15.0], [0.1])").find("same length"), std::string::npos);
  EXPECT_NE(error_of("SELECT lc_features([1.0, 2.0], [15.0, 15.0], [0.1, -0.1])").find("element 1: mag_err must be positive"),
            std::string::npos);
}
