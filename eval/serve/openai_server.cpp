#include "eval/serve/openai_server.h"

#include <httplib.h>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "eval/serve/engine_queue.h"
#include "inference/local_model.h"
#include "inference/tokenizer.h"

namespace assay::eval {
namespace {
using nlohmann::json;

// Connections the kernel queues before the server accepts them (capped by net.core.somaxconn).
constexpr int kListenBacklog = 1024;

// A client error: the reply's status and OpenAI-style error body.
struct BadRequest {
  int status;
  std::string message;
  std::string code;
};

[[noreturn]] void bad(const std::string& message, int status = 400,
                      const std::string& code = "invalid_request") {
  throw BadRequest{status, message, code};
}

void reply_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void reply_error(httplib::Response& res, const BadRequest& e) {
  reply_json(
      res, e.status,
      {{"error", {{"message", e.message}, {"type", "invalid_request_error"}, {"code", e.code}}}});
}

double number_in(const json& body, const char* key, double fallback, double lo, double hi,
                 bool lo_open) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_number()) bad(std::string("'") + key + "' must be a number");
  double v = body[key].get<double>();
  if (!(lo_open ? v > lo : v >= lo) || !(v <= hi)) {
    bad(std::string("'") + key + "' must be in " + (lo_open ? "(" : "[") + std::to_string(lo) +
        ", " + std::to_string(hi) + "], got " + body[key].dump());
  }
  return v;
}

long long int_in(const json& body, const char* key, long long fallback, long long lo,
                 long long hi) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_number_integer()) bad(std::string("'") + key + "' must be an integer");
  long long v = body[key].get<long long>();
  if (v < lo || v > hi) {
    bad(std::string("'") + key + "' must be between " + std::to_string(lo) + " and " +
        std::to_string(hi) + ", got " + std::to_string(v));
  }
  return v;
}

// The sampling parameters of one request (OpenAI's defaults: 16 tokens, temperature 1).
inference::SamplingParams sampling_from(const json& body, int context) {
  inference::SamplingParams p;
  if (body.contains("n") && body["n"] != 1) bad("only n = 1 is supported");
  if (body.contains("stream") && body["stream"] != false) bad("streaming is not supported");
  p.max_new_tokens = static_cast<int>(int_in(body, "max_tokens", 16, 0, context));
  if (body.contains("max_completion_tokens"))
    p.max_new_tokens = static_cast<int>(int_in(body, "max_completion_tokens", 16, 0, context));
  p.temperature = number_in(body, "temperature", 1.0, 0, 100, false);
  p.top_p = number_in(body, "top_p", 1.0, 0, 1, true);
  long long top_k = int_in(body, "top_k", 0, -1, 1 << 24);
  p.top_k = top_k < 0 ? 0 : static_cast<int>(top_k);  // vLLM: -1 = off
  p.min_p = number_in(body, "min_p", 0.0, 0, 1, false);
  p.repetition_penalty = number_in(body, "repetition_penalty", 1.0, 0, 100, true);
  if (body.contains("stop") && !body["stop"].is_null()) {
    const json& stop = body["stop"];
    json list = stop.is_array() ? stop : json::array({stop});
    for (const json& s : list) {
      if (!s.is_string() || s.get<std::string>().empty()) bad("'stop' must be non-empty strings");
      p.stop.push_back(s.get<std::string>());
    }
  }
  return p;
}

std::optional<std::uint64_t> seed_from(const json& body) {
  if (!body.contains("seed") || body["seed"].is_null()) return std::nullopt;
  if (!body["seed"].is_number_integer()) bad("'seed' must be an integer");
  return static_cast<std::uint64_t>(body["seed"].get<long long>());
}

// OpenAI's finish reason, and vLLM's stop_reason (the stop string; null for EOS).
void finish_fields(const inference::GenerationResult& r, json& choice) {
  choice["finish_reason"] = r.finish_reason == "length" ? "length" : "stop";
  choice["stop_reason"] = r.finish_reason == "stop" ? json(r.stop_string) : json(nullptr);
}

}  // namespace

