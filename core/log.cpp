#include "core/log.h"

#include <unistd.h>

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
