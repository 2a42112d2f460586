#include "inference/jinja/builtins.h"

#include <algorithm>
#include <ctime>
#include <map>

#include "inference/jinja/args.h"
#include "inference/jinja/interpreter.h"
#include "inference/jinja/parser.h"
#include "inference/jinja/py_str.h"

namespace assay::inference::jinja {
namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox refuses longer ranges

// --- tests ---

using TestFn = bool (*)(Interpreter&, Args&);

const Value& other(const Args& a) {
  if (a.positional.size() < 2) throw TemplateError("this test needs an argument");
  return a.positional[1];
}

const std::map<std::string, TestFn>& tests() {
  static const std::map<std::string, TestFn> kTests = {
      {"defined", [](Interpreter&, Args& a) { return !in(a).is_undefined(); }},
      {"undefined", [](Interpreter&, Args& a) { return in(a).is_undefined(); }},
      {"none", [](Interpreter&, Args& a) { return in(a).is_none(); }},
      {"boolean", [](Interpreter&, Args& a) { return in(a).is_bool(); }},
      {"true", [](Interpreter&, Args& a) { return in(a).is_bool() && in(a).as_bool(); }},
      {"false", [](Interpreter&, Args& a) { return in(a).is_bool() && !in(a).as_bool(); }},
      {"integer", [](Interpreter&, Args& a) { return in(a).is_int(); }},
      {"float", [](Interpreter&, Args& a) { return in(a).is_float(); }},
      {"number", [](Interpreter&, Args& a) { return in(a).is_number(); }},
      {"string", [](Interpreter&, Args& a) { return in(a).is_string(); }},
      {"mapping", [](Interpreter&, Args& a) { return in(a).is_dict(); }},
      {"iterable",
       [](Interpreter&, Args& a) {
         return in(a).is_string() || in(a).is_list() || in(a).is_dict() || in(a).is_undefined();
       }},
      {"sequence",
       [](Interpreter&, Args& a) {
         return in(a).is_string() || in(a).is_list() || in(a).is_dict() || in(a).is_undefined();
       }},
      {"callable", [](Interpreter&, Args& a) { return in(a).is_callable(); }},
      {"sameas",
       [](Interpreter&, Args& a) {
         const Value& x = in(a);
         const Value& y = other(a);
         if (x.kind() != y.kind()) return false;
         if (x.is_none() || x.is_bool() || x.is_undefined()) return equals(x, y);
         return false;  // identity of other objects is not observable here
       }},
      {"eq", [](Interpreter&, Args& a) { return equals(in(a), other(a)); }},
      {"ne", [](Interpreter&, Args& a) { return !equals(in(a), other(a)); }},
      {"lt", [](Interpreter&, Args& a) { return less(in(a), other(a)); }},
      {"le", [](Interpreter&, Args& a) { return !less(other(a), in(a)); }},
      {"gt", [](Interpreter&, Args& a) { return less(other(a), in(a)); }},
      {"ge", [](Interpreter&, Args& a) { return !less(in(a), other(a)); }},
      {"in", [](Interpreter&, Args& a) { return contains(other(a), in(a)); }},
      {"odd", [](Interpreter&, Args& a) { return need_int(in(a), "odd") % 2 != 0; }},
      {"even", [](Interpreter&, Args& a) { return need_int(in(a), "even") % 2 == 0; }},
      {"divisibleby",
       [](Interpreter&, Args& a) {
         int64_t d = need_int(other(a), "divisibleby");
         if (d == 0) throw TemplateError("divisibleby 0");
         return need_int(in(a), "divisibleby") % d == 0;
       }},
      {"lower",
       [](Interpreter&, Args& a) {
         return in(a).is_string() && in(a).as_string() == lower(in(a).as_string());
       }},
      {"upper",
       [](Interpreter&, Args& a) {
         return in(a).is_string() && in(a).as_string() == upper(in(a).as_string());
       }},
      {"filter",
       [](Interpreter&, Args& a) {
         return other(a).is_string() && is_known_filter(other(a).as_string());
       }},
      {"test", [](Interpreter&,
                  Args& a) { return other(a).is_string() && is_known_test(other(a).as_string()); }},
      {"escaped", [](Interpreter&, Args&) { return false; }},
  };
  return kTests;
}

const std::map<std::string, std::string>& test_aliases() {
  static const std::map<std::string, std::string> kAliases = {
      {"equalto", "eq"}, {"==", "eq"},          {"!=", "ne"}, {"lessthan", "lt"}, {"<", "lt"},
      {"<=", "le"},      {"greaterthan", "gt"}, {">", "gt"},  {">=", "ge"}};
  return kAliases;
}

std::string canonical(const std::map<std::string, std::string>& aliases, const std::string& name) {
  auto it = aliases.find(name);
  return it == aliases.end() ? name : it->second;
}

// --- globals ---

Value range(Args& a) {
  int64_t start = 0, stop = 0, step = 1;
  size_t n = a.positional.size();
  if (n == 1)
    stop = need_int(a.positional[0], "range");
  else if (n == 2 || n == 3) {
    start = need_int(a.positional[0], "range");
    stop = need_int(a.positional[1], "range");
    if (n == 3) step = need_int(a.positional[2], "range");
  } else {
    throw TemplateError("range expects 1 to 3 integer arguments");
  }
  if (step == 0) throw TemplateError("range() arg 3 must not be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange)
      throw TemplateError("range too big (more than 100000 items)");
    out.push_back(Value(i));
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
  }
  return Value(std::move(out));
}

Value keyword_dict(const Args& a) {
  Dict d;
  for (const Value& p : a.positional) {
    if (!p.is_dict()) throw TemplateError("namespace()/dict() take a mapping or keyword arguments");
    d.insert(d.end(), p.as_dict().begin(), p.as_dict().end());
  }
  for (const auto& kv : a.keyword) {
    auto it = std::find_if(d.begin(), d.end(), [&](const auto& e) { return e.first == kv.first; });
    if (it != d.end())
      it->second = kv.second;
    else
      d.push_back(kv);
  }
  return Value(std::move(d));
}

std::string strftime_at(const std::string& fmt, const std::string& today) {
  std::tm tm{};
  if (today.empty()) {
    std::time_t now = std::time(nullptr);
    localtime_r(&now, &tm);
  } else {
    if (std::sscanf(today.c_str(), "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
      throw TemplateError("bad fixed date '" + today + "'");
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    std::mktime(&tm);  // fills the weekday and day of the year
  }
  if (fmt.size() > 1024) throw TemplateError("strftime_now: format too long");
  char buf[4096];
  size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
  return std::string(buf, n);
}

}  // namespace

bool is_known_test(const std::string& name) {
  return tests().count(canonical(test_aliases(), name)) > 0;
}

bool apply_test(Interpreter& interp, const std::string& name, Args& args) {
  auto it = tests().find(canonical(test_aliases(), name));
  if (it == tests().end()) throw TemplateError("no test named '" + name + "'");
  return it->second(interp, args);
}

void add_builtin_globals(std::unordered_map<std::string, Value>& globals,
                         const std::string& today) {
  globals["range"] = Value::callable([](Args& a) { return range(a); });
  globals["namespace"] =
      Value::callable([](Args& a) { return Value::make_namespace(keyword_dict(a).as_dict()); });
  globals["dict"] = Value::callable([](Args& a) { return keyword_dict(a); });
  globals["raise_exception"] = Value::callable([](Args& a) -> Value {
    throw TemplateError(a.positional.empty() ? std::string() : a.positional[0].str(), true);
  });
  globals["strftime_now"] = Value::callable([today](Args& a) {
    return Value(strftime_at(need_string(arg(a, 0, "format"), "strftime_now"), today));
  });
}

}  // namespace assay::inference::jinja
