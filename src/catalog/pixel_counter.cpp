#include "catalog/pixel_counter.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "core/healpix_index.hpp"

namespace lodestar {
namespace {

// a + b, both sorted by pixel, counts of equal pixels summed.
std::vector<PixelCount> merge_counts(const std::vector<PixelCount>& a, const std::vector<PixelCount>& b) {
  std::vector<PixelCount> out;
  out.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].pixel < b[j].pixel)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].pixel < a[i].pixel) {
      out.push_back(b[j++]);
    } else {
      out.push_back({a[i].pixel, a[i].count + b[j].count});
      ++i, ++j;
    }
  }
  return out;
}

struct FreeDeleter {
  void operator()(uint32_t* p) const { std::free(p); }
};

// The counts of sorted pixels, one entry per distinct pixel.
template <typename Pixels>
std::vector<PixelCount> run_lengths(const Pixels& sorted) {
  std::vector<PixelCount> out;
  for (const auto p : sorted) {
    if (!out.empty() && out.back().pixel == static_cast<int64_t>(p))
      ++out.back().count;
    else
      out.push_back({static_cast<int64_t>(p), 1});
  }
  return out;
}

// Sorted run-length counts of `pixels` (values below 2^bits), by an LSD
// radix sort in 12-bit digits: a few linear passes, where a comparison sort
// of millions of values took 5-10 times longer.
std::vector<PixelCount> sorted_counts(std::vector<uint32_t>& pixels, int bits) {
  constexpr int kDigit = 12;
  std::vector<uint32_t> other(pixels.size());
  for (int shift = 0; shift < bits; shift += kDigit) {
    std::vector<size_t> start((size_t{1} << kDigit) + 1, 0);
    for (uint32_t p : pixels) ++start[((p >> shift) & ((1u << kDigit) - 1)) + 1];
    for (size_t d = 1; d < start.size(); ++d) start[d] += start[d - 1];
    for (uint32_t p : pixels) other[start[(p >> shift) & ((1u << kDigit) - 1)]++] = p;
    pixels.swap(other);
  }
  return run_lengths(pixels);
}

}  // namespace

// A tally at a dense order starts as a list of pixels and takes its dense
// array only once the list would outgrow it: a small catalog never pays
// for a sky-sized array (50 MB at order 10: its page faults and its sum
// cost more than a million-row ingest's plan). Deeper orders always list.
class PixelCounter::Tally {
 public:
  explicit Tally(int order) {
    if (order <= kDenseMaxOrder) {
      npix_ = healpix_npix(order);
      while ((int64_t{1} << bits_) < npix_) ++bits_;
    }
  }
  bool dense_order() const { return npix_ > 0; }
  bool has_array() const { return dense_ != nullptr; }
  void add(int64_t pixel) {
    ++rows_;
    if (dense_) {
      add_dense(pixel);
    } else if (npix_) {
      pending_.push_back(static_cast<uint32_t>(pixel));
      if (static_cast<int64_t>(pending_.size()) >= npix_ / 4) make_array();
    } else {
      sparse_.push_back(pixel);
    }
  }
  void make_array() {
    // calloc: the kernel hands out zero pages lazily, so a sky region touches
    // only the pages of its own pixels.
    dense_.reset(static_cast<uint32_t*>(std::calloc(static_cast<size_t>(npix_), sizeof(uint32_t))));
    if (!dense_) throw std::bad_alloc();
    if (bits_ > kDirectBits) {
      bucket_shift_ = bits_ - kBucketBits;
      buffer_.resize(size_t{1} << kBucketBits << kBucketLog2Size);
      fill_.assign(size_t{1} << kBucketBits, 0);
    }
    for (uint32_t p : pending_) add_dense(p);
    std::vector<uint32_t>().swap(pending_);
  }
  void flush_all() {
    for (size_t b = 0; b < fill_.size(); ++b) flush(b);
  }
  // This tally's counts, sorted by pixel; the tally is empty afterwards.
  std::vector<PixelCount> take() {
    std::vector<PixelCount> out;
    if (dense_) {
      flush_all();
      for (int64_t p = 0; p < npix_; ++p)
        if (dense_[p]) out.push_back({p, dense_[p]});
      if (rows_ > 0) std::memset(dense_.get(), 0, static_cast<size_t>(npix_) * sizeof(uint32_t));
    } else if (npix_) {
      out = sorted_counts(pending_, bits_);
      pending_.clear();
    } else {
      std::sort(sparse_.begin(), sparse_.end());
      out = run_lengths(sparse_);
      sparse_.clear();
    }
    rows_ = 0;
    return out;
  }

