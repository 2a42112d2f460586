// Served models end to end: `evaluate serve` of a model and `evaluate run --generator openai`
// against it write generations.jsonl lines byte-identical to a local run of the same model
// (stories260K and a random Llama, float32, greedy); serve answers the requests in flight when
// stopped with SIGTERM and exits 0; an API key is required when given and lands in no file and
// no log line.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/e2e/process.h"
#include "tests/inference/test_util.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::shell_quote;

const fs::path kRepo = ASSAY_SOURCE_DIR;
const fs::path kStories = kRepo / "models/stories260K";
const fs::path kDataset = kRepo / "configs/sample/llmtwin_test.jsonl";

std::string clean_env() {
  return std::string(testing::kCleanEvaluateEnv) + "OMP_WAIT_POLICY=PASSIVE ";
}

// `evaluate serve` on a free port; stopped (SIGTERM) when it goes out of scope.
class Server {
 public:
  Server(const fs::path& model, const fs::path& log, const std::string& env = "") {
    process_ = testing::start_background(
        clean_env() + env + " " + shell_quote(ASSAY_EVALUATE_BIN) + " serve --model " +
            shell_quote(model.string()) + " --port 0 --max-batch-size 8",
        log);
    const std::string text = testing::wait_for_log(log, "/v1\n", 120);
    std::smatch m;
    if (std::regex_search(text, m, std::regex("at http://127\\.0\\.0\\.1:([0-9]+)/v1"))) {
      port_ = std::stoi(m[1]);
    }
  }
  ~Server() { stop(SIGTERM); }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int stop(int signal) { return process_.pid > 0 ? testing::stop_background(process_, signal) : -1; }
  int pid() const { return process_.pid; }

 private:
  testing::BackgroundProcess process_;
  int port_ = 0;
};

std::set<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::set<std::string> out;
  for (std::string line; std::getline(in, line);) out.insert(line);
  return out;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A random Llama with stories260K's tokenizer (so the sample prompts encode the same way).
fs::path random_llama(const fs::path& dir) {
  json config = json::parse(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 96, "intermediate_size": 200, "num_hidden_layers": 3,
    "num_attention_heads": 6, "num_key_value_heads": 2, "vocab_size": 512,
    "max_position_embeddings": 1024, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
    "hidden_act": "silu", "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2,
    "torch_dtype": "float32"})");
  inference::testing::write_model(dir, config, inference::testing::random_weights(config, 7));
  fs::copy_file(kStories / "tokenizer.model", dir / "tokenizer.model");
  return dir;
}

