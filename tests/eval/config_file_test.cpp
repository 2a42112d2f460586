// Config files in JSON and YAML: the same schema and the same values either way, errors naming
// the file and line (unknown keys, wrong types, duplicate keys, syntax), YAML's scalar types, and
// robustness: mutated files only ever end in assay::Error.
#include "eval/config_file.h"

#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "eval/config.h"
#include "eval/run_settings.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// The same run config twice, written by hand in each format.
const char* kJson = R"({
  "dataset": "data/test.jsonl",
  "dummy": true,
  "metrics": ["squad", {"name": "regex_match", "pattern": "^a+$", "full": true}],
  "bootstrap": {"resamples": 200, "seed": 7, "confidence": 0.9},
  "judge": {
    "provider": "dummy",
    "timeout_s": 30,
    "prices": {"m": {"input_per_mtok": 0.5, "output_per_mtok": 2}}
  },
  "generation": {"temperature": 0.7, "stop": ["###", "\n\n"], "max_new_tokens": 64},
  "prompt": {"template": "Q: {instruction}\nA:"}
}
)";

const char* kYaml = R"(# the same config as kJson
dataset: data/test.jsonl
dummy: true
metrics:
  - squad
  - name: regex_match
    pattern: '^a+$'
    full: true
bootstrap:
  resamples: 200
  seed: 7
  confidence: 0.9
judge:
  provider: dummy
  timeout_s: 30
  prices: {m: {input_per_mtok: 0.5, output_per_mtok: 2}}
generation:
  temperature: 0.7
  stop: ["###", "\n\n"]
  max_new_tokens: 64
prompt:
  template: |-
    Q: {instruction}
    A:
)";

class ConfigFileTest : public ::testing::Test {
 protected:
  ResolvedConfig resolve(const fs::path& file) {
    ConfigSources s;
    s.file = file;
    s.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    return resolve_config(s);
  }
  // The message of the exit-2 assay::Error that resolving `name` with `text` throws.
  std::string error_of(const std::string& name, const std::string& text) {
    fs::path file = dir_.write(name, text);
    try {
      run_settings_from(resolve(file));
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
      EXPECT_EQ(e.exit_code(), kExitBadInput);
      // Messages name the file by the path it was given as.
      EXPECT_EQ(std::string(e.what()).rfind(file.string(), 0), 0u) << e.what();
      return std::string(e.what()).substr(file.string().size());
    }
    return "";
  }
  testing::TempDir dir_;
};

TEST_F(ConfigFileTest, YamlAndJsonGiveTheSameValuesAndIdentity) {
  ResolvedConfig j = resolve(dir_.write("run.json", kJson));
  ResolvedConfig y = resolve(dir_.write("run.yaml", kYaml));
  EXPECT_EQ(y.values, j.values);
  EXPECT_EQ(y.identity_hash(), j.identity_hash());
  // What both must hold, read from the text above rather than from either parse.
  EXPECT_TRUE(y.at("dummy").is_boolean());
  EXPECT_EQ(y.at("bootstrap.seed"), 7);
  EXPECT_TRUE(y.at("bootstrap.seed").is_number_integer());
  EXPECT_EQ(y.at("bootstrap.confidence"), 0.9);
  EXPECT_EQ(y.at("generation.stop"), json::array({"###", "\n\n"}));
  EXPECT_EQ(y.get_string("prompt.template"), "Q: {instruction}\nA:");
  EXPECT_EQ(y.at("metrics")[1],
            json({{"name", "regex_match"}, {"pattern", "^a+$"}, {"full", true}}));
  EXPECT_EQ(y.at("judge.prices")["m"]["output_per_mtok"], 2);
  // The typed settings agree too.
  RunSettings sj = run_settings_from(j), sy = run_settings_from(y);
  EXPECT_EQ(sy.generation.max_new_tokens, 32);  // dummy caps 64 at dummy_max_new_tokens
  EXPECT_EQ(sy.generation.temperature, sj.generation.temperature);
  EXPECT_EQ(sy.judge.timeout_s, 30.0);
  EXPECT_EQ(sy.judge.prices.at("m").input_per_mtok, 0.5);
}

TEST_F(ConfigFileTest, YmlAndUppercaseExtensionsAreYaml) {
  EXPECT_TRUE(is_yaml_config("a/run.yml"));
  EXPECT_TRUE(is_yaml_config("RUN.YAML"));
  EXPECT_FALSE(is_yaml_config("run.json"));
  EXPECT_FALSE(is_yaml_config("yaml"));
  EXPECT_EQ(resolve(dir_.write("run.yml", "bootstrap: {seed: 3}\n")).get_int("bootstrap.seed"), 3);
}

