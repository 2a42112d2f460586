#include "judges/openai_judge.h"

#include "core/error.h"
#include "core/log.h"
#include "judges/http_reply.h"
#include "judges/registry.h"

namespace assay::judges {
using nlohmann::json;

std::string openai_url(const std::string& base_url, const std::string& path) {
  size_t auth = base_url.find("://");
  size_t query = base_url.find_first_of("?#", auth == std::string::npos ? 0 : auth + 3);
  std::string prefix = base_url.substr(0, query);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return prefix + path + (query == std::string::npos ? "" : base_url.substr(query));
}

OpenAiJudge::OpenAiJudge(OpenAiJudgeOptions options, HttpClient& http)
    : options_(std::move(options)),
      endpoint_(openai_url(options_.base_url, "/chat/completions")),
      http_(http) {
  log::register_secret(options_.api_key);
  log::register_url_secrets(options_.base_url);
}

OpenAiJudge::OpenAiJudge(OpenAiJudgeOptions options, std::unique_ptr<HttpClient> http)
    : OpenAiJudge(std::move(options), *http) {
  owned_http_ = std::move(http);
}

json OpenAiJudge::parameters(const Rubric& rubric) const {
  json p = {{"temperature", rubric.temperature}, {"max_tokens", rubric.max_tokens}};
  if (rubric.seed) p["seed"] = *rubric.seed;
  json rf = response_format_json(rubric);
  if (!rf.is_null()) p["response_format"] = rf;
  return p;
}

std::string OpenAiJudge::request_body(const ChatRequest& request) const {
  json body = parameters(*request.rubric);
  body["model"] = options_.model;
  body["messages"] = request.messages;
  return body.dump();
}

void OpenAiJudge::complete(const std::vector<ChatRequest>& requests, const ChatDone& on_done) {
  std::vector<HttpRequest> http_requests;
  http_requests.reserve(requests.size());
  for (const auto& r : requests) {
    HttpRequest h;
    h.url = endpoint_;
    h.headers = {{"Content-Type", "application/json"}};
    if (!options_.api_key.empty())
      h.headers.emplace_back("Authorization", "Bearer " + options_.api_key);
    h.body = request_body(r);
    h.tokens = h.body.size() / 4 + static_cast<std::uint64_t>(r.rubric->max_tokens);
    http_requests.push_back(std::move(h));
  }
  http_.run(std::move(http_requests), [&](size_t idx, HttpResponse&& response) {
    return on_done(idx, chat_reply_from(response));
  });
}

ChatReply chat_reply_from(const HttpResponse& response) {
  if (auto unanswered = unanswered_reply(response)) return *unanswered;
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!response.ok()) {
    std::string message;
    if (body.is_object() && body.contains("error") && body["error"].is_object()) {
      message = body["error"].value("message", "");
    }
    return http_error_reply(response, message);
  }
  if (auto broken = not_json_reply(response, body)) return *broken;
  ChatReply r = reply_with_usage(response, body, "prompt_tokens", "completion_tokens");
  const json* content = nullptr;
  if (body.contains("choices") && body["choices"].is_array() && !body["choices"].empty()) {
    const json& choice = body["choices"][0];
    if (choice.is_object() && choice.contains("message") && choice["message"].is_object() &&
        choice["message"].contains("content")) {
      content = &choice["message"]["content"];
    }
  }
  const bool has_text = content != nullptr && content->is_string();
  if (has_text) r.content = content->get<std::string>();
  return finish_text_reply(response, std::move(r), has_text,
                           "reply has no choices[0].message.content string");
}

std::optional<double> OpenAiJudge::cost_usd(std::int64_t prompt_tokens,
                                            std::int64_t completion_tokens) const {
  return cost_usd_of(options_.prices, options_.model, prompt_tokens, completion_tokens);
}

namespace {

void validate_openai(const JudgeSettings& s) {
  if (s.model.empty()) throw_invalid(s.label("judge.model") + " is empty");
  auto key_origin = s.origins.find("judge.api_key");
  if (key_origin != s.origins.end() && key_origin->second == "env ANTHROPIC_API_KEY") {
    throw_invalid(
        "judge.provider is openai but the only API key set is ANTHROPIC_API_KEY: set "
        "JUDGE_API_KEY or OPENAI_API_KEY");
  }
  if (s.api_key.empty() && !s.base_url_set) {
    throw_invalid(
        "judge.provider is openai but no API key is set: set JUDGE_API_KEY or "
        "OPENAI_API_KEY (or judge.base_url for a local endpoint without a key)");
  }
  if (!s.base_url.starts_with("http://") && !s.base_url.starts_with("https://")) {
    throw_invalid(s.label("judge.base_url") + ": '" + s.base_url +
                  "' must start with http:// or https://");
  }
}

std::unique_ptr<ChatProvider> create_openai(const JudgeSettings& s, const ProviderDeps& deps) {
  return std::make_unique<OpenAiJudge>(OpenAiJudgeOptions{s.base_url, s.api_key, s.model, s.prices},
                                       make_http_client(s, deps));
}

}  // namespace

ProviderEntry openai_provider() {
  return {"openai", "OpenAI-compatible chat completions over HTTP", &validate_openai,
          &create_openai};
}

}  // namespace assay::judges
