#include "engine/engine.hpp"

#include <string>
#include <thread>

#include "engine/remote_access.hpp"
#include "engine/s3_settings.hpp"
#include "engine/sql_functions.hpp"

namespace lodestar {
namespace {

class Config {
 public:
  Config() {
    if (duckdb_create_config(&config_) == DuckDBError) throw Error("could not create a DuckDB configuration");
  }
  Config(const Config&) = delete;
  Config& operator=(const Config&) = delete;
  ~Config() { duckdb_destroy_config(&config_); }
  void set(const char* name, const std::string& value) {
    if (duckdb_set_config(config_, name, value.c_str()) == DuckDBError)
      throw Error(std::string("invalid engine option ") + name + "=" + value);
  }
  duckdb_config get() const { return config_; }

 private:
  duckdb_config config_ = nullptr;
};

}  // namespace

Engine::Engine(const EngineOptions& options) {
  if (options.threads < 0) throw Error("threads must be >= 0 (0 means all cores), got " + std::to_string(options.threads));
  threads_ = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Config config;
  config.set("threads", std::to_string(threads_));
  if (!options.memory_limit.empty()) config.set("memory_limit", options.memory_limit);
  if (!options.temp_directory.empty()) config.set("temp_directory", options.temp_directory);
  // Extensions are loaded only from files Lodestar installed (see docs/storage.md);
  // never fetched at run time.
  config.set("autoinstall_known_extensions", "false");
  config.set("autoload_known_extensions", "false");

  duckdb_database db = nullptr;
  char* error = nullptr;
  if (duckdb_open_ext(nullptr, &db, config.get(), &error) == DuckDBError) {
    std::string message = error ? error : "unknown error";
    duckdb_free(error);
    throw Error("could not start the embedded DuckDB engine: " + message);
  }
  db_ = Database(db);
  Connection con(db_.get());
  register_sql_functions(con.get());
}

Connection Engine::connect() const { return Connection(db_.get()); }

void Engine::ensure_remote_access() {
  const std::string fingerprint = S3Settings::from_environment().fingerprint();
  std::lock_guard<std::mutex> lock(remote_mutex_);
  if (fingerprint == remote_fingerprint_) return;
  Connection con = connect();
  configure_remote_access(con.get());
  remote_fingerprint_ = fingerprint;
}

QueryResult Engine::query(const std::string& sql) {
  if (sql.find("s3://") != std::string::npos) ensure_remote_access();
  Connection con = connect();
  QueryResult result = run_query(con.get(), sql);
  result.keep_connection(std::move(con));
  return result;
}

QueryResult run_query(duckdb_connection con, const std::string& sql) {
  QueryResult result;
  const duckdb_state state = duckdb_query(con, sql.c_str(), result.raw());
  result.mark_valid();  // duckdb_query fills the result even on error; it must be destroyed.
  if (state == DuckDBError) {
    const char* message = duckdb_result_error(result.raw());
    throw Error(message ? message : "query failed");
  }
  return result;
}

}  // namespace lodestar