// A local run and an openai run through `evaluate serve` of `model` give identical lines.
void expect_served_equals_local(const fs::path& model, const testing::TempDir& tmp) {
  Server server(model, tmp / "serve.log");
  ASSERT_GT(server.port(), 0) << read_all(tmp / "serve.log");
  const std::string common = " --dataset " + shell_quote(kDataset.string()) +
                             " --metrics squad --max-new-tokens 40 --chat-format none";
  auto local = testing::run_command(clean_env() + "JUDGE_PROVIDER= " +
                                    shell_quote(ASSAY_EVALUATE_BIN) + " run --model " +
                                    shell_quote(model.string()) + " --output " +
                                    shell_quote((tmp / "local").string()) + common);
  ASSERT_EQ(local.exit_code, 0) << local.output;
  auto served = testing::run_command(clean_env() + "GEN_BASE_URL=" + server.url() + " " +
                                     shell_quote(ASSAY_EVALUATE_BIN) +
                                     " run --generator openai --output " +
                                     shell_quote((tmp / "served").string()) + common);
  ASSERT_EQ(served.exit_code, 0) << served.output;
  const auto a = lines_of(tmp / "local/generations.jsonl");
  const auto b = lines_of(tmp / "served/generations.jsonl");
  EXPECT_EQ(a.size(), 60u);
  EXPECT_EQ(a, b);
  json summary = json::parse(read_all(tmp / "served/summary.json"));
  EXPECT_EQ(summary["generation"]["backend"], "openai");
  EXPECT_EQ(summary["generation"]["server_model"], model.filename().string());
  EXPECT_EQ(summary["generation"]["endpoint"]["base_url"], server.url());
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(EvaluateServed, OpenAiThroughServeEqualsLocalForStories260K) {
  testing::TempDir tmp;
  expect_served_equals_local(kStories, tmp);
}

TEST(EvaluateServed, OpenAiThroughServeEqualsLocalForRandomLlama) {
  testing::TempDir tmp;
  expect_served_equals_local(random_llama(tmp / "rand-llama"), tmp);
}

// cpp-httplib listens with a backlog of 5: 64 clients connecting at once (an evaluate run's
// default) would see their SYNs dropped and arrive seconds later. serve raises it to 1024 (or
// the system's cap), which `ss` shows as the listening socket's Send-Q.
TEST(EvaluateServed, ListensWithABacklogForABurstOfClients) {
  if (testing::run_command("command -v ss").exit_code != 0) GTEST_SKIP() << "no ss (iproute2)";
  testing::TempDir tmp;
  Server server(kStories, tmp / "serve.log");
  ASSERT_GT(server.port(), 0) << read_all(tmp / "serve.log");
  int cap = 4096;
  std::ifstream("/proc/sys/net/core/somaxconn") >> cap;
  auto ss = testing::run_command("ss -Hltn 'sport = :" + std::to_string(server.port()) + "'");
  ASSERT_EQ(ss.exit_code, 0) << ss.output;
  std::smatch m;  // State Recv-Q Send-Q Local:Port Peer:Port
  ASSERT_TRUE(std::regex_search(ss.output, m, std::regex("LISTEN\\s+[0-9]+\\s+([0-9]+)")))
      << ss.output;
  EXPECT_EQ(std::stoi(m[1]), std::min(1024, cap)) << ss.output;
}

TEST(EvaluateServed, SigtermAnswersRequestsInFlightThenExitsZero) {
  testing::TempDir tmp;
  Server server(random_llama(tmp / "m"), tmp / "serve.log");
  ASSERT_GT(server.port(), 0);
  auto in_flight = std::async(std::launch::async, [&] {
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(120, 0);
    return c.Post("/v1/completions",
                  R"({"prompt": "Once upon a time", "max_tokens": 900, "temperature": 0})",
                  "application/json");
  });
  // Wait until the request is on the engine, then stop the server.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int rc = server.stop(SIGTERM);
  auto res = in_flight.get();
  ASSERT_TRUE(res) << "the request in flight got no reply";
  EXPECT_EQ(res->status, 200) << res->body;
  json body = json::parse(res->body);
  EXPECT_GT(body["usage"]["completion_tokens"].get<int>(), 0);
  EXPECT_EQ(rc, 0) << read_all(tmp / "serve.log");
  // Once stopped, nothing listens.
  httplib::Client after("127.0.0.1", server.port());
  EXPECT_FALSE(after.Get("/health"));
}

// A request longer than the running batch's KV cache (sized for the first requests) waits for the
// next run and is answered as it would be alone.
TEST(EvaluateServed, ALongRequestArrivingDuringAShortBatchIsAnsweredInFull) {
  testing::TempDir tmp;
  Server server(random_llama(tmp / "m"), tmp / "serve.log");
  ASSERT_GT(server.port(), 0);
  auto post = [&](int max_tokens) {
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(300, 0);
    auto res = c.Post("/v1/completions",
                      json{{"prompt", "Once upon a time"},
                           {"max_tokens", max_tokens},
                           {"temperature", 0},
                           {"stop", json::array()}}
                          .dump(),
                      "application/json");
    return res && res->status == 200 ? json::parse(res->body) : json();
  };
  auto short_one = std::async(std::launch::async, post, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto long_one = std::async(std::launch::async, post, 900);  // 5 + 900 > 512 positions
  const json a = short_one.get(), b = long_one.get();
  ASSERT_FALSE(a.is_null());
  ASSERT_FALSE(b.is_null()) << "the long request got no answer";
  const json alone = post(900);
  EXPECT_EQ(b["choices"][0]["text"], alone["choices"][0]["text"]);
  EXPECT_EQ(b["usage"], alone["usage"]);
  // It needs more positions than the short batch's cache has (so it waited for a run of its own).
  EXPECT_GT(alone["usage"]["prompt_tokens"].get<int>() +
                alone["usage"]["completion_tokens"].get<int>(),
            512)
      << alone;
}

TEST(EvaluateServed, ApiKeyIsRequiredAndWrittenNowhere) {
  testing::TempDir tmp;
  const std::string key = "sk-serve-secret-4242";
  Server server(kStories, tmp / "serve.log", "SERVE_API_KEY=" + key);
  ASSERT_GT(server.port(), 0);
  httplib::Client c("127.0.0.1", server.port());
  auto denied = c.Post("/v1/completions", R"({"prompt": "a"})", "application/json");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(c.Get("/health")->status, 200);  // health checks need no key

  auto wrong = testing::run_command(clean_env() + "GEN_API_KEY=sk-wrong-key-0000 GEN_BASE_URL=" +
                                    server.url() + " " + shell_quote(ASSAY_EVALUATE_BIN) +
                                    " run --generator openai --dataset " +
                                    shell_quote(kDataset.string()) + " --output " +
                                    shell_quote((tmp / "wrong").string()) +
                                    " --metrics squad --max-new-tokens 8 --chat-format none --log-level error");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find("invalid API key"), std::string::npos) << wrong.output;

  auto ok = testing::run_command(clean_env() + "GEN_API_KEY=" + key + " GEN_BASE_URL=" +
                                 server.url() + " " + shell_quote(ASSAY_EVALUATE_BIN) +
                                 " run --generator openai --dataset " +
                                 shell_quote(kDataset.string()) + " --output " +
                                 shell_quote((tmp / "ok").string()) +
                                 " --metrics squad --max-new-tokens 8 --chat-format none --log-level debug");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(ok.output.find(key), std::string::npos);
  EXPECT_EQ(server.stop(SIGTERM), 0);
  EXPECT_EQ(read_all(tmp / "serve.log").find(key), std::string::npos);
  for (const auto& e : fs::recursive_directory_iterator(tmp / "ok")) {
    if (e.is_regular_file()) {
      EXPECT_EQ(read_all(e.path()).find(key), std::string::npos) << e.path();
    }
  }
}

// The README's example config for a vLLM server runs as written (the server's URL and model id
// given through the environment, which beats the file).
TEST(EvaluateServed, TheVllmExampleConfigRunsAgainstAnOpenAiCompatibleServer) {
  testing::TempDir tmp;
  Server server(kStories, tmp / "serve.log");
  ASSERT_GT(server.port(), 0);
  auto out = testing::run_command(
      "cd " + shell_quote(kRepo.string()) + " && " + clean_env() + "GEN_BASE_URL=" +
      server.url() + " GEN_MODEL=stories260K " + shell_quote(ASSAY_EVALUATE_BIN) +
      " run --config configs/served/vllm.yaml --output " + shell_quote((tmp / "run").string()) +
      " --max-new-tokens 16");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(testing::read_json_lines(tmp / "run/generations.jsonl").size(), 60u);
}

}  // namespace
}  // namespace assay
