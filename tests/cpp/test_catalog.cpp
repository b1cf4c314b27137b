#include <fitshandle.h>
#include <gtest/gtest.h>
#include <healpix_map.h>
#include <healpix_map_fitsio.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "catalog/catalog_root.hpp"
#include "catalog/catalog_sql.hpp"
#include "catalog/hats_catalog.hpp"
#include "catalog/ingest.hpp"
#include "catalog/partition_plan.hpp"
#include "catalog/properties.hpp"
#include "catalog/skymap_fits.hpp"
#include "core/healpix_index.hpp"
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

// The hats-import rule written the plain way (per-order maps, top-down over
// every order), as an independent reference for plan_partitions.
std::vector<PlannedPartition> reference_plan(const std::vector<PixelCount>& histogram, int highest_order, int64_t threshold) {
  std::vector<std::map<int64_t, int64_t>> counts(highest_order + 1);
  for (const auto& pc : histogram) counts[highest_order][pc.pixel] += pc.count;
  for (int k = highest_order; k > 0; --k)
    for (const auto& [pix, n] : counts[k]) counts[k - 1][pix >> 2] += n;
  std::vector<std::set<int64_t>> taken(highest_order + 1);
  std::vector<PlannedPartition> plan;
  for (int k = 0; k <= highest_order; ++k)
    for (const auto& [pix, n] : counts[k]) {
      bool covered = false;
      for (int j = 0; j < k; ++j) covered = covered || taken[j].count(pix >> (2 * (k - j)));
      if (covered || n > threshold) continue;
      taken[k].insert(pix);
      plan.push_back({k, pix, n});
    }
  std::sort(plan.begin(), plan.end(), [](const PlannedPartition& a, const PlannedPartition& b) {
    return (a.pixel << (2 * (29 - a.order))) < (b.pixel << (2 * (29 - b.order)));
  });
  return plan;
}

}  // namespace

TEST(Properties, ParsesKeepsOrderAndUnknownKeys) {
  const Properties p =
      Properties::parse("#HATS catalog\nobs_collection=sky\n  hats_nrows = 42 \nweird\\=key=a b\nx:y\n\n! comment\n");
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

TEST(PartitionPlan, EqualsTheReferenceRuleOnRandomSkies) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 30; ++trial) {
    const int order = 1 + trial % 6;
    // Clustered counts: a few dense pixels and many sparse ones, in random order.
    std::uniform_int_distribution<int64_t> pixel(0, healpix_npix(order) - 1);
    std::vector<PixelCount> h;
    for (int i = 0; i < 400; ++i) h.push_back({pixel(rng), 1 + static_cast<int64_t>(rng() % (i % 10 == 0 ? 60 : 5))});
    // At least the fullest highest-order pixel (else the plan is rightly an error).
    std::map<int64_t, int64_t> per_pixel;
    int64_t fullest = 0;
    for (const auto& pc : h) fullest = std::max(fullest, per_pixel[pc.pixel] += pc.count);
    const int64_t threshold = fullest + static_cast<int64_t>(rng() % 500);
    const auto got = plan_partitions(h, order, threshold);
    const auto want = reference_plan(h, order, threshold);
    ASSERT_EQ(got.size(), want.size()) << "trial " << trial;
    int64_t rows = 0, total = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].order, want[i].order);
      EXPECT_EQ(got[i].pixel, want[i].pixel);
      EXPECT_EQ(got[i].rows, want[i].rows);
      rows += got[i].rows;
    }
    for (const auto& pc : h) total += pc.count;
    EXPECT_EQ(rows, total) << "every row in exactly one partition";
  }
  EXPECT_THROW(plan_partitions({{healpix_npix(3), 1}}, 3, 10), Error);  // not a pixel of order 3
}

