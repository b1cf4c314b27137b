#include "catalog/properties.hpp"

#include <fstream>
#include <sstream>

#include "engine/duckdb_handles.hpp"

namespace lodestar {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Java properties escapes: "\:" "\=" "\ " "\\" and \n, \t.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string escape_value(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_key(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '=' || c == ':' || c == ' ' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Properties Properties::parse(const std::string& text) {
  Properties p;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == '!') continue;
    // The key ends at the first unescaped '=' or ':'.
    size_t sep = std::string::npos;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '\\') {
        ++i;
        continue;
      }
      if (t[i] == '=' || t[i] == ':') {
        sep = i;
        break;
      }
    }
    if (sep == std::string::npos) {
      p.set(unescape(t), "");
    } else {
      p.set(unescape(trim(t.substr(0, sep))), unescape(trim(t.substr(sep + 1))));
    }
  }
  return p;
}

Properties Properties::read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read properties file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse(buffer.str());
}

std::optional<std::string> Properties::get(const std::string& key) const {
  for (const auto& [k, v] : entries_)
    if (k == key) return v;
  return std::nullopt;
}

std::string Properties::get_or(const std::string& key, const std::string& fallback) const {
  auto v = get(key);
  return v ? *v : fallback;
}

std::string Properties::require(const std::string& key, const std::string& where) const {
  auto v = get(key);
  if (!v) throw Error(where + ": missing required property '" + key + "'");
  return *v;
}

void Properties::set(const std::string& key, const std::string& value) {
  for (auto& [k, v] : entries_)
    if (k == key) {
      v = value;
      return;
    }
  entries_.emplace_back(key, value);
}

std::string Properties::serialize(const std::string& comment) const {
  std::ostringstream out;
  out << "#" << comment << "\n";
  for (const auto& [k, v] : entries_) out << escape_key(k) << "=" << escape_value(v) << "\n";
  return out.str();
}

std::vector<std::string> Properties::split_list(const std::string& value) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : value) {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace lodestar
