// What every HTTP judge provider (openai, anthropic, bedrock) does the same way with a response:
// a request cancelled or never answered, an HTTP error status, and a body that is not the
// provider's envelope become a ChatReply saying why, without secrets. Each provider parses its
// own 200 body and its own error message.
#pragma once

#include <optional>
#include <string>

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

// `text` on one line, cut to `n` bytes with "..." after it.
std::string clip_line(std::string text, size_t n = 200);

}  // namespace assay::judges
