#include "core/log.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/progress.h"

namespace assay::log {
namespace {

struct State {
  std::mutex mu;
  Level level = Level::kInfo;
  bool json = !isatty(STDERR_FILENO);
  std::vector<std::string> secrets;
  std::string* sink = nullptr;
  std::string status;  // the status line on the terminal, "" when none
};

State& state() {
  static State s;
  return s;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    case Level::kOff: return "off";
  }
  return "info";
}

std::string redact_locked(const State& s, std::string_view text) {
  std::string out(text);
  for (const auto& secret : s.secrets) {
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), "***");
      pos += 3;
    }
  }
  return out;
}

// An URL cut at its userinfo and query: prefix "scheme://", userinfo (without '@'), the host
// and path, the query (without '?'), the fragment (with '#').
struct UrlPieces {
  std::string_view prefix, userinfo, host_path, query, fragment;
};

UrlPieces split_url(std::string_view url) {
  UrlPieces p;
  size_t auth = url.find("://");
  auth = auth == std::string_view::npos ? 0 : auth + 3;
  p.prefix = url.substr(0, auth);
  size_t auth_end = std::min(url.find_first_of("/?#", auth), url.size());
  size_t at = url.substr(auth, auth_end - auth).rfind('@');
  size_t host = auth;
  if (at != std::string_view::npos) {
    p.userinfo = url.substr(auth, at);
    host = auth + at + 1;
  }
  size_t path_end = std::min(url.find_first_of("?#", auth_end), url.size());
  p.host_path = url.substr(host, path_end - host);
  size_t frag = std::min(url.find('#', path_end), url.size());
  if (path_end < url.size() && url[path_end] == '?') {
    p.query = url.substr(path_end + 1, frag - path_end - 1);
  }
  p.fragment = url.substr(frag);
  return p;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// Calls `fn(name, value)` for each "name=value" of a query string.
template <typename Fn>
void for_each_param(std::string_view query, Fn fn) {
  while (!query.empty()) {
    size_t amp = std::min(query.find('&'), query.size());
    std::string_view param = query.substr(0, amp);
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) {
      fn(param, std::string_view());
    } else {
      fn(param.substr(0, eq), param.substr(eq + 1));
    }
    query.remove_prefix(std::min(amp + 1, query.size()));
  }
}

}  // namespace

void configure(Level level, Format format) {
  State& s = state();
  std::lock_guard lock(s.mu);
  s.level = level;
  if (format == Format::kAuto) {
    s.json = !isatty(STDERR_FILENO);
  } else {
    s.json = format == Format::kJson;
  }
}

Level parse_level(std::string_view text, std::string_view what) {
  if (text == "debug") return Level::kDebug;
  if (text == "info") return Level::kInfo;
  if (text == "warn" || text == "warning") return Level::kWarn;
  if (text == "error") return Level::kError;
  if (text == "off") return Level::kOff;
  throw_invalid(std::string(what) + ": '" + std::string(text) +
                "' is not one of debug, info, warn, error, off");
}

void register_secret(std::string secret) {
  if (secret.size() < 4) return;
  State& s = state();
  std::lock_guard lock(s.mu);
  for (const auto& known : s.secrets) {
    if (known == secret) return;
  }
  s.secrets.push_back(std::move(secret));
}

std::string redact(std::string_view text) {
  State& s = state();
  std::lock_guard lock(s.mu);
  return redact_locked(s, text);
}

void register_url_secrets(std::string_view url) {
  UrlPieces p = split_url(url);
  auto add = [](std::string_view secret) {
    register_secret(std::string(secret));
    register_secret(percent_decode(secret));
  };
  if (!p.userinfo.empty()) {
    add(p.userinfo);
    size_t colon = p.userinfo.find(':');
    if (colon != std::string_view::npos) add(p.userinfo.substr(colon + 1));
  }
  for_each_param(p.query, [&](std::string_view, std::string_view value) { add(value); });
}

std::string redact_url(std::string_view url) {
  UrlPieces p = split_url(url);
  std::string out = std::string(p.prefix) + std::string(p.host_path);
  if (!p.query.empty()) {
    std::string query;
    for_each_param(p.query, [&](std::string_view name, std::string_view value) {
      if (!query.empty()) query += '&';
      query += name;
      if (!value.empty()) query += "=***";
    });
    out += "?" + query;
  }
  return out + std::string(p.fragment);
}

bool enabled(Level level) {
  State& s = state();
  std::lock_guard lock(s.mu);
  return level >= s.level && level != Level::kOff;
}

void write(Level level, std::string_view message, const nlohmann::json& fields) {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (level < s.level || level == Level::kOff) return;
  std::string line;
  if (s.json) {
    nlohmann::json event = nlohmann::json::object();
    event["ts"] = utc_now_iso();
    event["level"] = level_name(level);
    event["msg"] = std::string(message);
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) event[it.key()] = it.value();
    }
    line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = level == Level::kInfo ? "" : std::string(level_name(level)) + ": ";
    line += message;
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        line += "  " + it.key() + "=";
        line += it.value().is_string() ? it.value().get<std::string>()
                                       : it.value().dump(-1, ' ', false,
                                                         nlohmann::json::error_handler_t::replace);
      }
    }
  }
  line = redact_locked(s, line);
  line += '\n';
  if (!s.status.empty() && s.sink == nullptr) line = "\r\033[K" + line + s.status;
  if (s.sink != nullptr) {
    *s.sink += line;
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
}

void set_status_line(std::string_view text) {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.sink != nullptr || !isatty(STDERR_FILENO)) return;
  std::string out = "\r\033[K" + redact_locked(s, text);
  s.status = redact_locked(s, text);
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

void set_sink_for_testing(std::string* sink) {
  State& s = state();
  std::lock_guard lock(s.mu);
  s.sink = sink;
}

}  // namespace assay::log
