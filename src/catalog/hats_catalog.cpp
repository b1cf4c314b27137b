#include "catalog/hats_catalog.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>

#include "catalog/catalog_files.hpp"
#include "engine/duckdb_handles.hpp"
#include "engine/remote_access.hpp"

namespace fs = std::filesystem;

namespace lodestar {
namespace {

std::string leaf_dir(const std::string& dataset, int order, int64_t pixel) {
  return dataset + "/Norder=" + std::to_string(order) + "/Dir=" + std::to_string((pixel / 10000) * 10000);
}

std::vector<std::string> parquet_files_in(const CatalogFiles& files, const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& [name, is_dir] : files.children(dir))
    if (!is_dir && !name.empty() && name[0] != '.' && name[0] != '_') out.push_back(dir + "/" + name);
  return out;
}

// The leaf file(s) of one partition, honouring hats_npix_suffix and, when
// the expected name is absent, any `Npix=N.<suffix>` or `Npix=N/` entry.
std::vector<std::string> resolve_leaf(const CatalogFiles& files, const std::string& dataset, int order, int64_t pixel,
                                      const std::string& suffix) {
  const std::string dir = leaf_dir(dataset, order, pixel);
  const std::string stem = "Npix=" + std::to_string(pixel);
  if (suffix == "/") {
    if (files.is_dir(dir + "/" + stem)) return parquet_files_in(files, dir + "/" + stem);
  } else if (files.is_file(dir + "/" + stem + suffix)) {
    return {dir + "/" + stem + suffix};
  }
  for (const auto& [name, is_dir] : files.children(dir)) {
    if (name.rfind(stem, 0) != 0) continue;
    if (name.size() == stem.size() && is_dir) return parquet_files_in(files, dir + "/" + name);
    if (name.size() > stem.size() && name[stem.size()] == '.' && !is_dir) return {dir + "/" + name};
  }
  return {};
}

// Partition list from partition_info.csv (header names the columns; old files also have Dir).
std::vector<std::pair<int, int64_t>> read_partition_info(const CatalogFiles& files, const std::string& file) {
  std::stringstream in(files.read_text(file));
  std::string line;
  if (!std::getline(in, line)) return {};
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      cell.erase(std::remove_if(cell.begin(), cell.end(), [](char c) { return c == '\r' || c == ' '; }), cell.end());
      header.push_back(cell);
    }
  }
  const auto col = [&](const std::string& name) -> int {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<int>(i);
    return -1;
  };
  const int order_col = col("Norder"), pix_col = col("Npix");
  if (order_col < 0 || pix_col < 0) throw Error(file + ": header must name columns Norder and Npix, got: " + line);
  std::vector<std::pair<int, int64_t>> out;
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \r\n") == std::string::npos) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (static_cast<int>(cells.size()) <= std::max(order_col, pix_col))
      throw Error(file + ", line " + std::to_string(line_no) + ": expected " + std::to_string(header.size()) + " columns");
    try {
      const int order = std::stoi(cells[order_col]);
      const int64_t pixel = std::stoll(cells[pix_col]);
      if (check_order(order) || pixel < 0 || pixel >= healpix_npix(order)) throw std::invalid_argument("range");
      out.emplace_back(order, pixel);
    } catch (const std::exception&) {
      throw Error(file + ", line " + std::to_string(line_no) + ": not a valid (Norder, Npix) pair: " + line);
    }
  }
  return out;
}

// Partition list from the leaf paths under dataset/ (when partition_info.csv is absent).
std::vector<std::pair<int, int64_t>> scan_dataset(const CatalogFiles& files, const std::string& dataset) {
  static const std::regex pattern(R"(Norder=(\d+)/Dir=\d+/Npix=(\d+))");
  std::map<std::pair<int, int64_t>, bool> seen;
  for (const auto& file : files.files_under(dataset)) {
    const std::string rel = file.substr(dataset.size() + 1);
    std::smatch m;
    if (std::regex_search(rel, m, pattern)) seen[{std::stoi(m[1]), std::stoll(m[2])}] = true;
  }
  std::vector<std::pair<int, int64_t>> out;
  for (const auto& [key, _] : seen) out.push_back(key);
  return out;
}

}  // namespace

void sort_breadth_first(std::vector<Partition>& partitions) {
  std::sort(partitions.begin(), partitions.end(), [](const Partition& a, const Partition& b) {
    const auto ra = a.range29(), rb = b.range29();
    return ra.begin != rb.begin ? ra.begin < rb.begin : a.order < b.order;
  });
}

namespace {
constexpr const char* kMarkerFiles[] = {"hats.properties", "collection.properties", "properties"};
}  // namespace

bool HatsCatalog::is_marker_file(const std::string& name) {
  return std::find(std::begin(kMarkerFiles), std::end(kMarkerFiles), name) != std::end(kMarkerFiles);
}

bool HatsCatalog::is_catalog_dir(const std::string& path) {
  const std::string clean = normalize_catalog_path(path);
  if (is_remote(clean)) {
    for (const auto& f : glob_remote(clean + "/*properties"))
      if (is_marker_file(path_basename(f))) return true;
    return false;
  }
  for (const char* name : kMarkerFiles)
    if (fs::is_regular_file(clean + "/" + name)) return true;
  return false;
}

