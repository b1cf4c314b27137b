// The crossmatch kernel in C++: exact pair sets against a brute force over all
// pairs (long-double separations), at the poles, across RA 0/360, with
// duplicates; and clear errors for bad options and rows. (The wider adversarial
// and golden-file suites are in tests/python/test_xmatch_kernel.py.)
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "engine/duckdb_handles.hpp"
#include "xmatch/crossmatch_kernel.hpp"
#include "xmatch/degree_trig.hpp"

using namespace lodestar;

namespace {

using LD = long double;

constexpr LD kLdDeg = 3.14159265358979323846264338327950288L / 180.0L;
using LVec = std::array<LD, 3>;
LVec lvec(double ra, double dec) {
  return {cosl(dec * kLdDeg) * cosl(ra * kLdDeg), cosl(dec * kLdDeg) * sinl(ra * kLdDeg), sinl(dec * kLdDeg)};
}

LD sep_arcsec(const LVec& a, const LVec& b) {
  const LD k = kLdDeg;
  const LD c[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
  return atan2l(sqrtl(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]), a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / k * 3600.0L;
}

struct Sky {
  std::vector<double> ra1, dec1, ra2, dec2;
};

// Left points in a hard place and right points within a few radii of them.
Sky make_sky(int kind, double radius_arcsec, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Sky s;
  const double r = radius_arcsec / 3600.0;
  for (int i = 0; i < 400; ++i) {
    double ra = 360.0 * u(rng), dec = 0.0;
    if (kind == 0) dec = 90.0 - std::pow(u(rng), 3.0);                                                   // north pole
    if (kind == 1) dec = -90.0 + std::pow(u(rng), 3.0);                                                  // south pole
    if (kind == 2) ra = std::fmod(360.0 + (u(rng) - 0.5) * 6.0 * r, 360.0), dec = 60.0 * u(rng) - 30.0;  // RA 0/360
    s.ra1.push_back(ra), s.dec1.push_back(dec);
  }
  for (int i = 0; i < 800; ++i) {
    const size_t j = i % 400;
    // A neighbour up to 2 radii away: small offsets in Dec and RA (scaled by cos dec).
    const double dd = (u(rng) - 0.5) * 2.0 * r,
                 da = (u(rng) - 0.5) * 2.0 * r / std::max(1e-6, std::cos(s.dec1[j] * 0.017453292519943295));
    double dec = s.dec1[j] + dd, ra = s.ra1[j] + da;
    if (dec > 90.0) dec = 180.0 - dec, ra += 180.0;
    if (dec < -90.0) dec = -180.0 - dec, ra += 180.0;
    ra = std::fmod(std::fmod(ra, 360.0) + 360.0, 360.0);
    s.ra2.push_back(ra), s.dec2.push_back(dec);
  }
  for (int i = 0; i < 10; ++i) s.ra2[i] = s.ra1[i], s.dec2[i] = s.dec1[i];  // exact duplicates
  s.ra2[10] = s.ra2[11], s.dec2[10] = s.dec2[11];                           // a repeated right row
  return s;
}

}  // namespace

TEST(XmatchKernel, AllPairsEqualBruteForce) {
  for (int kind : {0, 1, 2}) {
    for (double radius : {0.1, 1.0, 60.0, 3600.0}) {
      const Sky s = make_sky(kind, radius, 17 + kind);
      CrossmatchOptions o;
      o.radius_arcsec = radius;
      o.all_pairs = true;
      const auto r = crossmatch_kernel(s.ra1.data(), s.dec1.data(), s.ra1.size(), s.ra2.data(), s.dec2.data(), s.ra2.size(), o);
      std::set<std::pair<int64_t, int64_t>> got, want;
      for (size_t t = 0; t < r.size(); ++t) got.insert({r.left_index[t], r.right_index[t]});
      size_t edge = 0;
      std::vector<LVec> u1, u2;
      for (size_t i = 0; i < s.ra1.size(); ++i) u1.push_back(lvec(s.ra1[i], s.dec1[i]));
      for (size_t j = 0; j < s.ra2.size(); ++j) u2.push_back(lvec(s.ra2[j], s.dec2[j]));
      for (size_t i = 0; i < s.ra1.size(); ++i)
        for (size_t j = 0; j < s.ra2.size(); ++j) {
          const LD d = sep_arcsec(u1[i], u2[j]);
          if (fabsl(d - radius) <= 1e-9L * radius) {  // on the boundary to within rounding: either answer is right
            ++edge;
            got.erase({i, j});
            continue;
          }
          if (d <= radius) want.insert({i, j});
        }
      EXPECT_LT(edge, 3u);
      EXPECT_GT(want.size(), 400u);
      EXPECT_EQ(got, want) << "kind " << kind << " radius " << radius;
      for (size_t t = 0; t < r.size(); ++t)
        EXPECT_NEAR(r.dist_arcsec[t], static_cast<double>(sep_arcsec(u1[r.left_index[t]], u2[r.right_index[t]])),
                    1e-9 + 1e-12 * radius);
      for (size_t t = 1; t < r.size(); ++t)
        EXPECT_TRUE(std::tie(r.left_index[t - 1], r.dist_arcsec[t - 1], r.right_index[t - 1]) <
                    std::tie(r.left_index[t], r.dist_arcsec[t], r.right_index[t]));
    }
  }
}

TEST(XmatchKernel, NearestIsTheClosestOfAllPairs) {
  const Sky s = make_sky(2, 5.0, 3);
  CrossmatchOptions all;
  all.radius_arcsec = 5.0;
  all.all_pairs = true;
  CrossmatchOptions nearest = all;
  nearest.all_pairs = false;
  nearest.n_neighbors = 2;
  const auto a = crossmatch_kernel(s.ra1.data(), s.dec1.data(), s.ra1.size(), s.ra2.data(), s.dec2.data(), s.ra2.size(), all);
  const auto n = crossmatch_kernel(s.ra1.data(), s.dec1.data(), s.ra1.size(), s.ra2.data(), s.dec2.data(), s.ra2.size(), nearest);
  // all-pairs is ordered by (left, distance, right): its first two per left row are the 2 nearest.
  std::vector<std::pair<int64_t, int64_t>> want, got;
  for (size_t t = 0; t < a.size(); ++t)
    if (t < 2 || a.left_index[t - 2] != a.left_index[t]) want.push_back({a.left_index[t], a.right_index[t]});
  for (size_t t = 0; t < n.size(); ++t) got.push_back({n.left_index[t], n.right_index[t]});
  EXPECT_EQ(got, want);
  EXPECT_GT(got.size(), 400u);
}

// The count equals brute force's: per left row, the right rows within the radius (and at or beyond the minimum
// radius), all of them or at most k; and the kernel's own pairs.
TEST(XmatchKernel, CountEqualsBruteForce) {
  for (int kind : {0, 1, 2}) {
    for (double radius : {1.0, 60.0}) {
      const Sky s = make_sky(kind, radius, 31 + kind);
      std::vector<LVec> u1, u2;
      for (size_t i = 0; i < s.ra1.size(); ++i) u1.push_back(lvec(s.ra1[i], s.dec1[i]));
      for (size_t j = 0; j < s.ra2.size(); ++j) u2.push_back(lvec(s.ra2[j], s.dec2[j]));
      for (const double min_radius : {0.0, 0.3 * radius}) {
        std::vector<uint64_t> within(s.ra1.size(), 0);
        for (size_t i = 0; i < s.ra1.size(); ++i)
          for (size_t j = 0; j < s.ra2.size(); ++j) {
            const LD d = sep_arcsec(u1[i], u2[j]);
            within[i] += d <= radius && d >= min_radius;
          }
        for (const auto& [all_pairs, k] : {std::pair{true, 1}, std::pair{false, 1}, std::pair{false, 3}}) {
          CrossmatchOptions o;
          o.radius_arcsec = radius, o.min_radius_arcsec = min_radius, o.all_pairs = all_pairs, o.n_neighbors = k;
          uint64_t want = 0;
          for (const uint64_t c : within) want += all_pairs ? c : std::min<uint64_t>(c, k);
          const uint64_t got =
              crossmatch_count(s.ra1.data(), s.dec1.data(), s.ra1.size(), s.ra2.data(), s.dec2.data(), s.ra2.size(), o);
          EXPECT_EQ(got, want) << "kind " << kind << " radius " << radius << " min " << min_radius << " k " << k;
          EXPECT_EQ(
              got,
              crossmatch_kernel(s.ra1.data(), s.dec1.data(), s.ra1.size(), s.ra2.data(), s.dec2.data(), s.ra2.size(), o).size());
          EXPECT_GT(want, 300u);
        }
      }
      CrossmatchOptions self;  // the left rows against themselves, without the pairs (i, i)
      self.radius_arcsec = radius, self.all_pairs = true, self.exclude_self = true;
      uint64_t want = 0;
      for (size_t i = 0; i < u1.size(); ++i)
        for (size_t j = 0; j < u1.size(); ++j) want += i != j && sep_arcsec(u1[i], u1[j]) <= radius;
      EXPECT_EQ(crossmatch_count(s.ra1.data(), s.dec1.data(), s.ra1.size(), s.ra1.data(), s.dec1.data(), s.ra1.size(), self),
                want);
    }
  }
  CrossmatchOptions o;
  o.radius_arcsec = -1;
  const double one = 1.0;
  EXPECT_THROW(crossmatch_count(&one, &one, 1, &one, &one, 1, o), Error);
  o.radius_arcsec = 1;
  EXPECT_EQ(crossmatch_count(&one, &one, 1, &one, &one, 0, o), 0u);
}

TEST(XmatchKernel, RejectsBadOptionsAndRows) {
  const double ra[] = {1.0, 2.0}, dec[] = {3.0, NAN};
  CrossmatchOptions o;
  EXPECT_THROW(crossmatch_kernel(ra, dec, 2, ra, dec, 1, o), Error);  // NaN dec in the left row 1
  for (auto bad : {0.0, -1.0, 648001.0, double(NAN)}) {
    o.radius_arcsec = bad;
    EXPECT_THROW(crossmatch_kernel(ra, dec, 1, ra, dec, 1, o), Error);
  }
  o = {};
  o.n_neighbors = 0;
  EXPECT_THROW(crossmatch_kernel(ra, dec, 1, ra, dec, 1, o), Error);
  o = {};
  o.min_radius_arcsec = 1.0;
  EXPECT_THROW(crossmatch_kernel(ra, dec, 1, ra, dec, 1, o), Error);
  try {
    crossmatch_kernel(ra, dec, 2, ra, dec, 1, CrossmatchOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("left row 1"), std::string::npos) << e.what();
  }
}

// The kernel's vectorizable sin/cos in degrees against long double, to 2 ulp
// of the true value (exact reduction: multiples of 90 degrees come out exact).
// The reference rounds x * pi / 180 in long double (~1e-19 absolute), hence
// the absolute floor of the tolerance.
TEST(XmatchKernel, DegreeSinCosWithinTwoUlp) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> ra(0.0, 360.0), dec(-90.0, 90.0);
  std::vector<double> xs = {0.0,   1e-300, 1e-12, 45.0,  89.99999999999, 90.0,
                            135.0, 180.0,  225.0, 270.0, 315.0,          std::nextafter(360.0, 0.0),
                            -90.0, -45.0,  -1e-9};
  for (int i = 0; i < 200000; ++i) xs.push_back(i % 2 ? ra(rng) : dec(rng));
  auto ulp = [](long double v) {
    const double d = static_cast<double>(fabsl(v));
    return std::nextafter(d, 1.0 / 0.0) - d;
  };
  for (double x : xs) {
    double s, c;
    sincos_deg(x, s, c);
    const long double t = x * kLdDeg;
    const long double sl = sinl(t), cl = cosl(t);
    ASSERT_LE(fabsl(s - sl), 2 * ulp(sl) + 2e-19L) << "sin of " << x;
    ASSERT_LE(fabsl(c - cl), 2 * ulp(cl) + 2e-19L) << "cos of " << x;
  }
  double s, c;
  for (double x : {0.0, 90.0, 180.0, 270.0, -90.0}) {
    sincos_deg(x, s, c);
    EXPECT_EQ(std::fabs(s) + std::fabs(c), 1.0) << x;  // exactly (0, +-1) or (+-1, 0)
  }
}

