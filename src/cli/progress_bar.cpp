#include "cli/progress_bar.hpp"

#include <cstdio>

namespace lodestar::cli {
namespace {

std::string human_rate(double per_second) {
  char buf[32];
  if (per_second >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", per_second / 1e6);
  else if (per_second >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", per_second / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", per_second);
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void ProgressBar::update(int64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // Redraw at most 10 times a second: cheap enough to call per batch.
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(done);
}

void ProgressBar::update_fraction(double fraction, int64_t rows_so_far) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (fraction < 1.0 && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  fraction_ = fraction;
  draw(rows_so_far);
}

void ProgressBar::draw(int64_t done) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  if (total_ <= 0) {
    // Unknown total: show the fraction, rows so far and an ETA from the fraction.
    const double f = std::max(0.0, fraction_);
    const double eta = f > 0 ? elapsed * (1 - f) / f : 0.0;
    std::fprintf(stderr, "\r%s %3.0f%% %lld rows, %s rows/s, ETA %.0fs   ", label_.c_str(), f * 100.0, static_cast<long long>(done),
                 human_rate(rate).c_str(), eta);
    std::fflush(stderr);
    return;
  }
  const double fraction = static_cast<double>(done) / total_;
  const int width = 30;
  const int filled = static_cast<int>(fraction * width);
  std::string bar(filled, '#');
  bar += std::string(width - filled, '.');
  const double eta = rate > 0 ? (total_ - done) / rate : 0.0;
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %lld/%lld rows, %s rows/s, ETA %.0fs ", label_.c_str(), bar.c_str(), fraction * 100.0,
               static_cast<long long>(done), static_cast<long long>(total_), human_rate(rate).c_str(), eta);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  fraction_ = 1.0;
  draw(total_);
  std::fprintf(stderr, "\n");
}

}  // namespace lodestar::cli
