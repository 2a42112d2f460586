// Jinja's builtin filters and tests, Python's str/dict methods that templates call, operators
// with Python semantics, and UTF-8 helpers (Python strings index code points).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "inference/jinja/value.h"

namespace assay::inference::jinja {

class Interpreter;

// Applies filter `name` to args.positional[0] (the input) and the rest of `args`.
// Throws TemplateError for bad arguments.
Value apply_filter(Interpreter& interp, const std::string& name, Args& args);
// Applies test `name` to args.positional[0].
bool apply_test(Interpreter& interp, const std::string& name, Args& args);
// obj.name: a dict's method or key, a str's method, a namespace's attribute; undefined if none.
Value get_attr(const Value& obj, const std::string& name);
// obj[key]: list and str indices (negative from the end), dict keys; undefined if none.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] with Python's semantics; null parts are undefined values.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// The items of an iterable: a list's items, a dict's keys, a str's characters; undefined is
// empty. Throws TemplateError for anything else.
List iterate(const Value& v);
// Python's `a in b`.
bool contains(const Value& container, const Value& item);
// The globals every template sees: range, namespace, dict, raise_exception, strftime_now
// (`today` fixes strftime_now's clock: "YYYY-MM-DD"; empty is the real local time).
void add_builtin_globals(std::unordered_map<std::string, Value>& globals, const std::string& today);

// Python's printf-style `fmt % args` (%s, %r, %d, %i, %f with a precision, %%, %(key)s with a
// dict). Throws TemplateError for other conversions or a wrong number of arguments.
std::string percent_format(const std::string& fmt, const Value& args);

// The code points of UTF-8 text, each as its bytes.
std::vector<std::string_view> code_points(std::string_view s);

}  // namespace assay::inference::jinja
