// Lodestar's astronomy SQL functions, registered in one place (the pattern of
// a DuckDB extension's load function). Each is a small vectorized loop over
// the kernels in core/.
#pragma once

#include <duckdb.h>

namespace lodestar {

// Registers ang_sep, healpix_nest, healpix29, healpix_parent and
// cone_contains. Throws lodestar::Error if DuckDB refuses one.
void register_sql_functions(duckdb_connection con);

}  // namespace lodestar
