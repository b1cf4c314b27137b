// A terminal progress bar for long CLI work: rows done, rows/s and ETA.
// Silent when stderr is not a terminal unless forced, so logs stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lodestar::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, bool enabled);
  void update(int64_t done);
  // For work whose total is unknown: a fraction (e.g. DuckDB's scan progress) and rows so far.
  void update_fraction(double fraction, int64_t rows_so_far);
  void finish();

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  double fraction_ = -1;  // set by update_fraction
  void draw(int64_t done);
};

}  // namespace lodestar::cli
