#include "eval/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "eval/commands/config_flags.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& text) { return dir_.write("run.json", text); }
  ConfigSources sources(std::optional<fs::path> file, std::map<std::string, std::string> env,
                        std::vector<std::pair<std::string, nlohmann::json>> flags = {}) {
    ConfigSources s;
    s.file = file;
    s.getenv = [env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    s.flags = std::move(flags);
    return s;
  }
  std::string error_of(const ConfigSources& s) {
    try {
      resolve_config(s);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      return e.what();
    }
    return "";
  }
  testing::TempDir dir_;
};

TEST_F(ConfigTest, DefaultsApplyWithNoSources) {
  auto cfg = resolve_config(sources(std::nullopt, {}));
  EXPECT_EQ(cfg.get_string("device"), "cpu");
  EXPECT_FALSE(cfg.get_bool("dummy"));
  EXPECT_EQ(cfg.get_int("bootstrap.resamples"), 1000);
  EXPECT_EQ(cfg.get_string("fields.reference"), "output");
  EXPECT_EQ(cfg.origin("device"), "default");
}

TEST_F(ConfigTest, FlagBeatsEnvBeatsFileBeatsDefault) {
  auto file = write(R"({"dataset": "from_file.jsonl", "output": "file_out", "device": "cuda",
                        "fields": {"reference": "answer"}})");
  auto cfg = resolve_config(sources(file, {{"DATASET_PATH", "from_env.jsonl"}, {"OUTPUT_DIR", "env_out"}},
                                    {{"output", "flag_out"}}));
  EXPECT_EQ(cfg.get_string("output"), "flag_out");
  EXPECT_EQ(cfg.origin("output"), "flag");
  EXPECT_EQ(cfg.get_string("dataset"), "from_env.jsonl");
  EXPECT_EQ(cfg.origin("dataset"), "env DATASET_PATH");
  EXPECT_EQ(cfg.get_string("device"), "cuda");
  EXPECT_EQ(cfg.origin("device").rfind("file ", 0), 0u);
  EXPECT_EQ(cfg.get_string("fields.reference"), "answer");
  EXPECT_EQ(cfg.get_string("fields.prediction"), "prediction");  // default kept beside it
}

TEST_F(ConfigTest, EmptyEnvironmentVariableDoesNotOverride) {
  auto file = write(R"({"output": "file_out"})");
  auto cfg = resolve_config(sources(file, {{"OUTPUT_DIR", ""}}));
  EXPECT_EQ(cfg.get_string("output"), "file_out");
}

TEST_F(ConfigTest, UnknownKeySuggestsTheNearestAndNamesTheLine) {
  auto file = write("{\n  \"dataset\": \"d.jsonl\",\n  \"metrcs\": [\"squad_f1\"]\n}\n");
  std::string msg = error_of(sources(file, {}));
  EXPECT_NE(msg.find("run.json:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key 'metrcs'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'metrics'"), std::string::npos) << msg;
}

TEST_F(ConfigTest, UnknownNestedKeyIsNamedWithItsPath) {
  auto file = write(R"({"bootstrap": {"sed": 3}})");
  std::string msg = error_of(sources(file, {}));
  EXPECT_NE(msg.find("unknown key 'bootstrap.sed'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'bootstrap.seed'"), std::string::npos) << msg;
}

TEST_F(ConfigTest, WrongTypeNamesKeyLineAndTypes) {
  auto file = write("{\n\"bootstrap\": {\n  \"resamples\": \"many\"\n}}\n");
  std::string msg = error_of(sources(file, {}));
  EXPECT_NE(msg.find("run.json:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'bootstrap.resamples' must be an integer, got string"), std::string::npos)
      << msg;
}

