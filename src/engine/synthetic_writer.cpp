#include "engine/synthetic_writer.hpp"

#include <duckdb.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/appender.hpp"
#include "engine/parquet_format.hpp"
#include "engine/sql_text.hpp"

namespace fs = std::filesystem;

namespace lodestar {
namespace {

template <typename T>
void copy_column(duckdb_data_chunk chunk, idx_t col, const std::vector<T>& src, size_t offset, idx_t n) {
  auto* dst = static_cast<T*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, col)));
  std::memcpy(dst, src.data() + offset, n * sizeof(T));
}

void append_columns(Appender& appender, const SyntheticSkyColumns& cols) {
  LogicalType big(DUCKDB_TYPE_BIGINT), dbl(DUCKDB_TYPE_DOUBLE);
  duckdb_logical_type types[6] = {big.get(), dbl.get(), dbl.get(), dbl.get(), dbl.get(), dbl.get()};
  const idx_t capacity = duckdb_vector_size();
  const size_t total = cols.source_id.size();
  for (size_t offset = 0; offset < total; offset += capacity) {
    const idx_t n = static_cast<idx_t>(std::min<size_t>(capacity, total - offset));
    DataChunk chunk(duckdb_create_data_chunk(types, 6));
    copy_column(chunk.get(), 0, cols.source_id, offset, n);
    copy_column(chunk.get(), 1, cols.ra, offset, n);
    copy_column(chunk.get(), 2, cols.dec, offset, n);
    copy_column(chunk.get(), 3, cols.mag_g, offset, n);
    copy_column(chunk.get(), 4, cols.mag_r, offset, n);
    copy_column(chunk.get(), 5, cols.mag_err, offset, n);
    duckdb_data_chunk_set_size(chunk.get(), n);
    appender.append(chunk.get());
  }
  appender.flush();
}

}  // namespace

void write_synthetic_sky(Engine& engine, const std::string& out_dir, const SyntheticWriteOptions& options) {
  if (options.rows < 0) throw Error("rows must be >= 0, got " + std::to_string(options.rows));
  if (options.rows_per_file <= 0) throw Error("rows_per_file must be > 0");
  const fs::path target(out_dir);
  if (fs::exists(target)) throw Error("refusing to overwrite existing " + target.string() + " (remove it first)");
  const fs::path staging = target.parent_path() / (".tmp-" + target.filename().string() + "-" + std::to_string(getpid()));
  fs::remove_all(staging);
  fs::create_directories(staging);
  try {
    Connection con = engine.connect();
    run_query(
        con.get(),
        "CREATE TEMP TABLE synthetic_batch(source_id BIGINT, ra DOUBLE, dec DOUBLE, mag_g DOUBLE, mag_r DOUBLE, mag_err DOUBLE)");
    SyntheticSkyColumns cols;
    int file_index = 0;
    for (int64_t first = 0; first < options.rows; first += options.rows_per_file, ++file_index) {
      const int64_t n = std::min(options.rows_per_file, options.rows - first);
      generate_synthetic_sky(options.spec, first, n, cols);
      {
        Appender appender(con.get(), "synthetic_batch");
        append_columns(appender, cols);
      }
      char name[32];
      std::snprintf(name, sizeof name, "part-%05d.parquet", file_index);
      run_query(con.get(), "COPY synthetic_batch TO " + sql_string_literal((staging / name).string()) + parquet_copy_options());
      run_query(con.get(), "DELETE FROM synthetic_batch");
      if (options.on_progress) options.on_progress(first + n);
    }
    fs::rename(staging, target);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    throw;
  }
}

}  // namespace lodestar
