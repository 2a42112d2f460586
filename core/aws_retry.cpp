#include "core/aws_retry.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"

namespace assay {

AwsRetryConfig resolve_aws_retry_config(const EnvLookup& env) {
  AwsRetryConfig config;
  if (auto mode = env("AWS_RETRY_MODE")) {
    if (*mode == "legacy") {
      config.mode = AwsRetryMode::kLegacy;
      config.max_attempts = 5;
    } else if (*mode == "adaptive") {
      config.mode = AwsRetryMode::kAdaptive;
    } else if (*mode != "standard") {
      throw_invalid("AWS_RETRY_MODE is '" + *mode + "'; allowed: legacy, standard, adaptive");
    }
  }
  if (auto attempts = env("AWS_MAX_ATTEMPTS")) {
    size_t used = 0;
    long value = 0;
    try {
      value = std::stol(*attempts, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != attempts->size() || value < 1 || value > 100) {
      throw_invalid("AWS_MAX_ATTEMPTS is '" + *attempts +
                    "'; it must be an integer in 1..100 (total tries, the first included)");
    }
    config.max_attempts = static_cast<int>(value);
  }
  return config;
}

bool is_aws_throttling_error(int status, const std::string& code) {
  static const std::set<std::string> kCodes = {"Throttling",
                                               "ThrottlingException",
                                               "ThrottledException",
                                               "RequestThrottledException",
                                               "TooManyRequestsException",
                                               "ProvisionedThroughputExceededException",
                                               "TransactionInProgressException",
                                               "RequestLimitExceeded",
                                               "BandwidthLimitExceeded",
                                               "LimitExceededException",
                                               "RequestThrottled",
                                               "SlowDown",
                                               "PriorRequestNotComplete",
                                               "EC2ThrottledException"};
  return status == 429 || kCodes.count(code) > 0;
}

bool is_aws_transient_error(int status, const std::string& code) {
  return status == 0 || status == 500 || status == 502 || status == 503 || status == 504 ||
         code == "RequestTimeout" || code == "RequestTimeoutException" ||
         code == "PriorRequestNotComplete";
}

double aws_backoff_delay(int attempt, double max_backoff_s, double random01) {
  double scale = std::ldexp(1.0, std::clamp(attempt - 1, 0, 30));
  return std::min(max_backoff_s, random01 * scale);  // botocore's ExponentialBackoff
}

bool AwsRetryQuota::acquire(bool no_answer) {
  int cost = no_answer ? kNoAnswerCost : kRetryCost;
  if (available_ < cost) return false;
  available_ -= cost;
  return true;
}

void AwsRetryQuota::release(int taken) {
  available_ = std::min(kCapacity, available_ + (taken > 0 ? taken : 1));
}

}  // namespace assay
