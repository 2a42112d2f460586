#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/utf8.h"
#include "inference/jinja/args.h"
#include "inference/jinja/builtins.h"
#include "inference/jinja/interpreter.h"
#include "inference/jinja/parser.h"
#include "inference/jinja/py_str.h"

namespace assay::inference::jinja {
namespace {

int64_t length(const Value& v) {
  if (v.is_string()) return static_cast<int64_t>(code_points(v.as_string()).size());
  if (v.is_list()) return static_cast<int64_t>(v.as_list().size());
  if (v.is_dict()) return static_cast<int64_t>(v.as_dict().size());
  if (v.is_undefined()) return 0;
  throw TemplateError("object of type '" + v.type_name() + "' has no len()");
}

// The attribute path "a.b" or index of an item, as jinja2's make_attrgetter.
Value attribute_of(const Value& item, const Value& attribute) {
  if (attribute.is_int()) return get_item(item, attribute);
  Value v = item;
  std::string path = need_string(attribute, "attribute");
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    v = digits ? get_item(v, Value(static_cast<int64_t>(std::stoll(part))))
               : get_item(v, Value(part));
    if (dot == std::string::npos) return v;
    pos = dot + 1;
  }
}

Value to_int(const Value& v, const Value& def) {
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_float()) || std::fabs(v.as_float()) > 9.2e18) return def;
    return Value(static_cast<int64_t>(v.as_float()));
  }
  if (v.is_string()) {
    std::string s = strip(v.as_string(), Value::none(), true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    try {
      size_t used = 0;
      long long i = std::stoll(s, &used, 10);
      if (used == s.size()) return Value(static_cast<int64_t>(i));
      double d = std::stod(s, &used);
      if (used == s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18)
        return Value(static_cast<int64_t>(d));
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value to_float(const Value& v, const Value& def) {
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string()) {
    std::string s = strip(v.as_string(), Value::none(), true, true);
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return Value(d);
    } catch (const std::exception&) {
    }
  }
  return def;
}

// select/reject/selectattr/rejectattr: the items for which the test (or truthiness) holds.
Value select_items(Interpreter& interp, Args& args, bool with_attr, bool keep) {
  List items = iterate(args.positional.at(0));
  size_t next = 1;
  Value attr;
  if (with_attr) {
    if (args.positional.size() < 2) throw TemplateError("selectattr/rejectattr need an attribute");
    attr = args.positional[next++];
  }
  std::string test;
  if (next < args.positional.size()) test = need_string(args.positional[next++], "select");
  if (!test.empty() && !is_known_test(test)) throw TemplateError("no test named '" + test + "'");
  List out;
  for (const Value& item : items) {
    Value v = with_attr ? attribute_of(item, attr) : item;
    bool ok;
    if (test.empty()) {
      ok = v.truthy();
    } else {
      Args targs;
      targs.positional.push_back(v);
      targs.positional.insert(targs.positional.end(),
                              args.positional.begin() + static_cast<long>(next),
                              args.positional.end());
      ok = apply_test(interp, test, targs);
    }
    if (ok == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

Value map_items(Interpreter& interp, Args& args) {
  List items = iterate(args.positional.at(0));
  List out;
  if (has_arg(args, 99, "attribute")) {
    Value attr = arg(args, 99, "attribute");
    Value def = arg(args, 99, "default");
    for (const Value& item : items) {
      Value v = attribute_of(item, attr);
      out.push_back(v.is_undefined() && has_arg(args, 99, "default") ? def : v);
    }
    return Value(std::move(out));
  }
  if (args.positional.size() < 2) throw TemplateError("map needs a filter name or attribute=");
  std::string filter = need_string(args.positional[1], "map");
  if (!is_known_filter(filter)) throw TemplateError("no filter named '" + filter + "'");
  for (const Value& item : items) {
    Args fargs;
    fargs.positional.push_back(item);
    fargs.positional.insert(fargs.positional.end(), args.positional.begin() + 2,
                            args.positional.end());
    fargs.keyword = args.keyword;
    out.push_back(apply_filter(interp, filter, fargs));
  }
  return Value(std::move(out));
}

// The sort key: case-insensitive strings unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value(lower(v.as_string())) : v;
}

Value sort_items(const Args& args) {
  List items = iterate(args.positional.at(0));
  bool reverse = arg(args, 1, "reverse", Value(false)).truthy();
  bool cs = arg(args, 2, "case_sensitive", Value(false)).truthy();
  Value attr = arg(args, 3, "attribute", Value::none());
  auto key = [&](const Value& v) {
    return sort_key(attr.is_none() ? v : attribute_of(v, attr), cs);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? less(key(b), key(a)) : less(key(a), key(b));
  });
  return Value(std::move(items));
}

Value unique_items(const Args& args) {
  List items = iterate(args.positional.at(0));
  bool cs = arg(args, 1, "case_sensitive", Value(false)).truthy();
  Value attr = arg(args, 2, "attribute", Value::none());
  List out, seen;
  for (const Value& item : items) {
    Value k = sort_key(attr.is_none() ? item : attribute_of(item, attr), cs);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return Value(std::move(out));
}

Value min_max(const Args& args, bool max) {
  List items = iterate(args.positional.at(0));
  if (items.empty()) return Value::undefined("min/max of an empty sequence");
  bool cs = arg(args, 1, "case_sensitive", Value(false)).truthy();
  Value attr = arg(args, 2, "attribute", Value::none());
  auto key = [&](const Value& v) {
    return sort_key(attr.is_none() ? v : attribute_of(v, attr), cs);
  };
  Value best = items[0];
  for (const Value& v : items) {
    if (max ? less(key(best), key(v)) : less(key(v), key(best))) best = v;
  }
  return best;
}

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// jinja2's do_indent, quirks included (the text gets a "\n" before splitting into lines).
std::string indent(const std::string& s, const Value& width, bool first, bool blank) {
  std::string pad =
      width.is_string()
          ? width.as_string()
          : std::string(
                static_cast<size_t>(std::clamp<int64_t>(need_int(width, "indent"), 0, 1024)), ' ');
  std::vector<std::string> lines;
  std::string text = s + "\n";
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find_first_of("\r\n", pos);
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + ((text[nl] == '\r' && nl + 1 < text.size() && text[nl + 1] == '\n') ? 2 : 1);
  }
  std::string out = lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    out += "\n" + ((blank || !lines[i].empty()) ? pad : "") + lines[i];
    check_growth(out.size());
  }
  return first ? pad + out : out;
}

// transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value tojson(const Args& args) {
  bool ensure_ascii = arg(args, 1, "ensure_ascii", Value(false)).truthy();
  Value indent = arg(args, 2, "indent", Value::none());
  Value seps = arg(args, 3, "separators", Value::none());
  bool sort_keys = arg(args, 4, "sort_keys", Value(false)).truthy();
  int ind = indent.is_none()
                ? -1
                : static_cast<int>(std::clamp<int64_t>(need_int(indent, "tojson indent"), 0, 64));
  std::string item_sep = ind >= 0 ? "," : ", ", key_sep = ": ";
  if (!seps.is_none()) {
    List parts = iterate(seps);
    if (parts.size() != 2) throw TemplateError("tojson: separators must be a pair");
    item_sep = need_string(parts[0], "tojson separators");
    key_sep = need_string(parts[1], "tojson separators");
  }
  std::string out = args.positional.at(0).to_json(ind, item_sep, key_sep, sort_keys);
  if (!ensure_ascii) return Value(std::move(out));
  std::string ascii;  // json.dumps(ensure_ascii=True): \uXXXX, surrogate pairs above U+FFFF
  for (char32_t cp : utf8::to_u32(out)) {
    if (cp < 0x7f) {  // Python escapes DEL too
      ascii += static_cast<char>(cp);
      continue;
    }
    auto unit = [&](uint32_t u) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      ascii += buf;
    };
    if (cp >= 0x10000) {
      unit(0xD800 + ((cp - 0x10000) >> 10));
      unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      unit(cp);
    }
  }
  return Value(std::move(ascii));
}

