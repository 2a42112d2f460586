// The SageMaker container contracts: contract detection, the Processing and Training layouts
// (channels, resourceconfig.json, hyperparameters.json), the priority of the layers
// (defaults < container < file < hyperparameters < env < flags), the failure reason file and the
// training job's copies in output/data.
#include "eval/container.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/fs.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class ContainerTest : public ::testing::Test {
 protected:
  fs::path root() const { return dir_ / "ml"; }
  void put(const std::string& rel, const std::string& text = "{}") {
    dir_.write("ml/" + rel, text);
  }
  ContainerLayout detect(const std::string& contract = "auto") {
    return detect_container({root().string(), contract});
  }
  // Reads the layout and resolves the config with `env` as the whole environment.
  ResolvedConfig resolve(ContainerLayout& layout, std::map<std::string, std::string> env = {},
                         std::vector<std::pair<std::string, json>> flags = {},
                         std::optional<fs::path> file = std::nullopt) {
    ConfigSources s;
    s.file = file;
    s.getenv = [env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    s.flags = std::move(flags);
    read_container_inputs(layout, s);
    return resolve_config(s);
  }
  // The message of the assay::Error (exit 2) that `f` throws, or "" when it throws nothing.
  template <typename F>
  std::string error_of(F f) {
    try {
      f();
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), kExitBadInput) << e.what();
      return e.what();
    }
    return "";
  }
  testing::TempDir dir_;
};

TEST_F(ContainerTest, DetectsTheContractFromWhatExists) {
  EXPECT_EQ(detect().contract, Contract::kNone);
  put("input/config/hyperparameters.json");
  EXPECT_EQ(detect().contract, Contract::kTraining);
  put("processing/input/data/t.jsonl", "");
  EXPECT_EQ(detect().contract, Contract::kProcessing) << "processing wins when both exist";
  EXPECT_EQ(detect("training").contract, Contract::kTraining);
  EXPECT_EQ(detect("none").contract, Contract::kNone);
  EXPECT_FALSE(error_of([&] { detect("batch"); }).empty());
  EXPECT_EQ(detect("processing").failure_file, root() / "output/message");
  EXPECT_EQ(detect("training").failure_file, root() / "output/failure");
  EXPECT_EQ(detect("training").export_dir, root() / "output/data");
  EXPECT_TRUE(detect("none").failure_file.empty());
}

TEST_F(ContainerTest, ProcessingLayoutSuppliesModelDatasetOutputConfigAndShard) {
  put("processing/input/model/config.json");
  put("processing/input/data/test.jsonl", "{\"instruction\": \"q\"}\n");
  put("processing/input/config/run.json", R"({"generation": {"max_new_tokens": 7}})");
  put("config/resourceconfig.json",
      R"({"current_host": "algo-2", "hosts": ["algo-3", "algo-1", "algo-2"]})");
  put("config/processingjobconfig.json", R"({"ProcessingJobName": "eval-123"})");
  ContainerLayout layout = detect();
  ResolvedConfig cfg = resolve(layout);
  EXPECT_EQ(cfg.get_string("model"), (root() / "processing/input/model").string());
  EXPECT_EQ(cfg.get_string("dataset"), (root() / "processing/input/data/test.jsonl").string());
  EXPECT_EQ(cfg.get_string("output"), (root() / "processing/output/eval").string());
  EXPECT_EQ(cfg.get_int("generation.max_new_tokens"), 7) << "the config channel's file is read";
  EXPECT_NE(cfg.origin("model").find("container"), std::string::npos) << cfg.origin("model");
  ASSERT_TRUE(layout.shard.has_value());
  EXPECT_EQ(*layout.shard, (ShardSpec{1, 3})) << "algo-2 is second of algo-1, algo-2, algo-3";
  EXPECT_EQ(layout.info["job_name"], "eval-123");
  EXPECT_EQ(layout.info["current_host"], "algo-2");
  EXPECT_TRUE(layout.dataset_error.empty());
}

TEST_F(ContainerTest, LayersGoDefaultsContainerFileHyperparametersEnvFlags) {
  put("input/data/data/test.jsonl", "{}\n");
  put("input/data/config/run.json",
      R"({"output": "/from/file", "generation": {"max_new_tokens": 11, "top_k": 5},
          "bootstrap": {"seed": 9}})");
  put("input/config/hyperparameters.json",
      R"({"generation.max_new_tokens": "22", "generation.top_k": "6", "bootstrap.resamples": "0",
          "metrics": "squad_f1,bleu", "sagemaker_program": "ignored.py"})");
  ContainerLayout layout = detect();
  ASSERT_EQ(layout.contract, Contract::kTraining);
  ResolvedConfig cfg =
      resolve(layout, {{"EVAL_METRICS", "exact_match"}, {"OUTPUT_DIR", "/from/env"}},
              {{"generation.top_k", 7}});
  EXPECT_EQ(cfg.get_string("dataset"), (root() / "input/data/data/test.jsonl").string())
      << "container (nothing above sets it)";
  EXPECT_EQ(cfg.get_int("bootstrap.seed"), 9) << "file over default";
  EXPECT_EQ(cfg.get_int("generation.max_new_tokens"), 22) << "hyperparameter over file";
  EXPECT_EQ(cfg.origin("generation.max_new_tokens"), "hyperparameter generation.max_new_tokens");
  EXPECT_EQ(cfg.get_int("bootstrap.resamples"), 0) << "hyperparameter over default";
  EXPECT_EQ(cfg.at("metrics"), json::array({"exact_match"})) << "env over hyperparameter";
  EXPECT_EQ(cfg.get_string("output"), "/from/env") << "env over file over container";
  EXPECT_EQ(cfg.get_int("generation.top_k"), 7) << "flag over everything";

  ContainerLayout bare = detect();
  ResolvedConfig no_file = resolve(bare, {}, {}, dir_.write("other.json", "{}"));
  EXPECT_EQ(no_file.get_string("output"), (root() / "model").string())
      << "an explicit config file replaces the config channel; the container sets the output";
}

