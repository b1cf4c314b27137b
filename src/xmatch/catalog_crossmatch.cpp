#include "xmatch/catalog_crossmatch.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>

#include "core/worker_pool.hpp"
#include "engine/duckdb_handles.hpp"
#include "xmatch/sky_region.hpp"

namespace lodestar {
namespace {

constexpr int kNeighbourhoodSteps = 4;  // boundary sub-pixels at most this many orders below the partition

// An order whose pixels are about the size of a disc of radius_deg (search.coverage_order).
int coverage_order(double radius_deg) {
  const double size0 = 58.6;  // mean pixel size at order 0, degrees
  return static_cast<int>(
      std::min<double>(kMaxHealpixOrder - 1, std::max(0.0, std::floor(std::log2(size0 / std::max(radius_deg, 1e-9))))));
}

// A side with its chunks in order: row r of the side is row r - first[k] of
// chunk k.
class Side {
 public:
  Side(ChunkedColumns c, const char* name, bool sort_chunks) : chunks_(std::move(c.chunks)), name_(name) {
    chunks_.erase(std::remove_if(chunks_.begin(), chunks_.end(), [](const auto& k) { return k.rows == 0; }), chunks_.end());
    if (sort_chunks)
      std::stable_sort(chunks_.begin(), chunks_.end(),
                       [](const auto& a, const auto& b) { return a.healpix29[0] < b.healpix29[0]; });
    first_.push_back(0);
    for (const auto& k : chunks_) first_.push_back(first_.back() + k.rows);
  }
  size_t rows() const { return first_.back(); }
  bool has_healpix29() const { return chunks_.empty() || chunks_.front().healpix29 != nullptr; }

  void check_sorted() const {
    for (size_t k = 0; k < chunks_.size(); ++k) {
      const int64_t* h = chunks_[k].healpix29;
      for (size_t i = 1; i < chunks_[k].rows; ++i)
        if (h[i] < h[i - 1]) throw not_sorted(k, i);
      if (k > 0 && h[0] < chunks_[k - 1].healpix29[chunks_[k - 1].rows - 1]) throw not_sorted(k, 0);
    }
  }
  // First row whose healpix29 is >= v.
  size_t lower_bound(int64_t v) const {
    // The first chunk whose last value reaches v, then inside it.
    const auto k = static_cast<size_t>(
        std::partition_point(chunks_.begin(), chunks_.end(), [&](const auto& c) { return c.healpix29[c.rows - 1] < v; }) -
        chunks_.begin());
    if (k == chunks_.size()) return rows();
    const int64_t* h = chunks_[k].healpix29;
    return first_[k] + static_cast<size_t>(std::lower_bound(h, h + chunks_[k].rows, v) - h);
  }
  // Appends the positions of rows [b, e) to ra/dec.
  void gather(size_t b, size_t e, std::vector<double>& ra, std::vector<double>& dec) const {
    size_t k = chunk_of(b);
    while (b < e) {
      const size_t from = b - first_[k], to = std::min(e, first_[k + 1]) - first_[k];
      ra.insert(ra.end(), chunks_[k].ra + from, chunks_[k].ra + to);
      dec.insert(dec.end(), chunks_[k].dec + from, chunks_[k].dec + to);
      b = first_[k + 1], ++k;
    }
  }
  // The caller's row of row r.
  int64_t source_row(size_t r) const {
    const size_t k = chunk_of(r);
    return static_cast<int64_t>(chunks_[k].source_row + (r - first_[k]));
  }

