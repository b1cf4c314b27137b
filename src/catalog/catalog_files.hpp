// What opening a catalog needs to know about a folder tree — which files and
// folders exist, and the text of small metadata files — for a local folder
// (std::filesystem) or an object-store prefix (s3://, where "folders" are key
// prefixes). A remote tree is one recursive listing taken at construction, so
// resolving thousands of leaves costs a few LIST requests, not one per leaf.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace lodestar {

class CatalogFiles {
 public:
  explicit CatalogFiles(const std::string& root);

  bool remote() const { return remote_; }
  bool is_file(const std::string& path) const;
  bool is_dir(const std::string& path) const;
  // Direct children of `dir`: (name, is_dir), sorted by name.
  std::vector<std::pair<std::string, bool>> children(const std::string& dir) const;
  // Every file under `dir`, recursively (full paths), sorted.
  std::vector<std::string> files_under(const std::string& dir) const;
  // Throws Error naming the file when it cannot be read.
  std::string read_text(const std::string& path) const;

 private:
  bool remote_ = false;
  std::vector<std::string> keys_;  // remote: every object URL under the root, sorted
};

// `a/b/../c` -> `a/c` for local paths; URLs keep their form but lose trailing slashes.
std::string normalize_catalog_path(const std::string& path);
// The last path component (catalog folder name).
std::string path_basename(const std::string& path);

}  // namespace lodestar
