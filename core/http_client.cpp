#include "core/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <queue>

#include "core/error.h"
#include "core/log.h"

namespace assay {
namespace {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}

void ensure_curl_global() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!ok) throw_internal("libcurl: curl_global_init failed");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool has_header(const Headers& headers, std::string_view lower_name) {
  for (const auto& [k, v] : headers) {
    if (lower(k) == lower_name) return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
Clock::duration from_seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// Transport errors worth another attempt: timeouts, refused/reset/dropped connections.
bool is_retryable_curl(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// One request's state across its attempts, plus the buffers of the attempt in flight.
struct Slot {
  size_t index = 0;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  HttpResponse response;
  Clock::time_point first_start{};
  char error_buf[CURL_ERROR_SIZE] = {0};
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<Slot*>(user)->response.body.append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* slot = static_cast<Slot*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    slot->response.headers.clear();  // a new response (e.g. after 100 Continue)
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    slot->response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                        std::string(trim(line.substr(colon + 1))));
  }
  return size * n;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(const HttpClientOptions& options) : options_(options) {
    ensure_curl_global();
    if (options_.max_concurrency < 1) options_.max_concurrency = 1;
    if (options_.ca_file.empty()) {
      for (const char* var : {"SSL_CERT_FILE", "CURL_CA_BUNDLE"}) {
        const char* v = std::getenv(var);
        if (v != nullptr && *v != '\0') {
          options_.ca_file = v;
          break;
        }
      }
    }
    stop_ = options_.stop != nullptr ? options_.stop : &g_stop;
    rng_.seed(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}());
    multi_ = curl_multi_init();
    if (multi_ == nullptr) throw_internal("libcurl: curl_multi_init failed");
    long conns = options_.max_concurrency;
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns);
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, conns);
    auto now = Clock::now();
    if (options_.rpm > 0)
      rpm_.emplace(options_.rpm / 60.0, std::max(1.0, options_.rpm / 60.0), now);
    if (options_.tpm > 0)
      tpm_.emplace(options_.tpm / 60.0, std::max(1.0, options_.tpm / 60.0), now);
  }

  ~CurlHttpClient() override {
    for (CURL* e : idle_easy_) curl_easy_cleanup(e);
    curl_multi_cleanup(multi_);
  }

  HttpStats stats() const override { return stats_; }

  void drain() override { drain_ = true; }

  void run(std::vector<HttpRequest> requests, const HttpDone& on_done) override {
    drain_ = false;
    const size_t n = requests.size();
    std::vector<Slot> slots(n);
    std::deque<size_t> fresh;
    for (size_t i = 0; i < n; ++i) {
      slots[i].index = i;
      fresh.push_back(i);
    }
    using Delayed = std::pair<Clock::time_point, size_t>;
    std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed;
    std::vector<bool> reported(n, false);
    size_t n_reported = 0, active = 0;
    const std::uint64_t budget = static_cast<std::uint64_t>(
        options_.retry.budget_fixed + options_.retry.budget_ratio * static_cast<double>(n));
    std::uint64_t retries_used = 0;
    bool stopping = false;  // the caller returned false: abort everything
    bool draining = false;  // the stop flag: start nothing more, let in-flight attempts finish

    auto report = [&](size_t i) {
      Slot& s = slots[i];
      s.response.elapsed_s = seconds(Clock::now() - s.first_start);
      reported[i] = true;
      ++n_reported;
      if (!on_done(i, std::move(s.response))) stopping = true;
    };

    auto cancel = [&](size_t i) {
      if (slots[i].easy != nullptr) release(slots[i]);
      slots[i].response.cancelled = true;
      if (slots[i].response.error.empty()) slots[i].response.error = "cancelled";
      report(i);
    };

    while (n_reported < n) {
      auto now = Clock::now();
      if (stopping) {
        for (size_t i = 0; i < n; ++i) {
          if (!reported[i]) cancel(i);
        }
        break;
      }
      if (!draining && (stop_->load() || drain_)) {
        // Requests not on the wire are cancelled now; those in flight finish or time out (each
        // attempt is bounded by timeout_s) so their replies are not lost.
        draining = true;
        fresh.clear();
        delayed = {};
        for (size_t i = 0; i < n; ++i) {
          if (!reported[i] && slots[i].easy == nullptr) cancel(i);
        }
        if (n_reported >= n) break;
        continue;
      }
      // Start attempts while there is room, something is due and the buckets allow it.
      Clock::time_point wake = now + std::chrono::milliseconds(100);
      while (!draining && active < static_cast<size_t>(options_.max_concurrency)) {
        bool from_delayed = !delayed.empty() && delayed.top().first <= now;
        if (!from_delayed && fresh.empty()) {
          if (!delayed.empty()) wake = std::min(wake, delayed.top().first);
          break;
        }
        size_t i = from_delayed ? delayed.top().second : fresh.front();
        double wait = now < pause_until_ ? seconds(pause_until_ - now) : 0.0;
        if (rpm_) wait = std::max(wait, rpm_->wait_s(1, now));
        if (tpm_) wait = std::max(wait, tpm_->wait_s(static_cast<double>(requests[i].tokens), now));
        if (wait > 0) {
          ++stats_.throttled_waits;
          wake = std::min(wake, now + from_seconds(wait));
          break;
        }
        if (rpm_) rpm_->try_take(1, now);
        if (tpm_) tpm_->try_take(static_cast<double>(requests[i].tokens), now);
        if (from_delayed) {
          delayed.pop();
        } else {
          fresh.pop_front();
        }
        if (requests[i].before_send) requests[i].before_send(requests[i]);
        start(slots[i], requests[i]);
        ++active;
      }

      int running = 0;
      curl_multi_perform(multi_, &running);
      int left = 0;
      bool finished_any = false;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        finished_any = true;
        Slot* slot = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&slot));
        ASSAY_CHECK(slot != nullptr);
        CURLcode code = msg->data.result;
        long status = 0;
        curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &status);
        HttpResponse& r = slot->response;
        r.status = code == CURLE_OK ? static_cast<int>(status) : 0;
        r.error = code == CURLE_OK ? std::string()
                                   : std::string(curl_easy_strerror(code)) +
                                         (slot->error_buf[0] ? std::string(": ") + slot->error_buf
                                                             : std::string());
        release(*slot);
        --active;
        bool retryable = code == CURLE_OK ? is_retryable_status(r.status) : is_retryable_curl(code);
        auto done_at = Clock::now();
        if (retryable && r.attempts <= options_.retry.max_retries && retries_used < budget &&
            !stop_->load() && !drain_) {
          double delay = backoff_delay(options_.retry, r.attempts - 1, rng_);
          if (auto asked = server_requested_delay(r.headers, epoch_now())) {
            double want = std::min(*asked, options_.retry.max_retry_after_s);
            std::uniform_real_distribution<double> jitter(0.0, 0.1 * want + 0.01);
            delay = want + jitter(rng_);
            // A 429 limits the whole key: hold every new attempt, not just this one.
            if (r.status == 429)
              pause_until_ = std::max(pause_until_, done_at + from_seconds(want));
          }
          ++retries_used;
          log::debug("http retry", {{"status", r.status},
                                    {"error", r.error},
                                    {"attempt", r.attempts},
                                    {"delay_s", delay}});
          delayed.emplace(done_at + from_seconds(delay), slot->index);
        } else {
          report(slot->index);
        }
      }
      if (n_reported >= n) break;
      if (finished_any) continue;  // a slot is free: start the next request before waiting
      now = Clock::now();
      if (!delayed.empty()) wake = std::min(wake, delayed.top().first);
      int timeout_ms = static_cast<int>(std::clamp<double>(seconds(wake - now) * 1000.0, 0, 100));
      if (timeout_ms > 0 || active > 0) curl_multi_poll(multi_, nullptr, 0, timeout_ms, nullptr);
    }
  }

 private:
  void start(Slot& slot, const HttpRequest& req) {
    CURL* e;
    if (!idle_easy_.empty()) {
      e = idle_easy_.back();
      idle_easy_.pop_back();
      curl_easy_reset(e);
    } else {
      e = curl_easy_init();
      if (e == nullptr) throw_internal("libcurl: curl_easy_init failed");
    }
    slot.easy = e;
    if (slot.response.attempts == 0) slot.first_start = Clock::now();
    ++slot.response.attempts;
    ++stats_.attempts;
    if (slot.response.attempts > 1) ++stats_.retries;
    slot.response.body.clear();
    slot.response.headers.clear();
    slot.response.status = 0;
    slot.response.error.clear();
    slot.error_buf[0] = '\0';
    for (const auto& [k, v] : req.headers) {
      slot.header_list = curl_slist_append(slot.header_list, (k + ": " + v).c_str());
    }
    slot.header_list = curl_slist_append(slot.header_list, "Expect:");  // no 100-continue wait
    if (!has_header(req.headers, "content-type")) {  // curl would add a form content type
      slot.header_list = curl_slist_append(slot.header_list, "Content-Type:");
    }
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, &slot);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(e, CURLOPT_USERAGENT, "assay-judge/0.1");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, slot.header_list);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &slot);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &slot);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, slot.error_buf);
    set_method(e, req);
    curl_multi_add_handle(multi_, e);
  }

  // GET, HEAD and DELETE send no body; POST and PUT send `body` (possibly empty). An easy handle
  // is reused, so every call resets what an earlier method set.
  static void set_method(CURL* e, const HttpRequest& req) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, nullptr);
    if (req.method == "POST" || req.method == "PUT") {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      if (req.method == "PUT") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
    } else {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
      if (req.method == "HEAD") curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
      if (req.method == "DELETE") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
  }

  void release(Slot& slot) {
    curl_multi_remove_handle(multi_, slot.easy);
    idle_easy_.push_back(slot.easy);
    slot.easy = nullptr;
    curl_slist_free_all(slot.header_list);
    slot.header_list = nullptr;
  }

  HttpClientOptions options_;
  const std::atomic<bool>* stop_;
  CURLM* multi_ = nullptr;
  std::vector<CURL*> idle_easy_;
  std::mt19937_64 rng_;
  std::optional<TokenBucket> rpm_, tpm_;
  Clock::time_point pause_until_{};
  bool drain_ = false;  // drain() was called during the current run()
  HttpStats stats_;
};

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  std::string want = lower(name);
  for (const auto& [k, v] : headers) {
    if (lower(k) == want) return v;
  }
  return std::nullopt;
}

