#include "testing/fake_openai_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace assay::testing {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct FakeOpenAiServer::Impl {
  FakeServerOptions options;
  httplib::Server server;
  std::thread thread;
  mutable std::mutex mu;
  int requests = 0;
  std::map<int, int> valid;
  std::map<int, int> per_sample;
  std::map<int, std::vector<Clock::time_point>> arrivals;
  std::vector<std::string> auth;
  std::vector<std::string> targets;
  long long prompt_tokens = 0;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
};

namespace {

std::string between(const std::string& text, const std::string& open, const std::string& close) {
  size_t a = text.find(open);
  if (a == std::string::npos) return {};
  a += open.size();
  size_t b = text.find(close, a);
  return b == std::string::npos ? std::string() : text.substr(a, b - a);
}

// The reply content a correct judge gives, chosen by what the prompt asks for.
std::string correct_content(const std::string& prompt, int sample, Fault fault,
                            const std::string& echo) {
  if (prompt.find("[[A]]") != std::string::npos) {
    std::string a =
        between(prompt, "[The Start of Assistant A's Answer]", "[The End of Assistant A's Answer]");
    std::string b =
        between(prompt, "[The Start of Assistant B's Answer]", "[The End of Assistant B's Answer]");
    bool a_good = a.find("BETTER") != std::string::npos,
         b_good = b.find("BETTER") != std::string::npos;
    if (prompt.find("POSITION-BIASED") != std::string::npos) return "A looks better. [[A]]";
    return a_good && !b_good   ? "A is better. [[A]]"
           : b_good && !a_good ? "B is better. [[B]]"
                               : "Tie. [[C]]";
  }
  if (prompt.find("[[rating]]") != std::string::npos) {
    return "Solid answer. Rating: [[" + std::to_string(1 + sample % 10) + "]]";
  }
  int acc = FakeOpenAiServer::expected_accuracy(sample);
  int sty = FakeOpenAiServer::expected_style(sample);
  if (prompt.find("\"correctness\"") != std::string::npos) {
    return json{{"correctness", {{"analysis", "matches the reference"}, {"score", acc}}}}.dump();
  }
  json reply = {{"accuracy", {{"analysis", "fine" + echo}, {"score", acc}}},
                {"style", {{"analysis", "ok"}, {"score", sty}}}};
  switch (fault) {
    case Fault::kFencedJson:
      return "Here is my evaluation:\n```json\n" + reply.dump(2) +
             "\n```\nLet me know if you need more.";
    case Fault::kStringScores:
      reply["accuracy"]["score"] = std::to_string(acc);
      reply["style"]["score"] = std::to_string(sty) + "/3";
      return reply.dump();
    case Fault::kOutOfRange:
      reply["accuracy"]["score"] = 7;
      return reply.dump();
    case Fault::kMissingCriterion:
      reply.erase("style");
      return reply.dump();
    case Fault::kNonJsonContent:
      return "The answer is quite good overall, I would rate it highly.";
    default:
      return reply.dump();
  }
}

}  // namespace

