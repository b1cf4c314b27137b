// Bad light-curve input: every case is handled (tiny / NaN / unsorted /
// duplicate) or rejected with a lodestar::Error naming the object and problem.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/duckdb_handles.hpp"
#include "lightcurve/dimming.hpp"
#include "lightcurve/features.hpp"

using namespace lodestar;
using namespace lodestar::lightcurve;

namespace {

struct Csr {
  std::vector<int64_t> offsets;
  std::vector<double> time, mag, err;
  std::vector<int8_t> band;
  LightCurveColumns columns() const { return {offsets, time, mag, err, band}; }
};

// Three objects of 10 good points each.
Csr good() {
  Csr c;
  c.offsets = {0, 10, 20, 30};
  for (int i = 0; i < 30; ++i) {
    c.time.push_back(59000 + i);
    c.mag.push_back(15 + 0.01 * (i % 3));
    c.err.push_back(0.01);
    c.band.push_back(static_cast<int8_t>(i % 2));
  }
  return c;
}

std::string error_of(const Csr& c) {
  try {
    find_dimming_events(c.columns());
  } catch (const Error& e) {
    std::string a = e.what();
    try {
      compute_features_per_band(c.columns());
    } catch (const Error& e2) {
      EXPECT_EQ(a, std::string(e2.what()));  // both kernels validate the same way
      return a;
    }
    ADD_FAILURE() << "features accepted what the dimming search rejected: " << a;
    return a;
  }
  return "";
}

}  // namespace

TEST(LightCurveBadInput, GoodInputIsAccepted) { EXPECT_EQ(error_of(good()), ""); }

TEST(LightCurveBadInput, OffsetsProblemsAreRejected) {
  Csr c = good();
  c.offsets = {0, 20, 10, 30};
  EXPECT_NE(error_of(c).find("non-decreasing, but object 1"), std::string::npos) << error_of(c);
  c.offsets = {0, 10, 20};
  EXPECT_NE(error_of(c).find("must end at the number of detections (30)"), std::string::npos) << error_of(c);
  c.offsets = {1, 10, 20, 30};
  EXPECT_NE(error_of(c).find("offsets[0] must be 0"), std::string::npos);
  c.offsets = {};
  EXPECT_NE(error_of(c).find("empty"), std::string::npos);
  c = good();
  c.mag.pop_back();
  EXPECT_NE(error_of(c).find("same length"), std::string::npos);
}

TEST(LightCurveBadInput, ValueProblemsNameObjectAndDetection) {
  Csr c = good();
  c.err[12] = 0.0;
  EXPECT_NE(error_of(c).find("object 1, detection 12: mag_err must be positive"), std::string::npos) << error_of(c);
  c = good();
  c.err[25] = -0.1;
  EXPECT_NE(error_of(c).find("object 2, detection 25: mag_err"), std::string::npos);
  c = good();
  c.band[3] = 7;
  EXPECT_NE(error_of(c).find("object 0, detection 3: unknown band code 7 (expected 0 = g, 1 = r, 2 = i)"), std::string::npos);
  c = good();
  c.time[4] = NAN;
  EXPECT_NE(error_of(c).find("object 0, detection 4: time must be finite"), std::string::npos);
  c = good();
  c.mag[4] = INFINITY;
  EXPECT_NE(error_of(c).find("object 0, detection 4: mag must be finite or NaN"), std::string::npos);
  // A zero error next to a missing magnitude is fine: the row is skipped.
  c = good();
  c.mag[4] = NAN;
  c.err[4] = 0.0;
  EXPECT_EQ(error_of(c), "");
}

TEST(LightCurveBadInput, EmptyTinyAndAllNaNAreHandled) {
  Csr c;
  c.offsets = {0, 0, 1, 3};
  c.time = {1, 1, 2};
  c.mag = {15, NAN, NAN};
  c.err = {0.1, 0.1, 0.1};
  c.band = {0, 0, 0};
  EXPECT_TRUE(find_dimming_events(c.columns()).empty());
  EXPECT_EQ(compute_features_per_band(c.columns()).size(), 2u);
  Csr none;
  none.offsets = {0};
  EXPECT_TRUE(find_dimming_events(none.columns()).empty());
  EXPECT_TRUE(compute_features_per_band(none.columns()).empty());
}

TEST(LightCurveBadInput, UnsortedAndDuplicateTimesGiveTheSortedAnswer) {
  // A dip light curve, then the same detections reversed and with a duplicated timestamp.
  Csr sorted;
  sorted.offsets = {0};
  for (int i = 0; i < 300; ++i) {
    const double t = 59000 + i * 0.7;
    sorted.time.push_back(t);
    sorted.mag.push_back(15 - 2.5 * std::log10(asymmetric_gaussian_dip(t, 1, 0.3, 59100, 4, 6)) + 0.003 * ((i * 7) % 5 - 2));
    sorted.err.push_back(0.01);
    sorted.band.push_back(1);
  }
  sorted.offsets.push_back(300);
  Csr reversed = sorted;
  std::reverse(reversed.time.begin(), reversed.time.end());
  std::reverse(reversed.mag.begin(), reversed.mag.end());
  const auto a = find_dimming_events(sorted.columns());
  const auto b = find_dimming_events(reversed.columns());
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].start, b[0].start);
  EXPECT_EQ(a[0].n_points, b[0].n_points);
  EXPECT_DOUBLE_EQ(a[0].fit.amplitude, b[0].fit.amplitude);
  const auto fa = compute_features_per_band(sorted.columns()), fb = compute_features_per_band(reversed.columns());
  EXPECT_DOUBLE_EQ(fa[0].features.von_neumann, fb[0].features.von_neumann);

  Csr dup = sorted;  // every timestamp twice: still one event, twice the points
  dup.offsets = {0, 600};
  for (int i = 0; i < 300; ++i)
    dup.time.push_back(sorted.time[i]), dup.mag.push_back(sorted.mag[i]), dup.err.push_back(0.01), dup.band.push_back(1);
  const auto d = find_dimming_events(dup.columns());
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].n_points, 2 * a[0].n_points);
}

TEST(LightCurveBadInput, NonsenseParametersAreRejected) {
  DimmingParams p;
  p.k_sigma = -1;
  EXPECT_THROW(find_dimming_events(good().columns(), p), Error);
  p = {};
  p.extend_sigma = 5;  // above k_sigma
  try {
    find_dimming_events(good().columns(), p);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("extend_sigma must be within (0, k_sigma]"), std::string::npos);
  }
  for (const double gap : {0.0, -1.0, std::nan("")}) {
    p = {};
    p.max_run_gap_days = gap;
    try {
      find_dimming_events(good().columns(), p);
      ADD_FAILURE() << gap;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("max_run_gap_days must be > 0"), std::string::npos);
    }
  }
}
