// What every HTTP judge provider (openai, anthropic, bedrock) does the same way with a response:
// a request cancelled or never answered, an HTTP error status, and a body that is not the
// provider's envelope become a ChatReply saying why, without secrets. Each provider parses its
// own 200 body and its own error message.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/http_client.h"
#include "judges/provider.h"

namespace assay::judges {

// A reply for a request that got no HTTP answer (cancelled, or a transport failure after its
// retries), or nullopt when an answer arrived.
std::optional<ChatReply> unanswered_reply(const HttpResponse& response);

// A reply for a non-2xx answer: "http <status> after <n> attempts: <message>", the message
// clipped and redacted (the raw body when `message` is empty). Fatal for 401/403/404, transient
// for the statuses core retries (408, 429, 5xx, 529).
ChatReply http_error_reply(const HttpResponse& response, const std::string& message);

// A reply for a 2xx whose body is not the provider's envelope: transient, sent once more.
ChatReply envelope_error_reply(const HttpResponse& response, const std::string& why);

// For a 2xx `body` that is not a JSON object (truncated, an HTML page): the envelope error;
// nullopt for an object.
std::optional<ChatReply> not_json_reply(const HttpResponse& response, const nlohmann::json& body);

// A reply with the attempts of `response` and the token counts from body["usage"][prompt_key]
// and [completion_key] (0 when absent), for the provider to add the content to.
ChatReply reply_with_usage(const HttpResponse& response, const nlohmann::json& body,
                           const char* prompt_key, const char* completion_key);

// `reply` (from reply_with_usage, content filled) made final: ok with its content redacted when
// the body had a text (`has_text`), else an envelope error `missing` that keeps the token counts.
ChatReply finish_text_reply(const HttpResponse& response, ChatReply reply, bool has_text,
                            const std::string& missing);

// `text` on one line, cut to `n` bytes with "..." after it.
std::string clip_line(std::string text, size_t n = 200);

}  // namespace assay::judges
