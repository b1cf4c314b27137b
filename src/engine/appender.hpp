// Owning wrapper of a DuckDB appender: bulk-loads data chunks into a table.
#pragma once

#include <duckdb.h>

#include <string>

#include "engine/duckdb_handles.hpp"

namespace lodestar {

class Appender {
 public:
  Appender(duckdb_connection con, const std::string& table) {
    if (duckdb_appender_create(con, nullptr, table.c_str(), &appender_) == DuckDBError) {
      const char* e = duckdb_appender_error(appender_);
      const std::string message = e ? e : "unknown error";
      duckdb_appender_destroy(&appender_);
      throw Error("could not create an appender for " + table + ": " + message);
    }
  }
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;
  ~Appender() { duckdb_appender_destroy(&appender_); }
  void append(duckdb_data_chunk chunk) {
    if (duckdb_append_data_chunk(appender_, chunk) == DuckDBError) throw Error(std::string("append failed: ") + duckdb_appender_error(appender_));
  }
  void flush() {
    if (duckdb_appender_flush(appender_) == DuckDBError) throw Error(std::string("append failed: ") + duckdb_appender_error(appender_));
  }

 private:
  duckdb_appender appender_ = nullptr;
};

}  // namespace lodestar