TEST_F(ContainerTest, HyperparametersAreParsedStrictly) {
  auto hp_error = [&](const std::string& hp) {
    put("input/config/hyperparameters.json", hp);
    ContainerLayout layout = detect("training");
    return error_of([&] { resolve(layout); });
  };
  std::string e = hp_error(R"({"generation.max_new_tokens": "lots"})");
  EXPECT_NE(e.find("hyperparameters.json"), std::string::npos) << e;
  EXPECT_NE(e.find("'generation.max_new_tokens'"), std::string::npos) << e;
  EXPECT_NE(e.find("not an integer"), std::string::npos) << e;
  e = hp_error(R"({"generation.max_new_tokens": 64})");
  EXPECT_NE(e.find("must be a string"), std::string::npos) << e;
  e = hp_error(R"({"generation.temperatur": "0.5"})");
  EXPECT_NE(e.find("did you mean 'generation.temperature'"), std::string::npos) << e;
  e = hp_error(R"({"dummy": "maybe"})");
  EXPECT_NE(e.find("'dummy'"), std::string::npos) << e;
  e = hp_error(R"({"generation.temperature": "1e999"})");
  EXPECT_NE(e.find("generation.temperature"), std::string::npos) << e;
  e = hp_error(R"({"metrics": "[1, 2"})");
  EXPECT_NE(e.find("'metrics'"), std::string::npos) << e;
  e = hp_error(R"(["not", "an", "object"])");
  EXPECT_NE(e.find("JSON object"), std::string::npos) << e;
  e = hp_error("{not json");
  EXPECT_NE(e.find("not valid JSON"), std::string::npos) << e;

  // JSON-encoded values (the SageMaker Python SDK's framework estimators) are unwrapped once.
  put("input/config/hyperparameters.json",
      R"({"judge.rubric": "\"reference\"", "generation.seed": "\"42\"", "dummy": "true",
          "metrics": "[\"squad_f1\", {\"name\": \"contains\"}]", "generation.top_p": "0.5"})");
  ContainerLayout layout = detect("training");
  ResolvedConfig cfg = resolve(layout);
  EXPECT_EQ(cfg.get_string("judge.rubric"), "reference");
  EXPECT_EQ(cfg.get_int("generation.seed"), 42);
  EXPECT_TRUE(cfg.get_bool("dummy"));
  EXPECT_EQ(cfg.at("metrics"), json::parse(R"(["squad_f1", {"name": "contains"}])"));
  EXPECT_DOUBLE_EQ(cfg.get_number("generation.top_p"), 0.5);
}

TEST_F(ContainerTest, DataChannelNeedsExactlyOneTestSet) {
  fs::path data = root() / "processing/input/data";
  fs::create_directories(data);
  std::string e = error_of([&] { pick_data_file(data); });
  EXPECT_NE(e.find(data.string()), std::string::npos) << e;
  EXPECT_NE(e.find("no .jsonl or .json"), std::string::npos) << e;
  put("processing/input/data/README.txt", "not a test set");
  put("processing/input/data/.hidden.jsonl", "");
  EXPECT_FALSE(error_of([&] { pick_data_file(data); }).empty()) << "other files do not count";
  put("processing/input/data/a.jsonl", "{}\n");
  EXPECT_EQ(pick_data_file(data), data / "a.jsonl");
  put("processing/input/data/b.JSON", "[]");
  e = error_of([&] { pick_data_file(data); });
  EXPECT_NE(e.find("a.jsonl, b.JSON"), std::string::npos) << e;

  // In a container, the error is kept for the run to raise when nothing else names a dataset.
  ContainerLayout layout = detect();
  ResolvedConfig cfg = resolve(layout);
  EXPECT_TRUE(cfg.get_string("dataset").empty());
  EXPECT_NE(layout.dataset_error.find("several test sets"), std::string::npos)
      << layout.dataset_error;
}

