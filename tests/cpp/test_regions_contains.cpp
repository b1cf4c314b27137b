// Search shapes: exact `contains` against an independent long-double brute
// force on adversarial points, and `coverage` never missing a contained point.
#include <gtest/gtest.h>
#include <healpix_base.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/healpix_index.hpp"
#include "engine/duckdb_handles.hpp"
#include "xmatch/sky_region.hpp"

using namespace lodestar;

namespace {

using LD = long double;
constexpr LD kLdDeg = 3.14159265358979323846264338327950288L / 180.0L;

struct Vec {
  LD x, y, z;
};
Vec vec(LD ra, LD dec) { return {cosl(dec * kLdDeg) * cosl(ra * kLdDeg), cosl(dec * kLdDeg) * sinl(ra * kLdDeg), sinl(dec * kLdDeg)}; }
Vec cross(Vec a, Vec b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
LD dot(Vec a, Vec b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
LD sep_deg(LD ra1, LD dec1, LD ra2, LD dec2) {
  const Vec a = vec(ra1, dec1), b = vec(ra2, dec2);
  const Vec c = cross(a, b);
  return atan2l(sqrtl(dot(c, c)), dot(a, b)) / kLdDeg;
}

// Points that stress the shapes: near both poles, across RA 0/360, exact poles.
struct Points {
  std::vector<double> ra, dec;
  void add(double r, double d) {
    ra.push_back(r);
    dec.push_back(std::clamp(d, -90.0, 90.0));
  }
};

Points adversarial_points(unsigned seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Points p;
  for (size_t i = 0; i < n; ++i) {
    const double ra = 360.0 * u(rng);
    switch (i % 5) {
      case 0: p.add(ra, std::asin(2.0 * u(rng) - 1.0) / kDegToRad); break;  // uniform on the sphere
      case 1: p.add(ra, 89.0 + u(rng)); break;                              // within 1 deg of the north pole
      case 2: p.add(ra, -89.0 - u(rng)); break;                             // and of the south pole
      case 3: p.add(u(rng) < 0.5 ? 2.0 * u(rng) : 358.0 + 2.0 * u(rng), 180.0 * u(rng) - 90.0); break;  // across RA 0/360
      default: p.add(ra, 20.0 * u(rng) - 10.0); break;
    }
  }
  for (double r : {0.0, 90.0, 359.9999999}) {
    p.add(r, 90.0);
    p.add(r, -90.0);
  }
  return p;
}

std::vector<uint8_t> run(const SkyRegion& region, const Points& p) {
  std::vector<uint8_t> out(p.ra.size());
  region.contains(p.ra.data(), p.dec.data(), p.ra.size(), out.data());
  return out;
}

// Every contained point's pixel lies in the coverage, at several orders.
void expect_coverage_complete(const SkyRegion& region, const Points& p, const std::vector<uint8_t>& in) {
  for (int order : {0, 2, 5, 8}) {
    const auto cov = region.coverage(order);
    ASSERT_TRUE(std::is_sorted(cov.begin(), cov.end(), [](auto a, auto b) { return a.begin < b.begin; }));
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i]) continue;
      const int64_t pix = healpix_nest(order, p.ra[i], p.dec[i]);
      const bool found = std::any_of(cov.begin(), cov.end(), [&](auto r) { return pix >= r.begin && pix < r.end; });
      ASSERT_TRUE(found) << region.describe() << " order " << order << " misses (" << p.ra[i] << ", " << p.dec[i] << ")";
    }
  }
}

}  // namespace

TEST(RegionsCone, ContainsMatchesBruteForceAndCoverageIsComplete) {
  const Points p = adversarial_points(1, 20000);
  const std::vector<std::array<double, 3>> cones = {
      {0.0, 89.5, 1.0}, {180.0, -89.9, 0.5}, {359.5, 0.0, 2.0}, {10.0, 20.0, 30.0}, {200.0, -45.0, 120.0}, {1.0, 1.0, 180.0}};
  for (const auto& [ra0, dec0, r] : cones) {
    const Cone cone(ra0, dec0, r);
    const auto in = run(cone, p);
    size_t n_in = 0, checked = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const LD s = sep_deg(p.ra[i], p.dec[i], ra0, dec0);
      if (fabsl(s - r) < 1e-9L) continue;  // on the boundary to within rounding
      ++checked;
      n_in += in[i];
      EXPECT_EQ(in[i] != 0, s <= r) << cone.describe() << " at (" << p.ra[i] << ", " << p.dec[i] << ")";
    }
    EXPECT_GT(n_in, 0u) << cone.describe();
    EXPECT_GT(checked, 19000u);
    expect_coverage_complete(cone, p, in);
  }
}