 private:
  size_t chunk_of(size_t r) const {
    return static_cast<size_t>(std::upper_bound(first_.begin(), first_.end(), r) - first_.begin()) - 1;
  }
  Error not_sorted(size_t k, size_t i) const {
    return Error(std::string(name_) + " rows are not sorted by _healpix_29 (row " + std::to_string(chunks_[k].source_row + i) +
                 ")");
  }
  std::vector<ChunkedColumns::Chunk> chunks_;
  std::vector<size_t> first_;
  const char* name_;
};

struct PartitionWork {
  std::vector<size_t> span_begin, span_offset;  // right spans and where each starts in the gathered rows
  std::vector<double> ra, dec;                  // the gathered right rows
  std::vector<double> lra, ldec;                // the partition's left rows
};

// Runs `match(part_index, left_begin, work)` for every partition with left
// rows, on up to `threads` threads; the partition's left rows and the right
// rows of its neighbourhood (from contiguous spans) are gathered in `work`.
template <typename Match>
void for_each_partition(const Side& left, const Side& right, const std::vector<LeftPartition>& parts, double radius_deg,
                        int threads, Match&& match) {
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&] {
    // Kept by the (pool) thread across calls, like the kernel's scratch: fresh pages cost more than the copies.
    thread_local PartitionWork w;
    try {
      for (size_t i = next++; i < parts.size() && !failure; i = next++) {
        const LeftPartition& p = parts[i];
        const int shift = 2 * (kMaxHealpixOrder - p.order);
        const size_t a = left.has_healpix29() ? left.lower_bound(p.pixel << shift) : p.left_begin;
        const size_t b = left.has_healpix29() ? left.lower_bound((p.pixel + 1) << shift) : p.left_end;
        if (a >= b) continue;
        w.span_begin.clear(), w.span_offset.clear(), w.ra.clear(), w.dec.clear(), w.lra.clear(), w.ldec.clear();
        left.gather(a, b, w.lra, w.ldec);
        for (const PixelRange& r : partition_neighbourhood29(p.order, p.pixel, radius_deg)) {
          const size_t rb = right.lower_bound(r.begin), re = right.lower_bound(r.end);
          if (rb == re) continue;
          w.span_begin.push_back(rb);
          w.span_offset.push_back(w.ra.size());
          right.gather(rb, re, w.ra, w.dec);
        }
        match(i, a, w);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
    if (w.ra.capacity() + w.lra.capacity() > (size_t{16} << 20)) w = PartitionWork{};  // keep at most ~256 MB
  };
  const int n = std::max(1, std::min<int>(threads, static_cast<int>(parts.size())));
  run_on_workers(n, [&](int) { worker(); });
  if (failure) std::rethrow_exception(failure);
}

void check_inputs(const Side& left, const Side& right, const std::vector<LeftPartition>& parts) {
  if (!right.has_healpix29()) throw Error("the right rows need their _healpix_29 column");
  right.check_sorted();
  if (left.has_healpix29()) {
    left.check_sorted();
    return;
  }
  for (const LeftPartition& p : parts)
    if (p.left_begin > p.left_end || p.left_end > left.rows())
      throw Error("partition Norder=" + std::to_string(p.order) + ", Npix=" + std::to_string(p.pixel) + ": left rows [" +
                  std::to_string(p.left_begin) + ", " + std::to_string(p.left_end) + ") outside the " +
                  std::to_string(left.rows()) + " rows given");
}

// A partition's left rows come from its leaves, sorted by _healpix_29 (HATS; if
// not, the sweep is only slower).
CrossmatchOptions in_sky_order(CrossmatchOptions o) {
  o.left_in_sky_order = true;
  return o;
}

Side left_side(ChunkedColumns c) {
  const bool hp = !c.chunks.empty() && c.chunks.front().healpix29;
  return Side(std::move(c), "left", hp);
}

}  // namespace

std::vector<PixelRange> partition_neighbourhood29(int order, int64_t pixel, double radius_deg) {
  const int at_order =
      std::min(kMaxHealpixOrder, std::max(order, std::min(order + kNeighbourhoodSteps, coverage_order(radius_deg))));
  const int shift = 2 * (kMaxHealpixOrder - at_order);
  std::vector<PixelRange> pieces{to_order29({pixel, pixel + 1}, order)};
  const int d = at_order - order;
  const int64_t side = int64_t{1} << d;
  for (int64_t local = 0; local < side * side; ++local) {
    // NESTED sub-index: x in the even bits, y in the odd bits.
    int64_t x = 0, y = 0;
    for (int bit = 0; bit < d; ++bit) {
      x |= ((local >> (2 * bit)) & 1) << bit;
      y |= ((local >> (2 * bit + 1)) & 1) << bit;
    }
    if (x != 0 && y != 0 && x != side - 1 && y != side - 1) continue;  // not on the boundary
    for (const PixelRange& r : pixel_neighbourhood(at_order, (pixel << (2 * d)) + local, radius_deg, at_order))
      pieces.push_back({r.begin << shift, r.end << shift});
  }
  return merge_ranges(std::move(pieces));
}

CrossmatchResult crossmatch_partitions(ChunkedColumns left_columns, ChunkedColumns right_columns,
                                       const std::vector<LeftPartition>& parts, const CrossmatchOptions& options, int threads) {
  check_crossmatch_options(options);
  const Side left = left_side(std::move(left_columns)), right(std::move(right_columns), "right", true);
  check_inputs(left, right, parts);
  const CrossmatchOptions swept = in_sky_order(options);
  std::vector<CrossmatchResult> results(parts.size());
  for_each_partition(
      left, right, parts, options.radius_arcsec / 3600.0, threads, [&](size_t i, size_t a, const PartitionWork& w) {
        CrossmatchResult r =
            crossmatch_kernel(w.lra.data(), w.ldec.data(), w.lra.size(), w.ra.data(), w.dec.data(), w.ra.size(), swept);
        for (auto& li : r.left_index) li = left.source_row(a + static_cast<size_t>(li));
        for (auto& ri : r.right_index) {  // gathered position -> right row
          const size_t k = static_cast<size_t>(
              std::upper_bound(w.span_offset.begin(), w.span_offset.end(), static_cast<size_t>(ri)) - w.span_offset.begin() - 1);
          ri = right.source_row(w.span_begin[k] + (static_cast<size_t>(ri) - w.span_offset[k]));
        }
        results[i] = std::move(r);
      });
  CrossmatchResult out;
  size_t total = 0;
  for (const auto& r : results) total += r.size();
  out.left_index.reserve(total), out.right_index.reserve(total), out.dist_arcsec.reserve(total);
  for (const auto& r : results) {
    out.left_index.insert(out.left_index.end(), r.left_index.begin(), r.left_index.end());
    out.right_index.insert(out.right_index.end(), r.right_index.begin(), r.right_index.end());
    out.dist_arcsec.insert(out.dist_arcsec.end(), r.dist_arcsec.begin(), r.dist_arcsec.end());
  }
  return out;
}

uint64_t count_partitions(ChunkedColumns left_columns, ChunkedColumns right_columns, const std::vector<LeftPartition>& parts,
                          const CrossmatchOptions& options, int threads) {
  check_crossmatch_options(options);
  const Side left = left_side(std::move(left_columns)), right(std::move(right_columns), "right", true);
  check_inputs(left, right, parts);
  const CrossmatchOptions swept = in_sky_order(options);
  std::atomic<uint64_t> count{0};
  for_each_partition(left, right, parts, options.radius_arcsec / 3600.0, threads, [&](size_t, size_t, const PartitionWork& w) {
    count += crossmatch_count(w.lra.data(), w.ldec.data(), w.lra.size(), w.ra.data(), w.dec.data(), w.ra.size(), swept);
  });
  return count;
}

}  // namespace lodestar
