#include "engine/s3_settings.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/duckdb_handles.hpp"
#include "engine/sql_text.hpp"

namespace lodestar {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string read_file_or_empty(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string home_file(const char* override_var, const char* relative) {
  if (auto v = env(override_var); !v.empty()) return v;
  const std::string home = env("HOME");
  return home.empty() ? "" : home + "/" + relative;
}

int env_int(const char* name, int fallback, int lo, int hi) {
  const std::string v = env(name);
  if (v.empty()) return fallback;
  try {
    const int x = std::stoi(v);
    if (x < lo || x > hi) throw std::out_of_range("range");
    return x;
  } catch (const std::exception&) {
    throw Error(std::string(name) + " must be an integer within [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                v + "'");
  }
}

}  // namespace

std::map<std::string, std::map<std::string, std::string>> parse_aws_ini(const std::string& text) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string section;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      if (section.rfind("profile ", 0) == 0) section = trim(section.substr(8));
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos || section.empty()) continue;
    out[section][trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return out;
}

S3Settings S3Settings::from_environment() {
  S3Settings s;
  const std::string profile = env("AWS_PROFILE").empty() ? "default" : env("AWS_PROFILE");
  const auto credentials = parse_aws_ini(read_file_or_empty(home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")));
  const auto config = parse_aws_ini(read_file_or_empty(home_file("AWS_CONFIG_FILE", ".aws/config")));
  const auto from_profile = [&](const std::map<std::string, std::map<std::string, std::string>>& ini, const std::string& key) {
    auto p = ini.find(profile);
    if (p == ini.end()) return std::string();
    auto v = p->second.find(key);
    return v == p->second.end() ? std::string() : v->second;
  };

  if (!env("AWS_ACCESS_KEY_ID").empty()) {
    s.key_id = env("AWS_ACCESS_KEY_ID");
    s.secret = env("AWS_SECRET_ACCESS_KEY");
    s.session_token = env("AWS_SESSION_TOKEN");
    s.source = "the environment (AWS_ACCESS_KEY_ID)";
  } else {
    for (const auto* ini : {&credentials, &config}) {
      if (!from_profile(*ini, "aws_access_key_id").empty()) {
        s.key_id = from_profile(*ini, "aws_access_key_id");
        s.secret = from_profile(*ini, "aws_secret_access_key");
        s.session_token = from_profile(*ini, "aws_session_token");
        s.source =
            "profile '" + profile + "' of the AWS " + std::string(ini == &credentials ? "credentials" : "config") + " file";
        break;
      }
    }
    if (s.source.empty()) s.source = "no credentials (anonymous requests)";
  }

  if (auto r = env("AWS_REGION"); !r.empty())
    s.region = r;
  else if (auto dr = env("AWS_DEFAULT_REGION"); !dr.empty())
    s.region = dr;
  else if (auto pr = from_profile(config, "region"); !pr.empty())
    s.region = pr;

  std::string endpoint = env("AWS_ENDPOINT_URL_S3");
  if (endpoint.empty()) endpoint = env("AWS_ENDPOINT_URL");
  if (endpoint.empty()) endpoint = from_profile(config, "endpoint_url");
  if (!endpoint.empty()) {
    if (endpoint.rfind("http://", 0) == 0) {
      s.use_ssl = false;
      endpoint = endpoint.substr(7);
    } else if (endpoint.rfind("https://", 0) == 0) {
      endpoint = endpoint.substr(8);
    }
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    s.endpoint = endpoint;
  }
  s.url_style = env("LODESTAR_S3_URL_STYLE");
  if (s.url_style.empty()) s.url_style = s.endpoint.empty() ? "vhost" : "path";
  if (s.url_style != "vhost" && s.url_style != "path")
    throw Error("LODESTAR_S3_URL_STYLE must be 'vhost' or 'path', got '" + s.url_style + "'");
  s.retries = env_int("LODESTAR_S3_RETRIES", s.retries, 0, 100);
  s.timeout_s = env_int("LODESTAR_S3_TIMEOUT_S", s.timeout_s, 1, 3600);
  s.part_size_mb = env_int("LODESTAR_S3_PART_SIZE_MB", s.part_size_mb, 5, 5120);  // S3's part size limits
  return s;
}

std::string S3Settings::secret_sql(const std::string& secret_name) const {
  std::string sql = "CREATE OR REPLACE SECRET " + sql_identifier(secret_name) + " (TYPE s3, PROVIDER config";
  if (!key_id.empty()) sql += ", KEY_ID " + sql_string_literal(key_id) + ", SECRET " + sql_string_literal(secret);
  if (!session_token.empty()) sql += ", SESSION_TOKEN " + sql_string_literal(session_token);
  sql += ", REGION " + sql_string_literal(region);
  if (!endpoint.empty()) sql += ", ENDPOINT " + sql_string_literal(endpoint);
  sql += ", URL_STYLE " + sql_string_literal(url_style);
  sql += std::string(", USE_SSL ") + (use_ssl ? "true" : "false");
  return sql + ")";
}

std::string S3Settings::http_settings_sql() const {
  // Exponential backoff from 100 ms doubles per retry: 8 retries wait ~25 s in all at most.
  return "SET GLOBAL http_retries = " + std::to_string(retries) +
         "; SET GLOBAL http_retry_wait_ms = 100; SET GLOBAL http_retry_backoff = 2; " +
         "SET GLOBAL http_timeout = " + std::to_string(timeout_s) +
         // No process-lifetime HTTP/footer caches: an overwritten catalog's objects keep their keys, and
         // those caches would serve the old sizes and footers (catalog metadata is cached by HatsCatalog::open).
         ";" +
         // httpfs sizes parts as max file size / 10,000 parts.
         " SET GLOBAL s3_uploader_max_filesize = '" + std::to_string(part_size_mb * 10) + "GB';";
}

std::string S3Settings::fingerprint() const {
  return key_id + '\n' + secret + '\n' + session_token + '\n' + region + '\n' + endpoint + '\n' + (use_ssl ? "1" : "0") +
         url_style + '\n' + std::to_string(retries) + '\n' + std::to_string(timeout_s) + '\n' + std::to_string(part_size_mb);
}

}  // namespace lodestar
