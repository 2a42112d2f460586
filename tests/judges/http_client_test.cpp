// core/http_client against a real local server (testing/fake_openai_server.h): concurrency
// on one thread, retries with Retry-After, 5xx/drop/timeout recovery, retry limits and budget,
// cancellation, rate limits; plus the pure retry-policy helpers.
#include "core/http_client.h"

#include <gtest/gtest.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "testing/fake_openai_server.h"

namespace assay {
namespace {
using testing::FakeOpenAiServer;
using testing::FakeServerOptions;
using testing::Fault;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A chat request for sample `i` with the test server's key.
HttpRequest chat(const FakeOpenAiServer& server, int i) {
  HttpRequest r;
  r.url = server.base_url() + "/chat/completions";
  r.headers = {{"Authorization", "Bearer sk-test-key"}, {"Content-Type", "application/json"}};
  r.body =
      nlohmann::json{{"model", "m"},
                     {"messages", {{{"role", "user"}, {"content", "SAMPLE-" + std::to_string(i)}}}}}
          .dump();
  return r;
}

std::vector<HttpResponse> run_all(HttpClient& client, std::vector<HttpRequest> reqs) {
  std::vector<HttpResponse> out(reqs.size());
  std::vector<int> seen(reqs.size(), 0);
  client.run(std::move(reqs), [&](size_t i, HttpResponse&& r) {
    ++seen[i];
    out[i] = std::move(r);
    return true;
  });
  for (int s : seen) EXPECT_EQ(s, 1) << "every request is reported exactly once";
  return out;
}

HttpClientOptions fast_retry_options() {
  HttpClientOptions o;
  o.retry.base_delay_s = 0.01;
  o.retry.max_delay_s = 0.05;
  o.jitter_seed = 7;
  o.timeout_s = 5;
  return o;
}

TEST(RetryPolicyTest, ParsesRetryAfterSecondsAndHttpDates) {
  EXPECT_EQ(parse_retry_after("7", 0), 7.0);
  EXPECT_EQ(parse_retry_after(" 1.5 ", 0), 1.5);
  // 2015-10-21 07:28:00 UTC is 1445412480 (Python calendar.timegm).
  EXPECT_NEAR(*parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 30), 30.0, 1e-9);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 + 30), 0.0);
  EXPECT_FALSE(parse_retry_after("soon", 0));
  EXPECT_FALSE(parse_retry_after("-3", 0));
  EXPECT_FALSE(parse_retry_after("", 0));
}

TEST(RetryPolicyTest, ParsesOpenAiResetDurations) {
  EXPECT_DOUBLE_EQ(*parse_reset_duration("1s"), 1.0);
  EXPECT_DOUBLE_EQ(*parse_reset_duration("6m0s"), 360.0);
  EXPECT_DOUBLE_EQ(*parse_reset_duration("20ms"), 0.02);
  EXPECT_DOUBLE_EQ(*parse_reset_duration("1h2m3.5s"), 3723.5);
  EXPECT_FALSE(parse_reset_duration("later"));
  // Retry-After wins over the reset headers; otherwise the larger reset is used.
  std::vector<std::pair<std::string, std::string>> h = {{"x-ratelimit-reset-requests", "2s"},
                                                        {"x-ratelimit-reset-tokens", "500ms"}};
  EXPECT_DOUBLE_EQ(*server_requested_delay(h, 0), 2.0);
  h.push_back({"Retry-After", "9"});
  EXPECT_DOUBLE_EQ(*server_requested_delay(h, 0), 9.0);
  EXPECT_FALSE(server_requested_delay({{"content-type", "x"}}, 0));
}

TEST(RetryPolicyTest, BackoffIsFullJitterUnderTheCap) {
  RetryPolicy p;
  p.base_delay_s = 0.5;
  p.max_delay_s = 4.0;
  std::mt19937_64 rng(1);
  for (int retry = 0; retry < 6; ++retry) {
    double cap = std::min(4.0, 0.5 * (1 << retry));
    double lo = 1e9, hi = 0, sum = 0;
    for (int i = 0; i < 4000; ++i) {
      double d = backoff_delay(p, retry, rng);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      sum += d;
    }
    EXPECT_GE(lo, 0.0);
    EXPECT_LE(hi, cap);
    EXPECT_GT(hi, 0.95 * cap);                     // full jitter reaches the cap...
    EXPECT_LT(lo, 0.05 * cap);                     // ...and zero
    EXPECT_NEAR(sum / 4000, cap / 2, 0.05 * cap);  // uniform: mean is half the cap
  }
}

