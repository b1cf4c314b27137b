#include "engine/remote_access.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "engine/engine.hpp"
#include "engine/s3_settings.hpp"
#include "engine/sql_text.hpp"

namespace fs = std::filesystem;

namespace lodestar {
namespace {

constexpr const char* kDuckdbVersion = "v1.5.5";

std::string library_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&httpfs_extension_path), &info) == 0 || !info.dli_fname) return "";
  return fs::path(info.dli_fname).parent_path().string();
}

// One DuckDB database for metadata reads (properties, partition lists,
// listings) of remote catalogs: opening a catalog must not need the caller's engine.
// Deliberately never destroyed: tearing DuckDB (and httpfs) down during static
// destruction at exit races with the library's own globals.
Engine& metadata_engine() {
  static Engine* engine = new Engine(EngineOptions{2, "", ""});
  return *engine;
}

std::vector<std::string> column_strings(QueryResult& r) {
  std::vector<std::string> out;
  const idx_t n = duckdb_row_count(r.raw());
  for (idx_t i = 0; i < n; ++i) {
    char* v = duckdb_value_varchar(r.raw(), 0, i);
    out.emplace_back(v ? v : "");
    duckdb_free(v);
  }
  return out;
}

QueryResult metadata_query(const std::string& sql, const std::string& what) {
  try {
    return metadata_engine().query(sql);  // names an s3:// URL: the engine configures remote access first
  } catch (const Error& e) {
    throw Error("cannot " + what + ": " + e.what() + " (credentials: " + S3Settings::from_environment().source + ")");
  }
}

}  // namespace

bool is_remote(const std::string& path) { return path.rfind("s3://", 0) == 0; }

std::string httpfs_extension_path() {
  if (const char* p = std::getenv("LODESTAR_HTTPFS_EXTENSION"); p && *p) return p;
  // Installed wheel: site-packages/lodestar/lib/liblodestar.so next to site-packages/duckdb_extension_httpfs.
  const std::string lib = library_dir();
  if (!lib.empty()) {
    const fs::path candidate =
        fs::path(lib) / ".." / ".." / "duckdb_extension_httpfs" / "extensions" / kDuckdbVersion / "httpfs.duckdb_extension";
    if (fs::is_regular_file(candidate)) return fs::weakly_canonical(candidate).string();
  }
  return "";
}

void configure_remote_access(duckdb_connection con) {
  const std::string ext = httpfs_extension_path();
  if (ext.empty() || !fs::is_regular_file(ext))
    throw Error(
        "reading s3:// needs DuckDB's httpfs extension, which was not found" + (ext.empty() ? std::string() : " at " + ext) +
        ": install the pinned `duckdb-extension-httpfs` wheel (scripts/setup.sh does) or set LODESTAR_HTTPFS_EXTENSION to its "
        "httpfs.duckdb_extension file");
  const S3Settings s = S3Settings::from_environment();
  // LOAD is idempotent; the secret is replaced so that changed credentials take effect.
  run_query(con, "LOAD " + sql_string_literal(ext));
  run_query(con, s.http_settings_sql());
  run_query(con, s.secret_sql("lodestar_s3"));
}

std::string read_remote_text(const std::string& url) {
  QueryResult r = metadata_query("SELECT content FROM read_text(" + sql_string_literal(url) + ")", "read " + url);
  auto rows = column_strings(r);
  if (rows.empty()) throw Error("cannot read " + url + ": no such object");
  return rows.front();
}

std::vector<std::string> glob_remote(const std::string& pattern) {
  QueryResult r = metadata_query("SELECT file FROM glob(" + sql_string_literal(pattern) + ") ORDER BY file", "list " + pattern);
  return column_strings(r);
}

std::vector<std::string> list_remote_files(const std::string& prefix) {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/') p.pop_back();
  return glob_remote(p + "/**");
}

}  // namespace lodestar
