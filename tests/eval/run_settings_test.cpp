// Generation settings for `evaluate run`: defaults, dummy caps, the dummy keys (dummy_samples,
// dummy_max_new_tokens), and out-of-range values naming the key and its origin. Judge settings:
// the provider name checked against the registry, openai's key check, prices.
#include "eval/run_settings.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {

ConfigSources sources(std::optional<std::filesystem::path> file,
                      std::vector<std::pair<std::string, nlohmann::json>> flags = {}) {
  ConfigSources s;
  s.file = file;
  s.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  s.flags = std::move(flags);
  return s;
}

// The message of the assay::Error (invalid input) that resolving `flags` throws, or "".
std::string settings_error(std::vector<std::pair<std::string, nlohmann::json>> flags) {
  try {
    run_settings_from(resolve_config(sources(std::nullopt, std::move(flags))));
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    return e.what();
  }
  return "";
}

TEST(GenerationSettingsTest, DefaultsAreGreedyWith256Tokens) {
  RunSettings s = run_settings_from(resolve_config(sources(std::nullopt)));
  EXPECT_EQ(s.generation.max_new_tokens, 256);
  EXPECT_EQ(s.generation.temperature, 0.0);
  EXPECT_EQ(s.generation.max_batch_size, 32);
  EXPECT_EQ(s.generation.chat_format, "auto") << "the model's own chat template when it has one";
  EXPECT_EQ(s.generation.fewshot_n, 0);
  EXPECT_TRUE(s.generation.system.empty());
  EXPECT_EQ(s.generation.dummy_samples, 8);
}

TEST(GenerationSettingsTest, DummyCapsMaxNewTokens) {
  RunSettings s = run_settings_from(resolve_config(sources(std::nullopt, {{"dummy", true}})));
  EXPECT_EQ(s.generation.max_new_tokens, 32);
  s = run_settings_from(
      resolve_config(sources(std::nullopt, {{"dummy", true}, {"generation.max_new_tokens", 10}})));
  EXPECT_EQ(s.generation.max_new_tokens, 10) << "a smaller setting is kept";
}

TEST(GenerationSettingsTest, DummyKeysInAFile) {
  testing::TempDir dir;
  auto f =
      dir.write("run.json", R"({"dummy": true, "dummy_samples": 3, "dummy_max_new_tokens": 5})");
  RunSettings s = run_settings_from(resolve_config(sources(f)));
  EXPECT_TRUE(s.dummy);
  EXPECT_EQ(s.generation.dummy_samples, 3);
  EXPECT_EQ(s.generation.max_new_tokens, 5);
  // The resolved config serialises (manifest.json) with the dummy keys beside `dummy`.
  EXPECT_EQ(resolve_config(sources(f)).redacted()["dummy_samples"], 3);
}

TEST(GenerationSettingsTest, BadValuesNameTheKey) {
  EXPECT_NE(settings_error({{"generation.top_p", 0.0}}).find("generation.top_p"),
            std::string::npos);
  EXPECT_NE(settings_error({{"generation.temperature", -1.0}}).find("generation.temperature"),
            std::string::npos);
  EXPECT_NE(settings_error({{"generation.dtype", "fp8"}}).find("generation.dtype"),
            std::string::npos);
  EXPECT_NE(settings_error({{"prompt.chat_format", "vicuna"}}).find("prompt.chat_format"),
            std::string::npos);
  EXPECT_NE(
      settings_error({{"generation.stop", nlohmann::json::array({""})}}).find("generation.stop"),
      std::string::npos);
  EXPECT_NE(settings_error({{"dummy_samples", 0}}).find("dummy_samples"), std::string::npos);
  EXPECT_NE(settings_error({{"prompt.fewshot_n", -1}}).find("prompt.fewshot_n"), std::string::npos);
  EXPECT_NE(settings_error({{"prompt.fewshot", "shots.jsonl"}, {"prompt.fewshot_n", 2}}).find("set one, not both"),
            std::string::npos);
}