TEST(RetryPolicyTest, TokenBucketRefillsAtItsRate) {
  auto t0 = Clock::now();
  TokenBucket b(10.0, 2.0, t0);
  EXPECT_TRUE(b.try_take(1, t0));
  EXPECT_TRUE(b.try_take(1, t0));
  EXPECT_FALSE(b.try_take(1, t0));
  EXPECT_NEAR(b.wait_s(1, t0), 0.1, 1e-9);
  EXPECT_TRUE(b.try_take(1, t0 + std::chrono::milliseconds(100)));
  // A request larger than the capacity waits for a full bucket, then goes.
  EXPECT_NEAR(b.wait_s(5, t0 + std::chrono::milliseconds(100)), 0.2, 1e-9);
}

TEST(HttpClientTest, KeepsManyRequestsInFlightOnOneThread) {
  FakeServerOptions so;
  so.delay_ms = 200;
  FakeOpenAiServer server(so);
  HttpClientOptions o = fast_retry_options();
  o.max_concurrency = 64;
  auto client = make_curl_http_client(o);
  std::vector<HttpRequest> reqs;
  for (int i = 0; i < 64; ++i) reqs.push_back(chat(server, i));
  auto t0 = Clock::now();
  auto out = run_all(*client, reqs);
  double wall = since(t0);
  for (const auto& r : out) EXPECT_EQ(r.status, 200) << r.error;
  // Sequentially this is 64 x 0.2 s = 12.8 s; concurrently one round of 0.2 s plus overhead.
  EXPECT_LT(wall, 2.0);
  EXPECT_GE(server.max_in_flight(), 32);
  EXPECT_EQ(server.requests(), 64);
}

TEST(HttpClientTest, Honours429RetryAfterAsALowerBound) {
  FakeServerOptions so;
  so.retry_after_s = 1.0;
  so.fault = [](const testing::RequestInfo& info) {
    return info.nth_for_sample == 1 ? Fault::k429 : Fault::kNone;
  };
  FakeOpenAiServer server(so);
  auto client = make_curl_http_client(fast_retry_options());
  std::vector<HttpRequest> reqs;
  for (int i = 0; i < 4; ++i) reqs.push_back(chat(server, i));
  auto out = run_all(*client, reqs);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(out[i].status, 200);
    EXPECT_EQ(out[i].attempts, 2);
    auto arrivals = server.arrivals(i);
    ASSERT_EQ(arrivals.size(), 2u);
    double gap = std::chrono::duration<double>(arrivals[1] - arrivals[0]).count();
    EXPECT_GE(gap, 0.99) << "sample " << i << " retried before Retry-After (1 s)";
  }
  EXPECT_EQ(client->stats().retries, 4u);
}

TEST(HttpClientTest, RecoversFrom5xxDroppedConnectionsAndTimeouts) {
  FakeServerOptions so;
  so.hang_s = 1.5;
  so.fault = [](const testing::RequestInfo& info) {
    if (info.nth_for_sample > 1) return Fault::kNone;
    switch (info.sample) {
      case 0:
        return Fault::k500;
      case 1:
        return Fault::k503;
      case 2:
        return Fault::kDrop;
      case 3:
        return Fault::kHang;
      default:
        return Fault::kNone;
    }
  };
  FakeOpenAiServer server(so);
  HttpClientOptions o = fast_retry_options();
  o.timeout_s = 0.4;
  auto client = make_curl_http_client(o);
  std::vector<HttpRequest> reqs;
  for (int i = 0; i < 6; ++i) reqs.push_back(chat(server, i));
  auto out = run_all(*client, reqs);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(out[i].status, 200) << "sample " << i << ": " << out[i].error;
    EXPECT_EQ(out[i].attempts, i < 4 ? 2 : 1) << "sample " << i;
    EXPECT_NE(out[i].body.find("chat.completion"), std::string::npos);
  }
}

TEST(HttpClientTest, StopsAfterMaxRetriesAndDoesNotRetry4xx) {
  FakeServerOptions so;
  so.fault = [](const testing::RequestInfo& info) {
    return info.sample == 0 ? Fault::k503 : Fault::k401;
  };
  FakeOpenAiServer server(so);
  HttpClientOptions o = fast_retry_options();
  o.retry.max_retries = 2;
  auto client = make_curl_http_client(o);
  auto out = run_all(*client, {chat(server, 0), chat(server, 1)});
  EXPECT_EQ(out[0].status, 503);
  EXPECT_EQ(out[0].attempts, 3);
  EXPECT_EQ(server.requests_for(0), 3);
  EXPECT_EQ(out[1].status, 401);
  EXPECT_EQ(out[1].attempts, 1);
  EXPECT_EQ(server.requests_for(1), 1);
}

TEST(HttpClientTest, RetryBudgetCapsTotalRetries) {
  FakeServerOptions so;
  so.fault = [](const testing::RequestInfo&) { return Fault::k500; };
  FakeOpenAiServer server(so);
  HttpClientOptions o = fast_retry_options();
  o.retry.max_retries = 5;
  o.retry.budget_fixed = 3;
  o.retry.budget_ratio = 0.0;
  auto client = make_curl_http_client(o);
  std::vector<HttpRequest> reqs;
  for (int i = 0; i < 10; ++i) reqs.push_back(chat(server, i));
  auto out = run_all(*client, reqs);
  for (const auto& r : out) EXPECT_EQ(r.status, 500);
  EXPECT_EQ(server.requests(), 10 + 3);  // not 10 x 6
  EXPECT_EQ(client->stats().retries, 3u);
}

