// Hands a materialized query result to Arrow consumers (pyarrow, pandas)
// through the Arrow C stream interface: columns move as buffers, never as
// per-value objects, and nested types (light-curve struct-of-lists) survive.
#pragma once

#include "engine/arrow_c_abi.h"
#include "engine/duckdb_handles.hpp"

namespace lodestar {

// Moves `result` into `out`; the stream owns it until out->release is called.
void export_arrow_stream(QueryResult&& result, ArrowArrayStream* out);

}  // namespace lodestar
