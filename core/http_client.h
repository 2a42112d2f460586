// HTTP for the judges and for AWS: an `HttpClient` interface that sends a batch of requests
// concurrently and reports each one as it finishes, and a libcurl-multi implementation (many
// requests in flight on one thread, connection reuse, timeouts, TLS verification, retry with
// backoff, RPM/TPM token buckets, cancellation). No curl type appears here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace assay {

// Header list in send order; names keep their case, duplicates are allowed.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "POST";  // "GET", "POST", "PUT", "HEAD" or "DELETE"
  std::string url;              // absolute, already percent-encoded (what goes on the wire)
  HttpHeaders headers;          // e.g. {"Authorization", "Bearer k"}; no Content-Type: none sent
  std::string body;
  std::uint64_t tokens = 0;  // estimated tokens this request costs, for the TPM bucket (0: none)
  // Called on run()'s thread just before each attempt (the first and every retry), e.g. to sign
  // it afresh when it waited in a queue or a backoff. Empty: the request goes as it is.
  std::function<void(HttpRequest&)> before_send;
};

struct HttpResponse {
  int status = 0;  // HTTP status of the last attempt; 0 when no response arrived at all
  std::vector<std::pair<std::string, std::string>> headers;  // of the last attempt, names lowercase
  std::string body;                                          // of the last attempt
  std::string error;       // transport error of the last attempt ("" when a response arrived)
  int attempts = 0;        // attempts made (1 + retries)
  bool cancelled = false;  // stopped by the stop flag or by the caller before it finished
  double elapsed_s = 0.0;  // from the first attempt's start to the end of the last

  // True for a 2xx response.
  bool ok() const { return status >= 200 && status < 300; }
  // The value of header `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

// Called on the caller's thread as each request finishes (after its retries), with the request's
// index in the batch. Return false to stop: requests not yet finished are then cancelled and
// reported with `cancelled` set.
using HttpDone = std::function<bool(size_t index, HttpResponse&& response)>;

// Counters over the life of a client.
struct HttpStats {
  std::uint64_t attempts = 0;         // attempts started (first tries and retries)
  std::uint64_t retries = 0;          // attempts that were retries
  std::uint64_t throttled_waits = 0;  // times a send waited for the RPM/TPM buckets or a pause
};

// The interface the judges talk to (STYLE: the outside world is injected).
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends every request, reports each through `on_done` exactly once, and returns when all have
  // been reported. Transport failures are values in the response, never exceptions.
  virtual void run(std::vector<HttpRequest> requests, const HttpDone& on_done) = 0;
  virtual HttpStats stats() const = 0;
  // Called from an `on_done` callback during run(): start nothing new; attempts already on the
  // wire finish (or time out) and are reported as usual, without retries; the rest are reported
  // cancelled. Lasts until that run() returns. Default: nothing (such a client sends everything).
  virtual void drain() {}
};

// Sends one request through `client` and returns its response (after the client's retries).
HttpResponse send_one(HttpClient& client, HttpRequest request);

// When and how often to try again.
struct RetryPolicy {
  int max_retries = 6;        // retries per request after the first attempt (0: never retry)
  double base_delay_s = 0.5;  // backoff before retry k is uniform in [0, min(cap, base * 2^k)]
  double max_delay_s = 30.0;  // cap on one computed backoff (Retry-After may ask for more)
  double max_retry_after_s = 120.0;  // a server's Retry-After above this is clipped to it
  // Retry budget for one run(): at most budget_fixed + budget_ratio * requests retries in all;
  // once spent, failures are reported without retrying (keeps a dying endpoint from costing
  // max_retries x requests).
  double budget_ratio = 0.5;
  int budget_fixed = 20;
};

struct HttpClientOptions {
  int max_concurrency = 32;         // requests in flight at once (and the connection pool size)
  double timeout_s = 60.0;          // per attempt, whole transfer
  double connect_timeout_s = 10.0;  // per attempt, TCP + TLS connect
  double rpm = 0.0;                 // requests per minute (token bucket); 0: unlimited
  double tpm = 0.0;  // tokens per minute (token bucket over HttpRequest::tokens); 0: unlimited
  RetryPolicy retry;
  // Set (e.g. by a SIGTERM handler) to stop: requests not yet on the wire (or waiting to retry)
  // are reported cancelled at once; attempts in flight finish or time out (timeout_s) and are
  // reported as usual, without retries. nullptr: the global flag of
  // install_stop_signal_handlers().
  const std::atomic<bool>* stop = nullptr;
  std::uint64_t jitter_seed = 0;  // seed for backoff jitter (0: from std::random_device)
  // CA bundle for TLS; "" means SSL_CERT_FILE, then CURL_CA_BUNDLE, then the system default.
  std::string ca_file;
};

// Creates the libcurl-multi client. Throws assay::Error (internal) if libcurl cannot start.
std::unique_ptr<HttpClient> make_curl_http_client(const HttpClientOptions& options);

// ---- Retry policy helpers (pure; exposed for tests) ----

// True for statuses worth retrying: 408, 409, 429, 500, 502, 503, 504, and 529 (Anthropic's
// "overloaded").
bool is_retryable_status(int status);

// Parses a Retry-After value: delta-seconds ("7", "1.5") or an HTTP date (relative to `now`,
// seconds since the epoch). Returns seconds to wait (>= 0), or nullopt if unparsable.
std::optional<double> parse_retry_after(std::string_view value, double now_epoch_s);

// Parses an OpenAI-style reset duration ("1s", "6m0s", "20ms", "1h2m3.5s", "0.5") into seconds.
std::optional<double> parse_reset_duration(std::string_view value);

// The wait the server asked for in `headers` (Retry-After, else the larger of
// x-ratelimit-reset-requests / x-ratelimit-reset-tokens), or nullopt when it asked for none.
std::optional<double> server_requested_delay(
    const std::vector<std::pair<std::string, std::string>>& headers, double now_epoch_s);

// Full-jitter exponential backoff before retry number `retry` (0-based): uniform in
// [0, min(max_delay, base * 2^retry)].
double backoff_delay(const RetryPolicy& policy, int retry, std::mt19937_64& rng);

// A token bucket: `rate_per_s` tokens arrive per second up to `capacity`. Not thread-safe.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double rate_per_s, double capacity, Clock::time_point now);
  // Takes `n` tokens if available now (a request larger than the capacity is allowed when the
  // bucket is full, leaving it negative). Returns true on success.
  bool try_take(double n, Clock::time_point now);
  // Seconds until `n` tokens could be taken (0 when now).
  double wait_s(double n, Clock::time_point now);

 private:
  void refill(Clock::time_point now);
  double rate_;
  double capacity_;
  double tokens_;
  Clock::time_point last_;
};

// ---- Cancellation ----

// The process-wide stop flag, set by the handlers below.
std::atomic<bool>& global_stop_flag();
// Installs SIGINT and SIGTERM handlers that set the global stop flag and record the signal.
void install_stop_signal_handlers();
// The signal that set the stop flag (SIGINT/SIGTERM), or 0.
int stop_signal();

}  // namespace assay
