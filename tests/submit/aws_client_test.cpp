// Error-code parsing as botocore does it, and the retry policy, over an in-memory transport.
#include "eval/submit/aws_client.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>

namespace assay::submit {
namespace {

HttpResponse response(int status, const std::string& body, HttpHeaders headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = body;
  r.headers = std::move(headers);
  return r;
}

// Answers from a script and records what it was sent.
class ScriptedHttp : public HttpClient {
 public:
  void run(std::vector<HttpRequest> requests, const HttpDone& on_done) override {
    for (size_t i = 0; i < requests.size(); ++i) {
      sent.push_back(requests[i]);
      HttpResponse r = answers.front();
      answers.pop_front();
      r.attempts = 1;
      on_done(i, std::move(r));
    }
  }
  HttpStats stats() const override { return {}; }
  std::deque<HttpResponse> answers;
  std::vector<HttpRequest> sent;
};

TEST(AwsClientTest, ParsesErrorCodesLikeBotocore) {
  // botocore parsers.py BaseJSONParser: __type, cut at ':', keep after the last '#'.
  EXPECT_EQ(
      parse_json_error(response(
          400,
          R"({"__type":"com.amazonaws.sagemaker#ThrottlingException","message":"Rate exceeded"})")),
      std::make_pair(std::string("ThrottlingException"), std::string("Rate exceeded")));
  EXPECT_EQ(parse_json_error(
                response(400, R"({"__type":"ResourceInUse:http://internal","Message":"exists"})"))
                .first,
            "ResourceInUse");
  EXPECT_EQ(
      parse_json_error(response(400, "{}", {{"x-amzn-errortype", "ValidationException:http://x"}}))
          .first,
      "ValidationException");
  EXPECT_EQ(
      parse_json_error(
          response(
              403,
              "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>"))
          .first,
      "SignatureDoesNotMatch");
  EXPECT_TRUE(is_throttling_code("ThrottlingException"));
  EXPECT_TRUE(is_throttling_code("SlowDown"));
  EXPECT_FALSE(is_throttling_code("ValidationException"));
}

AwsClientOptions options() {
  AwsClientOptions o;
  o.region = "us-east-1";
  o.sagemaker = {"https://api.sagemaker.us-east-1.amazonaws.com", false};
  o.retry.max_attempts = 3;
  return o;
}

TEST(AwsClientTest, RetriesThrottlingThenSucceeds) {
  ScriptedHttp http;
  http.answers = {
      response(400, R"({"__type":"ThrottlingException"})", {{"x-amz-retry-after", "250"}}),
      response(503, "busy"), response(200, R"({"ProcessingJobSummaries":[]})")};
  AwsClient client(&http, {"AK", "SECRET", "", "t"}, options());
  std::vector<double> sleeps;
  client.set_sleep_for_testing([&](double s) { sleeps.push_back(s); });
  auto answer =
      client.call_json("sagemaker", "SageMaker.ListProcessingJobs", nlohmann::json::object());
  EXPECT_TRUE(answer.contains("ProcessingJobSummaries"));
  ASSERT_EQ(http.sent.size(), 3u);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_DOUBLE_EQ(sleeps[0], 0.25);  // x-amz-retry-after is in milliseconds
  EXPECT_LE(sleeps[1], 2.0);          // rand(0,1) * min(1 * 2^1, 20)
  // Each attempt is signed afresh (one Authorization header each) with the JSON-1.1 target.
  for (const auto& sent : http.sent) {
    int authorizations = 0;
    std::string target;
    for (const auto& [k, v] : sent.headers) {
      authorizations += k == "Authorization";
      if (k == "X-Amz-Target") target = v;
    }
    EXPECT_EQ(authorizations, 1);
    EXPECT_EQ(target, "SageMaker.ListProcessingJobs");
  }
}

TEST(AwsClientTest, GivesUpAfterMaxAttemptsAndDoesNotRetryClientErrors) {
  ScriptedHttp http;
  for (int i = 0; i < 3; ++i)
    http.answers.push_back(response(400, R"({"__type":"ThrottlingException"})"));
  AwsClient client(&http, {"AK", "SECRET", "", "t"}, options());
  client.set_sleep_for_testing([](double) {});
  try {
    client.call_json("sagemaker", "SageMaker.DescribeProcessingJob", {{"ProcessingJobName", "x"}});
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "ThrottlingException");
    EXPECT_NE(std::string(e.what()).find("after 3 attempts"), std::string::npos) << e.what();
  }
  EXPECT_EQ(http.sent.size(), 3u);
  ScriptedHttp http2;
  http2.answers = {response(400, R"({"__type":"ResourceInUse","Message":"exists"})")};
  AwsClient client2(&http2, {"AK", "SECRET", "", "t"}, options());
  EXPECT_THROW(
      client2.call_json("sagemaker", "SageMaker.CreateProcessingJob", nlohmann::json::object()),
      AwsError);
  EXPECT_EQ(http2.sent.size(), 1u);
}

TEST(AwsClientTest, NoAnswerIsRetriedAsATransientError) {
  ScriptedHttp http;
  HttpResponse refused;
  refused.error = "Couldn't connect to server";
  http.answers = {refused, response(200, "{}")};
  AwsClient client(&http, {"AK", "SECRET", "", "t"}, options());
  client.set_sleep_for_testing([](double) {});
  EXPECT_NO_THROW(client.call_json("sagemaker", "SageMaker.ListProcessingJobs", {}));
  EXPECT_EQ(http.sent.size(), 2u);

  ScriptedHttp down;
  down.answers = {refused, refused, refused};
  AwsClient client2(&down, {"AK", "SECRET", "", "t"}, options());
  client2.set_sleep_for_testing([](double) {});
  try {
    client2.call_json("sagemaker", "SageMaker.ListProcessingJobs", {});
    FAIL();
  } catch (const AwsError&) {
    FAIL() << "no answer is not an AWS error answer";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRemote);
    EXPECT_NE(std::string(e.what()).find("Couldn't connect"), std::string::npos) << e.what();
  }
  EXPECT_EQ(down.sent.size(), 3u) << "max_attempts";
}

TEST(AwsClientTest, StandardModeStopsWhenTheRetryQuotaIsSpentLegacyDoesNot) {
  AwsClientOptions o = options();
  o.retry.max_attempts = 200;  // so that the quota (500 / 5 = 100 retries) is what stops it
  ScriptedHttp http;
  for (int i = 0; i < 200; ++i) http.answers.push_back(response(503, "busy"));
  AwsClient client(&http, {"AK", "SECRET", "", "t"}, o);
  client.set_sleep_for_testing([](double) {});
  EXPECT_THROW(client.call_json("sagemaker", "SageMaker.ListProcessingJobs", {}), AwsError);
  EXPECT_EQ(http.sent.size(), 101u) << "the first try and 100 paid retries";

  o.retry.mode = AwsRetryMode::kLegacy;
  o.retry.max_attempts = 150;
  ScriptedHttp legacy_http;
  for (int i = 0; i < 150; ++i) legacy_http.answers.push_back(response(503, "busy"));
  AwsClient legacy(&legacy_http, {"AK", "SECRET", "", "t"}, o);
  legacy.set_sleep_for_testing([](double) {});
  EXPECT_THROW(legacy.call_json("sagemaker", "SageMaker.ListProcessingJobs", {}), AwsError);
  EXPECT_EQ(legacy_http.sent.size(), 150u) << "legacy mode has no quota";
}

TEST(AwsClientTest, BackoffDelaysGrowAndStayUnderTheCap) {
  AwsClientOptions o = options();
  o.retry.max_attempts = 8;
  ScriptedHttp http;
  for (int i = 0; i < 7; ++i) http.answers.push_back(response(500, "oops"));
  http.answers.push_back(response(200, "{}"));
  AwsClient client(&http, {"AK", "SECRET", "", "t"}, o);
  std::vector<double> sleeps;
  client.set_sleep_for_testing([&](double s) { sleeps.push_back(s); });
  client.call_json("sagemaker", "SageMaker.ListProcessingJobs", {});
  ASSERT_EQ(sleeps.size(), 7u);
  for (size_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_GE(sleeps[i], 0.0);
    EXPECT_LE(sleeps[i], std::min(20.0, std::ldexp(1.0, static_cast<int>(i)))) << i;
  }
}

}  // namespace
}  // namespace assay::submit
