#include "catalog/ingest_stream.hpp"

#include <cmath>
#include <utility>

#include "core/healpix_index.hpp"
#include "engine/sql_function_builder.hpp"

namespace lodestar {
namespace {

struct CountingInfo {
  PixelCounter* counter;
  int shift;  // _healpix_29 >> shift is the pixel at the counter's order
};

bool valid_position(double ra, double dec) { return std::isfinite(ra) && std::isfinite(dec) && dec >= -90.0 && dec <= 90.0; }

void counting_healpix29(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const auto* ci = static_cast<const CountingInfo*>(duckdb_scalar_function_get_extra_info(info));
  const idx_t n = duckdb_data_chunk_get_size(input);
  const auto ra = sql::column<double>(input, 0), dec = sql::column<double>(input, 1);
  sql::Output<int64_t> out(output);
  PixelCounter::Tally* tally = nullptr;
  try {
    tally = ci->counter->acquire();
  } catch (const std::exception& e) {
    return sql::fail(info, kCountingHealpixFunction, e.what());
  }
  for (idx_t i = 0; i < n; ++i) {
    if (!sql::all_valid(i, ra, dec) || !valid_position(ra.values[i], dec.values[i])) {
      out.set_null(i);
      PixelCounter::add_invalid(tally);
      continue;
    }
    const int64_t h = healpix29(ra.values[i], dec.values[i]);
    out.values[i] = h;
    PixelCounter::add(tally, h >> ci->shift);
  }
  ci->counter->release(tally);
}

// ---- lodestar_partition_feed(id) ----

struct FeedBind {
  PartitionFeeds* feeds;
  int64_t feed;
};

struct FeedScan {
  std::shared_ptr<DataChunk> current;  // the chunk the output references, kept until the next call
  duckdb_selection_vector selection = duckdb_create_selection_vector(duckdb_vector_size());
  ~FeedScan() { duckdb_destroy_selection_vector(selection); }
};

void feed_bind(duckdb_bind_info info) {
  auto* feeds = static_cast<PartitionFeeds*>(duckdb_bind_get_extra_info(info));
  duckdb_value id = duckdb_bind_get_parameter(info, 0);
  const int64_t feed = duckdb_get_int64(id);
  duckdb_destroy_value(&id);
  for (size_t c = 0; c < feeds->names().size(); ++c)
    duckdb_bind_add_result_column(info, feeds->names()[c].c_str(), feeds->types()[c].get());
  duckdb_bind_set_bind_data(info, new FeedBind{feeds, feed}, [](void* p) { delete static_cast<FeedBind*>(p); });
}

void feed_init(duckdb_init_info info) {
  duckdb_init_set_max_threads(info, 1);  // one reader per feed: the leaf keeps the queue's (sorted) order
  duckdb_init_set_init_data(info, new FeedScan, [](void* p) { delete static_cast<FeedScan*>(p); });
}

void feed_produce(duckdb_function_info info, duckdb_data_chunk output) {
  const auto* bind = static_cast<const FeedBind*>(duckdb_function_get_bind_data(info));
  auto* scan = static_cast<FeedScan*>(duckdb_function_get_init_data(info));
  scan->current.reset();
  RowSlice slice;
  switch (bind->feeds->pop(bind->feed, slice)) {
    case PartitionFeeds::Next::End:
      duckdb_data_chunk_set_size(output, 0);
      return;
    case PartitionFeeds::Next::Failed: {
      const std::string why = "ingest stopped: " + bind->feeds->failure().value_or("unknown error");
      duckdb_function_set_error(info, why.c_str());
      return;
    }
    case PartitionFeeds::Next::Slice:
      break;
  }
  // Zero-copy: the output references the chunk's vectors, sliced when the
  // partition starts or ends inside the chunk.
  duckdb_data_chunk src = slice.chunk->get();
  const idx_t n = slice.end - slice.begin;
  const bool whole = slice.begin == 0 && slice.end == duckdb_data_chunk_get_size(src);
  if (!whole) {
    sel_t* sel = duckdb_selection_vector_get_data_ptr(scan->selection);
    for (idx_t i = 0; i < n; ++i) sel[i] = static_cast<sel_t>(slice.begin + i);
  }
  const idx_t columns = duckdb_data_chunk_get_column_count(output);
  for (idx_t c = 0; c < columns; ++c) {
    duckdb_vector out = duckdb_data_chunk_get_vector(output, c);
    duckdb_vector_reference_vector(out, duckdb_data_chunk_get_vector(src, c));
    if (!whole) duckdb_slice_vector(out, scan->selection, n);
  }
  duckdb_data_chunk_set_size(output, n);
  scan->current = std::move(slice.chunk);
}

}  // namespace

void register_counting_healpix29(duckdb_connection con, PixelCounter* counter, int order) {
  duckdb_scalar_function fn = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(fn, kCountingHealpixFunction);
  LogicalType dbl(DUCKDB_TYPE_DOUBLE), bigint(DUCKDB_TYPE_BIGINT);
  duckdb_scalar_function_add_parameter(fn, dbl.get());
  duckdb_scalar_function_add_parameter(fn, dbl.get());
  duckdb_scalar_function_set_return_type(fn, bigint.get());
  duckdb_scalar_function_set_function(fn, counting_healpix29);
  duckdb_scalar_function_set_special_handling(fn);  // NULL rows reach the kernel, to be counted as invalid
  duckdb_scalar_function_set_volatile(fn);          // never folded, duplicated or skipped: one call per row
  duckdb_scalar_function_set_extra_info(fn, new CountingInfo{counter, 2 * (kMaxHealpixOrder - order)},
                                        [](void* p) { delete static_cast<CountingInfo*>(p); });
  const bool ok = duckdb_register_scalar_function(con, fn) == DuckDBSuccess;
  duckdb_destroy_scalar_function(&fn);
  if (!ok) throw Error(std::string("could not register SQL function ") + kCountingHealpixFunction);
}

void PartitionFeeds::set_columns(std::vector<std::string> names, std::vector<LogicalType> types, int64_t max_queued_rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  max_queued_rows_ = max_queued_rows;
  names_ = std::move(names);
  types_ = std::move(types);
}

int64_t PartitionFeeds::open(size_t partition) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t id = next_id_++;
  feeds_[id].partition = partition;
  unclaimed_.push_back(id);
  changed_.notify_all();
  return id;
}

