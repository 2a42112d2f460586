// Budgets through the `evaluate` binary against the local fake server (Anthropic wire):
// - `run --dummy --estimate` prints the calls and the estimated cost and sends nothing (the
//   server counts 0 requests) and writes nothing;
// - `score` with judge.max_cost_usd stops judging at the cap with a clear warning, the rest get
//   judge_error kind budget, a gate on judge_usage.cost_usd still decides the exit code, and a
//   rerun with a higher cap judges the rest, paying for no sample twice;
// - the Anthropic key appears in no output and no file.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "testing/fake_openai_server.h"

namespace {
namespace fs = std::filesystem;
using assay::testing::FakeOpenAiServer;
using assay::testing::FakeServerOptions;
using assay::testing::Wire;
using nlohmann::json;

const std::string kKey = "sk-ant-e2e-SECRET-77aa66bb55cc";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct BudgetE2eTest : ::testing::Test {
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() / ("assay_budget_e2e_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream ds(dir / "data.jsonl");
    for (int i = 0; i < 20; ++i) {
      ds << json{{"id", "q" + std::to_string(i)},
                 {"instruction", "SAMPLE-" + std::to_string(i) + ": What does LoRA train?"},
                 {"output", "Low-rank adapter matrices."},
                 {"prediction", "Low-rank adapter matrices."}}
                .dump()
         << "\n";
    }
  }
  void TearDown() override { fs::remove_all(dir); }
  // Runs `evaluate <command>` with `env`; stdout and stderr go to files named by `tag`.
  int evaluate(const std::string& env, const std::string& command, const std::string& tag) {
    std::string cmd =
        "env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u JUDGE_BASE_URL -u JUDGE_API_KEY "
        "-u EVAL_CONFIG -u EVAL_GATES -u JUDGE_MAX_COST_USD " +
        env + " " + std::string(ASSAY_BINARY_DIR) + "/eval/evaluate --log-format json " + command +
        " > " + (dir / (tag + ".out")).string() + " 2> " + (dir / (tag + ".err")).string();
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  std::string data() const { return " -d " + (dir / "data.jsonl").string(); }
  std::string env_for(const FakeOpenAiServer& server) const {
    return "JUDGE_PROVIDER=anthropic ANTHROPIC_API_KEY=" + kKey +
           " JUDGE_BASE_URL=http://127.0.0.1:" + std::to_string(server.port()) +
           " JUDGE_MODEL=claude-priced JUDGE_MAX_CONCURRENCY=2";
  }
};

TEST_F(BudgetE2eTest, EstimatePrintsCallsAndCostAndSendsNothing) {
  FakeServerOptions so;
  so.wire = Wire::kAnthropic;
  so.api_key = kKey;
  FakeOpenAiServer server(so);
  // The pairwise rubric (2 calls per sample) at Claude 3.5 Haiku's list price.
  const std::string env = "JUDGE_PROVIDER=anthropic ANTHROPIC_API_KEY=" + kKey +
                          " JUDGE_BASE_URL=http://127.0.0.1:" + std::to_string(server.port()) +
                          " JUDGE_MODEL=claude-3-5-haiku-20241022 JUDGE_RUBRIC=pairwise";
  ASSERT_EQ(evaluate(env, "run --dummy --estimate -o " + (dir / "run").string() + data(), "est"), 0)
      << slurp(dir / "est.err");
  const std::string out = slurp(dir / "est.out");
  EXPECT_EQ(server.requests(), 0);        // no call
  EXPECT_FALSE(fs::exists(dir / "run"));  // nothing written
  // --dummy: the first 8 samples, two orders each.
  EXPECT_NE(out.find("calls:             16 (8 samples x 2)"), std::string::npos) << out;
  EXPECT_NE(out.find("rubric pairwise"), std::string::npos) << out;
  // The reply length is the rubric's expected one: 16 x 300 tokens.
  EXPECT_NE(out.find("completion tokens: 4800 (300 per call"), std::string::npos) << out;
  // The logged estimate's cost is its tokens at $0.80 / $4 per 1M.
  json logged;
  std::istringstream err(slurp(dir / "est.err"));
  for (std::string line; std::getline(err, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == "judge estimate") logged = j;
  }
  ASSERT_TRUE(logged.is_object()) << slurp(dir / "est.err");
  EXPECT_EQ(logged["calls"], 16);
  EXPECT_EQ(logged["counted_by"], "tokenizer");  // the bundled model's tokenizer
  const double want = (logged["prompt_tokens"].get<double>() * 0.80 + 4800 * 4.00) / 1e6;
  EXPECT_NEAR(logged["cost_usd"].get<double>(), want, 1e-12);
  EXPECT_EQ(out.find(kKey), std::string::npos);
  // It writes nothing, so it needs no output folder.
  ASSERT_EQ(evaluate(env, "run --dummy --estimate" + data(), "est2"), 0) << slurp(dir / "est2.err");
  EXPECT_NE(slurp(dir / "est2.out").find("calls:             16 (8 samples x 2)"),
            std::string::npos);
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(BudgetE2eTest, CapStopsWithAWarningGateStillWorksAndARerunWithAHigherCapPaysNothingTwice) {
  FakeServerOptions so;
  so.wire = Wire::kAnthropic;
  so.api_key = kKey;
  so.delay_ms = 30;
  FakeOpenAiServer server(so);
  // One call costs exactly 1 USD: 20 completion tokens at 50,000 USD per 1M, the prompt free.
  const std::string prices =
      R"("prices": {"claude-priced": {"input_per_mtok": 0, "output_per_mtok": 50000}})";
  std::ofstream(dir / "cap.json")
      << R"({"judge": {)" << prices
      << R"(, "max_cost_usd": 3}, "gates": {"judge_usage.cost_usd": "<= 7"}})";
  std::ofstream(dir / "tight.json")
      << R"({"judge": {)" << prices << R"(}, "gates": {"judge_usage.cost_usd": "<= 2"}})";
  // `run --dummy`: the bundled model answers the first 8 samples, the fake server judges.
  const std::string run = "run --dummy --config " + (dir / "cap.json").string() + " -o " +
                          (dir / "run").string() + data();
  ASSERT_EQ(evaluate(env_for(server), run, "first"), 0) << slurp(dir / "first.err");
  const std::string out = slurp(dir / "first.out");
  EXPECT_NE(out.find("Judge budget: judge.max_cost_usd 3 USD reached;"), std::string::npos) << out;
  EXPECT_NE(slurp(dir / "first.err").find("judge budget reached"), std::string::npos);
  int judged = 0, budget = 0;
  std::istringstream lines(slurp(dir / "run/scores.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    json l = json::parse(line);
    if (l.contains("judges")) ++judged;
    if (l.contains("judge_error")) {
      EXPECT_EQ(l["judge_error"]["kind"], "budget") << l;
      EXPECT_EQ(l["judge_error"]["transient"], true) << l;
      ++budget;
    }
  }
  // The 3rd reply reaches the cap; the one other request in flight finishes and is used.
  EXPECT_GE(judged, 3);
  EXPECT_LE(judged, 4);
  EXPECT_EQ(judged + budget, 8);
  EXPECT_EQ(server.requests(), judged);  // every reply paid for was used
  json usage = json::parse(slurp(dir / "run/summary.json"))["judge_usage"];
  EXPECT_NEAR(usage["cost_usd"].get<double>(), judged * 1.0, 1e-9);

  // The gate on judge_usage.cost_usd decides: a tighter one fails the same run folder (exit 3).
  EXPECT_EQ(
      evaluate("", "gate " + (dir / "run").string() + " --config " + (dir / "tight.json").string(),
               "tight"),
      3)
      << slurp(dir / "tight.out") << slurp(dir / "tight.err");

  // A higher cap: the budget errors are judged now; cached replies cost nothing again.
  ASSERT_EQ(evaluate(env_for(server) + " JUDGE_MAX_COST_USD=100", run, "again"), 0)
      << slurp(dir / "again.err");
  std::istringstream again(slurp(dir / "run/scores.jsonl"));
  int judged_now = 0;
  for (std::string line; std::getline(again, line);) {
    judged_now += json::parse(line).contains("judges");
  }
  EXPECT_EQ(judged_now, 8);
  EXPECT_EQ(server.requests(), 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(server.valid_judgments(i), 1) << "paid twice: q" << i;
  for (const std::string tag : {"first", "tight", "again"}) {
    EXPECT_EQ(slurp(dir / (tag + ".out")).find(kKey), std::string::npos);
    EXPECT_EQ(slurp(dir / (tag + ".err")).find(kKey), std::string::npos);
  }
  for (const auto& e : fs::recursive_directory_iterator(dir / "run")) {
    if (e.is_regular_file()) {
      EXPECT_EQ(slurp(e.path()).find(kKey), std::string::npos) << e.path();
    }
  }
}

// The provider examples in configs/judges/providers/ are valid configs: their estimate runs.
TEST_F(BudgetE2eTest, TheProviderExampleConfigsEstimateAsWritten) {
  for (const std::string name : {"bedrock", "anthropic"}) {
    SCOPED_TRACE(name);
    const std::string config =
        std::string(ASSAY_SOURCE_DIR) + "/configs/judges/providers/" + name + ".yaml";
    ASSERT_EQ(evaluate("ANTHROPIC_API_KEY=" + kKey + " AWS_REGION=us-east-1",
                       "run --dummy --estimate --config " + config + " -o " +
                           (dir / name).string() + data(),
                       name),
              0)
        << slurp(dir / (name + ".err"));
    const std::string out = slurp(dir / (name + ".out"));
    EXPECT_NE(out.find("Judge estimate (no request sent): " + name), std::string::npos) << out;
    EXPECT_NE(out.find("estimated cost:    0."), std::string::npos) << out;  // a known price
    EXPECT_FALSE(fs::exists(dir / name));
  }
}

}  // namespace
