// The SQL side of the ingest's single pass: DuckDB reads and sorts the input
// once, and its sorted rows flow straight into the leaf writers.
//
// * `lodestar_ingest_healpix29(ra, dec)` computes `_healpix_29` in the sort's
//   input and counts every row in a PixelCounter, so the partition plan is
//   complete when the first sorted row comes out (a sort emits nothing before
//   it has seen all its input).
// * `lodestar_partition_feed(id)` is a table function over rows queued by
//   the reader of the sorted stream; each leaf is a
//   `COPY (SELECT * FROM lodestar_partition_feed(id)) TO ...`, several at a
//   time, on their own connections.
// Why not a sorted staging table cut into ranges: filling a table costs as
// much as sorting (DuckDB keeps min/max and distinct-count statistics of
// every column as it appends), and each range is scanned again to write it.
#pragma once

#include <duckdb.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "catalog/pixel_counter.hpp"
#include "engine/duckdb_handles.hpp"

namespace lodestar {

inline constexpr const char* kCountingHealpixFunction = "lodestar_ingest_healpix29";
inline constexpr const char* kPartitionFeedFunction = "lodestar_partition_feed";

// Registers lodestar_ingest_healpix29(ra DOUBLE, dec DOUBLE) -> BIGINT on
// `con`'s database: `_healpix_29` of a valid position, NULL for a missing,
// non-finite or out-of-range one; each row is counted in `counter` (its
// pixel at the counter's order, or as invalid). `counter` must outlive every
// query using the function.
void register_counting_healpix29(duckdb_connection con, PixelCounter* counter, int order);

// Rows [begin, end) of a chunk of the sorted stream. The chunk is shared by
// the slices of the partitions it spans.
struct RowSlice {
  std::shared_ptr<DataChunk> chunk;
  idx_t begin = 0;
  idx_t end = 0;
};

// The queues between the reader of the sorted stream (one thread) and the
// leaf writers. All feeds share one budget of queued rows, so memory stays
// bounded however far the reader gets ahead of the writers.
class PartitionFeeds {
 public:
  // Reader side: the stream's columns, and the budget of queued rows; set
  // before any writer binds a feed.
  void set_columns(std::vector<std::string> names, std::vector<LogicalType> types, int64_t max_queued_rows);
  int64_t open(size_t partition);           // a new feed for partition index `partition`
  bool push(int64_t feed, RowSlice slice);  // waits for budget; false once the ingest failed
  void close(int64_t feed);                 // the feed's rows are all queued
  void finish();                            // no more feeds: idle writers stop

  // Writer side.
  struct Claim {
    int64_t feed;
    size_t partition;
  };
  std::optional<Claim> claim();  // waits for an unclaimed feed; nullopt when finished or failed
  enum class Next { Slice, End, Failed };
  Next pop(int64_t feed, RowSlice& out);
  void done(int64_t feed);  // the feed's writer is finished with it

  // Either side: the first failure stops every feed; later ones are dropped.
  void fail(const std::string& why);
  std::optional<std::string> failure() const;

  // Registers lodestar_partition_feed(id BIGINT) on `con`'s database, reading
  // these feeds; `this` must outlive every query using it.
  void register_function(duckdb_connection con);

  int64_t queued_rows() const;  // rows queued and not yet read, now
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<LogicalType>& types() const { return types_; }

 private:
  struct Feed {
    size_t partition;
    std::deque<RowSlice> queue;
    bool closed = false;
    bool claimed = false;
  };

  int64_t max_queued_rows_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, Feed> feeds_;
  std::deque<int64_t> unclaimed_;
  int64_t next_id_ = 0;
  int64_t queued_rows_ = 0;
  bool finished_ = false;
  std::optional<std::string> failure_;
  std::vector<std::string> names_;
  std::vector<LogicalType> types_;
};

}  // namespace lodestar
