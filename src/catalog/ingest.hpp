// Ingest: CSV, Parquet or FITS tables into a HATS catalog of a catalog root.
//
// Streaming with bounded memory (DuckDB's memory limit; its external sort
// and its tables spill to the staging folder), in three passes:
//   1. read the input once, adding `_healpix_29`, sorted by it into a table
//      of the ingest's own in-memory DuckDB database;
//   2. histogram `_healpix_29` at `highest_order` (one scan of that column)
//      and plan partitions (hats-import rules);
//   3. cut each partition's contiguous range out of the sorted table (row
//      groups pruned by their zone maps) into its leaf;
// then `_common_metadata`, `partition_info.csv`, `hats.properties` and the
// `skymap.fits` count map. (A staging Parquet file instead of the table cost
// an encode and a decode of every row: ~2x slower at 1e6 rows.)
// Everything is written under `<root>/.ingest-<name>-<pid>/` and published by
// one rename: a catalog is visible only when complete.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/partition_plan.hpp"

namespace lodestar {

struct IngestProgress {
  std::string phase;   // "read", "plan", "write", "margin", "publish"
  double fraction;     // of this phase, 0..1
  int64_t rows_done;   // rows read (read phase) or written (write phase)
  int64_t rows_total;  // 0 while unknown
};

struct IngestOptions {
  std::vector<std::string> inputs;  // files or glob patterns
  std::string name;
  std::string root;
  std::string ra_column;   // empty: recognised (ra, RA, ra_deg, RAJ2000, ...)
  std::string dec_column;  // empty: recognised
  int64_t pixel_threshold = 1'000'000;
  int highest_order = 10;
  bool overwrite = false;
  // Rows with missing/NaN/out-of-range coordinates: rejected (error naming
  // the first one) unless this is set, then dropped and counted.
  bool drop_invalid_coordinates = false;
  std::string memory_limit = "2GB";
  int threads = 0;
  int64_t row_group_rows = 20'000;
  std::map<std::string, std::string> csv_types;  // column -> SQL type, overriding detection
  std::function<void(const IngestProgress&)> on_progress;
  // Called with the finished but unpublished catalog folder (leaves, metadata,
  // skymap.fits written) just before the rename that publishes it: a caller
  // may add files there (the Python package writes dataset/_metadata with
  // pyarrow). An exception aborts the ingest and leaves nothing visible.
  std::function<void(const std::string& catalog_dir)> before_publish;
};

struct IngestReport {
  std::string path;
  int64_t rows = 0;
  int64_t dropped_rows = 0;
  std::vector<PlannedPartition> partitions;
  std::vector<PixelCount> histogram;  // at histogram_order
  int histogram_order = 0;
  std::string ra_column, dec_column;
  std::vector<std::string> notes;  // e.g. skipped FITS vector columns
  double seconds = 0;
  std::vector<std::pair<std::string, double>> phase_seconds;  // wall time of each pass, in order
};

IngestReport ingest_catalog(const IngestOptions& options);

// Recognised coordinate column names, in order of preference.
const std::vector<std::string>& ra_column_candidates();
const std::vector<std::string>& dec_column_candidates();

}  // namespace lodestar