Value round_filter(const Args& args) {
  if (!args.positional.at(0).is_number()) throw TemplateError("round expects a number");
  double v = args.positional.at(0).as_float();
  int64_t precision = need_int(arg(args, 1, "precision", Value(0)), "round");
  std::string method = need_string(arg(args, 2, "method", Value("common")), "round");
  double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
  double x = v * scale;
  x = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
  return Value(x / scale);
}

using FilterFn = Value (*)(Interpreter&, Args&);

const std::map<std::string, FilterFn>& filters() {
  static const std::map<std::string, FilterFn> kFilters = {
      {"abs",
       [](Interpreter&, Args& a) {
         const Value& v = in(a);
         if (!v.is_number())
           throw TemplateError("bad operand type for abs(): '" + v.type_name() + "'");
         return v.is_float() ? Value(std::fabs(v.as_float()))
                             : Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
       }},
      {"attr", [](Interpreter&,
                  Args& a) { return get_attr(in(a), need_string(arg(a, 1, "name"), "attr")); }},
      {"capitalize", [](Interpreter&, Args& a) { return Value(capitalize(in_str(a))); }},
      {"count", [](Interpreter&, Args& a) { return Value(length(in(a))); }},
      {"default",
       [](Interpreter&, Args& a) {
         bool boolean = arg(a, 2, "boolean", Value(false)).truthy();
         const Value& v = in(a);
         return (v.is_undefined() || (boolean && !v.truthy()))
                    ? arg(a, 1, "default_value", Value(""))
                    : v;
       }},
      {"dictsort",
       [](Interpreter&, Args& a) {
         if (!in(a).is_dict()) throw TemplateError("dictsort expects a dict");
         bool cs = arg(a, 1, "case_sensitive", Value(false)).truthy();
         bool by_value = need_string(arg(a, 2, "by", Value("key")), "dictsort") == "value";
         bool reverse = arg(a, 3, "reverse", Value(false)).truthy();
         List items;
         for (const auto& [k, v] : in(a).as_dict())
           items.push_back(Value::make_tuple(List{Value(k), v}));
         std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
           const Value& kx = x.as_list()[by_value];
           const Value& ky = y.as_list()[by_value];
           return reverse ? less(sort_key(ky, cs), sort_key(kx, cs))
                          : less(sort_key(kx, cs), sort_key(ky, cs));
         });
         return Value(std::move(items));
       }},
      {"escape", [](Interpreter&, Args& a) { return Value(escape_html(in_str(a))); }},
      {"format",
       [](Interpreter&, Args& a) {
         List rest(a.positional.begin() + 1, a.positional.end());
         if (!a.keyword.empty())
           return Value(percent_format(in_str(a), Value(Dict(a.keyword.begin(), a.keyword.end()))));
         return Value(percent_format(in_str(a), Value::make_tuple(std::move(rest))));
       }},
      {"first",
       [](Interpreter&, Args& a) {
         List items = iterate(in(a));
         return items.empty() ? Value::undefined("first of an empty sequence") : items.front();
       }},
      {"float",
       [](Interpreter&, Args& a) { return to_float(in(a), arg(a, 1, "default", Value(0.0))); }},
      {"indent",
       [](Interpreter&, Args& a) {
         return Value(indent(in_str(a), arg(a, 1, "width", Value(4)),
                             arg(a, 2, "first", Value(false)).truthy(),
                             arg(a, 3, "blank", Value(false)).truthy()));
       }},
      {"int", [](Interpreter&, Args& a) { return to_int(in(a), arg(a, 1, "default", Value(0))); }},
      {"items",
       [](Interpreter&, Args& a) {
         if (in(a).is_undefined()) return Value(List{});
         if (!in(a).is_dict())
           throw TemplateError("items expects a mapping, got " + in(a).type_name());
         List items;
         for (const auto& [k, v] : in(a).as_dict())
           items.push_back(Value::make_tuple(List{Value(k), v}));
         return Value(std::move(items));
       }},
      {"join",
       [](Interpreter& interp, Args& a) {
         std::string sep = arg(a, 1, "d", Value("")).str();
         Value attr = arg(a, 2, "attribute", Value::none());
         std::string out;
         List items = iterate(in(a));
         for (size_t i = 0; i < items.size(); ++i) {
           out += (i ? sep : "") + (attr.is_none() ? items[i] : attribute_of(items[i], attr)).str();
           interp.check_size(out.size());
         }
         return Value(std::move(out));
       }},
      {"last",
       [](Interpreter&, Args& a) {
         List items = iterate(in(a));
         return items.empty() ? Value::undefined("last of an empty sequence") : items.back();
       }},
      {"length", [](Interpreter&, Args& a) { return Value(length(in(a))); }},
      {"list", [](Interpreter&, Args& a) { return Value(iterate(in(a))); }},
      {"lower", [](Interpreter&, Args& a) { return Value(lower(in_str(a))); }},
      {"map", [](Interpreter& interp, Args& a) { return map_items(interp, a); }},
      {"max", [](Interpreter&, Args& a) { return min_max(a, true); }},
      {"min", [](Interpreter&, Args& a) { return min_max(a, false); }},
      {"reject",
       [](Interpreter& interp, Args& a) { return select_items(interp, a, false, false); }},
      {"rejectattr",
       [](Interpreter& interp, Args& a) { return select_items(interp, a, true, false); }},
      {"replace",
       [](Interpreter&, Args& a) {
         return Value(replace(in_str(a), arg(a, 1, "old").str(), arg(a, 2, "new").str(),
                              need_int(arg(a, 3, "count", Value(-1)), "replace")));
       }},
      {"reverse",
       [](Interpreter&, Args& a) {
         List items = iterate(in(a));
         std::reverse(items.begin(), items.end());
         if (!in(a).is_string()) return Value(std::move(items));
         std::string out;
         for (const Value& v : items) out += v.as_string();
         return Value(std::move(out));
       }},
      {"round", [](Interpreter&, Args& a) { return round_filter(a); }},
      {"safe", [](Interpreter&, Args& a) { return in(a); }},
      {"select", [](Interpreter& interp, Args& a) { return select_items(interp, a, false, true); }},
      {"selectattr",
       [](Interpreter& interp, Args& a) { return select_items(interp, a, true, true); }},
      {"sort", [](Interpreter&, Args& a) { return sort_items(a); }},
      {"string", [](Interpreter&, Args& a) { return Value(in_str(a)); }},
      {"sum",
       [](Interpreter&, Args& a) {
         Value attr = arg(a, 1, "attribute", Value::none());
         Value total = arg(a, 2, "start", Value(0));
         for (const Value& v : iterate(in(a))) {
           Value x = attr.is_none() ? v : attribute_of(v, attr);
           if (!x.is_number() || !total.is_number()) throw TemplateError("sum expects numbers");
           total = (x.is_float() || total.is_float()) ? Value(total.as_float() + x.as_float())
                                                      : Value(total.as_int() + x.as_int());
         }
         return total;
       }},
      {"title", [](Interpreter&, Args& a) { return Value(title(in_str(a))); }},
      {"tojson", [](Interpreter&, Args& a) { return tojson(a); }},
      {"trim",
       [](Interpreter&, Args& a) {
         return Value(strip(in_str(a), arg(a, 1, "chars", Value::none()), true, true));
       }},
      {"unique", [](Interpreter&, Args& a) { return unique_items(a); }},
      {"upper", [](Interpreter&, Args& a) { return Value(upper(in_str(a))); }},
      {"wordcount",
       [](Interpreter&, Args& a) {
         return Value(static_cast<int64_t>(split(in_str(a), Value::none(), -1).size()));
       }},
  };
  return kFilters;
}

