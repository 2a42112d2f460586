// Logging: one line per event on stderr. Human-readable lines when stderr is a terminal, JSON
// lines otherwise (CloudWatch, CI). Every line passes through the redactor, so a registered
// secret (an API key, an AWS secret) never reaches a log line.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace assay::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };
enum class Format { kAuto, kHuman, kJson };

// Sets the minimum level and the format. kAuto picks human lines on a TTY, JSON otherwise.
// Thread-safe; may be called again at any time.
void configure(Level level, Format format = Format::kAuto);

// Parses "debug|info|warn|error|off"; throws assay::Error (invalid input) naming `what` otherwise.
Level parse_level(std::string_view text, std::string_view what = "log level");

// Registers a secret: from now on every occurrence of it in a log line (message or fields) is
// replaced by "***". Secrets shorter than 4 characters are ignored (they would redact noise).
void register_secret(std::string secret);

// Returns `text` with every registered secret replaced by "***". Use it on anything Assay
// writes that came from outside (a judge reply, an endpoint's error message).
std::string redact(std::string_view text);

// Registers the credentials an http(s) URL carries: the userinfo before '@' (and its password)
// and every query value, raw and percent-decoded.
void register_url_secrets(std::string_view url);

// `url` as it may be recorded: the userinfo dropped and every query value replaced by "***"
// ("http://u:p@host/v1?key=k" -> "http://host/v1?key=***").
std::string redact_url(std::string_view url);

// Emits one event. `fields` (an object, may be null) is appended: `key=value` on a TTY, merged
// into the JSON object otherwise.
void write(Level level, std::string_view message, const nlohmann::json& fields = nullptr);

inline void debug(std::string_view m, const nlohmann::json& f = nullptr) { write(Level::kDebug, m, f); }
inline void info(std::string_view m, const nlohmann::json& f = nullptr) { write(Level::kInfo, m, f); }
inline void warn(std::string_view m, const nlohmann::json& f = nullptr) { write(Level::kWarn, m, f); }
inline void error(std::string_view m, const nlohmann::json& f = nullptr) { write(Level::kError, m, f); }

// True when events at `level` would be written.
bool enabled(Level level);

// For tests: send lines to `sink` instead of stderr (nullptr restores stderr).
void set_sink_for_testing(std::string* sink);

}  // namespace assay::log
