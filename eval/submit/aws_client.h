// Signed calls to AWS for evalctl: JSON-1.1 services (SageMaker, CloudWatch Logs), REST-JSON
// (Batch) and REST (S3), sent through core's HttpClient, with botocore's error parsing and the
// SDKs' retry modes (core/aws_retry.h) for throttling and transient errors.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/aws_credentials.h"
#include "core/aws_endpoint.h"
#include "core/aws_retry.h"
#include "core/error.h"
#include "core/http_client.h"

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
std::pair<std::string, std::string> parse_json_error(const HttpResponse& response);

// True for the error codes the SDKs' retry modes treat as throttling.
bool is_throttling_code(const std::string& code);

struct AwsClientOptions {
  std::string region;     // signing region
  AwsEndpoint sagemaker;  // base URLs per service
  AwsEndpoint s3;
  AwsEndpoint logs;
  AwsEndpoint batch;
  AwsRetryConfig retry;  // retry mode, attempts, backoff cap (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS)
};

// Sends signed requests, one at a time, through `http` (whose own retries should be off: this
// client retries, signing each attempt afresh). Not thread-safe (one per thread); `http` must
// outlive the client.
class AwsClient {
 public:
  AwsClient(HttpClient* http, AwsCredentials credentials, AwsClientOptions options);

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
  HttpResponse call_s3(const std::string& method, const std::string& path_and_query,
                       const std::string& body, const HttpHeaders& headers = {},
                       std::initializer_list<long> accept_status = {});

  const AwsClientOptions& options() const { return options_; }

  // For tests: replaces the sleep between retries (seconds).
  void set_sleep_for_testing(std::function<void(double)> sleep) { sleep_ = std::move(sleep); }

 private:
  using ErrorParser = std::function<std::pair<std::string, std::string>(const HttpResponse&)>;
  HttpResponse send_with_retry(const HttpRequest& request, const SigV4Options& sign,
                               const ErrorParser& parse_error,
                               std::initializer_list<long> accept_status);
  // Whether failed attempt `attempt` (status 0: no answer) may be retried; takes quota.
  bool may_retry(int attempt, int status, const std::string& code, int& quota_taken);

  HttpClient* http_;
  AwsCredentials credentials_;
  AwsClientOptions options_;
  AwsRetryQuota quota_;
  std::function<void(double)> sleep_;
};

// The HttpClient AWS calls go through: one request at a time, its own retries off (AwsClient
// retries), 10 s to connect and 300 s per attempt, never cancelled by the judges' stop flag.
std::unique_ptr<HttpClient> make_http_client_for_aws();

// Builds a client from the process environment: credentials, region, endpoints, retry settings.
// Throws assay::Error (invalid input) when credentials or region are missing or AWS_RETRY_MODE /
// AWS_MAX_ATTEMPTS are invalid.
std::unique_ptr<AwsClient> make_aws_client_from_env(HttpClient* http);

// A client from the environment with the HttpClient it sends through (owned together).
struct AwsConnection {
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<AwsClient> client;
};
// make_http_client_for_aws() + make_aws_client_from_env(); throws as the latter.
AwsConnection connect_aws_from_env();

}  // namespace assay::submit
