#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "core/healpix_index.hpp"
#include "core/sky_angles.hpp"
#include "engine/engine.hpp"
#include "engine/synthetic_writer.hpp"

using namespace lodestar;

namespace {

EngineOptions with_threads(int threads) {
  EngineOptions o;
  o.threads = threads;
  return o;
}

Engine& engine() {
  static Engine e(with_threads(2));
  return e;
}

double scalar_double(const std::string& sql) {
  QueryResult r = engine().query(sql);
  return duckdb_value_double(r.raw(), 0, 0);
}

int64_t scalar_int(const std::string& sql) {
  QueryResult r = engine().query(sql);
  return duckdb_value_int64(r.raw(), 0, 0);
}

std::string error_of(const std::string& sql) {
  try {
    engine().query(sql);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(EngineSql, FunctionsMatchTheKernels) {
  EXPECT_DOUBLE_EQ(scalar_double("SELECT ang_sep(10, 20, 30, 40)"), angular_separation_deg(10, 20, 30, 40));
  EXPECT_EQ(scalar_int("SELECT healpix_nest(10, 45.5, -30.25)"), healpix_nest(10, 45.5, -30.25));
  EXPECT_EQ(scalar_int("SELECT healpix29(300.1, 89.99)"), healpix29(300.1, 89.99));
  EXPECT_EQ(scalar_int("SELECT healpix_parent(healpix29(1, 2), 29, 5)"), healpix_nest(5, 1, 2));
  EXPECT_EQ(scalar_int("SELECT count(*) FROM range(1000) t(i) WHERE cone_contains(i * 0.001, 0, 0, 0, 0.1)"), 101);
}

TEST(EngineSql, VectorizedOverManyRows) {
  // More rows than one DuckDB vector, computed in SQL and by the kernel.
  QueryResult r = engine().query(
      "SELECT i, healpix_nest(8, (i * 0.37) % 360, ((i * 0.11) % 180) - 90) FROM range(5000) t(i) ORDER BY i");
  ASSERT_EQ(duckdb_row_count(r.raw()), 5000u);
  for (idx_t row = 0; row < 5000; row += 7) {
    const double i = static_cast<double>(row);
    const double ra = std::fmod(i * 0.37, 360.0), dec = std::fmod(i * 0.11, 180.0) - 90.0;
    ASSERT_EQ(duckdb_value_int64(r.raw(), 1, row), healpix_nest(8, ra, dec)) << row;
  }
}

TEST(EngineSql, NullInNullOut) {
  QueryResult r = engine().query(
      "SELECT ang_sep(NULL, 1, 2, 3), healpix_nest(NULL, 1, 2), healpix29(1, NULL), healpix_parent(5, NULL, 0), "
      "cone_contains(1, 2, 3, 4, NULL)");
  for (idx_t c = 0; c < 5; ++c) EXPECT_TRUE(duckdb_value_is_null(r.raw(), c, 0)) << "column " << c;
  // NULL rows among valid ones stay NULL, the rest are computed.
  EXPECT_EQ(scalar_int("SELECT count(healpix29(CASE WHEN i % 3 = 0 THEN NULL ELSE i % 90 END, 0)) FROM range(3000) t(i)"), 2000);
}

TEST(EngineSql, OutOfDomainInputIsAClearError) {
  EXPECT_NE(error_of("SELECT ang_sep(0, 91, 0, 0)").find("ang_sep: dec1: declination must be within [-90, 90]"), std::string::npos);
  EXPECT_NE(error_of("SELECT healpix29('nan'::DOUBLE, 0)").find("healpix29: ra: right ascension must be a finite"), std::string::npos);
  EXPECT_NE(error_of("SELECT healpix29(0, 'inf'::DOUBLE)").find("declination"), std::string::npos);
  EXPECT_NE(error_of("SELECT healpix_nest(30, 0, 0)").find("order must be within [0, 29], got 30"), std::string::npos);
  EXPECT_NE(error_of("SELECT healpix_nest(-1, 0, 0)").find("got -1"), std::string::npos);
  EXPECT_NE(error_of("SELECT healpix_nest('nan'::DOUBLE, 0, 0)").find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of("SELECT healpix_parent(5, 0, 3)").find("must not exceed from_order"), std::string::npos);
  EXPECT_NE(error_of("SELECT healpix_parent(12, 0, 0)").find("is not a pixel of order 0"), std::string::npos);
  EXPECT_NE(error_of("SELECT cone_contains(0, 0, 0, 0, -1)").find("radius_deg must be within [0, 180]"), std::string::npos);
}

TEST(EngineSql, MalformedSqlAndWrongArgumentsAreErrors) {
  EXPECT_NE(error_of("SELEC 1").find("syntax error"), std::string::npos);
  EXPECT_NE(error_of("SELECT ang_sep(1, 2)").find("ang_sep"), std::string::npos);
  EXPECT_NE(error_of("SELECT no_such_column FROM range(3)").find("no_such_column"), std::string::npos);
  // The engine stays usable after errors.
  EXPECT_EQ(scalar_int("SELECT 41 + 1"), 42);
}

TEST(EngineSql, ThreadOptionIsApplied) {
  Engine one(with_threads(1));
  QueryResult r = one.query("SELECT current_setting('threads')");
  EXPECT_EQ(duckdb_value_int64(r.raw(), 0, 0), 1);
  EXPECT_THROW(Engine(with_threads(-2)), Error);
}

TEST(EngineSql, SyntheticSkyRoundTripsThroughParquet) {
  const auto dir = std::filesystem::temp_directory_path() / ("lodestar-test-sky-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  SyntheticWriteOptions options;
  options.rows = 25000;
  options.rows_per_file = 10000;
  write_synthetic_sky(engine(), dir.string(), options);
  const std::string files = "'" + dir.string() + "/*.parquet'";
  EXPECT_EQ(scalar_int("SELECT count(*) FROM " + files), 25000);
  EXPECT_EQ(scalar_int("SELECT count(DISTINCT source_id) FROM " + files), 25000);
  EXPECT_EQ(scalar_int("SELECT count(*) FROM " + files + " WHERE dec < -90 OR dec > 90 OR ra < 0 OR ra >= 360"), 0);
  EXPECT_THROW(write_synthetic_sky(engine(), dir.string(), options), Error);  // refuses to overwrite
  std::filesystem::remove_all(dir);
}
