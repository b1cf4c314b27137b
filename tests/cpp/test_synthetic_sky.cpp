#include <gtest/gtest.h>

#include "core/synthetic_sky.hpp"

using namespace lodestar;

TEST(SyntheticSky, SlicesEqualTheWhole) {
  SyntheticSkySpec spec;
  spec.seed = 99;
  SyntheticSkyColumns whole, a, b;
  generate_synthetic_sky(spec, 0, 3000, whole);
  generate_synthetic_sky(spec, 0, 1234, a);
  generate_synthetic_sky(spec, 1234, 3000 - 1234, b);
  for (int i = 0; i < 3000; ++i) {
    const auto& part = i < 1234 ? a : b;
    const int j = i < 1234 ? i : i - 1234;
    ASSERT_EQ(whole.ra[i], part.ra[j]);
    ASSERT_EQ(whole.dec[i], part.dec[j]);
    ASSERT_EQ(whole.mag_r[i], part.mag_r[j]);
    ASSERT_EQ(whole.source_id[i], i);
  }
}

TEST(SyntheticSky, SeedChangesTheSky) {
  SyntheticSkySpec s1, s2;
  s1.seed = 1;
  s2.seed = 2;
  SyntheticSkyColumns a, b;
  generate_synthetic_sky(s1, 0, 100, a);
  generate_synthetic_sky(s2, 0, 100, b);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += a.ra[i] == b.ra[i];
  EXPECT_EQ(same, 0);
}

TEST(SyntheticSky, ValuesArePhysical) {
  SyntheticSkySpec spec;
  SyntheticSkyColumns c;
  generate_synthetic_sky(spec, 0, 200000, c);
  int clustered_north = 0;
  for (size_t i = 0; i < c.ra.size(); ++i) {
    ASSERT_GE(c.ra[i], 0.0);
    ASSERT_LT(c.ra[i], 360.0);
    ASSERT_GE(c.dec[i], -90.0);
    ASSERT_LE(c.dec[i], 90.0);
    ASSERT_GT(c.mag_err[i], 0.0);
    ASSERT_GT(c.mag_r[i], 13.0);
    ASSERT_LT(c.mag_r[i], 24.0);
    clustered_north += c.dec[i] > 0;
  }
  // Roughly half the sky is north (clusters perturb it a little).
  EXPECT_NEAR(clustered_north / 200000.0, 0.5, 0.1);
}
