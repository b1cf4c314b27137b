#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/healpix_index.hpp"
#include "core/sky_angles.hpp"

using namespace lodestar;

TEST(HealpixIndex, BasePixelsAtOrderZero) {
  // NESTED base pixels: 0-3 north cap, 4-7 equator, 8-11 south cap, with
  // pixel 0 (north) and 4 (equator) centred on RA 45 and 0 respectively.
  EXPECT_EQ(healpix_nest(0, 45, 60), 0);
  EXPECT_EQ(healpix_nest(0, 135, 60), 1);
  EXPECT_EQ(healpix_nest(0, 0.1, 0), 4);
  EXPECT_EQ(healpix_nest(0, 45, -60), 8);
  EXPECT_EQ(healpix_nest(0, 315, -60), 11);
}

TEST(HealpixIndex, ParentsAreConsistentAcrossOrders) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> ra(0, 360), z(-1, 1);
  for (int i = 0; i < 20000; ++i) {
    const double r = ra(rng), d = std::asin(z(rng)) * kRadToDeg;
    const int64_t p29 = healpix29(r, d);
    ASSERT_GE(p29, 0);
    ASSERT_LT(p29, healpix_npix(29));
    for (int k : {0, 3, 10, 17, 28}) ASSERT_EQ(healpix_nest(k, r, d), healpix_parent(p29, 29, k)) << "order " << k;
  }
}

TEST(HealpixIndex, PolesAndSeam) {
  EXPECT_EQ(healpix_nest(29, 0, 90), healpix_nest(29, 0, 90));
  EXPECT_LT(healpix_nest(0, 10, 90), 4);
  EXPECT_GE(healpix_nest(0, 10, -90), 8);
  // RA 360 is RA 0.
  EXPECT_EQ(healpix_nest(29, 360.0, 12.5), healpix_nest(29, 0.0, 12.5));
}

TEST(HealpixIndex, DiscCoverageContainsEveryPointInTheDisc) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> ra(0, 360), z(-1, 1), u(0, 1);
  for (int trial = 0; trial < 200; ++trial) {
    // Centres include the poles and the seam.
    double ra0 = ra(rng), dec0 = std::asin(z(rng)) * kRadToDeg;
    if (trial % 10 == 0) dec0 = (trial % 20 == 0) ? 89.9 : -89.95;
    if (trial % 7 == 0) ra0 = 0.001;
    const double radius = 0.01 + 3.0 * u(rng);
    const int order = trial % 8;
    const auto ranges = disc_coverage(order, ra0, dec0, radius);
    for (int i = 0; i < 500; ++i) {
      // Random point inside the disc: offset from the centre along a random bearing.
      const double rho = radius * std::sqrt(u(rng)) * 0.999, bearing = 2 * kPi * u(rng);
      const double d0 = dec0 * kDegToRad, rr = rho * kDegToRad;
      const double dec = std::asin(std::sin(d0) * std::cos(rr) + std::cos(d0) * std::sin(rr) * std::cos(bearing));
      const double dra = std::atan2(std::sin(bearing) * std::sin(rr) * std::cos(d0), std::cos(rr) - std::sin(d0) * std::sin(dec));
      const double pra = std::fmod(ra0 + dra * kRadToDeg + 360.0, 360.0), pdec = dec * kRadToDeg;
      ASSERT_LE(angular_separation_deg(ra0, dec0, pra, pdec), radius);
      const int64_t pix = healpix_nest(order, pra, pdec);
      const bool covered = std::any_of(ranges.begin(), ranges.end(), [&](const PixelRange& r) { return pix >= r.begin && pix < r.end; });
      ASSERT_TRUE(covered) << "point (" << pra << ", " << pdec << ") of disc (" << ra0 << ", " << dec0 << ", " << radius << ") at order " << order;
    }
  }
}

TEST(HealpixIndex, OrderValidation) {
  EXPECT_FALSE(check_order(0).has_value());
  EXPECT_FALSE(check_order(29).has_value());
  EXPECT_TRUE(check_order(-1).has_value());
  EXPECT_TRUE(check_order(30).has_value());
}
