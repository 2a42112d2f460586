// `evaluate score` end to end: the run folder it writes, idempotent reruns, refusal on a config
// change, resume after a crash, and every bad-input case exiting 2 with a message that names the
// file, line and field.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/jsonl.h"
#include "core/sha256.h"
#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_command;
using testing::shell_quote;

// Hand-computed SQuAD v1.1 values (normalise: lowercase, drop punctuation and a/an/the):
//   s1 "the cat sat" vs "The cat sat."      -> EM 1, F1 1; raw exact match 0
//   s2 "a big red ball" vs "the red ball"   -> "big red ball" vs "red ball": P 2/3, R 1, F1 0.8
//   s3 "  Paris\n" vs "Paris"               -> exact match 1 after trimming, EM 1, F1 1
//   s4 "London" vs "Paris"                  -> all 0
const char* kDataset =
    "{\"id\": \"s1\", \"instruction\": \"q1\", \"output\": \"The cat sat.\", \"prediction\": \"the "
    "cat sat\"}\n"
    "{\"id\": \"s2\", \"instruction\": \"q2\", \"output\": \"the red ball\", \"prediction\": \"a "
    "big red ball\"}\n"
    "{\"id\": \"s3\", \"instruction\": \"q3\", \"output\": \"Paris\", \"prediction\": \"  "
    "Paris\\n\"}\n"
    "{\"id\": \"s4\", \"instruction\": \"q4\", \"output\": \"Paris\", \"prediction\": "
    "\"London\"}\n";

class EvaluateScoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dataset_ = write("data.jsonl", kDataset); }
  fs::path write(const std::string& name, const std::string& text) {
    return dir_.write(name, text);
  }
  testing::ProcessResult score(const std::string& args, const std::string& env = "") {
    return run_command(env + " " + shell_quote(ASSAY_EVALUATE_BIN) + " score " + args);
  }
  std::string base_args(const fs::path& out) {
    return "--dataset " + shell_quote(dataset_.string()) + " --output " + shell_quote(out.string());
  }
  testing::TempDir dir_;
  fs::path dataset_;
};

