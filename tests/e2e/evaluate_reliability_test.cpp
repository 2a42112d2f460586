// Judge reliability end to end (issue #22): `evaluate score` with judge.repeats 3, two judges and
// a calibration file, on the dummy provider and on the fake OpenAI server. The figures in
// summary.json are recomputed here from scores.jsonl and the labels (agreement and flips from
// the per-repeat scores, the combined score, the PPI mean); a rerun over the shared judge cache
// makes 0 calls (the server's own count); a bad label file is exit 2 naming file:line:field;
// the pairwise LC win rate matches AlpacaEval's formula reimplemented with numpy; report.html
// shows the reliability table in headless Chromium.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/e2e/chromium.h"
#include "tests/e2e/process.h"
#include "testing/fake_openai_server.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_command;
using testing::shell_quote;

constexpr int kSamples = 12;

// Samples name themselves SAMPLE-N (the fake server's scores depend on N); answers A and B have
// lengths that vary by sample.
std::string dataset() {
  std::string out;
  for (int n = 0; n < kSamples; ++n) {
    json row = {{"id", "s" + std::to_string(n)},
                {"instruction", "SAMPLE-" + std::to_string(n) + ": name a colour"},
                {"output", "blue"},
                {"prediction", std::string(5 + 7 * (n % 5), 'a')},
                {"prediction_b", std::string(9 + 3 * (n % 4), 'b')}};
    out += row.dump() + "\n";
  }
  return out;
}

// Human labels for 6 of the 12 samples.
const char* kLabels =
    "{\"id\": \"s0\", \"accuracy\": 3, \"style\": 2}\n"
    "{\"id\": \"s1\", \"accuracy\": 2, \"style\": 3}\n"
    "{\"id\": \"s2\", \"accuracy\": 1}\n"
    "{\"id\": \"s3\", \"accuracy\": 3, \"style\": 1}\n"
    "{\"id\": \"s4\", \"accuracy\": 2, \"style\": 2}\n"
    "{\"id\": \"s5\", \"accuracy\": 1, \"style\": 3}\n";

class EvaluateReliabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.write("data.jsonl", dataset());
    labels_ = dir_.write("labels.jsonl", kLabels);
  }
  testing::ProcessResult score(const json& config, const fs::path& out,
                               const std::string& env = "") {
    fs::path cfg = dir_.write("cfg_" + out.filename().string() + ".json", config.dump());
    return run_command(env + " " + shell_quote(ASSAY_EVALUATE_BIN) + " score --dataset " +
                       shell_quote(data_.string()) + " --output " + shell_quote(out.string()) +
                       " --config " + shell_quote(cfg.string()));
  }
  json dummy_config() const {
    return {{"judge",
             {{"provider", "dummy"},
              {"repeats", 3},
              {"calibration", labels_.string()},
              {"cache_dir", (dir_ / "cache").string()}}},
            {"judges",
             {{{"name", "a"}, {"provider", "dummy"}},
              {{"name", "b"}, {"provider", "dummy"}, {"model", "dummy-b"}}}}};
  }
  static std::vector<json> lines(const fs::path& p) { return testing::read_json_lines(p); }
  testing::TempDir dir_;
  fs::path data_, labels_;
};