TEST(Skymap, ImplicitAndExplicitMapsReadBack) {
  const fs::path dir = temp_dir("skymap");
  // Dense: every pixel non-empty -> IMPLICIT, readable as a HEALPix map by HEALPix C++ itself.
  std::vector<int64_t> dense(static_cast<size_t>(healpix_npix(2)));
  for (size_t i = 0; i < dense.size(); ++i) dense[i] = 1 + static_cast<int64_t>(i * 7 % 13);
  write_skymap_fits((dir / "dense.fits").string(), 2, dense);
  Healpix_Map<double> map;
  read_Healpix_map_from_fits((dir / "dense.fits").string(), map);
  ASSERT_EQ(map.Npix(), static_cast<int>(dense.size()));
  EXPECT_EQ(map.Scheme(), NEST);
  for (size_t i = 0; i < dense.size(); ++i) EXPECT_EQ(map[static_cast<int>(i)], static_cast<double>(dense[i]));
  // Sparse, from the non-empty pixels of a finer histogram -> EXPLICIT (PIXEL, VALUE).
  const std::vector<PixelCount> fine = {{17, 2}, {18, 3}, {4000, 5}, {49151, 1}};  // order 6
  const auto coarse = coarsen_histogram(fine, 6, 4);
  ASSERT_EQ(coarse.size(), 3u);
  EXPECT_EQ(coarse[0].pixel, 1);
  EXPECT_EQ(coarse[0].count, 5);
  write_skymap_fits((dir / "sparse.fits").string(), 4, coarse);
  fitshandle in;
  in.open((dir / "sparse.fits").string());
  in.goto_hdu(2);
  EXPECT_EQ(in.get_key<std::string>("INDXSCHM"), "EXPLICIT");
  EXPECT_EQ(in.get_key<int>("NSIDE"), 16);
  EXPECT_EQ(in.colname(1), "PIXEL");
  EXPECT_EQ(in.colname(2), "VALUE");
  std::vector<int64> pixels, values;
  in.read_entire_column(1, pixels);
  in.read_entire_column(2, values);
  EXPECT_EQ(pixels, (std::vector<int64>{1, 250, 3071}));
  EXPECT_EQ(values, (std::vector<int64>{5, 5, 1}));
  EXPECT_THROW(write_skymap_fits((dir / "bad.fits").string(), 2, std::vector<int64_t>(5, 1)), Error);
  EXPECT_THROW(write_skymap_fits((dir / "bad.fits").string(), 4, std::vector<PixelCount>{{3, 1}, {2, 1}}), Error);  // unsorted
  EXPECT_FALSE(fs::exists(dir / "bad.fits"));
  fs::remove_all(dir);
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
    for (int i = 0; i < 5000; ++i)
      csv << i << "," << (i * 0.0721) << "," << (-89.9 + (i % 1799) * 0.1) << "," << (15 + i % 7) << "\n";
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
  QueryResult q =
      run_query(con.get(), "SELECT count(*), sum(id), count(*) FILTER (WHERE _healpix_29 <> healpix29(RA, Dec)) FROM cat");
  EXPECT_EQ(duckdb_value_int64(q.raw(), 0, 0), 5000);
  EXPECT_EQ(duckdb_value_int64(q.raw(), 1, 0), 4999LL * 5000 / 2);
  EXPECT_EQ(duckdb_value_int64(q.raw(), 2, 0), 0);
  // The count map of the ingest: hats_skymap_order = highest_order, counts by healpix_nest of the rows.
  const Properties props = Properties::parse([&] {
    std::ifstream in(fs::path(o.root) / "cat" / "hats.properties");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }());
  EXPECT_EQ(props.get("hats_skymap_order"), "7");
  {
    fitshandle in;
    in.open((fs::path(o.root) / "cat" / "skymap.fits").string());
    in.goto_hdu(2);
    std::vector<int64> pixels, values;
    in.read_entire_column(1, pixels);
    in.read_entire_column(2, values);
    std::map<int64_t, int64_t> want;
    auto as_written = [](double v) {  // the CSV holds the values as the ofstream printed them
      std::ostringstream text;
      text << v;
      return std::stod(text.str());
    };
    for (int i = 0; i < 5000; ++i) ++want[healpix_nest(7, as_written(i * 0.0721), as_written(-89.9 + (i % 1799) * 0.1))];
    std::map<int64_t, int64_t> got;
    for (size_t i = 0; i < pixels.size(); ++i) got[pixels[i]] = values[i];
    EXPECT_EQ(got, want);
  }
  EXPECT_THROW(ingest_catalog(o), Error);  // exists
  // A failing before_publish hook aborts: nothing visible, no staging left, the old catalog intact.
  o.name = "hooked";
  std::string seen;
  o.before_publish = [&](const std::string& d) {
    seen = d;
    EXPECT_TRUE(fs::exists(d + "/skymap.fits"));
    throw Error("hook failed");
  };
  EXPECT_THROW(ingest_catalog(o), Error);
  EXPECT_NE(seen.find("/.ingest-hooked-"), std::string::npos);
  EXPECT_FALSE(fs::exists(fs::path(o.root) / "hooked"));
  for (const auto& e : fs::directory_iterator(o.root)) EXPECT_EQ(e.path().filename().string()[0], 'c') << e.path();
  o.before_publish = nullptr;
  o.name = "../evil";
  EXPECT_THROW(ingest_catalog(o), Error);
  fs::remove_all(dir);
}