TEST(RegionsCone, RejectsBadInput) {
  EXPECT_THROW(Cone(0, 0, 0), Error);
  EXPECT_THROW(Cone(0, 0, 180.5), Error);
  EXPECT_THROW(Cone(0, 91, 1), Error);
  EXPECT_THROW(Cone(NAN, 0, 1), Error);
  try {
    Cone(0, 0, -1);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("radius"), std::string::npos);
  }
}

namespace {
bool box_brute(LD ra, LD dec, LD ra_lo, LD ra_hi, LD dec_lo, LD dec_hi) {
  if (dec < dec_lo || dec > dec_hi) return false;
  if (fabsl(dec) == 90.0L) return true;
  const LD width = fmodl(fmodl(ra_hi - ra_lo, 360.0L) + 360.0L, 360.0L);
  const LD offset = fmodl(fmodl(ra - ra_lo, 360.0L) + 360.0L, 360.0L);
  return offset <= width;
}
}  // namespace

TEST(RegionsBox, ContainsMatchesBruteForceAndCoverageIsComplete) {
  Points p = adversarial_points(2, 20000);
  const std::vector<std::array<double, 4>> boxes = {{350.0, 10.0, -5.0, 5.0},  {10.0, 350.0, -5.0, 5.0},  {0.0, 90.0, 80.0, 90.0},
                                                    {100.0, 300.0, -90.0, -89.0}, {359.0, 1.0, -90.0, 90.0}, {45.0, 46.0, 10.0, 11.0}};
  for (const auto& [a, b, c, d] : boxes) {
    Points q = p;
    // Random points in and around the box (1 deg beyond each edge).
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const double width = std::fmod(b - a + 360.0, 360.0);
    for (int k = 0; k < 2000; ++k) q.add(wrap_ra_deg(a - 1.0 + (width + 2.0) * u(rng)), c - 1.0 + (d - c + 2.0) * u(rng));
    const size_t first_edge = q.ra.size();
    // Points exactly on the edges and corners belong to the (closed) box.
    for (double t : {0.0, 0.25, 0.5, 1.0}) {
      const double dec = c + t * (d - c);
      q.add(a, dec);
      q.add(b, dec);
      const double ra = a + t * std::fmod(b - a + 360.0, 360.0);
      q.add(wrap_ra_deg(ra), c);
      q.add(wrap_ra_deg(ra), d);
    }
    const Box box(a, b, c, d);
    const auto in = run(box, q);
    size_t n_in = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      n_in += in[i];
      EXPECT_EQ(in[i] != 0, box_brute(q.ra[i], q.dec[i], a, b, c, d)) << box.describe() << " at (" << q.ra[i] << ", " << q.dec[i] << ")";
    }
    for (size_t i = first_edge; i < q.ra.size(); ++i) EXPECT_TRUE(in[i]) << "edge point " << q.ra[i] << ", " << q.dec[i];
    EXPECT_GT(n_in, 150u) << box.describe();
    expect_coverage_complete(box, q, in);
  }
}

TEST(RegionsBox, FullCircleAndBadInput) {
  const Box all(0.0, 360.0, -10.0, 10.0);
  Points p;
  for (double ra : {0.0, 123.0, 359.999}) p.add(ra, 0.0);
  p.add(0.0, 11.0);
  EXPECT_EQ(run(all, p), (std::vector<uint8_t>{1, 1, 1, 0}));
  EXPECT_THROW(Box(10, 10, 0, 1), Error);   // empty RA range
  EXPECT_THROW(Box(0, 10, 5, 5), Error);    // dec_lo == dec_hi
  EXPECT_THROW(Box(0, 10, 5, 1), Error);    // reversed dec
  EXPECT_THROW(Box(0, 10, -91, 1), Error);  // out of range
  EXPECT_THROW(Box(NAN, 10, 0, 1), Error);
}

