// Remote catalog roots (s3://bucket/prefix) through DuckDB's httpfs extension:
// the one S3 client of the engine (docs/storage.md). httpfs is loaded from the
// file the `duckdb-extension-httpfs` wheel installed (same DuckDB version),
// never downloaded; credentials come from S3Settings::from_environment().
#pragma once

#include <string>
#include <vector>

#include "engine/duckdb_handles.hpp"

namespace lodestar {

// True for object-store URLs (s3://...), which the catalog layer reads
// through DuckDB instead of std::filesystem.
bool is_remote(const std::string& path);

// The httpfs extension file: $LODESTAR_HTTPFS_EXTENSION, else the
// duckdb_extension_httpfs package next to an installed lodestar package.
// Empty when neither exists.
std::string httpfs_extension_path();

// Loads httpfs into the connection's database and (re)creates Lodestar's S3
// secret and HTTP retry settings from the environment. Throws Error saying
// how to install httpfs when the extension file is missing.
void configure_remote_access(duckdb_connection con);

// Metadata I/O for remote paths, through one process-wide DuckDB database.
// Errors name the URL and where the credentials came from.
std::string read_remote_text(const std::string& url);
// Every object URL under `prefix` (recursively), sorted.
std::vector<std::string> list_remote_files(const std::string& prefix);
// Object URLs matching a glob pattern (`*` within one level), sorted.
std::vector<std::string> glob_remote(const std::string& pattern);

}  // namespace lodestar
