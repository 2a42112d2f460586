// Generation settings for `evaluate run`: defaults, dummy caps, the dummy keys (dummy_samples,
// dummy_max_new_tokens), and out-of-range values naming the key and its origin.
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

TEST(GenerationSettingsTest, DefaultsAreGreedyWith256Tokens) {
  RunSettings s = run_settings_from(resolve_config(sources(std::nullopt)));
  EXPECT_EQ(s.generation.max_new_tokens, 256);
  EXPECT_EQ(s.generation.temperature, 0.0);
  EXPECT_EQ(s.generation.max_batch_size, 32);
  EXPECT_EQ(s.generation.chat_format, "none");
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
  auto error_of = [](std::vector<std::pair<std::string, nlohmann::json>> flags) -> std::string {
    try {
      run_settings_from(resolve_config(sources(std::nullopt, std::move(flags))));
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of({{"generation.top_p", 0.0}}).find("generation.top_p"), std::string::npos);
  EXPECT_NE(error_of({{"generation.temperature", -1.0}}).find("generation.temperature"),
            std::string::npos);
  EXPECT_NE(error_of({{"generation.dtype", "fp8"}}).find("generation.dtype"), std::string::npos);
  EXPECT_NE(error_of({{"prompt.chat_format", "vicuna"}}).find("prompt.chat_format"),
            std::string::npos);
  EXPECT_NE(error_of({{"generation.stop", nlohmann::json::array({""})}}).find("generation.stop"),
            std::string::npos);
  EXPECT_NE(error_of({{"dummy_samples", 0}}).find("dummy_samples"), std::string::npos);
}

}  // namespace
}  // namespace assay::eval
