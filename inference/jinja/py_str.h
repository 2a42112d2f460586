// Python's str operations as chat templates use them, on UTF-8 text indexed by code point:
// strip, split, replace, case mappings, prefixes, printf-style %, and the code points themselves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inference/jinja/value.h"

namespace assay::inference::jinja {

// The code points of UTF-8 text, each as its bytes (an invalid byte is one code point).
std::vector<std::string_view> code_points(std::string_view s);
// Python's str.isspace() for the code point `cp` (its UTF-8 bytes).
bool is_py_space(std::string_view cp);
// str.strip/lstrip/rstrip; `chars` none or undefined means whitespace.
std::string strip(const std::string& s, const Value& chars, bool left, bool right);
// str.lower() (full mappings) and str.upper() (simple, one code point, mappings).
std::string lower(const std::string& s);
std::string upper(const std::string& s);
// str.title() and str.capitalize() (ASCII letters only start words).
std::string title(const std::string& s);
std::string capitalize(const std::string& s);
// str.replace(from, to, count); count < 0 = all. Throws TemplateError past the size limit.
std::string replace(const std::string& s, const std::string& from, const std::string& to,
                    int64_t count);
// str.split(sep, maxsplit); sep none/undefined splits on whitespace runs.
List split(const std::string& s, const Value& sep, int64_t maxsplit);
// str.startswith / endswith with a string or a tuple of strings.
bool affix(const std::string& s, const Value& what, bool prefix);
// The code-point index of byte offset `byte` (for str.find).
int64_t cp_index(const std::string& s, size_t byte);
// Python's printf-style `fmt % args` (%s, %r, %d, %i, %f with a precision, %%, %(key)s with a
// dict). Throws TemplateError for other conversions or a wrong number of arguments.
std::string percent_format(const std::string& fmt, const Value& args);

}  // namespace assay::inference::jinja