  // Arrays of up to 2^16 counts (256 KB) stay in cache: added to directly.
  static constexpr int kDirectBits = 16;
  static constexpr int kBucketBits = 8;      // 256 buckets
  static constexpr int kBucketLog2Size = 9;  // of 512 pixels each
  uint64_t rows_ = 0;
  int64_t invalid_ = 0;
  int64_t npix_ = 0;  // 0 beyond kDenseMaxOrder
  int bits_ = 0;      // of the largest pixel number
  std::unique_ptr<uint32_t[], FreeDeleter> dense_;
  std::vector<uint32_t> pending_;  // rows' pixels, before the dense array exists
  int bucket_shift_ = 0;
  std::vector<uint32_t> buffer_;  // kBucketBits buckets of pixels not yet added to the array
  std::vector<uint32_t> fill_;
  std::vector<int64_t> sparse_;  // beyond kDenseMaxOrder: the rows' pixels, unsorted

 private:
  void add_dense(int64_t pixel) {
    if (buffer_.empty()) {
      ++dense_[pixel];
      return;
    }
    // Input rows come in no sky order, so adding each one to a 50 MB array
    // would miss the cache (and the TLB) every time. Pixels are first
    // gathered by their top bits; a full bucket is then added in one go,
    // within 1/256 of the array.
    const auto b = static_cast<size_t>(pixel >> bucket_shift_);
    uint32_t& fill = fill_[b];
    buffer_[(b << kBucketLog2Size) + fill] = static_cast<uint32_t>(pixel);
    if (++fill == (1u << kBucketLog2Size)) flush(b);
  }
  void flush(size_t b) {
    const uint32_t* pending = buffer_.data() + (b << kBucketLog2Size);
    for (uint32_t i = 0; i < fill_[b]; ++i) ++dense_[pending[i]];
    fill_[b] = 0;
  }
};

// Sparse tallies are sorted and folded once they hold this many pixels, so
// their memory stays bounded however many rows go through.
constexpr size_t kSparseFoldSize = size_t{1} << 20;

PixelCounter::PixelCounter(int order, uint64_t fold_after_rows) : order_(order), fold_after_rows_(fold_after_rows) {}
PixelCounter::~PixelCounter() = default;

PixelCounter::Tally* PixelCounter::acquire() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!free_.empty()) {
    Tally* t = free_.back();
    free_.pop_back();
    return t;
  }
  tallies_.push_back(std::make_unique<Tally>(order_));
  return tallies_.back().get();
}

void PixelCounter::release(Tally* t) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (t->rows_ >= fold_after_rows_ || t->sparse_.size() >= kSparseFoldSize) fold(*t);
  free_.push_back(t);
}

void PixelCounter::add(Tally* t, int64_t pixel) { t->add(pixel); }
void PixelCounter::add_invalid(Tally* t) { ++t->invalid_; }

void PixelCounter::fold(Tally& t) {
  std::vector<PixelCount> counts = t.take();
  folded_ = folded_.empty() ? std::move(counts) : merge_counts(folded_, counts);
}

