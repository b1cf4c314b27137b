// Owning wrappers for the DuckDB C API handles Lodestar uses, so every
// database, connection and result is released exactly once, even on errors.
#pragma once

#include <duckdb.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace lodestar {

// Any failure reported by DuckDB or by Lodestar's own validation; the message
// is meant for the user and names what was wrong.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Database {
 public:
  Database() = default;
  explicit Database(duckdb_database db) : db_(db) {}
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Database& operator=(Database&& other) noexcept {
    if (this != &other) {
      if (db_) duckdb_close(&db_);
      db_ = std::exchange(other.db_, nullptr);
    }
    return *this;
  }
  ~Database() {
    if (db_) duckdb_close(&db_);
  }
  duckdb_database get() const { return db_; }

 private:
  duckdb_database db_ = nullptr;
};

class Connection {
 public:
  Connection() = default;
  explicit Connection(duckdb_database db) {
    if (duckdb_connect(db, &con_) == DuckDBError) throw Error("could not open a DuckDB connection");
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&& other) noexcept : con_(std::exchange(other.con_, nullptr)) {}
  Connection& operator=(Connection&& other) noexcept {
    if (this != &other) {
      if (con_) duckdb_disconnect(&con_);
      con_ = std::exchange(other.con_, nullptr);
    }
    return *this;
  }
  ~Connection() {
    if (con_) duckdb_disconnect(&con_);
  }
  duckdb_connection get() const { return con_; }

 private:
  duckdb_connection con_ = nullptr;
};

// A query result (materialized, or streaming when run so). Moves only. It may own the connection that
// produced it: the result's Arrow export reads that connection's client
// context, so the connection must outlive the result.
class QueryResult {
 public:
  QueryResult() = default;
  QueryResult(const QueryResult&) = delete;
  QueryResult& operator=(const QueryResult&) = delete;
  QueryResult(QueryResult&& other) noexcept
      : result_(other.result_), valid_(std::exchange(other.valid_, false)), owner_(std::move(other.owner_)) {}
  QueryResult& operator=(QueryResult&& other) noexcept {
    if (this != &other) {
      if (valid_) duckdb_destroy_result(&result_);
      result_ = other.result_;
      valid_ = std::exchange(other.valid_, false);
      owner_ = std::move(other.owner_);
    }
    return *this;
  }
  ~QueryResult() {
    if (valid_) duckdb_destroy_result(&result_);
    // owner_ (the connection) is destroyed after this body: after the result.
  }
  void keep_connection(Connection&& con) { owner_ = std::move(con); }
  duckdb_result* raw() { return &result_; }
  void mark_valid() { valid_ = true; }
  idx_t column_count() { return duckdb_column_count(&result_); }
  std::string column_name(idx_t col) { return duckdb_column_name(&result_, col); }

 private:
  duckdb_result result_{};
  bool valid_ = false;
  Connection owner_;
};

class DataChunk {
 public:
  explicit DataChunk(duckdb_data_chunk chunk) : chunk_(chunk) {}
  DataChunk(const DataChunk&) = delete;
  DataChunk& operator=(const DataChunk&) = delete;
  DataChunk(DataChunk&& other) noexcept : chunk_(std::exchange(other.chunk_, nullptr)) {}
  ~DataChunk() {
    if (chunk_) duckdb_destroy_data_chunk(&chunk_);
  }
  duckdb_data_chunk get() const { return chunk_; }
  explicit operator bool() const { return chunk_ != nullptr; }

 private:
  duckdb_data_chunk chunk_;
};

class LogicalType {
 public:
  explicit LogicalType(duckdb_type id) : type_(duckdb_create_logical_type(id)) {}
  explicit LogicalType(duckdb_logical_type t) : type_(t) {}
  LogicalType(const LogicalType&) = delete;
  LogicalType& operator=(const LogicalType&) = delete;
  LogicalType(LogicalType&& other) noexcept : type_(std::exchange(other.type_, nullptr)) {}
  ~LogicalType() {
    if (type_) duckdb_destroy_logical_type(&type_);
  }
  duckdb_logical_type get() const { return type_; }

 private:
  duckdb_logical_type type_;
};

}  // namespace lodestar
