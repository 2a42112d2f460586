// Signed calls to AWS for evalctl: JSON-1.1 services (SageMaker, CloudWatch Logs) and REST (S3),
// with botocore's error parsing and its standard retry policy for throttling/transient errors.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/aws_credentials.h"
#include "core/aws_endpoint.h"
#include "core/aws_http.h"
#include "core/error.h"

namespace assay::submit {

// An error answer from AWS. kind() is kRemote (kInvalidInput for 4xx that are the caller's fault
// is not guessed: callers decide by code()).
class AwsError : public Error {
 public:
  AwsError(long status, std::string code, const std::string& message)
      : Error(ErrorKind::kRemote, message), status_(status), code_(std::move(code)) {}
  long status() const { return status_; }
  // The error code as botocore computes it ("ThrottlingException", "ResourceInUse", ...).
  const std::string& code() const { return code_; }

 private:
  long status_;
  std::string code_;
};

// botocore's JSON error code: body.__type, cut at ':' and after the last '#'; falls back to the
// x-amzn-ErrorType header. Returns {code, message}.
std::pair<std::string, std::string> parse_json_error(const AwsHttpResponse& response);

// True for the error codes botocore's standard retry mode treats as throttling.
bool is_throttling_code(const std::string& code);

struct RetryOptions {
  int max_attempts = 5;       // total tries for throttling/transient errors (1 = no retry)
  double base_delay_s = 1.0;  // backoff scale: delay = rand(0,1) * min(base * 2^(n-1), max)
  double max_delay_s = 20.0;  // cap of one delay
};

struct AwsClientOptions {
  std::string region;     // signing region
  AwsEndpoint sagemaker;  // base URLs per service
  AwsEndpoint s3;
  AwsEndpoint logs;
  AwsEndpoint batch;
  RetryOptions retry;  // retry policy
};

// Sends signed requests. Not thread-safe (one per thread); `http` must outlive the client.
class AwsClient {
 public:
  AwsClient(AwsHttp* http, AwsCredentials credentials, AwsClientOptions options);

  // POSTs a JSON-1.1 call (`target` like "SageMaker.DescribeProcessingJob") to `service`
  // ("sagemaker" or "logs") and returns the parsed JSON answer. Throws AwsError on an error
  // answer (after retries), assay::Error (remote) when no answer came.
  nlohmann::json call_json(const std::string& service, const std::string& target,
                           const nlohmann::json& body);

  // POSTs a REST-JSON call (AWS Batch: `path` like "/v1/submitservicejob", Content-Type
  // application/json) to `service`'s endpoint ("batch") and returns the parsed JSON answer.
  // Errors as call_json.
  nlohmann::json call_rest_json(const std::string& service, const std::string& path,
                                const nlohmann::json& body);

  // Sends a signed S3 request to `path_and_query` (already encoded, starting with '/') on the S3
  // endpoint (path-style). Returns any answer whose status is < 300 or equals one of
  // `accept_status` (e.g. 404 for HEAD); throws AwsError otherwise (after retries).
  AwsHttpResponse call_s3(const std::string& method, const std::string& path_and_query,
                          const std::string& body, const HttpHeaders& headers = {},
                          std::initializer_list<long> accept_status = {});

  const AwsClientOptions& options() const { return options_; }

  // For tests: replaces the sleep between retries (seconds).
  void set_sleep_for_testing(std::function<void(double)> sleep) { sleep_ = std::move(sleep); }

 private:
  AwsHttpResponse send_with_retry(
      AwsHttpRequest request, const SigV4Options& sign,
      const std::function<std::pair<std::string, std::string>(const AwsHttpResponse&)>& parse_error,
      std::initializer_list<long> accept_status);

  AwsHttp* http_;
  AwsCredentials credentials_;
  AwsClientOptions options_;
  std::function<void(double)> sleep_;
};

// Builds a client from the process environment: credentials, region, endpoints. Throws
// assay::Error (invalid input) when credentials or region are missing.
std::unique_ptr<AwsClient> make_aws_client_from_env(AwsHttp* http);

}  // namespace assay::submit
