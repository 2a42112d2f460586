// The `bedrock` judge end to end through `evaluate score`:
// - Converse against a local endpoint (fake_bedrock_endpoint.py) that recomputes every request's
//   SigV4 signature with botocore's signer, session token included, and checks the path (a
//   cross-region inference profile id whose ':' travels as %3A) and the body; a throttled request
//   (429 ThrottlingException) is asked again; usage and cost come from the Converse usage fields;
//   a rerun makes no call. InvokeModel with the Anthropic body against the same endpoint.
// - A wrong secret is a clear error naming the AWS error (exit 4), and neither the secret nor the
//   session token appears in stdout, stderr or any file of the run folder.
// - moto_server's bedrock-runtime InvokeModel with signature checking on
//   (INITIAL_NO_AUTH_ACTION_COUNT): moto 5.2.1 DOES verify SigV4 for bedrock-runtime (a wrong
//   secret gets 403 SignatureDoesNotMatch; the note in AWS-NOTES that it does not is wrong for
//   this mode). It answers a correctly signed InvokeModel with 200 "{}", which the provider reports
//   as an envelope error. moto builds the canonical path from the decoded path, so a model id with
//   ':' fails its check even from boto3 (checked by hand: boto3's invoke_model gets 403 there);
//   the moto case therefore uses a model id without ':', and the botocore endpoint above covers
//   ':' ids.
// Skips visibly without python3 + botocore, or without moto_server.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::shell_quote;

const fs::path kRepo = ASSAY_SOURCE_DIR;
const std::string kKeyId = "AKIDBEDROCKTEST";
const std::string kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYBEDROCKSECRET";
const std::string kToken = "IQoJb3JpZ2luX2VjEBEDROCKSESSIONTOKEN0123456789";
const std::string kModel = "us.anthropic.claude-3-5-haiku-20241022-v1:0";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool have_botocore() {
  return testing::run_command("python3 -c 'import botocore.auth'").exit_code == 0;
}

// The fake endpoint in the background; its port, or 0 when it could not start.
class Endpoint {
 public:
  Endpoint(const testing::TempDir& tmp, const std::string& api, const std::string& model)
      : log_(tmp / ("requests-" + api + ".jsonl")),
        server_("python3 " + shell_quote((kRepo / "tests/e2e/fake_bedrock_endpoint.py").string()) +
                    " --port-file " + shell_quote((tmp / ("port-" + api)).string()) + " --log " +
                    shell_quote(log_.string()) + " --secret " + shell_quote(kSecret) + " --token " +
                    shell_quote(kToken) + " --model " + shell_quote(model) + " --api " + api,
                tmp / ("port-" + api), tmp / ("endpoint-" + api + ".out")) {}
  int port() const { return server_.port(); }
  std::vector<json> requests() const {
    return fs::exists(log_) ? testing::read_json_lines(log_, true) : std::vector<json>{};
  }

 private:
  fs::path log_;
  testing::PortFileServer server_;
};

fs::path write_dataset(const fs::path& dir) {
  fs::path p = dir / "data.jsonl";
  std::ofstream out(p);
  for (int i = 0; i < 6; ++i) {
    out << json{{"id", "s" + std::to_string(i)},
                {"instruction", "SAMPLE-" + std::to_string(i) + ": what is it?"},
                {"output", "answer"},
                {"prediction", "answer"}}
               .dump()
        << "\n";
  }
  return p;
}

// `evaluate score` with the bedrock judge; `env` adds or overrides variables.
testing::ProcessResult score(const fs::path& data, const fs::path& out, const std::string& env) {
  return testing::run_command(
      std::string(testing::kCleanEvaluateEnv) +
      "env -u AWS_PROFILE -u AWS_ENDPOINT_URL -u ANTHROPIC_API_KEY -u JUDGE_MODEL "
      "-u JUDGE_MAX_COST_USD -u JUDGE_BEDROCK_API -u JUDGE_REGION JUDGE_PROVIDER=bedrock "
      "AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=" +
      kKeyId + " " + env + " " + shell_quote(ASSAY_EVALUATE_BIN) + " score --dataset " +
      shell_quote(data.string()) + " --output " + shell_quote(out.string()) +
      " --metrics exact_match --log-level debug");
}

std::string signed_env(const Endpoint& ep, const std::string& secret) {
  return "AWS_SECRET_ACCESS_KEY=" + shell_quote(secret) +
         " AWS_SESSION_TOKEN=" + shell_quote(kToken) +
         " AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:" + std::to_string(ep.port()) +
         " JUDGE_MODEL=" + shell_quote(kModel);
}