TEST_F(ContainerTest, ModelChannelTakesAFolderAnArchiveOrNothing) {
  put("processing/input/data/t.jsonl", "{}\n");
  {
    ContainerLayout layout = detect();
    EXPECT_TRUE(resolve(layout).get_string("model").empty()) << "no model channel: no model";
    EXPECT_TRUE(layout.model_error.empty());
  }
  put("processing/input/model/model.tar.gz", "x");
  {
    ContainerLayout layout = detect();
    EXPECT_EQ(resolve(layout).get_string("model"),
              (root() / "processing/input/model/model.tar.gz").string());
  }
  put("processing/input/model/other.tar.gz", "x");
  {
    ContainerLayout layout = detect();
    EXPECT_TRUE(resolve(layout).get_string("model").empty());
    EXPECT_NE(layout.model_error.find("several model archives"), std::string::npos);
  }
  put("processing/input/model/config.json");
  {
    ContainerLayout layout = detect();
    EXPECT_EQ(resolve(layout).get_string("model"), (root() / "processing/input/model").string())
        << "a Hugging Face folder is the model itself";
  }
}

TEST_F(ContainerTest, ConfigChannelHoldsAtMostOneConfigJsonOrYaml) {
  put("processing/input/data/t.jsonl", "{}\n");
  // A YAML config in the channel is read like a JSON one, below hyperparameters, env and flags.
  put("processing/input/config/run.YML",
      "generation:\n  max_new_tokens: 7\nmetrics: [squad_f1]\njudge:\n  model: m-yaml\n");
  {
    ContainerLayout layout = detect();
    ResolvedConfig cfg = resolve(layout, {{"JUDGE_MODEL", "m-env"}});
    EXPECT_EQ(cfg.get_int("generation.max_new_tokens"), 7);
    EXPECT_EQ(cfg.at("metrics"), json::array({"squad_f1"}));
    EXPECT_EQ(cfg.get_string("judge.model"), "m-env");
    EXPECT_EQ(cfg.origin("generation.max_new_tokens"),
              "file " + (root() / "processing/input/config/run.YML").string());
  }
  // Its errors name the file and line like a JSON config's.
  put("processing/input/config/run.YML", "generation:\n  max_new_tokns: 7\n");
  std::string e = error_of([&] {
    ContainerLayout layout = detect();
    resolve(layout);
  });
  EXPECT_NE(e.find("run.YML:2: unknown key 'generation.max_new_tokns' (did you mean "
                   "'generation.max_new_tokens'?)"),
            std::string::npos)
      << e;
  put("processing/input/config/run.json", "{}");
  e = error_of([&] {
    ContainerLayout layout = detect();
    resolve(layout);
  });
  EXPECT_NE(e.find("several files"), std::string::npos) << e;
}

TEST_F(ContainerTest, BadResourceConfigNamesTheFile) {
  put("processing/input/data/t.jsonl", "{}\n");
  for (const char* bad : {R"({"hosts": ["algo-1"]})", R"({"current_host": "algo-9",
      "hosts": ["algo-1"]})",
                          R"({"current_host": "algo-1", "hosts": "algo-1"})", "[]"}) {
    put("config/resourceconfig.json", bad);
    std::string e = error_of([&] {
      ContainerLayout layout = detect();
      resolve(layout);
    });
    EXPECT_NE(e.find("resourceconfig.json"), std::string::npos) << bad << ": " << e;
  }
}

TEST_F(ContainerTest, FailureReasonIsTheFirstKilobyteOnACharacterBoundary) {
  ContainerLayout processing = detect("processing");
  std::string reason = std::string(1022, 'x') + "é and more";  // é spans bytes 1022-1023
  write_failure_reason(processing, reason);
  EXPECT_EQ(read_file(root() / "output/message"), std::string(1022, 'x') + "é");
  write_failure_reason(processing, std::string(1023, 'y') + "é");  // é would span 1023-1024
  EXPECT_EQ(read_file(root() / "output/message"), std::string(1023, 'y'));
  ContainerLayout training = detect("training");
  write_failure_reason(training, "bad input: no dataset");
  EXPECT_EQ(read_file(root() / "output/failure"), "bad input: no dataset");
  ContainerLayout none = detect("none");
  fs::remove_all(root() / "output");
  write_failure_reason(none, "nothing");
  EXPECT_FALSE(fs::exists(root() / "output"));
}

TEST_F(ContainerTest, TrainingCopiesResultsToOutputData) {
  fs::path run = dir_ / "run";
  dir_.write("run/summary.json", "{\"n_samples\": 1}");
  dir_.write("run/scores.jsonl", "{}\n");
  dir_.write("run/manifest.json", "{}");
  dir_.write("run/generations.jsonl", "{}\n");
  ContainerLayout training = detect("training");
  export_results(training, run, {2, 3});
  fs::path dest = root() / "output/data/shard-2-of-3";
  EXPECT_EQ(read_file(dest / "summary.json"), "{\"n_samples\": 1}");
  EXPECT_TRUE(fs::exists(dest / "scores.jsonl"));
  EXPECT_TRUE(fs::exists(dest / "manifest.json"));
  EXPECT_FALSE(fs::exists(dest / "generations.jsonl")) << "the full outputs stay in model/";
  export_results(detect("processing"), run, {0, 1});
  EXPECT_FALSE(fs::exists(root() / "output/data/summary.json")) << "processing copies nothing";
}

}  // namespace
}  // namespace assay::eval
