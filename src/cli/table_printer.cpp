#include "cli/table_printer.hpp"

#include <duckdb.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace lodestar::cli {
namespace {

std::string cell(QueryResult& result, idx_t col, idx_t row) {
  if (duckdb_value_is_null(result.raw(), col, row)) return "NULL";
  char* text = duckdb_value_varchar(result.raw(), col, row);
  std::string value = text ? text : "";
  duckdb_free(text);
  return value;
}

bool right_aligned(QueryResult& result, idx_t col) {
  switch (duckdb_column_type(result.raw(), col)) {
    case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT: case DUCKDB_TYPE_INTEGER: case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT: case DUCKDB_TYPE_USMALLINT: case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT: case DUCKDB_TYPE_FLOAT: case DUCKDB_TYPE_DOUBLE: case DUCKDB_TYPE_DECIMAL:
      return true;
    default:
      return false;
  }
}

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

int64_t print_result(QueryResult& result, const TableFormat& format, std::ostream& out) {
  const idx_t ncol = result.column_count();
  const idx_t nrow = duckdb_row_count(result.raw());
  if (format.csv) {
    for (idx_t c = 0; c < ncol; ++c) out << (c ? "," : "") << csv_escape(result.column_name(c));
    out << "\n";
    for (idx_t r = 0; r < nrow; ++r) {
      for (idx_t c = 0; c < ncol; ++c) out << (c ? "," : "") << csv_escape(cell(result, c, r));
      out << "\n";
    }
    return static_cast<int64_t>(nrow);
  }
  // Show the head and the tail when the result is long, like DuckDB's shell.
  std::vector<idx_t> rows;
  const idx_t limit = static_cast<idx_t>(std::max<int64_t>(format.max_rows, 2));
  if (nrow <= limit) {
    for (idx_t r = 0; r < nrow; ++r) rows.push_back(r);
  } else {
    for (idx_t r = 0; r < limit / 2; ++r) rows.push_back(r);
    for (idx_t r = nrow - limit / 2; r < nrow; ++r) rows.push_back(r);
  }
  std::vector<std::vector<std::string>> cells(rows.size(), std::vector<std::string>(ncol));
  std::vector<size_t> width(ncol);
  for (idx_t c = 0; c < ncol; ++c) width[c] = result.column_name(c).size();
  for (size_t i = 0; i < rows.size(); ++i)
    for (idx_t c = 0; c < ncol; ++c) {
      cells[i][c] = cell(result, c, rows[i]);
      width[c] = std::max(width[c], cells[i][c].size());
    }
  auto rule = [&] {
    for (idx_t c = 0; c < ncol; ++c) out << (c ? "-+-" : "") << std::string(width[c], '-');
    out << "\n";
  };
  auto line = [&](const std::vector<std::string>& values, bool header) {
    for (idx_t c = 0; c < ncol; ++c) {
      const std::string pad(width[c] - values[c].size(), ' ');
      out << (c ? " | " : "");
      if (!header && right_aligned(result, c)) out << pad << values[c];
      else out << values[c] << pad;
    }
    out << "\n";
  };
  std::vector<std::string> names(ncol);
  for (idx_t c = 0; c < ncol; ++c) names[c] = result.column_name(c);
  line(names, true);
  rule();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (nrow > limit && i == limit / 2) out << "… " << (nrow - limit) << " more rows …\n";
    line(cells[i], false);
  }
  return static_cast<int64_t>(nrow);
}

}  // namespace lodestar::cli