TEST(JudgeSettingsTest, ProviderNoneOrUnsetIsNoJudgeExceptInDummyRuns) {
  EXPECT_EQ(run_settings_from(resolve_config(sources(std::nullopt))).judge.provider, "");
  EXPECT_EQ(run_settings_from(resolve_config(sources(std::nullopt, {{"judge.provider", "none"}})))
                .judge.provider,
            "");
  EXPECT_EQ(
      run_settings_from(resolve_config(sources(std::nullopt, {{"dummy", true}}))).judge.provider,
      "dummy");
  EXPECT_EQ(run_settings_from(resolve_config(sources(
                                  std::nullopt, {{"dummy", true}, {"judge.provider", "none"}})))
                .judge.provider,
            "")
      << "an explicit none turns the dummy run's judge off";
}

TEST(JudgeSettingsTest, UnknownProviderListsTheRegisteredOnes) {
  EXPECT_EQ(settings_error({{"judge.provider", "dumy"}}),
            "judge.provider (from flag): 'dumy' must be openai, anthropic, bedrock, dummy or none "
            "(did you mean 'dummy'?)");
  EXPECT_EQ(settings_error({{"judge.provider", "vertex-ai"}}),
            "judge.provider (from flag): 'vertex-ai' must be openai, anthropic, bedrock, dummy or "
            "none");
}

TEST(JudgeSettingsTest, OpenaiNeedsAKeyOrABaseUrl) {
  EXPECT_EQ(settings_error({{"judge.provider", "openai"}}),
            "judge.provider is openai but no API key is set: set JUDGE_API_KEY or "
            "OPENAI_API_KEY (or judge.base_url for a local endpoint without a key)");
  RunSettings s = run_settings_from(resolve_config(sources(
      std::nullopt, {{"judge.provider", "openai"}, {"judge.base_url", "http://127.0.0.1:9/v1"}})));
  EXPECT_EQ(s.judge.base_url, "http://127.0.0.1:9/v1");
  EXPECT_TRUE(s.judge.base_url_set);
  EXPECT_EQ(s.judge.model, "gpt-4o-mini");
  EXPECT_EQ(settings_error({{"judge.provider", "openai"}, {"judge.base_url", "ftp://x"}}),
            "judge.base_url (from flag): 'ftp://x' must start with http:// or https://");
  EXPECT_EQ(settings_error({{"judge.max_concurrency", 0}}),
            "judge.max_concurrency (from flag) must be 1..1024");
  // A value beyond int's range still fails the range check (no wrap-around to a valid int).
  EXPECT_EQ(settings_error({{"judge.max_concurrency", 4294967297LL}}),
            "judge.max_concurrency (from flag) must be 1..1024");
}

TEST(JudgeSettingsTest, PricesAreReadIntoTheTable) {
  testing::TempDir dir;
  auto f = dir.write("run.json", R"({"judge": {"prices": {"m": {"input_per_mtok": 1.5,
                                      "output_per_mtok": 4}}}})");
  RunSettings s = run_settings_from(resolve_config(sources(f)));
  // The file's entry is added to the built-in table (which it may also override).
  EXPECT_EQ(s.judge.prices.size(), judges::default_judge_prices().size() + 1);
  EXPECT_EQ(s.judge.prices.at("m").input_per_mtok, 1.5);
  EXPECT_EQ(s.judge.prices.at("m").output_per_mtok, 4.0);
  EXPECT_EQ(s.judge.prices.at("gpt-4o").input_per_mtok, 2.50);  // a built-in list price
  auto over = dir.write("over.json", R"({"judge": {"prices": {"gpt-4o": {"input_per_mtok": 1.25,
                                         "output_per_mtok": 5}}}})");
  RunSettings o = run_settings_from(resolve_config(sources(over)));
  EXPECT_EQ(o.judge.prices.at("gpt-4o").input_per_mtok, 1.25);
  auto bad = dir.write("bad.json", R"({"judge": {"prices": {"m": {"input_per_mtok": "1"}}}})");
  try {
    run_settings_from(resolve_config(sources(bad)));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "judge.prices (from file " + bad.string() +
                  "): entry 'm' must be {\"input_per_mtok\": number, \"output_per_mtok\": number}");
  }
}

}  // namespace
}  // namespace assay::eval

