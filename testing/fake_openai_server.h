// A real HTTP server on 127.0.0.1 (cpp-httplib, random free port) that speaks the OpenAI
// chat-completions wire format (or, with FakeServerOptions::wire, the Anthropic Messages API or
// Amazon Bedrock's Converse / InvokeModel, each with its own auth, bodies, usage fields and error
// shapes) and misbehaves on request: 429 with Retry-After, 500/503, hangs
// past the client's timeout, dropped connections, truncated JSON, non-JSON content, fenced JSON,
// scores as strings, out-of-range scores, missing criteria, and a burst limit. It counts what it
// served per sample so tests can prove nothing was lost or judged twice. Used by tests/judges,
// tests/e2e-style tests and bench/bench_judge.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace assay::testing {

enum class Fault {
  kNone,  // a correct reply
  k429,   // 429 with Retry-After: retry_after_s
  k500,
  k503,
  kHang,              // sleep hang_s before answering (past the client's timeout)
  kDrop,              // send headers then close the connection mid-body
  kTruncatedJson,     // 200 whose body is cut in half
  kNonJsonContent,    // 200 whose message content is prose without JSON
  kFencedJson,        // the JSON reply inside ```json fences with prose after it
  kStringScores,      // scores as strings ("3", "2/3")
  kOutOfRange,        // accuracy score 7 on a 1-3 scale
  kMissingCriterion,  // no "style"
  k401,               // invalid key (Bedrock: 403 AccessDeniedException)
  kOverloaded,        // Anthropic 529 overloaded_error (other wires: 503)
};

// The wire format the server speaks.
enum class Wire {
  kOpenAi,           // POST /v1/chat/completions, Authorization: Bearer <api_key>
  kAnthropic,        // POST /v1/messages, x-api-key: <api_key>, anthropic-version
  kBedrockConverse,  // POST /model/{modelId}/converse, SigV4 with access key id <api_key>
  kBedrockInvoke,    // POST /model/{modelId}/invoke, Anthropic body with bedrock-2023-05-31
};

// What the server knows about one incoming request when it picks a fault.
struct RequestInfo {
  int sample = -1;         // the N of "SAMPLE-N" in the first user message (-1 when none)
  int nth_for_sample = 0;  // 1 for the first request of this sample, 2 for the next, ...
  bool repair = false;     // the messages include an earlier assistant reply
  int nth_overall = 0;     // 1-based over the server's life
};

struct FakeServerOptions {
  std::string api_key = "sk-test-key";  // expected bearer token ("" accepts any)
  int threads = 96;                     // worker threads (>= the client's concurrency)
  int delay_ms = 0;                     // every reply waits this long (the bench uses 200)
  double retry_after_s = 1.0;           // Retry-After sent with k429
  double hang_s = 1.5;                  // how long kHang sleeps
  int burst_limit = 0;                  // > 0: more requests than this in flight get 429
  std::function<Fault(const RequestInfo&)> fault;  // null: always kNone
  bool echo_auth = false;  // correct replies quote the Authorization header in their analysis
  Wire wire = Wire::kOpenAi;
};

class FakeOpenAiServer {
 public:
  explicit FakeOpenAiServer(FakeServerOptions options);
  ~FakeOpenAiServer();  // stops the server and joins its thread
  FakeOpenAiServer(const FakeOpenAiServer&) = delete;
  FakeOpenAiServer& operator=(const FakeOpenAiServer&) = delete;

  int port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:PORT/v1"

  // The scores a correct reply gives sample N (independent of the client under test).
  static int expected_accuracy(int sample) { return 1 + sample % 3; }
  static int expected_style(int sample) { return 1 + (sample / 3) % 3; }
  static constexpr int kCompletionTokens = 20;  // usage.completion_tokens of every 200

  // Counters (thread-safe snapshots).
  int requests() const;                   // all requests received
  int valid_judgments(int sample) const;  // well-formed judgments served for the sample
  int requests_for(int sample) const;     // requests received for the sample
  std::map<int, int> valid_judgments_all() const;
  long long prompt_tokens_served() const;  // sum of usage.prompt_tokens of valid 200s
  int max_in_flight() const;               // the most requests handled at once
  // Arrival times (steady clock) of every request for a sample, in order.
  std::vector<std::chrono::steady_clock::time_point> arrivals(int sample) const;
  // Authorization values received (Anthropic: x-api-key; Bedrock: the SigV4 Authorization).
  std::vector<std::string> auth_headers() const;
  std::vector<std::string> targets() const;  // "METHOD path?query" of every request

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace assay::testing
