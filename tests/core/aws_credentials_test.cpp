// Credential, region and endpoint resolution: environment beats profiles beats the container
// endpoint, which is exercised against a real local HTTP server (cpp-httplib) on 127.0.0.1.
#include "core/aws_credentials.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <map>
#include <thread>

#include "core/aws_endpoint.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace assay {
namespace {

namespace fs = std::filesystem;

EnvLookup map_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class AwsCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("assay_creds_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    atomic_write(dir_ / "credentials",
                 "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = secretdefault\n"
                 "[work]\naws_access_key_id=AKWORK\naws_secret_access_key=secretwork\n"
                 "aws_session_token = tokwork\n");
    atomic_write(dir_ / "config",
                 "[default]\nregion = eu-west-1\n[profile cfgonly]\nregion=ap-south-1\n"
                 "aws_access_key_id = AKCFG\naws_secret_access_key = secretcfg\n");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::map<std::string, std::string> files() const {
    return {{"AWS_SHARED_CREDENTIALS_FILE", (dir_ / "credentials").string()},
            {"AWS_CONFIG_FILE", (dir_ / "config").string()}};
  }
  fs::path dir_;
};

TEST_F(AwsCredentialsTest, EnvironmentWinsOverProfiles) {
  auto vars = files();
  vars["AWS_ACCESS_KEY_ID"] = "AKENV";
  vars["AWS_SECRET_ACCESS_KEY"] = "secretenv";
  vars["AWS_SESSION_TOKEN"] = "tokenv";
  auto c = resolve_aws_credentials(map_env(vars), nullptr);
  EXPECT_EQ(c.access_key_id, "AKENV");
  EXPECT_EQ(c.secret_access_key, "secretenv");
  EXPECT_EQ(c.session_token, "tokenv");
  EXPECT_EQ(log::redact("x secretenv y"), "x *** y");
}

TEST_F(AwsCredentialsTest, ProfilesFromCredentialsThenConfig) {
  auto vars = files();
  auto c = resolve_aws_credentials(map_env(vars), nullptr);
  EXPECT_EQ(c.access_key_id, "AKDEFAULT");
  vars["AWS_PROFILE"] = "work";
  c = resolve_aws_credentials(map_env(vars), nullptr);
  EXPECT_EQ(c.access_key_id, "AKWORK");
  EXPECT_EQ(c.session_token, "tokwork");
  vars["AWS_PROFILE"] = "cfgonly";
  c = resolve_aws_credentials(map_env(vars), nullptr);
  EXPECT_EQ(c.access_key_id, "AKCFG");
  EXPECT_EQ(resolve_aws_region(map_env(vars)), "ap-south-1");
  vars["AWS_PROFILE"] = "nosuch";
  try {
    resolve_aws_credentials(map_env(vars), nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'nosuch'"), std::string::npos) << e.what();
  }
}

TEST_F(AwsCredentialsTest, RegionOrder) {
  auto vars = files();
  EXPECT_EQ(resolve_aws_region(map_env(vars)), "eu-west-1");
  vars["AWS_DEFAULT_REGION"] = "us-west-2";
  EXPECT_EQ(resolve_aws_region(map_env(vars)), "us-west-2");
  vars["AWS_REGION"] = "us-east-2";
  EXPECT_EQ(resolve_aws_region(map_env(vars)), "us-east-2");
}

TEST_F(AwsCredentialsTest, ContainerEndpointOverRealHttp) {
  httplib::Server server;
  std::string seen_auth;
  server.Get("/creds", [&](const httplib::Request& req, httplib::Response& res) {
    seen_auth = req.get_header_value("Authorization");
    res.set_content(
        R"({"AccessKeyId":"ASIACONT","SecretAccessKey":"contsecret","Token":"conttoken",)"
        R"("Expiration":"2026-11-22T06:00:00Z"})",
        "application/json");
  });
  server.Get("/broken", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{", "text/plain");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  HttpClientOptions http_options;
  http_options.retry.max_retries = 0;  // as AWS calls use it: the caller decides on retries
  auto http = make_curl_http_client(http_options);
  auto vars = files();
  vars["AWS_SHARED_CREDENTIALS_FILE"] = (dir_ / "none").string();
  vars["AWS_CONFIG_FILE"] = (dir_ / "none").string();
  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] =
      "http://127.0.0.1:" + std::to_string(port) + "/creds";
  vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Bearer abc";
  auto c = resolve_aws_credentials(map_env(vars), http.get());
  EXPECT_EQ(c.access_key_id, "ASIACONT");
  EXPECT_EQ(c.secret_access_key, "contsecret");
  EXPECT_EQ(c.session_token, "conttoken");
  EXPECT_EQ(seen_auth, "Bearer abc");
  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] =
      "http://127.0.0.1:" + std::to_string(port) + "/broken";
  EXPECT_THROW(resolve_aws_credentials(map_env(vars), http.get()), Error);
  http.reset();  // closes its kept-alive connection, so the server stops at once
  server.stop();
  thread.join();
}

TEST_F(AwsCredentialsTest, NothingFoundNamesWhatWasTried) {
  std::map<std::string, std::string> vars{{"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c"},
                                          {"AWS_CONFIG_FILE", "/nonexistent/k"}};
  try {
    resolve_aws_credentials(map_env(vars), nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("AWS_ACCESS_KEY_ID"), std::string::npos);
  }
}

TEST(AwsEndpointTest, OverridesAndDefaults) {
  EXPECT_EQ(resolve_aws_endpoint("sagemaker", "us-east-1", map_env({})).url,
            "https://api.sagemaker.us-east-1.amazonaws.com");
  EXPECT_EQ(resolve_aws_endpoint("s3", "eu-west-1", map_env({})).url,
            "https://s3.eu-west-1.amazonaws.com");
  auto env = map_env({{"AWS_ENDPOINT_URL", "http://127.0.0.1:5000/"},
                      {"AWS_ENDPOINT_URL_S3", "http://s3.local:9000"}});
  EXPECT_EQ(resolve_aws_endpoint("sagemaker", "us-east-1", env).url, "http://127.0.0.1:5000");
  EXPECT_TRUE(resolve_aws_endpoint("sagemaker", "us-east-1", env).custom);
  EXPECT_EQ(resolve_aws_endpoint("s3", "us-east-1", env).url, "http://s3.local:9000");
  EXPECT_THROW(resolve_aws_endpoint("sagemaker", "", map_env({})), Error);
  // AWS Batch (AWS endpoint rules): batch.<region>.amazonaws.com, AWS_ENDPOINT_URL_BATCH first.
  EXPECT_EQ(resolve_aws_endpoint("batch", "us-west-2", map_env({})).url,
            "https://batch.us-west-2.amazonaws.com");
  EXPECT_EQ(resolve_aws_endpoint("batch", "us-east-1", env).url, "http://127.0.0.1:5000");
  env = map_env({{"AWS_ENDPOINT_URL", "http://127.0.0.1:5000"},
                 {"AWS_ENDPOINT_URL_BATCH", "http://127.0.0.1:5001"}});
  EXPECT_EQ(resolve_aws_endpoint("batch", "us-east-1", env).url, "http://127.0.0.1:5001");
}

}  // namespace
}  // namespace assay