HttpResponse send_one(HttpClient& client, HttpRequest request) {
  HttpResponse out;
  std::vector<HttpRequest> batch;
  batch.push_back(std::move(request));
  client.run(std::move(batch), [&out](size_t, HttpResponse&& r) {
    out = std::move(r);
    return true;
  });
  return out;
}

std::unique_ptr<HttpClient> make_curl_http_client(const HttpClientOptions& options) {
  return std::make_unique<CurlHttpClient>(options);
}

bool is_retryable_status(int status) {
  return status == 408 || status == 409 || status == 429 || status == 500 || status == 502 ||
         status == 503 || status == 504 || status == 529;
}

std::optional<double> parse_retry_after(std::string_view value, double now_epoch_s) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  std::string text(value);
  char* end = nullptr;
  double secs = std::strtod(text.c_str(), &end);
  if (end != text.c_str() && *end == '\0') {
    if (!std::isfinite(secs) || secs < 0) return std::nullopt;
    return secs;
  }
  time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  return std::max(0.0, static_cast<double>(when) - now_epoch_s);
}

std::optional<double> parse_reset_duration(std::string_view value) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  std::string text(value);
  double total = 0;
  const char* p = text.c_str();
  bool any = false;
  while (*p != '\0') {
    char* end = nullptr;
    double v = std::strtod(p, &end);
    if (end == p || !std::isfinite(v) || v < 0) return std::nullopt;
    p = end;
    any = true;
    if (*p == '\0') {
      total += v;  // bare number: seconds
      break;
    }
    if (p[0] == 'm' && p[1] == 's') {
      total += v / 1000.0;
      p += 2;
    } else if (*p == 'h') {
      total += v * 3600.0;
      ++p;
    } else if (*p == 'm') {
      total += v * 60.0;
      ++p;
    } else if (*p == 's') {
      total += v;
      ++p;
    } else {
      return std::nullopt;
    }
  }
  if (!any) return std::nullopt;
  return total;
}

