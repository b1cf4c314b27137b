// S3 settings resolved the AWS way (environment, then profile files), and the
// httpfs secret and HTTP settings built from them. No server needed: the
// end-to-end S3 tests are in tests/python/test_s3.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "catalog/catalog_files.hpp"
#include "engine/duckdb_handles.hpp"
#include "engine/remote_access.hpp"
#include "engine/s3_settings.hpp"

using namespace lodestar;
namespace fs = std::filesystem;

namespace {

// Sets environment variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  ScopedEnv() {
    for (const char* name : kNames) {
      const char* v = std::getenv(name);
      saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value)
        setenv(name.c_str(), value->c_str(), 1);
      else
        unsetenv(name.c_str());
    }
  }
  void set(const char* name, const std::string& value) { setenv(name, value.c_str(), 1); }

 private:
  static constexpr const char* kNames[] = {"AWS_ACCESS_KEY_ID",
                                           "AWS_SECRET_ACCESS_KEY",
                                           "AWS_SESSION_TOKEN",
                                           "AWS_REGION",
                                           "AWS_DEFAULT_REGION",
                                           "AWS_PROFILE",
                                           "AWS_ENDPOINT_URL",
                                           "AWS_ENDPOINT_URL_S3",
                                           "AWS_SHARED_CREDENTIALS_FILE",
                                           "AWS_CONFIG_FILE",
                                           "LODESTAR_S3_URL_STYLE",
                                           "LODESTAR_S3_RETRIES",
                                           "LODESTAR_S3_TIMEOUT_S",
                                           "LODESTAR_S3_PART_SIZE_MB",
                                           "HOME"};
  std::map<std::string, std::optional<std::string>> saved_;
};

fs::path write_file(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("lodestar-s3-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(p) << text;
  return p;
}

}  // namespace

TEST(S3Settings, EnvironmentCredentialsRegionAndEndpoint) {
  ScopedEnv env;
  env.set("HOME", "/nonexistent");
  env.set("AWS_ACCESS_KEY_ID", "AKID");
  env.set("AWS_SECRET_ACCESS_KEY", "se'cret");
  env.set("AWS_SESSION_TOKEN", "tok");
  env.set("AWS_DEFAULT_REGION", "eu-west-3");
  env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/");
  const S3Settings s = S3Settings::from_environment();
  EXPECT_EQ(s.key_id, "AKID");
  EXPECT_EQ(s.secret, "se'cret");
  EXPECT_EQ(s.session_token, "tok");
  EXPECT_EQ(s.region, "eu-west-3");
  EXPECT_EQ(s.endpoint, "127.0.0.1:9000");
  EXPECT_FALSE(s.use_ssl);
  EXPECT_EQ(s.url_style, "path");  // a custom endpoint defaults to path style
  const std::string sql = s.secret_sql("x");
  EXPECT_NE(sql.find("KEY_ID 'AKID'"), std::string::npos);
  EXPECT_NE(sql.find("SECRET 'se''cret'"), std::string::npos);  // quoted for SQL
  EXPECT_NE(sql.find("SESSION_TOKEN 'tok'"), std::string::npos);
  EXPECT_NE(sql.find("ENDPOINT '127.0.0.1:9000'"), std::string::npos);
  EXPECT_NE(sql.find("USE_SSL false"), std::string::npos);
  EXPECT_NE(s.source.find("environment"), std::string::npos);
}

TEST(S3Settings, AwsDefaultsAreVirtualHostWithTls) {
  ScopedEnv env;
  env.set("HOME", "/nonexistent");
  env.set("AWS_ACCESS_KEY_ID", "A");
  env.set("AWS_SECRET_ACCESS_KEY", "B");
  env.set("AWS_REGION", "us-west-2");
  env.set("AWS_DEFAULT_REGION", "ignored-when-AWS_REGION-is-set");
  const S3Settings s = S3Settings::from_environment();
  EXPECT_EQ(s.region, "us-west-2");
  EXPECT_TRUE(s.endpoint.empty());
  EXPECT_TRUE(s.use_ssl);
  EXPECT_EQ(s.url_style, "vhost");
  EXPECT_EQ(s.secret_sql("x").find("ENDPOINT"), std::string::npos);
  env.set("LODESTAR_S3_URL_STYLE", "path");
  EXPECT_EQ(S3Settings::from_environment().url_style, "path");
}

