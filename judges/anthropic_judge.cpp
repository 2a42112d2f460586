#include "judges/anthropic_judge.h"

#include "core/error.h"
#include "core/log.h"
#include "judges/http_reply.h"
#include "judges/openai_judge.h"
#include "judges/registry.h"

namespace assay::judges {
using nlohmann::json;

namespace {

constexpr const char* kAnthropicUrl = "https://api.anthropic.com";

// The error an Anthropic error body names: "<error.type>: <error.message>", or "".
std::string anthropic_error_message(const json& body) {
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return {};
  const json& e = body["error"];
  std::string type = e.value("type", std::string());
  std::string message = e.value("message", std::string());
  return type.empty() ? message : type + ": " + message;
}

class AnthropicJudge final : public ChatProvider {
 public:
  AnthropicJudge(const JudgeSettings& s, std::unique_ptr<HttpClient> http)
      : settings_(s), url_(anthropic_messages_url(s.base_url)), http_(std::move(http)) {
    log::register_secret(settings_.api_key);
    log::register_url_secrets(settings_.base_url);
  }

  std::string name() const override { return "anthropic"; }
  std::string model() const override { return settings_.model; }
  json parameters(const Rubric& rubric) const override {
    return {{"temperature", rubric.temperature}, {"max_tokens", rubric.max_tokens}};
  }

  void complete(const std::vector<ChatRequest>& requests, const ChatDone& on_done) override {
    std::vector<HttpRequest> out;
    out.reserve(requests.size());
    for (const ChatRequest& r : requests) {
      json body = anthropic_messages_body(r);
      body["model"] = settings_.model;
      HttpRequest h;
      h.url = url_;
      h.headers = {{"Content-Type", "application/json"},
                   {"x-api-key", settings_.api_key},
                   {"anthropic-version", settings_.anthropic_version}};
      h.body = body.dump();
      h.tokens = h.body.size() / 4 + static_cast<std::uint64_t>(r.rubric->max_tokens);
      out.push_back(std::move(h));
    }
    http_->run(std::move(out), [&](size_t idx, HttpResponse&& response) {
      if (auto unanswered = unanswered_reply(response)) return on_done(idx, std::move(*unanswered));
      json body = json::parse(response.body, nullptr, false);
      if (!response.ok()) {
        return on_done(idx, http_error_reply(response, anthropic_error_message(body)));
      }
      return on_done(idx, anthropic_reply_from(response, body));
    });
  }

  std::optional<double> cost_usd(std::int64_t prompt_tokens,
                                 std::int64_t completion_tokens) const override {
    return cost_usd_of(settings_.prices, settings_.model, prompt_tokens, completion_tokens);
  }
  std::uint64_t transport_retries() const override { return http_->stats().retries; }
  void drain() override { http_->drain(); }

 private:
  JudgeSettings settings_;
  std::string url_;
  std::unique_ptr<HttpClient> http_;
};

// judge.base_url for anthropic: the configured one, unless it only came from OPENAI_BASE_URL.
JudgeSettings anthropic_settings(JudgeSettings s) {
  if (!s.base_url_given_for_any_provider()) s.base_url = kAnthropicUrl;
  return s;
}

void validate_anthropic(const JudgeSettings& settings) {
  const JudgeSettings s = anthropic_settings(settings);
  if (s.model.empty()) throw_invalid(s.label("judge.model") + " is empty");
  auto key_origin = s.origins.find("judge.api_key");
  if (key_origin != s.origins.end() && key_origin->second == "env OPENAI_API_KEY") {
    throw_invalid(
        "judge.provider is anthropic but the only API key set is OPENAI_API_KEY: set "
        "JUDGE_API_KEY or ANTHROPIC_API_KEY");
  }
  if (s.api_key.empty()) {
    throw_invalid(
        "judge.provider is anthropic but no API key is set: set JUDGE_API_KEY or "
        "ANTHROPIC_API_KEY");
  }
  if (!s.base_url.starts_with("http://") && !s.base_url.starts_with("https://")) {
    throw_invalid(s.label("judge.base_url") + ": '" + s.base_url +
                  "' must start with http:// or https://");
  }
  if (s.anthropic_version.empty()) throw_invalid(s.label("judge.anthropic_version") + " is empty");
}

std::unique_ptr<ChatProvider> create_anthropic(const JudgeSettings& s, const ProviderDeps& deps) {
  return std::make_unique<AnthropicJudge>(anthropic_settings(s), make_http_client(s, deps));
}

}  // namespace

json anthropic_messages_body(const ChatRequest& request) {
  json body = {{"max_tokens", request.rubric->max_tokens},
               {"temperature", request.rubric->temperature}};
  std::string system;
  json messages = json::array();
  for (const json& m : request.messages) {
    if (m.value("role", std::string()) == "system") {
      system += (system.empty() ? "" : "\n\n") + m.value("content", std::string());
    } else {
      messages.push_back(m);
    }
  }
  if (!system.empty()) body["system"] = system;
  body["messages"] = std::move(messages);
  return body;
}

ChatReply anthropic_reply_from(const HttpResponse& response, const json& body) {
  if (auto broken = not_json_reply(response, body)) return *broken;
  ChatReply r = reply_with_usage(response, body, "input_tokens", "output_tokens");
  bool has_text = false;
  if (body.contains("content") && body["content"].is_array()) {
    for (const json& block : body["content"]) {
      if (block.is_object() && block.value("type", std::string()) == "text" &&
          block.contains("text") && block["text"].is_string()) {
        r.content += block["text"].get<std::string>();
        has_text = true;
      }
    }
  }
  return finish_text_reply(response, std::move(r), has_text, "reply has no content[].text block");
}

std::string anthropic_messages_url(const std::string& base_url) {
  size_t auth = base_url.find("://");
  size_t query = base_url.find_first_of("?#", auth == std::string::npos ? 0 : auth + 3);
  std::string prefix = base_url.substr(0, query);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return openai_url(base_url, prefix.ends_with("/v1") ? "/messages" : "/v1/messages");
}

ProviderEntry anthropic_provider() {
  return {"anthropic", "Anthropic Messages API over HTTP (x-api-key)", &validate_anthropic,
          &create_anthropic};
}

}  // namespace assay::judges
