// The `anthropic` provider: the Anthropic Messages API (POST {base_url}/v1/messages with
// x-api-key and anthropic-version), the rubric's system prompt as the top-level `system` field,
// usage from usage.input_tokens / output_tokens, errors {"type": "error", "error": {"type",
// "message"}}; 429, 5xx and 529 (overloaded) are retried by core's HttpClient. The key goes only
// into the x-api-key header. The Messages body and reply are shared with `bedrock`'s InvokeModel
// form, which carries the same body.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/http_client.h"
#include "judges/provider.h"

namespace assay::judges {

// The Messages body without `model` and `anthropic_version`: max_tokens, temperature, the
// system message(s) joined as `system`, and the other messages as they are.
nlohmann::json anthropic_messages_body(const ChatRequest& request);

// A 200 whose body is a Messages reply: the text blocks joined, usage.input_tokens and
// output_tokens; an envelope error when it has no text block (redacted content).
ChatReply anthropic_reply_from(const HttpResponse& response, const nlohmann::json& body);

// base_url + the Messages path: "https://api.anthropic.com" -> ".../v1/messages"; a base_url
// that already ends in /v1 gets "/messages"; a ?query is kept after the path.
std::string anthropic_messages_url(const std::string& base_url);

}  // namespace assay::judges