struct OpenAiServer::Impl {
  Impl(inference::LocalModel& m, const inference::Tokenizer& t, ServeOptions o)
      : model(m), tokenizer(t), options(std::move(o)), engine(m, t, options.batch) {
    context = options.batch.max_context > 0 ? options.batch.max_context
                                            : static_cast<int>(m.config().max_position_embeddings);
    if (options.chat && !options.chat->chat_template.empty()) {
      template_ = inference::ChatTemplate::parse(options.chat->chat_template, options.chat->origin);
    }
  }

  inference::LocalModel& model;
  const inference::Tokenizer& tokenizer;
  ServeOptions options;
  EngineQueue engine;
  int context = 0;
  httplib::Server server;
  std::atomic<std::uint64_t> next_id{0};
  std::optional<inference::ChatTemplate> template_;  // parsed options.chat

  void check_auth(const httplib::Request& req) const {
    if (options.api_key.empty()) return;
    if (req.get_header_value("Authorization") != "Bearer " + options.api_key) {
      bad("invalid API key", 401, "invalid_api_key");
    }
  }

  json parse_body(const httplib::Request& req) const {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) bad("the request body is not a JSON object");
    if (body.contains("model") && body["model"].is_string() &&
        body["model"].get<std::string>() != options.model_name) {
      bad("model '" + body["model"].get<std::string>() + "' does not exist; this server serves '" +
              options.model_name + "'",
          404, "model_not_found");
    }
    return body;
  }

  // Encodes and generates: the answer's text, its finish fields in `choice`; returns `usage`.
  json generate(const std::string& prompt, const json& body, std::string& text, json& choice) {
    inference::SamplingParams params = sampling_from(body, context);
    std::vector<std::int32_t> ids = inference::encode_prompt(tokenizer, prompt);
    if (static_cast<int>(ids.size()) >= context) {
      bad("the prompt has " + std::to_string(ids.size()) + " tokens; the model's context is " +
              std::to_string(context),
          400, "context_length_exceeded");
    }
    inference::GenerationResult r = engine.submit(ids, params, seed_from(body)).get();
    finish_fields(r, choice);
    text = std::move(r.text);
    return {{"prompt_tokens", r.prompt_tokens},
            {"completion_tokens", r.completion_tokens},
            {"total_tokens", r.prompt_tokens + r.completion_tokens}};
  }

  json envelope(const char* object, const char* prefix, json choice, json usage) {
    return {{"id", std::string(prefix) + std::to_string(next_id++)}, {"object", object},
            {"created", static_cast<long long>(std::time(nullptr))}, {"model", options.model_name},
            {"choices", json::array({std::move(choice)})},           {"usage", std::move(usage)}};
  }

  json completions(const json& body) {
    if (!body.contains("prompt")) bad("'prompt' is required");
    json prompt = body["prompt"];
    if (prompt.is_array() && prompt.size() == 1) prompt = prompt[0];
    if (!prompt.is_string()) bad("'prompt' must be a string (or a list of one string)");
    json choice = {{"index", 0}, {"logprobs", nullptr}};
    std::string text;
    json usage = generate(prompt.get<std::string>(), body, text, choice);
    choice["text"] = std::move(text);
    return envelope("text_completion", "cmpl-", std::move(choice), std::move(usage));
  }

  json chat(const json& body) {
    if (!template_) {
      bad("the model has no chat template (tokenizer_config.json has no chat_template); use "
          "/v1/completions");
    }
    if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
      bad("'messages' must be a non-empty list of {\"role\", \"content\"}");
    }
    for (const json& m : body["messages"]) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
        bad("each message needs a string 'role'");
      }
    }
    nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
    if (body.contains("chat_template_kwargs") && body["chat_template_kwargs"].is_object()) {
      kwargs = nlohmann::ordered_json::parse(body["chat_template_kwargs"].dump());  // vLLM's
    }
    std::string prompt;
    try {
      prompt = template_->render(inference::chat_context(
          *options.chat, nlohmann::ordered_json::parse(body["messages"].dump()),
          /*add_generation_prompt=*/true, kwargs));
    } catch (const inference::ChatTemplateError& e) {
      bad(std::string("the chat template refused the conversation: ") + e.what());
    }
    json choice = {{"index", 0}, {"logprobs", nullptr}};
    std::string text;
    json usage = generate(prompt, body, text, choice);
    choice["message"] = {{"role", "assistant"}, {"content", std::move(text)}};
    return envelope("chat.completion", "chatcmpl-", std::move(choice), std::move(usage));
  }

  // Runs `handler`, turning client errors into 4xx and engine failures into 500.
  template <typename F>
  void handle(const httplib::Request& req, httplib::Response& res, F&& handler) {
    try {
      check_auth(req);
      reply_json(res, 200, handler(parse_body(req)));
    } catch (const BadRequest& e) {
      reply_error(res, e);
    } catch (const std::exception& e) {
      log::error("a request failed", {{"path", req.path}, {"error", e.what()}});
      reply_json(res, 500,
                 {{"error", {{"message", e.what()}, {"type", "server_error"}, {"code", nullptr}}}});
    }
  }

  void routes() {
    server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
      reply_json(res, 200, {{"status", "ok"}});
    });
    server.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      try {
        check_auth(req);
        json model = {{"id", options.model_name},
                      {"object", "model"},
                      {"owned_by", "assay"},
                      {"max_model_len", context}};
        reply_json(res, 200, {{"object", "list"}, {"data", json::array({model})}});
      } catch (const BadRequest& e) {
        reply_error(res, e);
      }
    });
    server.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, [this](const json& body) { return completions(body); });
    });
    server.Post("/v1/chat/completions",
                [this](const httplib::Request& req, httplib::Response& res) {
                  handle(req, res, [this](const json& body) { return chat(body); });
                });
  }
};

