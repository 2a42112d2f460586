// The `sagemaker` generator end to end against a local InvokeEndpoint (fake_sagemaker_endpoint.py)
// that recomputes every request's SigV4 signature with botocore's signer and checks the body of
// each payload form: the TGI form and the OpenAI messages form give the expected answers, finish
// reasons and token counts (a throttled request is asked again); a wrong secret is a clear error
// (exit 4) and no secret appears in the output or the run folder. Skips visibly without python3
// and botocore.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
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
const std::string kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The fake endpoint in the background; its port, or 0 when it could not start.
class Endpoint {
 public:
  Endpoint(const testing::TempDir& tmp, const std::string& form) : log_(tmp / "requests.jsonl") {
    const fs::path port_file = tmp / "port";
    process_ = testing::start_background(
        "python3 " + shell_quote((kRepo / "tests/e2e/fake_sagemaker_endpoint.py").string()) +
            " --port-file " + shell_quote(port_file.string()) + " --log " +
            shell_quote(log_.string()) + " --secret " + shell_quote(kSecret) + " --form " + form,
        tmp / "endpoint.out");
    for (int i = 0; i < 200 && !fs::exists(port_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (fs::exists(port_file)) port_ = std::stoi(read_all(port_file));
  }
  ~Endpoint() { testing::stop_background(process_, SIGTERM); }
  int port() const { return port_; }
  std::vector<json> requests() const {
    return fs::exists(log_) ? testing::read_json_lines(log_, true) : std::vector<json>{};
  }

 private:
  fs::path log_;
  testing::BackgroundProcess process_;
  int port_ = 0;
};

fs::path write_dataset(const fs::path& dir) {
  fs::path p = dir / "data.jsonl";
  std::ofstream out(p);
  for (int i = 0; i < 6; ++i) {
    out << json{{"id", "s" + std::to_string(i)},
                {"instruction", "SAMPLE-" + std::to_string(i) + ": what is it?"},
                {"output", "answer " + std::to_string(i)}}
               .dump()
        << "\n";
  }
  return p;
}

testing::ProcessResult run(const Endpoint& ep, const fs::path& data, const fs::path& out,
                           const std::string& payload, const std::string& secret,
                           const std::string& flags = "") {
  return testing::run_command(
      std::string(testing::kCleanEvaluateEnv) +
      "env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=AKIDEXAMPLE "
      "AWS_SECRET_ACCESS_KEY=" +
      shell_quote(secret) +
      " AWS_REGION=us-east-1 AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:" +
      std::to_string(ep.port()) + " GEN_ENDPOINT=my-endpoint GEN_PAYLOAD=" + payload + " " +
      shell_quote(ASSAY_EVALUATE_BIN) + " run --generator sagemaker --dataset " +
      shell_quote(data.string()) + " --output " + shell_quote(out.string()) +
      " --metrics exact_match --max-new-tokens 16 --log-level debug" + flags);
}

bool have_botocore() {
  return testing::run_command("python3 -c 'import botocore.auth'").exit_code == 0;
}

void expect_answers(const fs::path& run_dir) {
  for (const json& g : testing::read_json_lines(run_dir / "generations.jsonl")) {
    const std::string id = g["id"];
    EXPECT_EQ(g["output"], "answer " + id.substr(1)) << g;
    EXPECT_EQ(g["completion_tokens"], 3) << g;
  }
  json summary = json::parse(read_all(run_dir / "summary.json"));
  EXPECT_EQ(summary["generation"]["backend"], "sagemaker");
  EXPECT_EQ(summary["generation"]["endpoint"]["endpoint"], "my-endpoint");
  EXPECT_EQ(summary["generation"]["endpoint"]["region"], "us-east-1");
  EXPECT_EQ(summary["metrics"]["exact_match"]["mean"], 1.0) << summary["metrics"];
}

TEST(EvaluateSageMaker, TgiPayloadSignedAndCheckedByBotocore) {
  if (!have_botocore()) GTEST_SKIP() << "python3 with botocore not found";
  testing::TempDir tmp;
  Endpoint ep(tmp, "tgi");
  ASSERT_GT(ep.port(), 0) << read_all(tmp / "endpoint.out");
  const fs::path data = write_dataset(tmp.path());
  // A stop sequence: TGI keeps it at the end of generated_text; the run's output ends before it.
  std::ofstream(tmp / "run.json") << R"({"generation": {"stop": ["###"]}})";
  auto out = run(ep, data, tmp / "run", "tgi", kSecret,
                 " --config " + shell_quote((tmp / "run.json").string()));
  ASSERT_EQ(out.exit_code, 0) << out.output << read_all(tmp / "endpoint.out");
  expect_answers(tmp / "run");
  for (const json& g : testing::read_json_lines(tmp / "run/generations.jsonl")) {
    EXPECT_EQ(g["finish_reason"], "stop") << g;  // the stop sequence, cut off
  }
  int throttled = 0, bad = 0;
  for (const json& q : ep.requests()) {
    if (q["status"] == 400 && !q.contains("problem")) ++throttled;
    if (q.contains("problem")) ++bad;
  }
  EXPECT_EQ(throttled, 1);  // SAMPLE-2's first request, asked again
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(out.output.find(kSecret), std::string::npos);
}

TEST(EvaluateSageMaker, MessagesPayloadSignedAndCheckedByBotocore) {
  if (!have_botocore()) GTEST_SKIP() << "python3 with botocore not found";
  testing::TempDir tmp;
  Endpoint ep(tmp, "messages");
  ASSERT_GT(ep.port(), 0) << read_all(tmp / "endpoint.out");
  auto out = run(ep, write_dataset(tmp.path()), tmp / "run", "messages", kSecret);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  expect_answers(tmp / "run");
  for (const json& g : testing::read_json_lines(tmp / "run/generations.jsonl")) {
    EXPECT_EQ(g["prompt_tokens"], 9) << g;  // the reply's usage
  }
}

TEST(EvaluateSageMaker, WrongSecretIsAClearErrorAndNoSecretIsWritten) {
  if (!have_botocore()) GTEST_SKIP() << "python3 with botocore not found";
  testing::TempDir tmp;
  Endpoint ep(tmp, "tgi");
  ASSERT_GT(ep.port(), 0);
  const std::string wrong = "wrongSecretKeyForTheTest0000000000000000";
  auto out = run(ep, write_dataset(tmp.path()), tmp / "run", "tgi", wrong);
  EXPECT_EQ(out.exit_code, 4) << out.output;
  EXPECT_NE(out.output.find("InvalidSignatureException"), std::string::npos) << out.output;
  EXPECT_EQ(out.output.find(wrong), std::string::npos);
  for (const auto& e : fs::recursive_directory_iterator(tmp / "run")) {
    if (e.is_regular_file()) {
      EXPECT_EQ(read_all(e.path()).find(wrong), std::string::npos) << e.path();
    }
  }
}

}  // namespace
}  // namespace assay