FakeOpenAiServer::FakeOpenAiServer(FakeServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  Impl* s = impl_.get();
  int threads = s->options.threads;
  s->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s->server.set_keep_alive_max_count(100000);
  s->server.set_keep_alive_timeout(30);
  s->server.set_pre_routing_handler([s](const httplib::Request& req, httplib::Response&) {
    std::lock_guard lock(s->mu);
    s->targets.push_back(req.method + " " + req.target);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto handler = [s](const httplib::Request& req, httplib::Response& res) {
    const Wire wire = s->options.wire;
    const bool bedrock = wire == Wire::kBedrockConverse || wire == Wire::kBedrockInvoke;
    const bool anthropic_body = wire == Wire::kAnthropic || wire == Wire::kBedrockInvoke;
    int now_in = ++s->in_flight;
    for (int m = s->max_in_flight.load();
         now_in > m && !s->max_in_flight.compare_exchange_weak(m, now_in);) {
    }
    struct Leave {
      Impl* s;
      ~Leave() { --s->in_flight; }
    } leave{s};

    json body = json::parse(req.body, nullptr, false);
    std::string prompt;
    bool repair = false;
    // Message text: a string, or (Converse) a list of {"text"} blocks.
    auto text_of = [](const json& content) {
      if (content.is_string()) return content.get<std::string>();
      std::string out;
      if (content.is_array()) {
        for (const auto& b : content) {
          if (b.is_object() && b.contains("text") && b["text"].is_string())
            out += b["text"].get<std::string>();
        }
      }
      return out;
    };
    if (body.is_object() && body.contains("system")) prompt = text_of(body["system"]) + "\n";
    if (body.is_object() && body.contains("messages") && body["messages"].is_array()) {
      for (const auto& m : body["messages"]) {
        if (!m.is_object()) continue;
        // The system message and the first user message say what is asked.
        const json content = m.contains("content") ? m["content"] : json("");
        if (m.value("role", "") == "system") prompt = text_of(content) + "\n" + prompt;
        if (m.value("role", "") == "user" && prompt.find("\x01") == std::string::npos) {
          prompt += text_of(content) + "\x01";
        }
        if (m.value("role", "") == "assistant") repair = true;
      }
    }
    RequestInfo info;
    info.repair = repair;
    if (size_t at = prompt.find("SAMPLE-"); at != std::string::npos) {
      info.sample = std::atoi(prompt.c_str() + at + 7);  // cheap: the bench sends 1,000 of these
    }
    {
      std::lock_guard lock(s->mu);
      info.nth_overall = ++s->requests;
      info.nth_for_sample = ++s->per_sample[info.sample];
      s->arrivals[info.sample].push_back(Clock::now());
      s->auth.push_back(
          req.get_header_value(wire == Wire::kAnthropic ? "x-api-key" : "Authorization"));
    }
    // Each wire's error shape.
    auto fail = [&](int status, const std::string& type, const std::string& message) {
      res.status = status;
      if (bedrock) {
        res.set_header("x-amzn-ErrorType",
                       type + ":http://internal.amazon.com/coral/com.amazon.bedrock/");
        res.set_content(json{{"message", message}}.dump(), "application/json");
      } else if (wire == Wire::kAnthropic) {
        res.set_content(
            json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}.dump(),
            "application/json");
      } else {
        res.set_content(json{{"error", {{"message", message}, {"type", type}}}}.dump(),
                        "application/json");
      }
    };
    const std::string& key = s->options.api_key;
    if (wire == Wire::kOpenAi && !key.empty() &&
        req.get_header_value("Authorization") != "Bearer " + key) {
      res.status = 401;
      res.set_content(
          R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}})",
          "application/json");
      return;
    }
    if (wire == Wire::kAnthropic && ((!key.empty() && req.get_header_value("x-api-key") != key) ||
                                     req.get_header_value("anthropic-version").empty())) {
      return fail(401, "authentication_error", "invalid x-api-key");
    }
    if (bedrock) {
      // Not a signature check (tests/e2e's botocore endpoint does that): the shape of a SigV4
      // Authorization for service "bedrock" with the expected access key id, and X-Amz-Date.
      const std::string auth = req.get_header_value("Authorization");
      if (!auth.starts_with("AWS4-HMAC-SHA256 Credential=" + key + "/") ||
          auth.find("/bedrock/aws4_request, SignedHeaders=") == std::string::npos ||
          req.get_header_value("X-Amz-Date").size() != 16) {
        return fail(403, "UnrecognizedClientException",
                    "The security token included in the request is invalid.");
      }
    }
    bool body_ok = body.is_object() && body.contains("messages") && body["messages"].is_array();
    if (wire == Wire::kOpenAi || wire == Wire::kAnthropic)
      body_ok = body_ok && body.contains("model");
    if (anthropic_body) body_ok = body_ok && body.contains("max_tokens");
    if (wire == Wire::kBedrockInvoke) {
      body_ok = body_ok && body.value("anthropic_version", "") == "bedrock-2023-05-31" &&
                !body.contains("model");
    }
    if (wire == Wire::kBedrockConverse) {
      body_ok = body_ok && body.contains("inferenceConfig");
      for (const auto& m : body_ok ? body["messages"] : json::array())
        body_ok = body_ok && m.contains("content") && m["content"].is_array();
    }
    if (anthropic_body && body_ok) {
      for (const auto& m : body["messages"]) body_ok = body_ok && m.value("role", "") != "system";
    }
    if (!body_ok)
      return fail(400, bedrock ? "ValidationException" : "invalid_request_error",
                  "bad request body");
    Fault fault = s->options.fault ? s->options.fault(info) : Fault::kNone;
    if (s->options.burst_limit > 0 && now_in > s->options.burst_limit) fault = Fault::k429;
    if (s->options.delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(s->options.delay_ms));
    switch (fault) {
      case Fault::k401:
        if (bedrock) {
          return fail(403, "AccessDeniedException",
                      "User: arn:aws:iam::123456789012:user/t is not authorized to perform: "
                      "bedrock:InvokeModel");
        }
        if (wire == Wire::kAnthropic) return fail(401, "authentication_error", "invalid x-api-key");
        res.status = 401;
        res.set_content(R"({"error":{"message":"Incorrect API key provided"}})",
                        "application/json");
        return;
      case Fault::k429: {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", s->options.retry_after_s);
        res.set_header("Retry-After", buf);
        if (bedrock) {
          return fail(429, "ThrottlingException",
                      "Too many requests, please wait before trying again.");
        }
        if (wire == Wire::kAnthropic) return fail(429, "rate_limit_error", "Rate limit reached");
        res.status = 429;
        res.set_content(R"({"error":{"message":"Rate limit reached","type":"requests"}})",
                        "application/json");
        return;
      }
      case Fault::kOverloaded:
        if (wire == Wire::kAnthropic) return fail(529, "overloaded_error", "Overloaded");
        return fail(503, bedrock ? "ServiceUnavailableException" : "server_error", "Overloaded");
      case Fault::k500:
        if (bedrock) return fail(500, "InternalServerException", "Internal server error");
        if (wire == Wire::kAnthropic) return fail(500, "api_error", "Internal server error");
        res.status = 500;
        res.set_content(R"({"error":{"message":"The server had an error"}})", "application/json");
        return;
      case Fault::k503:
        res.status = 503;
        res.set_content("Service Unavailable", "text/plain");
        return;
      case Fault::kHang:
        std::this_thread::sleep_for(std::chrono::duration<double>(s->options.hang_s));
        break;
      case Fault::kDrop:
        res.set_chunked_content_provider("application/json",
                                         [](size_t, httplib::DataSink&) { return false; });
        return;
      default:
        break;
    }
    std::string echo = s->options.echo_auth
                           ? "; you sent Authorization: " + req.get_header_value("Authorization")
                           : "";
    std::string content = correct_content(prompt, info.sample, fault, echo);
    long long prompt_tokens = static_cast<long long>(prompt.size() / 4);
    json reply;
    if (anthropic_body) {
      reply = {{"id", "msg_fake"},
               {"type", "message"},
               {"role", "assistant"},
               {"model", body.value("model", "claude")},
               {"content", {{{"type", "text"}, {"text", content}}}},
               {"stop_reason", "end_turn"},
               {"usage", {{"input_tokens", prompt_tokens}, {"output_tokens", kCompletionTokens}}}};
    } else if (wire == Wire::kBedrockConverse) {
      reply = {
          {"output", {{"message", {{"role", "assistant"}, {"content", {{{"text", content}}}}}}}},
          {"stopReason", "end_turn"},
          {"usage",
           {{"inputTokens", prompt_tokens},
            {"outputTokens", kCompletionTokens},
            {"totalTokens", prompt_tokens + kCompletionTokens}}},
          {"metrics", {{"latencyMs", 1}}}};
    } else {
      reply = {{"id", "chatcmpl-fake"},
               {"object", "chat.completion"},
               {"model", body["model"]},
               {"choices",
                {{{"index", 0},
                  {"message", {{"role", "assistant"}, {"content", content}}},
                  {"finish_reason", "stop"}}}},
               {"usage",
                {{"prompt_tokens", prompt_tokens},
                 {"completion_tokens", kCompletionTokens},
                 {"total_tokens", prompt_tokens + kCompletionTokens}}}};
    }
    std::string text = reply.dump();
    if (fault == Fault::kTruncatedJson) text = text.substr(0, text.size() / 2);
    bool valid =
        fault == Fault::kNone || fault == Fault::kFencedJson || fault == Fault::kStringScores;
    if (valid) {
      std::lock_guard lock(s->mu);
      ++s->valid[info.sample];
      s->prompt_tokens += prompt_tokens;
    }
    res.set_content(text, "application/json");
  };
  s->server.Post("/v1/chat/completions", handler);
  s->server.Post("/v1/messages", handler);
  s->server.Post(R"(/model/([^/]+)/(converse|invoke))", handler);
  // Debian's compiled cpp-httplib listens with a backlog of 5: a burst of new connections then
  // loses SYNs and waits a 1 s retransmit. Capture the socket and raise the backlog after bind.
  std::atomic<int> listen_fd{-1};
  s->server.set_socket_options([&listen_fd](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = sock;
  });
  port_ = s->server.bind_to_any_port("127.0.0.1");
  if (listen_fd >= 0) ::listen(listen_fd, 1024);
  s->thread = std::thread([s] { s->server.listen_after_bind(); });
  for (int i = 0; i < 500 && !s->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

FakeOpenAiServer::~FakeOpenAiServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string FakeOpenAiServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

int FakeOpenAiServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

int FakeOpenAiServer::valid_judgments(int sample) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->valid.find(sample);
  return it == impl_->valid.end() ? 0 : it->second;
}

int FakeOpenAiServer::requests_for(int sample) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->per_sample.find(sample);
  return it == impl_->per_sample.end() ? 0 : it->second;
}

std::map<int, int> FakeOpenAiServer::valid_judgments_all() const {
  std::lock_guard lock(impl_->mu);
  return impl_->valid;
}

long long FakeOpenAiServer::prompt_tokens_served() const {
  std::lock_guard lock(impl_->mu);
  return impl_->prompt_tokens;
}

int FakeOpenAiServer::max_in_flight() const {
  return impl_->max_in_flight.load();
}

std::vector<Clock::time_point> FakeOpenAiServer::arrivals(int sample) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->arrivals.find(sample);
  return it == impl_->arrivals.end() ? std::vector<Clock::time_point>() : it->second;
}

std::vector<std::string> FakeOpenAiServer::auth_headers() const {
  std::lock_guard lock(impl_->mu);
  return impl_->auth;
}

std::vector<std::string> FakeOpenAiServer::targets() const {
  std::lock_guard lock(impl_->mu);
  return impl_->targets;
}

}  // namespace assay::testing
