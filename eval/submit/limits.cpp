#include "eval/submit/limits.h"

#include <regex>

#include "core/error.h"

namespace assay::submit {

std::string quoted(const std::string& value) {
  if (value.size() <= 60) return "'" + value + "'";
  return "'" + value.substr(0, 60) + "…' (" + std::to_string(value.size()) + " characters)";
}

void fail_rule(const std::string& where, const std::string& field, const std::string& what) {
  if (where.empty()) throw_invalid(field + " " + what);
  throw_invalid(where + ": field '" + field + "' " + what);
}

void check_length(const std::string& where, const std::string& field, const std::string& value,
                  size_t min, size_t max, const std::string& rule) {
  if (value.size() >= min && value.size() <= max) return;
  std::string limit = min == 0 ? "at most " + std::to_string(max)
                               : std::to_string(min) + ".." + std::to_string(max);
  std::string count = value.size() <= 60 ? ", " + std::to_string(value.size()) + " characters" : "";
  fail_rule(where, field, "is " + quoted(value) + count + ": length " + limit + " (" + rule + ")");
}

bool full_match(const std::string& text, const std::string& pattern) {
  return std::regex_match(text, std::regex(pattern));
}

void check_pattern(const std::string& where, const std::string& field, const std::string& value,
                   const std::string& pattern, const std::string& meaning) {
  if (full_match(value, pattern)) return;
  fail_rule(where, field, "is " + quoted(value) + ": must match " + pattern + " (" + meaning + ")");
}

void check_range(const std::string& where, const std::string& field, int64_t value, int64_t lo,
                 int64_t hi, const std::string& rule) {
  if (value >= lo && value <= hi) return;
  fail_rule(where, field,
            "is " + std::to_string(value) + "; " + rule + " allows " + std::to_string(lo) + ".." +
                std::to_string(hi));
}

}  // namespace assay::submit