TEST_F(ConfigTest, BadJsonNamesTheLine) {
  auto file = write("{\n  \"dataset\": \"d.jsonl\",\n  \"output\" \"x\"\n}\n");
  std::string msg = error_of(sources(file, {}));
  EXPECT_NE(msg.find("run.json:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
}

TEST_F(ConfigTest, MissingConfigFileIsNotFound) {
  try {
    resolve_config(sources(dir_ / "nope.json", {}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("nope.json"), std::string::npos);
  }
}

TEST_F(ConfigTest, IsDummyIsParsedStrictly) {
  EXPECT_TRUE(resolve_config(sources(std::nullopt, {{"IS_DUMMY", "true"}})).get_bool("dummy"));
  EXPECT_TRUE(resolve_config(sources(std::nullopt, {{"IS_DUMMY", "1"}})).get_bool("dummy"));
  EXPECT_FALSE(resolve_config(sources(std::nullopt, {{"IS_DUMMY", "false"}})).get_bool("dummy"));
  EXPECT_FALSE(resolve_config(sources(std::nullopt, {{"IS_DUMMY", "0"}})).get_bool("dummy"));
  // The README's words exactly: no other case, no yes/no, and empty is not false.
  for (const char* bad : {"yes", "TRUE", "True", "False", "", " true", "2"}) {
    std::string msg = error_of(sources(std::nullopt, {{"IS_DUMMY", bad}}));
    EXPECT_NE(msg.find("IS_DUMMY='" + std::string(bad) + "' is not a boolean"), std::string::npos)
        << "'" << bad << "': " << msg;
  }
  // Other empty variables still mean unset.
  EXPECT_EQ(resolve_config(sources(std::nullopt, {{"JUDGE_MODEL", ""}})).get_string("judge.model"),
            "gpt-4o-mini");
}

TEST_F(ConfigTest, MetricsFromEnvAreACommaList) {
  auto cfg = resolve_config(sources(std::nullopt, {{"EVAL_METRICS", "squad_f1,exact_match"}}));
  EXPECT_EQ(cfg.at("metrics"), nlohmann::json::array({"squad_f1", "exact_match"}));
  // Spaces around items are dropped, from the environment as from a hyperparameter.
  cfg =
      resolve_config(sources(std::nullopt, {{"EVAL_METRICS", " squad_f1, bleu ,, exact_match "}}));
  EXPECT_EQ(cfg.at("metrics"), nlohmann::json::array({"squad_f1", "bleu", "exact_match"}));
  EXPECT_EQ(parse_config_text("metrics", "squad_f1, bleu", "hyperparameter metrics"),
            nlohmann::json::array({"squad_f1", "bleu"}));
}

TEST(SplitCommasTest, FlagListsDropSpacesAroundItems) {
  EXPECT_EQ(split_commas(" squad_f1, bleu ,,exact_match"),
            (std::vector<std::string>{"squad_f1", "bleu", "exact_match"}));
  EXPECT_TRUE(split_commas(" , ").empty());
}

TEST_F(ConfigTest, IdentityHashIgnoresOutputButNotMetrics) {
  auto a = resolve_config(sources(std::nullopt, {}, {{"output", "a"}}));
  auto b = resolve_config(sources(std::nullopt, {}, {{"output", "b"}}));
  auto c = resolve_config(sources(std::nullopt, {}, {{"metrics", nlohmann::json::array({"squad_f1"})}}));
  EXPECT_EQ(a.identity_hash(), b.identity_hash());
  EXPECT_NE(a.identity_hash(), c.identity_hash());
  auto changed = ResolvedConfig::changed_keys(a.redacted(), c.redacted());
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0], "metrics");
}

TEST_F(ConfigTest, RedactedConfigNestsDottedKeys) {
  auto cfg = resolve_config(sources(std::nullopt, {}));
  auto red = cfg.redacted();
  EXPECT_EQ(red["bootstrap"]["seed"], 1234);
  EXPECT_EQ(red["fields"]["id"], "id");
}

TEST_F(ConfigTest, EveryKeyHasHelpText) {
  for (const auto& key : config_keys()) {
    EXPECT_FALSE(key.help.empty()) << key.path;
  }
}

}  // namespace
}  // namespace assay::eval
