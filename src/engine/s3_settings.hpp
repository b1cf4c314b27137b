// Where S3 credentials and endpoints come from, the AWS way: environment
// variables first (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), then
// the profile (AWS_PROFILE, else "default") of the shared credentials and
// config files (AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE, else
// ~/.aws/credentials and ~/.aws/config). Lodestar-only knobs:
// LODESTAR_S3_URL_STYLE (vhost | path; default vhost on AWS, path on a custom
// endpoint), LODESTAR_S3_RETRIES, LODESTAR_S3_TIMEOUT_S, LODESTAR_S3_PART_SIZE_MB.
#pragma once

#include <map>
#include <string>

namespace lodestar {

struct S3Settings {
  std::string key_id, secret, session_token;
  std::string region = "us-east-1";
  std::string endpoint;  // host[:port] without scheme; empty = AWS
  bool use_ssl = true;
  std::string url_style;  // "vhost" or "path"
  int retries = 8;        // per request, with exponential backoff
  int timeout_s = 30;
  int part_size_mb = 10;  // multipart upload part size: bounds the memory of each write
  std::string source;     // where the credentials came from, for error messages

  static S3Settings from_environment();
  // A DuckDB `CREATE OR REPLACE SECRET` statement for httpfs.
  std::string secret_sql(const std::string& secret_name) const;
  // DuckDB settings for retries and timeouts.
  std::string http_settings_sql() const;
  // Equal fingerprints mean the same secret: engines re-create theirs when it changes.
  std::string fingerprint() const;
};

// Parses an AWS ini file (credentials or config) into "section" -> key -> value;
// `[profile x]` sections of the config file are returned as "x".
std::map<std::string, std::map<std::string, std::string>> parse_aws_ini(const std::string& text);

}  // namespace lodestar
