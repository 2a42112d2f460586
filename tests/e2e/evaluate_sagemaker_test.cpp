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
  Endpoint(const testing::TempDir& tmp, const std::string& form)
      : log_(tmp / "requests.jsonl"),
        server_("python3 " +
                    shell_quote((kRepo / "tests/e2e/fake_sagemaker_endpoint.py").string()) +
                    " --port-file " + shell_quote((tmp / "port").string()) + " --log " +
                    shell_quote(log_.string()) + " --secret " + shell_quote(kSecret) + " --form " +
                    form,
                tmp / "port", tmp / "endpoint.out") {}
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

// The README's example config for a SageMaker endpoint runs as written (endpoint name from the
// environment, which beats the file).
TEST(EvaluateSageMaker, TheExampleConfigRunsAgainstAnEndpoint) {
  if (!have_botocore()) GTEST_SKIP() << "python3 with botocore not found";
  testing::TempDir tmp;
  Endpoint ep(tmp, "tgi");
  ASSERT_GT(ep.port(), 0);
  auto out = testing::run_command(
      "cd " + shell_quote(kRepo.string()) + " && " + std::string(testing::kCleanEvaluateEnv) +
      "env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=AKIDEXAMPLE "
      "AWS_SECRET_ACCESS_KEY=" + shell_quote(kSecret) +
      " AWS_REGION=us-east-1 AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:" +
      std::to_string(ep.port()) + " GEN_ENDPOINT=my-endpoint " + shell_quote(ASSAY_EVALUATE_BIN) +
      " run --config configs/served/sagemaker.yaml --output " +
      shell_quote((tmp / "run").string()));
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(testing::read_json_lines(tmp / "run/generations.jsonl").size(), 60u);
}

// The wire path through moto_server's sagemaker-runtime (which, unlike moto's S3 and SageMaker,
// checks no signature: the botocore-checked endpoint above covers signatures). moto routes
// InvokeEndpoint by botocore's model and answers from a queue of results set through its API.
TEST(EvaluateSageMaker, InvokeEndpointThroughMotoServer) {
  const auto which = testing::run_command("command -v moto_server");
  if (which.exit_code != 0) GTEST_SKIP() << "moto_server not found (pip install 'moto[server]')";
  testing::TempDir tmp;
  const auto port_probe = testing::run_command(
      "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); "
      "print(s.getsockname()[1])'");
  ASSERT_EQ(port_probe.exit_code, 0) << port_probe.output;
  const std::string port = std::to_string(std::stoi(port_probe.output));
  auto moto = testing::start_background(
      "moto_server -H 127.0.0.1 -p " + port,
      tmp / "moto.log");
  const std::string url = "http://127.0.0.1:" + port;
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = testing::run_command("curl -s -o /dev/null " + url + "/moto-api/").exit_code == 0;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << read_all(tmp / "moto.log");
  json results = json::array();
  for (int i = 0; i < 3; ++i) {
    results.push_back({{"Body", json::array({{{"generated_text", "moto answer"},
                                              {"details",
                                               {{"finish_reason", "eos_token"},
                                                {"generated_tokens", 2}}}}})
                                    .dump()},
                       {"ContentType", "application/json"}});
  }
  json queue = {{"region", "us-east-1"}, {"results", results}};
  std::ofstream(tmp / "results.json") << queue.dump();
  auto set = testing::run_command("curl -sf -X POST -H 'Content-Type: application/json' --data @" +
                                  shell_quote((tmp / "results.json").string()) + " " + url +
                                  "/moto-api/static/sagemaker/endpoint-results");
  ASSERT_EQ(set.exit_code, 0) << set.output;
  fs::path data = tmp / "data.jsonl";
  std::ofstream(data) << R"({"id": "a", "instruction": "one", "output": "moto answer"}
{"id": "b", "instruction": "two", "output": "moto answer"}
{"id": "c", "instruction": "three", "output": "moto answer"}
)";
  auto out = testing::run_command(
      std::string(testing::kCleanEvaluateEnv) +
      "env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID=AKIDEXAMPLE "
      "AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 AWS_ENDPOINT_URL=" + url +
      " GEN_ENDPOINT=any-endpoint " + shell_quote(ASSAY_EVALUATE_BIN) +
      " run --generator sagemaker --dataset " + shell_quote(data.string()) + " --output " +
      shell_quote((tmp / "run").string()) + " --metrics exact_match --max-new-tokens 8");
  testing::stop_background(moto, SIGTERM);
  ASSERT_EQ(out.exit_code, 0) << out.output << read_all(tmp / "moto.log");
  for (const json& g : testing::read_json_lines(tmp / "run/generations.jsonl")) {
    EXPECT_EQ(g["output"], "moto answer") << g;
    EXPECT_EQ(g["finish_reason"], "eos") << g;
    EXPECT_EQ(g["completion_tokens"], 2) << g;
  }
}

}  // namespace
}  // namespace assay
