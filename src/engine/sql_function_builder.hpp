// Helpers to declare vectorized scalar SQL functions through the DuckDB C API,
// and the registry that installs every group of functions in a new engine.
//
// A layer adds its SQL functions with
//   LODESTAR_SQL_FUNCTIONS(my_layer) { FunctionSet f("fn"); add_function(f, {...}, ret, kernel); f.register_in(con); }
// in its own .cpp; Engine runs every registered group at start-up.
#pragma once

#include <duckdb.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/duckdb_handles.hpp"

namespace lodestar::sql {

// Typed, flattened view of one input column of a chunk with its NULL mask.
template <typename T>
struct Column {
  const T* values;
  const uint64_t* validity;  // nullptr means "no NULLs in this vector"
  bool valid(idx_t row) const { return validity == nullptr || duckdb_validity_row_is_valid(const_cast<uint64_t*>(validity), row); }
};

template <typename T>
Column<T> column(duckdb_data_chunk chunk, idx_t index) {
  duckdb_vector v = duckdb_data_chunk_get_vector(chunk, index);
  return {static_cast<const T*>(duckdb_vector_get_data(v)), duckdb_vector_get_validity(v)};
}

// Output writer: values plus a validity mask made writable only when a NULL
// actually has to be written.
template <typename T>
struct Output {
  duckdb_vector vector;
  T* values;
  uint64_t* validity = nullptr;
  explicit Output(duckdb_vector v) : vector(v), values(static_cast<T*>(duckdb_vector_get_data(v))) {}
  void set_null(idx_t row) {
    if (!validity) {
      duckdb_vector_ensure_validity_writable(vector);
      validity = duckdb_vector_get_validity(vector);
    }
    duckdb_validity_set_row_invalid(validity, row);
  }
};

template <typename... Cols>
bool all_valid(idx_t row, const Cols&... cols) {
  return (cols.valid(row) && ...);
}

// Reports "function: what" as the query's error.
inline void fail(duckdb_function_info info, const char* function, const std::string& what) {
  const std::string message = std::string(function) + ": " + what;
  duckdb_scalar_function_set_error(info, message.c_str());
}

// An SQL function name with its overloads.
class FunctionSet {
 public:
  explicit FunctionSet(const char* name) : set_(duckdb_create_scalar_function_set(name)), name_(name) {}
  FunctionSet(const FunctionSet&) = delete;
  FunctionSet& operator=(const FunctionSet&) = delete;
  ~FunctionSet() { duckdb_destroy_scalar_function_set(&set_); }
  const std::string& name() const { return name_; }
  duckdb_scalar_function_set get() const { return set_; }
  void register_in(duckdb_connection con) {
    if (duckdb_register_scalar_function_set(con, set_) == DuckDBError) throw Error("could not register SQL function " + name_);
  }

 private:
  duckdb_scalar_function_set set_;
  std::string name_;
};

// Adds one overload with primitive parameter and return types.
void add_function(FunctionSet& set, const std::vector<duckdb_type>& params, duckdb_type ret, duckdb_scalar_function_t kernel);

// Adds one overload with arbitrary logical types (LIST, STRUCT, ...); the
// caller keeps ownership of the types.
void add_function(FunctionSet& set, const std::vector<duckdb_logical_type>& params, duckdb_logical_type ret,
                  duckdb_scalar_function_t kernel);

using RegisterFunctions = void (*)(duckdb_connection);
std::vector<std::pair<const char*, RegisterFunctions>>& function_groups();
struct FunctionGroupRegistrar {
  FunctionGroupRegistrar(const char* name, RegisterFunctions fn) { function_groups().emplace_back(name, fn); }
};

// Installs every registered group on `con` (called by Engine).
void register_all_functions(duckdb_connection con);

}  // namespace lodestar::sql

#define LODESTAR_SQL_FUNCTIONS(name)                                                             \
  static void lodestar_sql_##name(duckdb_connection con);                                        \
  static ::lodestar::sql::FunctionGroupRegistrar lodestar_sql_registrar_##name(#name, lodestar_sql_##name); \
  static void lodestar_sql_##name(duckdb_connection con)