const std::map<std::string, std::string>& filter_aliases() {
  static const std::map<std::string, std::string> kAliases = {
      {"d", "default"}, {"e", "escape"}, {"forceescape", "escape"}};
  return kAliases;
}

std::string canonical_filter(const std::string& name) {
  auto it = filter_aliases().find(name);
  return it == filter_aliases().end() ? name : it->second;
}

}  // namespace

bool is_known_filter(const std::string& name) {
  return filters().count(canonical_filter(name)) > 0;
}

Value apply_filter(Interpreter& interp, const std::string& name, Args& args) {
  auto it = filters().find(canonical_filter(name));
  if (it == filters().end()) throw TemplateError("no filter named '" + name + "'");
  // Filters that take an undefined input as jinja2's Undefined does ("", empty, length 0).
  static const std::set<std::string> kAcceptUndefined = {
      "default", "d",      "length", "count",      "string",     "trim",   "list",
      "items",   "join",   "first",  "last",       "safe",       "lower",  "upper",
      "select",  "reject", "map",    "selectattr", "rejectattr", "unique", "sort"};
  const Value& input = args.positional.at(0);
  if (input.is_undefined() && !kAcceptUndefined.count(name)) {
    throw TemplateError("'" + input.undefined_name() + "' is undefined");
  }
  return it->second(interp, args);
}

}  // namespace assay::inference::jinja