namespace {
// Inside a convex polygon iff on the inner side of every edge's great circle;
// computed in long double, orientation taken from the vertices themselves.
// Returns the smallest signed distance (radians) to an edge's great circle.
LD polygon_margin(const std::vector<std::pair<double, double>>& v, LD ra, LD dec) {
  const size_t n = v.size();
  std::vector<Vec> u;
  for (auto [r, d] : v) u.push_back(vec(r, d));
  const LD orient = dot(cross(u[0], u[1]), u[2]) > 0 ? 1.0L : -1.0L;
  const Vec p = vec(ra, dec);
  LD worst = 10.0L;
  for (size_t i = 0; i < n; ++i) {
    Vec c = cross(u[i], u[(i + 1) % n]);
    const LD len = sqrtl(dot(c, c));
    worst = std::min(worst, orient * dot(c, p) / len);
  }
  return worst;
}
}  // namespace

TEST(RegionsPolygon, ContainsMatchesBruteForceAndCoverageIsComplete) {
  const Points p = adversarial_points(3, 20000);
  const std::vector<std::vector<std::pair<double, double>>> polygons = {
      {{350.0, -5.0}, {10.0, -5.0}, {10.0, 5.0}, {350.0, 5.0}},                 // across RA 0/360
      {{350.0, 5.0}, {10.0, 5.0}, {10.0, -5.0}, {350.0, -5.0}},                 // same, clockwise
      {{0.0, 88.0}, {90.0, 88.0}, {180.0, 88.0}, {270.0, 88.0}},                // around the north pole
      {{10.0, -89.5}, {130.0, -89.5}, {250.0, -89.5}},                          // around the south pole
      {{20.0, 10.0}, {60.0, 15.0}, {70.0, 40.0}, {40.0, 50.0}, {15.0, 35.0}},  // a pentagon
      {{100.0, 0.0}, {100.0001, 0.0}, {100.0, 0.0001}},                         // a tiny triangle
  };
  for (const auto& v : polygons) {
    const Polygon poly(v);
    Points q = p;
    const size_t first_edge = q.ra.size();
    for (size_t i = 0; i < v.size(); ++i) {
      q.add(v[i].first, v[i].second);  // vertices
      const Vec a = vec(v[i].first, v[i].second), b = vec(v[(i + 1) % v.size()].first, v[(i + 1) % v.size()].second);
      for (LD t : {0.25L, 0.5L}) {  // points on the edges
        const Vec m{a.x + t * (b.x - a.x), a.y + t * (b.y - a.y), a.z + t * (b.z - a.z)};
        const LD len = sqrtl(dot(m, m));
        q.add(static_cast<double>(fmodl(atan2l(m.y, m.x) / kLdDeg + 360.0L, 360.0L)), static_cast<double>(asinl(m.z / len) / kLdDeg));
      }
    }
    const size_t last_edge = q.ra.size();
    // Random points near the polygon too, so plenty are inside.
    std::mt19937_64 rng(7);
    std::normal_distribution<double> g(0.0, 1.0);
    for (int k = 0; k < 2000; ++k) {
      const auto& [r0, d0] = v[k % v.size()];
      const double scale = v.size() == 3 && r0 == 100.0 ? 1e-4 : 3.0;
      q.add(wrap_ra_deg(r0 + scale * g(rng)), d0 + scale * g(rng));
    }
    const auto in = run(poly, q);
    size_t n_in = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      n_in += in[i];
      if (i >= first_edge && i < last_edge) {
        EXPECT_TRUE(in[i]) << poly.describe() << " vertex/edge point (" << q.ra[i] << ", " << q.dec[i] << ")";
        continue;
      }
      const LD m = polygon_margin(v, q.ra[i], q.dec[i]);
      if (fabsl(m) < 1e-12L) continue;  // on an edge to within rounding
      EXPECT_EQ(in[i] != 0, m > 0) << poly.describe() << " at (" << q.ra[i] << ", " << q.dec[i] << ")";
    }
    EXPECT_GT(n_in, 50u) << poly.describe();
    expect_coverage_complete(poly, q, in);
  }
}

