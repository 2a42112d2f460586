// When an AWS call is tried again, as the AWS SDKs' retry modes specify it: which answers are
// throttling or transient, how long to back off (exponential with full jitter, capped at 20 s),
// the standard mode's retry quota, and the settings AWS_RETRY_MODE / AWS_MAX_ATTEMPTS. Pure
// policy: the caller (eval/submit's AwsClient) sends, signs and sleeps.
#pragma once

#include <random>
#include <string>

#include "core/aws_credentials.h"

namespace assay {

enum class AwsRetryMode {
  kLegacy,    // botocore's legacy mode: 5 attempts, no retry quota
  kStandard,  // the SDKs' standard mode: 3 attempts, retry quota (the default here)
  kAdaptive,  // accepted as the SDKs accept it; retries as standard (no client-side rate limiter)
};

struct AwsRetryConfig {
  AwsRetryMode mode = AwsRetryMode::kStandard;
  int max_attempts = 3;         // total tries of one call, first included (1 = never retry)
  double max_backoff_s = 20.0;  // cap of one computed delay (the SDKs' MAX_BACKOFF)
};

// AWS_RETRY_MODE (legacy|standard|adaptive; default standard) and AWS_MAX_ATTEMPTS (an integer
// >= 1; default 3, or 5 in legacy mode). Throws assay::Error (invalid input) naming the variable,
// its value and what is allowed.
AwsRetryConfig resolve_aws_retry_config(const EnvLookup& env);

// The SDKs' throttling errors: HTTP 429, or one of their throttling codes (ThrottlingException,
// SlowDown, TooManyRequestsException, ...).
bool is_aws_throttling_error(int status, const std::string& code);

// The SDKs' transient errors: no answer at all (status 0: connection refused, reset, timeout),
// HTTP 500/502/503/504, or the codes RequestTimeout, RequestTimeoutException,
// PriorRequestNotComplete.
bool is_aws_transient_error(int status, const std::string& code);

// Delay before the retry that follows failed attempt `attempt` (1-based):
// min(max_backoff_s, random01 * 2^(attempt-1)) seconds, random01 in [0, 1).
double aws_backoff_delay(int attempt, double max_backoff_s, double random01);

// The standard mode's retry quota (one per client): 500 tokens; a retry costs 5 (10 after no
// answer at all); a call that succeeds returns what its retries took, or 1 token when it needed
// none. When the quota cannot pay for a retry the error is reported at once. Not thread-safe.
class AwsRetryQuota {
 public:
  static constexpr int kCapacity = 500;
  static constexpr int kRetryCost = 5;
  static constexpr int kNoAnswerCost = 10;
  // Takes the cost of one retry; false (nothing taken) when the quota cannot pay it.
  bool acquire(bool no_answer);
  // A call succeeded after taking `taken` tokens for its retries.
  void release(int taken);
  int available() const { return available_; }

 private:
  int available_ = kCapacity;
};

}  // namespace assay
