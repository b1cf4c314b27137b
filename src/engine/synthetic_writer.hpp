// Writes the synthetic sky (core/synthetic_sky) as Parquet through DuckDB,
// batch by batch, so memory stays bounded whatever the row count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/synthetic_sky.hpp"
#include "engine/engine.hpp"

namespace lodestar {

struct SyntheticWriteOptions {
  int64_t rows = 1'000'000;
  int64_t rows_per_file = 1'000'000;
  SyntheticSkySpec spec;
  // Called after each file with the number of rows written so far.
  std::function<void(int64_t rows_done)> on_progress;
};

// Writes part-NNNNN.parquet files into `out_dir`. The folder appears only when
// complete (written under a temporary name beside it, then renamed). Refuses
// to replace an existing folder.
void write_synthetic_sky(Engine& engine, const std::string& out_dir, const SyntheticWriteOptions& options);

}  // namespace lodestar