bool PartitionFeeds::push(int64_t feed, RowSlice slice) {
  const auto rows = static_cast<int64_t>(slice.end - slice.begin);
  std::unique_lock<std::mutex> lock(mutex_);
  // An empty queue always takes a slice, so one larger than the budget cannot stall the pass.
  changed_.wait(lock, [&] { return failure_ || queued_rows_ == 0 || queued_rows_ + rows <= max_queued_rows_; });
  if (failure_) return false;
  feeds_.at(feed).queue.push_back(std::move(slice));
  queued_rows_ += rows;
  changed_.notify_all();
  return true;
}

void PartitionFeeds::close(int64_t feed) {
  std::lock_guard<std::mutex> lock(mutex_);
  feeds_.at(feed).closed = true;
  changed_.notify_all();
}

void PartitionFeeds::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
  changed_.notify_all();
}

std::optional<PartitionFeeds::Claim> PartitionFeeds::claim() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return failure_ || !unclaimed_.empty() || finished_; });
  if (failure_ || unclaimed_.empty()) return std::nullopt;
  const int64_t id = unclaimed_.front();
  unclaimed_.pop_front();
  Feed& f = feeds_.at(id);
  f.claimed = true;
  return Claim{id, f.partition};
}

PartitionFeeds::Next PartitionFeeds::pop(int64_t feed, RowSlice& out) {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto it = feeds_.find(feed);
  if (it == feeds_.end()) {
    if (!failure_) failure_ = "internal error: no partition feed " + std::to_string(feed);
    return Next::Failed;
  }
  Feed& f = it->second;
  changed_.wait(lock, [&] { return failure_ || !f.queue.empty() || f.closed; });
  if (failure_) return Next::Failed;
  if (f.queue.empty()) return Next::End;
  out = std::move(f.queue.front());
  f.queue.pop_front();
  queued_rows_ -= static_cast<int64_t>(out.end - out.begin);
  changed_.notify_all();
  return Next::Slice;
}

void PartitionFeeds::done(int64_t feed) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = feeds_.find(feed);
  if (it == feeds_.end()) return;
  for (const RowSlice& s : it->second.queue) queued_rows_ -= static_cast<int64_t>(s.end - s.begin);
  feeds_.erase(it);
  changed_.notify_all();
}

void PartitionFeeds::fail(const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!failure_) failure_ = why;
  changed_.notify_all();
}

int64_t PartitionFeeds::queued_rows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_rows_;
}

std::optional<std::string> PartitionFeeds::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

void PartitionFeeds::register_function(duckdb_connection con) {
  duckdb_table_function f = duckdb_create_table_function();
  duckdb_table_function_set_name(f, kPartitionFeedFunction);
  LogicalType bigint(DUCKDB_TYPE_BIGINT);
  duckdb_table_function_add_parameter(f, bigint.get());
  duckdb_table_function_set_extra_info(f, this, nullptr);
  duckdb_table_function_set_bind(f, feed_bind);
  duckdb_table_function_set_init(f, feed_init);
  duckdb_table_function_set_function(f, feed_produce);
  const bool ok = duckdb_register_table_function(con, f) == DuckDBSuccess;
  duckdb_destroy_table_function(&f);
  if (!ok) throw Error(std::string("could not register SQL function ") + kPartitionFeedFunction);
}

}  // namespace lodestar
