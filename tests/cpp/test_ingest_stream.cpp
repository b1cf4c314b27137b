// The ingest's single-pass plumbing: the histogram counted by many threads
// (PixelCounter) and the bounded queues between the sorted stream and the
// leaf writers (PartitionFeeds). The whole ingest is tested end to end in
// test_catalog.cpp and tests/python/test_ingest*.py.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "catalog/ingest_stream.hpp"
#include "catalog/pixel_counter.hpp"
#include "core/healpix_index.hpp"
#include "engine/engine.hpp"

using namespace lodestar;

namespace {

// Counts `rows` random pixels (every 7th row invalid) from four threads, each
// taking a tally per batch of 300 rows, and compares with a brute-force count.
void expect_counts_like_brute_force(int order, uint64_t fold_after_rows, int64_t rows) {
  PixelCounter counter(order, fold_after_rows);
  std::vector<std::map<int64_t, int64_t>> want(4);
  std::vector<int64_t> invalid(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(1000 + t);
      // Half the rows in a few pixels (a dense field), half anywhere.
      std::uniform_int_distribution<int64_t> any(0, healpix_npix(order) - 1), few(0, 5);
      for (int64_t done = 0; done < rows / 4;) {
        PixelCounter::Tally* tally = counter.acquire();
        for (int i = 0; i < 300 && done < rows / 4; ++i, ++done) {
          if (done % 7 == 3) {
            PixelCounter::add_invalid(tally);
            ++invalid[t];
            continue;
          }
          const int64_t p = (done % 2) ? any(rng) : (few(rng) * 977) % healpix_npix(order);
          PixelCounter::add(tally, p);
          ++want[t][p];
        }
        counter.release(tally);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::map<int64_t, int64_t> all;
  for (const auto& w : want)
    for (const auto& [p, c] : w) all[p] += c;
  const std::vector<PixelCount> got = counter.counts();
  ASSERT_EQ(got.size(), all.size()) << "order " << order;
  size_t i = 0;
  for (const auto& [p, c] : all) {
    ASSERT_EQ(got[i].pixel, p) << "order " << order << ", entry " << i;
    ASSERT_EQ(got[i].count, c) << "order " << order << ", pixel " << p;
    ++i;
  }
  EXPECT_EQ(counter.invalid_rows(), invalid[0] + invalid[1] + invalid[2] + invalid[3]);
}

RowSlice slice_of(idx_t begin, idx_t end) { return RowSlice{nullptr, begin, end}; }

}  // namespace

TEST(PixelCounter, ListedTalliesEqualBruteForce) {
  // Fewer rows than a quarter of the pixels per tally: the tallies stay lists.
  expect_counts_like_brute_force(10, uint32_t{0xFFFFFFFF}, 400'000);
}

TEST(PixelCounter, DenseBucketedTalliesEqualBruteForce) {
  // Order 8 (786,432 pixels): each tally outgrows its list and adds through the buckets.
  expect_counts_like_brute_force(8, uint32_t{0xFFFFFFFF}, 2'000'000);
}

TEST(PixelCounter, ArraysAndListsTogether) {
  PixelCounter counter(8);
  PixelCounter::Tally* big = counter.acquire();
  PixelCounter::Tally* small = counter.acquire();  // held at the same time: a second tally
  std::map<int64_t, int64_t> want;
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int64_t> any(0, healpix_npix(8) - 1);
  for (int i = 0; i < 300'000; ++i) {  // beyond 786,432 / 4: this one takes an array
    const int64_t p = any(rng);
    PixelCounter::add(big, p);
    ++want[p];
  }
  for (int i = 0; i < 5'000; ++i) {
    const int64_t p = any(rng) % 1000;
    PixelCounter::add(small, p);
    ++want[p];
  }
  counter.release(big);
  counter.release(small);
  const std::vector<PixelCount> got = counter.counts();
  ASSERT_EQ(got.size(), want.size());
  size_t i = 0;
  for (const auto& [p, c] : want) {
    ASSERT_EQ(got[i].pixel, p);
    ASSERT_EQ(got[i].count, c) << "pixel " << p;
    ++i;
  }
}

TEST(PixelCounter, SmallOrdersCountDirectly) { expect_counts_like_brute_force(3, uint32_t{0xFFFFFFFF}, 100'000); }

TEST(PixelCounter, FoldedTalliesKeepEveryRow) {
  // Folding (what keeps 32-bit dense counts from overflowing), of lists and of arrays.
  expect_counts_like_brute_force(10, 20000, 100'000);
  expect_counts_like_brute_force(6, 30000, 200'000);  // arrays (beyond 49,152 / 4 rows), folded
}

TEST(PixelCounter, DeepOrdersCountSparsely) {
  // Beyond kDenseMaxOrder the tallies are lists, sorted and folded at 2^20 entries.
  expect_counts_like_brute_force(12, uint32_t{0xFFFFFFFF}, 3'000'000);
  expect_counts_like_brute_force(29, uint32_t{0xFFFFFFFF}, 200'000);
}

TEST(PixelCounter, NoRowsNoPixels) {
  PixelCounter counter(10);
  EXPECT_TRUE(counter.counts().empty());
  EXPECT_EQ(counter.invalid_rows(), 0);
}

TEST(PartitionFeeds, RowsArriveInOrderWithinTheBudget) {
  PartitionFeeds feeds;
  feeds.set_columns({}, {}, 100);  // at most 100 queued rows
  std::vector<std::vector<idx_t>> seen(3);
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&] {
      while (auto claim = feeds.claim()) {
        RowSlice s;
        while (feeds.pop(claim->feed, s) == PartitionFeeds::Next::Slice) {
          seen[claim->partition].push_back(s.begin);
          std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slow writer
        }
        feeds.done(claim->feed);
      }
    });
  }
  int64_t most = 0;
  for (size_t p = 0; p < 3; ++p) {
    const int64_t feed = feeds.open(p);
    for (idx_t i = 0; i < 50; ++i) {
      ASSERT_TRUE(feeds.push(feed, slice_of(i * 10, i * 10 + 30)));
      most = std::max(most, feeds.queued_rows());  // readers only lower it between the push and this look
    }
    feeds.close(feed);
  }
  feeds.finish();
  for (auto& t : writers) t.join();
  for (size_t p = 0; p < 3; ++p) {
    ASSERT_EQ(seen[p].size(), 50u) << "partition " << p;
    for (idx_t i = 0; i < 50; ++i) EXPECT_EQ(seen[p][i], i * 10);
  }
  EXPECT_LE(most, 100);  // pushes waited for room
  EXPECT_GT(most, 30);   // and the queue did fill up (the writers are slower)
  EXPECT_EQ(feeds.queued_rows(), 0);
  EXPECT_FALSE(feeds.failure());
}

TEST(PartitionFeeds, AFailedWriterStopsTheReaderAndTheOtherWriters) {
  PartitionFeeds feeds;
  feeds.set_columns({}, {}, 60);
  const int64_t a = feeds.open(0);
  const int64_t b = feeds.open(1);
  std::thread failing([&] {
    auto claim = feeds.claim();
    ASSERT_TRUE(claim);
    feeds.fail("disk full");  // its COPY failed
    feeds.done(claim->feed);
  });
  std::thread other([&] {
    auto claim = feeds.claim();
    if (!claim) return;  // the failure came first
    RowSlice s;
    PartitionFeeds::Next n;
    while ((n = feeds.pop(claim->feed, s)) == PartitionFeeds::Next::Slice) {
    }
    EXPECT_EQ(n, PartitionFeeds::Next::Failed);
    feeds.done(claim->feed);
  });
  // The reader: pushes beyond the budget would wait forever without the failure.
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; ++i) stopped = !feeds.push(i % 2 ? a : b, slice_of(0, 30));
  EXPECT_TRUE(stopped);
  failing.join();
  other.join();
  EXPECT_EQ(feeds.failure().value_or(""), "disk full");
  EXPECT_FALSE(feeds.claim());
}
