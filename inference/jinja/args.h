// Argument helpers and the string size guard shared by the builtins (filters, tests, methods,
// globals): positional-or-keyword lookup and type checks that throw TemplateError.
#pragma once

#include <cstdint>
#include <string>

#include "inference/jinja/value.h"

namespace assay::inference::jinja {

constexpr size_t kMaxString = size_t{64} << 20;  // as RenderLimits::max_output_bytes

// Throws when a string being built would pass kMaxString.
inline void check_growth(size_t bytes) {
  if (bytes > kMaxString)
    throw TemplateError("a string built by the template exceeds the size limit");
}

// The argument at `pos` or named `key`, else `def`.
inline Value arg(const Args& args, size_t pos, const char* key, Value def = Value()) {
  for (const auto& [k, v] : args.keyword) {
    if (k == key) return v;
  }
  if (pos < args.positional.size()) return args.positional[pos];
  return def;
}
inline bool has_arg(const Args& args, size_t pos, const char* key) {
  for (const auto& kv : args.keyword) {
    if (kv.first == key) return true;
  }
  return pos < args.positional.size();
}
inline const std::string& need_string(const Value& v, const char* what) {
  if (!v.is_string())
    throw TemplateError(std::string(what) + " expects a string, got " + v.type_name());
  return v.as_string();
}
inline int64_t need_int(const Value& v, const char* what) {
  if (!v.is_int() && !v.is_bool())
    throw TemplateError(std::string(what) + " expects an integer, got " + v.type_name());
  return v.as_int();
}

// A filter's or test's input (the first positional argument), and its str().
inline const Value& in(const Args& a) {
  return a.positional.at(0);
}
inline std::string in_str(const Args& a) {
  return in(a).str();
}

}  // namespace assay::inference::jinja