TEST_F(ConfigFileTest, UnknownYamlKeyNamesTheLineAndSuggests) {
  EXPECT_EQ(error_of("run.yaml", "dataset: d.jsonl\n\nmetrcs: [squad_f1]\n"),
            ":3: unknown key 'metrcs' (did you mean 'metrics'?)");
  EXPECT_EQ(error_of("run.yaml", "bootstrap:\n  resamples: 5\n  sed: 3\n"),
            ":3: unknown key 'bootstrap.sed' (did you mean 'bootstrap.seed'?)");
}

TEST_F(ConfigFileTest, YamlScalarsMustFitTheSchemaTypeLikeJsonValues) {
  // Quoted is a string, as "64" is in JSON.
  EXPECT_EQ(error_of("run.yaml", "generation:\n  max_new_tokens: \"64\"\n"),
            ":2: key 'generation.max_new_tokens' must be an integer, got string");
  EXPECT_EQ(error_of("run.json", "{\"generation\":\n  {\"max_new_tokens\": \"64\"}}"),
            ":2: key 'generation.max_new_tokens' must be an integer, got string");
  EXPECT_EQ(error_of("run.yaml", "metrics: [squad]\n\nbootstrap:\n  resamples: 3\n  seed: 1.5\n"),
            ":5: key 'bootstrap.seed' must be an integer, got number");
  // YAML 1.1's yes/no are plain strings under the 1.2 core schema: not a boolean.
  EXPECT_EQ(error_of("run.yaml", "dummy: yes\n"), ":1: key 'dummy' must be a boolean, got string");
  EXPECT_EQ(error_of("run.yaml", "device: 1\n"), ":1: key 'device' must be a string, got number");
  EXPECT_EQ(error_of("run.yaml", "bootstrap:\n  seed: .inf\n"),
            ":2: key 'bootstrap.seed': '.inf' is not a finite number");
  EXPECT_EQ(error_of("run.yaml", "bootstrap:\n  seed: !!int x\n"),
            ":2: key 'bootstrap.seed': 'x' does not fit the YAML tag 'tag:yaml.org,2002:int'");
  // Null keeps the default, as JSON null does; forced and other number forms are numbers.
  ResolvedConfig c = resolve(
      dir_.write("ok.yaml",
                 "device: ~\ndataset: !!str 12\nbootstrap:\n  seed: 0x1F\n  resamples: +12\n"
                 "  confidence: !!float 1\n"));
  EXPECT_EQ(c.get_string("device"), "cpu");
  EXPECT_EQ(c.at("dataset"), "12");
  EXPECT_EQ(c.at("bootstrap.seed"), 31);
  EXPECT_EQ(c.at("bootstrap.resamples"), 12);
  EXPECT_TRUE(c.at("bootstrap.confidence").is_number_float());
}

TEST_F(ConfigFileTest, DuplicateKeysAreRefusedWithBothLines) {
  EXPECT_EQ(error_of("run.json",
                     "{\n  \"bootstrap\": {\"seed\": 1},\n  \"dataset\": \"d\",\n"
                     "  \"bootstrap\": {\"resamples\": 2}\n}\n"),
            ":4: duplicate key 'bootstrap' (first on line 2)");
  EXPECT_EQ(error_of("run.json", "{\"bootstrap\": {\"seed\": 1,\n \"seed\": 2}}"),
            ":2: duplicate key 'bootstrap.seed' (first on line 1)");
  EXPECT_EQ(error_of("run.yaml", "bootstrap:\n  seed: 1\n  resamples: 3\n  seed: 2\n"),
            ":4: duplicate key 'bootstrap.seed' (first on line 2)");
  EXPECT_EQ(error_of("run.yaml", "dataset: a\ndevice: cpu\ndataset: b\n"),
            ":3: duplicate key 'dataset' (first on line 1)");
  // Inside a metric object too: `name` twice would silently pick one metric.
  EXPECT_EQ(error_of("run.yaml", "metrics:\n  - {name: squad, name: bleu}\n"),
            ":2: duplicate key 'metrics[0].name' (first on line 2)");
  // The same key in two objects of an array is not a duplicate; an escaped key is the same key.
  EXPECT_EQ(error_of("run.json", R"({"metrics": [{"name": "squad"}, {"name": "bleu"}]})"), "");
  EXPECT_EQ(error_of("run.json", "{\"device\": \"cpu\",\n \"d\\u0065vice\": \"cuda\"}"),
            ":2: duplicate key 'device' (first on line 1)");
}

