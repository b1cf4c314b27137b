#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/sky_angles.hpp"

using namespace lodestar;

TEST(SkyAngles, KnownSeparations) {
  EXPECT_NEAR(angular_separation_deg(0, 0, 90, 0), 90.0, 1e-12);
  EXPECT_NEAR(angular_separation_deg(0, 0, 180, 0), 180.0, 1e-12);
  EXPECT_NEAR(angular_separation_deg(10, 90, 250, -90), 180.0, 1e-12);
  EXPECT_NEAR(angular_separation_deg(123, 45, 123, 45), 0.0, 0.0);
  EXPECT_NEAR(angular_separation_deg(0, 89, 180, 89), 2.0, 1e-12);  // across the pole
  EXPECT_NEAR(angular_separation_deg(359.5, 0, 0.5, 0), 1.0, 1e-12);  // across RA 0/360
}

TEST(SkyAngles, SubMilliarcsecondSeparationsKeepPrecision) {
  // 1 microarcsecond along the equator and along a meridian: the plain cosine
  // formula returns 0 here; the atan2 form must keep ~1e-9 relative precision.
  // The reference is the offset as actually stored ((x + uas) - x is exact).
  const double uas = 1e-6 / 3600.0;
  const double dra = (10 + uas) - 10.0, ddec = (20 + uas) - 20.0;
  // Absolute error ~1e-15 deg: far inside the 1e-9 deg requirement, where the
  // cosine formula would be wrong by ~1e-6 deg.
  EXPECT_NEAR(angular_separation_deg(10, 0, 10 + uas, 0), dra, 1e-14);
  EXPECT_NEAR(angular_separation_deg(10, 20, 10, 20 + uas), ddec, 1e-14);
  EXPECT_NEAR(angular_separation_deg(10, -89.9999, 190, -89.9999), 0.0002, 1e-12);
}

TEST(SkyAngles, ChordTestAgreesWithSeparation) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> ra(0, 360), z(-1, 1), r(1e-6, 5.0);
  for (int i = 0; i < 100000; ++i) {
    const double ra1 = ra(rng), dec1 = std::asin(z(rng)) * kRadToDeg;
    const double ra2 = ra1 + r(rng) * (i % 2 ? 1 : -1), dec2 = std::clamp(dec1 + r(rng) * 0.5, -90.0, 90.0);
    const double sep = angular_separation_deg(ra1, dec1, ra2, dec2);
    const double c2 = chord2(unit_vector(ra1, dec1), unit_vector(ra2, dec2));
    ASSERT_NEAR(separation_deg_from_chord2(c2), sep, 1e-10) << "pair " << i;
    // Radius tests straddling the true separation must come out right.
    ASSERT_TRUE(c2 <= chord2_for_radius_deg(sep * (1 + 1e-9)));
    ASSERT_FALSE(c2 <= chord2_for_radius_deg(sep * (1 - 1e-7)));
  }
}

TEST(SkyAngles, CheckPositionExplainsProblems) {
  EXPECT_FALSE(check_position(10, 20).has_value());
  EXPECT_FALSE(check_position(-720, -90).has_value());
  const auto bad_dec = check_position(10, 90.0001);
  ASSERT_TRUE(bad_dec.has_value());
  EXPECT_NE(bad_dec->find("declination"), std::string::npos);
  EXPECT_TRUE(check_position(std::numeric_limits<double>::quiet_NaN(), 0).has_value());
  EXPECT_TRUE(check_position(0, std::numeric_limits<double>::infinity()).has_value());
}