namespace assay::eval {
namespace {

TEST(JudgeReliabilitySettingsTest, RepeatsJudgesCombineAndCalibration) {
  RunSettings s = run_settings_from(resolve_config(sources(std::nullopt)));
  EXPECT_EQ(s.judge.repeats, 1);
  EXPECT_TRUE(s.judges.empty());
  EXPECT_EQ(s.judge_combine, "mean");
  EXPECT_EQ(s.judge_calibration, "");
  s = run_settings_from(resolve_config(
      sources(std::nullopt, {{"judge.repeats", 3},
                             {"judge.combine", "majority"},
                             {"judge.calibration", "labels.jsonl"},
                             {"judges", nlohmann::json::parse(R"([{"provider": "dummy"},
           {"name": "b", "provider": "dummy", "model": "dummy-b"}])")}})));
  ASSERT_EQ(s.judges.size(), 2u);
  EXPECT_EQ(s.judges[0].name, "dummy:gpt-4o-mini") << "provider:model when unnamed";
  EXPECT_EQ(s.judges[1].name, "b");
  EXPECT_EQ(s.judges[1].model, "dummy-b");
  EXPECT_EQ(s.judges[1].repeats, 3) << "judge.* applies to every judge";
  EXPECT_EQ(s.judge.provider, "dummy") << "a judge stage exists";
  EXPECT_EQ(s.judge_combine, "majority");
  EXPECT_EQ(s.judge_calibration, "labels.jsonl");
  // judge.api_key goes to judge.base_url only: another model there keeps it, another endpoint
  // or provider does not.
  s = run_settings_from(resolve_config(sources(
      std::nullopt, {{"judge.provider", "openai"},
                     {"judge.api_key", "sk-main"},
                     {"judges", nlohmann::json::parse(R"([{"model": "gpt-4o"},
           {"name": "local", "base_url": "http://127.0.0.1:9/v1"},
           {"name": "d", "provider": "dummy"}])")}})));
  ASSERT_EQ(s.judges.size(), 3u);
  EXPECT_EQ(s.judges[0].api_key, "sk-main");
  EXPECT_EQ(s.judges[1].api_key, "");
  EXPECT_EQ(s.judges[2].api_key, "");
}

TEST(JudgeReliabilitySettingsTest, BadValuesNameTheKey) {
  EXPECT_NE(settings_error({{"judge.repeats", 0}}).find("judge.repeats"), std::string::npos);
  EXPECT_NE(settings_error({{"judge.repeats", 21}}).find("1..20"), std::string::npos);
  EXPECT_NE(settings_error({{"judge.combine", "median"}}).find("mean or majority"),
            std::string::npos);
  std::string msg = settings_error(
      {{"judges", nlohmann::json::parse(R"([{"provider": "dummy", "api_key": "sk-x"}])")}});
  EXPECT_NE(msg.find("judges"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[0]: unknown field 'api_key'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("api_key_env"), std::string::npos) << msg;
  msg = settings_error(
      {{"judges", nlohmann::json::parse(R"([{"provider": "dummy"}, {"provider": "dummy"}])")}});
  EXPECT_NE(msg.find("used twice"), std::string::npos) << msg;
  msg = settings_error({{"judges", nlohmann::json::parse(R"([{"model": "m"}])")}});
  EXPECT_NE(msg.find("[0].provider is missing"), std::string::npos) << msg;
  msg = settings_error({{"judges", nlohmann::json::parse(R"([{"provider": "nope"}])")}});
  EXPECT_NE(msg.find("nope"), std::string::npos) << msg;
}

}  // namespace
}  // namespace assay::eval