TEST_F(EvaluateScoreTest, WritesManifestScoresAndSummaryWithHandComputedValues) {
  fs::path out = dir_ / "run";
  auto r = score(base_args(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("squad_f1"), std::string::npos) << "the summary table is printed";

  auto manifest = json::parse(read_file(out / "manifest.json"));
  EXPECT_EQ(manifest["status"], "completed");
  EXPECT_EQ(manifest["command"], "score");
  EXPECT_EQ(manifest["dataset"]["sha256"], sha256_file(dataset_));
  EXPECT_EQ(manifest["dataset"]["n_samples"], 4);
  EXPECT_EQ(manifest["config_hash"].get<std::string>().size(), 64u);
  EXPECT_TRUE(manifest["timings"].contains("total_s"));
  EXPECT_TRUE(manifest["versions"].contains("assay"));
  EXPECT_EQ(manifest["config"]["metrics"], json::array({"exact_match", "squad_em", "squad_f1"}));

  auto scores = read_jsonl(out / "scores.jsonl", TornTail::kError).records;
  ASSERT_EQ(scores.size(), 4u);
  const double expected[4][3] = {{0, 1, 1}, {0, 0, 0.8}, {1, 1, 1}, {0, 0, 0}};
  for (size_t i = 0; i < 4; ++i) {
    const json& s = scores[i].value;
    EXPECT_EQ(s["id"], "s" + std::to_string(i + 1));
    EXPECT_DOUBLE_EQ(s["metrics"]["exact_match"].get<double>(), expected[i][0]) << s;
    EXPECT_DOUBLE_EQ(s["metrics"]["squad_em"].get<double>(), expected[i][1]) << s;
    EXPECT_NEAR(s["metrics"]["squad_f1"].get<double>(), expected[i][2], 1e-12) << s;
  }

  auto summary = json::parse(read_file(out / "summary.json"));
  const json& f1 = summary["metrics"]["squad_f1"];
  EXPECT_NEAR(f1["mean"].get<double>(), 0.7, 1e-12);
  EXPECT_EQ(f1["n"], 4);
  EXPECT_LE(f1["ci_low"].get<double>(), 0.7);
  EXPECT_GE(f1["ci_high"].get<double>(), 0.7);
  EXPECT_LT(f1["ci_low"].get<double>(), f1["ci_high"].get<double>());
  EXPECT_GE(f1["ci_low"].get<double>(), 0.0);
  EXPECT_LE(f1["ci_high"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(summary["metrics"]["exact_match"]["mean"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(summary["metrics"]["squad_em"]["mean"].get<double>(), 0.5);
}

TEST_F(EvaluateScoreTest, BootstrapIsReproducibleAcrossRuns) {
  ASSERT_EQ(score(base_args(dir_ / "a")).exit_code, 0);
  ASSERT_EQ(score(base_args(dir_ / "b")).exit_code, 0);
  EXPECT_EQ(json::parse(read_file(dir_ / "a" / "summary.json"))["metrics"],
            json::parse(read_file(dir_ / "b" / "summary.json"))["metrics"]);
}

TEST_F(EvaluateScoreTest, RerunWithSameInputsIsANoOpThatPrintsTheSummary) {
  fs::path out = dir_ / "run";
  ASSERT_EQ(score(base_args(out)).exit_code, 0);
  auto before = fs::last_write_time(out / "scores.jsonl");
  std::string manifest_before = read_file(out / "manifest.json");
  auto r = score(base_args(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nothing to do"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("squad_f1"), std::string::npos) << r.output;
  EXPECT_EQ(fs::last_write_time(out / "scores.jsonl"), before);
  EXPECT_EQ(read_file(out / "manifest.json"), manifest_before);
}

TEST_F(EvaluateScoreTest, DifferentConfigOnSameFolderIsRefusedUnlessOverwrite) {
  fs::path out = dir_ / "run";
  ASSERT_EQ(score(base_args(out)).exit_code, 0);
  auto r = score(base_args(out) + " --metrics squad_f1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("changed: metrics"), std::string::npos) << r.output;
  r = score(base_args(out) + " --metrics squad_f1 --overwrite");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto summary = json::parse(read_file(out / "summary.json"));
  EXPECT_EQ(summary["metrics"].size(), 1u);
  EXPECT_TRUE(summary["metrics"].contains("squad_f1"));
}

TEST_F(EvaluateScoreTest, ChangedDatasetOnSameFolderIsRefused) {
  fs::path out = dir_ / "run";
  ASSERT_EQ(score(base_args(out)).exit_code, 0);
  write("data.jsonl",
        std::string(kDataset) + "{\"id\": \"s5\", \"output\": \"x\", \"prediction\": \"x\"}\n");
  auto r = score(base_args(out));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("inputs differ"), std::string::npos) << r.output;
}

TEST_F(EvaluateScoreTest, AnInterruptedRunIsFinishedByARerun) {
  fs::path out = dir_ / "run";
  ASSERT_EQ(score(base_args(out)).exit_code, 0);
  // Simulate a crash after the manifest said "running" and before the outputs were complete.
  auto manifest = json::parse(read_file(out / "manifest.json"));
  manifest["status"] = "running";
  atomic_write(out / "manifest.json", manifest.dump());
  fs::remove(out / "summary.json");
  auto r = score(base_args(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(json::parse(read_file(out / "manifest.json"))["status"], "completed");
  EXPECT_TRUE(fs::exists(out / "summary.json"));
}

TEST_F(EvaluateScoreTest, ConfigFileEnvAndFlagsCombine) {
  fs::path cfg = write("run.json", R"({"metrics": ["squad"], "fields": {"reference": "answer"}})");
  write("renamed.jsonl", "{\"id\": \"a\", \"answer\": \"Paris\", \"prediction\": \"paris\"}\n");
  fs::path out = dir_ / "run";
  auto r = run_command("DATASET_PATH=" + shell_quote((dir_ / "renamed.jsonl").string()) + " " +
                       shell_quote(ASSAY_EVALUATE_BIN) + " score --config " +
                       shell_quote(cfg.string()) + " --output " + shell_quote(out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto summary = json::parse(read_file(out / "summary.json"));
  EXPECT_EQ(summary["metrics"].size(), 2u);  // the "squad" group: squad_em, squad_f1
  EXPECT_DOUBLE_EQ(summary["metrics"]["squad_em"]["mean"].get<double>(), 1.0);
}

struct BadCase {
  std::string name;
  std::string dataset;  // content of data.jsonl ("" = do not write one, use a missing path)
  std::string config;   // content of run.json ("" = none)
  std::string extra;    // extra flags
  std::string expect;   // substring of the message
};

TEST_F(EvaluateScoreTest, BadInputExitsTwoWithOneMessageNamingFileLineAndField) {
  const std::vector<BadCase> cases = {
      {"missing file", "", "", "", "missing.jsonl: no such file"},
      {"bad JSON at line 2", "{\"output\": \"a\", \"prediction\": \"a\"}\n{\"output\": \n", "", "",
       "data.jsonl:2: bad JSON"},
      {"missing field", "{\"output\": \"a\", \"prediction\": \"a\"}\n{\"output\": \"b\"}\n", "", "",
       "data.jsonl:2: missing field 'prediction'"},
      {"wrong type", "{\"output\": 3, \"prediction\": \"a\"}\n", "", "",
       "data.jsonl:1: field 'output' must be a string, got number"},
      {"unknown config key", "{\"output\": \"a\", \"prediction\": \"a\"}\n",
       "{\n \"metrics\": [\"squad\"],\n \"bootstrp\": {}\n}\n", "",
       "run.json:3: unknown key 'bootstrp' (did you mean 'bootstrap'?)"},
      {"unknown metric", "{\"output\": \"a\", \"prediction\": \"a\"}\n", "", "--metrics squad_f2",
       "unknown metric 'squad_f2' (did you mean 'squad_f1'?)"},
      // With a judge the rubric reads the question, so the field is required, as `run` does.
      {"judge without instruction",
       "{\"instruction\": \"q\", \"output\": \"a\", \"prediction\": \"a\"}\n"
       "{\"output\": \"b\", \"prediction\": \"b\"}\n",
       "", "--judge-provider dummy", "data.jsonl:2: missing field 'instruction'"},
      {"truncated dataset",
       "{\"output\": \"a\", \"prediction\": \"a\"}\n{\"output\": \"b\", \"predic", "", "",
       "data.jsonl:2: last line is incomplete"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path data = dir_ / "missing.jsonl";
    if (!c.dataset.empty()) data = write("data.jsonl", c.dataset);
    std::string args = "--dataset " + shell_quote(data.string()) + " --output " +
                       shell_quote((dir_ / ("out_" + std::to_string(&c - &cases[0]))).string());
    if (!c.config.empty()) args += " --config " + shell_quote(write("run.json", c.config).string());
    auto r = score(args + " " + c.extra);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  }
}

TEST_F(EvaluateScoreTest, MissingOutputAndUnknownFlagsExitTwoAndHelpExitsZero) {
  auto r = score("--dataset " + shell_quote(dataset_.string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no output folder"), std::string::npos) << r.output;
  r = score("--frobnicate");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_command(shell_quote(ASSAY_EVALUATE_BIN) + " score --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--dataset"), std::string::npos) << r.output;
  r = run_command(shell_quote(ASSAY_EVALUATE_BIN) + " --version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(EvaluateScoreTest, LogsAreJsonLinesWhenNotATerminal) {
  auto r = run_command(shell_quote(ASSAY_EVALUATE_BIN) + " score --dataset " +
                       shell_quote(dataset_.string()) + " --output " +
                       shell_quote((dir_ / "run").string()) + " 2>&1 >/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_FALSE(r.output.empty());
  size_t nl = r.output.find('\n');
  auto event = json::parse(r.output.substr(0, nl));
  EXPECT_EQ(event["level"], "info");
}

}  // namespace
}  // namespace assay
