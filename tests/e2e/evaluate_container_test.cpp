// `evaluate run` inside the SageMaker container contracts, end to end with the bundled
// stories260K model: a Processing job needs no flags at all (inputs under processing/input,
// results in processing/output/eval), a failure leaves its reason in output/message; a Training
// job reads its channels and hyperparameters.json, writes to model/ and copies to output/data,
// and a failure leaves its reason in output/failure.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/jsonl.h"
#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_command;
using testing::shell_quote;

const fs::path kRepo = ASSAY_SOURCE_DIR;
// Nothing leaks in from the caller's environment.
const std::string kCleanEnv = testing::kCleanEvaluateEnv;

std::vector<json> read_lines(const fs::path& p) {
  return testing::read_json_lines(p);
}

// The first `n` lines of the sample test set.
std::string sample_lines(size_t n) {
  std::ifstream in(kRepo / "configs/sample/llmtwin_test.jsonl");
  std::string line, out;
  for (size_t i = 0; i < n && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

class EvaluateContainerTest : public ::testing::Test {
 protected:
  fs::path root() const { return dir_ / "ml"; }
  // Runs `evaluate run ARGS` from /tmp with SM_ROOT=<root> and `env`.
  testing::ProcessResult run(const std::string& env, const std::string& args = "") {
    return run_command("cd /tmp && " + kCleanEnv + "SM_ROOT=" + shell_quote(root().string()) + " " +
                       env + " " + shell_quote(ASSAY_EVALUATE_BIN) + " --log-format human run " +
                       args);
  }
  void copy_model(const std::string& rel) {
    fs::create_directories(root() / rel);
    fs::copy(kRepo / "models/stories260K", root() / rel, fs::copy_options::recursive);
  }
  testing::TempDir dir_;
};

TEST_F(EvaluateContainerTest, ProcessingJobNeedsNoFlags) {
  copy_model("processing/input/model");
  dir_.write("ml/processing/input/data/test.jsonl", sample_lines(6));
  dir_.write("ml/processing/input/config/run.json",
             R"({"metrics": ["squad", "bleu"], "generation": {"max_new_tokens": 24}})");
  dir_.write("ml/config/resourceconfig.json", R"({"current_host": "algo-1", "hosts": ["algo-1"]})");
  dir_.write("ml/config/processingjobconfig.json", R"({"ProcessingJobName": "assay-eval-1"})");
  fs::create_directories(root() / "processing/output/eval");

  auto r = run("JUDGE_PROVIDER=dummy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::path out = root() / "processing/output/eval";
  auto manifest = json::parse(read_file(out / "manifest.json"));
  EXPECT_EQ(manifest["status"], "completed");
  EXPECT_EQ(manifest["container"]["contract"], "processing");
  EXPECT_EQ(manifest["container"]["job_name"], "assay-eval-1");
  EXPECT_EQ(manifest["model"]["path"], (root() / "processing/input/model").string())
      << "the model channel, not the bundled model";
  EXPECT_FALSE(manifest.contains("shard")) << "one host: no shard folder";
  EXPECT_EQ(manifest["config"]["generation"]["max_new_tokens"], 24) << "the config channel";
  auto gens = read_lines(out / "generations.jsonl");
  ASSERT_EQ(gens.size(), 6u);
  for (const auto& g : gens) EXPECT_LE(g["completion_tokens"].get<int>(), 24);
  auto summary = json::parse(read_file(out / "summary.json"));
  EXPECT_EQ(summary["n_samples"], 6);
  EXPECT_TRUE(summary["metrics"].contains("squad_f1")) << summary.dump();
  EXPECT_TRUE(summary["corpus"].contains("bleu")) << summary.dump();
  EXPECT_EQ(summary["judge_usage"]["provider"], "dummy");
  EXPECT_EQ(read_lines(out / "scores.jsonl").size(), 6u);
  EXPECT_FALSE(fs::exists(root() / "output/message")) << "no failure, no message";

  // Flags still beat the layout.
  fs::path elsewhere = dir_ / "elsewhere";
  auto flagged = run("JUDGE_PROVIDER=none", "--output " + shell_quote(elsewhere.string()));
  ASSERT_EQ(flagged.exit_code, 0) << flagged.output;
  EXPECT_EQ(read_lines(elsewhere / "generations.jsonl").size(), 6u);
}

TEST_F(EvaluateContainerTest, ProcessingFailureWritesTheReasonToOutputMessage) {
  copy_model("processing/input/model");
  dir_.write("ml/processing/input/data/a.jsonl", sample_lines(2));
  dir_.write("ml/processing/input/data/b.jsonl", sample_lines(3));
  auto r = run("JUDGE_PROVIDER=dummy");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  std::string message = read_file(root() / "output/message");
  EXPECT_NE(message.find("several test sets (a.jsonl, b.jsonl)"), std::string::npos) << message;
  EXPECT_NE(message.find((root() / "processing/input/data").string()), std::string::npos);

  // A long reason is cut to its first kilobyte.
  fs::remove(root() / "processing/input/data/b.jsonl");
  dir_.write("ml/processing/input/config/run.json",
             "{\"prompt\": {\"template\": \"{" + std::string(3000, 'x') + "}\"}}");
  auto r2 = run("JUDGE_PROVIDER=dummy");
  EXPECT_EQ(r2.exit_code, 2) << r2.output;
  message = read_file(root() / "output/message");
  EXPECT_EQ(message.size(), 1024u);
  EXPECT_NE(message.find("prompt.template"), std::string::npos) << message.substr(0, 200);
}

TEST_F(EvaluateContainerTest, TrainingJobReadsHyperparametersAndWritesModelAndOutputData) {
  copy_model("input/data/model");
  dir_.write("ml/input/data/data/test.jsonl", sample_lines(5));
  dir_.write("ml/input/config/hyperparameters.json",
             R"({"generation.max_new_tokens": "12", "metrics": "squad_f1,rougeL_f",
                 "judge.rubric": "\"handbook\"", "sagemaker_region": "\"us-east-1\""})");
  dir_.write("ml/input/config/resourceconfig.json",
             R"({"current_host": "algo-1", "hosts": ["algo-1"]})");
  fs::create_directories(root() / "model");

  auto r = run("JUDGE_PROVIDER=dummy TRAINING_JOB_NAME=eval-train-7");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto manifest = json::parse(read_file(root() / "model/manifest.json"));
  EXPECT_EQ(manifest["status"], "completed");
  EXPECT_EQ(manifest["container"]["contract"], "training");
  EXPECT_EQ(manifest["container"]["job_name"], "eval-train-7");
  EXPECT_EQ(manifest["config"]["generation"]["max_new_tokens"], 12);
  EXPECT_EQ(manifest["config"]["metrics"], json::array({"squad_f1", "rougeL_f"}));
  for (const auto& g : read_lines(root() / "model/generations.jsonl")) {
    EXPECT_LE(g["completion_tokens"].get<int>(), 12);
  }
  auto summary = json::parse(read_file(root() / "model/summary.json"));
  EXPECT_EQ(summary["n_samples"], 5);
  EXPECT_TRUE(summary["metrics"].contains("rougeL_f")) << summary.dump();
  EXPECT_FALSE(summary["metrics"].contains("squad_em")) << "the hyperparameter's metric list";
  EXPECT_EQ(read_file(root() / "output/data/summary.json"),
            read_file(root() / "model/summary.json"));
  EXPECT_EQ(read_file(root() / "output/data/scores.jsonl"),
            read_file(root() / "model/scores.jsonl"));
  EXPECT_FALSE(fs::exists(root() / "output/failure"));

  // A bad hyperparameter: exit 2, and the reason names the key in output/failure.
  dir_.write("ml/input/config/hyperparameters.json", R"({"generation.max_new_tokens": "twelve"})");
  auto bad = run("JUDGE_PROVIDER=dummy");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  std::string failure = read_file(root() / "output/failure");
  EXPECT_NE(failure.find("hyperparameter 'generation.max_new_tokens'='twelve' is not an integer"),
            std::string::npos)
      << failure;
}

}  // namespace
}  // namespace assay