TEST(RegionsPolygon, RejectsDegenerateAndNonConvex) {
  using V = std::vector<std::pair<double, double>>;
  EXPECT_THROW(Polygon(V{{0, 0}, {1, 0}}), Error);                             // too few
  EXPECT_THROW(Polygon(V{{0, 0}, {1, 0}, {1, 0}}), Error);                     // repeated vertex
  EXPECT_THROW(Polygon(V{{0, 0}, {1, 0}, {2, 0}}), Error);                     // collinear
  EXPECT_THROW(Polygon(V{{0, 0}, {2, 0}, {1, 0.2}, {2, 2}, {0, 2}}), Error);   // concave (dent)
  EXPECT_THROW(Polygon(V{{0, 0}, {2, 2}, {2, 0}, {0, 2}}), Error);             // self-crossing (bow tie)
  EXPECT_THROW(Polygon(V{{0, 0}, {180, 0}, {90, 10}}), Error);                 // antipodal edge
  EXPECT_THROW(Polygon(V{{0, 0}, {1, 0}, {1, 95}}), Error);                    // bad dec
  try {
    Polygon(V{{0, 0}, {2, 0}, {1, 0.2}, {2, 2}, {0, 2}});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not convex"), std::string::npos) << e.what();
  }
}

TEST(RegionsNeighbourhood, CoversEveryPointNearThePixel) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (auto [order, radius, at_order] : std::vector<std::tuple<int, double, int>>{{0, 0.5, 3}, {3, 0.1, 6}, {5, 1.0, 5}, {2, 0.0, 4}}) {
    for (int64_t pixel : {int64_t{0}, healpix_npix(order) / 2 + 3, healpix_npix(order) - 1}) {
      const auto cov = pixel_neighbourhood(order, pixel, radius, at_order);
      // Sample points of the pixel and points up to `radius` away from them.
      // Random points of the pixel: centres of random order-29 sub-pixels.
      const T_Healpix_Base<int64> fine(29, NEST);
      const int64_t shift = 2 * (29 - order);
      std::uniform_int_distribution<int64_t> sub(pixel << shift, ((pixel + 1) << shift) - 1);
      for (int k = 0; k < 3000; ++k) {
        const pointing pt = fine.pix2ang(sub(rng));
        const double ra = pt.phi / kDegToRad, dec = 90.0 - pt.theta / kDegToRad;
        ASSERT_EQ(healpix_nest(order, ra, dec), pixel);
        // A point at distance <= radius in a random direction.
        const double s = radius * std::sqrt(u(rng)) * kDegToRad, az = 2.0 * kPi * u(rng);
        const double d0 = dec * kDegToRad;
        const double d1 = std::asin(std::sin(d0) * std::cos(s) + std::cos(d0) * std::sin(s) * std::cos(az));
        const double r1 = ra * kDegToRad + std::atan2(std::sin(az) * std::sin(s) * std::cos(d0), std::cos(s) - std::sin(d0) * std::sin(d1));
        for (auto [pr, pd] : {std::pair{ra, dec}, std::pair{wrap_ra_deg(r1 / kDegToRad), d1 / kDegToRad}}) {
          const int64_t pix = healpix_nest(at_order, pr, pd);
          ASSERT_TRUE(std::any_of(cov.begin(), cov.end(), [&](auto r) { return pix >= r.begin && pix < r.end; }))
              << "order " << order << " pixel " << pixel << " radius " << radius << " misses " << pr << ", " << pd;
        }
      }
    }
  }
  EXPECT_THROW(pixel_neighbourhood(3, healpix_npix(3), 1.0, 5), Error);
  EXPECT_THROW(pixel_neighbourhood(3, 0, -1.0, 5), Error);
  EXPECT_THROW(pixel_neighbourhood(30, 0, 1.0, 5), Error);
}