std::optional<double> server_requested_delay(const Headers& headers, double now_epoch_s) {
  std::optional<double> reset;
  for (const auto& [k, v] : headers) {
    std::string name = lower(k);
    if (name == "retry-after") {
      if (auto d = parse_retry_after(v, now_epoch_s)) return d;
    } else if (name == "retry-after-ms") {
      if (auto d = parse_retry_after(v, now_epoch_s)) return *d / 1000.0;
    } else if (name == "x-ratelimit-reset-requests" || name == "x-ratelimit-reset-tokens") {
      if (auto d = parse_reset_duration(v)) reset = std::max(reset.value_or(0.0), *d);
    }
  }
  return reset;
}

double backoff_delay(const RetryPolicy& policy, int retry, std::mt19937_64& rng) {
  double cap =
      std::min(policy.max_delay_s, policy.base_delay_s * std::ldexp(1.0, std::min(retry, 30)));
  std::uniform_real_distribution<double> dist(0.0, std::max(cap, 0.0));
  return dist(rng);
}

TokenBucket::TokenBucket(double rate_per_s, double capacity, Clock::time_point now)
    : rate_(rate_per_s), capacity_(capacity), tokens_(capacity), last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now > last_) {
    tokens_ = std::min(capacity_, tokens_ + rate_ * seconds(now - last_));
    last_ = now;
  }
}

bool TokenBucket::try_take(double n, Clock::time_point now) {
  if (wait_s(n, now) > 0) return false;
  tokens_ -= n;
  return true;
}

double TokenBucket::wait_s(double n, Clock::time_point now) {
  refill(now);
  double need = std::min(n, capacity_);  // an oversized request waits for a full bucket
  if (tokens_ >= need) return 0.0;
  return (need - tokens_) / rate_;
}

std::atomic<bool>& global_stop_flag() {
  return g_stop;
}

void install_stop_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int stop_signal() {
  return g_signal.load();
}

}  // namespace assay
