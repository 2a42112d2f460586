#include "eval/submit/aws_client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "core/log.h"
#include "core/sigv4.h"

namespace assay::submit {

std::pair<std::string, std::string> parse_json_error(const HttpResponse& response) {
  std::string code, message;
  try {
    auto body = nlohmann::json::parse(response.body);
    if (body.is_object()) {
      code = body.value("__type", std::string());
      if (body.contains("message") && body["message"].is_string()) message = body["message"];
      if (body.contains("Message") && body["Message"].is_string()) message = body["Message"];
      if (code.empty() && body.contains("code") && body["code"].is_string()) code = body["code"];
    }
  } catch (const nlohmann::json::exception&) {
    message = response.body.substr(0, 300);
  }
  if (code.empty()) code = response.header("x-amzn-errortype").value_or("");
  if (auto colon = code.find(':'); colon != std::string::npos) code = code.substr(0, colon);
  if (auto hash = code.rfind('#'); hash != std::string::npos) code = code.substr(hash + 1);
  // moto answers signature errors on the JSON API as XML.
  if (code.empty()) {
    auto a = response.body.find("<Code>"), b = response.body.find("</Code>");
    if (a != std::string::npos && b != std::string::npos)
      code = response.body.substr(a + 6, b - a - 6);
  }
  return {code, message};
}

namespace {

std::pair<std::string, std::string> parse_xml_error(const HttpResponse& response) {
  auto tag = [&](const std::string& name) -> std::string {
    auto a = response.body.find("<" + name + ">");
    auto b = response.body.find("</" + name + ">");
    if (a == std::string::npos || b == std::string::npos) return "";
    a += name.size() + 2;
    return response.body.substr(a, b - a);
  };
  std::string code = tag("Code");
  if (code.empty()) {
    code = response.status == 404   ? "NotFound"
           : response.status == 403 ? "Forbidden"
                                    : "HTTP" + std::to_string(response.status);
  }
  return {code, tag("Message")};
}

}  // namespace

bool is_throttling_code(const std::string& code) {
  return is_aws_throttling_error(200, code);
}

AwsClient::AwsClient(HttpClient* http, AwsCredentials credentials, AwsClientOptions options)
    : http_(http), credentials_(std::move(credentials)), options_(std::move(options)) {
  sleep_ = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
}

bool AwsClient::may_retry(int attempt, int status, const std::string& code, int& quota_taken) {
  bool retryable = is_aws_throttling_error(status, code) || is_aws_transient_error(status, code);
  if (!retryable || attempt >= options_.retry.max_attempts) return false;
  if (options_.retry.mode == AwsRetryMode::kLegacy) return true;
  if (!quota_.acquire(status == 0)) {
    log::warn("AWS retry quota spent; not retrying", {{"code", code}, {"status", status}});
    return false;
  }
  quota_taken += status == 0 ? AwsRetryQuota::kNoAnswerCost : AwsRetryQuota::kRetryCost;
  return true;
}

namespace {

// The delay an error answer asked for (x-amz-retry-after, milliseconds), or -1.
double asked_delay_s(const HttpResponse& response) {
  auto value = response.header("x-amz-retry-after");
  if (!value) return -1;
  try {
    return std::stod(*value) / 1000.0;
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

HttpResponse AwsClient::send_with_retry(const HttpRequest& request, const SigV4Options& sign,
                                        const ErrorParser& parse_error,
                                        std::initializer_list<long> accept_status) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  int quota_taken = 0;
  for (int attempt = 1;; ++attempt) {
    HttpRequest signed_request = request;
    sigv4_sign(signed_request, credentials_, sign);
    HttpResponse response = send_one(*http_, std::move(signed_request));
    const int status = response.status;
    if (status != 0 && (status < 300 || std::find(accept_status.begin(), accept_status.end(),
                                                  status) != accept_status.end())) {
      if (options_.retry.mode != AwsRetryMode::kLegacy) quota_.release(quota_taken);
      return response;
    }
    std::string code = "ConnectionError", message = response.error;
    if (status != 0) std::tie(code, message) = parse_error(response);
    if (!may_retry(attempt, status, code, quota_taken)) {
      const std::string what = request.method + " " + request.url;
      if (status == 0) throw Error(ErrorKind::kRemote, what + ": " + response.error);
      bool retryable =
          is_aws_throttling_error(status, code) || is_aws_transient_error(status, code);
      throw AwsError(status, code,
                     what + ": HTTP " + std::to_string(status) + " " + code +
                         (message.empty() ? "" : ": " + message) +
                         (retryable ? " (after " + std::to_string(attempt) + " attempts)" : ""));
    }
    double delay = asked_delay_s(response);
    if (delay < 0) {
      double r = std::uniform_real_distribution<double>(0, 1)(rng);
      delay = aws_backoff_delay(attempt, options_.retry.max_backoff_s, r);
    }
    log::warn("AWS call retried",
              {{"url", request.url}, {"code", code}, {"attempt", attempt}, {"delay_s", delay}});
    sleep_(delay);
  }
}

namespace {

// A JSON API's answer body: {} when empty; an error naming `what` when it is not JSON.
nlohmann::json json_answer(const HttpResponse& response, const std::string& what) {
  if (response.body.empty()) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(response.body);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kRemote, what + ": answer is not JSON: " + e.what());
  }
}

}  // namespace

nlohmann::json AwsClient::call_json(const std::string& service, const std::string& target,
                                    const nlohmann::json& body) {
  const AwsEndpoint& endpoint = service == "logs" ? options_.logs : options_.sagemaker;
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint.url + "/";
  request.headers = {{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", target}};
  request.body = body.dump();
  SigV4Options sign;
  sign.region = options_.region;
  sign.service = service;
  return json_answer(send_with_retry(request, sign, parse_json_error, {}), target);
}

nlohmann::json AwsClient::call_rest_json(const std::string& service, const std::string& path,
                                         const nlohmann::json& body) {
  HttpRequest request;
  request.method = "POST";
  request.url = options_.batch.url + path;
  request.headers = {{"Content-Type", "application/json"}};
  request.body = body.dump();
  SigV4Options sign;
  sign.region = options_.region;
  sign.service = service;
  return json_answer(send_with_retry(request, sign, parse_json_error, {}), path);
}

HttpResponse AwsClient::call_s3(const std::string& method, const std::string& path_and_query,
                                const std::string& body, const HttpHeaders& headers,
                                std::initializer_list<long> accept_status) {
  HttpRequest request;
  request.method = method;
  request.url = options_.s3.url + path_and_query;
  request.headers = headers;
  request.body = body;
  SigV4Options sign{options_.region, "s3", "", false, true};
  return send_with_retry(request, sign, parse_xml_error, accept_status);
}

std::unique_ptr<HttpClient> make_http_client_for_aws() {
  static const std::atomic<bool> kNeverStop{false};
  HttpClientOptions options;
  options.max_concurrency = 1;
  options.timeout_s = 300;
  options.connect_timeout_s = 10;
  options.retry.max_retries = 0;
  options.stop = &kNeverStop;
  return make_curl_http_client(options);
}

std::unique_ptr<AwsClient> make_aws_client_from_env(HttpClient* http) {
  EnvLookup env = process_env();
  AwsClientOptions options;
  options.retry = resolve_aws_retry_config(env);
  options.region = resolve_aws_region(env);
  options.sagemaker = resolve_aws_endpoint("sagemaker", options.region, env);
  options.s3 = resolve_aws_endpoint("s3", options.region, env);
  options.logs = resolve_aws_endpoint("logs", options.region, env);
  options.batch = resolve_aws_endpoint("batch", options.region, env);
  if (options.region.empty())
    throw_invalid("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile region)");
  return std::make_unique<AwsClient>(http, resolve_aws_credentials(env, http), options);
}

AwsConnection connect_aws_from_env() {
  AwsConnection c;
  c.http = make_http_client_for_aws();
  c.client = make_aws_client_from_env(c.http.get());
  return c;
}

}  // namespace assay::submit
