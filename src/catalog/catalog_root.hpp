// A catalog root: a folder holding catalogs and collections by name — the
// registry astronomers load from. Names are folder names; folders starting
// with '.' (e.g. an ingest in progress) are invisible.
#pragma once

#include <string>
#include <vector>

#include "catalog/hats_catalog.hpp"

namespace lodestar {

// $LODESTAR_ROOT if set, else ~/.lodestar/catalogs.
std::string default_catalog_root();

class CatalogRoot {
 public:
  explicit CatalogRoot(std::string path);
  const std::string& path() const { return path_; }
  std::vector<std::string> list() const;  // sorted names
  bool contains(const std::string& name) const;
  std::string path_of(const std::string& name) const;
  // Throws Error naming the root and the available catalogs when absent.
  HatsCatalog load(const std::string& name) const;

  // Rejects names that are not a single plain folder name.
  static void check_name(const std::string& name);

 private:
  std::string path_;
};

}  // namespace lodestar
