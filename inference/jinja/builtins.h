// Jinja's builtin filters (filters.cpp) and tests and globals (builtins.cpp), and access to
// values: attributes (Python's str/dict methods included), items, slices, iteration, `in`
// (access.cpp). Python's str operations are in py_str.h.
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

}  // namespace assay::inference::jinja
