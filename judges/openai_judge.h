// The OpenAI-compatible chat-completions provider: POST {base_url path}/chat/completions{?query}
// with a bearer key, over core's HttpClient (which retries 429/5xx/timeouts). Reads `usage` from
// each reply and prices it from the per-model price table. The key goes only into the Authorization
// header: never into a log line, an error message or a cache entry. Credentials in base_url
// (userinfo, query values) are registered with the log redactor too, and every reply's content
// and error message is redacted before the judge stage sees it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/http_client.h"
#include "judges/judge_settings.h"
#include "judges/provider.h"

namespace assay::judges {

struct OpenAiJudgeOptions {
  std::string base_url = "https://api.openai.com/v1";  // without /chat/completions; may have ?query
  std::string api_key;                                 // bearer token ("" sends no header)
  std::string model = "gpt-4o-mini";                   // judge model id
  std::map<std::string, ModelPrice> prices;            // model id -> price; missing: cost unknown
};

class OpenAiJudge final : public ChatProvider {
 public:
  // `http` must outlive the judge.
  OpenAiJudge(OpenAiJudgeOptions options, HttpClient& http);
  // The judge owns `http` (what the registry's `openai` entry builds).
  OpenAiJudge(OpenAiJudgeOptions options, std::unique_ptr<HttpClient> http);

  std::string name() const override { return "openai"; }
  std::string model() const override { return options_.model; }
  nlohmann::json parameters(const Rubric& rubric) const override;
  void complete(const std::vector<ChatRequest>& requests, const ChatDone& on_done) override;
  std::optional<double> cost_usd(std::int64_t prompt_tokens,
                                 std::int64_t completion_tokens) const override;
  std::uint64_t transport_retries() const override { return http_.stats().retries; }
  void drain() override { http_.drain(); }

  // The request body for one request (exposed for tests).
  std::string request_body(const ChatRequest& request) const;

 private:
  OpenAiJudgeOptions options_;
  std::string endpoint_;                    // the chat-completions URL built from base_url
  std::unique_ptr<HttpClient> owned_http_;  // null when the caller owns http_
  HttpClient& http_;
};

// base_url's path + `path`, the query (an Azure api-version, a gateway key) kept after it:
// ("http://h/v1/?k=v", "/chat/completions") -> "http://h/v1/chat/completions?k=v". Also what the
// `openai` generator (eval/generators/) builds its URLs with.
std::string openai_url(const std::string& base_url, const std::string& path);

// Turns one HTTP response into a ChatReply (exposed for tests): content and usage from a 200,
// otherwise a reason naming the status and the endpoint's error message (secrets redacted).
ChatReply chat_reply_from(const HttpResponse& response);

}  // namespace assay::judges
