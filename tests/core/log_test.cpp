#include "core/log.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace assay::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { set_sink_for_testing(&sink_); }
  void TearDown() override {
    set_sink_for_testing(nullptr);
    configure(Level::kInfo, Format::kAuto);
  }
  std::string sink_;
};

TEST_F(LogTest, JsonLinesCarryLevelMessageAndFields) {
  configure(Level::kInfo, Format::kJson);
  info("scoring", {{"samples", 3}});
  auto event = nlohmann::json::parse(sink_);
  EXPECT_EQ(event["level"], "info");
  EXPECT_EQ(event["msg"], "scoring");
  EXPECT_EQ(event["samples"], 3);
  EXPECT_TRUE(event.contains("ts"));
}

TEST_F(LogTest, LevelFiltersLowerEvents) {
  configure(Level::kWarn, Format::kHuman);
  info("hidden");
  warn("shown");
  EXPECT_EQ(sink_, "warn: shown\n");
}

TEST_F(LogTest, RegisteredSecretsNeverReachALine) {
  register_secret("sk-test-SECRET-1234567890");
  configure(Level::kDebug, Format::kJson);
  error("request failed with key sk-test-SECRET-1234567890",
        {{"header", "Authorization: Bearer sk-test-SECRET-1234567890"}});
  configure(Level::kDebug, Format::kHuman);
  info("again sk-test-SECRET-1234567890", {{"k", "sk-test-SECRET-1234567890"}});
  EXPECT_EQ(sink_.find("SECRET"), std::string::npos) << sink_;
  EXPECT_NE(sink_.find("***"), std::string::npos);
  EXPECT_EQ(redact("x sk-test-SECRET-1234567890 y"), "x *** y");
}

TEST_F(LogTest, ParseLevelIsStrict) {
  EXPECT_EQ(parse_level("debug"), Level::kDebug);
  EXPECT_EQ(parse_level("off"), Level::kOff);
  EXPECT_THROW(parse_level("verbose"), Error);
}

TEST(RedactUrlTest, DropsUserinfoAndHidesQueryValues) {
  EXPECT_EQ(redact_url("http://user:pw-9f8e@host:8080/v1?api-key=k-7a6b&x=1#f"),
            "http://host:8080/v1?api-key=***&x=***#f");
  EXPECT_EQ(redact_url("https://api.openai.com/v1"), "https://api.openai.com/v1");
  EXPECT_EQ(redact_url("https://tok-1234@host?flag"), "https://host?flag");
}

TEST(RedactUrlTest, RegistersThePasswordAndTheQueryValuesAsSecrets) {
  register_url_secrets("http://alice:pw%2Dsecret-1@host/v1?api-key=q-secret-2");
  EXPECT_EQ(redact("a pw%2Dsecret-1 b pw-secret-1 c q-secret-2 d alice"),
            "a *** b *** c *** d alice");
}

}  // namespace
}  // namespace assay::log
