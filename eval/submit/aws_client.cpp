#include "eval/submit/aws_client.h"

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "core/log.h"
#include "core/sigv4.h"

namespace assay::submit {

std::pair<std::string, std::string> parse_json_error(const AwsHttpResponse& response) {
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
  if (code.empty()) code = response.header("x-amzn-errortype");
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

std::pair<std::string, std::string> parse_xml_error(const AwsHttpResponse& response) {
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

bool is_transient(long status, const std::string& code) {
  return status == 500 || status == 502 || status == 503 || status == 504 ||
         code == "RequestTimeout" || code == "RequestTimeoutException" ||
         code == "PriorRequestNotComplete";
}

}  // namespace

bool is_throttling_code(const std::string& code) {
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
  return kCodes.count(code) > 0;
}

AwsClient::AwsClient(AwsHttp* http, AwsCredentials credentials, AwsClientOptions options)
    : http_(http), credentials_(std::move(credentials)), options_(std::move(options)) {
  sleep_ = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
}

AwsHttpResponse AwsClient::send_with_retry(
    AwsHttpRequest request, const SigV4Options& sign,
    const std::function<std::pair<std::string, std::string>(const AwsHttpResponse&)>& parse_error,
    std::initializer_list<long> accept_status) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  for (int attempt = 1;; ++attempt) {
    AwsHttpRequest signed_request = request;
    sigv4_sign(signed_request, credentials_, sign);
    std::string code, message;
    long status = 0;
    double retry_after_s = -1;
    try {
      AwsHttpResponse response = http_->send(signed_request);
      if (response.status < 300 || std::find(accept_status.begin(), accept_status.end(),
                                             response.status) != accept_status.end()) {
        return response;
      }
      status = response.status;
      std::tie(code, message) = parse_error(response);
      if (std::string ra = response.header("x-amz-retry-after"); !ra.empty()) {
        try {
          retry_after_s = std::stod(ra) / 1000.0;
        } catch (const std::exception&) {
        }
      }
      bool retryable = is_throttling_code(code) || is_transient(status, code);
      if (!retryable || attempt >= options_.retry.max_attempts) {
        throw AwsError(status, code,
                       request.method + " " + request.url + ": HTTP " + std::to_string(status) +
                           " " + code + (message.empty() ? "" : ": " + message) +
                           (retryable ? " (after " + std::to_string(attempt) + " attempts)" : ""));
      }
    } catch (const AwsError&) {
      throw;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kRemote || attempt >= options_.retry.max_attempts) throw;
      code = "ConnectionError";
    }
    double cap = std::min(options_.retry.base_delay_s * std::pow(2.0, attempt - 1),
                          options_.retry.max_delay_s);
    double delay = retry_after_s >= 0 ? retry_after_s
                                      : std::uniform_real_distribution<double>(0, 1)(rng) * cap;
    log::warn("AWS call retried",
              {{"url", request.url}, {"code", code}, {"attempt", attempt}, {"delay_s", delay}});
    sleep_(delay);
  }
}

namespace {

// A JSON API's answer body: {} when empty; an error naming `what` when it is not JSON.
nlohmann::json json_answer(const AwsHttpResponse& response, const std::string& what) {
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
  AwsHttpRequest request;
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
  AwsHttpRequest request;
  request.method = "POST";
  request.url = options_.batch.url + path;
  request.headers = {{"Content-Type", "application/json"}};
  request.body = body.dump();
  SigV4Options sign;
  sign.region = options_.region;
  sign.service = service;
  return json_answer(send_with_retry(request, sign, parse_json_error, {}), path);
}

AwsHttpResponse AwsClient::call_s3(const std::string& method, const std::string& path_and_query,
                                   const std::string& body, const HttpHeaders& headers,
                                   std::initializer_list<long> accept_status) {
  AwsHttpRequest request;
  request.method = method;
  request.url = options_.s3.url + path_and_query;
  request.headers = headers;
  request.body = body;
  SigV4Options sign{options_.region, "s3", "", false, true};
  return send_with_retry(request, sign, parse_xml_error, accept_status);
}

std::unique_ptr<AwsClient> make_aws_client_from_env(AwsHttp* http) {
  EnvLookup env = process_env();
  AwsClientOptions options;
  options.region = resolve_aws_region(env);
  options.sagemaker = resolve_aws_endpoint("sagemaker", options.region, env);
  options.s3 = resolve_aws_endpoint("s3", options.region, env);
  options.logs = resolve_aws_endpoint("logs", options.region, env);
  options.batch = resolve_aws_endpoint("batch", options.region, env);
  if (options.region.empty())
    throw_invalid("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile region)");
  return std::make_unique<AwsClient>(http, resolve_aws_credentials(env, http), options);
}

}  // namespace assay::submit
