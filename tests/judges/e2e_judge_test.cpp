// End to end: the `evaluate score` binary with JUDGE_PROVIDER=openai against the local fake
// server (faults included), then a resumed rerun that makes zero calls; the API key appears in
// no output file and no log line. Also JUDGE_PROVIDER=dummy through the binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/judges/fake_openai_server.h"

namespace {
namespace fs = std::filesystem;
using assay::testing::FakeOpenAiServer;
using assay::testing::FakeServerOptions;
using assay::testing::Fault;
using nlohmann::json;

const std::string kKey = "sk-e2e-SECRET-9f8e7d6c5b4a";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<json> jsonl(const fs::path& p) {
  std::vector<json> out;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

struct E2e : ::testing::Test {
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() / ("assay_judge_e2e_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream ds(dir / "data.jsonl");
    for (int i = 0; i < 24; ++i) {
      ds << json{{"id", "q" + std::to_string(i)},
                 {"instruction", "SAMPLE-" + std::to_string(i) + ": What does LoRA train?"},
                 {"output", "Low-rank adapter matrices."},
                 {"prediction", i % 2 ? "Low-rank adapter matrices." : "All weights."}}
                .dump()
         << "\n";
    }
  }
  // Runs the binary with `env` (NAME=value ...); returns the exit code; logs go to log_file.
  int evaluate(const std::string& env, const fs::path& out_dir, const fs::path& log_file,
               const std::string& extra = "") {
    std::string cmd = env + " " + std::string(ASSAY_BINARY_DIR) +
                      "/eval/evaluate --log-format json " + "--log-level debug score -d " +
                      (dir / "data.jsonl").string() + " -o " + out_dir.string() + " " + extra +
                      " > " + (dir / "stdout.txt").string() + " 2> " + log_file.string();
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
};

TEST_F(E2e, OpenAiJudgeThroughTheBinaryThenAResumeWithZeroCalls) {
  FakeServerOptions so;
  so.api_key = kKey;
  so.retry_after_s = 0.2;
  so.fault = [](const assay::testing::RequestInfo& info) {
    bool first = info.nth_for_sample == 1;
    switch (info.sample % 8) {
      case 0:
        return first ? Fault::k429 : Fault::kNone;
      case 1:
        return first ? Fault::k500 : Fault::kNone;
      case 2:
        return first ? Fault::kTruncatedJson : Fault::kNone;
      case 3:
        return first ? Fault::kFencedJson : Fault::kNone;
      case 4:
        return first ? Fault::kDrop : Fault::kNone;
      case 7:
        return Fault::kOutOfRange;  // never fixed: ends as judge_error
      default:
        return Fault::kNone;
    }
  };
  FakeOpenAiServer server(so);
  std::string env = "JUDGE_PROVIDER=openai JUDGE_BASE_URL=" + server.base_url() +
                    " OPENAI_API_KEY=" + kKey + " JUDGE_MODEL=gpt-4o-mini JUDGE_MAX_CONCURRENCY=8";
  fs::path run = dir / "run";
  ASSERT_EQ(evaluate(env, run, dir / "log1.txt"), 0) << slurp(dir / "log1.txt");

  auto lines = jsonl(run / "scores.jsonl");
  ASSERT_EQ(lines.size(), 24u);
  double acc_sum = 0;
  int judged = 0;
  for (int i = 0; i < 24; ++i) {
    const json& l = lines[i];
    EXPECT_EQ(l["id"], "q" + std::to_string(i));
    EXPECT_LE(server.valid_judgments(i), 1) << "judged twice";
    if (i % 8 == 7) {
      ASSERT_TRUE(l.contains("judge_error")) << l.dump();
      EXPECT_FALSE(l.contains("judges"));
      EXPECT_EQ(l["judge_error"]["attempts"], 2);
      EXPECT_NE(l["judge_error"]["reason"].get<std::string>().find("out of range"),
                std::string::npos);
    } else {
      ASSERT_TRUE(l.contains("judges")) << l.dump();
      EXPECT_EQ(l["judges"]["accuracy"]["score"], FakeOpenAiServer::expected_accuracy(i));
      EXPECT_EQ(l["judges"]["style"]["score"], FakeOpenAiServer::expected_style(i));
      acc_sum += FakeOpenAiServer::expected_accuracy(i);
      ++judged;
    }
  }
  json summary = json::parse(slurp(run / "summary.json"));
  const json& acc = summary["judges"]["accuracy"];
  EXPECT_EQ(acc["n"], judged);
  EXPECT_EQ(acc["n_errors"], 24 - judged);
  EXPECT_NEAR(acc["mean"].get<double>(), acc_sum / judged, 1e-12);
  EXPECT_LE(acc["ci_low"].get<double>(), acc["mean"].get<double>());
  EXPECT_GE(acc["ci_high"].get<double>(), acc["mean"].get<double>());
  EXPECT_EQ(acc["distribution"]["1"].get<int>() + acc["distribution"]["2"].get<int>() +
                acc["distribution"]["3"].get<int>(),
            judged);
  const json& usage = summary["judge_usage"];
  EXPECT_EQ(usage["provider"], "openai");
  EXPECT_EQ(usage["cache_hits"], 0);
  EXPECT_GE(usage["calls"].get<int>(), 24);
  EXPECT_GT(usage["retries"].get<int>(), 0);
  EXPECT_EQ(usage["completion_tokens"].get<long long>(),
            usage["calls"].get<long long>() * FakeOpenAiServer::kCompletionTokens -
                FakeOpenAiServer::kCompletionTokens * 3 /* the 3 truncated bodies carry none */);
  EXPECT_NEAR(usage["cost_usd"].get<double>(),
              (usage["prompt_tokens"].get<double>() * 0.15 +
               usage["completion_tokens"].get<double>() * 0.60) /
                  1e6,
              1e-12);

  // The key reached the server, and nothing else: no file in the run folder, no log line.
  EXPECT_EQ(server.auth_headers().at(0), "Bearer " + kKey);
  for (const auto& entry : fs::recursive_directory_iterator(run)) {
    EXPECT_EQ(slurp(entry.path()).find(kKey), std::string::npos) << entry.path();
  }
  std::string log1 = slurp(dir / "log1.txt");
  EXPECT_NE(log1.find("judged"), std::string::npos);
  EXPECT_EQ(log1.find(kKey), std::string::npos);
  EXPECT_EQ(slurp(dir / "stdout.txt").find(kKey), std::string::npos);
  json manifest = json::parse(slurp(run / "manifest.json"));
  EXPECT_EQ(manifest["config"]["judge"]["api_key"], "***");

  // Resume: the run stopped after judging (status running, outputs gone). The rerun must take
  // every judgment, repairs included, from judge_cache.jsonl and call nobody.
  int served = server.requests();
  manifest["status"] = "running";
  std::ofstream(run / "manifest.json", std::ios::trunc) << manifest.dump(2);
  fs::remove(run / "scores.jsonl");
  fs::remove(run / "summary.json");
  ASSERT_EQ(evaluate(env, run, dir / "log2.txt"), 0) << slurp(dir / "log2.txt");
  EXPECT_EQ(server.requests(), served);
  json again = json::parse(slurp(run / "summary.json"));
  EXPECT_EQ(again["judge_usage"]["calls"], 0);
  EXPECT_EQ(again["judge_usage"]["cache_hits"], usage["calls"].get<int>() - 3 /* resent bodies */);
  EXPECT_EQ(again["judges"], summary["judges"]);
  EXPECT_EQ(jsonl(run / "scores.jsonl"), lines);
  EXPECT_EQ(slurp(dir / "log2.txt").find(kKey), std::string::npos);
}

TEST_F(E2e, DummyProviderWorksOfflineAndSaysSo) {
  fs::path run = dir / "dummy";
  ASSERT_EQ(
      evaluate("JUDGE_PROVIDER=dummy JUDGE_BASE_URL=http://127.0.0.1:9", run, dir / "log.txt"), 0)
      << slurp(dir / "log.txt");
  json summary = json::parse(slurp(run / "summary.json"));
  EXPECT_EQ(summary["judge_usage"]["provider"], "dummy");
  EXPECT_EQ(summary["judge_usage"]["dummy"], true);
  EXPECT_EQ(summary["judges"]["style"]["n"], 24);
  for (const auto& l : jsonl(run / "scores.jsonl")) {
    EXPECT_NE(l["judges"]["accuracy"]["analysis"].get<std::string>().find("dummy judge"),
              std::string::npos);
  }
}

TEST_F(E2e, RubricFlagAndBadRubricExitCodes) {
  fs::path run = dir / "bad";
  EXPECT_EQ(evaluate("JUDGE_PROVIDER=dummy", run, dir / "log.txt", "--judge-rubric nosuch"), 2);
  EXPECT_NE(slurp(dir / "log.txt").find("nosuch"), std::string::npos);
  EXPECT_EQ(evaluate("JUDGE_PROVIDER=openai JUDGE_API_KEY= OPENAI_API_KEY=", dir / "nokey",
                     dir / "log2.txt"),
            2);
  EXPECT_NE(slurp(dir / "log2.txt").find("API key"), std::string::npos);
  fs::path single = dir / "single";
  ASSERT_EQ(
      evaluate("JUDGE_PROVIDER=dummy", single, dir / "log3.txt", "--judge-rubric mt_bench_single"),
      0);
  json summary = json::parse(slurp(single / "summary.json"));
  EXPECT_EQ(summary["judges"]["rating"]["n"], 24);
  EXPECT_EQ(summary["judges"]["rating"]["distribution"].size(), 10u);
}

}  // namespace