// Rows already in sky order and the same rows shuffled: the same pairs
// (a field across RA 0 with a gap on the other side, many zones and cells).
TEST(XmatchKernel, InputOrderDoesNotChangeTheAnswer) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> ra1, dec1, ra2, dec2;
  for (int i = 0; i < 20000; ++i) ra1.push_back(std::fmod(u(rng) + 360.0, 360.0)), dec1.push_back(30.0 + u(rng));
  for (int i = 0; i < 20000; ++i) {
    ra2.push_back(std::fmod(ra1[i] + u(rng) * 3e-4 + 360.0, 360.0)), dec2.push_back(dec1[i] + u(rng) * 3e-4);
  }
  CrossmatchOptions o;
  o.radius_arcsec = 1.0;
  o.all_pairs = true;
  const auto a = crossmatch_kernel(ra1.data(), dec1.data(), ra1.size(), ra2.data(), dec2.data(), ra2.size(), o);
  std::vector<size_t> p1(ra1.size()), p2(ra2.size());
  std::iota(p1.begin(), p1.end(), 0), std::iota(p2.begin(), p2.end(), 0);
  std::shuffle(p1.begin(), p1.end(), rng), std::shuffle(p2.begin(), p2.end(), rng);
  std::vector<double> sra1, sdec1, sra2, sdec2;
  for (size_t i : p1) sra1.push_back(ra1[i]), sdec1.push_back(dec1[i]);
  for (size_t j : p2) sra2.push_back(ra2[j]), sdec2.push_back(dec2[j]);
  const auto b = crossmatch_kernel(sra1.data(), sdec1.data(), sra1.size(), sra2.data(), sdec2.data(), sra2.size(), o);
  std::set<std::pair<int64_t, int64_t>> sa, sb;
  for (size_t t = 0; t < a.size(); ++t) sa.insert({a.left_index[t], a.right_index[t]});
  for (size_t t = 0; t < b.size(); ++t)
    sb.insert({static_cast<int64_t>(p1[b.left_index[t]]), static_cast<int64_t>(p2[b.right_index[t]])});
  EXPECT_EQ(sa, sb);
  EXPECT_GT(sa.size(), 1000u);
}