std::vector<PixelCount> PixelCounter::counts() {
  std::lock_guard<std::mutex> lock(mutex_);
  invalid_ = 0;
  for (auto& t : tallies_) invalid_ += t->invalid_;
  // Tallies with a dense array are summed pixel by pixel (one pass over the
  // arrays, on all cores); listed pixels of the others are added to the
  // first array, or, when no tally has one, sorted together.
  std::vector<Tally*> arrays, lists;
  uint64_t rows = 0;
  for (auto& t : tallies_) {
    if (!t->dense_order())
      fold(*t);
    else
      (t->has_array() ? arrays : lists).push_back(t.get());
    rows += t->rows_;
  }
  std::vector<PixelCount> summed;
  if (!arrays.empty() && rows < 0xFFFFFFFFu) {
    for (Tally* t : arrays) t->flush_all();
    uint32_t* first = arrays.front()->dense_.get();
    for (Tally* t : lists)
      for (uint32_t p : t->pending_) ++first[p];
    summed = sum_dense(arrays);
  } else if (!arrays.empty() || !lists.empty()) {
    // No arrays (a small catalog), or sums that may need 64 bits.
    for (Tally* t : arrays) {
      std::vector<PixelCount> c = t->take();
      folded_ = folded_.empty() ? std::move(c) : merge_counts(folded_, c);
    }
    std::vector<uint32_t> pixels;
    for (Tally* t : lists) pixels.insert(pixels.end(), t->pending_.begin(), t->pending_.end());
    summed = sorted_counts(pixels, lists.empty() ? 0 : lists.front()->bits_);
  }
  if (!summed.empty()) folded_ = folded_.empty() ? std::move(summed) : merge_counts(folded_, summed);
  return std::move(folded_);
}

// The dense tallies' sum (of fewer than 2^32 rows) as a list of non-empty pixels. An order-10 sky is
// 12.6M pixels per tally: the work is split in pixel ranges over the cores
// (the plan waits for it, with nothing else running).
std::vector<PixelCount> PixelCounter::sum_dense(const std::vector<Tally*>& dense) {
  const int64_t npix = dense.front()->npix_;
  const int parts =
      static_cast<int>(std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::max<int64_t>(1, npix >> 20)));
  std::vector<int64_t> nonempty(static_cast<size_t>(parts), 0);
  auto range = [&](int k) { return std::pair<int64_t, int64_t>{npix * k / parts, npix * (k + 1) / parts}; };
  auto in_parallel = [&](auto&& work) {
    std::vector<std::thread> threads;
    for (int k = 1; k < parts; ++k) threads.emplace_back(work, k);
    work(0);
    for (auto& t : threads) t.join();
  };
  // Pass 1: sum into the first tally, counting the non-empty pixels of each range.
  in_parallel([&](int k) {
    uint32_t* sum = dense.front()->dense_.get();
    int64_t n = 0;
    for (int64_t p = range(k).first; p < range(k).second; ++p) {
      uint64_t c = sum[p];
      for (size_t t = 1; t < dense.size(); ++t) c += dense[t]->dense_[p];
      sum[p] = static_cast<uint32_t>(c);  // the caller checked that no sum exceeds 32 bits
      n += c != 0;
    }
    nonempty[static_cast<size_t>(k)] = n;
  });
  // Pass 2: each range writes its pixels at its own offset of the list.
  std::vector<PixelCount> out(static_cast<size_t>(std::accumulate(nonempty.begin(), nonempty.end(), int64_t{0})));
  in_parallel([&](int k) {
    const uint32_t* sum = dense.front()->dense_.get();
    size_t at = static_cast<size_t>(std::accumulate(nonempty.begin(), nonempty.begin() + k, int64_t{0}));
    for (int64_t p = range(k).first; p < range(k).second; ++p)
      if (sum[p]) out[at++] = {p, sum[p]};
  });
  return out;
}

int64_t PixelCounter::invalid_rows() const { return invalid_; }

}  // namespace lodestar
