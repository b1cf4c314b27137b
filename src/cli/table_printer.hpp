// Renders a query result as an aligned text table (or CSV) for the terminal.
#pragma once

#include <cstdint>
#include <iosfwd>

#include "engine/duckdb_handles.hpp"

namespace lodestar::cli {

struct TableFormat {
  int64_t max_rows = 40;  // rows shown; the rest are summarized as "…"
  bool csv = false;       // CSV prints every row
};

// Prints `result` and returns its total row count.
int64_t print_result(QueryResult& result, const TableFormat& format, std::ostream& out);

}  // namespace lodestar::cli
