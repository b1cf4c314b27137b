#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "catalog/catalog_root.hpp"
#include "catalog/catalog_sql.hpp"
#include "catalog/hats_catalog.hpp"
#include "catalog/ingest.hpp"
#include "catalog/partition_plan.hpp"
#include "catalog/properties.hpp"
#include "engine/engine.hpp"

using namespace lodestar;
namespace fs = std::filesystem;

namespace {

std::string shared_dir() {
  const char* env = std::getenv("LODESTAR_SHARED");
  return env ? env : "../shared";
}

fs::path temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("lodestar-cpp-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

}  // namespace

TEST(Properties, ParsesKeepsOrderAndUnknownKeys) {
  const Properties p = Properties::parse("#HATS catalog\nobs_collection=sky\n  hats_nrows = 42 \nweird\\=key=a b\nx:y\n\n! comment\n");
  EXPECT_EQ(p.get("obs_collection"), "sky");
  EXPECT_EQ(p.get("hats_nrows"), "42");
  EXPECT_EQ(p.get("weird=key"), "a b");
  EXPECT_EQ(p.get("x"), "y");
  ASSERT_EQ(p.entries().size(), 4u);
  EXPECT_EQ(p.entries()[0].first, "obs_collection");
  EXPECT_THROW(p.require("missing", "here"), Error);
  const Properties again = Properties::parse(p.serialize("HATS catalog"));
  EXPECT_EQ(again.entries(), p.entries());
  EXPECT_EQ(Properties::split_list("a b,c  d"), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(PartitionPlan, TopDownLikeHatsImport) {
  // Order-2 histogram: pixel 0's children hold 3+3+3+3 = 12 rows; pixel 4's one child 5 rows.
  std::vector<PixelCount> h = {{0, 3}, {1, 3}, {2, 3}, {3, 3}, {4 * 16, 5}};
  // Threshold 20: everything fits at order 0 (pixel 0 of order 0 has 12 rows; pixel 4 has 5).
  auto plan = plan_partitions(h, 2, 20);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].order, 0);
  EXPECT_EQ(plan[0].pixel, 0);
  EXPECT_EQ(plan[0].rows, 12);
  EXPECT_EQ(plan[1].pixel, 4);
  // Threshold 5: pixel 0 (12 rows) splits; its order-1 child 0 still holds 12, so
  // order-2 pixels 0..3 (3 rows each) are taken; pixel 4 (5 rows) stays at order 0.
  plan = plan_partitions(h, 2, 5);
  ASSERT_EQ(plan.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(plan[i].order, 2);
    EXPECT_EQ(plan[i].pixel, i);
    EXPECT_EQ(plan[i].rows, 3);
  }
  EXPECT_EQ(plan[4].order, 0);
  EXPECT_EQ(plan[4].pixel, 4);
}

TEST(PartitionPlan, OverfullPixelAtHighestOrderIsAnError) {
  std::vector<PixelCount> h = {{7, 50}};
  try {
    plan_partitions(h, 3, 10);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds 50 rows, more than pixel_threshold=10"), std::string::npos);
  }
}

TEST(HatsCatalog, OpensTheFixtures) {
  const std::string fixtures = shared_dir() + "/hats-fixtures";
  if (!fs::exists(fixtures)) GTEST_SKIP() << "shared data not available: " << fixtures << " is missing";
  const HatsCatalog source = HatsCatalog::open(fixtures + "/small_sky_source");
  EXPECT_EQ(source.name(), "small_sky_source");
  EXPECT_EQ(source.total_rows(), 17161);
  EXPECT_EQ(source.ra_column(), "source_ra");
  EXPECT_EQ(source.partitions().size(), 14u);
  for (size_t i = 1; i < source.partitions().size(); ++i)
    EXPECT_LT(source.partitions()[i - 1].range29().begin, source.partitions()[i].range29().begin);
  const HatsCatalog collection = HatsCatalog::open(fixtures + "/small_sky_order1_collection");
  EXPECT_EQ(collection.name(), "small_sky_order1");
  ASSERT_TRUE(collection.margin_path().has_value());
  EXPECT_NE(collection.margin_path()->find("small_sky_order1_margin_1deg"), std::string::npos);
  EXPECT_THROW(HatsCatalog::open(fixtures + "/raw"), Error);

  Engine engine;
  Connection con = engine.connect();
  register_catalog_view(con.get(), "src", source);
  QueryResult r = run_query(con.get(), "SELECT count(*), count(DISTINCT source_id) FROM src");
  EXPECT_EQ(duckdb_value_int64(r.raw(), 0, 0), 17161);
  EXPECT_EQ(duckdb_value_int64(r.raw(), 1, 0), 17161);
}

TEST(Ingest, CsvRoundTripAndRefusals) {
  const fs::path dir = temp_dir("ingest");
  {
    std::ofstream csv(dir / "in.csv");
    csv << "id,RA,Dec,mag\n";
    for (int i = 0; i < 5000; ++i) csv << i << "," << (i * 0.0721) << "," << (-89.9 + (i % 1799) * 0.1) << "," << (15 + i % 7) << "\n";
  }
  IngestOptions o;
  o.inputs = {(dir / "in.csv").string()};
  o.name = "cat";
  o.root = (dir / "root").string();
  o.pixel_threshold = 700;
  o.highest_order = 7;
  const IngestReport r = ingest_catalog(o);
  EXPECT_EQ(r.rows, 5000);
  EXPECT_EQ(r.ra_column, "RA");
  EXPECT_EQ(r.dec_column, "Dec");
  const HatsCatalog c = CatalogRoot(o.root).load("cat");
  EXPECT_EQ(c.total_rows(), 5000);
  EXPECT_EQ(c.partitions().size(), r.partitions.size());
  Engine engine;
  Connection con = engine.connect();
  register_catalog_view(con.get(), "cat", c);
  QueryResult q = run_query(con.get(), "SELECT count(*), sum(id), count(*) FILTER (WHERE _healpix_29 <> healpix29(RA, Dec)) FROM cat");
  EXPECT_EQ(duckdb_value_int64(q.raw(), 0, 0), 5000);
  EXPECT_EQ(duckdb_value_int64(q.raw(), 1, 0), 4999LL * 5000 / 2);
  EXPECT_EQ(duckdb_value_int64(q.raw(), 2, 0), 0);
  EXPECT_THROW(ingest_catalog(o), Error);  // exists
  o.name = "../evil";
  EXPECT_THROW(ingest_catalog(o), Error);
  fs::remove_all(dir);
}