// No secret in the output or in any file of the run folder.
void expect_no_secrets(const testing::ProcessResult& out, const fs::path& run_dir,
                       const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    EXPECT_EQ(out.output.find(s), std::string::npos) << "secret in stdout/stderr";
    for (const auto& e : fs::recursive_directory_iterator(run_dir)) {
      if (e.is_regular_file()) {
        EXPECT_EQ(read_all(e.path()).find(s), std::string::npos) << e.path();
      }
    }
  }
}

TEST(EvaluateBedrock, ConverseSignedAndCheckedByBotocoreThenARerunMakesNoCall) {
  if (!have_botocore()) GTEST_SKIP() << "python3 with botocore not found";
  testing::TempDir tmp;
  Endpoint ep(tmp, "converse", kModel);
  ASSERT_GT(ep.port(), 0) << read_all(tmp / "endpoint-converse.out");
  const fs::path data = write_dataset(tmp.path());
  auto out = score(data, tmp / "run", signed_env(ep, kSecret));
  ASSERT_EQ(out.exit_code, 0) << out.output << read_all(tmp / "endpoint-converse.out");
  int throttled = 0, ok = 0;
  for (const json& q : ep.requests()) {
    EXPECT_EQ(q["path"], "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse") << q;
    EXPECT_FALSE(q.contains("problem")) << q;
    throttled += q["status"] == 429;
    ok += q["status"] == 200;
  }
  EXPECT_EQ(throttled, 1);  // SAMPLE-2's first request, asked again
  EXPECT_EQ(ok, 6);
  for (const json& s : testing::read_json_lines(tmp / "run/scores.jsonl")) {
    const int n = std::stoi(s["id"].get<std::string>().substr(1));
    EXPECT_EQ(s["judges"]["accuracy"]["score"], 1 + n % 3) << s;
    EXPECT_EQ(s["judges"]["style"]["score"], 1 + (n / 3) % 3) << s;
  }
  json usage = json::parse(read_all(tmp / "run/summary.json"))["judge_usage"];
  EXPECT_EQ(usage["provider"], "bedrock");
  EXPECT_EQ(usage["calls"], 6);
  EXPECT_EQ(usage["prompt_tokens"], 600);  // usage.inputTokens 100 per reply
  EXPECT_EQ(usage["completion_tokens"], 120);
  // Claude 3.5 Haiku on Bedrock, $0.80 / $4 per 1M tokens: 600 * 0.8e-6 + 120 * 4e-6.
  EXPECT_NEAR(usage["cost_usd"].get<double>(), 0.00096, 1e-12);
  expect_no_secrets(out, tmp / "run", {kSecret, kToken});

  const size_t sent = ep.requests().size();
  auto again = score(data, tmp / "run", signed_env(ep, kSecret));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(ep.requests().size(), sent);  // the rerun asked nothing
}

TEST(EvaluateBedrock, InvokeModelSendsTheAnthropicBody) {
  if (!have_botocore()) GTEST_SKIP() << "python3 with botocore not found";
  testing::TempDir tmp;
  const std::string model = "anthropic.claude-3-haiku-20240307-v1:0";
  Endpoint ep(tmp, "invoke", model);
  ASSERT_GT(ep.port(), 0) << read_all(tmp / "endpoint-invoke.out");
  auto out = score(write_dataset(tmp.path()), tmp / "run",
                   signed_env(ep, kSecret) + " JUDGE_MODEL=" + model + " JUDGE_BEDROCK_API=invoke");
  ASSERT_EQ(out.exit_code, 0) << out.output << read_all(tmp / "endpoint-invoke.out");
  for (const json& q : ep.requests()) {
    EXPECT_EQ(q["path"], "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke") << q;
    EXPECT_FALSE(q.contains("problem")) << q;
  }
  json usage = json::parse(read_all(tmp / "run/summary.json"))["judge_usage"];
  EXPECT_EQ(usage["prompt_tokens"], 600);  // usage.input_tokens 100 per reply
  // Claude 3 Haiku on Bedrock, $0.25 / $1.25 per 1M tokens.
  EXPECT_NEAR(usage["cost_usd"].get<double>(), 600 * 0.25e-6 + 120 * 1.25e-6, 1e-12);
}

TEST(EvaluateBedrock, WrongSecretIsAClearErrorAndNoSecretIsWritten) {
  if (!have_botocore()) GTEST_SKIP() << "python3 with botocore not found";
  testing::TempDir tmp;
  Endpoint ep(tmp, "converse", kModel);
  ASSERT_GT(ep.port(), 0);
  const std::string wrong = "wrongSecretKeyForTheBedrockTest000000000";
  auto out = score(write_dataset(tmp.path()), tmp / "run", signed_env(ep, wrong));
  EXPECT_EQ(out.exit_code, 4) << out.output;
  EXPECT_NE(out.output.find("judge bedrock refused the request: http 403 after 1 attempts: "
                            "InvalidSignatureException: The request signature we calculated"),
            std::string::npos)
      << out.output;
  expect_no_secrets(out, tmp / "run", {wrong, kSecret, kToken});
}

