#include "catalog/catalog_root.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "catalog/catalog_files.hpp"
#include "engine/duckdb_handles.hpp"
#include "engine/remote_access.hpp"

namespace fs = std::filesystem;

namespace lodestar {

std::string default_catalog_root() {
  if (const char* root = std::getenv("LODESTAR_ROOT"); root && *root) return root;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.lodestar/catalogs";
}

CatalogRoot::CatalogRoot(std::string path) : path_(std::move(path)) {
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
}

void CatalogRoot::check_name(const std::string& name) {
  const bool bad = name.empty() || name[0] == '.' || name.find('/') != std::string::npos ||
                   name.find('\0') != std::string::npos || name.size() > 200;
  if (bad)
    throw Error("invalid catalog name '" + name + "': use a plain folder name (letters, digits, _ - .), not starting with '.'");
}

std::vector<std::string> CatalogRoot::list() const {
  std::vector<std::string> names;
  if (is_remote(path_)) {
    // One LIST of the root's second level: <root>/<name>/<x>properties marks a catalog or collection.
    for (const auto& f : glob_remote(path_ + "/*/*properties")) {
      const std::string file = path_basename(f);
      if (!HatsCatalog::is_marker_file(file)) continue;
      const std::string dir = f.substr(0, f.size() - file.size() - 1);
      const std::string name = path_basename(dir);
      if (!name.empty() && name[0] != '.') names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }
  if (!fs::is_directory(path_)) return names;
  for (const auto& entry : fs::directory_iterator(path_)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_directory()) continue;
    if (HatsCatalog::is_catalog_dir(entry.path().string())) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool CatalogRoot::contains(const std::string& name) const { return HatsCatalog::is_catalog_dir(path_of(name)); }

std::string CatalogRoot::path_of(const std::string& name) const {
  check_name(name);
  return path_ + "/" + name;
}

HatsCatalog CatalogRoot::load(const std::string& name) const {
  if (!contains(name)) {
    std::string available;
    for (const auto& n : list()) available += (available.empty() ? "" : ", ") + n;
    throw Error("no catalog named '" + name + "' in " + path_ + " (available: " + (available.empty() ? "none" : available) + ")");
  }
  return HatsCatalog::open(path_of(name));
}

}  // namespace lodestar
