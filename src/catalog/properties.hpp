// HATS `hats.properties` / `collection.properties`: Java-properties text.
// Keys keep their order and unknown keys survive a read/write round trip.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lodestar {

class Properties {
 public:
  static Properties parse(const std::string& text);
  static Properties read_file(const std::string& path);  // throws Error naming the file

  std::optional<std::string> get(const std::string& key) const;
  std::string get_or(const std::string& key, const std::string& fallback) const;
  // Throws Error("<where>: missing required property '<key>'").
  std::string require(const std::string& key, const std::string& where) const;
  void set(const std::string& key, const std::string& value);  // replaces in place or appends
  bool contains(const std::string& key) const { return get(key).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

  // `comment` becomes the first line (e.g. "HATS catalog").
  std::string serialize(const std::string& comment) const;

  // Splits a list value: HATS uses spaces, some writers commas.
  static std::vector<std::string> split_list(const std::string& value);

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

}  // namespace lodestar
