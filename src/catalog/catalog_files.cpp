#include "catalog/catalog_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/duckdb_handles.hpp"
#include "engine/remote_access.hpp"

namespace fs = std::filesystem;

namespace lodestar {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

std::string normalize_catalog_path(const std::string& path) {
  std::string out = is_remote(path) ? path : fs::path(path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string path_basename(const std::string& path) {
  const std::string clean = normalize_catalog_path(path);
  const auto slash = clean.find_last_of('/');
  return slash == std::string::npos ? clean : clean.substr(slash + 1);
}

CatalogFiles::CatalogFiles(const std::string& root) : remote_(is_remote(root)) {
  if (remote_) keys_ = list_remote_files(root);
}

bool CatalogFiles::is_file(const std::string& path) const {
  if (!remote_) return fs::is_regular_file(path);
  return std::binary_search(keys_.begin(), keys_.end(), path);
}

bool CatalogFiles::is_dir(const std::string& path) const {
  if (!remote_) return fs::is_directory(path);
  const std::string prefix = path + "/";
  auto it = std::lower_bound(keys_.begin(), keys_.end(), prefix);
  return it != keys_.end() && starts_with(*it, prefix);
}

std::vector<std::pair<std::string, bool>> CatalogFiles::children(const std::string& dir) const {
  std::vector<std::pair<std::string, bool>> out;
  if (!remote_) {
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) out.emplace_back(e.path().filename().string(), e.is_directory());
  } else {
    const std::string prefix = dir + "/";
    for (auto it = std::lower_bound(keys_.begin(), keys_.end(), prefix); it != keys_.end() && starts_with(*it, prefix); ++it) {
      const std::string rest = it->substr(prefix.size());
      const auto slash = rest.find('/');
      std::pair<std::string, bool> entry{rest.substr(0, slash), slash != std::string::npos};
      if (out.empty() || out.back() != entry) out.push_back(entry);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> CatalogFiles::files_under(const std::string& dir) const {
  std::vector<std::string> out;
  if (!remote_) {
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) out.push_back(e.path().string());
  } else {
    const std::string prefix = dir + "/";
    for (auto it = std::lower_bound(keys_.begin(), keys_.end(), prefix); it != keys_.end() && starts_with(*it, prefix); ++it)
      out.push_back(*it);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string CatalogFiles::read_text(const std::string& path) const {
  if (remote_) return read_remote_text(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace lodestar
