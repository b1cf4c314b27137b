// Quoting for SQL text built by Lodestar (paths, names).
#pragma once

#include <string>

namespace lodestar {

// 'text' with embedded quotes doubled.
inline std::string sql_string_literal(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// "identifier" with embedded double quotes doubled.
inline std::string sql_identifier(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

}  // namespace lodestar