OpenAiServer::OpenAiServer(inference::LocalModel& model, const inference::Tokenizer& tokenizer,
                           ServeOptions options)
    : impl_(std::make_unique<Impl>(model, tokenizer, std::move(options))) {
  if (!impl_->options.api_key.empty()) log::register_secret(impl_->options.api_key);
  const int threads = impl_->options.handler_threads;
  impl_->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl_->server.set_payload_max_length(64u << 20);
  impl_->routes();
}

OpenAiServer::~OpenAiServer() = default;

int OpenAiServer::bind() {
  const ServeOptions& o = impl_->options;
  // cpp-httplib listens with a backlog of 5 (compiled into Debian's library): a burst of clients
  // connecting at once (an evaluate run sends 64) overflows it, the kernel drops their SYNs and
  // they arrive 1, 3, 7, 15 s later, starving the batch. The socket is remembered as it is made
  // and listen() is called again after the bind with a real backlog (Linux updates it).
  int fd = -1;
  impl_->server.set_socket_options([&fd](socket_t sock) {
    httplib::default_socket_options(sock);
    fd = sock;
  });
  int port = o.port;
  if (port == 0) {
    port = impl_->server.bind_to_any_port(o.host);
  } else if (!impl_->server.bind_to_port(o.host, port)) {
    port = -1;
  }
  if (port < 0) {
    throw_invalid("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                  " (in use, or not an address of this machine)");
  }
  impl_->server.set_socket_options(httplib::default_socket_options);  // `fd` goes out of scope
  if (fd >= 0 && ::listen(fd, kListenBacklog) != 0) {
    log::warn("cannot raise the listen backlog; a burst of connections may wait",
              {{"error", std::strerror(errno)}});
  }
  return port;
}

void OpenAiServer::listen(const std::atomic<bool>& stop) {
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!stop.load() && !done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    impl_->server.stop();  // no new connections; handlers in flight finish
  });
  impl_->server.listen_after_bind();
  done = true;
  watcher.join();
  impl_->engine.shutdown();
  const EngineQueueStats s = impl_->engine.stats();
  log::info("server stopped", {{"requests", s.requests}, {"engine_runs", s.runs}});
}

}  // namespace assay::eval