// left_in_sky_order sweeps the left rows as given instead of putting them in
// (zone, cell) order first: the same pairs in the same order, and the same
// counts, for every option and any input order (here random and poles/seam).
TEST(XmatchKernel, SweepingInInputOrderGivesTheSameResult) {
  for (int kind : {0, 1, 2}) {
    for (double radius : {1.0, 60.0, 3600.0}) {
      const Sky s = make_sky(kind, radius, 51 + kind);
      for (int variant = 0; variant < 5; ++variant) {
        CrossmatchOptions o;
        o.radius_arcsec = radius;
        o.all_pairs = variant == 0 || variant == 4;
        o.n_neighbors = variant == 2 ? 3 : 1;
        o.min_radius_arcsec = variant == 3 ? 0.3 * radius : 0.0;
        o.exclude_self = variant == 4;
        const std::vector<double>& ra2 = o.exclude_self ? s.ra1 : s.ra2;
        const std::vector<double>& dec2 = o.exclude_self ? s.dec1 : s.dec2;
        CrossmatchOptions swept = o;
        swept.left_in_sky_order = true;
        const auto a = crossmatch_kernel(s.ra1.data(), s.dec1.data(), s.ra1.size(), ra2.data(), dec2.data(), ra2.size(), o);
        const auto b = crossmatch_kernel(s.ra1.data(), s.dec1.data(), s.ra1.size(), ra2.data(), dec2.data(), ra2.size(), swept);
        if (!o.exclude_self) {  // (a sky against itself has few close pairs)
          EXPECT_GT(a.size(), 100u);
        }
        EXPECT_EQ(a.left_index, b.left_index) << "kind " << kind << " radius " << radius << " variant " << variant;
        EXPECT_EQ(a.right_index, b.right_index);
        EXPECT_EQ(a.dist_arcsec, b.dist_arcsec);
        EXPECT_EQ(crossmatch_count(s.ra1.data(), s.dec1.data(), s.ra1.size(), ra2.data(), dec2.data(), ra2.size(), swept),
                  a.size());
      }
    }
  }
}