TEST_F(ConfigFileTest, JsonLinesAreThoseOfTheKeyNotOfAnEarlierSameNamedKey) {
  EXPECT_EQ(
      error_of("run.json",
               "{\n  \"bootstrap\": {\"seed\": 1},\n  \"generation\": {\n    \"seed\": \"x\"\n"
               "  }\n}\n"),
      ":4: key 'generation.seed' must be an integer, got string");
}

TEST_F(ConfigFileTest, MalformedYamlIsBadInputNamingTheLine) {
  EXPECT_EQ(error_of("run.yaml", "dataset: d\nmetrics: [squad\n"),
            ":3: config is not valid YAML: end of sequence flow not found");
  std::string e = error_of("run.yaml", "a: b: c\n");
  EXPECT_EQ(e.rfind(":1: config is not valid YAML: ", 0), 0u) << e;
  EXPECT_EQ(error_of("run.yaml", "- squad\n- bleu\n"), ": config must be a YAML mapping");
  EXPECT_EQ(error_of("run.yaml", ""), ": config must be a YAML mapping");
  EXPECT_EQ(error_of("run.yaml", "dataset: a\n---\ndataset: b\n"),
            ": config must be one YAML document, found 2");
  EXPECT_EQ(error_of("run.yaml", "[1]: x\n"), ":1: keys must be strings");
}

TEST_F(ConfigFileTest, AliasCyclesAndExpansionsEndInAnError) {
  EXPECT_NE(error_of("run.yaml", "models: &a [*a]\n").find("nests deeper than 64 levels"),
            std::string::npos);
  // Nine levels of nine references: 387,420,489 values if expanded.
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 9; ++k) laughs += ", " + prev;
    laughs += "]\n";
  }
  EXPECT_NE(error_of("run.yaml", laughs).find("expands to more than 100000 values"),
            std::string::npos);
  EXPECT_NE(error_of("run.json", std::string(100, '[') + std::string(100, ']'))
                .find("must be a JSON object"),
            std::string::npos);
  EXPECT_EQ(
      error_of("run.json", "{\"models\": " + std::string(100, '[') + std::string(100, ']') + "}"),
      ":1: config nests deeper than 64 levels");
  std::string deep = error_of("run.yaml", "models: " + std::string(100000, '['));
  EXPECT_NE(deep.find("not valid YAML"), std::string::npos) << deep;
}

// Random byte mutations of valid configs: every outcome is a resolved config or assay::Error
// (no crash, no foreign exception, no hang). No timing is asserted.
TEST_F(ConfigFileTest, MutatedConfigsOnlyEverThrowAssayErrors) {
  const std::string alphabet = "{}[],:\"'-&*!|>#?~ \t\n0123456789.eE+xyz\\";
  std::mt19937_64 rng(20240611);
  size_t resolved = 0, refused = 0;
  for (const auto& [name, valid] : {std::pair<std::string, std::string>{"fuzz.yaml", kYaml},
                                    std::pair<std::string, std::string>{"fuzz.json", kJson}}) {
    for (int round = 0; round < 1500; ++round) {
      std::string text = valid;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !text.empty(); ++e) {
        size_t pos = rng() % text.size();
        char c =
            (rng() % 4 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
        switch (rng() % 4) {
          case 0:
            text[pos] = c;
            break;
          case 1:
            text.insert(pos, 1, c);
            break;
          case 2:
            text.erase(pos, 1 + rng() % 8);
            break;
          default:
            text.insert(pos, text.substr(rng() % text.size(), 1 + rng() % 24));
            break;
        }
      }
      fs::path file = dir_.write(name, text);
      try {
        run_settings_from(resolve(file));
        ++resolved;
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
        ++refused;
      } catch (const std::exception& e) {
        ADD_FAILURE() << name << " round " << round << ": foreign exception " << e.what()
                      << "\n--- input ---\n"
                      << text;
      }
    }
  }
  // The mutations must exercise both outcomes, or the test proves little.
  EXPECT_GT(resolved, 50u);
  EXPECT_GT(refused, 500u);
}

}  // namespace
}  // namespace assay::eval