TEST_F(EvaluateReliabilityTest, DummyRepeatsTwoJudgesAndCalibrationMatchTheScoresFile) {
  const fs::path out = dir_ / "run";
  auto r = score(dummy_config(), out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json summary = json::parse(read_file(out / "summary.json"));
  const std::vector<json> rows = lines(out / "scores.jsonl");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kSamples));
  const std::map<std::string, std::map<std::string, double>> human = {
      {"s0", {{"accuracy", 3}, {"style", 2}}},
      {"s1", {{"accuracy", 2}, {"style", 3}}},
      {"s2", {{"accuracy", 1}}},
      {"s3", {{"accuracy", 3}, {"style", 1}}},
      {"s4", {{"accuracy", 2}, {"style", 2}}},
      {"s5", {{"accuracy", 1}, {"style", 3}}}};
  for (const std::string crit : {"accuracy", "style"}) {
    SCOPED_TRACE(crit);
    double agree = 0, flips = 0, combined_sum = 0, rect_sum = 0;
    int n_labelled = 0;
    for (const json& row : rows) {
      // Judge a's three repeats: the share of equal pairs, and whether any differs.
      const json& reps = row["judges_by_name"]["a"][crit]["repeats"];
      ASSERT_EQ(reps.size(), 3u) << row;
      const double x = reps[0], y = reps[1], z = reps[2];
      agree += ((x == y) + (x == z) + (y == z)) / 3.0;
      flips += !(x == y && y == z);
      // The combined score is the mean of the two judges' (each the mean of its repeats).
      const double a = row["judges_by_name"]["a"][crit]["score"];
      const double b = row["judges_by_name"]["b"][crit]["score"];
      EXPECT_NEAR(a, (x + y + z) / 3, 1e-12);
      const double combined = row["judges"][crit]["score"];
      EXPECT_NEAR(combined, (a + b) / 2, 1e-12);
      combined_sum += combined;
      auto h = human.find(row["id"].get<std::string>());
      if (h != human.end() && h->second.count(crit)) {
        rect_sum += h->second.at(crit) - combined;
        ++n_labelled;
      }
    }
    const json& byname = summary["judges_by_name"]["a"][crit];
    EXPECT_NEAR(byname["agreement"].get<double>(), agree / kSamples, 1e-12);
    EXPECT_NEAR(byname["flip_rate"].get<double>(), flips / kSamples, 1e-12);
    const json& entry = summary["judges"][crit];
    EXPECT_EQ(entry["n_labelled"], n_labelled);
    EXPECT_NEAR(entry["calibrated_mean"].get<double>(),
                combined_sum / kSamples + rect_sum / n_labelled, 1e-9);
    EXPECT_LT(entry["calibrated_ci_low"].get<double>(), entry["calibrated_mean"].get<double>());
    EXPECT_TRUE(entry["kappa"].is_number()) << entry;
    EXPECT_TRUE(entry["alpha"].is_number()) << entry;
    EXPECT_TRUE(entry["human_kappa"].is_number()) << entry;
  }
  // The dummy varies some answers by repeat, and dummy-b is another judge: neither figure is
  // trivially perfect.
  const json& rel = summary["judge_reliability"];
  EXPECT_GT(rel["flip_rate"].get<double>(), 0.0) << rel;
  EXPECT_LT(rel["kappa"].get<double>(), 1.0) << rel;
  EXPECT_EQ(rel["judges"], json::array({"a", "b"}));
  // 12 samples x 3 repeats x 2 judges, nothing cached yet.
  EXPECT_EQ(summary["judge_usage"]["calls"], 72) << summary["judge_usage"];

  // A fresh run folder over the shared cache: every reply, every repeat, comes from the cache.
  const fs::path out2 = dir_ / "rerun";
  r = score(dummy_config(), out2);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json again = json::parse(read_file(out2 / "summary.json"));
  EXPECT_EQ(again["judge_usage"]["calls"], 0);
  EXPECT_EQ(again["judge_usage"]["cache_hits"], 72);
  EXPECT_EQ(again["judges"], summary["judges"]);

  // Gates on the figures: a kappa of at least 1 cannot pass (exit 3), calibrated means can.
  json gates = dummy_config();
  gates["gates"] = {{"judge.kappa", ">= 1"}, {"judge.calibrated.accuracy.mean", ">= 1"}};
  fs::path gcfg = dir_.write("gates.json", gates.dump());
  r = run_command(shell_quote(ASSAY_EVALUATE_BIN) + " gate " + shell_quote(out.string()) + " -c " +
                  shell_quote(gcfg.string()));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("judge.kappa"), std::string::npos) << r.output;
  gates["gates"] = {{"judge.accuracy.agreement", ">= 0"},
                    {"judge.calibrated.style.ci_low", "> -9"}};
  gcfg = dir_.write("gates.json", gates.dump());
  r = run_command(shell_quote(ASSAY_EVALUATE_BIN) + " gate " + shell_quote(out.string()) + " -c " +
                  shell_quote(gcfg.string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;

  // report.html: the reliability table, loaded in headless Chromium without console errors.
  const std::string html = read_file(out / "report.html");
  EXPECT_NE(html.find("id=\"reliability\""), std::string::npos);
  const std::string chromium = testing::chromium_binary();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (Debian package `chromium`)";
  const testing::Rendered page = testing::render(chromium, out / "report.html", dir_);
  ASSERT_EQ(page.exit_code, 0) << "chromium failed";
  EXPECT_EQ(page.console, "") << "console messages while loading report.html";
  EXPECT_NE(page.dom.find("Judge reliability"), std::string::npos);
  EXPECT_NE(page.dom.find("calibrated mean (PPI)"), std::string::npos);
  EXPECT_NE(page.dom.find("judges kappa"), std::string::npos);
  EXPECT_NE(page.dom.find("repeat agreement"), std::string::npos);
  // The calibrated mean of accuracy as the report formats it (4 decimals).
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f",
                summary["judges"]["accuracy"]["calibrated_mean"].get<double>());
  EXPECT_NE(page.dom.find(buf), std::string::npos) << buf;
}

