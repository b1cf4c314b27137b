// The xmatch() SQL table function against LSDB's golden crossmatch results on
// the HATS fixtures, plus its output shape and its errors on bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "engine/engine.hpp"

using namespace lodestar;
namespace fs = std::filesystem;

namespace {

std::string fixtures() {
  const char* env = std::getenv("LODESTAR_SHARED");
  return std::string(env ? env : "../shared") + "/hats-fixtures";
}

// (left id, right id) -> distance in degrees, from an LSDB golden CSV (",ss_id,xmatch_id,dist").
std::map<std::pair<int64_t, int64_t>, double> read_expected(const std::string& path) {
  std::map<std::pair<int64_t, int64_t>, double> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream s(line);
    std::string index, left, right, dist;
    std::getline(s, index, ',');
    std::getline(s, left, ',');
    std::getline(s, right, ',');
    std::getline(s, dist, ',');
    out[{std::stoll(left), static_cast<int64_t>(std::stod(right))}] = std::stod(dist);
  }
  return out;
}

std::map<std::pair<int64_t, int64_t>, double> run_xmatch(Engine& engine, const std::string& args) {
  QueryResult r = engine.query("SELECT id::BIGINT, id_right::BIGINT, _dist_arcsec FROM xmatch(" + args + ")");
  std::map<std::pair<int64_t, int64_t>, double> out;
  const idx_t n = duckdb_row_count(r.raw());
  for (idx_t i = 0; i < n; ++i) {
    const auto key = std::make_pair(duckdb_value_int64(r.raw(), 0, i), duckdb_value_int64(r.raw(), 1, i));
    EXPECT_EQ(out.count(key), 0u) << "duplicate pair " << key.first << "," << key.second;
    out[key] = duckdb_value_double(r.raw(), 2, i) / 3600.0;
  }
  return out;
}

void expect_same_pairs(const std::map<std::pair<int64_t, int64_t>, double>& got,
                       const std::map<std::pair<int64_t, int64_t>, double>& expected) {
  EXPECT_EQ(got.size(), expected.size());
  for (const auto& [key, dist] : expected) {
    auto it = got.find(key);
    ASSERT_NE(it, got.end()) << "missing pair " << key.first << "," << key.second;
    EXPECT_NEAR(it->second, dist, 1e-9) << "pair " << key.first << "," << key.second;
  }
}

}  // namespace

TEST(XmatchSql, NearestNeighbourMatchesLsdbGolden) {
  const std::string dir = fixtures();
  if (!fs::exists(dir + "/small_sky")) GTEST_SKIP() << "missing " << dir;
  Engine engine;
  const std::string args = "'" + dir + "/small_sky', '" + dir + "/small_sky_xmatch', 36.0, n_neighbors := 1";
  expect_same_pairs(run_xmatch(engine, args), read_expected(dir + "/raw/xmatch_expected/xmatch_correct.csv"));
}

TEST(XmatchSql, ThreeNeighboursWideRadiusMatchesLsdbGolden) {
  const std::string dir = fixtures();
  if (!fs::exists(dir + "/small_sky")) GTEST_SKIP() << "missing " << dir;
  Engine engine;
  const std::string args = "'" + dir + "/small_sky', '" + dir + "/small_sky_xmatch', 7200.0, n_neighbors := 3";
  expect_same_pairs(run_xmatch(engine, args), read_expected(dir + "/raw/xmatch_expected/xmatch_correct_3n_2t.csv"));
}

TEST(XmatchSql, OutputColumnsAreLeftThenSuffixedRightThenDistance) {
  const std::string dir = fixtures();
  if (!fs::exists(dir + "/small_sky")) GTEST_SKIP() << "missing " << dir;
  Engine engine;
  QueryResult r = engine.query("SELECT * FROM xmatch('" + dir + "/small_sky', '" + dir + "/small_sky_xmatch', 36) LIMIT 0");
  std::vector<std::string> names;
  for (idx_t c = 0; c < r.column_count(); ++c) names.push_back(r.column_name(c));
  const std::vector<std::string> expected = {"_healpix_29",       "id",         "ra",       "dec",       "ra_error",        "dec_error",
                                             "_healpix_29_right", "id_right",   "ra_right", "dec_right", "ra_error_right", "dec_error_right",
                                             "calculated_dist",   "_dist_arcsec"};
  EXPECT_EQ(names, expected);
}

TEST(XmatchSql, AllPairsIsEveryPairWithinRadius) {
  const std::string dir = fixtures();
  if (!fs::exists(dir + "/small_sky")) GTEST_SKIP() << "missing " << dir;
  Engine engine;
  // Brute force over the full cross product (spherical law of cosines; no pair sits within rounding of 3 deg).
  const std::string l = "read_parquet('" + dir + "/small_sky/dataset/**/*.parquet', hive_partitioning = false)";
  const std::string rr = "read_parquet('" + dir + "/small_sky_xmatch/dataset/**/*.parquet', hive_partitioning = false)";
  QueryResult brute = engine.query(
      "SELECT count(*) FROM " + l + " a, " + rr +
      " b WHERE degrees(acos(least(1.0, sin(radians(a.dec))*sin(radians(b.dec)) + cos(radians(a.dec))*cos(radians(b.dec))*cos(radians(a.ra - b.ra))))) "
      "<= 3.0");
  QueryResult ours = engine.query("SELECT count(*), max(_dist_arcsec) FROM xmatch('" + dir + "/small_sky', '" + dir +
                                  "/small_sky_xmatch', 10800, all_pairs := true)");
  EXPECT_GT(duckdb_value_int64(brute.raw(), 0, 0), 100);  // 292 pairs: the test is not vacuous
  EXPECT_EQ(duckdb_value_int64(ours.raw(), 0, 0), duckdb_value_int64(brute.raw(), 0, 0));
  EXPECT_LE(duckdb_value_double(ours.raw(), 1, 0), 10800.0);
}

TEST(XmatchSql, BadInputIsAClearError) {
  const std::string dir = fixtures();
  if (!fs::exists(dir + "/small_sky")) GTEST_SKIP() << "missing " << dir;
  Engine engine;
  const std::string cats = "'" + dir + "/small_sky', '" + dir + "/small_sky_xmatch'";
  try {
    engine.query("SELECT * FROM xmatch(" + cats + ", 0.0)");
    FAIL() << "radius 0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("radius_arcsec must be > 0"), std::string::npos) << e.what();
  }
  try {
    engine.query("SELECT * FROM xmatch('no_such_catalog', '" + dir + "/small_sky', 1.0, root := '" + dir + "')");
    FAIL() << "unknown catalog accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_catalog"), std::string::npos) << e.what();
  }
  try {
    engine.query("SELECT * FROM xmatch(" + cats + ", 1.0, n_neighbors := 0)");
    FAIL() << "n_neighbors 0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("n_neighbors"), std::string::npos) << e.what();
  }
}
