#include "judges/http_reply.h"

#include "core/log.h"

namespace assay::judges {

std::string clip_line(std::string s, size_t n) {
  if (s.size() > n) s = s.substr(0, n) + "...";
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

std::optional<ChatReply> unanswered_reply(const HttpResponse& response) {
  ChatReply r;
  r.attempts = response.attempts;
  r.transient = true;
  if (response.cancelled) {
    r.error = "cancelled before a reply arrived";
    r.error_kind = "cancelled";
    return r;
  }
  if (response.status == 0) {
    r.error = "no response after " + std::to_string(response.attempts) +
              " attempts: " + log::redact(response.error);
    r.error_kind = "transport";
    return r;
  }
  return std::nullopt;
}

ChatReply http_error_reply(const HttpResponse& response, const std::string& message) {
  ChatReply r;
  r.attempts = response.attempts;
  r.error = "http " + std::to_string(response.status) + " after " +
            std::to_string(response.attempts) +
            " attempts: " + log::redact(clip_line(message.empty() ? response.body : message));
  r.error_kind = "http";
  r.fatal = response.status == 401 || response.status == 403 || response.status == 404;
  r.transient = is_retryable_status(response.status);
  return r;
}

ChatReply envelope_error_reply(const HttpResponse& response, const std::string& why) {
  ChatReply r;
  r.attempts = response.attempts;
  r.error = why;
  r.error_kind = "envelope";
  r.resend = true;
  r.transient = true;
  return r;
}

std::optional<ChatReply> not_json_reply(const HttpResponse& response, const nlohmann::json& body) {
  if (body.is_object()) return std::nullopt;
  return envelope_error_reply(response,
                              "response body is not valid JSON (truncated or not an API reply): " +
                                  log::redact(clip_line(response.body, 80)));
}

ChatReply reply_with_usage(const HttpResponse& response, const nlohmann::json& body,
                           const char* prompt_key, const char* completion_key) {
  ChatReply r;
  r.attempts = response.attempts;
  if (!body.contains("usage") || !body["usage"].is_object()) return r;
  const nlohmann::json& u = body["usage"];
  if (u.contains(prompt_key) && u[prompt_key].is_number_integer())
    r.prompt_tokens = u[prompt_key].get<std::int64_t>();
  if (u.contains(completion_key) && u[completion_key].is_number_integer())
    r.completion_tokens = u[completion_key].get<std::int64_t>();
  return r;
}

ChatReply finish_text_reply(const HttpResponse& response, ChatReply reply, bool has_text,
                            const std::string& missing) {
  if (!has_text) {
    ChatReply e = envelope_error_reply(response, missing);
    e.prompt_tokens = reply.prompt_tokens;
    e.completion_tokens = reply.completion_tokens;
    return e;
  }
  reply.ok = true;
  // A reply may echo what it was sent (a key in a header it saw): it is cached, parsed and
  // written as analysis, so registered secrets go before anything uses it.
  reply.content = log::redact(reply.content);
  return reply;
}

}  // namespace assay::judges