namespace {

// Remote catalogs are opened once per process (a listing and a few GETs);
// writers call HatsCatalog::forget after publishing or removing one.
std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, HatsCatalog>& remote_cache() {
  static std::map<std::string, HatsCatalog> cache;
  return cache;
}

}  // namespace

void HatsCatalog::forget(const std::string& path) {
  std::lock_guard<std::mutex> lock(cache_mutex());
  if (path.empty()) {
    remote_cache().clear();
    return;
  }
  const std::string clean = normalize_catalog_path(path);
  for (auto it = remote_cache().begin(); it != remote_cache().end();) {
    const bool inside = it->first == clean || it->first.rfind(clean + "/", 0) == 0;
    it = inside ? remote_cache().erase(it) : std::next(it);
  }
}

HatsCatalog HatsCatalog::open(const std::string& input_path) {
  const std::string clean = normalize_catalog_path(input_path);
  if (!is_remote(clean)) return open_in(CatalogFiles(clean), clean);
  {
    std::lock_guard<std::mutex> lock(cache_mutex());
    if (auto it = remote_cache().find(clean); it != remote_cache().end()) return it->second;
  }
  HatsCatalog cat = open_in(CatalogFiles(clean), clean);
  std::lock_guard<std::mutex> lock(cache_mutex());
  remote_cache().emplace(clean, cat);
  return cat;
}

HatsCatalog HatsCatalog::open_in(const CatalogFiles& files, const std::string& clean) {
  if (!files.is_dir(clean))
    throw Error("no catalog at " + clean + (files.remote() ? ": no objects under this prefix" : ": not a folder"));

  // A collection opens as its primary catalog with the default margin attached.
  if (files.is_file(clean + "/collection.properties")) {
    const std::string where = clean + "/collection.properties";
    const Properties c = Properties::parse(files.read_text(where));
    HatsCatalog primary = open_in(files, clean + "/" + c.require("hats_primary_table_url", where));
    if (auto margin = c.get("default_margin"); margin && !margin->empty()) primary.margin_path_ = clean + "/" + *margin;
    primary.collection_path_ = clean;
    return primary;
  }

  HatsCatalog cat;
  cat.path_ = clean;
  cat.default_name_ = path_basename(clean);
  if (files.is_file(clean + "/hats.properties"))
    cat.properties_ = Properties::parse(files.read_text(clean + "/hats.properties"));
  else if (files.is_file(clean + "/properties"))
    cat.properties_ = Properties::parse(files.read_text(clean + "/properties"));
  else
    throw Error("no catalog at " + clean + ": hats.properties not found");
  cat.has_common_metadata_ = files.is_file(cat.dataset_dir() + "/_common_metadata");

  std::vector<std::pair<int, int64_t>> pixels;
  const std::string info = clean + "/partition_info.csv";
  pixels = files.is_file(info) ? read_partition_info(files, info) : scan_dataset(files, cat.dataset_dir());

  const std::string suffix = cat.properties_.get_or("hats_npix_suffix", ".parquet");
  for (const auto& [order, pixel] : pixels) {
    Partition p;
    p.order = order;
    p.pixel = pixel;
    p.files = resolve_leaf(files, cat.dataset_dir(), order, pixel, suffix);
    if (p.files.empty())
      throw Error("catalog " + clean + ": partition Norder=" + std::to_string(order) + ", Npix=" + std::to_string(pixel) +
                  " has no leaf file under " + leaf_dir(cat.dataset_dir(), order, pixel));
    cat.partitions_.push_back(std::move(p));
  }
  sort_breadth_first(cat.partitions_);
  return cat;
}

int HatsCatalog::healpix_order() const {
  const std::string v = properties_.get_or("hats_col_healpix_order", "29");
  try {
    return std::stoi(v);
  } catch (const std::exception&) {
    throw Error(path_ + ": hats_col_healpix_order is not an integer: " + v);
  }
}

int64_t HatsCatalog::total_rows() const {
  auto v = properties_.get("hats_nrows");
  if (!v) return -1;
  try {
    return std::stoll(*v);
  } catch (const std::exception&) {
    return -1;
  }
}

int HatsCatalog::max_order() const {
  int m = 0;
  for (const auto& p : partitions_) m = std::max(m, p.order);
  return m;
}

std::vector<std::string> HatsCatalog::all_files() const {
  std::vector<std::string> files;
  for (const auto& p : partitions_) files.insert(files.end(), p.files.begin(), p.files.end());
  return files;
}

std::optional<std::string> HatsCatalog::common_metadata_file() const {
  if (has_common_metadata_) return dataset_dir() + "/_common_metadata";
  return std::nullopt;
}

std::optional<double> HatsCatalog::margin_threshold_arcsec() const {
  auto v = properties_.get("hats_margin_threshold");
  if (!v) return std::nullopt;
  try {
    return std::stod(*v);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace lodestar
