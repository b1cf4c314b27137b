// The Engine: one embedded, in-process DuckDB database with Lodestar's
// astronomy SQL functions registered. Thread-safe: each query runs on its own
// connection, so Python threads and Dask tasks can share one Engine.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "engine/duckdb_handles.hpp"

namespace lodestar {

struct EngineOptions {
  // Worker threads DuckDB may use for one query; 0 = all cores.
  int threads = 0;
  // DuckDB memory limit, e.g. "2GB"; empty = DuckDB's default (80% of RAM).
  std::string memory_limit;
  // Where DuckDB may spill when a sort or join exceeds memory; empty = DuckDB's default.
  std::string temp_directory;
};

class Engine {
 public:
  explicit Engine(const EngineOptions& options = {});
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Runs one or more SQL statements; returns the result of the last one.
  // Throws lodestar::Error with DuckDB's message on any failure. SQL that
  // names an s3:// URL gets remote access first (ensure_remote_access).
  QueryResult query(const std::string& sql);

  // Loads httpfs and (re)creates the S3 secret when the AWS settings of the
  // environment changed since the last call; cheap otherwise.
  void ensure_remote_access();

  // A fresh connection with the astronomy functions available (they are
  // registered in the database's catalog, visible to every connection).
  Connection connect() const;

  int threads() const { return threads_; }
  duckdb_database database() const { return db_.get(); }

 private:
  Database db_;
  int threads_ = 0;
  std::mutex remote_mutex_;
  std::string remote_fingerprint_;  // settings the S3 secret was made from; empty = not loaded
};

// Runs `sql` on `con`, throwing Error on failure.
QueryResult run_query(duckdb_connection con, const std::string& sql);

}  // namespace lodestar
