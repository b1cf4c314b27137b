// An opened HATS catalog: its properties and partitions with their leaf files.
// Opening reads metadata only (properties, partition_info.csv, a directory
// listing when needed), never the data. Accepts catalogs written by LSDB /
// hats-import as well as by Lodestar: leaf naming variants (`.parquet`,
// another suffix, `Npix=N/` directories), missing partition_info.csv, and
// collections (opened as their primary catalog with the default margin).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog/properties.hpp"
#include "core/healpix_index.hpp"

namespace lodestar {

class CatalogFiles;

struct Partition {
  int order = 0;
  int64_t pixel = 0;
  std::vector<std::string> files;  // absolute paths of the leaf's Parquet file(s)
  // The partition's interval of the spatial index at order 29.
  PixelRange range29() const { return to_order29({pixel, pixel + 1}, order); }
};

class HatsCatalog {
 public:
  // `path` is a catalog folder (with hats.properties or legacy `properties`)
  // or a collection folder (with collection.properties).
  static HatsCatalog open(const std::string& path);

  // True when `path` looks like a HATS catalog or collection folder.
  static bool is_catalog_dir(const std::string& path);
  // The file names that mark one: hats.properties, collection.properties, legacy properties.
  static bool is_marker_file(const std::string& file_name);

  // Drops cached remote catalogs at or under `path` (all when empty): remote
  // catalogs are opened once per process, local ones every time.
  static void forget(const std::string& path);

  const std::string& path() const { return path_; }
  const Properties& properties() const { return properties_; }
  std::string name() const { return properties_.get_or("obs_collection", default_name_); }
  std::string type() const { return properties_.get_or("dataproduct_type", "object"); }
  std::string ra_column() const { return properties_.get_or("hats_col_ra", "ra"); }
  std::string dec_column() const { return properties_.get_or("hats_col_dec", "dec"); }
  std::string healpix_column() const { return properties_.get_or("hats_col_healpix", "_healpix_29"); }
  int healpix_order() const;
  // hats_nrows, or -1 when the writer left it out.
  int64_t total_rows() const;
  // Deepest partition order (derived from the partitions: hats_order may be wrong in old files).
  int max_order() const;
  const std::vector<Partition>& partitions() const { return partitions_; }
  std::vector<std::string> all_files() const;
  // The folder of the dataset's Parquet files (`<path>/dataset`).
  std::string dataset_dir() const { return path_ + "/dataset"; }
  std::optional<std::string> common_metadata_file() const;

  // Margin cache attached to this catalog (from a collection's default margin), if any.
  const std::optional<std::string>& margin_path() const { return margin_path_; }
  void attach_margin(const std::string& margin_catalog_path) { margin_path_ = margin_catalog_path; }
  // For margin catalogs: hats_margin_threshold in arcseconds.
  std::optional<double> margin_threshold_arcsec() const;
  // Set when the catalog was opened through a collection folder.
  const std::optional<std::string>& collection_path() const { return collection_path_; }

 private:
  std::string path_;
  std::string default_name_;
  Properties properties_;
  std::vector<Partition> partitions_;
  std::optional<std::string> margin_path_;
  std::optional<std::string> collection_path_;
  bool has_common_metadata_ = false;

  static HatsCatalog open_in(const CatalogFiles& files, const std::string& clean_path);
};

// Breadth-first HATS order: by the start of each pixel's order-29 interval.
void sort_breadth_first(std::vector<Partition>& partitions);

}  // namespace lodestar
