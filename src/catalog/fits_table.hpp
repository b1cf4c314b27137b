// Reads the first table HDU of a FITS file (cfitsio) and writes it as Parquet
// through DuckDB, in bounded row batches, so ingest can treat FITS like any
// other Parquet input. Scalar columns are kept (integers as BIGINT, floats as
// DOUBLE, logicals as BOOLEAN, strings as VARCHAR); vector columns are skipped
// and reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace lodestar {

struct FitsConversion {
  int64_t rows = 0;
  std::vector<std::string> parquet_files;
  std::vector<std::string> skipped_columns;  // "NAME (reason)"
};

// Writes <out_prefix>-NNNNN.parquet files. Throws Error naming the file when it
// is not FITS, holds no table, or cannot be read.
FitsConversion convert_fits_table(Engine& engine, const std::string& fits_path, const std::string& out_prefix,
                                  int64_t rows_per_file = 1'000'000);

}  // namespace lodestar
