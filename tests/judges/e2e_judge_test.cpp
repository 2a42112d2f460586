// End to end: the `evaluate score` binary with JUDGE_PROVIDER=openai against the local fake
// server (faults included), then a resumed rerun that makes zero calls; the API key appears in
// no output file and no log line. Also JUDGE_PROVIDER=dummy through the binary.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "testing/fake_openai_server.h"

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

struct JudgeE2eTest : ::testing::Test {
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
    return invoke(env, "score", out_dir, log_file, extra);
  }
  // The same with `run --dummy`: the first 8 samples, answered by the bundled model.
  int evaluate_dummy_run(const std::string& env, const fs::path& out_dir, const fs::path& log_file,
                         const std::string& extra = "") {
    return invoke(env, "run --dummy", out_dir, log_file, extra);
  }
  int invoke(const std::string& env, const std::string& command, const fs::path& out_dir,
             const fs::path& log_file, const std::string& extra) {
    std::string cmd = env + " " + std::string(ASSAY_BINARY_DIR) +
                      "/eval/evaluate --log-format json " + "--log-level debug " + command +
                      " -d " + (dir / "data.jsonl").string() + " -o " + out_dir.string() + " " +
                      extra + " > " + (dir / "stdout.txt").string() + " 2> " + log_file.string();
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
};