TEST(S3Settings, ProfileFromSharedCredentialsAndConfigFiles) {
  ScopedEnv env;
  const fs::path creds = write_file("credentials",
                                    "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n"
                                    "# a comment\n[astro]\naws_access_key_id=ASTRO\naws_secret_access_key = astrosecret\n");
  const fs::path config =
      write_file("config", "[profile astro]\nregion = ap-south-1\nendpoint_url = https://objects.example.org\n");
  env.set("AWS_SHARED_CREDENTIALS_FILE", creds.string());
  env.set("AWS_CONFIG_FILE", config.string());
  S3Settings d = S3Settings::from_environment();
  EXPECT_EQ(d.key_id, "DEF");
  EXPECT_EQ(d.region, "us-east-1");
  env.set("AWS_PROFILE", "astro");
  const S3Settings s = S3Settings::from_environment();
  EXPECT_EQ(s.key_id, "ASTRO");
  EXPECT_EQ(s.secret, "astrosecret");
  EXPECT_EQ(s.region, "ap-south-1");
  EXPECT_EQ(s.endpoint, "objects.example.org");
  EXPECT_TRUE(s.use_ssl);
  EXPECT_NE(s.source.find("profile 'astro'"), std::string::npos);
  EXPECT_NE(s.fingerprint(), d.fingerprint());  // engines re-create their secret when the profile changes
  fs::remove(creds);
  fs::remove(config);
}

TEST(S3Settings, BadKnobsAreClearErrors) {
  ScopedEnv env;
  env.set("HOME", "/nonexistent");
  env.set("LODESTAR_S3_URL_STYLE", "sideways");
  EXPECT_THROW(
      {
        try {
          S3Settings::from_environment();
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("LODESTAR_S3_URL_STYLE"), std::string::npos);
          throw;
        }
      },
      Error);
  env.set("LODESTAR_S3_URL_STYLE", "vhost");
  env.set("LODESTAR_S3_RETRIES", "many");
  EXPECT_THROW(S3Settings::from_environment(), Error);
  env.set("LODESTAR_S3_RETRIES", "3");
  env.set("LODESTAR_S3_PART_SIZE_MB", "1");  // below S3's 5 MiB minimum part
  EXPECT_THROW(S3Settings::from_environment(), Error);
  env.set("LODESTAR_S3_PART_SIZE_MB", "16");
  const S3Settings s = S3Settings::from_environment();
  EXPECT_NE(s.http_settings_sql().find("http_retries = 3"), std::string::npos);
  EXPECT_NE(s.http_settings_sql().find("s3_uploader_max_filesize = '160GB'"), std::string::npos);  // 16 MB parts
  EXPECT_TRUE(s.key_id.empty());
  EXPECT_NE(s.source.find("anonymous"), std::string::npos);
}

TEST(S3Settings, IniParserHandlesProfilesCommentsAndSpaces) {
  const auto ini = parse_aws_ini("; top comment\n[ default ]\n key = v1 \n[profile  p2 ]\nk2=v2\nnot a pair\n");
  ASSERT_EQ(ini.size(), 2u);
  EXPECT_EQ(ini.at("default").at("key"), "v1");
  EXPECT_EQ(ini.at("p2").at("k2"), "v2");
}

TEST(RemotePaths, RecognisedAndKeptVerbatim) {
  EXPECT_TRUE(is_remote("s3://bucket/root"));
  EXPECT_FALSE(is_remote("/data/s3://x"));
  EXPECT_FALSE(is_remote("relative/path"));
  // Local normalisation must not touch URLs (s3:// would become s3:/).
  EXPECT_EQ(normalize_catalog_path("s3://bucket/root/cat/"), "s3://bucket/root/cat");
  EXPECT_EQ(normalize_catalog_path("/a/b/../c/"), "/a/c");
  EXPECT_EQ(path_basename("s3://bucket/root/cat"), "cat");
}
