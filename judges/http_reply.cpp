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

}  // namespace assay::judges