// moto_server with signature checking on: an IAM user and its key made in the first 3
// (unauthenticated) requests, then InvokeModel signed with the right and a wrong secret.
TEST(EvaluateBedrock, InvokeModelThroughMotoServerWithSignatureChecking) {
  if (testing::run_command("command -v moto_server").exit_code != 0) {
    GTEST_SKIP() << "moto_server not found (pip install 'moto[server]')";
  }
  testing::TempDir tmp;
  const auto port_probe = testing::run_command(
      "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); "
      "print(s.getsockname()[1])'");
  ASSERT_EQ(port_probe.exit_code, 0) << port_probe.output;
  const std::string port = std::to_string(std::stoi(port_probe.output));
  auto moto = testing::start_background(
      "env INITIAL_NO_AUTH_ACTION_COUNT=3 moto_server -H 127.0.0.1 -p " + port, tmp / "moto.log");
  const std::string url = "http://127.0.0.1:" + port;
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = testing::run_command("curl -s -o /dev/null " + url + "/moto-api/").exit_code == 0;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << read_all(tmp / "moto.log");
  // IAM's query API (routed by the credential scope's service; these 3 requests are not
  // checked): a user, an allow-all policy, an access key ("KEYID SECRET").
  const std::string iam = R"(python3 -c '
import re, sys, urllib.parse, urllib.request
def call(**p):
    p["Version"] = "2010-05-08"
    q = urllib.request.Request(sys.argv[1], urllib.parse.urlencode(p).encode(), {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00",
        "Content-Type": "application/x-www-form-urlencoded"})
    return urllib.request.urlopen(q).read().decode()
call(Action="CreateUser", UserName="judge")
call(Action="PutUserPolicy", UserName="judge", PolicyName="all", PolicyDocument=
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}")
x = call(Action="CreateAccessKey", UserName="judge")
print(re.search("<AccessKeyId>(.*?)</", x).group(1), re.search("<SecretAccessKey>(.*?)</", x).group(1))
' )" + url + "/";
  auto key = testing::run_command(iam);
  ASSERT_EQ(key.exit_code, 0) << key.output;
  std::istringstream words(key.output);
  std::string key_id, secret;
  words >> key_id >> secret;
  ASSERT_FALSE(secret.empty()) << key.output;
  const fs::path data = write_dataset(tmp.path());
  auto invoke = [&](const std::string& with_secret, const fs::path& run_dir) {
    return testing::run_command(
        std::string(testing::kCleanEvaluateEnv) +
        "env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL -u JUDGE_MAX_COST_USD "
        "JUDGE_PROVIDER=bedrock JUDGE_BEDROCK_API=invoke JUDGE_MODEL=anthropic.claude-v2 "
        "JUDGE_MAX_RETRIES=0 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=" +
        key_id + " AWS_SECRET_ACCESS_KEY=" + shell_quote(with_secret) +
        " AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + url + " " + shell_quote(ASSAY_EVALUATE_BIN) +
        " score --dataset " + shell_quote(data.string()) + " --output " +
        shell_quote(run_dir.string()) + " --metrics exact_match");
  };
  auto right = invoke(secret, tmp / "right");
  auto wrong = invoke("wrongMotoSecret0000000000000000000000000", tmp / "wrong");
  testing::stop_background(moto, SIGTERM);
  // The right signature passes moto's check; moto then answers 200 "{}", which has no content
  // block: every sample ends with an envelope error (so the run fails, exit 4).
  EXPECT_EQ(right.exit_code, 4) << right.output;
  EXPECT_EQ(right.output.find("SignatureDoesNotMatch"), std::string::npos) << right.output;
  for (const json& s : testing::read_json_lines(tmp / "right/scores.jsonl")) {
    EXPECT_EQ(s["judge_error"]["kind"], "envelope") << s;
    EXPECT_EQ(s["judge_error"]["reason"], "reply has no content[].text block") << s;
  }
  const std::string log = read_all(tmp / "moto.log");
  EXPECT_NE(log.find("\"POST /model/anthropic.claude-v2/invoke HTTP/1.1\" 200"), std::string::npos)
      << log;
  // A wrong secret: moto's 403 SignatureDoesNotMatch (an XML body) stops the stage, named.
  EXPECT_EQ(wrong.exit_code, 4) << wrong.output;
  EXPECT_NE(wrong.output.find("http 403 after 1 attempts: SignatureDoesNotMatch: The request "
                              "signature we calculated does not match"),
            std::string::npos)
      << wrong.output;
  expect_no_secrets(right, tmp / "right", {secret});
  expect_no_secrets(wrong, tmp / "wrong", {secret});
}

}  // namespace
}  // namespace assay