TEST_F(JudgeE2eTest, OpenAiJudgeThroughTheBinaryThenAResumeWithZeroCalls) {
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

TEST_F(JudgeE2eTest, EchoedKeyAndUrlCredentialsAppearInNoFileOfTheRun) {
  // The judge quotes the Authorization header it received in every analysis, and the base URL
  // carries a password and a query key: none of the three may reach any file of the run.
  FakeServerOptions so;
  so.api_key = kKey;
  so.echo_auth = true;
  so.fault = [](const assay::testing::RequestInfo& info) {
    return info.sample % 4 == 3 ? Fault::kOutOfRange : Fault::kNone;  // some judge_errors too
  };
  FakeOpenAiServer server(so);
  const std::string password = "pw-URL-SECRET-1a2b3c";
  const std::string query_key = "q-URL-SECRET-4d5e6f";
  std::string url = "http://alice:" + password + "@127.0.0.1:" + std::to_string(server.port()) +
                    "/v1?api-key=" + query_key;
  std::string env = "JUDGE_PROVIDER=openai JUDGE_BASE_URL='" + url + "' JUDGE_API_KEY=" + kKey;
  fs::path run = dir / "echo";
  ASSERT_EQ(evaluate(env, run, dir / "log.txt"), 0) << slurp(dir / "log.txt");

  // The server saw the key and the right path, the query kept after it.
  ASSERT_GT(server.requests(), 0);
  EXPECT_EQ(server.auth_headers().at(0), "Bearer " + kKey);
  for (const auto& target : server.targets()) {
    EXPECT_EQ(target, "POST /v1/chat/completions?api-key=" + query_key);
  }
  // The analysis arrived, with the key replaced.
  auto lines = jsonl(run / "scores.jsonl");
  ASSERT_EQ(lines.size(), 24u);
  EXPECT_NE(lines[0]["judges"]["accuracy"]["analysis"].get<std::string>().find("Bearer ***"),
            std::string::npos)
      << lines[0].dump();
  EXPECT_TRUE(lines[3].contains("judge_error")) << lines[3].dump();
  // Every file of the run folder, read whole: scores, cache, reports, manifest, summary.
  std::vector<std::string> names;
  for (const auto& entry : fs::recursive_directory_iterator(run)) {
    if (!entry.is_regular_file()) continue;
    names.push_back(entry.path().filename().string());
    std::string text = slurp(entry.path());
    for (const std::string& secret : {kKey, password, query_key}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << entry.path();
    }
  }
  for (const char* name : {"scores.jsonl", "judge_cache.jsonl", "report.md", "report.html"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  json manifest = json::parse(slurp(run / "manifest.json"));
  EXPECT_EQ(manifest["config"]["judge"]["base_url"],
            "http://127.0.0.1:" + std::to_string(server.port()) + "/v1?api-key=***");
  std::string log = slurp(dir / "log.txt") + slurp(dir / "stdout.txt");
  for (const std::string& secret : {kKey, password, query_key}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret;
  }
}

TEST_F(JudgeE2eTest, DummyProviderWorksOfflineAndSaysSo) {
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

TEST_F(JudgeE2eTest, RubricFlagAndBadRubricExitCodes) {
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

TEST_F(JudgeE2eTest, SigtermLetsInFlightRequestsFinishAndTheRerunPaysOnlyForTheRest) {
  // Four requests in flight at most: the 8 quick samples are answered, then samples 8-11 hang
  // (their replies arrive after the stop) and 12-23 are never sent.
  FakeServerOptions so;
  so.api_key = kKey;
  so.hang_s = 3.0;
  std::atomic<bool> hang{true};
  so.fault = [&hang](const assay::testing::RequestInfo& info) {
    return info.sample >= 8 && hang ? Fault::kHang : Fault::kNone;
  };
  FakeOpenAiServer server(so);
  fs::path run = dir / "stopped";
  std::string bin = std::string(ASSAY_BINARY_DIR) + "/eval/evaluate";
  std::string data = (dir / "data.jsonl").string(), out = run.string();
  std::vector<std::string> args = {bin, "--log-format", "json", "score", "-d", data, "-o", out};
  std::vector<std::string> env = {"JUDGE_PROVIDER=openai", "JUDGE_BASE_URL=" + server.base_url(),
                                  "JUDGE_API_KEY=" + kKey, "JUDGE_MAX_CONCURRENCY=4",
                                  "PATH=/usr/bin:/bin"};
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string log_path = (dir / "log_stopped.txt").string();
  posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  ASSERT_EQ(posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  // Wait until the 8 quick samples are served and 4 hanging requests have arrived.
  for (int i = 0; i < 400 && server.requests() < 12; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(server.requests(), 12);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 143);
  EXPECT_EQ(server.requests(), 12);  // nothing new was sent after the stop
  EXPECT_EQ(json::parse(slurp(run / "manifest.json"))["status"], "interrupted");
  EXPECT_FALSE(fs::exists(run / "scores.jsonl"));
  // The replies of the 4 requests in flight at the stop were waited for and cached.
  EXPECT_EQ(jsonl(run / "judge_cache.jsonl").size(), 12u);
  std::string log = slurp(dir / "log_stopped.txt");
  EXPECT_EQ(log.find(kKey), std::string::npos);
  // The stop's log line counts what happened: 12 requests sent and answered, 12 never sent.
  bool found = false;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    json event = json::parse(line, nullptr, false);
    if (!event.is_object() || event.value("msg", "") != "judging stopped") continue;
    found = true;
    EXPECT_EQ(event["calls"], 12) << line;
    EXPECT_EQ(event["judged"], 12) << line;
    EXPECT_EQ(event["not_answered"], 12) << line;
    EXPECT_EQ(event["errors"], 0) << line;
  }
  EXPECT_TRUE(found) << log;

  hang = false;
  std::string envs =
      "JUDGE_PROVIDER=openai JUDGE_BASE_URL=" + server.base_url() + " JUDGE_API_KEY=" + kKey;
  ASSERT_EQ(evaluate(envs, run, dir / "log_resume.txt"), 0) << slurp(dir / "log_resume.txt");
  EXPECT_EQ(server.requests(), 24);  // only the 12 never answered were sent again
  auto scores = jsonl(run / "scores.jsonl");
  ASSERT_EQ(scores.size(), 24u);
  for (int i = 0; i < 24; ++i) {
    EXPECT_EQ(server.requests_for(i), 1) << "sample " << i;
    // 8-11 were answered late (the server does not count a hung reply as a judgment): their
    // scores come from the replies cached during the stop.
    if (i < 8 || i >= 12) EXPECT_EQ(server.valid_judgments(i), 1) << "sample " << i;
    EXPECT_EQ(scores[i]["judges"]["accuracy"]["score"], FakeOpenAiServer::expected_accuracy(i))
        << "sample " << i;
  }
  json summary = json::parse(slurp(run / "summary.json"));
  EXPECT_EQ(summary["judge_usage"]["cache_hits"], 12);
  EXPECT_EQ(summary["judge_usage"]["calls"], 12);
  EXPECT_EQ(summary["judges"]["accuracy"]["n"], 24);
}

// Samples whose line in scores.jsonl carries a judge_error.
std::vector<int> error_samples(const fs::path& run) {
  std::vector<int> out;
  auto lines = jsonl(run / "scores.jsonl");
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].contains("judge_error")) out.push_back(static_cast<int>(i));
  }
  return out;
}

// Samples 0-2 get 503 while `down` is set.
FakeServerOptions first_three_fail_while(std::atomic<bool>& down) {
  FakeServerOptions so;
  so.api_key = kKey;
  so.fault = [&down](const assay::testing::RequestInfo& info) {
    return down && info.sample < 3 ? Fault::k503 : Fault::kNone;
  };
  return so;
}

// The openai judge against `server` without HTTP retries: a 503 is a judge_error at once.
std::string no_retry_env(const FakeOpenAiServer& server) {
  return "JUDGE_PROVIDER=openai JUDGE_BASE_URL=" + server.base_url() + " JUDGE_API_KEY=" + kKey +
         " JUDGE_MAX_RETRIES=0";
}

TEST_F(JudgeE2eTest, AnOutageFailsTheRunAndTheRerunAfterRecoveryJudgesEverySample) {
  FakeServerOptions so;
  so.api_key = kKey;
  std::atomic<bool> down{true};
  so.fault = [&down](const assay::testing::RequestInfo&) {
    return down ? Fault::k503 : Fault::kNone;
  };
  FakeOpenAiServer server(so);
  const std::string env = no_retry_env(server);
  fs::path run = dir / "outage";
  EXPECT_EQ(evaluate(env, run, dir / "log1.txt"), 4) << slurp(dir / "log1.txt");
  EXPECT_EQ(server.requests(), 24);
  auto lines = jsonl(run / "scores.jsonl");
  ASSERT_EQ(lines.size(), 24u);
  for (const auto& l : lines) {
    ASSERT_TRUE(l.contains("judge_error")) << l.dump();
    EXPECT_EQ(l["judge_error"]["kind"], "http");
    EXPECT_EQ(l["judge_error"]["transient"], true);
  }
  json manifest = json::parse(slurp(run / "manifest.json"));
  EXPECT_EQ(manifest["status"], "failed");
  EXPECT_EQ(manifest["judge_errors"], 24);
  EXPECT_NE(manifest["error"].get<std::string>().find("24 of 24 samples"), std::string::npos)
      << manifest["error"];
  EXPECT_NE(slurp(dir / "stdout.txt").find("Judge errors: 24 of 24"), std::string::npos);
  EXPECT_TRUE(fs::exists(run / "summary.json"));
  EXPECT_NE(slurp(run / "report.md").find("24 of 24 samples"), std::string::npos);

  down = false;
  ASSERT_EQ(evaluate(env, run, dir / "log2.txt"), 0) << slurp(dir / "log2.txt");
  EXPECT_EQ(server.requests(), 48);
  for (int i = 0; i < 24; ++i) {
    EXPECT_EQ(server.requests_for(i), 2) << "sample " << i;
    EXPECT_EQ(server.valid_judgments(i), 1) << "sample " << i;
  }
  EXPECT_TRUE(error_samples(run).empty());
  manifest = json::parse(slurp(run / "manifest.json"));
  EXPECT_EQ(manifest["status"], "completed");
  EXPECT_EQ(manifest["judge_errors"], 0);
  EXPECT_EQ(json::parse(slurp(run / "summary.json"))["judges"]["accuracy"]["n"], 24);
}

TEST_F(JudgeE2eTest, SomeFailuresWarnBelowMaxErrorRateFailAboveItAndARerunRetriesOnlyThem) {
  // 7 of 24 samples (29%) get 503 while `down`.
  FakeServerOptions so;
  so.api_key = kKey;
  std::atomic<bool> down{true};
  so.fault = [&down](const assay::testing::RequestInfo& info) {
    return down && info.sample % 10 < 3 && info.sample < 21 ? Fault::k503 : Fault::kNone;
  };
  FakeOpenAiServer server(so);
  const std::vector<int> failing = {0, 1, 2, 10, 11, 12, 20};
  const std::string env = no_retry_env(server);
  fs::path run = dir / "partial";
  ASSERT_EQ(evaluate(env, run, dir / "log1.txt"), 0) << slurp(dir / "log1.txt");
  EXPECT_EQ(error_samples(run), failing);
  json manifest = json::parse(slurp(run / "manifest.json"));
  EXPECT_EQ(manifest["status"], "completed");
  EXPECT_EQ(manifest["judge_errors"], 7);
  std::string report = slurp(run / "report.md");
  EXPECT_LT(report.find("7 of 24 samples"), report.find("## Metrics")) << report;
  EXPECT_NE(slurp(run / "report.html").find("7 of 24 samples"), std::string::npos);
  EXPECT_NE(slurp(dir / "stdout.txt").find("Judge errors: 7 of 24"), std::string::npos);
  EXPECT_NE(slurp(dir / "log1.txt").find("some samples have no judgment"), std::string::npos);

  // The same failures with judge.max_error_rate 0.2: the run fails.
  fs::path strict = dir / "strict";
  EXPECT_EQ(evaluate(env + " JUDGE_MAX_ERROR_RATE=0.2", strict, dir / "log2.txt"), 4)
      << slurp(dir / "log2.txt");
  EXPECT_EQ(json::parse(slurp(strict / "manifest.json"))["status"], "failed");
  EXPECT_EQ(error_samples(strict), failing);
  EXPECT_EQ(evaluate(env + " JUDGE_MAX_ERROR_RATE=1.5", dir / "bad", dir / "log3.txt"), 2);
  EXPECT_NE(slurp(dir / "log3.txt").find("judge.max_error_rate"), std::string::npos);

  // Recovered: a rerun of the completed run sends only the failed samples.
  down = false;
  const int before = server.requests();
  ASSERT_EQ(evaluate(env, run, dir / "log4.txt"), 0) << slurp(dir / "log4.txt");
  EXPECT_EQ(server.requests() - before, 7);
  for (int i = 0; i < 24; ++i) {
    bool failed = std::find(failing.begin(), failing.end(), i) != failing.end();
    EXPECT_EQ(server.requests_for(i), failed ? 3 : 2) << "sample " << i;  // run + strict (+1)
  }
  EXPECT_TRUE(error_samples(run).empty());
  json summary = json::parse(slurp(run / "summary.json"));
  EXPECT_EQ(summary["judge_usage"]["calls"], 7);
  EXPECT_EQ(summary["judge_usage"]["cache_hits"], 17);
  EXPECT_EQ(json::parse(slurp(run / "manifest.json"))["judge_errors"], 0);
  EXPECT_EQ(slurp(run / "report.md").find("samples have no judgment"), std::string::npos);
  // Nothing left to retry: the next rerun sends nothing.
  ASSERT_EQ(evaluate(env, run, dir / "log5.txt"), 0);
  EXPECT_EQ(server.requests() - before, 7);
  EXPECT_NE(slurp(dir / "stdout.txt").find("Already completed"), std::string::npos);
}

TEST_F(JudgeE2eTest, ARerunOfACompletedRunRetriesItsTransientJudgeErrorsWithoutGenerating) {
  std::atomic<bool> down{true};
  FakeOpenAiServer server(first_three_fail_while(down));
  fs::path run = dir / "run";
  const std::string env = no_retry_env(server);
  // The dummy run takes the first 8 samples; 3 of them (37.5%) fail: completed, with errors.
  ASSERT_EQ(evaluate_dummy_run(env, run, dir / "log1.txt"), 0) << slurp(dir / "log1.txt");
  EXPECT_EQ(error_samples(run), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(json::parse(slurp(run / "manifest.json"))["judge_errors"], 3);
  const std::string generations = slurp(run / "generations.jsonl");
  down = false;
  ASSERT_EQ(evaluate_dummy_run(env, run, dir / "log2.txt"), 0) << slurp(dir / "log2.txt");
  EXPECT_EQ(server.requests(), 8 + 3);  // only the 3 failed samples were sent again
  for (int i = 0; i < 8; ++i) EXPECT_EQ(server.valid_judgments(i), 1) << "sample " << i;
  EXPECT_TRUE(error_samples(run).empty());
  EXPECT_EQ(slurp(run / "generations.jsonl"), generations);  // nothing generated again
  json manifest = json::parse(slurp(run / "manifest.json"));
  EXPECT_EQ(manifest["status"], "completed");
  EXPECT_EQ(manifest["judge_errors"], 0);
}

TEST_F(JudgeE2eTest, ARerunOfACompletedRunOfSeveralModelsRetriesEachModelsJudgeErrors) {
  std::atomic<bool> down{true};
  FakeOpenAiServer server(first_three_fail_while(down));
  std::ofstream(dir / "multi.json") << R"({"models": [{"name": "ft"}, {"name": "base"}]})";
  fs::path out = dir / "multi";
  const std::string env = no_retry_env(server);
  std::string config = "--config " + (dir / "multi.json").string();
  ASSERT_EQ(evaluate_dummy_run(env, out, dir / "log1.txt", config), 0) << slurp(dir / "log1.txt");
  for (const char* model : {"ft", "base"}) {
    EXPECT_EQ(error_samples(out / model), (std::vector<int>{0, 1, 2})) << model;
  }
  EXPECT_EQ(server.requests(), 16);
  down = false;
  ASSERT_EQ(evaluate_dummy_run(env, out, dir / "log2.txt", config), 0) << slurp(dir / "log2.txt");
  EXPECT_EQ(server.requests(), 16 + 6);  // each model's 3 failed samples, nothing else
  for (const char* model : {"ft", "base"}) {
    EXPECT_TRUE(error_samples(out / model).empty()) << model;
    EXPECT_EQ(json::parse(slurp(out / model / "manifest.json"))["judge_errors"], 0) << model;
  }
  EXPECT_EQ(json::parse(slurp(out / "manifest.json"))["status"], "completed");
}

TEST_F(JudgeE2eTest, RetryJudgeErrorsResendsAParseErrorSample) {
  FakeServerOptions so;
  so.api_key = kKey;
  std::atomic<bool> broken{true};
  so.fault = [&broken](const assay::testing::RequestInfo& info) {
    return broken && info.sample == 7 ? Fault::kOutOfRange : Fault::kNone;
  };
  FakeOpenAiServer server(so);
  std::string env =
      "JUDGE_PROVIDER=openai JUDGE_BASE_URL=" + server.base_url() + " JUDGE_API_KEY=" + kKey;
  fs::path run = dir / "parse";
  ASSERT_EQ(evaluate(env, run, dir / "log1.txt"), 0) << slurp(dir / "log1.txt");
  EXPECT_EQ(error_samples(run), std::vector<int>{7});
  EXPECT_EQ(jsonl(run / "scores.jsonl")[7]["judge_error"]["kind"], "parse");
  EXPECT_EQ(jsonl(run / "scores.jsonl")[7]["judge_error"]["transient"], false);
  EXPECT_EQ(server.requests_for(7), 2);  // the reply and one repair
  broken = false;
  // A parse error is not transient: a plain rerun does nothing.
  ASSERT_EQ(evaluate(env, run, dir / "log2.txt"), 0) << slurp(dir / "log2.txt");
  EXPECT_EQ(server.requests(), 25);
  EXPECT_EQ(error_samples(run), std::vector<int>{7});
  // --retry-judge-errors bypasses the cached unusable reply and asks again.
  ASSERT_EQ(evaluate(env, run, dir / "log3.txt", "--retry-judge-errors"), 0)
      << slurp(dir / "log3.txt");
  EXPECT_EQ(server.requests(), 26);
  EXPECT_EQ(server.requests_for(7), 3);
  EXPECT_TRUE(error_samples(run).empty());
  EXPECT_EQ(jsonl(run / "scores.jsonl")[7]["judges"]["accuracy"]["score"],
            FakeOpenAiServer::expected_accuracy(7));
  json summary = json::parse(slurp(run / "summary.json"));
  EXPECT_EQ(summary["judge_usage"]["calls"], 1);
  EXPECT_EQ(summary["judge_usage"]["cache_hits"], 23);
}

TEST_F(JudgeE2eTest, PairwiseReportsWinTieLossAndConsistency) {
  // Answer A (prediction) vs answer B (prediction_b); the server prefers whichever says BETTER,
  // except for POSITION-BIASED prompts, where it always picks the first answer shown.
  {
    std::ofstream ds(dir / "data.jsonl", std::ios::trunc);
    for (int i = 0; i < 10; ++i) {
      std::string a = i < 4 ? "BETTER answer" : "plain answer";
      std::string b = i >= 4 && i < 6 ? "BETTER answer"
                      : i >= 8        ? "another answer"
                                      : "plain answer";
      std::string q = "SAMPLE-" + std::to_string(i) + (i >= 8 ? " POSITION-BIASED" : "");
      ds << json{{"id", i},
                 {"instruction", q},
                 {"output", "ref"},
                 {"prediction", a},
                 {"prediction_b", b}}
                .dump()
         << "\n";
    }
  }
  FakeOpenAiServer server(FakeServerOptions{.api_key = kKey});
  fs::path run = dir / "pairwise";
  std::string env =
      "JUDGE_PROVIDER=openai JUDGE_BASE_URL=" + server.base_url() + " JUDGE_API_KEY=" + kKey;
  ASSERT_EQ(evaluate(env, run, dir / "log.txt", "--judge-rubric pairwise"), 0)
      << slurp(dir / "log.txt");
  // Both orders for each sample; where A and B are the same text (6, 7) both orders are one
  // identical prompt, sent once.
  EXPECT_EQ(server.requests(), 18);
  json p = json::parse(slurp(run / "summary.json"))["judges"]["pairwise"];
  // By construction: 4 wins (0-3), 2 losses (4-5), 2 ties (6-7), 2 position-biased -> ties.
  EXPECT_EQ(p["n"], 10);
  EXPECT_DOUBLE_EQ(p["win_rate"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(p["loss_rate"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(p["tie_rate"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(p["consistency"].get<double>(), 0.8);  // only the biased pair disagreed
  EXPECT_DOUBLE_EQ(p["mean"].get<double>(), (4 + 0.5 * 4) / 10.0);
  auto lines = jsonl(run / "scores.jsonl");
  EXPECT_EQ(lines[8]["judges"]["pairwise"]["verdict_ab"], "A");
  EXPECT_EQ(lines[8]["judges"]["pairwise"]["verdict_ba"], "B");
  // Missing prediction_b names the file, line and field.
  std::ofstream(dir / "data.jsonl", std::ios::trunc)
      << json{{"id", 1}, {"instruction", "q"}, {"output", "r"}, {"prediction", "a"}}.dump() << "\n";
  EXPECT_EQ(
      evaluate("JUDGE_PROVIDER=dummy", dir / "pw2", dir / "log2.txt", "--judge-rubric pairwise"),
      2);
  EXPECT_NE(slurp(dir / "log2.txt").find("prediction_b"), std::string::npos);
}

}  // namespace