TEST_F(EvaluateReliabilityTest, FakeOpenAiServerAndDummyRerunMakesNoCall) {
  testing::FakeOpenAiServer server(
      testing::FakeServerOptions{.api_key = "sk-rel-secret-4242", .fault = nullptr});
  json cfg = dummy_config();
  cfg["judges"] = {{{"name", "dummy"}, {"provider", "dummy"}},
                   {{"name", "gpt"},
                    {"provider", "openai"},
                    {"model", "gpt-4o-mini"},
                    {"base_url", server.base_url()},
                    {"api_key_env", "RELIABILITY_TEST_KEY"}}};
  const std::string env = "RELIABILITY_TEST_KEY=sk-rel-secret-4242";
  const fs::path out = dir_ / "run";
  auto r = score(cfg, out, env);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(server.requests(), 3 * kSamples);  // three repeats of each sample, nothing twice
  for (int n = 0; n < kSamples; ++n) EXPECT_EQ(server.requests_for(n), 3) << n;
  const json summary = json::parse(read_file(out / "summary.json"));
  for (const json& row : lines(out / "scores.jsonl")) {
    const int n = std::stoi(row["id"].get<std::string>().substr(1));
    const json& gpt = row["judges_by_name"]["gpt"];
    EXPECT_EQ(gpt["accuracy"]["score"], testing::FakeOpenAiServer::expected_accuracy(n));
    EXPECT_EQ(gpt["style"]["score"], testing::FakeOpenAiServer::expected_style(n));
  }
  // The server answers every repeat alike: that judge is perfectly self-consistent.
  EXPECT_EQ(summary["judges_by_name"]["gpt"]["accuracy"]["agreement"], 1.0);
  EXPECT_EQ(summary["judges_by_name"]["gpt"]["accuracy"]["flip_rate"], 0.0);
  EXPECT_EQ(summary["judge_usage"]["by_judge"]["gpt"]["calls"], 3 * kSamples);

  const fs::path out2 = dir_ / "rerun";
  r = score(cfg, out2, env);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(server.requests(), 3 * kSamples) << "the rerun asked the server again";
  const json again = json::parse(read_file(out2 / "summary.json"));
  EXPECT_EQ(again["judge_usage"]["calls"], 0);
  EXPECT_EQ(again["judges"], summary["judges"]);
  // The key is in no file the runs wrote.
  for (const fs::path& dir : {out, out2, dir_ / "cache"}) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      EXPECT_EQ(read_file(e.path()).find("sk-rel-secret-4242"), std::string::npos) << e.path();
    }
  }
}

TEST_F(EvaluateReliabilityTest, BadCalibrationFileNamesFileLineAndField) {
  fs::path bad = dir_.write(
      "bad.jsonl", "{\"id\": \"s0\", \"accuracy\": 3}\n{\"id\": \"s1\", \"acuracy\": 2}\n");
  json cfg = dummy_config();
  cfg["judge"]["calibration"] = bad.string();
  auto r = score(cfg, dir_ / "run");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.jsonl:2: field 'acuracy'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("accuracy"), std::string::npos) << r.output;
  bad = dir_.write("bad.jsonl", "{\"id\": \"s0\", \"accuracy\": 7}\n");
  r = score(cfg, dir_ / "run2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.jsonl:1: field 'accuracy' must be a number from 1 to 3"),
            std::string::npos)
      << r.output;
}

TEST_F(EvaluateReliabilityTest, PairwiseLengthControlledWinRateMatchesNumpyAlpacaEval) {
  if (std::system("/usr/bin/python3 -c 'import numpy, scipy' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "needs /usr/bin/python3 with numpy and scipy (apt-get install -y "
                    "python3-numpy python3-scipy)";
  }
  json cfg = {{"judge", {{"provider", "dummy"}, {"rubric", "pairwise"}, {"repeats", 3}}}};
  const fs::path out = dir_ / "run";
  auto r = score(cfg, out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json summary = json::parse(read_file(out / "summary.json"));
  // The preferences the run recorded and the answers' lengths, into AlpacaEval's formula.
  json doc = {{"preference", json::array()}, {"len_a", json::array()}, {"len_b", json::array()}};
  for (const json& row : lines(out / "scores.jsonl")) {
    const std::string o = row["judges"]["pairwise"]["outcome"];
    doc["preference"].push_back(o == "win" ? 1.0 : o == "tie" ? 0.5 : 0.0);
    const int n = std::stoi(row["id"].get<std::string>().substr(1));
    doc["len_a"].push_back(5 + 7 * (n % 5));
    doc["len_b"].push_back(9 + 3 * (n % 4));
  }
  fs::path in = dir_.write("lc.json", doc.dump());
  const char* src = std::getenv("ASSAY_SOURCE_DIR");
  r = run_command("/usr/bin/python3 " + std::string(src ? src : ".") +
                  "/tests/scoring/lc_winrate_reference.py < " + shell_quote(in.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json ref = json::parse(r.output);
  const json& p = summary["judges"]["pairwise"];
  EXPECT_NEAR(p["lc_win_rate"].get<double>(), ref["win_rate"].get<double>(), 1e-7) << p;
  EXPECT_NEAR(p["length_coef"].get<double>(), ref["length_coef"].get<double>(), 1e-6) << p;
  EXPECT_LE(p["lc_ci_low"].get<double>(), p["lc_win_rate"].get<double>());
  EXPECT_GE(p["lc_ci_high"].get<double>(), p["lc_win_rate"].get<double>());
  EXPECT_TRUE(p.contains("agreement")) << "repeat figures for pairwise outcomes";
}

}  // namespace
}  // namespace assay
