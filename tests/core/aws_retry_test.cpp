// The SDKs' retry modes as core/aws_retry.h states them: settings from AWS_RETRY_MODE and
// AWS_MAX_ATTEMPTS, which answers count as throttling or transient, the backoff bounds and the
// standard mode's retry quota (500 tokens, 5 per retry, 10 after no answer).
#include "core/aws_retry.h"

#include <gtest/gtest.h>

#include <map>

#include "core/error.h"

namespace assay {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(std::map<std::string, std::string> vars) {
  try {
    resolve_aws_retry_config(env_of(std::move(vars)));
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    return e.what();
  }
  return "";
}

TEST(AwsRetryTest, ModesAndAttemptsFromTheEnvironment) {
  AwsRetryConfig standard = resolve_aws_retry_config(env_of({}));
  EXPECT_EQ(standard.mode, AwsRetryMode::kStandard);
  EXPECT_EQ(standard.max_attempts, 3) << "the SDKs' standard mode default";
  AwsRetryConfig legacy = resolve_aws_retry_config(env_of({{"AWS_RETRY_MODE", "legacy"}}));
  EXPECT_EQ(legacy.mode, AwsRetryMode::kLegacy);
  EXPECT_EQ(legacy.max_attempts, 5) << "botocore's legacy default";
  AwsRetryConfig set =
      resolve_aws_retry_config(env_of({{"AWS_RETRY_MODE", "adaptive"}, {"AWS_MAX_ATTEMPTS", "7"}}));
  EXPECT_EQ(set.mode, AwsRetryMode::kAdaptive);
  EXPECT_EQ(set.max_attempts, 7);
  EXPECT_EQ(resolve_aws_retry_config(env_of({{"AWS_MAX_ATTEMPTS", "1"}})).max_attempts, 1);
}

TEST(AwsRetryTest, BadSettingsNameTheVariableTheValueAndTheRule) {
  std::string mode = error_of({{"AWS_RETRY_MODE", "fast"}});
  EXPECT_NE(mode.find("AWS_RETRY_MODE is 'fast'; allowed: legacy, standard, adaptive"),
            std::string::npos)
      << mode;
  for (const char* bad : {"0", "-2", "3x", "", "101"}) {
    std::string m = error_of({{"AWS_MAX_ATTEMPTS", bad}});
    EXPECT_NE(m.find(std::string("AWS_MAX_ATTEMPTS is '") + bad + "'"), std::string::npos) << m;
    EXPECT_NE(m.find("integer in 1..100"), std::string::npos) << m;
  }
}

TEST(AwsRetryTest, ThrottlingAndTransientErrors) {
  EXPECT_TRUE(is_aws_throttling_error(400, "ThrottlingException"));
  EXPECT_TRUE(is_aws_throttling_error(503, "SlowDown"));
  EXPECT_TRUE(is_aws_throttling_error(429, ""));
  EXPECT_FALSE(is_aws_throttling_error(400, "ValidationException"));
  EXPECT_TRUE(is_aws_transient_error(0, "ConnectionError")) << "no answer at all";
  for (int status : {500, 502, 503, 504}) EXPECT_TRUE(is_aws_transient_error(status, ""));
  EXPECT_TRUE(is_aws_transient_error(400, "RequestTimeout"));
  EXPECT_FALSE(is_aws_transient_error(501, ""));
  EXPECT_FALSE(is_aws_transient_error(403, "SignatureDoesNotMatch"));
}

TEST(AwsRetryTest, BackoffIsExponentialWithFullJitterCappedAt20s) {
  EXPECT_DOUBLE_EQ(aws_backoff_delay(1, 20, 0.5), 0.5);    // 0.5 * 2^0
  EXPECT_DOUBLE_EQ(aws_backoff_delay(3, 20, 0.5), 2.0);    // 0.5 * 2^2
  EXPECT_DOUBLE_EQ(aws_backoff_delay(3, 20, 0.0), 0.0);    // full jitter reaches 0
  EXPECT_DOUBLE_EQ(aws_backoff_delay(10, 20, 0.9), 20.0);  // 0.9 * 512, capped
  EXPECT_DOUBLE_EQ(aws_backoff_delay(60, 20, 0.9), 20.0);  // no overflow for large attempts
}

TEST(AwsRetryTest, QuotaPaysForAHundredRetriesThenRefuses) {
  AwsRetryQuota quota;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(quota.acquire(false)) << i;
  EXPECT_EQ(quota.available(), 0);
  EXPECT_FALSE(quota.acquire(false));
  quota.release(10);  // a call that took two retries succeeded
  EXPECT_EQ(quota.available(), 10);
  EXPECT_TRUE(quota.acquire(true));
  EXPECT_FALSE(quota.acquire(false)) << "no answer costs 10";
  quota.release(0);  // a call that needed no retry
  EXPECT_EQ(quota.available(), 1);
  AwsRetryQuota full;
  full.release(0);
  EXPECT_EQ(full.available(), AwsRetryQuota::kCapacity) << "never above the capacity";
}

}  // namespace
}  // namespace assay