TEST(HttpClientTest, StopFlagLetsTheRequestInFlightFinishAndCancelsTheRest) {
  FakeServerOptions so;
  so.hang_s = 1.5;
  so.fault = [](const testing::RequestInfo&) { return Fault::kHang; };
  FakeOpenAiServer server(so);
  std::atomic<bool> stop{false};
  HttpClientOptions o = fast_retry_options();
  o.max_concurrency = 1;
  o.stop = &stop;
  auto client = make_curl_http_client(o);
  std::thread setter([&] {  // stop once the first request reached the server (it hangs 1.5 s)
    while (server.requests() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stop = true;
  });
  auto out = run_all(*client, {chat(server, 0), chat(server, 1), chat(server, 2)});
  setter.join();
  EXPECT_EQ(server.requests(), 1);  // nothing was sent after the stop
  EXPECT_FALSE(out[0].cancelled);   // the reply in flight was waited for
  EXPECT_EQ(out[0].status, 200);
  for (size_t i = 1; i < out.size(); ++i) {
    EXPECT_TRUE(out[i].cancelled);
    EXPECT_EQ(out[i].status, 0);
    EXPECT_EQ(out[i].attempts, 0);  // never sent
  }
}

// before_send runs before every attempt, retries included, and what it sets is what is sent
// (the bedrock provider signs afresh there): a header set on the 2nd call carries the attempt.
TEST(HttpClientTest, BeforeSendRunsBeforeEachAttemptAndItsChangesAreSent) {
  FakeServerOptions so;
  so.api_key = "";  // any Authorization
  so.fault = [](const testing::RequestInfo& info) {
    return info.nth_for_sample == 1 ? Fault::k503 : Fault::kNone;
  };
  FakeOpenAiServer server(so);
  auto client = make_curl_http_client(fast_retry_options());
  int calls = 0;
  HttpRequest r = chat(server, 0);
  r.before_send = [&calls](HttpRequest& req) {
    ++calls;
    req.headers = {{"Authorization", "Bearer attempt-" + std::to_string(calls)},
                   {"Content-Type", "application/json"}};
  };
  auto out = run_all(*client, {r});
  EXPECT_EQ(out[0].status, 200);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(server.auth_headers(),
            (std::vector<std::string>{"Bearer attempt-1", "Bearer attempt-2"}));
}

// drain() from a callback: the request on the wire finishes and is reported as usual, nothing
// else is sent (the rest come back cancelled, never sent), and failures are not retried.
TEST(HttpClientTest, DrainLetsTheRequestsOnTheWireFinishAndSendsNothingMore) {
  FakeServerOptions so;
  so.delay_ms = 100;
  FakeOpenAiServer server(so);
  HttpClientOptions o = fast_retry_options();
  o.max_concurrency = 2;
  auto client = make_curl_http_client(o);
  std::vector<HttpRequest> reqs;
  for (int i = 0; i < 8; ++i) reqs.push_back(chat(server, i));
  std::vector<HttpResponse> out(reqs.size());
  bool drained = false;
  client->run(std::move(reqs), [&](size_t i, HttpResponse&& r) {
    out[i] = std::move(r);
    if (!drained && out[i].status == 200) {
      client->drain();
      drained = true;
    }
    return true;
  });
  int ok = 0, cancelled = 0;
  for (const auto& r : out) {
    ok += r.status == 200;
    cancelled += r.cancelled && r.attempts == 0;
  }
  EXPECT_EQ(ok, server.requests());  // each request sent got its reply
  EXPECT_LE(ok, 2);                  // the first, and at most the one beside it
  EXPECT_EQ(ok + cancelled, 8);
  // The next run() starts afresh.
  auto again = run_all(*client, {chat(server, 9)});
  EXPECT_EQ(again[0].status, 200);
}

TEST(HttpClientTest, RequestsPerMinuteBucketSpacesRequests) {
  FakeOpenAiServer server(FakeServerOptions{});
  HttpClientOptions o = fast_retry_options();
  o.rpm = 1200;  // 20 per second, burst 20
  auto client = make_curl_http_client(o);
  std::vector<HttpRequest> reqs;
  for (int i = 0; i < 40; ++i) reqs.push_back(chat(server, i));
  auto t0 = Clock::now();
  auto out = run_all(*client, reqs);
  double wall = since(t0);
  for (const auto& r : out) EXPECT_EQ(r.status, 200);
  EXPECT_GE(wall, 0.9);  // 20 go at once, the other 20 need 1 s of refill
  EXPECT_LT(wall, 3.0);
}

}  // namespace
}  // namespace assay
